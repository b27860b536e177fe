//! The stream manager actor: probes the ingest servers with `control::health`, feeds
//! health changes to `control::failover`, and carries out each switch by asking the
//! promoted server to take the ingest address (a floating IP); the leader re-sends its
//! desired state every 2 s, so a promotion lost on the way is carried out later.
//!
//! With active-active ingest there is no policy: the manager only watches (detections
//! are recorded) and the origin chooses among the live pipelines.
//!
//! With redundant managers each holds a `control::lease::LeaseClient`: only the leader
//! records detections and carries out switches; a standby keeps its health view and
//! policy warm, and on becoming leader re-asserts the ingest address its policy wants.
//!
//! The lease client counts on the manager's own clock (`control::clock`): a
//! `clock.skew` fault makes it run fast or slow, and a slow clock keeps a cut-off
//! leader leading after the other manager has judged the lease expired (the split
//! brain lease timing assumes away). Everything else the manager does runs on true
//! time.
//!
//! A crash loses the checker's volatile state; on restart the manager probes afresh
//! from `now`. The failover policy's choice of active pipeline is treated as persisted
//! (a real manager keeps it in its store), so it survives the restart.

use crate::control::clock::LocalClock;
use crate::control::failover::{ActivePassive, Failback, SwitchReason};
use crate::control::health::{Health, HealthChecker, HealthConfig};
use crate::control::lease::{Identity, LeaseClient, LeaseConfig};
use crate::control::placement::{Move, Placement};
use crate::names::StreamName;
use crate::sim::{Behavior, Ctx, Input, NodeId, SimRng};
use crate::time::{SimDuration, SimTime};

use super::{checker_from, Deadline, Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

/// What the manager watches and how it switches.
pub struct ManagerConfig {
    /// This manager's name (`manager-1`, …).
    pub name: String,
    /// With redundant managers: how this one takes part in the election.
    pub lease: Option<LeaseSetup>,
    pub targets: Vec<NodeId>,
    pub names: Vec<String>,
    pub health: HealthConfig,
    /// Each target's probe phase within the interval (drawn from the seed).
    pub phases: Vec<SimDuration>,
    /// Per stream, its servers (target indices) in order of preference, as placed.
    pub preferences: Vec<Vec<usize>>,
    /// With several origins: the targets from this index on are the origins, and each
    /// stream's origin as first placed (`place_origins`).
    pub origins: Option<(usize, Vec<usize>)>,
}

/// A pair member's part in the leader election.
pub struct LeaseSetup {
    pub config: LeaseConfig,
    /// The lease store.
    pub store: NodeId,
    /// This manager's index in the pair.
    pub client: u32,
    /// When it first tries (staggered, so the election at start has a deterministic
    /// winner).
    pub first_try: SimTime,
    /// The draws for its retry jitter.
    pub rng: SimRng,
}

/// A pair member's lease client and the generator its jitter draws from.
struct Election {
    client: LeaseClient,
    rng: SimRng,
}

/// Streams placed on origins, re-placed when one fails (`control::placement`, no
/// standby: an origin holds no state a stream needs beyond the live edge).
struct OriginSteering {
    /// Index of the first origin among the targets; ingest servers come before it.
    first_target: usize,
    placement: Placement,
    /// Per stream, its origin (an index among the origins).
    origin_of: Vec<usize>,
}

/// How often the leader re-sends its desired state (the active ingest server), so that a
/// promotion lost to a partition or a hand-over is carried out once it can be.
const RECONCILE_PERIOD: SimDuration = SimDuration::from_secs(2);

/// One stream as the manager steers it (active-passive).
struct Steered {
    /// Its servers (indices into the targets) in order of preference: the primary and
    /// standby placement chose, then the rest. The policy works on positions here.
    servers: Vec<usize>,
    policy: ActivePassive,
    /// A switch the policy made while this manager was not leader: (detected, why).
    unsent_switch: Option<(SimTime, SwitchReason)>,
    /// The last switch this leader asked for: (detected, why), re-sent on every
    /// reconciliation so a promotion lost on the way is recorded for what it was.
    last_switch: (u64, SwitchReason),
    /// The server that last said it holds the stream's address (from probe answers).
    observed_holder: Option<usize>,
}

impl Steered {
    fn active_server(&self) -> usize {
        self.servers[self.policy.active()]
    }

    /// Tells the policy which of its servers have room, as last reported.
    fn refresh_room(&mut self, now: SimTime, room_of: &[u32]) {
        for (position, &server) in self.servers.iter().enumerate() {
            self.policy.handle_room(now, position, room_of[server] > 0);
        }
    }
}

pub struct Manager {
    config: ManagerConfig,
    origins: Option<OriginSteering>,
    /// Per stream, in stream order; empty with active-active ingest (nothing to steer).
    streams: Vec<Steered>,
    next_reconcile: SimTime,
    lease: Option<Election>,
    /// This manager's own clock, which its lease client counts on (`clock.skew`).
    clock: LocalClock,
    health: HealthChecker,
    detected_at: Vec<Option<SimTime>>,
    /// Per target, from its last probe answer: streams it could still take, and the
    /// streams it has no room to package (bits). Moves this manager orders count
    /// against `room_of` until the next answer.
    room_of: Vec<u32>,
    starved_on: Vec<u64>,
    /// Per target: whether its current overload was recorded as detected.
    overload_seen: Vec<bool>,
    timer: Deadline,
    recorder: SharedRecorder,
}

impl Manager {
    /// `failback`: the active-passive policy of every stream (`None`: no policy, the
    /// manager only watches).
    pub fn new(config: ManagerConfig, failback: Option<Failback>, recorder: SharedRecorder) -> Self {
        let n = config.targets.len();
        let streams = match failback {
            Some(failback) => (config.preferences.iter())
                .map(|servers| Steered {
                    servers: servers.clone(),
                    policy: ActivePassive::new(servers.len(), failback),
                    unsent_switch: None,
                    last_switch: (0, SwitchReason::ActiveDown),
                    observed_holder: None,
                })
                .collect(),
            None => Vec::new(),
        };
        let origins = config.origins.as_ref().map(|(first_target, initial)| {
            let mut placement = Placement::new(config.targets.len() - first_target, u32::MAX, false);
            for _ in initial {
                placement.add_stream();
            }
            while placement.poll_move().is_some() {}
            OriginSteering {
                first_target: *first_target,
                placement,
                origin_of: initial.clone(),
            }
        });
        Manager {
            origins,
            streams,
            next_reconcile: SimTime::ZERO + RECONCILE_PERIOD,
            lease: config.lease.as_ref().map(|setup| Election {
                client: LeaseClient::new(
                    setup.config,
                    Identity {
                        client: setup.client,
                        incarnation: 0,
                    },
                    setup.first_try,
                ),
                rng: setup.rng.clone(),
            }),
            clock: LocalClock::default(),
            health: checker_from(config.health, &config.phases, SimTime::ZERO),
            config,
            detected_at: vec![None; n],
            room_of: vec![u32::MAX; n],
            starved_on: vec![0; n],
            overload_seen: vec![false; n],
            timer: Deadline::default(),
            recorder,
        }
    }

    /// Without a lease the manager is always the leader.
    fn is_leader(&self, now: SimTime) -> bool {
        let local = self.clock.local(now);
        self.lease.as_ref().is_none_or(|lease| lease.client.is_leader(local))
    }

    /// Lease requests and leadership changes. A new leader re-asserts the ingest
    /// address its policy wants for each stream: the previous leader may have died
    /// mid-switch.
    fn pump_lease(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let (Some(Election { client: lease, .. }), Some(setup)) = (&mut self.lease, &self.config.lease) else {
            return;
        };
        let incarnation = lease.identity().incarnation;
        while let Some((id, call)) = lease.poll_call() {
            let call = Msg::LeaseCall { id, incarnation, call };
            ctx.send(setup.store, call, CONTROL_MESSAGE_BYTES);
        }
        while let Some((leader, at)) = lease.poll_change() {
            let at = self.clock.real(at);
            tracing::info!(manager = %self.config.name, leader, "leadership changed");
            self.recorder.borrow_mut().leadership(&self.config.name, leader, at);
            if !leader {
                continue;
            }
            for (stream, steered) in self.streams.iter_mut().enumerate() {
                // A healthy server already holding the address wins over this manager's
                // own (possibly stale) view: adopt it rather than move the address.
                let holder = steered
                    .observed_holder
                    .filter(|&h| self.health.health(h) == Health::Up)
                    .and_then(|h| steered.servers.iter().position(|&s| s == h));
                match (holder, steered.unsent_switch.take()) {
                    (Some(holder), _) if holder != steered.policy.active() => steered.policy.adopt(holder),
                    (_, Some((detected, reason))) => {
                        steered.last_switch = (detected.as_nanos(), reason);
                        let promote = Msg::Promote {
                            stream: stream as u32,
                            detected_ns: detected.as_nanos(),
                            reason,
                        };
                        let to = self.config.targets[steered.active_server()];
                        ctx.send(to, promote, CONTROL_MESSAGE_BYTES);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Tells every ingest server where stream `stream` now goes (origin target `target`).
    fn send_origin(&self, ctx: &mut Ctx<'_, Msg>, stream: usize, target: usize) {
        let first_target = self.origins.as_ref().map_or(0, |o| o.first_target);
        let set = Msg::SetOrigin {
            stream: stream as u32,
            origin: self.config.targets[target],
        };
        for &ingest in &self.config.targets[..first_target] {
            ctx.send(ingest, set.clone(), CONTROL_MESSAGE_BYTES);
        }
    }

    /// Carries out the origin placement's moves: a stream whose origin failed goes to
    /// the least loaded healthy one (a failover episode of that stream).
    fn pump_origins(&mut self, ctx: &mut Ctx<'_, Msg>, leader: bool) {
        let Some(origins) = &mut self.origins else { return };
        let mut moved = Vec::new();
        while let Some(change) = origins.placement.poll_move() {
            if let Move::Primary { stream, server } = change {
                let from = std::mem::replace(&mut origins.origin_of[stream], server);
                // A stream whose only origins all failed gets its own back when it
                // returns: no move, no episode.
                if from != server {
                    moved.push((stream, origins.first_target + from, origins.first_target + server));
                }
            }
        }
        let now = ctx.now();
        for (stream, from, to) in moved {
            let names = &self.config.names;
            tracing::info!(stream = %StreamName(stream), from = %names[from], to = %names[to], "origin switch");
            if !leader {
                continue;
            }
            let detected = self.detected_at[from].unwrap_or(now);
            let by = format!("{} health check", self.config.name);
            let mut recorder = self.recorder.borrow_mut();
            recorder.failover_started(false, now);
            recorder.switched(stream, &names[from], &names[to], false, (&by, detected), now);
            drop(recorder);
            self.send_origin(ctx, stream, to);
        }
    }

    /// Moves each stream its active server reports starved (over capacity) to the first
    /// healthy server in its preference list with room; one with nowhere to go stays.
    fn relieve_overloads(&mut self, now: SimTime, leader: bool) {
        for target in 0..self.starved_on.len() {
            let overloaded = self.starved_on[target] != 0;
            if overloaded && !self.overload_seen[target] && leader {
                let by = format!("{} load report", self.config.name);
                self.recorder
                    .borrow_mut()
                    .detected(&self.config.names[target], &by, now);
            }
            self.overload_seen[target] = overloaded;
        }
        for (stream, steered) in self.streams.iter_mut().enumerate() {
            let active = steered.active_server();
            if self.starved_on[active] & 1 << stream == 0 {
                continue;
            }
            steered.refresh_room(now, &self.room_of);
            if steered.policy.relieve(now) {
                // Asked for once per report: the next answer says whether it worked.
                self.starved_on[active] &= !(1 << stream);
                let room = &mut self.room_of[steered.active_server()];
                *room = room.saturating_sub(1);
            }
        }
    }

    /// Carries out whatever the control logic now wants, and re-arms the timer.
    fn pump(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.pump_lease(ctx);
        let now = ctx.now();
        let leader = self.is_leader(now);
        let names = &self.config.names;
        while let Some(probe) = self.health.poll_probe() {
            let probe_msg = Msg::Probe { id: probe.probe_id };
            ctx.send(self.config.targets[probe.target], probe_msg, CONTROL_MESSAGE_BYTES);
        }
        while let Some(event) = self.health.poll_event() {
            tracing::debug!(target_node = %names[event.target], health = ?event.health, "health changed");
            match event.health {
                Health::Down => {
                    self.detected_at[event.target] = Some(event.at);
                    if leader {
                        let by = format!("{} health check", self.config.name);
                        self.recorder.borrow_mut().detected(&names[event.target], &by, event.at);
                    }
                }
                Health::Up => self.detected_at[event.target] = None,
            }
            for steered in &mut self.streams {
                if let Some(position) = steered.servers.iter().position(|&s| s == event.target) {
                    let before = steered.active_server();
                    steered.refresh_room(now, &self.room_of);
                    steered.policy.handle_health(now, position, event.health);
                    // The server taking the stream over has one slot fewer.
                    if steered.active_server() != before {
                        let room = &mut self.room_of[steered.active_server()];
                        *room = room.saturating_sub(1);
                    }
                }
            }
            if let Some(origins) = &mut self.origins {
                if let Some(origin) = event.target.checked_sub(origins.first_target) {
                    origins.placement.handle_health(origin, event.health == Health::Up);
                }
            }
        }
        self.relieve_overloads(now, leader);
        let names = &self.config.names;
        for (stream, steered) in self.streams.iter_mut().enumerate() {
            while let Some(switch) = steered.policy.poll_switch() {
                let (from, to) = (steered.servers[switch.from], steered.servers[switch.to]);
                let reason = switch.reason;
                let detected = self.detected_at[from].unwrap_or(now);
                // A standby keeps its policy warm and hands the switch over if it leads.
                if !leader {
                    steered.unsent_switch = Some((detected, reason));
                    continue;
                }
                tracing::info!(stream = %StreamName(stream), from = %names[from], to = %names[to], reason = ?switch.reason, "ingest switch");
                // The promoted server takes the address itself: a manager cut off from
                // it cannot move it. The server records the episode once it holds it.
                steered.last_switch = (detected.as_nanos(), reason);
                (self.recorder.borrow_mut()).failover_started(reason == SwitchReason::Failback, now);
                let promote = Msg::Promote {
                    stream: stream as u32,
                    detected_ns: detected.as_nanos(),
                    reason,
                };
                ctx.send(self.config.targets[to], promote, CONTROL_MESSAGE_BYTES);
            }
        }
        self.pump_origins(ctx, leader);
        if now >= self.next_reconcile {
            if let (true, Some(origins)) = (leader, &self.origins) {
                for (stream, &origin) in origins.origin_of.iter().enumerate() {
                    self.send_origin(ctx, stream, origins.first_target + origin);
                }
            }
            if leader {
                for (stream, steered) in self.streams.iter().enumerate() {
                    let (detected_ns, reason) = steered.last_switch;
                    let promote = Msg::Promote {
                        stream: stream as u32,
                        detected_ns,
                        reason,
                    };
                    ctx.send(
                        self.config.targets[steered.active_server()],
                        promote,
                        CONTROL_MESSAGE_BYTES,
                    );
                }
            }
            self.next_reconcile = now + RECONCILE_PERIOD;
        }
        let policy_timeout = self.streams.iter().filter_map(|s| s.policy.poll_timeout()).min();
        let lease_timeout = (self.lease.as_ref()).map(|lease| self.clock.real(lease.client.poll_timeout()));
        let reconcile = (!self.streams.is_empty() || self.origins.is_some()).then_some(self.next_reconcile);
        let next = [self.health.poll_timeout(), policy_timeout, lease_timeout, reconcile]
            .into_iter()
            .flatten()
            .min();
        self.timer.arm(next, ctx, Msg::ControlTimer);
    }
}

impl Behavior for Manager {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if super::answer_liveness_scrape(&input, ctx) {
            return;
        }
        match input {
            Input::Start => {}
            Input::Crash => {
                // A leadership that ended before the crash, on a deadline no timer has
                // reported yet, ends when it did; one still on ends now.
                let local = self.clock.local(ctx.now());
                if let Some(lease) = &mut self.lease {
                    lease.client.handle_timeout(local, &mut lease.rng);
                    while lease.client.poll_call().is_some() {}
                    while let Some((leader, at)) = lease.client.poll_change() {
                        let at = self.clock.real(at);
                        self.recorder.borrow_mut().leadership(&self.config.name, leader, at);
                    }
                }
                if self.is_leader(ctx.now()) {
                    self.recorder
                        .borrow_mut()
                        .leadership(&self.config.name, false, ctx.now());
                }
                return;
            }
            Input::Restart => {
                // A restarted manager runs the election afresh under a new identity.
                if let Some(lease) = &mut self.lease {
                    let identity = lease.client.identity();
                    let again = Identity {
                        incarnation: identity.incarnation + 1,
                        ..identity
                    };
                    let config = self.config.lease.as_ref().expect("an election has a setup").config;
                    lease.client = LeaseClient::new(config, again, self.clock.local(ctx.now()));
                }
                self.health = checker_from(self.config.health, &self.config.phases, ctx.now());
                self.detected_at.fill(None);
                self.room_of.fill(u32::MAX);
                self.starved_on.fill(0);
                self.overload_seen.fill(false);
                self.timer.clear();
                for steered in &mut self.streams {
                    steered.unsent_switch = None;
                    steered.observed_holder = None;
                    steered.policy.assume_all_up(ctx.now());
                }
                // The new checker starts with every target up: so does the origin
                // placement (an origin that recovered while this manager was down
                // would otherwise stay out for good). Streams it re-places are carried
                // out by the next pump.
                if let Some(origins) = &mut self.origins {
                    for origin in 0..self.config.targets.len() - origins.first_target {
                        origins.placement.handle_health(origin, true);
                    }
                }
                self.next_reconcile = ctx.now();
            }
            Input::Timer(Msg::ControlTimer) => {
                if self.timer.fire(ctx.now()) {
                    if let Some(lease) = &mut self.lease {
                        lease.client.handle_timeout(self.clock.local(ctx.now()), &mut lease.rng);
                    }
                    self.health.handle_timeout(ctx.now());
                    for steered in &mut self.streams {
                        steered.policy.handle_timeout(ctx.now());
                    }
                }
            }
            Input::Msg {
                msg: Msg::SetClockDrift { drift_ppm },
                ..
            } => self.clock.set_drift_ppm(ctx.now(), drift_ppm),
            Input::Msg {
                msg:
                    Msg::LeaseAnswer {
                        id,
                        incarnation,
                        answer,
                    },
                ..
            } => {
                // An answer to an earlier run's request (before a restart or a step
                // down) belongs to no request of this run.
                if let Some(lease) = self
                    .lease
                    .as_mut()
                    .filter(|l| l.client.identity().incarnation == incarnation)
                {
                    let now = self.clock.local(ctx.now());
                    lease.client.handle_answer(now, id, answer, &mut lease.rng);
                }
            }
            Input::Msg {
                from,
                msg:
                    Msg::ProbeAck {
                        id,
                        holds,
                        starved,
                        room,
                    },
            } => {
                if let Some(target) = self.config.targets.iter().position(|&t| t == from) {
                    self.health.handle_response(ctx.now(), target, id);
                    self.room_of[target] = room;
                    self.starved_on[target] = starved;
                    for (stream, steered) in self.streams.iter_mut().enumerate() {
                        if holds & 1 << stream != 0 {
                            steered.observed_holder = Some(target);
                        } else if steered.observed_holder == Some(target) {
                            steered.observed_holder = None;
                        }
                    }
                }
            }
            _ => return,
        }
        self.pump(ctx);
    }
}
