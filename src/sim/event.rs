//! What the kernel queues and hands out: an actor's [`Input`], the kernel's own
//! [`KernelAction`]s, and the clock of the event being handled, shared by the kernel,
//! its event queue and the actors' hosts.

use std::cell::Cell;
use std::cmp::Ordering;

use super::net::{Degradation, NodeId, Partition};
use super::trace::TraceMsg;
use crate::time::SimTime;

/// How many events ahead the kernel and hosts ask for memory to be loaded: enough
/// to cover a miss to main memory with the work of the events in between.
pub(super) const PREFETCH_DISTANCE: usize = 8;

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

pub(super) fn set_current_time(now: SimTime) {
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
    pub(super) fn kind(&self) -> &'static str {
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
    pub(super) fn stands_for(&self) -> u64 {
        match self {
            Input::Msg { msg, .. } => msg.stands_for(),
            _ => 1,
        }
    }

    pub(super) fn payload_digest(&self) -> u64 {
        match self {
            Input::Msg { msg, .. } | Input::Timer(msg) => msg.digest(),
            Input::Vip { vip, held, other } => u64::from(*vip) << 33 | u64::from(*held) << 32 | u64::from(*other),
            _ => 0,
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

#[derive(Debug)]
pub(super) struct KernelEvent {
    pub(super) time: SimTime,
    pub(super) src: NodeId,
    pub(super) seq: u64,
    /// The emitting node's incarnation: an action a node asked for dies with it, as its
    /// timers do.
    pub(super) incarnation: u32,
    pub(super) action: KernelAction,
}
impl KernelEvent {
    pub(super) fn key(&self) -> (SimTime, NodeId, u64) {
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

/// What a panic said, for an error message.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    (payload.downcast_ref::<String>().cloned())
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string())
}
