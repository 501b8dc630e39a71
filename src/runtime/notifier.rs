//! The delegate thread: delivers the state machines' notifications
//! (user messages, remote state, conflicts, completed pings) to the
//! application's [`Delegate`](crate::Delegate), with no lock held.
//!
//! A runtime starts it the first time a node with a delegate has something
//! to deliver. Because it is neither the protocol worker nor under a node's
//! lock, a notification hook may call any method of any handle, including
//! the blocking ones (`send_reliable` to answer a message, `join`, even
//! `shutdown`): the worker keeps running while the hook waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};
use parking_lot::Mutex;

use crate::delegate::Delegate;
use crate::protocol::{worth_logging, Notification};

/// Notifications waiting for the delegate thread, across all nodes of a
/// runtime; beyond it new ones are dropped and counted per node.
const QUEUE: usize = 16 * 1024;

/// One notification for one node's delegate.
struct Delivery {
    delegate: Arc<dyn Delegate>,
    notification: Notification,
}

/// The sending side of the delegate thread, started on first use.
#[derive(Default)]
pub(crate) struct Notifier {
    state: Mutex<NotifierState>,
}

#[derive(Default)]
struct NotifierState {
    sender: Option<Sender<Delivery>>,
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
        let Some(sender) = self.sender() else {
            dropped.fetch_add(notifications.len() as u64, Ordering::Relaxed);
            return;
        };
        for notification in notifications {
            let delivery = Delivery {
                delegate: Arc::clone(delegate),
                notification,
            };
            match sender.try_send(delivery) {
                Ok(()) => {}
                Err(TrySendError::Full(d) | TrySendError::Disconnected(d)) => {
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

    fn sender(&self) -> Option<Sender<Delivery>> {
        let mut state = self.state.lock();
        if state.stopped {
            return None;
        }
        if let Some(s) = &state.sender {
            return Some(s.clone());
        }
        let (tx, rx) = crossbeam_channel::bounded::<Delivery>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("swimlist-delegate".into())
            .spawn(move || {
                for d in rx {
                    d.notification.deliver(&*d.delegate);
                }
            });
        match spawned {
            Ok(_) => {
                state.sender = Some(tx.clone());
                Some(tx)
            }
            Err(e) => {
                log::error!("cannot start the delegate thread: {e}");
                None
            }
        }
    }

    /// Lets the thread end once it has delivered what is queued. It is not
    /// joined: a hook may still be running, or be the caller.
    pub(crate) fn stop(&self) {
        let mut state = self.state.lock();
        state.stopped = true;
        state.sender = None;
    }
}
