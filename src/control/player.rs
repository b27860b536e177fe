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

use std::rc::Rc;

use rand::Rng;
use smallvec::SmallVec;

use crate::time::{SimDuration, SimTime};

/// How retry delays grow from one retry of a request to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Growth {
    /// `delay × 2^k` before the k-th retry (k from 0): hls.js's default backoff, and
    /// Shaka's `backoffFactor = 2`.
    Exponential,
    /// `delay × k`: ExoPlayer's `(errorCount − 1) × 1000 ms`.
    Linear,
}

/// How one kind of request (playlist or segment) is timed out and retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// No first byte by then (from sending): the attempt has timed out.
    pub first_byte_timeout: SimDuration,
    /// Not complete by then (from sending): the attempt has timed out.
    pub load_timeout: SimDuration,
    /// Retries allowed when attempts time out.
    pub timeout_retries: u32,
    pub timeout_retry_delay: SimDuration,
    /// Retries allowed after error answers (4xx only if `retry_not_found`).
    pub error_retries: u32,
    pub error_retry_delay: SimDuration,
    pub max_retry_delay: SimDuration,
    pub growth: Growth,
    /// Each delay is scaled by a uniform factor in `[1 − jitter, 1 + jitter]`.
    pub jitter: f64,
    /// Whether a 4xx is retried on the same route; hls.js does not retry it.
    pub retry_not_found: bool,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first) after a timeout or an
    /// error answer. Draws from `rng` only when the policy has jitter.
    pub fn delay(&self, retry: u32, timeout: bool, rng: &mut impl Rng) -> SimDuration {
        let base = if timeout {
            self.timeout_retry_delay
        } else {
            self.error_retry_delay
        };
        let grown = match self.growth {
            Growth::Exponential => base * (1u64 << retry.min(20)),
            Growth::Linear => base * u64::from(retry),
        };
        let capped = grown.min(self.max_retry_delay);
        if self.jitter > 0.0 {
            let u: f64 = rng.gen();
            capped.mul_f64(1.0 + self.jitter * (2.0 * u - 1.0))
        } else {
            capped
        }
    }

    /// Retries allowed after `error`.
    fn allowed(&self, error: FetchError) -> u32 {
        match error {
            FetchError::Timeout => self.timeout_retries,
            FetchError::NotFound if !self.retry_not_found => 0,
            FetchError::NotFound | FetchError::ServerError => self.error_retries,
        }
    }
}

/// When a player moves to its next route (backup URL, pathway or CDN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchOn {
    /// On a 4xx, or once a request's retries are used up (hls.js redundant streams:
    /// `error-controller.ts` sends the rendition or pathway to the penalty box).
    ClientErrorOrExhausted,
    /// On any 4xx/5xx answer, or once retries are used up (ExoPlayer's
    /// `DefaultLoadErrorHandlingPolicy` location fallback for 404/410/416/500/503).
    HttpErrorOrExhausted,
    /// Every retry goes to the next route (Shaka cycles through a request's URIs).
    EveryRetry,
}

/// Tunables of a player; see the presets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayerConfig {
    /// How many segments behind the newest one playback starts.
    pub hold_back_segments: u32,
    /// Media that must be buffered before playback starts (at least one segment).
    pub start_buffer: SimDuration,
    /// Media that must be buffered before playback resumes after a stall.
    pub resume_buffer: SimDuration,
    /// Stop fetching ahead once this much media is buffered.
    pub max_buffer: SimDuration,
    pub playlist_retry: RetryPolicy,
    pub segment_retry: RetryPolicy,
    pub switch_on: SwitchOn,
    /// How long a route the player switched away from is avoided (zero: not at all).
    pub route_exclusion: SimDuration,
}

impl PlayerConfig {
    /// Whether its retries draw a random jitter (Shaka's do).
    pub fn draws_jitter(&self) -> bool {
        self.playlist_retry.jitter > 0.0 || self.segment_retry.jitter > 0.0
    }

    /// hls.js defaults (`src/config.ts`): 3 segments behind live, play as soon as a
    /// segment is buffered, `maxBufferLength` 30 s. Fragments: first byte within 10 s,
    /// complete within 120 s, 4 immediate retries on timeout, 6 on error with 1, 2, 4,
    /// 8, 8, 8 s backoff, no jitter. Playlists: 10 s / 20 s, 2 retries each. A 4xx is
    /// not retried (`error-helper.ts` `retryForHttpStatus`); it, and retries running out,
    /// move the player to the next pathway (redundant stream), and the failed one sits
    /// in the penalty box for 5 min (`content-steering-controller.ts`
    /// `PATHWAY_PENALTY_DURATION_MS`).
    pub const HLS_JS: PlayerConfig = PlayerConfig {
        hold_back_segments: 3,
        start_buffer: SimDuration::ZERO,
        resume_buffer: SimDuration::ZERO,
        max_buffer: SimDuration::from_secs(30),
        playlist_retry: RetryPolicy {
            first_byte_timeout: SimDuration::from_secs(10),
            load_timeout: SimDuration::from_secs(20),
            timeout_retries: 2,
            timeout_retry_delay: SimDuration::ZERO,
            error_retries: 2,
            error_retry_delay: SimDuration::from_secs(1),
            max_retry_delay: SimDuration::from_secs(8),
            growth: Growth::Exponential,
            jitter: 0.0,
            retry_not_found: false,
        },
        segment_retry: RetryPolicy {
            first_byte_timeout: SimDuration::from_secs(10),
            load_timeout: SimDuration::from_secs(120),
            timeout_retries: 4,
            timeout_retry_delay: SimDuration::ZERO,
            error_retries: 6,
            error_retry_delay: SimDuration::from_secs(1),
            max_retry_delay: SimDuration::from_secs(8),
            growth: Growth::Exponential,
            jitter: 0.0,
            retry_not_found: false,
        },
        switch_on: SwitchOn::ClientErrorOrExhausted,
        route_exclusion: SimDuration::from_secs(300),
    };

    /// Shaka Player (`lib/util/player_configuration.js`, `lib/net/backoff.js`,
    /// `lib/hls/hls_parser.js`): starts `liveSegmentsDelay = 3` target durations behind
    /// live, `bufferingGoal` 10 s, `rebufferingGoal` 0; `retryParameters` 2 attempts,
    /// 1 s base delay ×2 with ±50% fuzz, connection timeout 10 s, request timeout 30 s;
    /// each retry goes to the request's next URI.
    pub const SHAKA: PlayerConfig = PlayerConfig {
        hold_back_segments: 3,
        start_buffer: SimDuration::ZERO,
        resume_buffer: SimDuration::ZERO,
        max_buffer: SimDuration::from_secs(10),
        playlist_retry: Self::SHAKA_RETRY,
        segment_retry: Self::SHAKA_RETRY,
        switch_on: SwitchOn::EveryRetry,
        route_exclusion: SimDuration::ZERO,
    };

    const SHAKA_RETRY: RetryPolicy = RetryPolicy {
        first_byte_timeout: SimDuration::from_secs(10),
        load_timeout: SimDuration::from_secs(30),
        timeout_retries: 1,
        timeout_retry_delay: SimDuration::from_secs(1),
        error_retries: 1,
        error_retry_delay: SimDuration::from_secs(1),
        max_retry_delay: SimDuration::from_secs(60),
        growth: Growth::Exponential,
        jitter: 0.5,
        retry_not_found: true,
    };

    /// ExoPlayer (media3 `DefaultLoadControl`): play after 1 s buffered, resume after
    /// 2 s following a rebuffer, buffer target 50 s. `DefaultLoadErrorHandlingPolicy`:
    /// 3 retries, `min((errorCount − 1) × 1 s, 5 s)` apart; on 403/404/410/416/500/503
    /// the location is excluded for 5 min when there is another location (DASH base
    /// URLs, content steering; a plain HLS stream has one). `DefaultHttpDataSource`:
    /// 8 s connect and read timeouts.
    pub const EXOPLAYER: PlayerConfig = PlayerConfig {
        hold_back_segments: 3,
        start_buffer: SimDuration::from_secs(1),
        resume_buffer: SimDuration::from_secs(2),
        max_buffer: SimDuration::from_secs(50),
        playlist_retry: Self::EXOPLAYER_RETRY,
        segment_retry: Self::EXOPLAYER_RETRY,
        switch_on: SwitchOn::HttpErrorOrExhausted,
        route_exclusion: SimDuration::from_secs(300),
    };

    const EXOPLAYER_RETRY: RetryPolicy = RetryPolicy {
        first_byte_timeout: SimDuration::from_secs(8),
        load_timeout: SimDuration::from_secs(120),
        timeout_retries: 3,
        timeout_retry_delay: SimDuration::from_secs(1),
        error_retries: 3,
        error_retry_delay: SimDuration::from_secs(1),
        max_retry_delay: SimDuration::from_secs(5),
        growth: Growth::Linear,
        jitter: 0.0,
        retry_not_found: true,
    };

    /// A preset by its scenario name.
    pub fn preset(name: &str) -> Option<PlayerConfig> {
        match name {
            "hls.js" => Some(Self::HLS_JS),
            "shaka" => Some(Self::SHAKA),
            "exoplayer" => Some(Self::EXOPLAYER),
            _ => None,
        }
    }

    pub const PRESETS: &'static [&'static str] = &["hls.js", "shaka", "exoplayer"];
}

/// One segment listed in a media playlist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaylistEntry {
    pub index: u64,
    pub duration: SimDuration,
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

    /// A playlist arrived in answer to `req`; `entries` are in index order (missing
    /// indices are gaps that will never be filled).
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
                self.events.push(PlayerEvent::Skipped {
                    at: now,
                    from: next,
                    to: live_start,
                });
                self.next_index = Some(live_start);
            }
            Some(_) => {}
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
        if self.loading.is_some() || self.buffered >= self.config.max_buffer {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const SEG: SimDuration = SimDuration::from_secs(2);

    fn entries(indices: &[u64]) -> Vec<PlaylistEntry> {
        indices
            .iter()
            .map(|&index| PlaylistEntry { index, duration: SEG })
            .collect()
    }

    fn seg(index: u64) -> PlaylistEntry {
        PlaylistEntry { index, duration: SEG }
    }

    fn t(ms: u64) -> SimTime {
        SimTime::from_millis(ms)
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn drain(player: &mut Player) -> (Vec<PlayerAction>, Vec<PlayerEvent>) {
        (
            std::iter::from_fn(|| player.poll_action()).collect(),
            std::iter::from_fn(|| player.poll_event()).collect(),
        )
    }

    /// The request id of the last playlist load among `actions`.
    fn playlist_req(actions: &[PlayerAction]) -> u32 {
        actions
            .iter()
            .rev()
            .find_map(|a| match *a {
                PlayerAction::LoadPlaylist { req, .. } => Some(req),
                _ => None,
            })
            .expect("a playlist load")
    }

    fn segment_req(actions: &[PlayerAction]) -> (u32, u8, u64) {
        actions
            .iter()
            .rev()
            .find_map(|a| match *a {
                PlayerAction::LoadSegment { req, route, index } => Some((req, route, index)),
                _ => None,
            })
            .expect("a segment load")
    }

    /// A joined player that has loaded a playlist of `indices` and asked for a segment.
    fn started(config: PlayerConfig, routes: u8, indices: &[u64]) -> (Player, u32, u64) {
        let mut p = Player::new(config, SEG, routes);
        p.handle_join(t(0));
        let req = playlist_req(&drain(&mut p).0);
        p.handle_playlist(t(10), req, &entries(indices));
        let (req, _, index) = segment_req(&drain(&mut p).0);
        (p, req, index)
    }

    #[test]
    fn starts_three_segments_behind_live() {
        let mut p = Player::new(PlayerConfig::HLS_JS, SEG, 1);
        p.handle_join(t(0));
        assert_eq!(drain(&mut p).0, vec![PlayerAction::LoadPlaylist { req: 0, route: 0 }]);
        p.handle_playlist(t(10), 0, &entries(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert_eq!(
            drain(&mut p).0,
            vec![PlayerAction::LoadSegment {
                req: 1,
                route: 0,
                index: 7
            }]
        );
        assert_eq!(p.first_index(), Some(7));
        p.handle_first_byte(t(100), 1);
        p.handle_segment_loaded(t(300), 1, seg(7));
        let (actions, events) = drain(&mut p);
        assert_eq!(
            actions,
            vec![PlayerAction::LoadSegment {
                req: 2,
                route: 0,
                index: 8
            }]
        );
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
        // Reload one target duration after the request for a changed playlist went out
        // (at 0, answered at 10 ms); playback ends at 2.3 s.
        assert_eq!(p.poll_timeout(), Some(t(2_000)));
    }

    #[test]
    fn playlist_reloads_keep_their_cadence_however_slow_the_answers() {
        // Each answer takes 700 ms; reloads still go out every 2 s from the first
        // request (RFC 8216 §6.3.4), not 2 s after each answer. An answer later than
        // the whole wait is followed by an immediate reload.
        let mut p = Player::new(PlayerConfig::HLS_JS, SEG, 1);
        p.handle_join(t(0));
        let mut rng = rng();
        let mut req = playlist_req(&drain(&mut p).0);
        let mut sent = Vec::new();
        for (k, answer_ms) in [700, 700, 700, 2_500].into_iter().enumerate() {
            let asked = p.playlist.sent_at;
            sent.push(asked);
            let newest = k as u64 + 3;
            p.handle_playlist(asked + SimDuration::from_millis(answer_ms), req, &entries(&[newest]));
            let next = p.reload_at.expect("a live playlist is reloaded");
            p.handle_timeout(next, &mut rng);
            req = playlist_req(&drain(&mut p).0);
        }
        assert_eq!(sent, [t(0), t(2_000), t(4_000), t(6_000)]);
        assert_eq!(p.playlist.sent_at, t(8_500));
    }

    #[test]
    fn stalls_when_dry_and_resumes_with_exact_stall_time() {
        let (mut p, req, _) = started(PlayerConfig::HLS_JS, 1, &[0]);
        p.handle_segment_loaded(t(100), req, seg(0));
        drain(&mut p);
        let mut rng = rng();
        // Nothing new: playback of segment 0 ends at 2.1 s and the player stalls.
        p.handle_timeout(t(2_010), &mut rng);
        let req = playlist_req(&drain(&mut p).0);
        // An unchanged playlist is reloaded half a target duration after its request
        // went out (2.01 s), however late the answer (2.02 s).
        p.handle_playlist(t(2_020), req, &entries(&[0]));
        // Running dry asks for no wake: the next is the reload, and the stall is
        // reported then, at its own instant.
        assert_eq!(p.poll_timeout(), Some(t(3_010)));
        assert_eq!(p.phase(), Phase::Playing);
        p.handle_timeout(t(3_010), &mut rng);
        assert_eq!(p.phase(), Phase::Stalled);
        let (actions, events) = drain(&mut p);
        assert_eq!(events, [PlayerEvent::Stalled { at: t(2_100) }]);
        let req = playlist_req(&actions);
        p.handle_playlist(t(3_020), req, &entries(&[0, 1]));
        let (req, _, index) = segment_req(&drain(&mut p).0);
        assert_eq!(index, 1);
        p.handle_segment_loaded(t(3_400), req, seg(1));
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
        let (mut p, mut req, _) = started(PlayerConfig::HLS_JS, 1, &[0, 1, 2]);
        for index in 0..3 {
            p.handle_segment_loaded(t(10 + 10 * index), req, seg(index));
            if index < 2 {
                req = segment_req(&drain(&mut p).0).0;
            }
        }
        drain(&mut p);
        // Segments 3..=5 were never published (ingest outage): the player moves to 6.
        p.handle_timeout(t(2_010), &mut rng());
        let req = playlist_req(&drain(&mut p).0);
        p.handle_playlist(t(2_020), req, &entries(&[0, 1, 2, 6]));
        let (actions, events) = drain(&mut p);
        assert_eq!(segment_req(&actions).2, 6);
        // It reports passing over them; its driver knows whether they were published.
        assert_eq!(
            events,
            vec![PlayerEvent::Skipped {
                at: t(2_020),
                from: 3,
                to: 6
            }]
        );
    }

    #[test]
    fn jumps_to_live_when_it_falls_out_of_the_window() {
        let (mut p, req, _) = started(PlayerConfig::HLS_JS, 1, &[0]);
        p.handle_segment_loaded(t(10), req, seg(0));
        drain(&mut p);
        // The player's next segment (1) has left a 3-segment window [10, 12].
        p.handle_timeout(t(2_010), &mut rng());
        let req = playlist_req(&drain(&mut p).0);
        p.handle_playlist(t(2_020), req, &entries(&[10, 11, 12]));
        let (actions, events) = drain(&mut p);
        assert_eq!(
            events,
            vec![PlayerEvent::Skipped {
                at: t(2_020),
                from: 1,
                to: 10
            }]
        );
        assert_eq!(segment_req(&actions).2, 10);
    }

    #[test]
    fn exoplayer_waits_for_its_start_buffer() {
        let half = SimDuration::from_millis(500);
        let mut p = Player::new(PlayerConfig::EXOPLAYER, half, 1);
        p.handle_join(t(0));
        let listed = [
            PlaylistEntry {
                index: 0,
                duration: half,
            },
            PlaylistEntry {
                index: 1,
                duration: half,
            },
        ];
        p.handle_playlist(t(0), 0, &listed);
        let (req, _, _) = segment_req(&drain(&mut p).0);
        p.handle_segment_loaded(t(50), req, listed[0]);
        assert_eq!(p.phase(), Phase::Starting);
        let (req, _, _) = segment_req(&drain(&mut p).0);
        p.handle_segment_loaded(t(90), req, listed[1]);
        assert_eq!(p.phase(), Phase::Playing);
    }

    /// Times at which `p` sends segment requests while every request goes unanswered
    /// (but playlists are answered), until `until`.
    fn unanswered_segment_requests(p: &mut Player, until: SimTime) -> Vec<(SimTime, u8, u64)> {
        let mut rng = rng();
        let mut sent = Vec::new();
        while let Some(now) = p.poll_timeout().filter(|&at| at <= until) {
            p.handle_timeout(now, &mut rng);
            for action in drain(p).0 {
                match action {
                    PlayerAction::LoadSegment { route, index, .. } => sent.push((now, route, index)),
                    PlayerAction::LoadPlaylist { req, .. } => p.handle_playlist(now, req, &entries(&[0, 1, 2, 3])),
                }
            }
        }
        sent
    }

    #[test]
    fn hls_js_retries_a_silent_server_four_times_then_moves_to_the_backup() {
        let (mut p, _, index) = started(PlayerConfig::HLS_JS, 2, &[0, 1, 2, 3]);
        assert_eq!(index, 1);
        let sent = unanswered_segment_requests(&mut p, t(60_000));
        // First byte due within 10 s; 4 immediate retries; then the next route.
        let expected: Vec<(SimTime, u8, u64)> = vec![
            (t(10_010), 0, 1),
            (t(20_010), 0, 1),
            (t(30_010), 0, 1),
            (t(40_010), 0, 1),
            (t(50_010), 1, 1),
        ];
        assert_eq!(sent, expected);
        assert_eq!(p.route(), 1);
    }

    /// Fails segment request `req` at `now` with `error`, then runs the player (answering
    /// its playlist reloads) until it asks for a segment again: when, and the request.
    fn fail_and_wait(p: &mut Player, now: SimTime, req: u32, error: FetchError) -> (SimTime, u32) {
        let mut rng = rng();
        p.handle_error(now, req, error, &mut rng);
        let mut at = now;
        loop {
            for action in drain(p).0 {
                match action {
                    PlayerAction::LoadSegment { req, .. } => return (at, req),
                    PlayerAction::LoadPlaylist { req, .. } => p.handle_playlist(at, req, &entries(&[0, 1, 2, 3])),
                }
            }
            at = p.poll_timeout().expect("the player waits for something");
            p.handle_timeout(at, &mut rng);
        }
    }

    #[test]
    fn hls_js_backs_off_1_2_4_8_8_8_seconds_on_server_errors() {
        let (mut p, mut req, index) = started(PlayerConfig::HLS_JS, 1, &[0, 1, 2, 3]);
        let mut rng = rng();
        let mut now = t(10);
        let mut retries = Vec::new();
        for _ in 0..6 {
            let (at, retry) = fail_and_wait(&mut p, now, req, FetchError::ServerError);
            retries.push((at - now).as_nanos() / 1_000_000);
            (now, req) = (at, retry);
        }
        assert_eq!(retries, vec![1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
        // The seventh failure exhausts the retries: with no backup, the segment is lost.
        p.handle_error(now, req, FetchError::ServerError, &mut rng);
        let (actions, events) = drain(&mut p);
        assert!(events.contains(&PlayerEvent::Skipped {
            at: now,
            from: index,
            to: index + 1
        }));
        assert_eq!(segment_req(&actions).2, index + 1);
    }

    #[test]
    fn hls_js_moves_on_a_404_at_once_and_ignores_the_late_answer() {
        let (mut p, req, index) = started(PlayerConfig::HLS_JS, 2, &[0, 1, 2, 3]);
        p.handle_error(t(50), req, FetchError::NotFound, &mut rng());
        let (actions, events) = drain(&mut p);
        assert!(events.contains(&PlayerEvent::RouteSwitched {
            at: t(50),
            from: 0,
            to: 1
        }));
        let (retry, route, again) = segment_req(&actions);
        assert_eq!((route, again), (1, index));
        // The playlist moves along with it.
        assert!(actions
            .iter()
            .any(|a| matches!(a, PlayerAction::LoadPlaylist { route: 1, .. })));
        // An answer to the abandoned request changes nothing.
        p.handle_segment_loaded(t(60), req, seg(index));
        assert_eq!(p.phase(), Phase::Starting);
        p.handle_segment_loaded(t(70), retry, seg(index));
        assert_eq!(p.phase(), Phase::Playing);
    }

    #[test]
    fn a_segment_missing_on_every_route_is_passed_over() {
        let (mut p, req, index) = started(PlayerConfig::HLS_JS, 2, &[0, 1, 2, 3]);
        let mut rng = rng();
        p.handle_error(t(50), req, FetchError::NotFound, &mut rng);
        let (retry, _, _) = segment_req(&drain(&mut p).0);
        p.handle_error(t(90), retry, FetchError::NotFound, &mut rng);
        let (actions, events) = drain(&mut p);
        assert!(events.contains(&PlayerEvent::Skipped {
            at: t(90),
            from: index,
            to: index + 1
        }));
        let (_, route, next) = segment_req(&actions);
        assert_eq!((route, next), (1, index + 1));
    }

    #[test]
    fn shaka_retries_once_on_the_next_uri_after_a_fuzzed_second() {
        let mut rng = rng();
        for _ in 0..50 {
            let (mut p, req, index) = started(PlayerConfig::SHAKA, 2, &[0, 1, 2, 3]);
            p.handle_error(t(10), req, FetchError::ServerError, &mut rng);
            drain(&mut p);
            assert_eq!(p.route(), 1);
            let at = p.poll_timeout().unwrap();
            let waited = (at - t(10)).as_millis_f64();
            assert!((500.0..=1_500.0).contains(&waited), "{waited} ms");
            p.handle_timeout(at, &mut rng);
            let (req, route, again) = segment_req(&drain(&mut p).0);
            assert_eq!((route, again), (1, index));
            // The second attempt was the last.
            p.handle_error(at, req, FetchError::ServerError, &mut rng);
            assert!(drain(&mut p).1.contains(&PlayerEvent::Skipped {
                at,
                from: index,
                to: index + 1
            }));
        }
    }

    #[test]
    fn exoplayer_avoids_a_failed_location_for_five_minutes() {
        let (mut p, req, _) = started(PlayerConfig::EXOPLAYER, 3, &[0, 1, 2, 3]);
        let mut rng = rng();
        p.handle_error(t(10), req, FetchError::ServerError, &mut rng);
        assert_eq!(p.route(), 1);
        let (req, _, _) = segment_req(&drain(&mut p).0);
        p.handle_error(t(20), req, FetchError::ServerError, &mut rng);
        assert_eq!(p.route(), 2, "route 0 is still excluded");
        let (req, _, _) = segment_req(&drain(&mut p).0);
        // All three tried for this segment: it is passed over; the next one fails on 2.
        p.handle_error(t(30), req, FetchError::ServerError, &mut rng);
        let (req, _, _) = segment_req(&drain(&mut p).0);
        p.handle_error(t(40), req, FetchError::ServerError, &mut rng);
        assert_eq!(p.route(), 0, "every route excluded: the one excluded longest ago");
        let mut p = started(PlayerConfig::EXOPLAYER, 2, &[0, 1, 2, 3]).0;
        p.excluded_until = smallvec::smallvec![SimTime::ZERO, t(300_010)];
        let (req, _, _) = segment_req(&[PlayerAction::LoadSegment {
            req: 1,
            route: 0,
            index: 1,
        }]);
        p.handle_error(t(300_010), req, FetchError::ServerError, &mut rng);
        assert_eq!(p.route(), 1, "an exclusion ends after 5 min");
    }

    #[test]
    fn exoplayer_retries_at_0_1_2_seconds() {
        let (mut p, mut req, _) = started(PlayerConfig::EXOPLAYER, 1, &[0, 1, 2, 3]);
        let mut now = t(10);
        let mut waits = Vec::new();
        for _ in 0..3 {
            let (at, retry) = fail_and_wait(&mut p, now, req, FetchError::ServerError);
            waits.push((at - now).as_nanos() / 1_000_000);
            (now, req) = (at, retry);
        }
        assert_eq!(waits, vec![0, 1_000, 2_000]);
    }

    /// The player starts at t = 0 with segments 0–2 (6 s) buffered; segment 3 appears
    /// (is listed, and downloads instantly) at `available_ms`. Returns the events.
    fn outage_events(available_ms: u64) -> Vec<PlayerEvent> {
        let mut p = Player::new(PlayerConfig::HLS_JS, SEG, 1);
        let mut rng = rng();
        let mut events = Vec::new();
        let mut now = t(0);
        p.handle_join(now);
        while now <= t(60_000) {
            while let Some(action) = p.poll_action() {
                match action {
                    PlayerAction::LoadPlaylist { req, .. } => {
                        let listed: &[u64] = if now >= t(available_ms) {
                            &[0, 1, 2, 3]
                        } else {
                            &[0, 1, 2]
                        };
                        p.handle_playlist(now, req, &entries(listed));
                    }
                    PlayerAction::LoadSegment { req, index, .. } => p.handle_segment_loaded(now, req, seg(index)),
                }
            }
            events.extend(std::iter::from_fn(|| p.poll_event()));
            if events
                .iter()
                .any(|e| matches!(e, PlayerEvent::SegmentStarted { index: 3, .. }))
            {
                break;
            }
            now = p.poll_timeout().expect("a live player always waits for something");
            p.handle_timeout(now, &mut rng);
        }
        events
    }

    #[test]
    fn a_buffer_hides_a_shorter_outage_and_a_longer_one_costs_exactly_the_uncovered_gap() {
        for available_ms in (0..20_000).step_by(250) {
            let events = outage_events(available_ms);
            assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Skipped { .. })));
            // Unchanged playlists are reloaded every 1 s from 2 s on: the player sees
            // segment 3 at the first reload at or after it appears.
            let seen_ms = available_ms.max(2_000).div_ceil(1_000) * 1_000;
            let stall = events.iter().find_map(|e| match *e {
                PlayerEvent::Resumed { stalled, .. } => Some(stalled),
                _ => None,
            });
            // (Seen exactly as the buffer runs out is a zero-length stall: the boundary.)
            if seen_ms < 6_000 {
                assert_eq!(stall, None, "segment 3 seen at {seen_ms} ms, within the 6 s buffer");
                assert!(!events.iter().any(|e| matches!(e, PlayerEvent::Stalled { .. })));
            } else {
                assert_eq!(
                    stall,
                    Some(SimDuration::from_millis(seen_ms - 6_000)),
                    "appears at {available_ms} ms"
                );
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Step {
            Wait(u16),
            Answer { first: bool, ok: bool, error: u8 },
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                (1u16..15_000).prop_map(Step::Wait),
                (any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(first, ok, error)| Step::Answer { first, ok, error }),
            ]
        }

        /// How the network answers the k-th request: first byte after `first_ns`, the
        /// rest `transfer_ns` later; `outcome` 0 never answers, 1 and 2 are 404 and 503.
        type Answer = (u64, u64, u8);

        /// Drives a player through a scripted network for 120 s and logs every request
        /// with its instant, and every event. `eager` wakes the player at every segment
        /// end and tells it each load's first and last byte in calls of their own, as
        /// drivers did before playback ran without wakes; otherwise it is woken only at
        /// `poll_timeout` (as a cohort's `Deadline` does) and told the whole load at its
        /// first byte. At one instant, loads complete first, then the player is woken,
        /// then answers arrive: the order in which `advance` catches up.
        fn script_run(
            preset: usize,
            routes: u8,
            script: &[Answer],
            eager: bool,
        ) -> (Vec<(SimTime, PlayerAction)>, Vec<PlayerEvent>) {
            #[derive(Debug)]
            enum Item {
                Answer(PlayerAction, Answer),
                Loaded(u32, PlaylistEntry),
                Wake,
            }
            let config = PlayerConfig::preset(PlayerConfig::PRESETS[preset]).unwrap();
            let mut p = Player::new(config, SEG, routes);
            let mut rng = rng();
            let mut queue: std::collections::BTreeMap<(SimTime, u8, u64), Item> = std::collections::BTreeMap::new();
            let (mut seq, mut next_answer) = (0u64, 0usize);
            let (mut actions, mut events) = (Vec::new(), Vec::new());
            let mut armed: Option<SimTime> = None;
            let end = t(120_000);
            let mut now = t(0);
            p.handle_join(now);
            loop {
                while let Some(action) = p.poll_action() {
                    actions.push((now, action));
                    let answer = script[next_answer % script.len()];
                    next_answer += 1;
                    if answer.2 != 0 {
                        seq += 1;
                        queue.insert(
                            (now + SimDuration::from_nanos(answer.0), 2, seq),
                            Item::Answer(action, answer),
                        );
                    }
                }
                events.extend(std::iter::from_fn(|| p.poll_event()));
                let ends = p.playing.map(|(_, ends_at)| ends_at).filter(|_| eager);
                let wake = [p.poll_timeout(), ends]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(|at| at.max(now));
                if let Some(at) = wake.filter(|_| wake != armed) {
                    armed = wake;
                    seq += 1;
                    queue.insert((at, 1, seq), Item::Wake);
                }
                let Some(((at, ..), item)) = queue.pop_first() else {
                    break;
                };
                if at > end {
                    break;
                }
                now = at;
                match item {
                    Item::Wake if armed == Some(at) => {
                        armed = None;
                        p.handle_timeout(now, &mut rng);
                    }
                    Item::Wake => {}
                    Item::Loaded(req, entry) => p.handle_segment_loaded(now, req, entry),
                    Item::Answer(PlayerAction::LoadPlaylist { req, .. }, (_, _, outcome)) if outcome >= 3 => {
                        // A long window: a player that fell behind fills its buffer to
                        // the top and waits for room (a segment end is then a wake).
                        let newest = 3 + now.as_nanos() / 2_000_000_000;
                        let listed: Vec<u64> = (newest.saturating_sub(40)..=newest).collect();
                        p.handle_playlist(now, req, &entries(&listed));
                    }
                    Item::Answer(PlayerAction::LoadSegment { req, index, .. }, (_, transfer_ns, outcome))
                        if outcome >= 3 =>
                    {
                        let loaded_at = now + SimDuration::from_nanos(transfer_ns);
                        if eager {
                            p.handle_first_byte(now, req);
                            seq += 1;
                            queue.insert((loaded_at, 0, seq), Item::Loaded(req, seg(index)));
                        } else {
                            p.handle_segment_arriving(now, req, seg(index), loaded_at);
                        }
                    }
                    Item::Answer(
                        PlayerAction::LoadPlaylist { req, .. } | PlayerAction::LoadSegment { req, .. },
                        (_, _, outcome),
                    ) => {
                        let error = if outcome == 1 {
                            FetchError::NotFound
                        } else {
                            FetchError::ServerError
                        };
                        p.handle_error(now, req, error, &mut rng);
                    }
                }
            }
            p.advance(end);
            events.extend(std::iter::from_fn(|| p.poll_event()));
            (actions, events)
        }

        fn answer() -> impl Strategy<Value = Answer> {
            // Fast answers on the whole: a player that fell behind fills its buffer.
            (
                1_000_000u64..1_500_000_000,
                1_000_000u64..1_000_000_000,
                prop_oneof![1 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 12 => Just(3u8)],
            )
        }

        proptest! {
            /// Playback without wakes and loads told at their first byte change nothing
            /// a viewer sees: the same requests at the same instants, the same events
            /// at the same instants, as a player woken at every segment end and load.
            #[test]
            fn a_player_left_alone_tells_the_same_story(preset in 0usize..3, routes in 1u8..4, script in proptest::collection::vec(answer(), 1..60)) {
                let eager = script_run(preset, routes, &script, true);
                let lazy = script_run(preset, routes, &script, false);
                prop_assert!(eager.0.len() > 1);
                prop_assert_eq!(eager, lazy);
            }
        }

        proptest! {
            /// Whatever the network does, a player keeps at most one request of each
            /// kind in flight, never asks for a route it does not have, never schedules
            /// into the past, and every stall ends before the next one starts.
            #[test]
            fn players_stay_consistent(preset in 0usize..3, routes in 1u8..4, steps in proptest::collection::vec(step(), 1..200)) {
                let config = PlayerConfig::preset(PlayerConfig::PRESETS[preset]).unwrap();
                let mut p = Player::new(config, SEG, routes);
                let mut rng = rng();
                let mut now = t(0);
                let mut newest = 3u64;
                p.handle_join(now);
                let mut open: Vec<PlayerAction> = Vec::new();
                let mut stalled = false;
                for step in steps {
                    match step {
                        Step::Wait(ms) => {
                            now += SimDuration::from_millis(u64::from(ms));
                            newest += u64::from(ms) / 2_000;
                            while let Some(at) = p.poll_timeout().filter(|&at| at <= now) {
                                p.handle_timeout(at, &mut rng);
                            }
                        }
                        Step::Answer { first, ok, error } => {
                            if open.is_empty() { continue; }
                            let action = if first { open.remove(0) } else { open.pop().unwrap() };
                            let error = [FetchError::NotFound, FetchError::ServerError, FetchError::Timeout][usize::from(error)];
                            match (action, ok) {
                                (PlayerAction::LoadPlaylist { req, .. }, true) => {
                                    let listed: Vec<u64> = (newest.saturating_sub(5)..=newest).collect();
                                    p.handle_playlist(now, req, &entries(&listed));
                                }
                                (PlayerAction::LoadSegment { req, index, .. }, true) => {
                                    p.handle_first_byte(now, req);
                                    p.handle_segment_loaded(now, req, seg(index));
                                }
                                (PlayerAction::LoadPlaylist { req, .. } | PlayerAction::LoadSegment { req, .. }, false) => {
                                    if error != FetchError::Timeout {
                                        p.handle_error(now, req, error, &mut rng);
                                    }
                                }
                            }
                        }
                    }
                    while let Some(action) = p.poll_action() {
                        let route = match action {
                            PlayerAction::LoadPlaylist { route, .. } | PlayerAction::LoadSegment { route, .. } => route,
                        };
                        prop_assert!(route < routes);
                        open.push(action);
                    }
                    while let Some(event) = p.poll_event() {
                        match event {
                            PlayerEvent::Stalled { .. } => { prop_assert!(!stalled); stalled = true; }
                            PlayerEvent::Resumed { .. } => { prop_assert!(stalled); stalled = false; }
                            _ => {}
                        }
                    }
                    prop_assert!(p.playlist.in_flight.is_none() || p.reload_at.is_none() || p.playlist.deadline.is_some());
                    prop_assert_eq!(p.segment.in_flight.is_some(), p.segment.deadline.is_some());
                    prop_assert!(p.segment.in_flight.is_none() || p.loading.is_some());
                    prop_assert!(!(p.segment.in_flight.is_some() && p.segment_retry_at.is_some()));
                    prop_assert!(p.route() < routes);
                    if let Some(at) = p.poll_timeout() {
                        prop_assert!(at >= now || p.phase() == Phase::Playing, "deadline {at} before {now}");
                    }
                }
            }
        }
    }
}
