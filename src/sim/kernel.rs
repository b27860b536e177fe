//! The simulation kernel: a virtual clock and a kernel-owned event queue that dispatches
//! to actix actors in a total order `(time, source id, source sequence)`.
//!
//! Each component kind (each [`Behavior`] type) runs in one actix actor, a [`Host`],
//! that holds every node of that kind: per dispatch window the kernel wakes a host once
//! for all of its nodes that have events (an item on a stream the actor handles through
//! actix's `StreamHandler`, which allocates nothing), so the cost of an actor's turn is
//! shared by the events of a window rather than paid per node.
//!
//! Calling contract, as for any sans-IO driver: the kernel alone advances time. Each
//! actor is a [`Node`] wrapping a [`Behavior`]; it receives [`Input`]s stamped with the
//! virtual `now` and answers only through its [`Ctx`]: network sends, timers, and kernel
//! actions (faults, VIP moves). Nothing in the model reads a wall clock or a tokio timer.
//!
//! Two dispatch modes give byte-identical results:
//! - strict: one event at a time, each handled before the next is popped;
//! - window: every event in `[t, t + lookahead)` is sent at once, each actor handling
//!   its own in order (timers it sets for itself inside the window are merged locally).
//!   This is safe because no message between two actors takes less than the lookahead.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};

use actix::prelude::Stream;
use actix::{Actor, AsyncContext, Context, StreamHandler};

use super::net::{Degradation, Dest, Network, NodeId, Partition};
use super::trace::{TraceDigest, TraceMsg, TraceRecord};
use crate::time::{SimDuration, SimTime};

/// How many events ahead the kernel and hosts ask for memory to be loaded: enough
/// to cover a miss to main memory with the work of the events in between.
const PREFETCH_DISTANCE: usize = 8;

/// The longest chain of events at one instant before the kernel calls it a livelock.
pub const MAX_MICROSTEPS: u32 = 100_000;

/// The source id of events the kernel itself creates (start, crash, restart, finish).
pub const KERNEL: NodeId = 0;

thread_local! {
    static NOW: Cell<u64> = const { Cell::new(0) };
}

/// The virtual time of the event being handled on this thread (for log lines).
pub fn current_time() -> SimTime {
    SimTime::from_nanos(NOW.with(Cell::get))
}

fn set_current_time(now: SimTime) {
    NOW.with(|cell| cell.set(now.as_nanos()));
}

/// What an actor is asked to handle.
#[derive(Debug)]
pub enum Input<M> {
    /// The run begins (time zero).
    Start,
    /// A message from another node (or from itself through [`Ctx::schedule`]).
    Msg { from: NodeId, msg: M },
    /// A timer the node set for itself.
    Timer(M),
    /// The node's process dies now; no further input arrives until [`Input::Restart`].
    Crash,
    /// The node comes back with empty volatile state.
    Restart,
    /// The run ends now: report final state.
    Finish,
    /// This node gained (`held`) or lost floating address `vip`; `other` is the node
    /// that lost it or gained it, [`KERNEL`] for none (what a gratuitous ARP tells the
    /// network). Kept small: every queued event is as large as the largest input.
    Vip { vip: u32, held: bool, other: NodeId },
}

impl<M: TraceMsg> Input<M> {
    fn kind(&self) -> &'static str {
        match self {
            Input::Start => "start",
            Input::Msg { msg, .. } | Input::Timer(msg) => msg.kind(),
            Input::Crash => "crash",
            Input::Restart => "restart",
            Input::Finish => "finish",
            Input::Vip { .. } => "vip",
        }
    }
    /// Messages of the modelled system this input stands for, if it is lost.
    fn stands_for(&self) -> u64 {
        match self {
            Input::Msg { msg, .. } => msg.stands_for(),
            _ => 1,
        }
    }

    fn payload_digest(&self) -> u64 {
        match self {
            Input::Msg { msg, .. } | Input::Timer(msg) => msg.digest(),
            Input::Vip { vip, held, other } => u64::from(*vip) << 33 | u64::from(*held) << 32 | u64::from(*other),
            _ => 0,
        }
    }
}

/// A queued event, ordered by `(time, micro, src, seq)`, smallest first in the heap.
///
/// `micro` is the superdense-time microstep: an event emitted for the same instant as
/// the event that caused it gets the cause's microstep + 1, so every effect sorts after
/// its cause and strict dispatch order equals key order.
#[derive(Debug)]
pub struct Pending<M> {
    time: SimTime,
    micro: u32,
    src: NodeId,
    seq: u64,
    dst: Dest,
    incarnation: u32,
    input: Input<M>,
}

impl<M> Pending<M> {
    fn key(&self) -> (SimTime, u32, NodeId, u64) {
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
type QueueKey = (SimTime, u32, NodeId, u64, u32);

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

struct EventQueue<M> {
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
    fn new() -> Self {
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

    fn push(&mut self, event: Pending<M>) {
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
    fn place(&mut self, key: QueueKey) {
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
    fn redistribute(&mut self, bucket: usize) {
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
    fn lowest_bucket(&self) -> Option<usize> {
        if self.levels_occupied == 0 {
            return None;
        }
        let level = self.levels_occupied.trailing_zeros() as usize;
        let digit = self.digits_occupied[level].trailing_zeros() as usize;
        Some(level * DIGITS + digit)
    }

    fn peek_time(&self) -> Option<SimTime> {
        if !self.current.is_empty() {
            Some(self.last)
        } else {
            self.lowest_bucket().map(|bucket| self.bucket_min[bucket])
        }
    }

    fn pop(&mut self) -> Option<Pending<M>> {
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
    fn prefetch_free(&self, ahead: usize) {
        if let Some(&slot) = self.free.len().checked_sub(ahead + 1).map(|i| &self.free[i]) {
            self.prefetch(slot);
        }
    }

    /// Starts loading the body parked in `slot` (see [`super::prefetch`]).
    fn prefetch(&self, slot: u32) {
        if let Some(body) = self.slots.get(slot as usize) {
            super::prefetch(body);
        }
    }

    fn take(&mut self, slot: u32) -> Option<Pending<M>> {
        self.free.push(slot);
        self.slots[slot as usize].take()
    }

    /// Moves the keys of every event before `end` into `window`, in key order (the
    /// order repeated `pop`s would give). A bucket whose whole time range lies before
    /// `end` is sorted and taken as it is rather than emptied key by key through every
    /// lower level: a few keys are cheaper to sort than to move down four levels.
    /// Buckets leave in ascending order, so the window comes out sorted.
    fn pop_window(&mut self, end: SimTime, window: &mut Vec<QueueKey>) {
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
    fn clear_bucket(&mut self, bucket: usize) {
        self.bucket_min[bucket] = SimTime::MAX;
        let (level, digit) = (bucket / DIGITS, bucket % DIGITS);
        self.digits_occupied[level] &= !(1 << digit);
        if self.digits_occupied[level] == 0 {
            self.levels_occupied &= !(1 << level);
        }
    }
}

/// Changes to the world that only the kernel may make. They act as barriers: no
/// dispatch window spans one.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelAction {
    Crash(NodeId),
    Restart(NodeId),
    Partition {
        id: u64,
        partition: Partition,
    },
    Heal {
        id: u64,
    },
    /// `net.degrade`: degrade every link of a node until `Restore` with the same id.
    Degrade {
        id: u64,
        degradation: Degradation,
    },
    Restore {
        id: u64,
    },
    MoveVip {
        vip: u32,
        to: Option<NodeId>,
    },
    /// `node.pause`: the node hangs. What reaches it (messages, its own timers) waits
    /// until `Resume`, then arrives at once, each sender's in the order sent; address
    /// changes still reach it (network state). A crash discards the backlog.
    Pause(NodeId),
    Resume(NodeId),
    Finish,
}

/// A change the window hook asks the kernel to make (see [`Kernel::set_window_hook`]).
pub enum Scheduled<M> {
    Action(SimTime, KernelAction),
    Message(SimTime, NodeId, M),
}

/// Called after every dispatch window and kernel action; what it returns is scheduled.
/// It must not ask for anything before the end of the window just dispatched.
pub type WindowHook<M> = Box<dyn FnMut() -> Vec<Scheduled<M>>>;

#[derive(Debug)]
struct KernelEvent {
    time: SimTime,
    src: NodeId,
    seq: u64,
    /// The emitting node's incarnation: an action a node asked for dies with it, as its
    /// timers do.
    incarnation: u32,
    action: KernelAction,
}
impl KernelEvent {
    fn key(&self) -> (SimTime, NodeId, u64) {
        (self.time, self.src, self.seq)
    }
}
impl PartialEq for KernelEvent {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for KernelEvent {}
impl PartialOrd for KernelEvent {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for KernelEvent {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// What an actor emitted while handling an input.
enum Emission<M> {
    Net {
        src: NodeId,
        seq: u64,
        sent_at: SimTime,
        dst: Dest,
        bytes: u64,
        msg: M,
    },
    Direct(Pending<M>),
    /// Boxed: kernel actions are rare and large, and every emission is as large as
    /// the largest kind.
    Kernel(Box<KernelEvent>),
}

struct Shared<M> {
    outbox: RefCell<Vec<Emission<M>>>,
    handled: RefCell<Vec<TraceRecord>>,
    pending: Cell<usize>,
    waker: Cell<Option<Waker>>,
    panic: RefCell<Option<(NodeId, SimTime, String)>>,
}

/// The behaviour of one component kind; the kernel wraps it in an actix actor.
pub trait Behavior: Unpin + 'static {
    type Msg: Send + Unpin + TraceMsg + 'static;
    fn handle(&mut self, input: Input<Self::Msg>, ctx: &mut Ctx<'_, Self::Msg>);
    /// `input` comes a few events from now: start loading the state it will touch
    /// (see [`super::prefetch`]). A hint only; the default does nothing.
    fn prefetch(&self, _input: &Input<Self::Msg>) {}
    /// `input` comes twice as far ahead as for [`Behavior::prefetch`]: start loading
    /// what finding its state takes (an index from the input to the state), so that
    /// `prefetch` does not wait for it. A hint only; the default does nothing.
    fn prefetch_index(&self, _input: &Input<Self::Msg>) {}
}

/// The handle an actor answers through. Everything it emits is stamped with `now`.
pub struct Ctx<'a, M> {
    now: SimTime,
    micro: u32,
    me: NodeId,
    window_end: SimTime,
    incarnation: u32,
    seq: &'a mut u64,
    local: &'a mut BinaryHeap<Pending<M>>,
    out: &'a mut Vec<Emission<M>>,
}

impl<M> Ctx<'_, M> {
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn me(&self) -> NodeId {
        self.me
    }

    fn next_seq(&mut self) -> u64 {
        let seq = *self.seq;
        *self.seq += 1;
        seq
    }

    /// The microstep of an event emitted for time `at`. A chain of same-instant events
    /// longer than [`MAX_MICROSTEPS`] is a livelock in the model: it would stop time
    /// forever, so it is reported (as a panic, caught by the kernel) instead.
    fn micro_at(&self, at: SimTime) -> u32 {
        if at == self.now {
            assert!(
                self.micro < MAX_MICROSTEPS,
                "livelock: node {} keeps scheduling events at {} without letting time advance",
                self.me,
                self.now
            );
            self.micro + 1
        } else {
            0
        }
    }

    /// Sends `msg` of `bytes` over the simulated network.
    pub fn send(&mut self, dst: impl Into<Dest>, msg: M, bytes: u64) {
        let seq = self.next_seq();
        self.out.push(Emission::Net {
            src: self.me,
            seq,
            sent_at: self.now,
            dst: dst.into(),
            bytes,
            msg,
        });
    }

    /// Delivers `msg` to this node at `at` (not before now). Timers die with a crash.
    pub fn timer_at(&mut self, at: SimTime, msg: M) {
        assert!(at >= self.now, "timer set in the past: {at} < {}", self.now);
        let pending = Pending {
            time: at,
            micro: self.micro_at(at),
            src: self.me,
            seq: self.next_seq(),
            dst: Dest::Node(self.me),
            incarnation: self.incarnation,
            input: Input::Timer(msg),
        };
        if at < self.window_end {
            self.local.push(pending);
        } else {
            self.out.push(Emission::Direct(pending));
        }
    }

    /// Delivers `msg` to `dst` after exactly `delay`, bypassing the network model.
    /// To another node the delay must be at least the kernel's lookahead.
    pub fn schedule(&mut self, dst: NodeId, delay: SimDuration, msg: M) {
        let pending = Pending {
            time: self.now + delay,
            micro: self.micro_at(self.now + delay),
            src: self.me,
            seq: self.next_seq(),
            dst: Dest::Node(dst),
            incarnation: 0,
            input: Input::Msg { from: self.me, msg },
        };
        if dst == self.me && pending.time < self.window_end {
            self.local.push(pending);
        } else {
            self.out.push(Emission::Direct(pending));
        }
    }

    /// Asks the kernel to change the world after `delay` (at least the lookahead).
    pub fn kernel_action(&mut self, delay: SimDuration, action: KernelAction) {
        let event = KernelEvent {
            time: self.now + delay,
            src: self.me,
            seq: self.next_seq(),
            incarnation: self.incarnation,
            action,
        };
        self.out.push(Emission::Kernel(Box::new(event)));
    }
}

/// An event for one of a host's nodes, left by the kernel in the host's inbox.
struct Delivery<M> {
    /// The node's place in its host.
    slot: u32,
    /// The node's incarnation (what timers it sets are stamped with).
    incarnation: u32,
    event: Pending<M>,
}

/// What the kernel left for a host's nodes in the current window, in key order.
type Inbox<M> = Rc<RefCell<Vec<Delivery<M>>>>;

/// What tells a host to handle its inbox: the window ends at `window_end`.
pub struct Dispatched {
    window_end: SimTime,
}

/// How the kernel wakes a host: a one-slot stream the host actor consumes through
/// actix's `StreamHandler`. An actix message (`do_send`) boxes an envelope and a
/// mailbox node for every host in every window: on the reference day, whose windows
/// hold few events, that was about 1.4 allocations per event, nearly all of them.
struct Doorbell {
    window_end: Cell<Option<SimTime>>,
    waker: RefCell<Option<Waker>>,
}

impl Doorbell {
    fn ring(&self, window_end: SimTime) {
        // The kernel waits for every host before the next window: none is rung twice.
        debug_assert!(self.window_end.get().is_none(), "a host rung twice in one window");
        self.window_end.set(Some(window_end));
        if let Some(waker) = self.waker.borrow().as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// The host's end of its [`Doorbell`]. It never ends: a host lives as long as its run.
struct DoorbellStream(Rc<Doorbell>);

impl Stream for DoorbellStream {
    type Item = Dispatched;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Dispatched>> {
        if let Some(window_end) = self.0.window_end.take() {
            return Poll::Ready(Some(Dispatched { window_end }));
        }
        let mut waker = self.0.waker.borrow_mut();
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Where a host's nodes leave what they did in a window, borrowed once per window
/// rather than once per event.
struct Sinks<'a, M> {
    handled: &'a mut Vec<TraceRecord>,
    outbox: &'a mut Vec<Emission<M>>,
    panic: &'a RefCell<Option<(NodeId, SimTime, String)>>,
}

/// One node: a [`Behavior`] with its own sequence numbers and in-window timers.
struct Node<B: Behavior> {
    id: NodeId,
    behavior: B,
    seq: u64,
    local: BinaryHeap<Pending<B::Msg>>,
    /// Whether the node is on its host's list of nodes with in-window timers.
    listed: bool,
}

/// The nodes of one host, shared with the kernel, which adds them as it spawns them.
type HostNodes<B> = Rc<RefCell<Vec<Node<B>>>>;

/// The actix actor that runs every node of one component kind.
pub struct Host<B: Behavior> {
    nodes: HostNodes<B>,
    inbox: Inbox<B::Msg>,
    shared: Rc<Shared<B::Msg>>,
    /// Nodes holding in-window timers, with their incarnation.
    with_local: Vec<(u32, u32)>,
}

impl<B: Behavior> Actor for Host<B> {
    type Context = Context<Self>;
}

impl<B: Behavior> Node<B> {
    /// Handles the node's own in-window timers that come before `before` (all of
    /// them for `None`), in key order. False if the node panicked.
    fn deliver_local(
        &mut self,
        before: Option<(SimTime, u32, NodeId, u64)>,
        window_end: SimTime,
        incarnation: u32,
        sinks: &mut Sinks<'_, B::Msg>,
    ) -> bool {
        while self
            .local
            .peek()
            .is_some_and(|local| before.is_none_or(|key| local.key() < key))
        {
            let event = self.local.pop().expect("peeked");
            if !self.deliver(event, window_end, incarnation, sinks) {
                return false;
            }
        }
        true
    }

    fn deliver(
        &mut self,
        event: Pending<B::Msg>,
        window_end: SimTime,
        incarnation: u32,
        sinks: &mut Sinks<'_, B::Msg>,
    ) -> bool {
        set_current_time(event.time);
        sinks.handled.push(TraceRecord {
            time: event.time,
            micro: event.micro,
            src: event.src,
            seq: event.seq,
            dst: self.id,
            kind: event.input.kind(),
            payload: event.input.payload_digest(),
        });
        let mut ctx = Ctx {
            now: event.time,
            micro: event.micro,
            me: self.id,
            window_end,
            incarnation,
            seq: &mut self.seq,
            local: &mut self.local,
            out: sinks.outbox,
        };
        let behavior = &mut self.behavior;
        let input = event.input;
        match catch_unwind(AssertUnwindSafe(|| behavior.handle(input, &mut ctx))) {
            Ok(()) => true,
            Err(payload) => {
                let message = panic_text(payload.as_ref());
                // The first panic is the one reported; the run stops at this window.
                sinks.panic.borrow_mut().get_or_insert((self.id, event.time, message));
                false
            }
        }
    }
}

impl<B: Behavior> StreamHandler<Dispatched> for Host<B> {
    fn handle(&mut self, message: Dispatched, _ctx: &mut Context<Self>) {
        // The kernel waits while hosts run, so the inbox is ours until we are done;
        // its allocation goes back for the next window.
        let mut inbox = std::mem::take(&mut *self.inbox.borrow_mut());
        let mut nodes = self.nodes.borrow_mut();
        let window_end = message.window_end;
        // Deliveries come in key order over all nodes. Nodes do not interact inside a
        // window, so each only has to see its own inputs in key order: the kernel's,
        // merged with the timers it sets for itself inside the window.
        let mut handled = self.shared.handled.borrow_mut();
        let mut outbox = self.shared.outbox.borrow_mut();
        let mut sinks = Sinks {
            handled: &mut handled,
            outbox: &mut outbox,
            panic: &self.shared.panic,
        };
        let mut failed = false;
        let mut deliveries = inbox.drain(..);
        while let Some(Delivery {
            slot,
            incarnation,
            event,
        }) = deliveries.next()
        {
            if failed {
                continue;
            }
            let coming = deliveries.as_slice();
            if let Some(far) = coming.get(2 * PREFETCH_DISTANCE - 1) {
                nodes[far.slot as usize].behavior.prefetch_index(&far.event.input);
            }
            if let Some(ahead) = coming.get(PREFETCH_DISTANCE - 1) {
                nodes[ahead.slot as usize].behavior.prefetch(&ahead.event.input);
            }
            let node = &mut nodes[slot as usize];
            // Most nodes set no timer inside a window: skip the call for them.
            failed = !((node.local.is_empty()
                || node.deliver_local(Some(event.key()), window_end, incarnation, &mut sinks))
                && node.deliver(event, window_end, incarnation, &mut sinks));
            if !node.local.is_empty() && !node.listed {
                node.listed = true;
                self.with_local.push((slot, incarnation));
            }
        }
        // Timers nodes set for themselves after their last input of the window.
        for (slot, incarnation) in self.with_local.drain(..) {
            let node = &mut nodes[slot as usize];
            node.listed = false;
            if !failed {
                failed = !node.deliver_local(None, window_end, incarnation, &mut sinks);
            }
            node.local.clear();
        }
        drop(deliveries);
        *self.inbox.borrow_mut() = inbox;
        let left = self.shared.pending.get() - 1;
        self.shared.pending.set(left);
        if left == 0 {
            if let Some(waker) = self.shared.waker.take() {
                waker.wake();
            }
        }
    }
}

/// The kernel's side of a host.
struct HostHandle<M> {
    kind: TypeId,
    doorbell: Rc<Doorbell>,
    inbox: Inbox<M>,
    /// The host's [`HostNodes`], for spawning into it.
    nodes: Box<dyn Any>,
    /// Whether the host already has work in the current window.
    touched: bool,
}

struct AllHandled<'a, M>(&'a Shared<M>);

impl<M> Future for AllHandled<'_, M> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0.pending.get() == 0 {
            Poll::Ready(())
        } else {
            self.0.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        }
    }
}

/// How the kernel hands events to actors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// One event at a time.
    Strict,
    /// All events within `lookahead` of the earliest at once.
    Window { lookahead: SimDuration },
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("node {node} ({name}) panicked at t={time}: {message}")]
    ActorPanic {
        node: NodeId,
        name: String,
        time: SimTime,
        message: String,
    },
    /// A panic outside any actor: building the world or summarising the run.
    #[error("failcast panicked outside the actors (a bug; please report it with the scenario and seed): {message}")]
    Panic { message: String },
}

/// What a panic said, for an error message.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    (payload.downcast_ref::<String>().cloned())
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Counters from a finished run.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub end: SimTime,
    pub events: u64,
    pub messages_lost: u64,
    pub trace_digest: String,
    pub records: Option<Vec<TraceRecord>>,
}

/// The kernel: owns time, the queue, the network and the actors' addresses.
pub struct Kernel<M: Send + Unpin + TraceMsg + 'static> {
    queue: EventQueue<M>,
    kernel_events: BinaryHeap<KernelEvent>,
    hosts: Vec<HostHandle<M>>,
    /// Each node's host and place in it (index 0, the kernel, is unused).
    placement: Vec<(u32, u32)>,
    alive: Vec<bool>,
    incarnation: Vec<u32>,
    /// Hung nodes (`Pause`, nested pauses counted) and what waits for them.
    paused: Vec<u32>,
    held: Vec<Vec<Pending<M>>>,
    /// What the kernel told a node about the world while it was down: handed over
    /// right after its restart, so that no dead process acts on it.
    deferred: Vec<Vec<Pending<M>>>,
    net: Network,
    shared: Rc<Shared<M>>,
    digest: TraceDigest,
    seq: u64,
    dispatch: Dispatch,
    /// The keys of the window being dispatched (an allocation kept between windows).
    window: Vec<QueueKey>,
    touched_hosts: Vec<u32>,
    end: SimTime,
    dropped_to_dead: u64,
    hook: Option<WindowHook<M>>,
}

impl<M: Send + Unpin + TraceMsg + 'static> Kernel<M> {
    /// A kernel that runs until `end`. Must be created inside a running actix System.
    pub fn new(net: Network, end: SimTime, dispatch: Dispatch, keep_records: bool) -> Self {
        if let Dispatch::Window { lookahead } = dispatch {
            assert!(
                !lookahead.is_zero(),
                "a dispatch window needs a lookahead greater than zero"
            );
        }
        let mut kernel = Kernel {
            queue: EventQueue::new(),
            kernel_events: BinaryHeap::new(),
            hosts: Vec::new(),
            placement: vec![(u32::MAX, u32::MAX)],
            alive: vec![false],
            incarnation: vec![0],
            paused: vec![0],
            held: vec![Vec::new()],
            deferred: vec![Vec::new()],
            net,
            shared: Rc::new(Shared {
                outbox: RefCell::new(Vec::new()),
                handled: RefCell::new(Vec::new()),
                pending: Cell::new(0),
                waker: Cell::new(None),
                panic: RefCell::new(None),
            }),
            digest: TraceDigest::new(keep_records),
            seq: 0,
            dispatch,
            window: Vec::new(),
            touched_hosts: Vec::new(),
            end,
            dropped_to_dead: 0,
            hook: None,
        };
        kernel.schedule_action(end, KernelAction::Finish);
        kernel
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// The id the next spawned node will get.
    pub fn next_id(&self) -> NodeId {
        self.placement.len() as NodeId
    }

    /// Adds `behavior` as node `name` in link class `class`, run by the actix actor that
    /// hosts its kind (started with the first node of the kind).
    pub fn spawn<B: Behavior<Msg = M>>(&mut self, name: &str, class: u16, behavior: B) -> NodeId {
        let id = self.next_id();
        self.net.add_node(id, name, class);
        let node = Node {
            id,
            behavior,
            seq: 0,
            local: BinaryHeap::new(),
            listed: false,
        };
        let kind = TypeId::of::<B>();
        let host = match self.hosts.iter().position(|host| host.kind == kind) {
            Some(host) => host,
            None => {
                let nodes: HostNodes<B> = Rc::new(RefCell::new(Vec::new()));
                let inbox: Inbox<M> = Rc::new(RefCell::new(Vec::new()));
                let doorbell = Rc::new(Doorbell {
                    window_end: Cell::new(None),
                    waker: RefCell::new(None),
                });
                let actor = Host {
                    nodes: nodes.clone(),
                    inbox: inbox.clone(),
                    shared: self.shared.clone(),
                    with_local: Vec::new(),
                };
                let stream = DoorbellStream(doorbell.clone());
                // The actor lives on its stream; no one sends it messages.
                Host::create(|ctx| {
                    ctx.add_stream(stream);
                    actor
                });
                self.hosts.push(HostHandle {
                    kind,
                    doorbell,
                    inbox,
                    nodes: Box::new(nodes),
                    touched: false,
                });
                self.hosts.len() - 1
            }
        };
        let nodes = self.hosts[host]
            .nodes
            .downcast_ref::<HostNodes<B>>()
            .expect("a host holds nodes of its own kind");
        let slot = nodes.borrow().len() as u32;
        nodes.borrow_mut().push(node);
        self.placement.push((host as u32, slot));
        self.alive.push(true);
        self.incarnation.push(0);
        self.paused.push(0);
        self.held.push(Vec::new());
        self.deferred.push(Vec::new());
        self.push_kernel_input(SimTime::ZERO, id, Input::Start);
        id
    }

    fn next_kernel_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    fn push_kernel_input(&mut self, time: SimTime, dst: NodeId, input: Input<M>) {
        let seq = self.next_kernel_seq();
        self.queue.push(Pending {
            time,
            micro: 0,
            src: KERNEL,
            seq,
            dst: Dest::Node(dst),
            incarnation: self.incarnation[dst as usize],
            input,
        });
    }

    /// Delivers `msg` to `dst` at `at`, from the kernel (how faults that a component
    /// must act on, such as a capacity drop, reach it). It is a change of the world,
    /// not a packet: partitions do not cut it; a node that is down at `at` gets it
    /// right after its restart, one that hangs when it resumes.
    pub fn schedule_message(&mut self, at: SimTime, dst: NodeId, msg: M) {
        self.push_kernel_input(at, dst, Input::Msg { from: KERNEL, msg });
    }

    /// Installs `hook`, which can schedule changes in reaction to what the actors did
    /// (faults triggered by a state change). It runs at window boundaries, which both
    /// dispatch modes share for anything at least a lookahead after its cause.
    pub fn set_window_hook(&mut self, hook: WindowHook<M>) {
        self.hook = Some(hook);
    }

    fn run_hook(&mut self, floor: SimTime) {
        let Some(hook) = &mut self.hook else { return };
        for scheduled in hook() {
            let at = match &scheduled {
                Scheduled::Action(at, _) | Scheduled::Message(at, _, _) => *at,
            };
            assert!(
                at >= floor,
                "a triggered change for {at} comes after its time (window ended {floor}); its delay must be at least the lookahead"
            );
            match scheduled {
                Scheduled::Action(at, action) => self.schedule_action(at, action),
                Scheduled::Message(at, node, msg) => self.schedule_message(at, node, msg),
            }
        }
    }

    /// Schedules a change to the world (a fault, a repair) at `at`.
    pub fn schedule_action(&mut self, at: SimTime, action: KernelAction) {
        let seq = self.next_kernel_seq();
        self.kernel_events.push(KernelEvent {
            time: at,
            src: KERNEL,
            seq,
            incarnation: 0,
            action,
        });
    }

    /// Runs until the end time, then delivers [`Input::Finish`] to every live node.
    pub async fn run(mut self) -> Result<RunStats, SimError> {
        loop {
            let next_kernel = self.kernel_events.peek().map(|e| e.time);
            let next_event = self.queue.peek_time();
            match (next_kernel, next_event) {
                (Some(k), e) if e.is_none_or(|e| k <= e) => {
                    let event = self.kernel_events.pop().expect("peeked");
                    if self.apply(event).await? {
                        break;
                    }
                    self.run_hook(k);
                }
                (_, Some(t0)) => {
                    let window_end = self.dispatch_window(t0, next_kernel).await?;
                    self.run_hook(window_end);
                }
                (_, None) => break,
            }
        }
        Ok(RunStats {
            end: self.end,
            events: self.digest.events(),
            messages_lost: self.net.lost() + self.dropped_to_dead,
            trace_digest: self.digest.hex(),
            records: self.digest.records().map(<[TraceRecord]>::to_vec),
        })
    }

    /// Applies a kernel action; returns true when the run is over.
    async fn apply(&mut self, event: KernelEvent) -> Result<bool, SimError> {
        set_current_time(event.time);
        let src = event.src as usize;
        if event.src != KERNEL && (!self.alive[src] || self.incarnation[src] != event.incarnation) {
            return Ok(false);
        }
        match event.action {
            KernelAction::Crash(node) => {
                if self.alive[node as usize] {
                    tracing::debug!(node = self.net.name(node), "crash");
                    self.push_kernel_input(event.time, node, Input::Crash);
                    self.alive[node as usize] = false;
                    self.paused[node as usize] = 0;
                    // The backlog dies with the process; what the kernel said about
                    // the world still holds after the restart.
                    for waiting in std::mem::take(&mut self.held[node as usize]) {
                        match waiting.input {
                            Input::Msg { from: KERNEL, .. } => self.deferred[node as usize].push(waiting),
                            Input::Msg { ref msg, .. } => self.dropped_to_dead += msg.stands_for(),
                            _ => {}
                        }
                    }
                }
            }
            KernelAction::Restart(node) => {
                if !self.alive[node as usize] {
                    tracing::debug!(node = self.net.name(node), "restart");
                    self.alive[node as usize] = true;
                    self.incarnation[node as usize] += 1;
                    self.push_kernel_input(event.time, node, Input::Restart);
                    for told in std::mem::take(&mut self.deferred[node as usize]) {
                        self.push_kernel_input(event.time, node, told.input);
                    }
                }
            }
            KernelAction::Pause(node) => {
                if self.alive[node as usize] {
                    tracing::debug!(node = self.net.name(node), "pause");
                    self.paused[node as usize] += 1;
                }
            }
            KernelAction::Resume(node) => {
                let paused = &mut self.paused[node as usize];
                *paused = paused.saturating_sub(1);
                if *paused == 0 && !self.held[node as usize].is_empty() {
                    tracing::debug!(node = self.net.name(node), "resume");
                    // Through the queue, so both dispatch modes order the backlog the
                    // same way: by sender, then in the order each sent.
                    for mut waiting in std::mem::take(&mut self.held[node as usize]) {
                        waiting.time = event.time;
                        waiting.micro = 0;
                        self.queue.push(waiting);
                    }
                }
            }
            KernelAction::Partition { id, partition } => self.net.partition(id, partition),
            KernelAction::Heal { id } => self.net.heal(id),
            KernelAction::Degrade { id, degradation } => self.net.degrade(id, degradation),
            KernelAction::Restore { id } => self.net.restore(id),
            KernelAction::MoveVip { vip, to } => {
                let from = self.net.vip_holder(vip);
                if from != to {
                    self.net.move_vip(vip, to);
                    if let Some(old) = from {
                        let lost = Input::Vip {
                            vip,
                            held: false,
                            other: to.unwrap_or(KERNEL),
                        };
                        self.push_kernel_input(event.time, old, lost);
                    }
                    if let Some(new) = to {
                        let gained = Input::Vip {
                            vip,
                            held: true,
                            other: from.unwrap_or(KERNEL),
                        };
                        self.push_kernel_input(event.time, new, gained);
                    }
                }
            }
            KernelAction::Finish => {
                let nodes: Vec<NodeId> = (1..self.next_id()).filter(|&n| self.alive[n as usize]).collect();
                for node in nodes {
                    let seq = self.next_kernel_seq();
                    self.route(Pending {
                        time: event.time,
                        micro: 0,
                        src: KERNEL,
                        seq,
                        dst: Dest::Node(node),
                        incarnation: self.incarnation[node as usize],
                        input: Input::Finish,
                    });
                }
                self.flush(event.time).await?;
                // Whatever the nodes emit at the end is past the horizon.
                self.shared.outbox.borrow_mut().clear();
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Dispatches one window; returns its end.
    async fn dispatch_window(&mut self, t0: SimTime, next_kernel: Option<SimTime>) -> Result<SimTime, SimError> {
        let window_end = match self.dispatch {
            Dispatch::Strict => {
                let event = self.queue.pop().expect("peeked");
                self.route(event);
                t0
            }
            Dispatch::Window { lookahead } => {
                let window_end = (t0 + lookahead).min(next_kernel.unwrap_or(SimTime::MAX));
                let mut window = std::mem::take(&mut self.window);
                self.queue.pop_window(window_end, &mut window);
                for i in 0..window.len() {
                    if let Some(&(.., ahead)) = window.get(i + PREFETCH_DISTANCE) {
                        self.queue.prefetch(ahead);
                    }
                    let event = self.queue.take(window[i].4).expect("a queued key has a body");
                    self.route(event);
                }
                window.clear();
                self.window = window;
                window_end
            }
        };
        self.flush(window_end).await?;
        self.drain_outbox(window_end);
        Ok(window_end)
    }

    /// Resolves an event's destination and leaves it in that node's host's inbox, or
    /// drops it. Called in key order.
    fn route(&mut self, event: Pending<M>) {
        let node = match event.dst {
            Dest::Node(n) => Some(n),
            Dest::Vip(v) => self.net.vip_holder(v),
        };
        let Some(node) = node else {
            self.dropped_to_dead += event.input.stands_for();
            return;
        };
        let idx = node as usize;
        let deliverable = match &event.input {
            // Address ownership is network state: a crashed node learns of it too.
            // What the kernel tells a node about the world (a fault's start or end) is
            // not a packet either: no partition cuts it, and a node that is down gets
            // it when it restarts.
            Input::Crash | Input::Restart | Input::Vip { .. } => true,
            Input::Msg { from: KERNEL, .. } => {
                if !self.alive[idx] {
                    self.deferred[idx].push(event);
                    return;
                }
                true
            }
            Input::Timer(_) => self.alive[idx] && event.incarnation == self.incarnation[idx],
            Input::Msg { from, .. } => self.alive[idx] && (*from == node || !self.net.blocked(*from, node)),
            Input::Start | Input::Finish => self.alive[idx],
        };
        if !deliverable {
            if matches!(event.input, Input::Msg { .. }) {
                self.dropped_to_dead += event.input.stands_for();
            }
            return;
        }
        if self.paused[idx] > 0 && matches!(event.input, Input::Msg { .. } | Input::Timer(_)) {
            self.held[idx].push(Pending {
                dst: Dest::Node(node),
                ..event
            });
            return;
        }
        let (host, slot) = self.placement[idx];
        let handle = &mut self.hosts[host as usize];
        handle.inbox.borrow_mut().push(Delivery {
            slot,
            incarnation: self.incarnation[idx],
            event,
        });
        if !handle.touched {
            handle.touched = true;
            self.touched_hosts.push(host);
        }
    }

    /// Hands every host its inbox, ringing each host's doorbell once, and waits until
    /// all are handled.
    async fn flush(&mut self, window_end: SimTime) -> Result<(), SimError> {
        self.shared.pending.set(self.touched_hosts.len());
        for host in self.touched_hosts.drain(..) {
            let handle = &mut self.hosts[host as usize];
            handle.touched = false;
            handle.doorbell.ring(window_end);
        }
        AllHandled(&self.shared).await;
        if let Some((node, time, message)) = self.shared.panic.borrow_mut().take() {
            return Err(SimError::ActorPanic {
                node,
                name: self.net.name(node).to_string(),
                time,
                message,
            });
        }
        let mut handled = self.shared.handled.borrow_mut();
        self.digest.fold_batch(&mut handled);
        handled.clear();
        Ok(())
    }

    fn drain_outbox(&mut self, window_end: SimTime) {
        let mut outbox = std::mem::take(&mut *self.shared.outbox.borrow_mut());
        for emission in outbox.drain(..) {
            // The slab slot a push a few emissions on will fill: handling the window
            // has likely pushed it out of the cache, and filling it reads it first.
            self.queue.prefetch_free(PREFETCH_DISTANCE);
            match emission {
                Emission::Net {
                    src,
                    seq,
                    sent_at,
                    dst,
                    bytes,
                    msg,
                } => {
                    if let Some(arrival) = self.net.transmit(sent_at, src, dst, bytes) {
                        self.check_lookahead(arrival, window_end, src);
                        self.queue.push(Pending {
                            time: arrival,
                            micro: 0,
                            src,
                            seq,
                            dst,
                            incarnation: 0,
                            input: Input::Msg { from: src, msg },
                        });
                    } else {
                        // The network counted one.
                        self.dropped_to_dead += msg.stands_for() - 1;
                    }
                }
                Emission::Direct(pending) => {
                    self.check_lookahead(pending.time, window_end, pending.src);
                    self.queue.push(pending);
                }
                Emission::Kernel(event) => {
                    self.check_lookahead(event.time, window_end, event.src);
                    self.kernel_events.push(*event);
                }
            }
        }
        // Hand the (now empty) allocation back for the next window.
        *self.shared.outbox.borrow_mut() = outbox;
    }

    fn check_lookahead(&self, time: SimTime, window_end: SimTime, src: NodeId) {
        assert!(
            time >= window_end,
            "lookahead violated: {} emitted an event for {time}, inside the dispatch window ending {window_end}; \
             raise the smallest link latency or lower the lookahead",
            self.net.name(src)
        );
    }
}

/// Runs `body` on a fresh actix System: a current-thread tokio runtime without a time
/// driver, so that a tokio timer anywhere in the model panics instead of running on
/// wall time (a paused clock did the same more softly, and its driver cost a clock
/// read and a timer-wheel check on every turn of the runtime, once per window).
pub fn run_in_system<F, Fut, T>(body: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let system = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread tokio runtime")
    });
    system.block_on(body())
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
