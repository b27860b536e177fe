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

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use smallvec::{smallvec, SmallVec};

use crate::control::dns::{Answer, ResolverCache};
use crate::control::player::{FetchError, Player, PlayerAction, PlayerConfig, PlayerEvent, PlaylistEntry};
use crate::metrics::{ViewerRecord, ViewerState};
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
        PlaylistEntry {
            index,
            duration: SimDuration::from_nanos(u64::from(frames) * 1_000_000_000 / u64::from(self.config.fps)),
        }
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
                PlayerEvent::SegmentStarted { index, at, .. } => {
                    let mut recorder = self.recorder.borrow_mut();
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

    /// The slot of viewer `viewer`: its own, or its squad's (a squad's key is the
    /// global id of its first member, so it finds the squad too).
    fn slot_of(&self, viewer: u32) -> usize {
        let member = self.config.slot_of_viewer[viewer as usize] as usize;
        debug_assert_eq!(self.config.viewers[member], viewer, "viewer belongs to this cohort");
        self.slot_of_member(member).expect("every member has a slot")
    }

    /// The slot of the member at `member` in `CohortConfig::viewers`.
    fn slot_of_member(&self, member: usize) -> Option<usize> {
        match &self.squads {
            Some(squads) => squads.slot_of_member.get(member).map(|&slot| slot as usize),
            None => Some(member),
        }
    }

    /// The key of slot `slot` in messages and load records.
    fn id(&self, slot: usize) -> u32 {
        match &self.squads {
            Some(squads) => squads.ids[slot],
            None => self.config.viewers[slot],
        }
    }

    /// The viewers slot `slot` stands for: its squad's members still watching, or the
    /// one viewer (who may have left).
    fn members(&self, slot: usize) -> &[u32] {
        match &self.squads {
            Some(squads) => &squads.parties[slot].members,
            None => std::slice::from_ref(&self.config.viewers[slot]),
        }
    }

    /// What slot `slot`'s messages stand for: its squad's members (none without squads).
    fn party(&self, slot: usize) -> Option<Arc<Party>> {
        self.squads.as_ref().map(|squads| Arc::clone(&squads.parties[slot]))
    }

    /// The slots an input for `viewer` (a key) and `party` is for. Without squads, or
    /// for the party a squad holds now, that is the key's slot. A party of the past (a
    /// reply or a timer from before its squad split, or before a member left) is for
    /// every slot holding a member of it still watching, in member order; a slot that
    /// holds some of its members and others besides is split first, since the input
    /// treats them apart (an edge serving some members of a squad and refusing others).
    fn slots_for(&mut self, viewer: u32, party: Option<&Arc<Party>>) -> SmallVec<[usize; 2]> {
        let slot = self.slot_of(viewer);
        let (Some(party), Some(squads)) = (party, &self.squads) else {
            return smallvec![slot];
        };
        if Arc::ptr_eq(&squads.parties[slot], party) {
            return smallvec![slot];
        }
        let mut slots: SmallVec<[usize; 2]> = SmallVec::new();
        for &member in party.members.iter() {
            let slot = self.slot_of(member);
            if slots.contains(&slot) || self.members(slot).binary_search(&member).is_err() {
                continue;
            }
            let inside = |m: &u32| party.members.binary_search(m).is_ok();
            let slot = if self.members(slot).iter().all(inside) {
                slot
            } else {
                self.split(slot, party)
            };
            slots.push(slot);
        }
        slots
    }

    /// Splits squad `slot` into its members in `party` and the others: the part with
    /// the slot's key stays, the other takes a new slot, each with a copy of the
    /// player, timer and record. Returns the slot of the members in `party`.
    fn split(&mut self, slot: usize, party: &Party) -> usize {
        let squads = self.squads.as_mut().expect("only squads split");
        let whole = Arc::clone(&squads.parties[slot]);
        let (inside, outside): (Vec<u32>, Vec<u32>) =
            (whole.members.iter()).partition(|m| party.members.binary_search(m).is_ok());
        let key_inside = inside.binary_search(&squads.ids[slot]).is_ok();
        let (staying, moving) = if key_inside {
            (inside, outside)
        } else {
            (outside, inside)
        };
        let new = self.viewers.len();
        for &member in &moving {
            squads.slot_of_member[self.config.slot_of_viewer[member as usize] as usize] = new as u32;
        }
        squads.ids.push(moving[0]);
        let part = |members: Vec<u32>| {
            Arc::new(Party {
                root: whole.root,
                whole: false,
                members: members.into(),
            })
        };
        squads.parties[slot] = part(staying);
        squads.parties.push(part(moving));
        self.viewers.push(self.viewers[slot].clone());
        self.records.push(self.records[slot].clone());
        if key_inside {
            slot
        } else {
            new
        }
    }

    /// Runs `event` on slot `slot`'s player, its retry jitter drawn from the viewer's
    /// own stream. A squad's members would draw apart: when the event draws (found by
    /// running it on a copy, unless `may_draw` rules it out), the squad splits into its
    /// members first, and each runs it with its own stream. Returns the slots that ran
    /// it.
    fn run_drawing(
        &mut self,
        slot: usize,
        may_draw: bool,
        event: impl Fn(&mut Player, &mut SimRng),
    ) -> SmallVec<[usize; 2]> {
        if !self.config.player.draws_jitter() || !may_draw {
            // Nothing to draw: the cohort's stream is passed and left untouched.
            let before = self.rng.get_word_pos();
            event(&mut self.viewers[slot].player, &mut self.rng);
            debug_assert_eq!(self.rng.get_word_pos(), before, "the event was not to draw");
            return smallvec![slot];
        }
        if self.members(slot).len() > 1 {
            let mut probe = self.viewer_rng(0, 0);
            let mut player = self.viewers[slot].player.clone();
            event(&mut player, &mut probe);
            if probe.get_word_pos() == 0 {
                self.viewers[slot].player = player;
                return smallvec![slot];
            }
            let singles = self.split_into_members(slot);
            for &single in &singles {
                self.draw_for(single, &event);
            }
            return singles;
        }
        self.draw_for(slot, &event);
        smallvec![slot]
    }

    /// Runs `event` on the player of slot `slot`, one viewer, with its own stream.
    fn draw_for(&mut self, slot: usize, event: &impl Fn(&mut Player, &mut SimRng)) {
        let viewer = self.members(slot).first().copied().unwrap_or(self.id(slot));
        let mut rng = self.viewer_rng(viewer, self.viewers[slot].retry_words);
        event(&mut self.viewers[slot].player, &mut rng);
        self.viewers[slot].retry_words = u32::try_from(rng.get_word_pos()).unwrap_or(u32::MAX);
    }

    /// Viewer `viewer`'s retry stream, `words` into it.
    fn viewer_rng(&self, viewer: u32, words: u32) -> SimRng {
        let mut rng = SimRng::from_seed(self.config.retry_key);
        rng.set_stream(u64::from(viewer));
        rng.set_word_pos(u128::from(words));
        rng
    }

    /// Splits squad `slot` into one slot per member, in member order (the first keeps
    /// the slot). Returns them.
    fn split_into_members(&mut self, slot: usize) -> SmallVec<[usize; 2]> {
        let members = self.members(slot).to_vec();
        let root = self.squads.as_ref().map_or(0, |squads| squads.parties[slot].root);
        let mut singles: SmallVec<[usize; 2]> = smallvec![slot];
        for &member in &members[1..] {
            let alone = Party {
                root,
                whole: false,
                members: Box::new([member]),
            };
            singles.push(self.split(slot, &alone));
        }
        singles
    }

    /// Viewer `viewer` of slot `slot` leaves at `now`: its time is booked and its
    /// record final. The rest of its squad, if any, watches on.
    fn leave(&mut self, slot: usize, viewer: u32, now: SimTime) {
        if self.viewers[slot].left || !self.members(slot).contains(&viewer) {
            return;
        }
        self.catch_up(slot, now);
        let last = self.members(slot).len() == 1;
        let mut record = if last {
            std::mem::take(&mut self.records[slot])
        } else {
            self.records[slot].clone()
        };
        let viewer_state = &mut self.viewers[slot];
        if let Some(state) = viewer_state.state {
            let elapsed = now.saturating_since(viewer_state.since.max(self.config.measure_from));
            let mut recorder = self.recorder.borrow_mut();
            match state {
                ViewerState::Playing => record.play_time += elapsed,
                ViewerState::Stalled => {
                    record.stall_time += elapsed;
                    // Leaving ends the stall: it is listed like one the viewer got over.
                    if viewer_state.since >= self.config.measure_from {
                        recorder.stall_durations.push((viewer, now, now - viewer_state.since));
                    }
                }
                ViewerState::Starting => {}
            }
            recorder.viewer_left(now, state);
        }
        record.left_at = Some(now);
        if let Some(squads) = &self.squads {
            record.ttl_violator = squads.violator(&self.config, viewer);
        }
        let viewer_state = &mut self.viewers[slot];
        record.first_index = viewer_state.player.first_index();
        record.frontier = viewer_state.player.frontier();
        if last {
            viewer_state.left = true;
            viewer_state.state = None;
            if let Some(id) = viewer_state.connection.as_mut().and_then(|conn| conn.query.take()) {
                self.queries.remove(&id);
            }
        }
        if let Some(squads) = &mut self.squads {
            let party = &squads.parties[slot];
            let members = (party.members.iter())
                .copied()
                .filter(|&member| member != viewer)
                .collect();
            squads.parties[slot] = Arc::new(Party {
                root: party.root,
                whole: party.whole,
                members,
            });
        }
        self.recorder.borrow_mut().viewers[viewer as usize] = record;
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

impl Squads {
    /// Groups the cohort's viewers by join instant and stream, squads in the order of
    /// their first members. Uniform joins are drawn here, in member order, as the
    /// cohort would draw them at the start without squads.
    fn form(config: &CohortConfig, rng: &mut SimRng) -> Squads {
        // Drawn as the cohort draws them without squads: resolvers when it is built,
        // then the joins at the start.
        let violators: Vec<bool> = match config.edge_choice {
            EdgeChoice::Resolved { violator_share, .. } => (0..config.viewers.len())
                .map(|_| rng.gen_bool(violator_share.clamp(0.0, 1.0)))
                .collect(),
            _ => vec![false; config.viewers.len()],
        };
        let joins: Vec<SimTime> = match &config.joins {
            Joins::Uniform { at, over } => (0..config.viewers.len())
                .map(|_| uniform_join(*at, *over, config.join_step, rng))
                .collect(),
            Joins::Planned(plan) => plan.iter().map(|&(join, _)| join).collect(),
        };
        let mut members: Vec<Vec<u32>> = Vec::new();
        let mut squads = Squads {
            ids: Vec::new(),
            parties: Vec::new(),
            slot_of_member: Vec::with_capacity(config.viewers.len()),
            joins: Vec::new(),
            violators,
        };
        let mut slot_of_key: BTreeMap<(SimTime, u32), u32> = BTreeMap::new();
        for (&viewer, &join) in config.viewers.iter().zip(&joins) {
            let stream = viewer % config.streams.max(1);
            let slot = *slot_of_key.entry((join, stream)).or_insert_with(|| {
                squads.ids.push(viewer);
                members.push(Vec::new());
                squads.joins.push(join);
                squads.ids.len() as u32 - 1
            });
            members[slot as usize].push(viewer);
            squads.slot_of_member.push(slot);
        }
        squads.parties = (squads.ids.iter().zip(members))
            .map(|(&root, members)| {
                Arc::new(Party {
                    root,
                    whole: true,
                    members: members.into(),
                })
            })
            .collect();
        squads
    }
}

impl Squads {
    /// Whether squad `slot` has members with an honest resolver, and with one that
    /// stretches TTLs.
    fn resolver_kinds(&self, config: &CohortConfig, slot: usize) -> (bool, bool) {
        (self.parties[slot].members.iter()).fold((false, false), |(honest, violating), &member| {
            let violator = self.violator(config, member);
            (honest || !violator, violating || violator)
        })
    }

    fn violator(&self, config: &CohortConfig, viewer: u32) -> bool {
        let member = config.slot_of_viewer[viewer as usize] as usize;
        self.violators.get(member).copied().unwrap_or(false)
    }
}

/// The cohort's members (places in `CohortConfig::viewers`) in the order their joins
/// are scheduled without squads: those who join at one instant grouped by stream, the
/// groups in the order of their first members, as squads take turns. Same-instant
/// requests then reach a round-robin DNS or an edge at capacity in the order squads
/// send them, with several streams too.
fn squad_order(config: &CohortConfig, joins: &[SimTime]) -> Vec<usize> {
    let mut first_of_key: BTreeMap<(SimTime, u32), usize> = BTreeMap::new();
    let mut order: Vec<(usize, usize)> = (joins.iter().zip(&config.viewers).enumerate())
        .map(|(member, (&join, &viewer))| {
            let stream = viewer % config.streams.max(1);
            (*first_of_key.entry((join, stream)).or_insert(member), member)
        })
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, member)| member).collect()
}

/// A join drawn uniformly in `[at, at + over)`, snapped down onto the `step` grid from `at`.
fn uniform_join(at: SimDuration, over: SimDuration, step: SimDuration, rng: &mut SimRng) -> SimTime {
    let span = over.as_nanos();
    let offset = if span == 0 { 0 } else { rng.gen_range(0..span) };
    let start = SimTime::ZERO + at;
    crate::scenario::workload::snap_join(start, start + SimDuration::from_nanos(offset), step)
}

impl Behavior for Cohort {
    type Msg = Msg;

    /// Where the viewer an input is for sits in this cohort: a table of all viewers,
    /// too large to stay cached in a large audience.
    fn prefetch_index(&self, input: &Input<Msg>) {
        if let Some(entry) = viewer_of(input).and_then(|viewer| self.config.slot_of_viewer.get(viewer as usize)) {
            prefetch(entry);
        }
    }

    /// The viewer an input is for: its state is what a large audience waits on.
    fn prefetch(&self, input: &Input<Msg>) {
        let Some(viewer) = viewer_of(input) else {
            return;
        };
        let Some(&member) = self.config.slot_of_viewer.get(viewer as usize) else {
            return;
        };
        let Some(slot) = self.slot_of_member(member as usize) else {
            return;
        };
        if let (Some(state), Some(id)) = (self.viewers.get(slot), self.config.viewers.get(member as usize)) {
            prefetch_all(state);
            prefetch(id);
        }
        // Segments that began since the viewer's last event are booked on its next
        // one, mostly its reload timer: timers touch the record.
        if let (Input::Timer(_), Some(record)) = (input, self.records.get(slot)) {
            prefetch(&record.segments_played);
            prefetch(&record.frames_played);
            prefetch(&record.latency_total);
            prefetch(&record.latency_max);
        }
    }

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        match input {
            Input::Start => {
                if let Some(squads) = &mut self.squads {
                    for (&viewer, join) in squads.ids.iter().zip(std::mem::take(&mut squads.joins)) {
                        ctx.timer_at(join, Msg::ViewerJoin { viewer });
                    }
                }
                let joins: Vec<SimTime> = match &self.config.joins {
                    Joins::Uniform { .. } if self.squads.is_some() => Vec::new(),
                    &Joins::Uniform { at, over } => (self.config.viewers.iter())
                        .map(|_| uniform_join(at, over, self.config.join_step, &mut self.rng))
                        .collect(),
                    Joins::Planned(plan) if self.squads.is_none() => plan.iter().map(|&(join, _)| join).collect(),
                    Joins::Planned(_) => Vec::new(),
                };
                for member in squad_order(&self.config, &joins) {
                    let viewer = self.config.viewers[member];
                    ctx.timer_at(joins[member], Msg::ViewerJoin { viewer });
                }
                if let Joins::Planned(plan) = &self.config.joins {
                    for (&viewer, &(_, leave)) in self.config.viewers.iter().zip(plan) {
                        if let Some(leave) = leave {
                            ctx.timer_at(leave, Msg::ViewerLeave { viewer });
                        }
                    }
                }
            }
            Input::Timer(Msg::ViewerLeave { viewer }) => {
                let slot = self.slot_of(viewer);
                self.leave(slot, viewer, now);
                // Behind a load balancer the device holds the viewer's connection.
                if let EdgeChoice::Balanced { vip } = self.config.edge_choice {
                    let closed = Msg::ConnectionClosed {
                        client: ctx.me(),
                        viewer,
                    };
                    ctx.send(Dest::Vip(vip), closed, CONTROL_MESSAGE_BYTES);
                }
            }
            Input::Timer(Msg::ViewerJoin { viewer }) => {
                let slot = self.slot_of(viewer);
                self.records[slot].joined_at = Some(now);
                self.viewers[slot].player.handle_join(now);
                self.set_state(slot, now, ViewerState::Starting);
                self.drive(slot, ctx);
            }
            Input::Timer(Msg::ViewerTimer { viewer, party }) => {
                for slot in self.slots_for(viewer, party.as_ref()) {
                    if self.viewers[slot].timer.fire(now) && !self.viewers[slot].left {
                        let may_draw = self.viewers[slot].player.timed_out_by(now);
                        for slot in self.run_drawing(slot, may_draw, |player, rng| player.handle_timeout(now, rng)) {
                            self.drive(slot, ctx);
                        }
                    }
                }
            }
            Input::Msg {
                msg:
                    Msg::PlaylistReply {
                        edge,
                        viewer,
                        party,
                        req,
                        playlist,
                    },
                ..
            } => {
                for slot in self.slots_for(viewer, party.as_ref()) {
                    if self.viewers[slot].left {
                        continue;
                    }
                    self.answered_by(slot, edge, now);
                    self.viewers[slot].player.handle_playlist(now, req, &playlist);
                    self.drive(slot, ctx);
                }
            }
            Input::Msg {
                msg:
                    Msg::SegmentReply {
                        edge,
                        viewer,
                        party,
                        req,
                        index,
                        frames,
                    },
                ..
            } => {
                let entry = self.segment_entry(index, frames);
                let loaded_at = now + self.transfer_time(u64::from(frames));
                for slot in self.slots_for(viewer, party.as_ref()) {
                    // A late answer to a request the player gave up must not displace
                    // the download it is waiting for.
                    if self.viewers[slot].left || self.viewers[slot].player.segment_request() != Some(req) {
                        continue;
                    }
                    self.answered_by(slot, edge, now);
                    self.viewers[slot]
                        .player
                        .handle_segment_arriving(now, req, entry, loaded_at);
                    self.drive(slot, ctx);
                }
            }
            Input::Msg {
                msg:
                    Msg::FetchFailed {
                        viewer,
                        party,
                        req,
                        status,
                    },
                ..
            } => {
                let error = if (400..500).contains(&status) {
                    FetchError::NotFound
                } else {
                    FetchError::ServerError
                };
                for slot in self.slots_for(viewer, party.as_ref()) {
                    if self.viewers[slot].left {
                        continue;
                    }
                    for slot in self.run_drawing(slot, true, |player, rng| player.handle_error(now, req, error, rng)) {
                        self.drive(slot, ctx);
                    }
                }
            }
            Input::Msg {
                msg:
                    Msg::DnsAnswer {
                        id,
                        target,
                        ttl_ns,
                        party,
                    },
                ..
            } => self.resolved(id, target, SimDuration::from_nanos(ttl_ns), party, ctx),
            Input::Msg {
                from,
                msg: Msg::Scrape { round },
            } => {
                for slot in 0..self.viewers.len() {
                    if !self.viewers[slot].left {
                        self.catch_up(slot, now);
                    }
                }
                let in_state = |state| {
                    (0..self.viewers.len())
                        .filter(|&slot| self.viewers[slot].state == Some(state))
                        .map(|slot| self.members(slot).len())
                        .sum::<usize>()
                };
                let stalled = in_state(ViewerState::Stalled);
                let playing = in_state(ViewerState::Playing);
                let reply = Msg::ScrapeReply {
                    round,
                    a: stalled as u64,
                    b: (stalled + playing) as u64,
                };
                ctx.send(from, reply, super::CONTROL_MESSAGE_BYTES);
            }
            Input::Finish => self.finish(now),
            _ => {}
        }
    }
}

/// The viewer an input to a cohort is for, if it is for one.
fn viewer_of(input: &Input<Msg>) -> Option<u32> {
    match input {
        Input::Timer(Msg::ViewerTimer { viewer, .. } | Msg::ViewerJoin { viewer } | Msg::ViewerLeave { viewer })
        | Input::Msg {
            msg: Msg::PlaylistReply { viewer, .. } | Msg::SegmentReply { viewer, .. } | Msg::FetchFailed { viewer, .. },
            ..
        } => Some(*viewer),
        _ => None,
    }
}
