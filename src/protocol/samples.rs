//! Measurements for metrics: the timings and sizes Go memberlist reports
//! (`memberlist.probeNode`, `memberlist.pushPullNode`,
//! `memberlist.size.local`, `memberlist.size.remote`), and what it lacks —
//! how long this node took from first suspecting a member to holding it
//! failed. Off until the host asks for them
//! ([`Membership::record_samples`](super::Membership::record_samples)), and
//! then taken with
//! [`Membership::poll_sample`](super::Membership::poll_sample).

use std::collections::VecDeque;
use std::time::Duration;

/// Samples kept for a host that stops taking them; older ones are dropped.
const MAX_WAITING: usize = 4096;

/// One measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sample {
    /// A probe, from its ping to the ack, or to the probe's failure
    /// (Go's `memberlist.probeNode`).
    Probe(Duration),
    /// A push/pull this node started, from dialling to merging the reply
    /// (Go's `memberlist.pushPullNode`).
    PushPull(Duration),
    /// Bytes of this node's state sent in a push/pull (Go's
    /// `memberlist.size.local`).
    LocalStateSize(usize),
    /// Bytes of a peer's state received in a push/pull (Go's
    /// `memberlist.size.remote`).
    RemoteStateSize(usize),
    /// From this node suspecting a member to holding it failed, by its own
    /// suspicion running out or by a peer's word (not in Go).
    Detection(Duration),
    /// How old membership news that changed this node's view was when it
    /// arrived, as stamped by the peer that sent it (not in Go; see
    /// [`crate::wire::news_age`]). Only peers told that this node records
    /// samples stamp news, so switch recording on before joining.
    NewsAge {
        /// What the news said.
        news: News,
        /// Its age on arrival (short of the last hop's transit time).
        age: Duration,
    },
}

/// Membership news, by what it says about a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum News {
    /// It is alive (joined, came back, refuted, or changed its metadata).
    Alive,
    /// It is suspected of having failed.
    Suspect,
    /// It failed or left.
    Dead,
}

impl News {
    /// A lower-case name, for metric labels.
    pub fn name(self) -> &'static str {
        match self {
            News::Alive => "alive",
            News::Suspect => "suspect",
            News::Dead => "dead",
        }
    }
}

/// The samples waiting for the host.
#[derive(Debug, Default)]
pub(super) struct Samples {
    enabled: bool,
    waiting: VecDeque<Sample>,
}

impl Samples {
    pub(super) fn enable(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.waiting = VecDeque::new();
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    pub(super) fn record(&mut self, sample: Sample) {
        if !self.enabled {
            return;
        }
        if self.waiting.len() == MAX_WAITING {
            self.waiting.pop_front();
        }
        self.waiting.push_back(sample);
    }

    pub(super) fn take(&mut self) -> Option<Sample> {
        super::membership::pop_shrinking(&mut self.waiting)
    }
}
