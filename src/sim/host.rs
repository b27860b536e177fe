//! The actix side of the kernel: one [`Host`] actor per component kind holds that
//! kind's nodes, is woken once per dispatch window through a one-slot stream, and
//! hands what its nodes emit back to the kernel; [`Behavior`] and [`Ctx`] are what a
//! component implements and answers through.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::BinaryHeap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};

use actix::prelude::Stream;
use actix::{Actor, Context, StreamHandler};

use super::event::{panic_text, set_current_time, Input, KernelAction, KernelEvent, MAX_MICROSTEPS, PREFETCH_DISTANCE};
use super::net::{Dest, NodeId};
use super::queue::Pending;
use super::trace::{TraceMsg, TraceRecord};
use crate::time::{SimDuration, SimTime};

/// What an actor emitted while handling an input.
pub(super) enum Emission<M> {
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

pub(super) struct Shared<M> {
    pub(super) outbox: RefCell<Vec<Emission<M>>>,
    pub(super) handled: RefCell<Vec<TraceRecord>>,
    pub(super) pending: Cell<usize>,
    pub(super) waker: Cell<Option<Waker>>,
    pub(super) panic: RefCell<Option<(NodeId, SimTime, String)>>,
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
    pub(super) now: SimTime,
    pub(super) micro: u32,
    pub(super) me: NodeId,
    pub(super) window_end: SimTime,
    pub(super) incarnation: u32,
    pub(super) seq: &'a mut u64,
    pub(super) local: &'a mut BinaryHeap<Pending<M>>,
    pub(super) out: &'a mut Vec<Emission<M>>,
}

impl<M> Ctx<'_, M> {
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn me(&self) -> NodeId {
        self.me
    }

    pub(super) fn next_seq(&mut self) -> u64 {
        let seq = *self.seq;
        *self.seq += 1;
        seq
    }

    /// The microstep of an event emitted for time `at`. A chain of same-instant events
    /// longer than [`MAX_MICROSTEPS`] is a livelock in the model: it would stop time
    /// forever, so it is reported (as a panic, caught by the kernel) instead.
    pub(super) fn micro_at(&self, at: SimTime) -> u32 {
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
pub(super) struct Delivery<M> {
    /// The node's place in its host.
    pub(super) slot: u32,
    /// The node's incarnation (what timers it sets are stamped with).
    pub(super) incarnation: u32,
    pub(super) event: Pending<M>,
}

/// What the kernel left for a host's nodes in the current window, in key order.
pub(super) type Inbox<M> = Rc<RefCell<Vec<Delivery<M>>>>;

/// What tells a host to handle its inbox: the window ends at `window_end`.
pub struct Dispatched {
    pub(super) window_end: SimTime,
}

/// How the kernel wakes a host: a one-slot stream the host actor consumes through
/// actix's `StreamHandler`. An actix message (`do_send`) boxes an envelope and a
/// mailbox node for every host in every window: on the reference day, whose windows
/// hold few events, that was about 1.4 allocations per event, nearly all of them.
pub(super) struct Doorbell {
    pub(super) window_end: Cell<Option<SimTime>>,
    pub(super) waker: RefCell<Option<Waker>>,
}

impl Doorbell {
    pub(super) fn ring(&self, window_end: SimTime) {
        // The kernel waits for every host before the next window: none is rung twice.
        debug_assert!(self.window_end.get().is_none(), "a host rung twice in one window");
        self.window_end.set(Some(window_end));
        if let Some(waker) = self.waker.borrow().as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// The host's end of its [`Doorbell`]. It never ends: a host lives as long as its run.
pub(super) struct DoorbellStream(pub(super) Rc<Doorbell>);

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
pub(super) struct Sinks<'a, M> {
    pub(super) handled: &'a mut Vec<TraceRecord>,
    pub(super) outbox: &'a mut Vec<Emission<M>>,
    pub(super) panic: &'a RefCell<Option<(NodeId, SimTime, String)>>,
}

/// One node: a [`Behavior`] with its own sequence numbers and in-window timers.
pub(super) struct Node<B: Behavior> {
    pub(super) id: NodeId,
    pub(super) behavior: B,
    pub(super) seq: u64,
    pub(super) local: BinaryHeap<Pending<B::Msg>>,
    /// Whether the node is on its host's list of nodes with in-window timers.
    pub(super) listed: bool,
}

/// The nodes of one host, shared with the kernel, which adds them as it spawns them.
pub(super) type HostNodes<B> = Rc<RefCell<Vec<Node<B>>>>;

/// The actix actor that runs every node of one component kind.
pub struct Host<B: Behavior> {
    pub(super) nodes: HostNodes<B>,
    pub(super) inbox: Inbox<B::Msg>,
    pub(super) shared: Rc<Shared<B::Msg>>,
    /// Nodes holding in-window timers, with their incarnation.
    pub(super) with_local: Vec<(u32, u32)>,
}

impl<B: Behavior> Actor for Host<B> {
    type Context = Context<Self>;
}

impl<B: Behavior> Node<B> {
    /// Handles the node's own in-window timers that come before `before` (all of
    /// them for `None`), in key order. False if the node panicked.
    pub(super) fn deliver_local(
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

    pub(super) fn deliver(
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
pub(super) struct HostHandle<M> {
    pub(super) kind: TypeId,
    pub(super) doorbell: Rc<Doorbell>,
    pub(super) inbox: Inbox<M>,
    /// The host's [`HostNodes`], for spawning into it.
    pub(super) nodes: Box<dyn Any>,
    /// Whether the host already has work in the current window.
    pub(super) touched: bool,
}

pub(super) struct AllHandled<'a, M>(pub(super) &'a Shared<M>);

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
