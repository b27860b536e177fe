//! A live HLS player: joins behind the live edge, reloads the playlist, fetches segments
//! one at a time into a buffer, plays them back to back, stalls when the buffer runs dry
//! and resumes once it has refilled; jumps ahead (losing content) when it falls out of
//! the playlist window.
//!
//! Behaviour follows hls.js (`src/config.ts`: start `liveSyncDurationCount = 3` target
//! durations behind the live edge) and RFC 8216 §6.3.4 (reload the playlist every target
//! duration, half that when it did not change).
//!
//! Calling contract (sans-IO): call [`Player::handle_join`] once; execute every
//! [`PlayerAction`] from [`Player::poll_action`] and answer with
//! [`Player::handle_playlist`] / [`Player::handle_segment_loaded`]; call
//! [`Player::handle_timeout`] when `now` reaches [`Player::poll_timeout`]. Read what the
//! viewer experienced from [`Player::poll_event`]. `now` never goes backwards.

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// Tunables of a player; see the presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayerConfig {
    /// How many segments behind the newest one playback starts.
    pub hold_back_segments: u32,
    /// Media that must be buffered before playback starts (at least one segment).
    pub start_buffer: SimDuration,
    /// Media that must be buffered before playback resumes after a stall.
    pub resume_buffer: SimDuration,
    /// Stop fetching ahead once this much media is buffered.
    pub max_buffer: SimDuration,
}

impl PlayerConfig {
    /// hls.js defaults: 3 segments behind live, play as soon as a segment is buffered,
    /// `maxBufferLength` 30 s (hls.js `src/config.ts`).
    pub const HLS_JS: PlayerConfig = PlayerConfig {
        hold_back_segments: 3,
        start_buffer: SimDuration::ZERO,
        resume_buffer: SimDuration::ZERO,
        max_buffer: SimDuration::from_secs(30),
    };

    /// ExoPlayer (media3 `DefaultLoadControl`): play after 1 s buffered, resume after
    /// 2 s following a rebuffer, buffer target 50 s.
    pub const EXOPLAYER: PlayerConfig = PlayerConfig {
        hold_back_segments: 3,
        start_buffer: SimDuration::from_secs(1),
        resume_buffer: SimDuration::from_secs(2),
        max_buffer: SimDuration::from_secs(50),
    };

    /// A preset by its scenario name.
    pub fn preset(name: &str) -> Option<PlayerConfig> {
        match name {
            "hls.js" => Some(Self::HLS_JS),
            "exoplayer" => Some(Self::EXOPLAYER),
            _ => None,
        }
    }

    pub const PRESETS: &'static [&'static str] = &["hls.js", "exoplayer"];
}

/// One segment listed in a media playlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaylistEntry {
    pub index: u64,
    pub duration: SimDuration,
}

/// Input/output the player asks its driver to perform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerAction {
    LoadPlaylist,
    LoadSegment { index: u64 },
}

/// What the viewer experienced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerEvent {
    /// First frame shown; `startup` is join → first frame.
    Started { at: SimTime, startup: SimDuration },
    /// Segment `index` began playing at `at` and lasts `duration`.
    SegmentStarted {
        index: u64,
        at: SimTime,
        duration: SimDuration,
    },
    /// The buffer ran dry.
    Stalled { at: SimTime },
    /// Playback resumed after `stalled` of rebuffering.
    Resumed { at: SimTime, stalled: SimDuration },
    /// The player fell out of the playlist window and jumped from segment `from` to `to`
    /// without playing the segments in between.
    Skipped { at: SimTime, from: u64, to: u64 },
}

/// Where the player is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Idle,
    /// Waiting for a playlist with segments, then for the start buffer.
    Starting,
    Playing,
    Stalled,
}

/// One live player.
#[derive(Clone, Debug)]
pub struct Player {
    config: PlayerConfig,
    target_duration: SimDuration,
    phase: Phase,
    joined_at: SimTime,
    window_first: u64,
    latest: Option<u64>,
    holes: Vec<u64>,
    reload_at: Option<SimTime>,
    first_index: Option<u64>,
    next_index: Option<u64>,
    loading: Option<u64>,
    buffer: VecDeque<PlaylistEntry>,
    buffered: SimDuration,
    playing: Option<(u64, SimTime)>,
    stall_started: Option<SimTime>,
    actions: VecDeque<PlayerAction>,
    events: VecDeque<PlayerEvent>,
}

impl Player {
    pub fn new(config: PlayerConfig, target_duration: SimDuration) -> Self {
        Player {
            config,
            target_duration,
            phase: Phase::Idle,
            joined_at: SimTime::ZERO,
            window_first: 0,
            latest: None,
            holes: Vec::new(),
            reload_at: None,
            first_index: None,
            next_index: None,
            loading: None,
            buffer: VecDeque::new(),
            buffered: SimDuration::ZERO,
            playing: None,
            stall_started: None,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The first segment this player was to play, once it has chosen one.
    pub fn first_index(&self) -> Option<u64> {
        self.first_index
    }

    /// The smallest segment index this player may still play: every segment below it
    /// was either played or passed over.
    pub fn frontier(&self) -> Option<u64> {
        self.buffer
            .front()
            .map(|e| e.index)
            .or(self.loading)
            .or(self.next_index)
    }

    pub fn handle_join(&mut self, now: SimTime) {
        if self.phase == Phase::Idle {
            self.phase = Phase::Starting;
            self.joined_at = now;
            self.actions.push_back(PlayerAction::LoadPlaylist);
        }
    }

    /// A playlist arrived; `entries` are in index order (missing indices are gaps that
    /// will never be filled).
    pub fn handle_playlist(&mut self, now: SimTime, entries: &[PlaylistEntry]) {
        let newest = entries.last().map(|e| e.index);
        let changed = newest != self.latest;
        self.reload_at = Some(if changed {
            now + self.target_duration
        } else {
            now + SimDuration::from_nanos(self.target_duration.as_nanos() / 2)
        });
        let (Some(first), Some(latest)) = (entries.first(), newest) else {
            return;
        };
        self.window_first = first.index;
        self.latest = Some(latest);
        self.holes.clear();
        for pair in entries.windows(2) {
            self.holes.extend(pair[0].index + 1..pair[1].index);
        }
        let live_start = (latest + 1)
            .saturating_sub(u64::from(self.config.hold_back_segments))
            .max(first.index);
        match self.next_index {
            None => {
                self.next_index = Some(live_start);
                self.first_index = Some(live_start);
            }
            Some(next) if next < first.index && self.loading.is_none() => {
                self.events.push_back(PlayerEvent::Skipped {
                    at: now,
                    from: next,
                    to: live_start,
                });
                self.next_index = Some(live_start);
            }
            Some(_) => {}
        }
        self.maybe_load();
    }

    pub fn handle_segment_loaded(&mut self, now: SimTime, entry: PlaylistEntry) {
        if self.loading != Some(entry.index) {
            return;
        }
        self.loading = None;
        self.buffer.push_back(entry);
        self.buffered += entry.duration;
        match self.phase {
            Phase::Starting if self.buffered >= self.config.start_buffer => {
                self.events.push_back(PlayerEvent::Started {
                    at: now,
                    startup: now - self.joined_at,
                });
                self.play_next(now);
            }
            Phase::Stalled if self.buffered >= self.config.resume_buffer => {
                let since = self.stall_started.take().expect("stalled players know when");
                self.events.push_back(PlayerEvent::Resumed {
                    at: now,
                    stalled: now - since,
                });
                self.play_next(now);
            }
            _ => {}
        }
        self.maybe_load();
    }

    /// Segment `index` could not be loaded because it left the server's window: pass
    /// over it (its frames are lost to this viewer) and go on with the next.
    pub fn handle_segment_gone(&mut self, now: SimTime, index: u64) {
        if self.loading != Some(index) {
            return;
        }
        self.loading = None;
        self.events.push_back(PlayerEvent::Skipped {
            at: now,
            from: index,
            to: index + 1,
        });
        self.maybe_load();
    }

    fn play_next(&mut self, at: SimTime) {
        let entry = self.buffer.pop_front().expect("only called with a buffered segment");
        self.buffered = self.buffered - entry.duration;
        self.playing = Some((entry.index, at + entry.duration));
        self.phase = Phase::Playing;
        self.events.push_back(PlayerEvent::SegmentStarted {
            index: entry.index,
            at,
            duration: entry.duration,
        });
    }

    fn maybe_load(&mut self) {
        if self.loading.is_some() || self.buffered >= self.config.max_buffer {
            return;
        }
        let (Some(mut next), Some(latest)) = (self.next_index, self.latest) else {
            return;
        };
        while self.holes.binary_search(&next).is_ok() {
            next += 1;
        }
        self.next_index = Some(next);
        if next <= latest && next >= self.window_first {
            self.loading = Some(next);
            self.next_index = Some(next + 1);
            self.actions.push_back(PlayerAction::LoadSegment { index: next });
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        let ends = self.playing.map(|(_, ends_at)| ends_at);
        [ends, self.reload_at].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        while let Some((_, ends_at)) = self.playing {
            if ends_at > now {
                break;
            }
            self.playing = None;
            if self.buffer.is_empty() {
                self.phase = Phase::Stalled;
                self.stall_started = Some(ends_at);
                self.events.push_back(PlayerEvent::Stalled { at: ends_at });
            } else {
                self.play_next(ends_at);
            }
        }
        if self.reload_at.is_some_and(|at| at <= now) {
            self.reload_at = None;
            self.actions.push_back(PlayerAction::LoadPlaylist);
        }
        self.maybe_load();
    }

    pub fn poll_action(&mut self) -> Option<PlayerAction> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<PlayerEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: SimDuration = SimDuration::from_secs(2);

    fn entries(indices: &[u64]) -> Vec<PlaylistEntry> {
        indices
            .iter()
            .map(|&index| PlaylistEntry { index, duration: SEG })
            .collect()
    }

    fn t(ms: u64) -> SimTime {
        SimTime::from_millis(ms)
    }

    fn drain(player: &mut Player) -> (Vec<PlayerAction>, Vec<PlayerEvent>) {
        (
            std::iter::from_fn(|| player.poll_action()).collect(),
            std::iter::from_fn(|| player.poll_event()).collect(),
        )
    }

    #[test]
    fn starts_three_segments_behind_live() {
        let mut p = Player::new(PlayerConfig::HLS_JS, SEG);
        p.handle_join(t(0));
        assert_eq!(drain(&mut p).0, vec![PlayerAction::LoadPlaylist]);
        p.handle_playlist(t(10), &entries(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert_eq!(drain(&mut p).0, vec![PlayerAction::LoadSegment { index: 7 }]);
        assert_eq!(p.first_index(), Some(7));
        p.handle_segment_loaded(
            t(300),
            PlaylistEntry {
                index: 7,
                duration: SEG,
            },
        );
        let (actions, events) = drain(&mut p);
        assert_eq!(actions, vec![PlayerAction::LoadSegment { index: 8 }]);
        assert_eq!(
            events,
            vec![
                PlayerEvent::Started {
                    at: t(300),
                    startup: SimDuration::from_millis(300)
                },
                PlayerEvent::SegmentStarted {
                    index: 7,
                    at: t(300),
                    duration: SEG
                }
            ]
        );
        // Reload one target duration after a changed playlist, playback ends at 2.3 s.
        assert_eq!(p.poll_timeout(), Some(t(2_010)));
    }

    #[test]
    fn stalls_when_dry_and_resumes_with_exact_stall_time() {
        let mut p = Player::new(PlayerConfig::HLS_JS, SEG);
        p.handle_join(t(0));
        p.handle_playlist(t(0), &entries(&[0]));
        p.handle_segment_loaded(
            t(100),
            PlaylistEntry {
                index: 0,
                duration: SEG,
            },
        );
        drain(&mut p);
        // Nothing new: playback of segment 0 ends at 2.1 s and the player stalls.
        p.handle_timeout(t(1_000));
        // An unchanged playlist is reloaded after half a target duration.
        p.handle_playlist(t(1_000), &entries(&[0]));
        assert_eq!(p.poll_timeout(), Some(t(2_000)));
        p.handle_timeout(t(2_000));
        p.handle_playlist(t(2_000), &entries(&[0]));
        p.handle_timeout(t(2_100));
        assert_eq!(p.phase(), Phase::Stalled);
        drain(&mut p);
        p.handle_timeout(t(3_000));
        p.handle_playlist(t(3_000), &entries(&[0, 1]));
        assert_eq!(
            drain(&mut p).0,
            vec![PlayerAction::LoadPlaylist, PlayerAction::LoadSegment { index: 1 }]
        );
        p.handle_segment_loaded(
            t(3_400),
            PlaylistEntry {
                index: 1,
                duration: SEG,
            },
        );
        let (_, events) = drain(&mut p);
        assert_eq!(
            events[0],
            PlayerEvent::Resumed {
                at: t(3_400),
                stalled: SimDuration::from_millis(1_300)
            }
        );
    }

    #[test]
    fn skips_gaps_that_will_never_be_filled() {
        let mut p = Player::new(PlayerConfig::HLS_JS, SEG);
        p.handle_join(t(0));
        p.handle_playlist(t(0), &entries(&[0, 1, 2]));
        drain(&mut p);
        p.handle_segment_loaded(
            t(10),
            PlaylistEntry {
                index: 0,
                duration: SEG,
            },
        );
        p.handle_segment_loaded(
            t(20),
            PlaylistEntry {
                index: 1,
                duration: SEG,
            },
        );
        p.handle_segment_loaded(
            t(30),
            PlaylistEntry {
                index: 2,
                duration: SEG,
            },
        );
        drain(&mut p);
        // Segments 3..=5 were never published (ingest outage): the player moves to 6.
        p.handle_timeout(t(2_000));
        p.handle_playlist(t(2_000), &entries(&[0, 1, 2, 6]));
        let (actions, events) = drain(&mut p);
        assert_eq!(
            actions,
            vec![PlayerAction::LoadPlaylist, PlayerAction::LoadSegment { index: 6 }]
        );
        assert!(events.iter().all(|e| !matches!(e, PlayerEvent::Skipped { .. })));
    }

    #[test]
    fn jumps_to_live_when_it_falls_out_of_the_window() {
        let mut p = Player::new(PlayerConfig::HLS_JS, SEG);
        p.handle_join(t(0));
        p.handle_playlist(t(0), &entries(&[0]));
        p.handle_segment_loaded(
            t(10),
            PlaylistEntry {
                index: 0,
                duration: SEG,
            },
        );
        drain(&mut p);
        // The player's next segment (1) has left a 3-segment window [10, 12].
        p.handle_timeout(t(2_000));
        p.handle_playlist(t(2_000), &entries(&[10, 11, 12]));
        let (actions, events) = drain(&mut p);
        assert_eq!(
            events,
            vec![PlayerEvent::Skipped {
                at: t(2_000),
                from: 1,
                to: 10
            }]
        );
        assert_eq!(
            actions,
            vec![PlayerAction::LoadPlaylist, PlayerAction::LoadSegment { index: 10 }]
        );
    }

    #[test]
    fn exoplayer_waits_for_its_start_buffer() {
        let half = SimDuration::from_millis(500);
        let mut p = Player::new(PlayerConfig::EXOPLAYER, half);
        p.handle_join(t(0));
        p.handle_playlist(
            t(0),
            &[
                PlaylistEntry {
                    index: 0,
                    duration: half,
                },
                PlaylistEntry {
                    index: 1,
                    duration: half,
                },
            ],
        );
        p.handle_segment_loaded(
            t(50),
            PlaylistEntry {
                index: 0,
                duration: half,
            },
        );
        assert_eq!(p.phase(), Phase::Starting);
        p.handle_segment_loaded(
            t(90),
            PlaylistEntry {
                index: 1,
                duration: half,
            },
        );
        assert_eq!(p.phase(), Phase::Playing);
    }
}
