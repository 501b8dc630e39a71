//! Questions the state machine asks its host, and the work they hold up.
//!
//! Some protocol steps need the application's say: the state a push/pull
//! carries, whether a joining cluster or a new node is admitted, the
//! application's own broadcasts, the payload of an ack. The machine never
//! calls application code for these. It parks the step, queues a [`Query`]
//! (taken with [`Membership::poll_query`]) and carries on; the host answers
//! whenever it likes with [`Membership::answer`], and the step resumes
//! there. So the host can compute answers with no lock held, and the code
//! that computes them may call back into whatever drives the machine.
//!
//! A host says up front which questions it answers ([`HostQueries`]). For
//! the others the machine uses the neutral answer at once (no state, admit,
//! no broadcasts, no payload), with no query and no delay — exactly what a
//! host answering that way would get, one step earlier.
//!
//! What waits meanwhile: a push/pull is dialled, or answered, once its
//! local state is there; a join's merge (and the join's outcome) waits for
//! its verdict; a node announced alive is neither added nor updated until
//! admitted (further news about it meanwhile keeps only the newest);
//! application broadcasts are fetched once per gossip round, when none are
//! left, and go out in later packets; the ack payload in use is refreshed
//! each time an ack carries it.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::dial_error::JoinError;
use super::membership::Membership;
use super::output::{JoinId, StreamId};
use super::push_pull::Merged;
use super::state::NewsOrigin;
use super::time::Instant;
use crate::node::Node;
use crate::wire::{Alive, PushPull};

/// Identifies a [`Query`], to give with its [`Answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(u64);

/// A question for the host: answer it with [`Membership::answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Query {
    /// The application state to send in a push/pull
    /// ([`Answer::LocalState`]); `join` says whether the exchange is part
    /// of a join.
    LocalState {
        /// Whether the exchange is part of a join.
        join: bool,
    },
    /// Whether to merge the members a joining exchange brought
    /// ([`Answer::Verdict`]); a refusal fails that join.
    Merge {
        /// The peer's members.
        peers: Vec<Node>,
    },
    /// Whether to admit a node announced alive, new or changed
    /// ([`Answer::Verdict`]).
    Alive {
        /// The node as announced.
        node: Node,
    },
    /// Application broadcasts to piggyback on gossip
    /// ([`Answer::Broadcasts`]): each at most `limit - overhead` bytes,
    /// `overhead` being what each adds to a packet. Each is sent once.
    Broadcasts {
        /// Bytes each broadcast adds to a packet.
        overhead: usize,
        /// Most bytes, overheads included, of all of them.
        limit: usize,
    },
    /// The payload acks carry from now on ([`Answer::AckPayload`]).
    AckPayload,
}

/// The host's answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// For [`Query::LocalState`].
    LocalState(Vec<u8>),
    /// For [`Query::Merge`] and [`Query::Alive`].
    Verdict(Result<(), Refusal>),
    /// For [`Query::Broadcasts`].
    Broadcasts(Vec<Vec<u8>>),
    /// For [`Query::AckPayload`].
    AckPayload(Option<Vec<u8>>),
}

/// Which [`Query`] kinds a host answers; the machine takes the neutral
/// answer for the others without asking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostQueries {
    /// [`Query::LocalState`].
    pub local_state: bool,
    /// [`Query::Merge`].
    pub merge: bool,
    /// [`Query::Alive`].
    pub alive: bool,
    /// [`Query::Broadcasts`].
    pub broadcasts: bool,
    /// [`Query::AckPayload`].
    pub ack_payload: bool,
    /// Not a query: whether to make
    /// [`Notification::PingComplete`](super::Notification::PingComplete)
    /// (Go tells its ping delegate only when one is set). A host that
    /// drops them saves a copy of the probed node per probe.
    pub ping_complete: bool,
}

impl HostQueries {
    /// Asks nothing: no application state, everyone admitted, no
    /// application broadcasts beyond `queue_broadcast`, empty acks.
    pub fn none() -> Self {
        Self::default()
    }

    /// Asks every question.
    pub fn all() -> Self {
        HostQueries {
            local_state: true,
            merge: true,
            alive: true,
            broadcasts: true,
            ack_payload: true,
            ping_complete: true,
        }
    }
}

/// Why the application refused a merge or a node.
///
/// ```
/// use swimlist::{Delegate, Node, Refusal};
///
/// struct OnlyCaches;
/// impl Delegate for OnlyCaches {
///     fn notify_alive(&self, node: &Node) -> Result<(), Refusal> {
///         if node.meta.starts_with(b"role=cache") {
///             Ok(())
///         } else {
///             Err(Refusal::new(format!("{} is not a cache", node.name)))
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    reason: String,
}

impl Refusal {
    /// A refusal for `reason` (shown to whoever is refused).
    pub fn new(reason: impl Into<String>) -> Self {
        Refusal {
            reason: reason.into(),
        }
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused by the application: {}", self.reason)
    }
}

impl std::error::Error for Refusal {}

/// The most nodes whose alive news may wait for the host's admission at
/// once; news about further nodes is dropped (counted as "admission
/// backlog") until the host catches up. A host answers in microseconds, so
/// only one that stalls, under a flood of new names, reaches it; a joining
/// exchange with a cluster larger than this loses the excess until the next
/// push/pull brings it again.
pub const MAX_WAITING_ADMISSIONS: usize = 32_768;

/// A step waiting for an answer.
pub(super) enum Parked {
    /// A push/pull to dial once the local state is known.
    Dial {
        addr: SocketAddr,
        name: Option<String>,
        join: Option<JoinId>,
    },
    /// A push/pull request to answer (then merge) once the local state is
    /// known.
    Reply {
        stream: StreamId,
        remote: PushPull,
    },
    /// A joining exchange's members, to merge once admitted; `join` is our
    /// own join attempt the merge decides.
    Merge {
        remote: PushPull,
        join: Option<(JoinId, SocketAddr)>,
    },
    /// The newest alive news about a node, to apply once admitted.
    Alive(Alive, NewsOrigin),
    Broadcasts,
    AckPayload,
}

/// Questions asked and the steps they hold up.
#[derive(Default)]
pub(super) struct Queries {
    pub(super) asks: HostQueries,
    next: u64,
    pending: std::collections::VecDeque<(QueryId, Query)>,
    parked: HashMap<QueryId, Parked>,
    /// The query holding up alive news, by node name.
    alive: HashMap<String, QueryId>,
    broadcasts_asked: bool,
    ack_payload_asked: bool,
    /// While a join's merge runs: the admissions it asked for (or joined).
    watched: Option<Vec<QueryId>>,
    /// Join attempts, by number, and how many admissions each waits for.
    attempts: HashMap<u64, (JoinId, SocketAddr, usize)>,
    /// The join attempts each admission holds up.
    held: HashMap<QueryId, Vec<u64>>,
    next_attempt: u64,
}

impl Queries {
    pub(super) fn new(asks: HostQueries) -> Self {
        Queries {
            asks,
            ..Queries::default()
        }
    }

    pub(super) fn ask(&mut self, query: Query, parked: Parked) {
        let id = QueryId(self.next);
        self.next += 1;
        match &parked {
            Parked::Alive(a, _) => {
                self.alive.insert(a.node.clone(), id);
                if let Some(watched) = &mut self.watched {
                    watched.push(id);
                }
            }
            Parked::Broadcasts => self.broadcasts_asked = true,
            Parked::AckPayload => self.ack_payload_asked = true,
            _ => {}
        }
        self.pending.push_back((id, query));
        self.parked.insert(id, parked);
    }

    /// Whether alive news about one more node may wait for admission.
    pub(super) fn admission_room(&self) -> bool {
        self.alive.len() < MAX_WAITING_ADMISSIONS
    }

    /// Keeps only the newest alive news for a node already waiting for its
    /// verdict; false when none is waiting.
    pub(super) fn replace_waiting_alive(&mut self, a: &Alive, origin: NewsOrigin) -> bool {
        let Some(id) = self.alive.get(&a.node) else {
            return false;
        };
        if let Some(watched) = &mut self.watched {
            watched.push(*id);
        }
        if let Some(Parked::Alive(waiting, waiting_origin)) = self.parked.get_mut(id) {
            if a.incarnation >= waiting.incarnation {
                *waiting = a.clone();
                *waiting_origin = origin;
            }
        }
        true
    }

    /// Starts noting the admissions asked for, if `watch` (a join's
    /// merge); returns what [`Queries::wait_for_admissions`] needs.
    pub(super) fn watch_admissions(&mut self, watch: bool) -> bool {
        if watch {
            self.watched = Some(Vec::new());
        }
        watch
    }

    /// Stops noting admissions; makes the join `attempt` wait for those
    /// noted. Returns whether it waits.
    pub(super) fn wait_for_admissions(
        &mut self,
        watched: bool,
        attempt: Option<(JoinId, SocketAddr)>,
    ) -> bool {
        let ids = if watched {
            self.watched.take().unwrap_or_default()
        } else {
            Vec::new()
        };
        let Some((join, addr)) = attempt.filter(|_| !ids.is_empty()) else {
            return false;
        };
        let key = self.next_attempt;
        self.next_attempt += 1;
        self.attempts.insert(key, (join, addr, ids.len()));
        for id in ids {
            self.held.entry(id).or_default().push(key);
        }
        true
    }

    /// The admission `id` was answered: the join attempts it was the last
    /// one for.
    pub(super) fn admitted(&mut self, id: QueryId) -> Vec<(JoinId, SocketAddr)> {
        let mut done = Vec::new();
        for key in self.held.remove(&id).unwrap_or_default() {
            let Some(attempt) = self.attempts.get_mut(&key) else {
                continue;
            };
            attempt.2 -= 1;
            if attempt.2 == 0 {
                if let Some((join, addr, _)) = self.attempts.remove(&key) {
                    done.push((join, addr));
                }
            }
        }
        done
    }

    pub(super) fn broadcasts_asked(&self) -> bool {
        self.broadcasts_asked
    }

    pub(super) fn ack_payload_asked(&self) -> bool {
        self.ack_payload_asked
    }

    fn take(&mut self, id: QueryId) -> Option<Parked> {
        let parked = self.parked.remove(&id)?;
        match &parked {
            Parked::Alive(a, _) => {
                self.alive.remove(&a.node);
            }
            Parked::Broadcasts => self.broadcasts_asked = false,
            Parked::AckPayload => self.ack_payload_asked = false,
            _ => {}
        }
        Some(parked)
    }
}

impl Membership {
    /// The next question for the host. Call after every `handle_*` call and
    /// every API call, until it returns `None`, and answer each with
    /// [`Membership::answer`] (in any order, from any point in time). Only
    /// the kinds given in [`HostQueries`] are ever asked.
    #[must_use]
    pub fn poll_query(&mut self) -> Option<(QueryId, Query)> {
        super::membership::pop_shrinking(&mut self.queries.pending)
    }

    /// Resumes the step `id` held up, with the host's answer. An answer of
    /// the wrong kind counts as the neutral one; an unknown `id` is
    /// ignored.
    pub fn answer(&mut self, now: Instant, id: QueryId, answer: Answer) {
        let Some(parked) = self.queries.take(id) else {
            return;
        };
        match parked {
            Parked::Dial { addr, name, join } => {
                let state = match answer {
                    Answer::LocalState(state) => state,
                    _ => Vec::new(),
                };
                self.dial_push_pull(now, addr, name.as_deref(), join, state);
            }
            Parked::Reply { stream, remote } => {
                let state = match answer {
                    Answer::LocalState(state) => state,
                    _ => Vec::new(),
                };
                self.reply_push_pull(now, stream, remote, state);
            }
            Parked::Merge { remote, join } => {
                let outcome = match answer {
                    Answer::Verdict(Err(refusal)) => Err(JoinError::MergeRefused(refusal)),
                    _ => match self.merge_admitted(now, true, remote, join) {
                        Merged::Done => Ok(()),
                        Merged::Waiting => return self.flush_finished(),
                    },
                };
                if let Err(e) = &outcome {
                    log::debug!("{}: join merge refused: {e}", self.config.name);
                }
                if let Some((join, addr)) = join {
                    self.join_progress(join, addr, outcome);
                }
            }
            Parked::Alive(a, origin) => {
                match answer {
                    Answer::Verdict(Err(reason)) => {
                        log::debug!("{}: {} not admitted: {reason}", self.config.name, a.node);
                    }
                    _ => self.alive_node_admitted(now, a, origin),
                }
                for (join, addr) in self.queries.admitted(id) {
                    self.join_progress(join, addr, Ok(()));
                }
            }
            Parked::Broadcasts => {
                if let Answer::Broadcasts(broadcasts) = answer {
                    self.offer_host_broadcasts(broadcasts);
                }
            }
            Parked::AckPayload => {
                if let Answer::AckPayload(payload) = answer {
                    self.ack_payload = payload;
                }
            }
        }
        self.flush_finished();
    }
}
