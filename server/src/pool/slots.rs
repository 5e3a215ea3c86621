//! Slots: the pool's only licence to run a process. A process may exist
//! only while it (or the loader starting it) holds a [`SlotPermit`], and a
//! permit is released only when the process it licensed has been reaped, so
//! the count of live children can never exceed `max_loaded_models` and their
//! reserved memory can never exceed the budget, even while an evicted child
//! is still exiting.
//!
//! Loaders that find no room queue for a permit with a [`SlotTicket`] and
//! are granted permits strictly in arrival order (no model starves). Waiting
//! holds nothing: a queued loader does not count as an occupant, so two
//! loaders can never wait for each other. Making room (evicting an idle
//! model) is the caller's job (`capacity`); this module only counts, queues
//! and grants, under one short mutex that is never held across an await.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

/// Where a blocked queue head stands, for eviction decisions and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blocked {
    /// Nobody is waiting, or the head can be granted.
    No,
    /// Every slot is held.
    Count,
    /// A slot is free but the memory budget would be exceeded.
    Memory {
        /// Bytes reserved by held permits.
        used: u64,
    },
}

/// The waiter that room is being made for, as [`Slots::make_room`] sees it.
pub(super) struct Turn<'a> {
    /// Why the queue head waits.
    pub blocked: Blocked,
    /// The model the waiter would start, if it said.
    pub model: Option<&'a str>,
    /// Still within its hold: it may evict only a model wanted less than
    /// its own (the capacity policy decides what that means).
    pub holding: bool,
}

/// Counting, queueing and granting of slots.
pub(super) struct Slots {
    max: usize,
    budget: Option<u64>,
    state: Mutex<State>,
    /// Queue length, mirrored outside the lock: every lease release asks
    /// whether anyone waits, and that must not take a lock.
    queued: AtomicUsize,
    /// Signalled when the last held permit is released (shutdown waits on it).
    all_free: Notify,
}

#[derive(Default)]
struct State {
    held: BTreeMap<u64, Held>,
    queue: VecDeque<Waiter>,
    /// Held permits whose process was asked to stop and has not exited yet:
    /// room that is already on its way for a waiter.
    releasing: usize,
    next_id: u64,
}

struct Held {
    bytes: Arc<AtomicU64>,
    releasing: bool,
}

struct Waiter {
    id: u64,
    bytes: u64,
    /// The model it would start, if any (eviction weighs how much it is
    /// wanted against the models it could evict).
    model: Option<Arc<str>>,
    /// Until then it may evict only a model wanted less than its own.
    hold_until: Instant,
    grant: oneshot::Sender<Arc<SlotPermit>>,
}

/// A held slot. Shared by the loader and the supervisor of the process it
/// starts; the slot is free again when the last holder drops it.
pub struct SlotPermit {
    slots: Arc<Slots>,
    id: u64,
    bytes: Arc<AtomicU64>,
}

/// A place in the queue for a slot. Await it for the permit; dropping it
/// (the loader gave up) leaves the queue.
pub(super) struct SlotTicket {
    slots: Arc<Slots>,
    id: u64,
    grant: oneshot::Receiver<Arc<SlotPermit>>,
}

impl Slots {
    /// `max` processes; `budget` bytes of reserved memory, if any.
    pub(super) fn new(max: usize, budget: Option<u64>) -> Arc<Slots> {
        Arc::new(Slots {
            max: max.max(1),
            budget,
            state: Mutex::new(State::default()),
            queued: AtomicUsize::new(0),
            all_free: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Joins the queue for a slot reserving `bytes` of memory. Granted at
    /// once when the queue is empty and the slot fits.
    #[cfg(test)]
    pub(super) fn enqueue(self: &Arc<Slots>, bytes: u64) -> SlotTicket {
        self.enqueue_for(bytes, None, Instant::now())
    }

    /// [`enqueue`](Self::enqueue) for a load of `model` that holds back
    /// until `hold_until` (see [`Turn::holding`]).
    pub(super) fn enqueue_for(
        self: &Arc<Slots>,
        bytes: u64,
        model: Option<Arc<str>>,
        hold_until: Instant,
    ) -> SlotTicket {
        let (tx, rx) = oneshot::channel();
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.queue.push_back(Waiter {
            id,
            bytes,
            model,
            hold_until,
            grant: tx,
        });
        let undelivered = self.grant_locked(&mut state);
        self.queued.store(state.queue.len(), Ordering::Release);
        drop(state);
        drop(undelivered);
        SlotTicket {
            slots: self.clone(),
            id,
            grant: rx,
        }
    }

    /// Grants permits to queue heads while they fit. Returns permits that
    /// could not be delivered, to be dropped after the lock is released
    /// (dropping one takes the lock).
    fn grant_locked(self: &Arc<Slots>, state: &mut State) -> Vec<Arc<SlotPermit>> {
        let mut undelivered = Vec::new();
        while let Some(head) = state.queue.front() {
            if self.blocked_for(state, head.bytes) != Blocked::No {
                break;
            }
            let Some(waiter) = state.queue.pop_front() else {
                break;
            };
            let bytes = Arc::new(AtomicU64::new(waiter.bytes));
            state.held.insert(
                waiter.id,
                Held {
                    bytes: bytes.clone(),
                    releasing: false,
                },
            );
            let permit = Arc::new(SlotPermit {
                slots: self.clone(),
                id: waiter.id,
                bytes,
            });
            if let Err(permit) = waiter.grant.send(permit) {
                undelivered.push(permit);
            }
        }
        undelivered
    }

    fn blocked_for(&self, state: &State, bytes: u64) -> Blocked {
        if state.held.len() >= self.max {
            return Blocked::Count;
        }
        if let Some(budget) = self.budget {
            let used = reserved(state);
            if used.saturating_add(bytes) > budget {
                return Blocked::Memory { used };
            }
        }
        Blocked::No
    }

    /// Whether any loader is queued: one atomic load, no lock.
    pub(super) fn has_waiters(&self) -> bool {
        self.queued.load(Ordering::Acquire) != 0
    }

    /// Why the queue head waits, and whether evicting one more process
    /// could help it: `None` when nobody waits, the head fits, or enough
    /// room is already on its way (one releasing slot per waiter).
    pub(super) fn needs_room(&self) -> Option<Blocked> {
        Self::needs_room_locked(self, &self.lock())
    }

    fn needs_room_locked(&self, state: &State) -> Option<Blocked> {
        let head = state.queue.front()?;
        let blocked = self.blocked_for(state, head.bytes);
        (blocked != Blocked::No && state.queue.len() > state.releasing).then_some(blocked)
    }

    /// While [`needs_room`](Self::needs_room) says so, asks `evict` to stop
    /// one process for the first waiter with no room on its way yet (its
    /// [`Turn`]); it returns the slot id of the process it stopped, or
    /// `None` when nothing may be evicted (yet). Runs under the lock, so two
    /// callers never evict twice for the same waiter. `evict` may take
    /// phase locks (the lock order is slots, then phase) and must not call
    /// back into `Slots`.
    pub(super) fn make_room(&self, mut evict: impl FnMut(Turn<'_>) -> Option<u64>) {
        let mut state = self.lock();
        let now = Instant::now();
        while let Some(blocked) = self.needs_room_locked(&state) {
            // Room on its way goes to the waiters in order: this one is next.
            let Some(waiter) = state.queue.get(state.releasing) else {
                return;
            };
            let turn = Turn {
                blocked,
                model: waiter.model.as_deref(),
                holding: now < waiter.hold_until,
            };
            let Some(id) = evict(turn) else {
                return;
            };
            mark_releasing(&mut state, id);
        }
    }

    /// Marks the slot held under `id` as being released (its process was
    /// asked to stop), so it is counted as room on its way.
    pub(super) fn mark_releasing(&self, id: u64) {
        mark_releasing(&mut self.lock(), id);
    }

    /// Slots held (processes alive or starting), for stats and tests.
    pub(super) fn held(&self) -> usize {
        self.lock().held.len()
    }

    /// Loaders waiting for a slot.
    pub(super) fn waiting(&self) -> usize {
        self.lock().queue.len()
    }

    /// The largest number of processes that may run at once.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// The memory budget in bytes, if any.
    pub(super) fn budget(&self) -> Option<u64> {
        self.budget
    }

    fn release(self: &Arc<Slots>, id: u64) {
        let mut state = self.lock();
        if let Some(held) = state.held.remove(&id)
            && held.releasing
        {
            state.releasing -= 1;
        }
        let undelivered = self.grant_locked(&mut state);
        self.queued.store(state.queue.len(), Ordering::Release);
        let none_held = state.held.is_empty();
        drop(state);
        drop(undelivered);
        if none_held {
            self.all_free.notify_waiters();
        }
    }

    /// Completes once no permit is held: every process has been reaped.
    pub(super) async fn all_released(&self) {
        loop {
            let signalled = self.all_free.notified();
            tokio::pin!(signalled);
            // Registered before the check, so a release in between is seen.
            signalled.as_mut().enable();
            if self.lock().held.is_empty() {
                return;
            }
            signalled.await;
        }
    }

    fn leave_queue(self: &Arc<Slots>, id: u64) {
        let mut state = self.lock();
        state.queue.retain(|w| w.id != id);
        // The head may have been the one blocking others (memory).
        let undelivered = self.grant_locked(&mut state);
        self.queued.store(state.queue.len(), Ordering::Release);
        drop(state);
        drop(undelivered);
    }
}

fn mark_releasing(state: &mut State, id: u64) {
    if let Some(held) = state.held.get_mut(&id)
        && !held.releasing
    {
        held.releasing = true;
        state.releasing += 1;
    }
}

fn reserved(state: &State) -> u64 {
    state
        .held
        .values()
        .map(|h| h.bytes.load(Ordering::Relaxed))
        .fold(0u64, u64::saturating_add)
}

impl SlotPermit {
    /// The permit's id, used to mark it releasing.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Updates the memory this slot reserves (the process's measured RSS,
    /// never below the estimate it was granted with).
    pub(super) fn reserve_at_least(&self, bytes: u64) {
        self.bytes.fetch_max(bytes, Ordering::Relaxed);
    }
}

impl Drop for SlotPermit {
    fn drop(&mut self) {
        self.slots.release(self.id);
    }
}

impl Future for SlotTicket {
    type Output = Arc<SlotPermit>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.grant).poll(cx) {
            Poll::Ready(Ok(permit)) => Poll::Ready(permit),
            // The sender lives in the queue until it is used or the ticket
            // leaves; only a grant can close it while the ticket exists.
            Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for SlotTicket {
    fn drop(&mut self) {
        // Leave the queue first; a permit granted meanwhile sits in the
        // channel and is released when the receiver drops right after.
        self.slots.leave_queue(self.id);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use futures::FutureExt;

    fn granted(ticket: &mut SlotTicket) -> Option<Arc<SlotPermit>> {
        ticket.now_or_never()
    }

    #[test]
    fn grants_in_arrival_order_and_only_up_to_the_cap() {
        let slots = Slots::new(2, None);
        let mut a = slots.enqueue(0);
        let mut b = slots.enqueue(0);
        let mut c = slots.enqueue(0);
        let mut d = slots.enqueue(0);
        let pa = granted(&mut a).expect("first fits");
        let pb = granted(&mut b).expect("second fits");
        assert!(granted(&mut c).is_none());
        assert!(granted(&mut d).is_none());
        assert_eq!(slots.held(), 2);
        drop(pb);
        let pc = granted(&mut c).expect("c is next in line");
        assert!(granted(&mut d).is_none());
        drop(pa);
        let _pd = granted(&mut d).expect("then d");
        drop(pc);
        assert_eq!(slots.held(), 1);
    }

    #[test]
    fn a_ticket_dropped_while_waiting_leaves_no_trace() {
        let slots = Slots::new(1, None);
        let mut first = slots.enqueue(0);
        let permit = granted(&mut first).unwrap();
        let waiting = slots.enqueue(0);
        assert_eq!(slots.waiting(), 1);
        drop(waiting);
        assert_eq!(slots.waiting(), 0);
        drop(permit);
        assert_eq!(slots.held(), 0);
    }

    #[test]
    fn a_permit_granted_to_a_ticket_that_is_then_dropped_is_released() {
        let slots = Slots::new(1, None);
        let mut first = slots.enqueue(0);
        let permit = granted(&mut first).unwrap();
        let second = slots.enqueue(0);
        drop(permit); // granted to `second`, which never looks
        assert_eq!(slots.held(), 1);
        drop(second);
        assert_eq!(slots.held(), 0);
    }

    #[test]
    fn a_shared_permit_frees_its_slot_when_the_last_holder_drops() {
        let slots = Slots::new(1, None);
        let mut t = slots.enqueue(0);
        let loader = granted(&mut t).unwrap();
        let supervisor = loader.clone();
        drop(loader);
        assert_eq!(slots.held(), 1);
        drop(supervisor);
        assert_eq!(slots.held(), 0);
    }

    #[test]
    fn memory_blocks_the_head_and_keeps_order() {
        let slots = Slots::new(4, Some(100));
        let mut a = slots.enqueue(60);
        let pa = granted(&mut a).unwrap();
        let mut big = slots.enqueue(50);
        let mut small = slots.enqueue(10);
        assert!(granted(&mut big).is_none());
        // FIFO: the small one fits but must not overtake the head.
        assert!(granted(&mut small).is_none());
        assert_eq!(slots.needs_room(), Some(Blocked::Memory { used: 60 }));
        pa.reserve_at_least(90);
        assert_eq!(slots.needs_room(), Some(Blocked::Memory { used: 90 }));
        drop(pa);
        assert!(granted(&mut big).is_some());
        assert!(granted(&mut small).is_some());
    }

    #[test]
    fn releasing_slots_count_as_room_on_its_way() {
        let slots = Slots::new(1, None);
        let mut t = slots.enqueue(0);
        let permit = granted(&mut t).unwrap();
        assert_eq!(slots.needs_room(), None, "nobody waits");
        let mut w1 = slots.enqueue(0);
        assert_eq!(slots.needs_room(), Some(Blocked::Count));
        slots.mark_releasing(permit.id());
        assert_eq!(
            slots.needs_room(),
            None,
            "one slot on its way for one waiter"
        );
        let _w2 = slots.enqueue(0);
        assert_eq!(
            slots.needs_room(),
            Some(Blocked::Count),
            "two waiters, one slot coming"
        );
        drop(permit);
        let _p1 = granted(&mut w1).expect("the first waiter gets the released slot");
        assert_eq!(slots.needs_room(), Some(Blocked::Count));
    }
}
