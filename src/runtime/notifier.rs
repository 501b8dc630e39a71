//! The delegate thread: the only place application code runs. It hands
//! the state machines' notifications (user messages, remote state,
//! conflicts, completed pings) to the application's [`Delegate`], and
//! answers their questions (local state, merge and alive verdicts,
//! broadcasts, ack payloads) with its query hooks — with no lock held.
//!
//! A runtime starts it the first time a node with a delegate has something
//! for it. Because it is neither a protocol worker nor under a node's lock,
//! any hook may call any method of any handle, including the blocking ones
//! (`send_reliable` to answer a message, `join`, even `shutdown`): the
//! workers keep running while the hook waits. A blocking call made here
//! answers the questions that arrive meanwhile ([`recv_answering`]), so a
//! `join` from a hook is not held up by its own push/pull's question for
//! `local_state`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::running_node::RunningNode;
use crate::delegate::{self, Delegate};
use crate::protocol::{worth_logging, Notification, Query, QueryId};

/// Notifications waiting for the delegate thread, across all nodes of a
/// runtime; beyond it new ones are dropped and counted per node. Questions
/// are never dropped: each holds up a step, and the protocol bounds how
/// many a node has open.
const QUEUE: usize = 16 * 1024;

/// One notification for one node's delegate.
struct Delivery {
    delegate: Arc<dyn Delegate>,
    notification: Notification,
}

/// One question from one node, for its delegate.
pub(crate) struct Question {
    node: Weak<RunningNode>,
    delegate: Arc<dyn Delegate>,
    id: QueryId,
    query: Query,
}

impl Question {
    fn answer(self) {
        let answer = delegate::answer(&*self.delegate, self.query);
        if let Some(node) = self.node.upgrade() {
            node.answer(self.id, answer);
        }
    }
}

thread_local! {
    /// On the delegate thread: its questions, for blocking calls made by
    /// hooks to answer while they wait.
    static QUESTIONS: RefCell<Option<Receiver<Question>>> = const { RefCell::new(None) };
}

/// Waits up to `limit` for `rx`. On the delegate thread it answers the
/// questions that arrive meanwhile: what is waited for may need them.
pub(crate) fn recv_answering<T>(rx: &Receiver<T>, limit: Duration) -> Result<T, RecvTimeoutError> {
    let Some(questions) = QUESTIONS.with(|q| q.borrow().clone()) else {
        return rx.recv_timeout(limit);
    };
    let deadline = std::time::Instant::now() + limit;
    loop {
        crossbeam_channel::select! {
            recv(rx) -> r => return r.map_err(|_| RecvTimeoutError::Disconnected),
            recv(questions) -> q => match q {
                Ok(q) => q.answer(),
                Err(_) => return rx.recv_deadline(deadline),
            },
            default(deadline.saturating_duration_since(std::time::Instant::now())) => {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }
}

/// The sending side of the delegate thread, started on first use.
#[derive(Default)]
pub(crate) struct Notifier {
    state: Mutex<NotifierState>,
}

#[derive(Default)]
struct NotifierState {
    senders: Option<(Sender<Delivery>, Sender<Question>)>,
    stopped: bool,
}

impl Notifier {
    /// Queues `notifications` for `delegate`, in order. Those that do not
    /// fit (the application is too slow) are counted in `dropped`.
    pub(crate) fn send(
        &self,
        delegate: &Arc<dyn Delegate>,
        notifications: Vec<Notification>,
        dropped: &AtomicU64,
    ) {
        let Some((sender, _)) = self.senders() else {
            dropped.fetch_add(notifications.len() as u64, Ordering::Relaxed);
            return;
        };
        for notification in notifications {
            let delivery = Delivery {
                delegate: Arc::clone(delegate),
                notification,
            };
            let sent = if sender.len() < QUEUE {
                sender.send(delivery).map_err(|e| e.into_inner())
            } else {
                Err(delivery)
            };
            match sent {
                Ok(()) => {}
                Err(d) => {
                    let count = dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if worth_logging(count) {
                        log::warn!(
                            "the delegate is too slow: dropped {} ({count} dropped so far)",
                            d.notification
                        );
                    }
                }
            }
        }
    }

    /// Queues `node`'s questions for `delegate`. Once the runtime has
    /// stopped they stay unanswered, as the node is stopping too.
    pub(crate) fn ask(
        &self,
        node: &Weak<RunningNode>,
        delegate: &Arc<dyn Delegate>,
        queries: Vec<(QueryId, Query)>,
    ) {
        let Some((_, sender)) = self.senders() else {
            return;
        };
        for (id, query) in queries {
            let _ = sender.send(Question {
                node: Weak::clone(node),
                delegate: Arc::clone(delegate),
                id,
                query,
            });
        }
    }

    fn senders(&self) -> Option<(Sender<Delivery>, Sender<Question>)> {
        let mut state = self.state.lock();
        if state.stopped {
            return None;
        }
        if let Some(s) = &state.senders {
            return Some(s.clone());
        }
        // Unbounded, capped by count when sending: a bounded channel would
        // allocate all its slots up front, about 3 MiB.
        let (tx, rx) = crossbeam_channel::unbounded::<Delivery>();
        let (qtx, qrx) = crossbeam_channel::unbounded::<Question>();
        let spawned = std::thread::Builder::new()
            .name("swimlist-delegate".into())
            .spawn(move || run(&rx, qrx));
        match spawned {
            Ok(_) => {
                state.senders = Some((tx.clone(), qtx.clone()));
                Some((tx, qtx))
            }
            Err(e) => {
                log::error!("cannot start the delegate thread: {e}");
                None
            }
        }
    }

    /// Lets the thread end once it has handled what is queued. It is not
    /// joined: a hook may still be running, or be the caller.
    pub(crate) fn stop(&self) {
        let mut state = self.state.lock();
        state.stopped = true;
        state.senders = None;
    }
}

/// The delegate thread's loop: questions and notifications as they come,
/// until both queues are closed and empty.
fn run(notifications: &Receiver<Delivery>, questions: Receiver<Question>) {
    QUESTIONS.with(|q| *q.borrow_mut() = Some(questions.clone()));
    let mut notifications_open = true;
    let mut questions_open = true;
    while notifications_open || questions_open {
        let never = crossbeam_channel::never();
        let n = if notifications_open {
            notifications
        } else {
            &never
        };
        let q_never = crossbeam_channel::never();
        let q = if questions_open { &questions } else { &q_never };
        crossbeam_channel::select! {
            recv(q) -> question => match question {
                Ok(question) => question.answer(),
                Err(_) => questions_open = false,
            },
            recv(n) -> delivery => match delivery {
                Ok(d) => delegate::notify(&*d.delegate, d.notification),
                Err(_) => notifications_open = false,
            },
        }
    }
}
