//! The queue between the requests of one HTTP POST and its answer: what a
//! handler sends on the way, then the answer itself.
//!
//! A tokio `mpsc` channel did this before, made and dropped for every POST.
//! Its state is cache-padded (an aligned allocation) and its first block
//! holds 32 messages (about 3 KB, past the allocator's fast path): a tenth
//! of a call's instructions, for what is most often one message. This queue
//! grows as messages come and keeps the channel's contract: bounded, a
//! sender waits for room, and the receiver hears the end once every message
//! is taken and the sender is gone. There is one sender, shared behind an
//! `Arc` as every [`Outbound`](crate::sink::Outbound) is. The first item
//! waits in a slot of its own, so that a POST whose only message is its
//! answer allocates no buffer for it.

use crate::util::lock;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// A bounded queue of at most `bound` items (at least one).
pub(crate) fn reply_queue<T>(bound: usize) -> (ReplySender<T>, ReplyReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: Items::default(),
            bound: bound.max(1),
            sender_gone: false,
            receiver_gone: false,
        }),
        arrived: Notify::new(),
        room: Notify::new(),
    });
    (ReplySender(shared.clone()), ReplyReceiver(shared))
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Wakes the receiver: an item came, or the sender went.
    arrived: Notify,
    /// Wakes a sender waiting for room: an item was taken, or the receiver
    /// went.
    room: Notify,
}

struct State<T> {
    items: Items<T>,
    bound: usize,
    sender_gone: bool,
    receiver_gone: bool,
}

/// Items in order: the oldest in `first` when the rest are none, so that
/// one item at a time needs no buffer.
struct Items<T> {
    first: Option<T>,
    rest: VecDeque<T>,
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items {
            first: None,
            rest: VecDeque::new(),
        }
    }
}

impl<T> Items<T> {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn push_back(&mut self, item: T) {
        // `first` is older than everything in `rest`: it takes an item
        // only when nothing else waits.
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(item);
        } else {
            self.rest.push_back(item);
        }
    }

    fn pop_front(&mut self) -> Option<T> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

/// Why an item could not be queued now; it comes back.
pub(crate) enum TryQueueError<T> {
    /// The queue holds its bound: [`ReplySender::send`] waits for room.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// The sending side; dropping it ends the queue after what it holds.
pub(crate) struct ReplySender<T>(Arc<Shared<T>>);

impl<T> ReplySender<T> {
    /// Queues `item` if there is room now.
    pub(crate) fn try_send(&self, item: T) -> Result<(), TryQueueError<T>> {
        {
            let mut state = lock(&self.0.state);
            if state.receiver_gone {
                return Err(TryQueueError::Closed(item));
            }
            if state.items.len() >= state.bound {
                return Err(TryQueueError::Full(item));
            }
            state.items.push_back(item);
        }
        self.0.arrived.notify_one();
        Ok(())
    }

    /// Queues `item`, waiting for room; gives it back if the receiver is
    /// gone.
    pub(crate) async fn send(&self, mut item: T) -> Result<(), T> {
        loop {
            // Registered before the attempt, so that room made between the
            // attempt and the wait is not missed.
            let room = self.0.room.notified();
            match self.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TryQueueError::Closed(back)) => return Err(back),
                Err(TryQueueError::Full(back)) => item = back,
            }
            room.await;
        }
    }
}

impl<T> Drop for ReplySender<T> {
    fn drop(&mut self) {
        lock(&self.0.state).sender_gone = true;
        self.0.arrived.notify_one();
    }
}

/// The receiving side.
pub(crate) struct ReplyReceiver<T>(Arc<Shared<T>>);

impl<T> ReplyReceiver<T> {
    /// The next item; `None` once the queue is empty and the sender gone.
    /// Cancel-safe: an item is only taken when it is returned.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        loop {
            match self.poll_item() {
                Ok(next) => return next,
                // `notify_one` keeps a permit when nobody waits, so an item
                // queued since the look above still wakes this.
                Err(()) => self.0.arrived.notified().await,
            }
        }
    }

    /// The next item if one is queued now.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        self.poll_item().ok().flatten()
    }

    /// `Ok(Some(item))`, `Ok(None)` at the end, `Err(())` when the queue is
    /// empty but the sender may still send.
    fn poll_item(&mut self) -> Result<Option<T>, ()> {
        let taken = {
            let mut state = lock(&self.0.state);
            match state.items.pop_front() {
                Some(item) => item,
                None if state.sender_gone => return Ok(None),
                None => return Err(()),
            }
        };
        self.0.room.notify_one();
        Ok(Some(taken))
    }
}

impl<T> Drop for ReplyReceiver<T> {
    fn drop(&mut self) {
        lock(&self.0.state).receiver_gone = true;
        self.0.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn items_keep_their_order_across_the_first_slot() {
        let mut items = Items::default();
        let mut expected = VecDeque::new();
        // Pushes and pops interleaved in every pattern of length 8.
        for pattern in 0u32..256 {
            for step in 0..8 {
                if pattern & (1 << step) != 0 {
                    items.push_back((pattern, step));
                    expected.push_back((pattern, step));
                } else {
                    assert_eq!(items.pop_front(), expected.pop_front());
                }
                assert_eq!(items.len(), expected.len());
            }
        }
        while let Some(item) = expected.pop_front() {
            assert_eq!(items.pop_front(), Some(item));
        }
        assert_eq!(items.pop_front(), None);
    }

    #[tokio::test]
    async fn items_come_in_order_and_the_end_after_the_last() {
        let (tx, mut rx) = reply_queue(4);
        tx.try_send(1).ok().unwrap();
        tx.send(2).await.ok().unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_full_queue_holds_its_sender_until_an_item_is_taken() {
        let (tx, mut rx) = reply_queue(1);
        tx.try_send(1).ok().unwrap();
        assert!(matches!(tx.try_send(2), Err(TryQueueError::Full(2))));
        let tx = Arc::new(tx);
        let sending = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(2).await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sending.is_finished(), "the sender waits for room");
        assert_eq!(rx.recv().await, Some(1));
        assert!(sending.await.unwrap());
        assert_eq!(rx.try_recv(), Some(2));
        assert_eq!(rx.try_recv(), None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_an_item_and_for_the_end() {
        let (tx, mut rx) = reply_queue::<u8>(2);
        let receiving = tokio::spawn(async move { (rx.recv().await, rx.recv().await) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.try_send(7).ok().unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(tx);
        assert_eq!(receiving.await.unwrap(), (Some(7), None));
    }

    #[tokio::test]
    async fn without_a_receiver_sends_fail_and_a_waiting_sender_is_released() {
        let (tx, rx) = reply_queue(1);
        tx.try_send(1).ok().unwrap();
        let tx = Arc::new(tx);
        let sending = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(2).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        assert_eq!(sending.await.unwrap(), Err(2));
        assert!(matches!(tx.try_send(3), Err(TryQueueError::Closed(3))));
    }
}
