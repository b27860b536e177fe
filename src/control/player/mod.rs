//! A live HLS player: joins behind the live edge, reloads the playlist, fetches segments
//! one at a time into a buffer, plays them back to back, stalls when the buffer runs dry
//! and resumes once it has refilled; jumps ahead (losing content) when it falls out of
//! the playlist window. Requests time out, are retried with backoff (and jitter where the
//! player has it), and move to a backup route (another edge or CDN) by the rules of the
//! player being modelled.
//!
//! Playback follows hls.js (`src/config.ts`: start `liveSyncDurationCount = 3` target
//! durations behind the live edge) and RFC 8216 §6.3.4 (reload the playlist a target
//! duration after the previous load began, half that when it did not change). Retry and fallback presets are cited on
//! each constant.
//!
//! Calling contract (sans-IO): call [`Player::handle_join`] once; execute every
//! [`PlayerAction`] from [`Player::poll_action`] on the route it names and answer it with
//! [`Player::handle_playlist`], [`Player::handle_first_byte`] then
//! [`Player::handle_segment_loaded`], or [`Player::handle_error`]; answers to requests
//! the player has abandoned are ignored, and a request that is never answered times out.
//! Call [`Player::handle_timeout`] when `now` reaches [`Player::poll_timeout`]. Read what
//! the viewer experienced from [`Player::poll_event`]; each event carries its own
//! instant, which may lie before the call that reported it (playback runs without
//! wakes, see [`Player::poll_timeout`]; [`Player::advance`] brings it up to `now`).
//! `now` never goes backwards; calling [`Player::handle_timeout`] early is harmless.
//! Randomness (retry jitter) comes from the generator passed in.

mod config;
mod live_edge;
#[cfg(test)]
mod live_edge_tests;
#[cfg(test)]
mod tests;

pub use config::*;

use std::rc::Rc;

use rand::Rng;
use smallvec::SmallVec;

use crate::time::{SimDuration, SimTime};
/// One segment listed in a media playlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaylistEntry {
    pub index: u64,
    pub duration: SimDuration,
    /// An `EXT-X-GAP` entry (draft-pantos-hls-rfc8216bis §4.4.4.7): it holds no media
    /// and is never requested.
    pub gap: bool,
    /// Media the packager spliced out right before this entry (lost input, closed up
    /// with an `EXT-X-DISCONTINUITY`): the playlist's timeline falls this much behind
    /// the wall clock.
    pub spliced: SimDuration,
}

impl PlaylistEntry {
    /// A segment with media.
    pub fn media(index: u64, duration: SimDuration) -> Self {
        PlaylistEntry {
            index,
            duration,
            gap: false,
            spliced: SimDuration::ZERO,
        }
    }
}

/// An error the player cannot recover from by itself: it stops, drops what it had
/// buffered, and its host application prepares it again
/// ([`PlayerConfig::fatal_recovery`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatalError {
    /// media3's `PlaylistStuckException`: the playlist has not changed for
    /// [`PlayerConfig::playlist_stuck_after`] target durations while the loader waits on it.
    PlaylistStuck,
    /// media3's `BehindLiveWindowException`: the next segment left the playlist window.
    BehindLiveWindow,
    /// Shaka's live window ran empty: its live edge runs on the wall clock once its
    /// start is locked, so a splice leaves it ahead of the media, each update evicts
    /// segments by that edge until none is left, and no new one ever qualifies again
    /// ([`PlayerConfig::wall_clock_live_edge`]). Shaka raises no error: nothing
    /// prepares it again, and it stalls for good once its buffer is played.
    LiveWindowEmptied,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// A 4xx answer: the server does not have it.
    NotFound,
    /// A 5xx answer: the server is in trouble (overloaded, or its upstream failed).
    ServerError,
    /// No answer in time.
    Timeout,
}

/// Input/output the player asks its driver to perform: request `req` over `route`
/// (0 is the primary URL, then the backups in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerAction {
    LoadPlaylist { req: u32, route: u8 },
    LoadSegment { req: u32, route: u8, index: u64 },
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
    /// The player jumped from segment `from` to `to` without playing the segments in
    /// between: it fell out of the playlist window, or gave up loading them.
    Skipped { at: SimTime, from: u64, to: u64 },
    /// A request failed (it may be retried).
    RequestFailed {
        at: SimTime,
        segment: bool,
        error: FetchError,
    },
    /// The player moved from route `from` to route `to`.
    RouteSwitched { at: SimTime, from: u8, to: u8 },
    /// The player stopped on a fatal error; its host prepares it again at `until`
    /// (`None`: never).
    Failed {
        at: SimTime,
        error: FatalError,
        until: Option<SimTime>,
    },
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Playlist,
    Segment,
}

/// One request slot (a player has one for playlists and one for segments).
#[derive(Clone, Copy, Debug, Default)]
struct Loader {
    /// The request in flight, if any.
    in_flight: Option<u32>,
    sent_at: SimTime,
    /// When the request in flight times out.
    deadline: Option<SimTime>,
    /// Failed attempts since the last success (or route switch).
    failures: u32,
    /// The wake where a playlist answer would put the next reload has passed.
    hint_passed: bool,
}

/// One live player.
#[derive(Clone, Debug)]
pub struct Player {
    /// Shared by every player of a cohort: one copy rather than one per viewer.
    config: Rc<PlayerConfig>,
    target_duration: SimDuration,
    phase: Phase,
    joined_at: SimTime,
    window_first: u64,
    latest: Option<u64>,
    holes: Vec<u64>,
    /// When the playlist is (re)loaded next, also after a failure.
    reload_at: Option<SimTime>,
    first_index: Option<u64>,
    next_index: Option<u64>,
    /// The segment being loaded, also while it waits for a retry.
    loading: Option<u64>,
    /// When the segment is requested again after a failure.
    segment_retry_at: Option<SimTime>,
    /// Route switches made while loading the current segment.
    segment_switches: u8,
    playlist: Loader,
    segment: Loader,
    next_req: u32,
    route: u8,
    routes: u8,
    /// Per route: avoided until then.
    excluded_until: SmallVec<[SimTime; 2]>,
    /// Segments loaded and not yet played, oldest first.
    buffer: SmallVec<[PlaylistEntry; 4]>,
    buffered: SimDuration,
    playing: Option<(u64, SimTime)>,
    /// A segment whose first byte came: the request, the segment, and when its last
    /// byte will have come (the driver timed the transfer).
    arriving: Option<(u32, PlaylistEntry, SimTime)>,
    stall_started: Option<SimTime>,
    /// Stalls since the player joined (hls.js's `stallCount`).
    stalls: u32,
    /// When the playlist last gained a segment (media3's `lastSnapshotChangeMs`).
    playlist_changed_at: SimTime,
    /// Stopped on a fatal error until its host prepares it again then.
    halted_until: Option<SimTime>,
    /// Wall-clock live edge (Shaka): the newest segment when the start was locked
    /// (the first playlist), the media spliced out of the playlist since, and whether
    /// that emptied the live window for good.
    locked_newest: Option<u64>,
    lag: SimDuration,
    window_emptied: bool,
    /// Requests and experiences not yet polled: the player's I/O takes them after every
    /// call, so a few fit in place and a large audience touches no heap for them.
    actions: SmallVec<[PlayerAction; 2]>,
    events: SmallVec<[PlayerEvent; 2]>,
}

impl Player {
    /// A player with `routes` ways to the stream (at least 1: the primary URL).
    pub fn new(config: impl Into<Rc<PlayerConfig>>, target_duration: SimDuration, routes: u8) -> Self {
        let routes = routes.max(1);
        Player {
            config: config.into(),
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
            segment_retry_at: None,
            segment_switches: 0,
            playlist: Loader::default(),
            segment: Loader::default(),
            next_req: 0,
            route: 0,
            routes,
            excluded_until: if routes > 1 {
                smallvec::smallvec![SimTime::ZERO; usize::from(routes)]
            } else {
                SmallVec::new()
            },
            buffer: SmallVec::new(),
            buffered: SimDuration::ZERO,
            playing: None,
            arriving: None,
            stall_started: None,
            stalls: 0,
            playlist_changed_at: SimTime::ZERO,
            halted_until: None,
            locked_newest: None,
            lag: SimDuration::ZERO,
            window_emptied: false,
            actions: SmallVec::new(),
            events: SmallVec::new(),
        }
    }

    /// The phase as of the last call: playback since then is caught up by
    /// [`Player::advance`].
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The route requests go to now.
    pub fn route(&self) -> u8 {
        self.route
    }

    /// The segment request in flight, if any: answers to any other are stale.
    pub fn segment_request(&self) -> Option<u32> {
        self.segment.in_flight
    }

    /// The first segment this player was to play, once it has chosen one.
    pub fn first_index(&self) -> Option<u64> {
        self.first_index
    }

    /// The smallest segment index this player may still play: every segment below it
    /// was either played or passed over (as of the last call, like [`Player::phase`]).
    pub fn frontier(&self) -> Option<u64> {
        self.buffer
            .first()
            .map(|e| e.index)
            .or(self.loading)
            .or(self.next_index)
    }

    pub fn handle_join(&mut self, now: SimTime) {
        if self.phase == Phase::Idle {
            self.phase = Phase::Starting;
            self.joined_at = now;
            self.request_playlist(now);
        }
    }

    fn take_req(&mut self) -> u32 {
        let req = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        req
    }

    fn request_playlist(&mut self, now: SimTime) {
        let req = self.take_req();
        self.reload_at = None;
        self.playlist.in_flight = Some(req);
        self.playlist.sent_at = now;
        self.playlist.hint_passed = false;
        self.playlist.deadline = Some(now + self.config.playlist_retry.first_byte_timeout);
        self.actions.push(PlayerAction::LoadPlaylist { req, route: self.route });
    }

    fn request_segment(&mut self, now: SimTime, index: u64) {
        let req = self.take_req();
        self.segment_retry_at = None;
        self.loading = Some(index);
        self.segment.in_flight = Some(req);
        self.segment.sent_at = now;
        self.segment.deadline = Some(now + self.config.segment_retry.first_byte_timeout);
        self.actions.push(PlayerAction::LoadSegment {
            req,
            route: self.route,
            index,
        });
    }

    /// A playlist arrived in answer to `req`; `entries` are in index order. Indices
    /// between two entries were never published (a packager splices lost input out,
    /// RFC 8216 §6.2.1's contiguous media sequence numbers) or never reached this
    /// server; the player passes over them, as it passes over `EXT-X-GAP` entries.
    pub fn handle_playlist(&mut self, now: SimTime, req: u32, entries: &[PlaylistEntry]) {
        self.advance(now);
        if self.playlist.in_flight != Some(req) {
            return;
        }
        // RFC 8216 §6.3.4 measures the wait from when the client *began* loading the
        // playlist, and hls.js (`requestScheduled`), Shaka (less its average update
        // time) and media3 (less `loadDurationMs`) all do: reloads keep a fixed cadence
        // instead of drifting later by a round trip each time, which would walk the
        // player's discovery of new segments across the whole target duration.
        let started = self.playlist.sent_at;
        self.playlist = Loader::default();
        let newest = entries.last().map(|e| e.index);
        let changed = newest != self.latest;
        let wait = if changed {
            self.target_duration
        } else {
            SimDuration::from_nanos(self.target_duration.as_nanos() / 2)
        };
        self.reload_at = Some((started + wait).max(now));
        if changed || self.latest.is_none() {
            self.playlist_changed_at = now;
        }
        let (Some(first), Some(latest)) = (entries.first(), newest) else {
            return;
        };
        self.window_first = first.index;
        self.latest = Some(latest);
        self.holes.clear();
        let mut previous: Option<u64> = None;
        for entry in entries {
            if let Some(previous) = previous {
                self.holes.extend(previous + 1..entry.index);
            }
            if entry.gap {
                self.holes.push(entry.index);
            }
            previous = Some(entry.index);
        }
        if self.config.wall_clock_live_edge {
            self.follow_wall_clock(now, entries);
        }
        let live_start = self.live_start(entries);
        match self.next_index {
            None => {
                self.next_index = Some(live_start);
                self.first_index = Some(live_start);
            }
            // A stranded Shaka player's window holds nothing to re-sync to.
            Some(next) if next < first.index && self.loading.is_none() && !self.window_emptied => {
                if self.config.behind_window_fatal {
                    // The host seeks to the default position: what was buffered goes too.
                    let from = self.buffer.first().map_or(next, |e| e.index);
                    self.events.push(PlayerEvent::Skipped {
                        at: now,
                        from,
                        to: live_start,
                    });
                    self.halt(now, FatalError::BehindLiveWindow, Some(live_start));
                    return;
                }
                self.events.push(PlayerEvent::Skipped {
                    at: now,
                    from: next,
                    to: live_start,
                });
                self.next_index = Some(live_start);
            }
            Some(_) => {}
        }
        if let Some(coefficient) = self.config.playlist_stuck_after {
            let stuck_after = self.target_duration.mul_f64(coefficient);
            if !changed && now - self.playlist_changed_at > stuck_after && self.waits_on_playlist() {
                self.halt(now, FatalError::PlaylistStuck, None);
                return;
            }
        }
        self.maybe_load(now);
    }

    /// The first byte of the answer to `req` arrived: from now on only the load
    /// timeout applies to it.
    pub fn handle_first_byte(&mut self, now: SimTime, req: u32) {
        self.advance(now);
        for (loader, policy) in [
            (&mut self.playlist, &self.config.playlist_retry),
            (&mut self.segment, &self.config.segment_retry),
        ] {
            if loader.in_flight == Some(req) {
                loader.deadline = Some(loader.sent_at + policy.load_timeout);
            }
        }
    }

    /// The first byte of segment `entry` came in answer to `req`, and its last byte
    /// will have come at `loaded_at`: [`Player::handle_first_byte`] now and
    /// [`Player::handle_segment_loaded`] at `loaded_at`, without a call then unless the
    /// load lets the player do something at that instant ([`Player::poll_timeout`]).
    /// A timeout or a switch before `loaded_at` abandons it as it would the request.
    pub fn handle_segment_arriving(&mut self, now: SimTime, req: u32, entry: PlaylistEntry, loaded_at: SimTime) {
        self.handle_first_byte(now, req);
        if self.segment.in_flight == Some(req) {
            self.arriving = Some((req, entry, loaded_at.max(now)));
        }
    }

    /// Segment `entry` finished loading in answer to `req`. (A segment ending at this
    /// very instant finds it in the buffer.)
    pub fn handle_segment_loaded(&mut self, now: SimTime, req: u32, entry: PlaylistEntry) {
        self.arriving = Some((req, entry, now));
        self.advance(now);
    }

    fn segment_loaded(&mut self, now: SimTime, req: u32, entry: PlaylistEntry) {
        if self.segment.in_flight != Some(req) || self.loading != Some(entry.index) {
            return;
        }
        self.segment = Loader::default();
        self.segment_switches = 0;
        self.loading = None;
        self.buffer.push(entry);
        self.buffered += entry.duration;
        match self.phase {
            Phase::Starting if self.buffered >= self.config.start_buffer => {
                self.events.push(PlayerEvent::Started {
                    at: now,
                    startup: now - self.joined_at,
                });
                self.play_next(now);
            }
            Phase::Stalled if self.buffered >= self.config.resume_buffer => {
                let since = self.stall_started.take().expect("stalled players know when");
                self.events.push(PlayerEvent::Resumed {
                    at: now,
                    stalled: now - since,
                });
                self.play_next(now);
            }
            _ => {}
        }
        self.maybe_load(now);
    }

    /// Request `req` was answered with an error.
    pub fn handle_error(&mut self, now: SimTime, req: u32, error: FetchError, rng: &mut impl Rng) {
        self.advance(now);
        if self.playlist.in_flight == Some(req) {
            self.fail(now, Kind::Playlist, error, rng);
        } else if self.segment.in_flight == Some(req) {
            self.fail(now, Kind::Segment, error, rng);
        }
        self.maybe_load(now);
    }

    fn loader(&mut self, kind: Kind) -> &mut Loader {
        match kind {
            Kind::Playlist => &mut self.playlist,
            Kind::Segment => &mut self.segment,
        }
    }

    /// Books a failed attempt and decides: retry after a delay, move to the next route,
    /// or give up.
    fn fail(&mut self, now: SimTime, kind: Kind, error: FetchError, rng: &mut impl Rng) {
        let policy = match kind {
            Kind::Playlist => self.config.playlist_retry,
            Kind::Segment => self.config.segment_retry,
        };
        let loader = self.loader(kind);
        loader.in_flight = None;
        loader.deadline = None;
        let retry = loader.failures;
        loader.failures += 1;
        self.events.push(PlayerEvent::RequestFailed {
            at: now,
            segment: kind == Kind::Segment,
            error,
        });
        let exhausted = retry >= policy.allowed(error);
        let alternatives = self.routes > 1;
        let timeout = error == FetchError::Timeout;
        if self.config.switch_on == SwitchOn::EveryRetry {
            if exhausted {
                self.give_up(now, kind);
            } else {
                if alternatives {
                    self.switch_route(now, kind);
                }
                let delay = policy.delay(retry, timeout, rng);
                self.retry_at(kind, now + delay, now);
            }
            return;
        }
        let http_error = !timeout && self.config.switch_on == SwitchOn::HttpErrorOrExhausted;
        if alternatives && (exhausted || http_error) {
            let tried_every_route = kind == Kind::Segment && self.segment_switches + 1 >= self.routes;
            if tried_every_route {
                self.give_up(now, kind);
            } else {
                if kind == Kind::Segment {
                    self.segment_switches += 1;
                }
                self.switch_route(now, kind);
                self.loader(kind).failures = 0;
                self.retry_at(kind, now, now);
            }
        } else if exhausted {
            self.give_up(now, kind);
        } else {
            let delay = policy.delay(retry, timeout, rng);
            self.retry_at(kind, now + delay, now);
        }
    }

    /// Sends the request of `kind` again at `at`: now if that is now.
    fn retry_at(&mut self, kind: Kind, at: SimTime, now: SimTime) {
        match kind {
            Kind::Playlist if at <= now => self.request_playlist(now),
            Kind::Playlist => self.reload_at = Some(at),
            Kind::Segment if at <= now => {
                let index = self.loading.expect("a segment retry has an index");
                self.request_segment(now, index);
            }
            Kind::Segment => self.segment_retry_at = Some(at),
        }
    }

    /// Out of retries and routes. A segment is passed over (its frames are lost to this
    /// viewer); the playlist is tried again after the longest retry delay, as players'
    /// host applications reload a player that reported a fatal error.
    fn give_up(&mut self, now: SimTime, kind: Kind) {
        self.loader(kind).failures = 0;
        match kind {
            Kind::Segment => {
                let index = self.loading.take().expect("a failing segment load has an index");
                self.segment_retry_at = None;
                self.segment_switches = 0;
                self.events.push(PlayerEvent::Skipped {
                    at: now,
                    from: index,
                    to: index + 1,
                });
            }
            Kind::Playlist => self.reload_at = Some(now + self.config.playlist_retry.max_retry_delay),
        }
    }

    /// Moves to the next route that is not excluded (or the one excluded the shortest),
    /// and moves the other request slot's work along with it.
    fn switch_route(&mut self, now: SimTime, failing: Kind) {
        let from = self.route;
        if !self.config.route_exclusion.is_zero() {
            self.excluded_until[usize::from(from)] = now + self.config.route_exclusion;
        }
        let candidates = (1..self.routes).map(|step| (from + step) % self.routes);
        let to = candidates
            .clone()
            .find(|&r| self.excluded_until[usize::from(r)] <= now)
            .or_else(|| candidates.min_by_key(|&r| self.excluded_until[usize::from(r)]))
            .expect("switching needs at least two routes");
        self.route = to;
        self.events.push(PlayerEvent::RouteSwitched { at: now, from, to });
        // Work in flight on the old route is abandoned and redone on the new one.
        if failing != Kind::Playlist && (self.playlist.in_flight.is_some() || self.reload_at.is_some()) {
            self.playlist = Loader::default();
            self.retry_at(Kind::Playlist, now, now);
        }
        if failing != Kind::Segment && self.loading.is_some() {
            self.segment = Loader::default();
            self.retry_at(Kind::Segment, now, now);
        }
    }

    fn play_next(&mut self, at: SimTime) {
        let entry = pop_front(&mut self.buffer).expect("only called with a buffered segment");
        self.buffered = self.buffered - entry.duration;
        self.playing = Some((entry.index, at + entry.duration));
        self.phase = Phase::Playing;
        self.events.push(PlayerEvent::SegmentStarted {
            index: entry.index,
            at,
            duration: entry.duration,
        });
    }

    fn maybe_load(&mut self, now: SimTime) {
        if self.loading.is_some()
            || self.buffered >= self.config.max_buffer
            || self.halted_until.is_some()
            || self.window_emptied
        {
            return;
        }
        let (Some(hole_start), Some((next, requestable))) = (self.next_index, self.next_to_load()) else {
            return;
        };
        if next > hole_start {
            // Not in the playlist: never published, or never delivered to this server.
            // The driver tells which (the frames of a published one are lost to this viewer).
            self.events.push(PlayerEvent::Skipped {
                at: now,
                from: hole_start,
                to: next,
            });
        }
        self.next_index = Some(next);
        if requestable {
            self.next_index = Some(next + 1);
            self.segment_switches = 0;
            self.request_segment(now, next);
        }
    }

    /// When the player must be called next ([`Player::handle_timeout`]). Playback
    /// itself asks for no wake: segments that began and a buffer that ran dry in the
    /// meantime are caught up, each at its own instant, by whatever call comes next
    /// ([`Player::advance`]). Only where a segment ending lets a load start (a full
    /// buffer drains below `max_buffer`) is its end a wake.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let blocked = self.loading.is_none() && self.buffered >= self.config.max_buffer;
        let ends = self.playing.filter(|_| blocked).map(|(_, ends_at)| ends_at);
        let reload = self.reload_at.filter(|_| self.playlist.in_flight.is_none());
        // While a playlist is on its way, wake where its answer will most likely put
        // the next reload (a target duration after sending, RFC 8216 §6.3.4): the
        // answer then finds that wake already set, instead of one at the timeout
        // that would fire for nothing.
        let expected_reload = (self.playlist.in_flight.is_some() && !self.playlist.hint_passed)
            .then(|| self.playlist.sent_at + self.target_duration);
        let loaded = self
            .arriving
            .filter(|&(req, ..)| self.segment.in_flight == Some(req) && self.load_would_act())
            .map(|(.., at)| at);
        [
            ends,
            loaded,
            reload,
            expected_reload,
            self.playlist.deadline,
            self.segment.deadline,
            self.segment_retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether a segment completing now would make [`Player::maybe_load`] request or
    /// skip anything, whatever the buffer holds by then (so a load that lets a later
    /// segment end unblock the buffer is on time too).
    fn load_would_act(&self) -> bool {
        self.next_to_load()
            .is_some_and(|(next, requestable)| requestable || Some(next) != self.next_index)
    }

    /// The segment to load next, past any holes, and whether it can be requested now
    /// (listed and still in the window); nothing before the first playlist.
    fn next_to_load(&self) -> Option<(u64, bool)> {
        let (Some(mut next), Some(latest)) = (self.next_index, self.latest) else {
            return None;
        };
        while self.holes.binary_search(&next).is_ok() {
            next += 1;
        }
        Some((next, next <= latest && next >= self.window_first))
    }

    /// Plays on to `now`, in time order: loads whose last byte came join the buffer,
    /// and each segment that ended starts the next buffered one, or the buffer runs dry. Every `handle_*` call does this first; a driver calls it to read
    /// the viewer's state at `now` (events are reported with their own instants).
    pub fn advance(&mut self, now: SimTime) {
        loop {
            let ends = self.playing.map(|(_, ends_at)| ends_at).filter(|&at| at <= now);
            let loaded = self.arriving.map(|(_, _, at)| at).filter(|&at| at <= now);
            match (ends, loaded) {
                // A segment completing as another ends is in the buffer in time.
                (_, Some(loaded)) if ends.is_none_or(|ends| loaded <= ends) => {
                    let (req, entry, _) = self.arriving.take().expect("a load to complete");
                    let acted = self.actions.len();
                    self.segment_loaded(loaded, req, entry);
                    debug_assert!(
                        loaded == now || self.actions.len() == acted,
                        "a load that acts is woken for (load_would_act)"
                    );
                }
                (Some(ends_at), _) => {
                    self.playing = None;
                    if self.buffer.is_empty() {
                        self.phase = Phase::Stalled;
                        self.stalls = self.stalls.saturating_add(1);
                        self.stall_started = Some(ends_at);
                        self.events.push(PlayerEvent::Stalled { at: ends_at });
                    } else {
                        self.play_next(ends_at);
                    }
                }
                _ => return,
            }
        }
    }

    /// Whether a request has timed out by `now`: only then may [`Player::handle_timeout`]
    /// retry it (and draw a jitter).
    pub fn timed_out_by(&self, now: SimTime) -> bool {
        let due = |deadline: Option<SimTime>| deadline.is_some_and(|at| at <= now);
        due(self.playlist.deadline) || due(self.segment.deadline)
    }

    pub fn handle_timeout(&mut self, now: SimTime, rng: &mut impl Rng) {
        self.advance(now);
        if self.playlist.in_flight.is_some() && self.playlist.sent_at + self.target_duration <= now {
            self.playlist.hint_passed = true;
        }
        if self.playlist.deadline.is_some_and(|at| at <= now) {
            self.fail(now, Kind::Playlist, FetchError::Timeout, rng);
        }
        if self.segment.deadline.is_some_and(|at| at <= now) {
            self.fail(now, Kind::Segment, FetchError::Timeout, rng);
        }
        if self.playlist.in_flight.is_none() && self.reload_at.is_some_and(|at| at <= now) {
            self.halted_until = None;
            self.request_playlist(now);
        }
        if self.segment_retry_at.is_some_and(|at| at <= now) {
            let index = self.loading.expect("a pending segment retry has an index");
            self.request_segment(now, index);
        }
        self.maybe_load(now);
    }

    pub fn poll_action(&mut self) -> Option<PlayerAction> {
        pop_front(&mut self.actions)
    }

    pub fn poll_event(&mut self) -> Option<PlayerEvent> {
        pop_front(&mut self.events)
    }
}

/// The oldest item of a short in-place queue (a few items: shifting is cheaper than a
/// ring's bookkeeping).
fn pop_front<A: smallvec::Array>(queue: &mut SmallVec<A>) -> Option<A::Item> {
    (!queue.is_empty()).then(|| queue.remove(0))
}
