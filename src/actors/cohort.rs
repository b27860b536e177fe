//! The viewer cohort actor: every viewer watching through one edge. Each viewer runs
//! its own `control::player::Player`; the cohort is the players' I/O: it answers
//! playlist loads from the edge's announcements (which reach it after the edge→viewer
//! latency, standing in for the request's half round trip) and times segment downloads
//! over the viewer's last mile (round trip + jitter + size ÷ downlink). Per-viewer
//! metrics stay exact; only the actor is shared.

use std::collections::VecDeque;

use rand::Rng;

use crate::control::player::{Player, PlayerAction, PlayerConfig, PlayerEvent, PlaylistEntry};
use crate::metrics::{ViewerRecord, ViewerState};
use crate::sim::{Behavior, Ctx, Input, SimRng};
use crate::time::{SimDuration, SimTime};

use super::{Deadline, Msg, SharedRecorder};

#[derive(Clone, Debug)]
pub struct CohortConfig {
    pub edge_name: String,
    /// Global ids of the viewers in this cohort.
    pub viewers: Vec<u32>,
    pub player: PlayerConfig,
    pub target_duration: SimDuration,
    pub playlist_window: usize,
    pub fps: u32,
    pub frame_bytes: u64,
    pub join_at: SimDuration,
    pub join_over: SimDuration,
    pub last_mile_latency: SimDuration,
    pub last_mile_jitter: SimDuration,
    pub downlink_bps: u64,
}

struct Viewer {
    player: Player,
    timer: Deadline,
    downloading: Option<PlaylistEntry>,
    state: Option<ViewerState>,
    since: SimTime,
    record: ViewerRecord,
}

pub struct Cohort {
    config: CohortConfig,
    viewers: Vec<Viewer>,
    playlist: VecDeque<PlaylistEntry>,
    rng: SimRng,
    recorder: SharedRecorder,
}

impl Cohort {
    pub fn new(config: CohortConfig, rng: SimRng, recorder: SharedRecorder) -> Self {
        let viewers = config
            .viewers
            .iter()
            .map(|_| Viewer {
                player: Player::new(config.player, config.target_duration),
                timer: Deadline::default(),
                downloading: None,
                state: None,
                since: SimTime::ZERO,
                record: ViewerRecord {
                    edge: config.edge_name.clone(),
                    ..ViewerRecord::default()
                },
            })
            .collect();
        Cohort {
            config,
            viewers,
            playlist: VecDeque::new(),
            rng,
            recorder,
        }
    }

    fn download_time(&mut self, frames: u64) -> SimDuration {
        let bytes = frames * self.config.frame_bytes;
        let transfer_ns = (u128::from(bytes) * 8 * 1_000_000_000 / u128::from(self.config.downlink_bps)) as u64;
        let mut time = self.config.last_mile_latency * 2 + SimDuration::from_nanos(transfer_ns);
        if !self.config.last_mile_jitter.is_zero() {
            let u: f64 = self.rng.gen();
            time += self.config.last_mile_jitter.mul_f64((-libm::log(1.0 - u)).min(10.0));
        }
        time
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
        let now = ctx.now();
        let viewer_id = self.config.viewers[slot];
        while let Some(action) = self.viewers[slot].player.poll_action() {
            match action {
                PlayerAction::LoadPlaylist => {
                    let entries = self.playlist.make_contiguous();
                    self.viewers[slot].player.handle_playlist(now, entries);
                }
                PlayerAction::LoadSegment { index } => {
                    let found = self.playlist.iter().find(|e| e.index == index).copied();
                    match found {
                        Some(entry) => {
                            let frames = entry.duration.as_nanos() * u64::from(self.config.fps) / 1_000_000_000;
                            let done = now + self.download_time(frames);
                            self.viewers[slot].downloading = Some(entry);
                            ctx.timer_at(
                                done,
                                Msg::SegmentLoaded {
                                    viewer: viewer_id,
                                    index,
                                },
                            );
                        }
                        None => self.viewers[slot].player.handle_segment_gone(now, index),
                    }
                }
            }
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
            Input::Msg {
                msg: Msg::Segment(info),
                ..
            } => {
                let duration =
                    SimDuration::from_nanos(u64::from(info.frames) * 1_000_000_000 / u64::from(self.config.fps));
                self.playlist.push_back(PlaylistEntry {
                    index: info.index,
                    duration,
                });
                while self.playlist.len() > self.config.playlist_window {
                    self.playlist.pop_front();
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
                    self.viewers[slot].player.handle_timeout(now);
                    self.drive(slot, ctx);
                }
            }
            Input::Timer(Msg::SegmentLoaded { viewer, index }) => {
                let slot = self.slot_of(viewer);
                if let Some(entry) = self.viewers[slot].downloading.take_if(|e| e.index == index) {
                    self.viewers[slot].player.handle_segment_loaded(now, entry);
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
