//! The hardware load balancer actor (`lb-1`, and `lb-2` as its standby): a device that
//! holds the CDN's virtual address, health-checks the edges (`control::health`, HAProxy
//! defaults), assigns each new viewer connection to an edge with `control::balance`,
//! and forwards requests on it; edges answer viewers directly (direct server return).
//! A pair runs `control::vrrp`: the master advertises, the backup takes the address
//! after Master_Down_Interval of silence, and a higher-priority device preempts when it
//! is back. The connection table lives in the device: when the address moves, open
//! connections start afresh on the other device. A full table answers 503.
//!
//! With passive checks (`control::passive`: nginx or Envoy) the device is a full
//! proxy instead: answers come back through it, it times out requests an edge does not
//! answer (504), and it stops sending to edges its passive checks have taken out.
//!
//! `lb.fail` breaks the data plane only: the device drops every viewer request and
//! proxied answer while its control plane keeps advertising, so its VRRP peer never
//! takes over (the failure a VRRP pair does not cover).

use std::collections::{BTreeMap, BTreeSet};

use crate::control::balance::{Algorithm, Balancer};
use crate::control::content::PlaylistCheck;
use crate::control::health::{Health, HealthChecker, HealthConfig};
use crate::control::passive::{Outcome, Passive};
use crate::control::vrrp::{Role, Vrrp};
use crate::metrics::ALL_STREAMS;
use crate::sim::{Behavior, Ctx, Input, KernelAction, NodeId, SimRng};
use crate::time::{SimDuration, SimTime};

use super::{checker_from, impair, Deadline, Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Debug)]
pub struct LbConfig {
    pub name: String,
    /// The CDN's virtual address.
    pub vip: u32,
    pub edges: Vec<NodeId>,
    pub edge_names: Vec<String>,
    /// The other device of the pair, if any, and its name.
    pub peer: Option<(NodeId, String)>,
    pub priority: u8,
    pub initial_role: Role,
    pub advert_interval: SimDuration,
    /// From deciding to take the address to traffic arriving (gratuitous ARP).
    pub takeover_delay: SimDuration,
    pub health: HealthConfig,
    pub phases: Vec<SimDuration>,
    pub algorithm: Algorithm,
    pub weights: Vec<u64>,
    /// Concurrent connections the device can track.
    pub max_connections: u64,
    /// Whether the device probes the edges (nginx open source does not).
    pub active_checks: bool,
    /// With a playlist check, the probes read the edge's playlists and fail once none
    /// has advanced for a while.
    pub playlist_check: Option<PlaylistCheck>,
    /// Passive checks; with them the device proxies answers.
    pub passive: Option<Passive>,
    /// A proxied request with no answer by then fails (nginx: 60 s).
    pub proxy_timeout: SimDuration,
    /// Bytes per frame: a proxied segment answer carries its frames through the device.
    pub frame_bytes: u64,
}

/// A request the device proxies: who asked, and which edge has it.
#[derive(Clone, Copy, Debug)]
struct Pending {
    client: NodeId,
    edge: usize,
    deadline: SimTime,
}

pub struct LoadBalancer {
    config: LbConfig,
    vrrp: Vrrp,
    health: HealthChecker,
    balancer: Balancer,
    healthy: Vec<bool>,
    /// (client node, viewer) → edge index.
    connections: BTreeMap<(NodeId, u32), usize>,
    vrrp_timer: Deadline,
    health_timer: Deadline,
    passive: Option<Passive>,
    /// Proxied requests by (viewer, request id), and their deadlines in order.
    pending: BTreeMap<(u32, u32), Pending>,
    deadlines: BTreeSet<(SimTime, u32, u32)>,
    proxy_timer: Deadline,
    rng: SimRng,
    recorder: SharedRecorder,
    /// When the peer was last heard advertising.
    peer_heard_at: Option<SimTime>,
    /// A takeover under way, recorded as an episode once the address is here:
    /// (a return to this preferred device rather than a failover, detected when).
    takeover: Option<(bool, SimTime)>,
    /// Whether the episode of the last takeover still waits for its first request.
    awaiting_first_request: bool,
    /// This device's row in `nodes.csv`.
    load: usize,
    /// `lb.fail` in force: forwards nothing (the hardware fault survives a reboot of
    /// the control plane, so a restart keeps it).
    data_plane_down: bool,
}

impl LoadBalancer {
    pub fn new(config: LbConfig, rng: SimRng, recorder: SharedRecorder) -> Self {
        let n = config.edges.len();
        let load = recorder.borrow_mut().register_load(&config.name);
        LoadBalancer {
            vrrp: Vrrp::new(
                config.priority,
                config.advert_interval,
                config.initial_role,
                SimTime::ZERO,
            ),
            health: checker_from(config.health, &config.phases, SimTime::ZERO),
            balancer: Balancer::weighted(config.algorithm, config.weights.clone()),
            healthy: vec![true; n],
            connections: BTreeMap::new(),
            vrrp_timer: Deadline::default(),
            health_timer: Deadline::default(),
            passive: config.passive.clone(),
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            proxy_timer: Deadline::default(),
            rng,
            recorder,
            peer_heard_at: None,
            takeover: None,
            awaiting_first_request: false,
            load,
            data_plane_down: false,
            config,
        }
    }

    /// A device that comes back has lost its tables and starts as a backup.
    fn reset(&mut self, now: SimTime) {
        let c = &self.config;
        self.vrrp = Vrrp::new(c.priority, c.advert_interval, Role::Backup, now);
        self.health = checker_from(c.health, &c.phases, now);
        self.peer_heard_at = None;
        self.takeover = None;
        self.awaiting_first_request = false;
        self.balancer = Balancer::weighted(c.algorithm, c.weights.clone());
        self.healthy.fill(true);
        self.connections.clear();
        self.vrrp_timer.clear();
        self.health_timer.clear();
        self.passive = c.passive.clone();
        self.pending.clear();
        self.deadlines.clear();
        self.proxy_timer.clear();
    }

    /// Whether edge `edge` takes requests: up by the active checks, and not taken out
    /// by the passive ones.
    fn usable(&self, now: SimTime, edge: usize) -> bool {
        self.healthy[edge] && self.passive.as_ref().is_none_or(|p| p.available(now, edge))
    }

    /// Books how a proxied request to `edge` ended; the passive checks taking the edge
    /// out is this device detecting it down.
    fn book(&mut self, now: SimTime, edge: usize, outcome: Outcome) {
        let Some(passive) = &mut self.passive else {
            return;
        };
        let was_available = passive.available(now, edge);
        passive.handle(now, edge, outcome);
        if was_available && !passive.available(now, edge) {
            let by = format!("{} passive check", self.config.name);
            self.recorder
                .borrow_mut()
                .detected(&self.config.edge_names[edge], &by, now);
        }
    }

    fn arm_proxy_timer(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let first_deadline = self.deadlines.first().map(|&(at, _, _)| at);
        let sweep = self.passive.as_ref().and_then(Passive::poll_timeout);
        let next = [first_deadline, sweep].into_iter().flatten().min();
        self.proxy_timer.arm(next, ctx, Msg::SelectorTimer);
    }

    /// Fails every proxied request past its deadline (504 to the viewer).
    fn expire(&mut self, now: SimTime, ctx: &mut Ctx<'_, Msg>) {
        while let Some(&(at, viewer, req)) = self.deadlines.first().filter(|d| d.0 <= now) {
            self.deadlines.remove(&(at, viewer, req));
            if let Some(pending) = self.pending.remove(&(viewer, req)) {
                self.book(now, pending.edge, Outcome::Failure);
                let timed_out = Msg::FetchFailed {
                    viewer,
                    party: None,
                    req,
                    status: 504,
                };
                ctx.send(pending.client, timed_out, CONTROL_MESSAGE_BYTES);
            }
        }
        if let Some(passive) = &mut self.passive {
            passive.handle_timeout(now);
        }
    }

    fn pump_vrrp(&mut self, ctx: &mut Ctx<'_, Msg>) {
        while self.vrrp.poll_advert() {
            if let Some((peer, _)) = self.config.peer {
                let advert = Msg::VrrpAdvert {
                    priority: self.config.priority,
                };
                ctx.send(peer, advert, CONTROL_MESSAGE_BYTES);
            }
        }
        while let Some((role, at)) = self.vrrp.poll_role() {
            tracing::info!(lb = %self.config.name, ?role, %at, "VRRP role");
            if role == Role::Master {
                // Taking over from a silent peer is this device's verdict that the peer
                // is down; preempting a peer it still hears is not.
                let silent = self
                    .peer_heard_at
                    .is_none_or(|heard| at.saturating_since(heard) >= self.vrrp.master_down_interval());
                if let (Some((_, peer)), true) = (&self.config.peer, silent && at > SimTime::ZERO) {
                    let by = format!("{} VRRP", self.config.name);
                    self.recorder.borrow_mut().detected(peer, &by, at);
                }
                // Preempting a peer it still hears is this (preferred) device coming
                // back: a failback. Becoming master at start is no episode.
                if at > SimTime::ZERO {
                    self.takeover = Some((!silent, at));
                    self.recorder.borrow_mut().failover_started(!silent, at);
                }
                let action = KernelAction::MoveVip {
                    vip: self.config.vip,
                    to: Some(ctx.me()),
                };
                ctx.kernel_action(self.config.takeover_delay, action);
            }
        }
        self.vrrp_timer.arm(Some(self.vrrp.poll_timeout()), ctx, Msg::VrrpTimer);
    }

    fn pump_health(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if !self.config.active_checks {
            return;
        }
        while let Some(probe) = self.health.poll_probe() {
            let msg = if self.config.playlist_check.is_some() {
                Msg::PlaylistProbe { id: probe.probe_id }
            } else {
                Msg::Probe { id: probe.probe_id }
            };
            ctx.send(self.config.edges[probe.target], msg, CONTROL_MESSAGE_BYTES);
        }
        while let Some(event) = self.health.poll_event() {
            let up = event.health == Health::Up;
            if !up {
                let check = if self.config.playlist_check.is_some() {
                    "playlist check"
                } else {
                    "health check"
                };
                let by = format!("{} {check}", self.config.name);
                self.recorder
                    .borrow_mut()
                    .detected(&self.config.edge_names[event.target], &by, event.at);
            }
            self.healthy[event.target] = up;
            self.balancer.set_healthy(event.target, up);
            if !up {
                // Connections to a dead edge are reset; their next request picks anew.
                let balancer = &mut self.balancer;
                self.connections.retain(|_, edge| {
                    let keep = *edge != event.target;
                    if !keep {
                        balancer.release(*edge);
                    }
                    keep
                });
            }
        }
        self.health_timer
            .arm(self.health.poll_timeout(), ctx, Msg::ControlTimer);
    }

    /// Forwards a viewer's request on its connection, opening one if needed.
    fn forward(&mut self, client: NodeId, viewer: u32, req: u32, msg: Msg, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        if std::mem::take(&mut self.awaiting_first_request) {
            self.recorder.borrow_mut().path_served(&self.config.name, now);
        }
        let key = (client, viewer);
        // A connection to an edge the checks took out is reset; the request picks anew.
        if let Some(&edge) = self.connections.get(&key).filter(|&&edge| !self.usable(now, edge)) {
            self.connections.remove(&key);
            self.balancer.release(edge);
        }
        let edge = match self.connections.get(&key) {
            Some(&edge) => Some(edge),
            None if self.connections.len() as u64 >= self.config.max_connections => None,
            None => {
                for edge in 0..self.healthy.len() {
                    let usable = self.usable(now, edge);
                    self.balancer.set_healthy(edge, usable);
                }
                let picked = self.balancer.pick(u64::from(viewer), &mut self.rng);
                if let Some(edge) = picked {
                    self.connections.insert(key, edge);
                }
                picked
            }
        };
        {
            let mut recorder = self.recorder.borrow_mut();
            recorder.node_load(self.load, now, CONTROL_MESSAGE_BYTES, edge.is_none());
            recorder.node_client(self.load, now, viewer);
        }
        match edge {
            Some(edge) if self.passive.is_some() => {
                // Proxy: the edge answers the device, which answers the viewer.
                let deadline = now + self.config.proxy_timeout;
                self.pending.insert((viewer, req), Pending { client, edge, deadline });
                self.deadlines.insert((deadline, viewer, req));
                let proxied = match msg {
                    Msg::PlaylistRequest {
                        viewer,
                        party,
                        stream,
                        req,
                        ..
                    } => Msg::PlaylistRequest {
                        client: ctx.me(),
                        viewer,
                        party,
                        stream,
                        req,
                    },
                    Msg::SegmentRequest {
                        viewer,
                        party,
                        stream,
                        req,
                        index,
                        ..
                    } => Msg::SegmentRequest {
                        client: ctx.me(),
                        viewer,
                        party,
                        stream,
                        req,
                        index,
                    },
                    other => other,
                };
                ctx.send(self.config.edges[edge], proxied, CONTROL_MESSAGE_BYTES);
                self.arm_proxy_timer(ctx);
            }
            Some(edge) => ctx.send(self.config.edges[edge], msg, CONTROL_MESSAGE_BYTES),
            None => {
                let refused = Msg::FetchFailed {
                    viewer,
                    party: None,
                    req,
                    status: 503,
                };
                ctx.send(client, refused, CONTROL_MESSAGE_BYTES);
            }
        }
    }
}

impl Behavior for LoadBalancer {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if super::answer_liveness_scrape(&input, ctx) {
            return;
        }
        let now = ctx.now();
        match input {
            Input::Start => {
                self.pump_vrrp(ctx);
                self.pump_health(ctx);
            }
            Input::Restart => {
                self.reset(now);
                self.pump_vrrp(ctx);
                self.pump_health(ctx);
            }
            Input::Timer(Msg::VrrpTimer) if self.vrrp_timer.fire(now) => {
                self.vrrp.handle_timeout(now);
                self.pump_vrrp(ctx);
            }
            Input::Timer(Msg::ControlTimer) if self.health_timer.fire(now) => {
                self.health.handle_timeout(now);
                self.pump_health(ctx);
            }
            Input::Msg {
                msg: Msg::VrrpAdvert { priority },
                ..
            } => {
                self.peer_heard_at = Some(now);
                self.vrrp.handle_advert(now, priority);
                self.pump_vrrp(ctx);
            }
            Input::Msg {
                from,
                msg: Msg::ProbeAck { id, .. },
            } => {
                if let Some(target) = self.config.edges.iter().position(|&e| e == from) {
                    self.health.handle_response(now, target, id);
                    self.pump_health(ctx);
                }
            }
            Input::Msg {
                from,
                msg: Msg::PlaylistProbeAck { id, newest },
            } => {
                if let Some(target) = self.config.edges.iter().position(|&e| e == from) {
                    let newest = Some(newest);
                    let fresh = (self.config.playlist_check.as_mut())
                        .is_none_or(|check| check.handle_playlist(now, target, newest));
                    self.health.handle_result(now, target, id, fresh);
                    self.pump_health(ctx);
                }
            }
            Input::Msg {
                msg: Msg::Impair { what, on, .. },
                ..
            } if what == impair::LB_DATA_PLANE => self.data_plane_down = on,
            Input::Msg {
                msg:
                    Msg::PlaylistRequest { .. }
                    | Msg::SegmentRequest { .. }
                    | Msg::PlaylistReply { .. }
                    | Msg::SegmentReply { .. }
                    | Msg::FetchFailed { .. },
                ..
            } if self.data_plane_down => {}
            Input::Timer(Msg::SelectorTimer) if self.proxy_timer.fire(now) => {
                self.expire(now, ctx);
                self.arm_proxy_timer(ctx);
            }
            Input::Msg { msg, .. } => match msg {
                // A departed viewer's connection frees its entry and its edge's count.
                Msg::ConnectionClosed { client, viewer } => {
                    if let Some(edge) = self.connections.remove(&(client, viewer)) {
                        self.balancer.release(edge);
                    }
                }
                Msg::PlaylistRequest {
                    client, viewer, req, ..
                }
                | Msg::SegmentRequest {
                    client, viewer, req, ..
                } => self.forward(client, viewer, req, msg, ctx),
                // A proxied answer: book it and pass it on.
                Msg::PlaylistReply { viewer, req, .. }
                | Msg::SegmentReply { viewer, req, .. }
                | Msg::FetchFailed { viewer, req, .. } => {
                    let Some(pending) = self.pending.remove(&(viewer, req)) else {
                        return;
                    };
                    self.deadlines.remove(&(pending.deadline, viewer, req));
                    let outcome = match msg {
                        Msg::FetchFailed { status, .. } if status >= 500 => Outcome::ServerError,
                        _ => Outcome::Ok,
                    };
                    self.book(now, pending.edge, outcome);
                    if let Msg::SegmentReply { frames, .. } = msg {
                        let bytes = u64::from(frames) * self.config.frame_bytes;
                        self.recorder.borrow_mut().node_egress(self.load, now, bytes);
                    }
                    self.arm_proxy_timer(ctx);
                    ctx.send(pending.client, msg, CONTROL_MESSAGE_BYTES);
                }
                _ => {}
            },
            // The address moved away: flows now reach the other device.
            // The address arrived: the takeover is an episode of every stream, from
            // the device that held it.
            Input::Vip { vip, held: true, other } if vip == self.config.vip => {
                if let (Some((failback, detected)), Some((peer_id, peer))) = (self.takeover.take(), &self.config.peer) {
                    if other == *peer_id {
                        let by = format!("{} VRRP", self.config.name);
                        self.recorder.borrow_mut().switched(
                            ALL_STREAMS,
                            peer,
                            &self.config.name,
                            failback,
                            (&by, detected),
                            now,
                        );
                        self.awaiting_first_request = true;
                    }
                }
            }
            Input::Vip { held: false, .. } => {
                for (_, edge) in std::mem::take(&mut self.connections) {
                    self.balancer.release(edge);
                }
            }
            _ => {}
        }
    }
}
