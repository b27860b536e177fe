//! The hardware load balancer actor (`lb-1`, and `lb-2` as its standby): a device that
//! holds the CDN's virtual address, health-checks the edges (`control::health`, HAProxy
//! defaults), assigns each new viewer connection to an edge with `control::balance`,
//! and forwards requests on it; edges answer viewers directly (direct server return).
//! A pair runs `control::vrrp`: the master advertises, the backup takes the address
//! after Master_Down_Interval of silence, and a higher-priority device preempts when it
//! is back. The connection table lives in the device: when the address moves, open
//! connections start afresh on the other device. A full table answers 503. The
//! requests of one instant are placed together, in viewer order, and a squad's members
//! (`viewers.squads`) each take their own connection, as separate viewers would.
//!
//! With passive checks (`control::passive`: nginx or Envoy) the device is a full
//! proxy instead: answers come back through it, it times out requests an edge does not
//! answer (504), and it stops sending to edges its passive checks have taken out.
//!
//! `lb.fail` breaks the data plane only: the device drops every viewer request and
//! proxied answer while its control plane keeps advertising, so its VRRP peer never
//! takes over (the failure a VRRP pair does not cover).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use smallvec::SmallVec;

use crate::control::balance::{Algorithm, Balancer};
use crate::control::content::PlaylistCheck;
use crate::control::health::{Health, HealthChecker, HealthConfig};
use crate::control::passive::{Outcome, Passive};
use crate::control::vrrp::{Role, Vrrp};
use crate::metrics::ALL_STREAMS;
use crate::sim::{Behavior, Ctx, Input, KernelAction, NodeId, Places, SimRng};
use crate::time::{SimDuration, SimTime};

use super::{checker_from, impair, part_of, Deadline, Msg, Party, SharedRecorder, ViewerOrder, CONTROL_MESSAGE_BYTES};

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

/// The device's connection table: each viewer's edge, by viewer id (ids are global,
/// so a viewer names its connection). Dense, because a million viewers look theirs
/// up on every request.
#[derive(Default)]
struct Connections {
    /// Edge index + 1 by viewer id; 0: no connection.
    edge_of: Vec<u16>,
    open: u64,
}

impl Connections {
    fn get(&self, viewer: u32) -> Option<usize> {
        let entry = *self.edge_of.get(viewer as usize)?;
        (entry > 0).then(|| usize::from(entry - 1))
    }

    fn insert(&mut self, viewer: u32, edge: usize) {
        let at = viewer as usize;
        if at >= self.edge_of.len() {
            self.edge_of.resize(at + 1, 0);
        }
        self.open += u64::from(self.edge_of[at] == 0);
        self.edge_of[at] = u16::try_from(edge + 1).expect("fewer than 65,535 edges");
    }

    fn remove(&mut self, viewer: u32) -> Option<usize> {
        let edge = self.get(viewer)?;
        self.edge_of[viewer as usize] = 0;
        self.open -= 1;
        Some(edge)
    }

    /// Closes every connection to an edge `close` picks, telling `closed` its edge.
    fn close_where(&mut self, close: impl Fn(usize) -> bool, mut closed: impl FnMut(usize)) {
        for entry in self.edge_of.iter_mut().filter(|e| **e > 0) {
            let edge = usize::from(*entry - 1);
            if close(edge) {
                *entry = 0;
                self.open -= 1;
                closed(edge);
            }
        }
    }

    fn clear(&mut self) {
        self.edge_of.clear();
        self.open = 0;
    }
}

/// A viewer's request (or a squad's) waiting for the other requests of its instant.
struct Arrival {
    client: NodeId,
    viewer: u32,
    party: Option<Arc<Party>>,
    msg: Msg,
}

impl Arrival {
    /// The viewers it asks for: the squad's members, or the viewer alone.
    fn members(&self) -> &[u32] {
        Party::members_of(&self.party, &self.viewer)
    }
}

/// A viewer's request the device proxies: who asked, which edge has it, and the
/// message it went out in (a squad's members share one).
#[derive(Clone, Debug)]
struct Pending {
    client: NodeId,
    edge: usize,
    deadline: SimTime,
    /// The forwarded message: its order among the device's messages, its key in
    /// messages (`viewer`), and the members it stood for.
    sent: u64,
    viewer: u32,
    party: Option<Arc<Party>>,
}

pub struct LoadBalancer {
    config: LbConfig,
    /// Each edge's place in `config.edges`, by node id: a probe's answer names its
    /// edge in one step, not a search through every edge.
    edge_places: Places,
    vrrp: Vrrp,
    health: HealthChecker,
    balancer: Balancer,
    healthy: Vec<bool>,
    connections: Connections,
    vrrp_timer: Deadline,
    health_timer: Deadline,
    passive: Option<Passive>,
    /// Proxied requests by (viewer, request id), and their deadlines in order: by
    /// instant, then in the order they went out (forwarded message, viewer, request id).
    pending: BTreeMap<(u32, u32), Pending>,
    deadlines: BTreeSet<(SimTime, u64, u32, u32)>,
    /// Messages proxied so far: orders same-instant deadlines as the requests went out.
    sent: u64,
    /// The requests of this instant, placed together once all are in.
    arrivals: Vec<Arrival>,
    /// Places [`LoadBalancer::arrivals`]' viewers in viewer order.
    order: ViewerOrder<Option<usize>>,
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
            edge_places: Places::of(&config.edges),
            vrrp: Vrrp::new(
                config.priority,
                config.advert_interval,
                config.initial_role,
                SimTime::ZERO,
            ),
            health: checker_from(config.health, &config.phases, SimTime::ZERO),
            balancer: Balancer::weighted(config.algorithm, config.weights.clone()),
            healthy: vec![true; n],
            connections: Connections::default(),
            vrrp_timer: Deadline::default(),
            health_timer: Deadline::default(),
            passive: config.passive.clone(),
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            sent: 0,
            arrivals: Vec::new(),
            order: ViewerOrder::default(),
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
        self.arrivals.clear();
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
        let first_deadline = self.deadlines.first().map(|&(at, ..)| at);
        let sweep = self.passive.as_ref().and_then(Passive::poll_timeout);
        let next = [first_deadline, sweep].into_iter().flatten().min();
        self.proxy_timer.arm(next, ctx, Msg::SelectorTimer);
    }

    /// Fails every proxied request past its deadline (504 to the viewer): one answer
    /// per forwarded message, for those of its members still waiting.
    fn expire(&mut self, now: SimTime, ctx: &mut Ctx<'_, Msg>) {
        while let Some(&(at, sent, _, req)) = self.deadlines.first().filter(|d| d.0 <= now) {
            let mut expired: SmallVec<[u32; 8]> = SmallVec::new();
            let mut first: Option<Pending> = None;
            while let Some(&(_, _, member, _)) = self.deadlines.first().filter(|d| (d.0, d.1) == (at, sent)) {
                self.deadlines.remove(&(at, sent, member, req));
                if let Some(pending) = self.pending.remove(&(member, req)) {
                    self.book(now, pending.edge, Outcome::Failure);
                    expired.push(member);
                    first.get_or_insert(pending);
                }
            }
            let Some(pending) = first else { continue };
            let timed_out = Msg::FetchFailed {
                viewer: pending.viewer,
                party: part_of(&pending.party, &expired),
                req,
                status: 504,
            };
            ctx.send(pending.client, timed_out, CONTROL_MESSAGE_BYTES);
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
                (self.connections).close_where(|edge| edge == event.target, |edge| balancer.release(edge));
            }
        }
        self.health_timer
            .arm(self.health.poll_timeout(), ctx, Msg::ControlTimer);
    }

    /// The edge viewer `viewer` is connected to, opening a connection if it has none
    /// (None: the table is full or no edge is usable).
    fn connection(&mut self, viewer: u32, now: SimTime) -> Option<usize> {
        // A connection to an edge the checks took out is reset; the request picks anew.
        if let Some(edge) = self.connections.get(viewer).filter(|&edge| !self.usable(now, edge)) {
            self.connections.remove(viewer);
            self.balancer.release(edge);
        }
        match self.connections.get(viewer) {
            Some(edge) => Some(edge),
            None if self.connections.open >= self.config.max_connections => None,
            None => {
                for edge in 0..self.healthy.len() {
                    let usable = self.usable(now, edge);
                    self.balancer.set_healthy(edge, usable);
                }
                let picked = self.balancer.pick(u64::from(viewer), &mut self.rng);
                if let Some(edge) = picked {
                    self.connections.insert(viewer, edge);
                }
                picked
            }
        }
    }

    /// Takes a viewer's request (or a squad's) to place once every request of this
    /// instant is in: see [`LoadBalancer::place`].
    fn arrive(&mut self, request: Arrival, ctx: &mut Ctx<'_, Msg>) {
        if self.arrivals.is_empty() {
            ctx.timer_at(ctx.now(), Msg::PlaceTimer);
        }
        self.arrivals.push(request);
    }

    /// Forwards the requests of this instant, each viewer's on its connection, opening
    /// one if needed. The viewers take their connections in viewer order (a viewer's
    /// own requests in the order they came), however the requests were grouped: a
    /// squad's members (`party`) are placed as separate requests would be, and
    /// same-instant arrivals never depend on which came first. Each request goes on in
    /// one message per edge; members the device cannot place get one 503.
    fn place(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        if std::mem::take(&mut self.awaiting_first_request) {
            self.recorder.borrow_mut().path_served(&self.config.name, now);
        }
        let mut arrivals = std::mem::take(&mut self.arrivals);
        let mut order = std::mem::take(&mut self.order);
        order.decide(&arrivals, Arrival::members, None, |member, _| {
            self.connection(member, now)
        });
        for (at, arrival) in arrivals.drain(..).enumerate() {
            self.forward(arrival, order.of(at), ctx);
        }
        // Kept, emptied, for the next instant.
        (self.arrivals, self.order) = (arrivals, order);
    }

    /// Sends request `arrival` on, its members to `edges` (theirs, in member order).
    fn forward(&mut self, arrival: Arrival, edges: &[Option<usize>], ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let Arrival {
            client,
            viewer,
            party,
            msg,
        } = arrival;
        {
            let refused = edges.iter().filter(|e| e.is_none()).count() as u64;
            let placed = edges.len() as u64 - refused;
            let mut recorder = self.recorder.borrow_mut();
            recorder.node_loads(self.load, now, CONTROL_MESSAGE_BYTES, false, placed);
            recorder.node_loads(self.load, now, CONTROL_MESSAGE_BYTES, true, refused);
            recorder.party_clients(self.load, viewer, party.as_ref(), now);
        }
        // One message per outcome, in the order of each outcome's first member.
        let mut outcomes: SmallVec<[Option<usize>; 4]> = SmallVec::new();
        for &edge in edges {
            if !outcomes.contains(&edge) {
                outcomes.push(edge);
            }
        }
        for &edge in &outcomes {
            let group = match &party {
                Some(p) if outcomes.len() > 1 => {
                    let chosen: SmallVec<[u32; 8]> = (p.members.iter().zip(edges))
                        .filter(|&(_, &e)| e == edge)
                        .map(|(&member, _)| member)
                        .collect();
                    part_of(&party, &chosen)
                }
                _ => party.clone(),
            };
            self.send_on(client, viewer, group, edge, &msg, ctx);
        }
    }

    /// Sends `msg` on for the members `party` to `edge`, or answers 503 without one.
    fn send_on(
        &mut self,
        client: NodeId,
        viewer: u32,
        party: Option<Arc<Party>>,
        edge: Option<usize>,
        msg: &Msg,
        ctx: &mut Ctx<'_, Msg>,
    ) {
        let Some(edge) = edge else {
            let refused = Msg::FetchFailed {
                viewer,
                party,
                req: request_id(msg),
                status: 503,
            };
            return ctx.send(client, refused, CONTROL_MESSAGE_BYTES);
        };
        if self.passive.is_none() {
            let forwarded = readdressed(msg, client, party);
            return ctx.send(self.config.edges[edge], forwarded, CONTROL_MESSAGE_BYTES);
        }
        // Proxy: the edge answers the device, which answers the viewer.
        let now = ctx.now();
        let deadline = now + self.config.proxy_timeout;
        let (req, sent) = (request_id(msg), self.sent);
        self.sent += 1;
        for &member in Party::members_of(&party, &viewer) {
            let pending = Pending {
                client,
                edge,
                deadline,
                sent,
                viewer,
                party: party.clone(),
            };
            self.pending.insert((member, req), pending);
            self.deadlines.insert((deadline, sent, member, req));
        }
        let proxied = readdressed(msg, ctx.me(), party);
        ctx.send(self.config.edges[edge], proxied, CONTROL_MESSAGE_BYTES);
        self.arm_proxy_timer(ctx);
    }

    /// A proxied answer for `party` (or `viewer` alone) to request `req`: books it for
    /// each member still waiting and passes it on for them.
    fn answered(&mut self, viewer: u32, party: Option<Arc<Party>>, req: u32, msg: Msg, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let outcome = match msg {
            Msg::FetchFailed { status, .. } if status >= 500 => Outcome::ServerError,
            _ => Outcome::Ok,
        };
        let members = Party::members_of(&party, &viewer);
        let mut waiting: SmallVec<[u32; 8]> = SmallVec::new();
        let mut client = None;
        for &member in members {
            let Some(pending) = self.pending.remove(&(member, req)) else {
                continue;
            };
            self.deadlines.remove(&(pending.deadline, pending.sent, member, req));
            self.book(now, pending.edge, outcome);
            waiting.push(member);
            client = Some(pending.client);
        }
        let Some(client) = client else {
            return;
        };
        if let Msg::SegmentReply { frames, .. } = msg {
            let bytes = u64::from(frames) * self.config.frame_bytes * waiting.len() as u64;
            self.recorder.borrow_mut().node_egress(self.load, now, bytes);
        }
        self.arm_proxy_timer(ctx);
        let msg = if waiting.len() < members.len() {
            with_party(msg, part_of(&party, &waiting))
        } else {
            msg
        };
        ctx.send(client, msg, CONTROL_MESSAGE_BYTES);
    }
}

fn request_id(msg: &Msg) -> u32 {
    match msg {
        Msg::PlaylistRequest { req, .. } | Msg::SegmentRequest { req, .. } => *req,
        _ => unreachable!("the device forwards requests only"),
    }
}

/// Request `msg` from `client` for the members `party`.
fn readdressed(msg: &Msg, client: NodeId, party: Option<Arc<Party>>) -> Msg {
    match *msg {
        Msg::PlaylistRequest {
            viewer, stream, req, ..
        } => Msg::PlaylistRequest {
            client,
            viewer,
            party,
            stream,
            req,
        },
        Msg::SegmentRequest {
            viewer,
            stream,
            req,
            index,
            ..
        } => Msg::SegmentRequest {
            client,
            viewer,
            party,
            stream,
            req,
            index,
        },
        _ => unreachable!("the device forwards requests only"),
    }
}

/// Answer `msg` for the members `to`.
fn with_party(mut msg: Msg, to: Option<Arc<Party>>) -> Msg {
    if let Msg::PlaylistReply { party, .. } | Msg::SegmentReply { party, .. } | Msg::FetchFailed { party, .. } =
        &mut msg
    {
        *party = to;
    }
    msg
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
                if let Some(target) = self.edge_places.get(from) {
                    self.health.handle_response(now, target, id);
                    self.pump_health(ctx);
                }
            }
            Input::Msg {
                from,
                msg: Msg::PlaylistProbeAck { id, newest },
            } => {
                if let Some(target) = self.edge_places.get(from) {
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
            Input::Timer(Msg::PlaceTimer) => self.place(ctx),
            Input::Timer(Msg::SelectorTimer) if self.proxy_timer.fire(now) => {
                self.expire(now, ctx);
                self.arm_proxy_timer(ctx);
            }
            Input::Msg { msg, .. } => match msg {
                // A departed viewer's connection frees its entry and its edge's count.
                Msg::ConnectionClosed { viewer, .. } => {
                    if let Some(edge) = self.connections.remove(viewer) {
                        self.balancer.release(edge);
                    }
                }
                Msg::PlaylistRequest {
                    client,
                    viewer,
                    ref party,
                    ..
                }
                | Msg::SegmentRequest {
                    client,
                    viewer,
                    ref party,
                    ..
                } => {
                    let party = party.clone();
                    let request = Arrival {
                        client,
                        viewer,
                        party,
                        msg,
                    };
                    self.arrive(request, ctx);
                }
                // A proxied answer: book it and pass it on.
                Msg::PlaylistReply {
                    viewer, ref party, req, ..
                }
                | Msg::SegmentReply {
                    viewer, ref party, req, ..
                }
                | Msg::FetchFailed {
                    viewer, ref party, req, ..
                } => {
                    let party = party.clone();
                    self.answered(viewer, party, req, msg, ctx);
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
                let balancer = &mut self.balancer;
                (self.connections).close_where(|_| true, |edge| balancer.release(edge));
            }
            _ => {}
        }
    }
}
