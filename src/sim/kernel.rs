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

use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::collections::BinaryHeap;
use std::future::Future;
use std::rc::Rc;

use actix::{Actor, AsyncContext};

use super::event::{set_current_time, Input, KernelAction, KernelEvent, KERNEL, PREFETCH_DISTANCE};
use super::host::{
    AllHandled, Behavior, Delivery, Doorbell, DoorbellStream, Emission, Host, HostHandle, HostNodes, Inbox, Node,
    Shared,
};
use super::net::{Dest, Network, NodeId};
use super::queue::{EventQueue, Pending, QueueKey};
use super::trace::{TraceDigest, TraceMsg, TraceRecord};
use crate::time::{SimDuration, SimTime};

/// A change the window hook asks the kernel to make (see [`Kernel::set_window_hook`]).
pub enum Scheduled<M> {
    Action(SimTime, KernelAction),
    Message(SimTime, NodeId, M),
}

/// Called after every dispatch window and kernel action; what it returns is scheduled.
/// It must not ask for anything before the end of the window just dispatched.
pub type WindowHook<M> = Box<dyn FnMut() -> Vec<Scheduled<M>>>;

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
    /// The scenario could not be turned into a world: one that skipped validation.
    #[error("the scenario cannot be run: {message} (validate it with `failcast validate`)")]
    Unplannable { message: String },
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
    pub(super) queue: EventQueue<M>,
    pub(super) kernel_events: BinaryHeap<KernelEvent>,
    pub(super) hosts: Vec<HostHandle<M>>,
    /// Each node's host and place in it (index 0, the kernel, is unused).
    pub(super) placement: Vec<(u32, u32)>,
    pub(super) alive: Vec<bool>,
    pub(super) incarnation: Vec<u32>,
    /// Hung nodes (`Pause`, nested pauses counted) and what waits for them.
    pub(super) paused: Vec<u32>,
    pub(super) held: Vec<Vec<Pending<M>>>,
    /// What the kernel told a node about the world while it was down: handed over
    /// right after its restart, so that no dead process acts on it.
    pub(super) deferred: Vec<Vec<Pending<M>>>,
    pub(super) net: Network,
    pub(super) shared: Rc<Shared<M>>,
    pub(super) digest: TraceDigest,
    pub(super) seq: u64,
    pub(super) dispatch: Dispatch,
    /// The keys of the window being dispatched (an allocation kept between windows).
    pub(super) window: Vec<QueueKey>,
    pub(super) touched_hosts: Vec<u32>,
    pub(super) end: SimTime,
    pub(super) dropped_to_dead: u64,
    pub(super) hook: Option<WindowHook<M>>,
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

    pub(super) fn next_kernel_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    pub(super) fn push_kernel_input(&mut self, time: SimTime, dst: NodeId, input: Input<M>) {
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

    pub(super) fn run_hook(&mut self, floor: SimTime) {
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
    pub(super) fn route(&mut self, event: Pending<M>) {
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

    pub(super) fn drain_outbox(&mut self, window_end: SimTime) {
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

    pub(super) fn check_lookahead(&self, time: SimTime, window_end: SimTime, src: NodeId) {
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
