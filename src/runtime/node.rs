//! A running node's shared state: its state machine, transport, event
//! channel and the waiters of blocking API calls. The worker thread and
//! the application's handle both act through [`RunningNode::with_machine`],
//! which routes whatever the machine asks for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};
use parking_lot::{Mutex, RwLock};

use super::transport::{Clock, DialRequest, Incoming, StreamCodec, Transport};
use crate::node::Event;
use crate::protocol::{Action, DialId, Instant, JoinId, Membership, NotifyToken};

/// The outcome of a join: addresses joined, and failures.
pub(crate) type JoinOutcome = (usize, Vec<(std::net::SocketAddr, String)>);

#[derive(Default)]
pub(crate) struct Waiters {
    pub(crate) joins: HashMap<JoinId, Sender<JoinOutcome>>,
    pub(crate) broadcasts: HashMap<NotifyToken, Sender<()>>,
    pub(crate) dials: HashMap<DialId, Sender<Result<(), String>>>,
}

pub(crate) struct RunningNode {
    pub(crate) key: u64,
    pub(crate) machine: Mutex<Membership>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) codec: Arc<RwLock<StreamCodec>>,
    pub(crate) events: Sender<Event>,
    pub(crate) events_dropped: AtomicU64,
    pub(crate) incoming_dropped: Arc<AtomicU64>,
    pub(crate) send_errors: AtomicU64,
    pub(crate) waiters: Mutex<Waiters>,
    pub(crate) clock: Clock,
    /// When counters were last published (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) published: Mutex<Option<Instant>>,
}

impl RunningNode {
    /// Runs `f` on the state machine at the current time, then carries out
    /// every action it produced.
    pub(crate) fn with_machine<R>(&self, f: impl FnOnce(&mut Membership, Instant) -> R) -> R {
        let mut m = self.machine.lock();
        let r = f(&mut m, self.clock.now());
        self.dispatch(&mut m);
        r
    }

    fn dispatch(&self, m: &mut Membership) {
        while let Some(action) = m.poll_action() {
            match action {
                Action::Transmit { to, bytes } => {
                    if let Err(e) = self.transport.send_packet(to, &bytes) {
                        log::debug!("{}: send to {to} failed: {e}", m.name());
                        self.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Action::Dial {
                    id,
                    to,
                    bytes,
                    expect_reply,
                    deadline,
                } => self.transport.dial(DialRequest {
                    id,
                    to,
                    bytes,
                    expect_reply,
                    deadline: self.clock.to_std(deadline),
                }),
                Action::Event(event) => match self.events.try_send(event) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        self.events_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                },
                Action::JoinFinished { id, joined, errors } => {
                    if let Some(w) = self.waiters.lock().joins.remove(&id) {
                        let _ = w.send((joined, errors));
                    }
                }
                Action::BroadcastDone(token) => {
                    if let Some(w) = self.waiters.lock().broadcasts.remove(&token) {
                        let _ = w.send(());
                    }
                }
            }
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.machine.lock().poll_timeout()
    }

    /// Runs due timers; returns the next deadline (read under the same lock).
    pub(crate) fn on_timeout(&self, now: Instant) -> Option<Instant> {
        let next = self.with_machine(|m, _| {
            m.handle_timeout(now);
            m.poll_timeout()
        });
        #[cfg(feature = "metrics")]
        self.publish_metrics(now);
        next
    }

    /// The node's counters, the protocol's and the runtime's.
    pub(crate) fn stats(&self) -> crate::memberlist::NodeStats {
        crate::memberlist::NodeStats {
            protocol: self.machine.lock().stats(),
            events_dropped: self.events_dropped.load(Ordering::Relaxed),
            incoming_dropped: self.incoming_dropped.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
        }
    }

    #[cfg(feature = "metrics")]
    fn publish_metrics(&self, now: Instant) {
        {
            let mut last = self.published.lock();
            if last.is_some_and(|t| {
                now.saturating_duration_since(t) < std::time::Duration::from_secs(1)
            }) {
                return;
            }
            *last = Some(now);
        }
        let stats = self.stats();
        let (name, members, health) = {
            let m = self.machine.lock();
            (m.name().to_owned(), m.num_members(), m.health_score())
        };
        super::metrics::publish(&name, &stats, members, health);
    }

    /// Handles what arrived; returns the next deadline.
    pub(crate) fn on_incoming(&self, now: Instant, incoming: Incoming) -> Option<Instant> {
        match incoming {
            Incoming::Packet { from, bytes } => self.with_machine(|m, _| {
                m.handle_packet(now, from, &bytes);
                m.poll_timeout()
            }),
            Incoming::Stream {
                conn,
                from,
                message,
            } => {
                let (reply, next) = self
                    .with_machine(|m, _| (m.handle_stream(now, from, message), m.poll_timeout()));
                self.transport.reply(conn, reply);
                next
            }
            Incoming::StreamError { conn, error } => {
                let (reply, next) =
                    self.with_machine(|m, _| (m.stream_error_reply(&error), m.poll_timeout()));
                self.transport.reply(conn, reply);
                next
            }
            Incoming::DialResult { id, result } => {
                if let Some(w) = self.waiters.lock().dials.remove(&id) {
                    let _ = w.send(result.as_ref().map(|_| ()).map_err(Clone::clone));
                }
                self.with_machine(|m, _| {
                    m.handle_dial_result(now, id, result);
                    m.poll_timeout()
                })
            }
        }
    }

    /// Keeps the transport's view of label and keys in step with the
    /// machine's configuration.
    pub(crate) fn refresh_codec(&self, m: &Membership) {
        let config = m.config();
        *self.codec.write() = StreamCodec {
            label: config.label.as_bytes().to_vec(),
            skip_inbound_label_check: config.skip_inbound_label_check,
            keyring: config.keyring.clone(),
            verify_incoming: config.gossip_verify_incoming,
        };
    }
}
