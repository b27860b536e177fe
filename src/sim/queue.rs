//! The kernel's event queue: a monotone radix heap of `(time, micro, src, seq)` keys
//! over a slab of event bodies, popping in the order one binary heap would.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::event::Input;
use super::net::{Dest, NodeId};
use crate::time::SimTime;

/// A queued event, ordered by `(time, micro, src, seq)`, smallest first in the heap.
///
/// `micro` is the superdense-time microstep: an event emitted for the same instant as
/// the event that caused it gets the cause's microstep + 1, so every effect sorts after
/// its cause and strict dispatch order equals key order.
#[derive(Debug)]
pub struct Pending<M> {
    pub(super) time: SimTime,
    pub(super) micro: u32,
    pub(super) src: NodeId,
    pub(super) seq: u64,
    pub(super) dst: Dest,
    pub(super) incarnation: u32,
    pub(super) input: Input<M>,
}

impl<M> Pending<M> {
    pub(super) fn key(&self) -> (SimTime, u32, NodeId, u64) {
        (self.time, self.micro, self.src, self.seq)
    }
}
impl<M> PartialEq for Pending<M> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<M> Eq for Pending<M> {}
impl<M> PartialOrd for Pending<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Pending<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// The kernel's event queue: a monotone radix heap of small keys over a slab of event
/// bodies, so that moving a key moves 32 bytes rather than a whole event.
///
/// Monotone because time never goes backwards: every push is at or after the time of
/// the last pop (asserted). A key waits in the bucket named by the highest 6-bit
/// digit where its time differs from that last time, and by its own value of that
/// digit; popping empties the lowest bucket into lower ones, so a key moves a handful
/// of times in its life instead of sifting through a heap of every pending timer on
/// each pop. Keys at exactly the current time wait in a small binary heap ordered by
/// the whole key, so events leave in the same `(time, micro, src, seq)` order as from
/// one binary heap.
///
/// `(time, micro, src, seq, slot)`: the ordering key, then where the body is parked.
pub(super) type QueueKey = (SimTime, u32, NodeId, u64, u32);

/// Bits per digit of the radix heap: 11 levels of 64 buckets for 64-bit times (the top
/// level uses 16). Wider digits mean fewer moves per key (a key 1–50 ms ahead is placed
/// about twice before its window takes it) for more, mostly idle, buckets.
const DIGIT_BITS: u32 = 6;
const DIGITS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = 64_usize.div_ceil(DIGIT_BITS as usize);
const BUCKETS: usize = LEVELS * DIGITS;
/// An emptied bucket keeps its allocation up to this many keys and frees a larger one:
/// every bucket fills up at some point (a crowd of viewers' timers passes through each
/// level), and 704 buckets each holding on to their peak would hold the whole queue
/// many times over.
const KEPT_BUCKET_CAPACITY: usize = 1024;

pub(super) struct EventQueue<M> {
    /// The time of the last pop: the base every bucket is relative to.
    last: SimTime,
    /// Nothing may be pushed before this: the last popped time, or the end of the
    /// last window taken.
    floor: SimTime,
    /// Keys at `last`.
    current: BinaryHeap<Reverse<QueueKey>>,
    /// `buckets[level * DIGITS + digit]`: keys whose time first differs from `last` in
    /// digit `level`, where the key's digit is `digit` (and `last`'s is smaller).
    buckets: Vec<Vec<QueueKey>>,
    /// The earliest time in each bucket (meaningful while the bucket is not empty).
    bucket_min: Vec<SimTime>,
    /// Bit `level` set when some bucket of that level is not empty.
    levels_occupied: u32,
    /// Per level, bit `digit` set when that bucket is not empty.
    digits_occupied: [u64; LEVELS],
    /// A spare allocation for the bucket being redistributed.
    spare: Vec<QueueKey>,
    slots: Vec<Option<Pending<M>>>,
    free: Vec<u32>,
}

impl<M> EventQueue<M> {
    pub(super) fn new() -> Self {
        EventQueue {
            last: SimTime::ZERO,
            floor: SimTime::ZERO,
            current: BinaryHeap::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            bucket_min: vec![SimTime::MAX; BUCKETS],
            levels_occupied: 0,
            digits_occupied: [0; LEVELS],
            spare: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, event: Pending<M>) {
        let (time, micro, src, seq) = (event.time, event.micro, event.src, event.seq);
        assert!(
            time >= self.floor,
            "event queue: an event for {time} pushed after one for {} was popped",
            self.floor
        );
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        self.place((time, micro, src, seq, slot));
    }

    #[inline(always)]
    pub(super) fn place(&mut self, key: QueueKey) {
        let time = key.0.as_nanos();
        let differ = time ^ self.last.as_nanos();
        if differ == 0 {
            self.current.push(Reverse(key));
            return;
        }
        let level = (63 - differ.leading_zeros()) / DIGIT_BITS;
        let digit = (time >> (level * DIGIT_BITS)) as usize & (DIGITS - 1);
        let bucket = level as usize * DIGITS + digit;
        self.buckets[bucket].push(key);
        self.levels_occupied |= 1 << level;
        self.digits_occupied[level as usize] |= 1 << digit;
        if key.0 < self.bucket_min[bucket] {
            self.bucket_min[bucket] = key.0;
        }
    }

    /// Advances the base to the earliest pending time, that of `bucket` (the lowest),
    /// and places its keys again. Every key of the lowest bucket shares its digits
    /// above that bucket's level with the new base, so each lands in a lower level (or
    /// at the current time); keys of higher buckets still differ from it first where
    /// they differed from the old base.
    pub(super) fn redistribute(&mut self, bucket: usize) {
        self.last = self.bucket_min[bucket];
        self.clear_bucket(bucket);
        let mut moving = std::mem::replace(&mut self.buckets[bucket], std::mem::take(&mut self.spare));
        for key in moving.drain(..) {
            self.place(key);
        }
        if moving.capacity() <= KEPT_BUCKET_CAPACITY {
            self.spare = moving;
        }
    }

    /// The bucket holding the earliest keys outside `current`.
    pub(super) fn lowest_bucket(&self) -> Option<usize> {
        if self.levels_occupied == 0 {
            return None;
        }
        let level = self.levels_occupied.trailing_zeros() as usize;
        let digit = self.digits_occupied[level].trailing_zeros() as usize;
        Some(level * DIGITS + digit)
    }

    pub(super) fn peek_time(&self) -> Option<SimTime> {
        if !self.current.is_empty() {
            Some(self.last)
        } else {
            self.lowest_bucket().map(|bucket| self.bucket_min[bucket])
        }
    }

    pub(super) fn pop(&mut self) -> Option<Pending<M>> {
        if self.current.is_empty() {
            let lowest = self.lowest_bucket()?;
            self.redistribute(lowest);
        }
        let Reverse((.., slot)) = self.current.pop()?;
        self.floor = self.last;
        self.take(slot)
    }

    /// Starts loading the slab slot that the push `ahead` pushes from now will fill,
    /// if every push until then reuses a freed one.
    pub(super) fn prefetch_free(&self, ahead: usize) {
        if let Some(&slot) = self.free.len().checked_sub(ahead + 1).map(|i| &self.free[i]) {
            self.prefetch(slot);
        }
    }

    /// Starts loading the body parked in `slot` (see [`super::prefetch`]).
    pub(super) fn prefetch(&self, slot: u32) {
        if let Some(body) = self.slots.get(slot as usize) {
            crate::sim::prefetch(body);
        }
    }

    pub(super) fn take(&mut self, slot: u32) -> Option<Pending<M>> {
        self.free.push(slot);
        self.slots[slot as usize].take()
    }

    /// Moves the keys of every event before `end` into `window`, in key order (the
    /// order repeated `pop`s would give). A bucket whose whole time range lies before
    /// `end` is sorted and taken as it is rather than emptied key by key through every
    /// lower level: a few keys are cheaper to sort than to move down four levels.
    /// Buckets leave in ascending order, so the window comes out sorted.
    pub(super) fn pop_window(&mut self, end: SimTime, window: &mut Vec<QueueKey>) {
        debug_assert!(window.is_empty());
        loop {
            if !self.current.is_empty() {
                if self.last >= end {
                    break;
                }
                let start = window.len();
                window.extend(self.current.drain().map(|Reverse(key)| key));
                window[start..].sort_unstable();
            }
            let Some(lowest) = self.lowest_bucket() else { break };
            if self.bucket_min[lowest] >= end {
                break;
            }
            let (level, digit) = (lowest / DIGITS, (lowest % DIGITS) as u128);
            let shift = level as u32 * DIGIT_BITS;
            let above = u128::from(self.last.as_nanos()) >> (shift + DIGIT_BITS) << (shift + DIGIT_BITS);
            let bucket_end = above + ((digit + 1) << shift);
            if bucket_end <= u128::from(end.as_nanos()) {
                self.clear_bucket(lowest);
                self.buckets[lowest].sort_unstable();
                window.append(&mut self.buckets[lowest]);
                if self.buckets[lowest].capacity() > KEPT_BUCKET_CAPACITY {
                    self.buckets[lowest] = Vec::new();
                }
            } else {
                self.redistribute(lowest);
            }
        }
        self.floor = self.floor.max(end);
        debug_assert!(window.is_sorted());
    }

    /// Marks `bucket` empty (its keys are about to leave it).
    pub(super) fn clear_bucket(&mut self, bucket: usize) {
        self.bucket_min[bucket] = SimTime::MAX;
        let (level, digit) = (bucket / DIGITS, bucket % DIGITS);
        self.digits_occupied[level] &= !(1 << digit);
        if self.digits_occupied[level] == 0 {
            self.levels_occupied &= !(1 << level);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pending(time: u64, micro: u32, src: NodeId, seq: u64) -> Pending<()> {
        Pending {
            time: SimTime::from_nanos(time),
            micro,
            src,
            seq,
            dst: Dest::Node(1),
            incarnation: 0,
            input: Input::Start,
        }
    }

    proptest! {
        /// The radix queue hands out events in exactly the order of one binary heap
        /// over the whole key, under any monotone mix of pushes, pops and windows
        /// (offsets from the last pop; zero offsets and ties in time exercise the
        /// microstep order).
        #[test]
        fn radix_queue_pops_in_binary_heap_order(
            ops in proptest::collection::vec((0u8..4, 0u64..4, 0u64..1 << 40, 0u32..3, 1u32..5), 1..400)
        ) {
            let mut queue = EventQueue::new();
            let mut reference = BinaryHeap::new();
            let mut last = 0u64;
            let mut window = Vec::new();
            for (seq, (op, scale, offset, micro, src)) in ops.into_iter().enumerate() {
                // Offsets of very different sizes, so keys spread over many buckets.
                let offset = offset >> (scale * 12);
                if op < 2 {
                    let time = last + offset;
                    let seq = seq as u64;
                    queue.push(pending(time, micro, src, seq));
                    reference.push(Reverse((time, micro, src, seq)));
                } else if op == 3 {
                    // A window takes exactly what popping everything before its end
                    // would, in the same order.
                    let end = last + offset;
                    let mut expected = Vec::new();
                    while reference.peek().is_some_and(|Reverse(key)| key.0 < end) {
                        expected.push(reference.pop().expect("peeked").0);
                    }
                    queue.pop_window(SimTime::from_nanos(end), &mut window);
                    let got: Vec<_> = window
                        .drain(..)
                        .map(|(time, micro, src, seq, slot)| {
                            let body = queue.take(slot).expect("a body per key");
                            assert_eq!((body.time, body.seq), (time, seq));
                            (time.as_nanos(), micro, src, seq)
                        })
                        .collect();
                    prop_assert_eq!(got, expected);
                    last = end;
                } else {
                    let expected = reference.pop().map(|Reverse(key)| key);
                    prop_assert_eq!(queue.peek_time().map(SimTime::as_nanos), expected.map(|k| k.0));
                    let got = queue.pop().map(|p| (p.time.as_nanos(), p.micro, p.src, p.seq));
                    prop_assert_eq!(got, expected);
                    if let Some((time, ..)) = got {
                        last = time;
                    }
                }
                prop_assert_eq!(
                    queue.peek_time().map(SimTime::as_nanos),
                    reference.peek().map(|Reverse(key)| key.0)
                );
            }
            while let Some(Reverse(expected)) = reference.pop() {
                let got = queue.pop().map(|p| (p.time.as_nanos(), p.micro, p.src, p.seq));
                prop_assert_eq!(got, Some(expected));
            }
            prop_assert!(queue.pop().is_none());
        }
    }

    #[test]
    #[should_panic(expected = "pushed after one for")]
    fn the_queue_refuses_an_event_before_the_last_pop() {
        let mut queue = EventQueue::new();
        queue.push(pending(100, 0, 1, 0));
        queue.pop();
        queue.push(pending(99, 0, 1, 1));
    }
}
