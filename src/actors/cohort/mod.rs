//! The viewer cohort actor: every viewer whose primary edge is one edge. Each viewer
//! runs its own `control::player::Player`; the cohort is the players' I/O: it sends
//! their playlist and segment requests to the edge their current route names, hands
//! them the answers, and times each segment's transfer over the viewer's own downlink
//! after its first byte. With DNS-based balancing it also plays each viewer's network
//! stack: it resolves the CDN name through the viewer's resolver cache when it opens a
//! connection, and keeps the connection until a request on it times out. Per-viewer
//! metrics stay exact; only the actor is shared.
//!
//! With `viewers.squads`, viewers who join at the same instant and watch the same
//! stream form a squad: one player, one record and one message per request for all of
//! them, each request counted by the edge once per member. A member leaving takes a
//! copy of the squad's record with it; an answer for some members only (an edge at
//! capacity, a DNS answer), or resolver caches that disagree, split the squad, each
//! part with a copy of the player and record. Validation keeps out what would treat
//! members apart otherwise.

mod behavior;
mod squads;

use squads::{squad_order, uniform_join};

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use smallvec::{smallvec, SmallVec};

use crate::control::dns::{Answer, ResolverCache};
use crate::control::player::{FetchError, Player, PlayerAction, PlayerConfig, PlayerEvent, PlaylistEntry};
use crate::metrics::{Fill, ViewerRecord, ViewerState};
use crate::sim::{prefetch, prefetch_all, Behavior, Ctx, Dest, Input, NodeId, Places, SimRng};
use crate::time::{SimDuration, SimTime};

use super::{Deadline, Msg, Party, SharedRecorder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Debug)]
pub struct CohortConfig {
    /// Every edge, in ring order; a viewer's route `r` is edge `primary + r` (mod count).
    /// One list shared by every cohort (there is a cohort per edge: a copy each would
    /// grow with the square of the edges).
    pub edges: Rc<[NodeId]>,
    pub edge_names: Rc<[String]>,
    /// Each edge's place in `edges`, by node id: answers name their edge in one step.
    pub edge_places: Rc<Places>,
    /// The viewers' primary edge (an index into `edges`).
    pub primary: usize,
    /// Routes per viewer: the primary edge and `routes − 1` backups.
    pub routes: u8,
    /// Global ids of the viewers in this cohort, ascending.
    pub viewers: Vec<u32>,
    /// Every viewer's place in its own cohort, by global id (one table shared by all
    /// cohorts): four bytes per viewer instead of a search per message.
    pub slot_of_viewer: Rc<[u32]>,
    /// Streams in the run: viewer `v` watches stream `v mod streams`.
    pub streams: u32,
    pub player: PlayerConfig,
    pub target_duration: SimDuration,
    pub fps: u32,
    pub frame_bytes: u64,
    pub joins: Joins,
    /// Viewer time and stalls count from here on (`scenario.warmup`).
    pub measure_from: SimTime,
    pub downlink_bps: u64,
    /// How viewers find their edge.
    pub edge_choice: EdgeChoice,
    /// `Joins::Uniform` instants snap down to this grid from `at` (zero: they do not).
    pub join_step: SimDuration,
    /// Viewers who join together share a player (`viewers.squads`).
    pub squads: bool,
    /// The key of the viewers' retry jitter: viewer `v` draws from stream `v` under it,
    /// its own whoever else draws (`viewers/retry` of the run's seed).
    pub retry_key: [u8; 32],
}

/// When the cohort's viewers join and leave.
#[derive(Clone, Debug, PartialEq)]
pub enum Joins {
    /// Each joins uniformly at random in `[at, at + over)`, drawn by the cohort in
    /// member order, and stays.
    Uniform { at: SimDuration, over: SimDuration },
    /// Per member, in member order: when it joins, and when it leaves if it does
    /// (`scenario::workload`).
    Planned(Vec<(SimTime, Option<SimTime>)>),
}

/// How viewers find their edge.
#[derive(Clone, Debug, PartialEq)]
pub enum EdgeChoice {
    /// Placed by the balancer: route `r` is edge `primary + r`.
    Assigned,
    /// Through DNS: a viewer resolves the CDN name (through its resolver's cache) each
    /// time it opens a connection, and keeps the connection until a request times out.
    Resolved {
        dns: NodeId,
        /// Share of viewers whose resolver keeps answers at least `stretched_ttl`.
        violator_share: f64,
        stretched_ttl: SimDuration,
    },
    /// Through a load balancer's virtual address; the edge that answers is whichever
    /// the balancer chose.
    Balanced { vip: u32 },
}

/// A viewer's name resolution and connection, when edges are found through DNS.
#[derive(Clone)]
struct Connection {
    cache: ResolverCache,
    /// The edge (index) the open connection goes to.
    open: Option<usize>,
    /// The DNS query in flight.
    query: Option<u64>,
    /// Requests waiting for the query's answer (the newest of each kind).
    waiting: Vec<Msg>,
    /// The edge the last connection went to.
    last_edge: Option<usize>,
    /// A squad whose members' resolvers differ: the violators' cache (`cache` is
    /// the honest members'), until the two answer differently and the squad splits.
    violator_cache: Option<ResolverCache>,
}

impl Connection {
    /// Slot `slot`'s connection, if its viewers keep one: a resolver drawn for a lone
    /// viewer; for a squad, its members' (drawn when it was formed). A squad of honest
    /// and violating resolvers keeps both caches until their answers differ.
    fn for_slot(
        config: &CohortConfig,
        squads: Option<&Squads>,
        slot: usize,
        rng: &mut SimRng,
    ) -> Option<Box<Connection>> {
        let (violator_share, stretched_ttl) = match config.edge_choice {
            EdgeChoice::Assigned => return None,
            EdgeChoice::Balanced { .. } => return Some(Connection::boxed(None)),
            EdgeChoice::Resolved {
                violator_share,
                stretched_ttl,
                ..
            } => (violator_share, stretched_ttl),
        };
        let Some(squads) = squads else {
            let violator = rng.gen_bool(violator_share.clamp(0.0, 1.0));
            return Some(Connection::boxed(violator.then_some(stretched_ttl)));
        };
        let (honest, violating) = squads.resolver_kinds(config, slot);
        let mut conn = Connection::boxed((!honest).then_some(stretched_ttl));
        if honest && violating {
            conn.violator_cache = Some(ResolverCache::new(Some(stretched_ttl)));
        }
        Some(conn)
    }

    fn boxed(stretched_ttl: Option<SimDuration>) -> Box<Connection> {
        Box::new(Connection {
            cache: ResolverCache::new(stretched_ttl),
            open: None,
            query: None,
            waiting: Vec::new(),
            last_edge: None,
            violator_cache: None,
        })
    }
}

#[derive(Clone)]
struct Viewer {
    player: Player,
    timer: Deadline,
    state: Option<ViewerState>,
    since: SimTime,
    /// The stream it watches (also in its record, which most events do not touch).
    stream: u32,
    connection: Option<Box<Connection>>,
    /// Left the stream: whatever still arrives for it is ignored.
    left: bool,
    /// Words its retry jitter has taken from its own random stream.
    retry_words: u32,
}

/// The squads of a cohort (`viewers.squads`); a slot of the cohort is a squad.
struct Squads {
    /// Each squad's key in messages: its first member's global id, kept when that
    /// member leaves (a part split off takes its own first member's).
    ids: Vec<u32>,
    /// The members still watching, by slot: what its messages stand for.
    parties: Vec<Arc<Party>>,
    /// Every member's squad, by its place in `CohortConfig::viewers`.
    slot_of_member: Vec<u32>,
    /// When each squad joins (drawn when the cohort is built, scheduled at the start).
    joins: Vec<SimTime>,
    /// Whether each member's resolver stretches TTLs, by its place in
    /// `CohortConfig::viewers` (with DNS-based balancing; empty otherwise).
    violators: Vec<bool>,
}

pub struct Cohort {
    config: CohortConfig,
    squads: Option<Squads>,
    viewers: Vec<Viewer>,
    /// Each viewer's record, by slot: apart from the viewers' state, so that an event
    /// loads only the lines it needs (a segment starting touches its record; most
    /// events do not).
    records: Vec<ViewerRecord>,
    /// DNS queries in flight: query id → viewer slot.
    queries: BTreeMap<u64, usize>,
    next_query: u64,
    rng: SimRng,
    recorder: SharedRecorder,
}

impl Cohort {
    pub fn new(config: CohortConfig, mut rng: SimRng, recorder: SharedRecorder) -> Self {
        let player_config = Rc::new(config.player);
        let squads = config.squads.then(|| Squads::form(&config, &mut rng));
        let slots = squads.as_ref().map_or(config.viewers.len(), |squads| squads.ids.len());
        let mut viewers: Vec<Viewer> = (0..slots)
            .map(|slot| Viewer {
                connection: Connection::for_slot(&config, squads.as_ref(), slot, &mut rng),
                player: Player::new(player_config.clone(), config.target_duration, config.routes),
                timer: Deadline::default(),
                state: None,
                left: false,
                since: SimTime::ZERO,
                stream: 0,
                retry_words: 0,
            })
            .collect();
        let mut records = Vec::with_capacity(viewers.len());
        let ids = squads.as_ref().map_or(&config.viewers, |squads| &squads.ids);
        for (viewer, &id) in viewers.iter_mut().zip(ids) {
            viewer.stream = id % config.streams.max(1);
            records.push(ViewerRecord {
                stream: viewer.stream,
                edge: config.edge_names[config.primary].clone(),
                ttl_violator: viewer.connection.as_ref().is_some_and(|c| c.cache.is_violator()),
                ..ViewerRecord::default()
            });
        }
        Cohort {
            config,
            squads,
            viewers,
            records,
            queries: BTreeMap::new(),
            next_query: 0,
            rng,
            recorder,
        }
    }

    /// Sends a viewer's request: to its route's edge, or over its connection, opening
    /// one (and resolving the name if its resolver has no fresh answer) when needed.
    fn send_request(&mut self, slot: usize, route: u8, msg: Msg, ctx: &mut Ctx<'_, Msg>) {
        let dns = match self.config.edge_choice {
            EdgeChoice::Assigned => return ctx.send(self.edge_of(route), msg, CONTROL_MESSAGE_BYTES),
            EdgeChoice::Balanced { vip } => return ctx.send(Dest::Vip(vip), msg, CONTROL_MESSAGE_BYTES),
            EdgeChoice::Resolved { dns, .. } => dns,
        };
        let now = ctx.now();
        let conn = self.viewers[slot]
            .connection
            .as_mut()
            .expect("resolving viewers have one");
        if conn.open.is_none() {
            if let Some(edge) = conn.cache.lookup(now) {
                self.connect(slot, edge, now);
            }
        }
        let conn = self.viewers[slot]
            .connection
            .as_mut()
            .expect("resolving viewers have one");
        if let Some(edge) = conn.open {
            ctx.send(self.config.edges[edge], msg, CONTROL_MESSAGE_BYTES);
            return;
        }
        // The player gave up on any older request of the same kind.
        conn.waiting
            .retain(|w| std::mem::discriminant(w) != std::mem::discriminant(&msg));
        conn.waiting.push(msg);
        if conn.query.is_none() {
            let id = self.next_query;
            self.next_query += 1;
            conn.query = Some(id);
            // A squad's answers name their members (a squad may split before they come).
            if self.squads.is_none() {
                self.queries.insert(id, slot);
            }
            let query = Msg::DnsQuery {
                id,
                name: 0,
                viewer: self.id(slot),
                party: self.party(slot),
            };
            ctx.send(dns, query, CONTROL_MESSAGE_BYTES);
        }
    }

    /// Opens viewer `slot`'s connection to edge `edge`; a different edge than last time
    /// is a switch.
    fn connect(&mut self, slot: usize, edge: usize, now: SimTime) {
        let record = &mut self.records[slot];
        let conn = self.viewers[slot]
            .connection
            .as_mut()
            .expect("resolving viewers have one");
        match conn.last_edge {
            None => record.edge = self.config.edge_names[edge].clone(),
            Some(last) if last != edge => {
                record.route_switches += 1;
                record.first_switch_at.get_or_insert(now);
                record.switches.push((now, edge as u16));
            }
            Some(_) => {}
        }
        conn.open = Some(edge);
        conn.last_edge = Some(edge);
    }

    /// Behind a load balancer, the edge that answered tells where the connection goes.
    fn answered_by(&mut self, slot: usize, from: NodeId, now: SimTime) {
        if !matches!(self.config.edge_choice, EdgeChoice::Balanced { .. }) {
            return;
        }
        if let Some(edge) = self.config.edge_places.get(from) {
            self.connect(slot, edge, now);
        }
    }

    /// A DNS answer for query `id` (asked by `party`, or by the viewer the query map
    /// names): for each slot it is for, cache it, connect, and send what was waiting.
    fn resolved(
        &mut self,
        id: u64,
        target: NodeId,
        ttl: SimDuration,
        party: Option<Arc<Party>>,
        ctx: &mut Ctx<'_, Msg>,
    ) {
        let slots = match &party {
            Some(party) => self.slots_for(party.members[0], Some(party)),
            None => self.queries.remove(&id).into_iter().collect(),
        };
        for slot in slots {
            if !self.viewers[slot].left {
                self.resolved_slot(slot, id, target, ttl, ctx);
            }
        }
    }

    fn resolved_slot(&mut self, slot: usize, id: u64, target: NodeId, ttl: SimDuration, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let Some(edge) = self.config.edge_places.get(target) else {
            return;
        };
        let conn = self.viewers[slot]
            .connection
            .as_mut()
            .expect("resolving viewers have one");
        if conn.query != Some(id) {
            return;
        }
        conn.query = None;
        conn.cache.store(now, Answer { target: edge, ttl });
        if let Some(cache) = &mut conn.violator_cache {
            cache.store(now, Answer { target: edge, ttl });
        }
        self.connect(slot, edge, now);
        let conn = self.viewers[slot]
            .connection
            .as_mut()
            .expect("resolving viewers have one");
        let waiting = std::mem::take(&mut conn.waiting);
        let (key, now_party) = (self.id(slot), self.party(slot));
        for mut msg in waiting {
            // Asked for the squad as it was: the squad may have split since, and this
            // part asks for itself.
            if let Msg::PlaylistRequest { viewer, party, .. } | Msg::SegmentRequest { viewer, party, .. } = &mut msg {
                *viewer = key;
                party.clone_from(&now_party);
            }
            ctx.send(self.config.edges[edge], msg, CONTROL_MESSAGE_BYTES);
        }
    }

    /// Time for `frames` of media to cross the viewer's downlink after the first byte.
    fn transfer_time(&self, frames: u64) -> SimDuration {
        let bits = u128::from(frames * self.config.frame_bytes) * 8;
        SimDuration::from_nanos((bits * 1_000_000_000 / u128::from(self.config.downlink_bps)) as u64)
    }

    fn edge_of(&self, route: u8) -> NodeId {
        self.config.edges[(self.config.primary + usize::from(route)) % self.config.edges.len()]
    }

    fn segment_entry(&self, index: u64, frames: u32) -> PlaylistEntry {
        PlaylistEntry::media(
            index,
            SimDuration::from_nanos(u64::from(frames) * 1_000_000_000 / u64::from(self.config.fps)),
        )
    }

    fn set_state(&mut self, slot: usize, at: SimTime, to: ViewerState) {
        let viewer = &mut self.viewers[slot];
        let elapsed = at.saturating_since(viewer.since.max(self.config.measure_from));
        match viewer.state {
            Some(ViewerState::Playing) => self.records[slot].play_time += elapsed,
            Some(ViewerState::Stalled) => self.records[slot].stall_time += elapsed,
            _ => {}
        }
        let from = viewer.state.replace(to);
        viewer.since = at;
        let members = self.members(slot).len() as u32;
        self.recorder.borrow_mut().viewer_transition(at, from, to, members);
    }

    /// Books what the player reports, each at its own instant (playback is caught up
    /// late, so an instant may lie before now).
    fn book_events(&mut self, slot: usize) {
        let stream = self.viewers[slot].stream;
        while let Some(event) = self.viewers[slot].player.poll_event() {
            match event {
                PlayerEvent::Started { at, startup } => {
                    self.records[slot].startup = Some(startup);
                    self.set_state(slot, at, ViewerState::Playing);
                }
                PlayerEvent::SegmentStarted { index, at, duration } => {
                    let mut recorder = self.recorder.borrow_mut();
                    if recorder.streams[stream as usize].fillers.get(&index) == Some(&Fill::Slate) {
                        if at >= self.config.measure_from {
                            self.records[slot].slate_time += duration;
                        }
                        continue;
                    }
                    recorder.segment_played(stream as usize, index, at);
                    // The segment's own frame count: its duration went through whole
                    // nanoseconds and would lose a frame on the way back.
                    let segments = &recorder.streams[stream as usize].segments;
                    let (frames, captured) = segments.get(&index).map_or((0, None), |segment| {
                        let captured = recorder.capture_time(stream as usize, segment.first_frame);
                        (u64::from(segment.frames), captured)
                    });
                    drop(recorder);
                    let record = &mut self.records[slot];
                    record.segments_played += 1;
                    record.frames_played += frames;
                    if let Some(captured) = captured {
                        let latency = at.saturating_since(captured);
                        record.latency_total += latency;
                        record.latency_max = record.latency_max.max(latency);
                    }
                }
                PlayerEvent::Stalled { at } => {
                    if at >= self.config.measure_from {
                        self.records[slot].stalls += 1;
                    }
                    self.set_state(slot, at, ViewerState::Stalled);
                }
                PlayerEvent::Resumed { at, stalled } => {
                    // Only stalls that began after the warmup count.
                    if at - stalled >= self.config.measure_from {
                        let mut recorder = self.recorder.borrow_mut();
                        for &viewer in self.members(slot) {
                            recorder.stall_durations.push((viewer, at, stalled));
                        }
                    }
                    self.set_state(slot, at, ViewerState::Playing);
                }
                PlayerEvent::Skipped { from, to, .. } => {
                    // Segments never published were lost upstream, not by this viewer.
                    let (segments, frames) = self.recorder.borrow().streams[stream as usize]
                        .segments
                        .range(from..to)
                        .fold((0, 0), |(n, f), (_, segment)| (n + 1, f + u64::from(segment.frames)));
                    let record = &mut self.records[slot];
                    record.segments_skipped += segments;
                    record.frames_skipped += frames;
                }
                PlayerEvent::RequestFailed { error, at, .. } => {
                    let viewer = &mut self.viewers[slot];
                    let record = &mut self.records[slot];
                    record.request_errors += 1;
                    let code = match error {
                        FetchError::Timeout => 0,
                        FetchError::ServerError => 1,
                        FetchError::NotFound => 2,
                    };
                    record.failures.push((at, code));
                    // A request that timed out breaks its connection (or DNS query): the
                    // next request opens a new one. An error answer came over a working one.
                    if let (FetchError::Timeout, Some(conn)) = (error, viewer.connection.as_mut()) {
                        conn.open = None;
                        if let Some(id) = conn.query.take() {
                            self.queries.remove(&id);
                        }
                    }
                }
                PlayerEvent::Failed { at, error, until } => {
                    let record = &mut self.records[slot];
                    match until {
                        Some(_) if at >= self.config.measure_from => record.fatal_errors += 1,
                        Some(_) => {}
                        None => record.stranded_at = Some(at),
                    }
                    tracing::debug!(?error, ?at, ?until, "player stopped on a fatal error");
                }
                PlayerEvent::RouteSwitched { at, to, .. } => {
                    let edge = (self.config.primary + usize::from(to)) % self.config.edges.len();
                    let record = &mut self.records[slot];
                    record.route_switches += 1;
                    record.first_switch_at.get_or_insert(at);
                    record.switches.push((at, edge as u16));
                }
            }
        }
    }

    /// Performs the player's requests and books what it reports, then re-arms its timer.
    fn drive(&mut self, slot: usize, ctx: &mut Ctx<'_, Msg>) {
        self.book_events(slot);
        match self.split_by_resolver(slot, ctx.now()) {
            // Both parts go on, the one with the first member first.
            Some(other) if self.members(other)[0] < self.members(slot)[0] => {
                self.send_actions(other, ctx);
                self.send_actions(slot, ctx);
            }
            Some(other) => {
                self.send_actions(slot, ctx);
                self.send_actions(other, ctx);
            }
            None => self.send_actions(slot, ctx),
        }
    }

    /// A squad of honest and violating resolvers whose caches now answer differently
    /// (an answer expired for the honest, kept by the violators) splits in two, each
    /// part with its own cache; returns the slot of the part that moved.
    fn split_by_resolver(&mut self, slot: usize, now: SimTime) -> Option<usize> {
        let squads = self.squads.as_ref()?;
        let conn = self.viewers[slot].connection.as_ref()?;
        let violating = conn.violator_cache.as_ref()?;
        if conn.open.is_some() || conn.cache.lookup(now) == violating.lookup(now) {
            return None;
        }
        let party = &squads.parties[slot];
        let violators: Box<[u32]> = (party.members.iter())
            .copied()
            .filter(|&member| squads.violator(&self.config, member))
            .collect();
        if violators.is_empty() || violators.len() == party.members.len() {
            // Those who left made it one kind: it keeps that kind's cache.
            self.settle_resolver(slot, !violators.is_empty());
            return None;
        }
        let violators = party.part_of(violators);
        let violators_slot = self.split(slot, &violators);
        let moved = self.viewers.len() - 1;
        self.settle_resolver(slot, violators_slot == slot);
        self.settle_resolver(moved, violators_slot == moved);
        Some(moved)
    }

    /// Slot `slot`'s members are now of one kind: violators keep their cache, the
    /// honest theirs.
    fn settle_resolver(&mut self, slot: usize, violators: bool) {
        let conn = self.viewers[slot]
            .connection
            .as_mut()
            .expect("squads of two kinds resolve");
        let violating = conn
            .violator_cache
            .take()
            .expect("squads of two kinds keep both caches");
        if violators {
            conn.cache = violating;
        }
    }

    /// Sends what slot `slot`'s player asks for, then re-arms its timer.
    fn send_actions(&mut self, slot: usize, ctx: &mut Ctx<'_, Msg>) {
        let viewer_id = self.id(slot);
        let party = self.party(slot);
        let stream = self.viewers[slot].stream;
        while let Some(action) = self.viewers[slot].player.poll_action() {
            let (route, msg) = match action {
                PlayerAction::LoadPlaylist { req, route } => (
                    route,
                    Msg::PlaylistRequest {
                        client: ctx.me(),
                        viewer: viewer_id,
                        party: party.clone(),
                        stream,
                        req,
                    },
                ),
                PlayerAction::LoadSegment { req, route, index } => (
                    route,
                    Msg::SegmentRequest {
                        client: ctx.me(),
                        viewer: viewer_id,
                        party: party.clone(),
                        stream,
                        req,
                        index,
                    },
                ),
            };
            self.send_request(slot, route, msg, ctx);
        }
        let viewer = &mut self.viewers[slot];
        let next = viewer.player.poll_timeout();
        let timer = Msg::ViewerTimer {
            viewer: viewer_id,
            party,
        };
        viewer.timer.arm(next, ctx, timer);
    }

    /// Brings viewer `slot`'s playback up to `now` and books it, for a reading of its
    /// state at `now`: segments that began and a buffer that ran dry since its last
    /// event. Playback alone asks for nothing, so there is nothing to send.
    fn catch_up(&mut self, slot: usize, now: SimTime) {
        self.viewers[slot].player.advance(now);
        self.book_events(slot);
    }

    fn finish(&mut self, now: SimTime) {
        for slot in 0..self.viewers.len() {
            if self.viewers[slot].left {
                continue;
            }
            self.catch_up(slot, now);
            if let Some(state) = self.viewers[slot].state {
                // Close the open interval at the end of the run.
                let measure_from = self.config.measure_from;
                let viewer = &mut self.viewers[slot];
                let record = &mut self.records[slot];
                let elapsed = now.saturating_since(viewer.since.max(measure_from));
                match state {
                    ViewerState::Playing => record.play_time += elapsed,
                    ViewerState::Stalled => {
                        record.stall_time += elapsed;
                        record.stalled_at_end = Some(viewer.since);
                    }
                    ViewerState::Starting => {}
                }
                viewer.since = now;
            }
            let viewer = &mut self.viewers[slot];
            let record = &mut self.records[slot];
            record.first_index = viewer.player.first_index();
            record.frontier = viewer.player.frontier();
            let mut record = std::mem::take(record);
            let mut recorder = self.recorder.borrow_mut();
            if let Some((&last, others)) = self.members(slot).split_last() {
                let squads = self.squads.as_ref();
                let violator = |viewer| squads.is_some_and(|squads| squads.violator(&self.config, viewer));
                for &viewer in others {
                    recorder.viewers[viewer as usize] = ViewerRecord {
                        ttl_violator: violator(viewer),
                        ..record.clone()
                    };
                }
                if squads.is_some() {
                    record.ttl_violator = violator(last);
                }
                recorder.viewers[last as usize] = record;
            }
        }
    }
}
