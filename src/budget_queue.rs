//! A queue between two of `pack`'s threads, bounded by what its items hold,
//! not only by their count: from the reader to the scanner, large files it
//! opened; from the scanner to the writer, open files and the bytes scanned
//! that the writer has yet to read again; from the reader to the writer,
//! batches and the bytes they hold in memory. What an item
//! holds counts until the receiver is done with it, and at most
//! `MAX_QUEUED` items wait, however little they hold. One item that holds
//! more than the limit alone still passes when the queue is empty, so the
//! sender never waits forever.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What items hold: counted from when one is sent until the receiver drops it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// Items: each an open file, or a batch from the reader.
    pub items: usize,
    /// Bytes read ahead: by the scanner, read again later from the page
    /// cache if it still has them; by the reader, held in memory.
    pub bytes: u64,
}

impl std::ops::Add for Held {
    type Output = Held;

    fn add(self, other: Held) -> Held {
        Held {
            items: self.items + other.items,
            bytes: self.bytes + other.bytes,
        }
    }
}

impl Held {
    fn sub(self, other: Held) -> Held {
        Held {
            items: self.items - other.items,
            bytes: self.bytes - other.bytes,
        }
    }

    fn within(self, limit: Held) -> bool {
        self.items <= limit.items && self.bytes <= limit.bytes
    }
}

/// However little they hold, at most this many items wait in a queue: a
/// sender of items that hold nothing (the scanner's files left out for the
/// private key they hold) goes only so far ahead of its receiver.
pub const MAX_QUEUED: usize = 64;

struct State<T> {
    queue: VecDeque<(T, Held)>,
    /// What the queued items and the ones taken but not yet dropped hold.
    held: Held,
    sender_done: bool,
    receiver_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
    limit: Held,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic elsewhere never leaves the state half-changed: every
        // change below is made in one step under the lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A queue whose items may together hold at most `limit`.
pub fn queue<T>(limit: Held) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            held: Held::default(),
            sender_done: false,
            receiver_gone: false,
        }),
        changed: Condvar::new(),
        limit,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Queue an item once there is room for what it holds, and fewer than
    /// `MAX_QUEUED` wait. `Err` gives it back if the receiver is gone.
    pub fn send(&self, item: T, holds: Held) -> Result<(), T> {
        let mut state = self.shared.lock();
        while !state.receiver_gone && !self.has_room(&state, holds) {
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        self.push(state, item, holds)
    }

    /// Queue an item if there is room for it now; `Err` gives it back if
    /// there is not, or if the receiver is gone.
    pub fn try_send(&self, item: T, holds: Held) -> Result<(), T> {
        let state = self.shared.lock();
        match self.has_room(&state, holds) {
            true => self.push(state, item, holds),
            false => Err(item),
        }
    }

    /// What the items sent hold now: those queued, and those taken whose
    /// receiver is not done with them.
    pub fn holding(&self) -> Held {
        self.shared.lock().held
    }

    fn has_room(&self, state: &State<T>, holds: Held) -> bool {
        state.queue.len() < MAX_QUEUED
            && (state.held == Held::default() || (state.held + holds).within(self.shared.limit))
    }

    fn push(&self, mut state: MutexGuard<'_, State<T>>, item: T, holds: Held) -> Result<(), T> {
        if state.receiver_gone {
            return Err(item);
        }
        state.held = state.held + holds;
        state.queue.push_back((item, holds));
        self.shared.changed.notify_all();
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.lock().sender_done = true;
        self.shared.changed.notify_all();
    }
}

pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next item, or `None` once the sender is gone and all is taken.
    /// What the item holds counts until the `Delivered` is dropped.
    pub fn recv(&self) -> Option<Delivered<'_, T>> {
        let mut state = self.shared.lock();
        loop {
            if let Some(delivered) = self.pop(&mut state) {
                return Some(delivered);
            }
            if state.sender_done {
                return None;
            }
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The next item if one is queued now, without waiting.
    pub fn try_recv(&self) -> Option<Delivered<'_, T>> {
        self.pop(&mut self.shared.lock())
    }

    fn pop(&self, state: &mut State<T>) -> Option<Delivered<'_, T>> {
        let (item, holds) = state.queue.pop_front()?;
        // A sender may wait for fewer items queued.
        self.shared.changed.notify_all();
        Some(Delivered {
            item: Some(item),
            holds,
            shared: &self.shared,
        })
    }
}

#[cfg(test)]
impl<T> Receiver<T> {
    /// How many items wait in the queue.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }
}

impl<T> Drop for Receiver<T> {
    /// The receiver stopped: a sender waiting for room stops too.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        // Items never taken close their files now.
        state.queue.clear();
        drop(state);
        self.shared.changed.notify_all();
    }
}

/// An item taken from the queue; what it holds is given back when dropped.
pub struct Delivered<'q, T> {
    item: Option<T>,
    holds: Held,
    shared: &'q Shared<T>,
}

impl<T> Delivered<'_, T> {
    /// The item itself. What it held is still counted until `self` drops.
    pub fn take(&mut self) -> T {
        self.item.take().expect("a delivered item is taken once")
    }
}

impl<T> Drop for Delivered<'_, T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.held = state.held.sub(self.holds);
        drop(state);
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LIMIT: Held = Held {
        items: 2,
        bytes: 10,
    };

    fn bytes(n: u64) -> Held {
        Held { items: 1, bytes: n }
    }

    #[test]
    fn items_arrive_in_order_and_the_queue_ends_with_the_sender() {
        let (tx, rx) = queue(LIMIT);
        std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..100 {
                    tx.send(i, bytes(3)).unwrap();
                }
            });
            let mut got = Vec::new();
            while let Some(mut item) = rx.recv() {
                got.push(item.take());
            }
            assert_eq!(got, (0..100).collect::<Vec<_>>());
        });
    }

    #[test]
    fn the_sender_waits_while_what_is_held_is_at_the_limit() {
        let (tx, rx) = queue(LIMIT);
        tx.send(1, bytes(6)).unwrap();
        tx.send(2, Held { items: 1, bytes: 0 }).unwrap();
        std::thread::scope(|s| {
            let sender = s.spawn(move || tx.send(3, bytes(6)));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!sender.is_finished(), "3 items held with a limit of 2");
            let first = rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(50));
            assert!(
                !sender.is_finished(),
                "taken but not yet written: still held"
            );
            drop(first);
            sender.join().unwrap().unwrap();
        });
    }

    #[test]
    fn an_item_over_the_limit_passes_alone() {
        let (tx, rx) = queue(LIMIT);
        tx.send(1, bytes(50)).unwrap();
        assert_eq!(rx.recv().unwrap().take(), 1);
        tx.send(2, bytes(50)).unwrap();
        drop(tx);
        assert_eq!(rx.recv().unwrap().take(), 2);
        assert!(rx.recv().is_none());
    }

    #[test]
    fn items_that_hold_nothing_wait_once_max_queued_are_queued() {
        let (tx, rx) = queue(LIMIT);
        for i in 0..MAX_QUEUED {
            tx.send(i, Held::default()).unwrap();
        }
        std::thread::scope(|s| {
            let sender = s.spawn(move || tx.send(MAX_QUEUED, Held::default()));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!sender.is_finished(), "{MAX_QUEUED} items already wait");
            assert_eq!(rx.recv().unwrap().take(), 0);
            sender.join().unwrap().unwrap();
        });
        assert_eq!(rx.queued(), MAX_QUEUED);
    }

    #[test]
    fn try_send_queues_only_while_there_is_room() {
        let (tx, rx) = queue(LIMIT);
        assert_eq!(tx.try_send(1, bytes(6)), Ok(()));
        assert_eq!(
            tx.try_send(2, bytes(6)),
            Err(2),
            "12 bytes with a limit of 10"
        );
        assert_eq!(tx.try_send(3, bytes(4)), Ok(()));
        assert_eq!(
            tx.try_send(4, bytes(0)),
            Err(4),
            "3 items with a limit of 2"
        );
        drop(rx.recv().unwrap());
        assert_eq!(tx.try_send(4, bytes(0)), Ok(()));
        let (tx, rx) = queue(LIMIT);
        drop(rx);
        assert_eq!(
            tx.try_send(5, Held::default()),
            Err(5),
            "the receiver is gone"
        );
    }

    #[test]
    fn a_sender_waiting_for_room_stops_when_the_receiver_does() {
        let (tx, rx) = queue(LIMIT);
        tx.send(1, bytes(10)).unwrap();
        std::thread::scope(|s| {
            let sender = s.spawn(move || tx.send(2, bytes(1)));
            std::thread::sleep(Duration::from_millis(50));
            drop(rx);
            assert_eq!(sender.join().unwrap(), Err(2));
        });
    }
}
