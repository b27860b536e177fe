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
//! A crash loses the checker's volatile state; on restart the manager probes afresh
//! from `now`. The failover policy's choice of active pipeline is treated as persisted
//! (a real manager keeps it in its store), so it survives the restart.

use crate::control::failover::{ActivePassive, SwitchReason};
use crate::control::health::{Health, HealthChecker, HealthConfig};
use crate::control::lease::{LeaseClient, LeaseConfig};
use crate::sim::{Behavior, Ctx, Input, NodeId};
use crate::time::{SimDuration, SimTime};

use super::{checker_from, Deadline, Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

/// What the manager watches and how it switches.
pub struct ManagerConfig {
    /// This manager's name (`manager-1`, …).
    pub name: String,
    /// With redundant managers: the lease timing, the store to ask, and when to ask
    /// first (staggered, so the election at start has a deterministic winner).
    pub lease: Option<(LeaseConfig, NodeId, SimTime)>,
    pub targets: Vec<NodeId>,
    pub names: Vec<String>,
    pub health: HealthConfig,
    /// Each target's probe phase within the interval (drawn from the seed).
    pub phases: Vec<SimDuration>,
}

/// How often the leader re-sends its desired state (the active ingest server), so that a
/// promotion lost to a partition or a hand-over is carried out once it can be.
const RECONCILE_PERIOD: SimDuration = SimDuration::from_secs(2);

pub struct Manager {
    config: ManagerConfig,
    /// A switch the policy made while this manager was not leader: (detected, failback).
    unsent_switch: Option<(SimTime, bool)>,
    /// The last switch this leader asked for: (detected, failback), re-sent on every
    /// reconciliation so a promotion lost on the way is recorded for what it was.
    last_switch: (u64, bool),
    /// The server that last said it holds the ingest address (from probe answers).
    observed_holder: Option<usize>,
    next_reconcile: SimTime,
    lease: Option<LeaseClient>,
    health: HealthChecker,
    policy: Option<ActivePassive>,
    detected_at: Vec<Option<SimTime>>,
    timer: Deadline,
    recorder: SharedRecorder,
}

impl Manager {
    pub fn new(config: ManagerConfig, policy: Option<ActivePassive>, recorder: SharedRecorder) -> Self {
        let n = config.targets.len();
        Manager {
            unsent_switch: None,
            last_switch: (0, false),
            observed_holder: None,
            next_reconcile: SimTime::ZERO + RECONCILE_PERIOD,
            lease: config.lease.map(|(lease, _, first)| LeaseClient::new(lease, first)),
            health: checker_from(config.health, &config.phases, SimTime::ZERO),
            config,
            policy,
            detected_at: vec![None; n],
            timer: Deadline::default(),
            recorder,
        }
    }

    /// Without a lease the manager is always the leader.
    fn is_leader(&self, now: SimTime) -> bool {
        self.lease.as_ref().is_none_or(|lease| lease.is_leader(now))
    }

    /// Lease requests and leadership changes. A new leader re-asserts the ingest
    /// address its policy wants: the previous leader may have died mid-switch.
    fn pump_lease(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let Some(lease) = &mut self.lease else { return };
        let store = self.config.lease.expect("a lease client has a store").1;
        while let Some(id) = lease.poll_request(ctx.now()) {
            ctx.send(store, Msg::LeaseRequest { id }, CONTROL_MESSAGE_BYTES);
        }
        while let Some((leader, at)) = lease.poll_change() {
            tracing::info!(manager = %self.config.name, leader, "leadership changed");
            self.recorder.borrow_mut().leadership(&self.config.name, leader, at);
            if leader {
                let Some(policy) = &mut self.policy else { continue };
                // A healthy server already holding the address wins over this manager's
                // own (possibly stale) view: adopt it rather than move the address.
                let holder = self.observed_holder.filter(|&h| self.health.health(h) == Health::Up);
                match (holder, self.unsent_switch.take()) {
                    (Some(holder), _) if holder != policy.active() => policy.adopt(holder),
                    (_, Some((detected, failback))) => {
                        self.last_switch = (detected.as_nanos(), failback);
                        let promote = Msg::Promote {
                            detected_ns: detected.as_nanos(),
                            failback,
                        };
                        ctx.send(self.config.targets[policy.active()], promote, CONTROL_MESSAGE_BYTES);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Carries out whatever the control logic now wants, and re-arms the timer.
    fn pump(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.pump_lease(ctx);
        let leader = self.is_leader(ctx.now());
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
            if let Some(policy) = &mut self.policy {
                policy.handle_health(ctx.now(), event.target, event.health);
            }
        }
        while let Some(switch) = self.policy.as_mut().and_then(ActivePassive::poll_switch) {
            let failback = switch.reason == SwitchReason::Failback;
            let detected = self.detected_at[switch.from].unwrap_or(ctx.now());
            // A standby keeps its policy warm and hands the switch over if it leads.
            if !leader {
                self.unsent_switch = Some((detected, failback));
                continue;
            }
            let (from, to) = (&names[switch.from], &names[switch.to]);
            tracing::info!(%from, %to, reason = ?switch.reason, "ingest switch");
            // The promoted server takes the address itself: a manager cut off from it
            // cannot move it. The server records the episode once it holds the address.
            self.last_switch = (detected.as_nanos(), failback);
            let promote = Msg::Promote {
                detected_ns: detected.as_nanos(),
                failback,
            };
            ctx.send(self.config.targets[switch.to], promote, CONTROL_MESSAGE_BYTES);
        }
        if ctx.now() >= self.next_reconcile {
            if let (true, Some(policy)) = (leader, &self.policy) {
                let (detected_ns, failback) = self.last_switch;
                let promote = Msg::Promote { detected_ns, failback };
                ctx.send(self.config.targets[policy.active()], promote, CONTROL_MESSAGE_BYTES);
            }
            self.next_reconcile = ctx.now() + RECONCILE_PERIOD;
        }
        let policy_timeout = self.policy.as_ref().and_then(ActivePassive::poll_timeout);
        let lease_timeout = self.lease.as_ref().map(LeaseClient::poll_timeout);
        let reconcile = self.policy.is_some().then_some(self.next_reconcile);
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
                if self.is_leader(ctx.now()) {
                    self.recorder
                        .borrow_mut()
                        .leadership(&self.config.name, false, ctx.now());
                }
                return;
            }
            Input::Restart => {
                self.lease = self
                    .config
                    .lease
                    .map(|(lease, _, _)| LeaseClient::new(lease, ctx.now()));
                self.health = checker_from(self.config.health, &self.config.phases, ctx.now());
                self.detected_at.fill(None);
                self.timer.clear();
                self.unsent_switch = None;
                self.observed_holder = None;
                self.next_reconcile = ctx.now();
            }
            Input::Timer(Msg::ControlTimer) => {
                if self.timer.fire(ctx.now()) {
                    if let Some(lease) = &mut self.lease {
                        lease.handle_timeout(ctx.now());
                    }
                    self.health.handle_timeout(ctx.now());
                    if let Some(policy) = &mut self.policy {
                        policy.handle_timeout(ctx.now());
                    }
                }
            }
            Input::Msg {
                msg: Msg::LeaseGrant { id },
                ..
            } => {
                if let Some(lease) = &mut self.lease {
                    lease.handle_grant(ctx.now(), id);
                }
            }
            Input::Msg {
                from,
                msg: Msg::ProbeAck { id, holds_vip },
            } => {
                if let Some(target) = self.config.targets.iter().position(|&t| t == from) {
                    self.health.handle_response(ctx.now(), target, id);
                    if holds_vip {
                        self.observed_holder = Some(target);
                    } else if self.observed_holder == Some(target) {
                        self.observed_holder = None;
                    }
                }
            }
            _ => return,
        }
        self.pump(ctx);
    }
}
