//! The viewer cohort actor: every viewer whose primary edge is one edge. Each viewer
//! runs its own `control::player::Player`; the cohort is the players' I/O: it sends
//! their playlist and segment requests to the edge their current route names, hands
//! them the answers, and times each segment's transfer over the viewer's own downlink
//! after its first byte. Per-viewer metrics stay exact; only the actor is shared.

use rand::Rng;

use crate::control::player::{FetchError, Player, PlayerAction, PlayerConfig, PlayerEvent, PlaylistEntry};
use crate::metrics::{ViewerRecord, ViewerState};
use crate::sim::{Behavior, Ctx, Input, NodeId, SimRng};
use crate::time::{SimDuration, SimTime};

use super::{Deadline, Msg, SharedRecorder, CONTROL_MESSAGE_BYTES};

#[derive(Clone, Debug)]
pub struct CohortConfig {
    /// Every edge, in ring order; a viewer's route `r` is edge `primary + r` (mod count).
    pub edges: Vec<NodeId>,
    pub edge_names: Vec<String>,
    /// The viewers' primary edge (an index into `edges`).
    pub primary: usize,
    /// Routes per viewer: the primary edge and `routes − 1` backups.
    pub routes: u8,
    /// Global ids of the viewers in this cohort.
    pub viewers: Vec<u32>,
    pub player: PlayerConfig,
    pub target_duration: SimDuration,
    pub fps: u32,
    pub frame_bytes: u64,
    pub join_at: SimDuration,
    pub join_over: SimDuration,
    pub downlink_bps: u64,
}

struct Viewer {
    player: Player,
    timer: Deadline,
    /// The segment arriving over the downlink, and the request it answers.
    downloading: Option<(u32, PlaylistEntry)>,
    state: Option<ViewerState>,
    since: SimTime,
    record: ViewerRecord,
}

pub struct Cohort {
    config: CohortConfig,
    viewers: Vec<Viewer>,
    rng: SimRng,
    recorder: SharedRecorder,
}

impl Cohort {
    pub fn new(config: CohortConfig, rng: SimRng, recorder: SharedRecorder) -> Self {
        let viewers = config
            .viewers
            .iter()
            .map(|_| Viewer {
                player: Player::new(config.player, config.target_duration, config.routes),
                timer: Deadline::default(),
                downloading: None,
                state: None,
                since: SimTime::ZERO,
                record: ViewerRecord {
                    edge: config.edge_names[config.primary].clone(),
                    ..ViewerRecord::default()
                },
            })
            .collect();
        Cohort {
            config,
            viewers,
            rng,
            recorder,
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
        let elapsed = at.saturating_since(viewer.since);
        match viewer.state {
            Some(ViewerState::Playing) => viewer.record.play_time += elapsed,
            Some(ViewerState::Stalled) => viewer.record.stall_time += elapsed,
            _ => {}
        }
        let from = viewer.state.replace(to);
        viewer.since = at;
        self.recorder.borrow_mut().viewer_transition(at, from, to);
    }

    /// Performs the player's requests and books what it reports, then re-arms its timer.
    fn drive(&mut self, slot: usize, ctx: &mut Ctx<'_, Msg>) {
        let viewer_id = self.config.viewers[slot];
        while let Some(action) = self.viewers[slot].player.poll_action() {
            let (edge, msg) = match action {
                PlayerAction::LoadPlaylist { req, route } => {
                    (self.edge_of(route), Msg::PlaylistRequest { viewer: viewer_id, req })
                }
                PlayerAction::LoadSegment { req, route, index } => (
                    self.edge_of(route),
                    Msg::SegmentRequest {
                        viewer: viewer_id,
                        req,
                        index,
                    },
                ),
            };
            ctx.send(edge, msg, CONTROL_MESSAGE_BYTES);
        }
        while let Some(event) = self.viewers[slot].player.poll_event() {
            match event {
                PlayerEvent::Started { at, startup } => {
                    self.viewers[slot].record.startup = Some(startup);
                    self.set_state(slot, at, ViewerState::Playing);
                }
                PlayerEvent::SegmentStarted { index, at, .. } => {
                    self.viewers[slot].record.segments_played += 1;
                    self.recorder.borrow_mut().segment_played(index, at);
                }
                PlayerEvent::Stalled { at } => {
                    self.viewers[slot].record.stalls += 1;
                    self.set_state(slot, at, ViewerState::Stalled);
                }
                PlayerEvent::Resumed { at, .. } => self.set_state(slot, at, ViewerState::Playing),
                PlayerEvent::Skipped { from, to, .. } => self.viewers[slot].record.segments_skipped += to - from,
                PlayerEvent::RequestFailed { .. } => self.viewers[slot].record.request_errors += 1,
                PlayerEvent::RouteSwitched { at, .. } => {
                    let record = &mut self.viewers[slot].record;
                    record.route_switches += 1;
                    record.first_switch_at.get_or_insert(at);
                }
            }
        }
        let viewer = &mut self.viewers[slot];
        let next = viewer.player.poll_timeout();
        viewer.timer.arm(next, ctx, Msg::ViewerTimer { viewer: viewer_id });
    }

    fn slot_of(&self, viewer: u32) -> usize {
        // Viewer ids in a cohort are ascending: a binary search finds the slot.
        self.config
            .viewers
            .binary_search(&viewer)
            .expect("viewer belongs to this cohort")
    }

    fn finish(&mut self, now: SimTime) {
        for slot in 0..self.viewers.len() {
            if let Some(state) = self.viewers[slot].state {
                // Close the open interval at the end of the run.
                let viewer = &mut self.viewers[slot];
                let elapsed = now.saturating_since(viewer.since);
                match state {
                    ViewerState::Playing => viewer.record.play_time += elapsed,
                    ViewerState::Stalled => viewer.record.stall_time += elapsed,
                    ViewerState::Starting => {}
                }
                viewer.since = now;
            }
            let viewer = &mut self.viewers[slot];
            viewer.record.first_index = viewer.player.first_index();
            viewer.record.frontier = viewer.player.frontier();
            let id = self.config.viewers[slot] as usize;
            self.recorder.borrow_mut().viewers[id] = viewer.record.clone();
        }
    }
}

impl Behavior for Cohort {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        match input {
            Input::Start => {
                let span = self.config.join_over.as_nanos();
                for &viewer in &self.config.viewers {
                    let offset = if span == 0 { 0 } else { self.rng.gen_range(0..span) };
                    let at = SimTime::ZERO + self.config.join_at + SimDuration::from_nanos(offset);
                    ctx.timer_at(at, Msg::ViewerJoin { viewer });
                }
            }
            Input::Timer(Msg::ViewerJoin { viewer }) => {
                let slot = self.slot_of(viewer);
                self.viewers[slot].record.joined_at = Some(now);
                self.viewers[slot].player.handle_join(now);
                self.set_state(slot, now, ViewerState::Starting);
                self.drive(slot, ctx);
            }
            Input::Timer(Msg::ViewerTimer { viewer }) => {
                let slot = self.slot_of(viewer);
                if self.viewers[slot].timer.fire(now) {
                    self.viewers[slot].player.handle_timeout(now, &mut self.rng);
                    self.drive(slot, ctx);
                }
            }
            Input::Msg {
                msg: Msg::PlaylistReply { viewer, req, playlist },
                ..
            } => {
                let slot = self.slot_of(viewer);
                self.viewers[slot].player.handle_playlist(now, req, &playlist);
                self.drive(slot, ctx);
            }
            Input::Msg {
                msg:
                    Msg::SegmentReply {
                        viewer,
                        req,
                        index,
                        frames,
                    },
                ..
            } => {
                let slot = self.slot_of(viewer);
                let entry = self.segment_entry(index, frames);
                let done = now + self.transfer_time(u64::from(frames));
                self.viewers[slot].player.handle_first_byte(now, req);
                self.viewers[slot].downloading = Some((req, entry));
                ctx.timer_at(done, Msg::SegmentLoaded { viewer, req, index });
                self.drive(slot, ctx);
            }
            Input::Msg {
                msg: Msg::FetchFailed { viewer, req, status },
                ..
            } => {
                let slot = self.slot_of(viewer);
                let error = if (400..500).contains(&status) {
                    FetchError::NotFound
                } else {
                    FetchError::ServerError
                };
                self.viewers[slot].player.handle_error(now, req, error, &mut self.rng);
                self.drive(slot, ctx);
            }
            Input::Timer(Msg::SegmentLoaded { viewer, req, .. }) => {
                let slot = self.slot_of(viewer);
                if let Some((_, entry)) = self.viewers[slot].downloading.take_if(|(r, _)| *r == req) {
                    self.viewers[slot].player.handle_segment_loaded(now, req, entry);
                    self.drive(slot, ctx);
                }
            }
            Input::Msg {
                from,
                msg: Msg::Scrape { round },
            } => {
                let stalled = self
                    .viewers
                    .iter()
                    .filter(|v| v.state == Some(ViewerState::Stalled))
                    .count();
                let playing = self
                    .viewers
                    .iter()
                    .filter(|v| v.state == Some(ViewerState::Playing))
                    .count();
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
