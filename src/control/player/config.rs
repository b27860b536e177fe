//! What a player is configured with: its retry policy, when it switches routes, and
//! the presets of the players failcast models.

use rand::Rng;

use super::FetchError;
use crate::time::SimDuration;

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
    pub(super) fn allowed(&self, error: FetchError) -> u32 {
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
    /// Added to the target latency per stall, up to one target duration, when playback
    /// re-syncs to the live edge (hls.js `liveSyncOnStallIncrease`).
    pub stall_latency_increase: SimDuration,
    /// A playlist unchanged for more than this many target durations, while the loader
    /// waits on it, is a fatal error (media3 `PlaylistStuckException`).
    pub playlist_stuck_after: Option<f64>,
    /// Falling behind the playlist window is a fatal error (media3
    /// `BehindLiveWindowException`) rather than a jump to the live edge.
    pub behind_window_fatal: bool,
    /// After a fatal error, the host application prepares the player again this much
    /// later (the longest playlist retry delay, as for a playlist that cannot be loaded).
    pub fatal_recovery: SimDuration,
    /// The live edge runs on the wall clock once the start is locked (Shaka's HLS
    /// `PresentationTimeline`): media spliced out of the playlist empties the window
    /// (`FatalError::LiveWindowEmptied`).
    pub wall_clock_live_edge: bool,
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
    /// `PATHWAY_PENALTY_DURATION_MS`). Live edge (`latency-controller.ts`): each stall
    /// adds `liveSyncOnStallIncrease` = 1 s to the target latency, up to a target
    /// duration; nothing catches up (`maxLiveSyncPlaybackRate` 1,
    /// `liveMaxLatencyDurationCount` Infinity), so latency a stall added is kept.
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
        stall_latency_increase: SimDuration::from_secs(1),
        playlist_stuck_after: None,
        behind_window_fatal: false,
        fatal_recovery: SimDuration::from_secs(8),
        wall_clock_live_edge: false,
    };

    /// Shaka Player (`lib/util/player_configuration.js`, `lib/net/backoff.js`,
    /// `lib/hls/hls_parser.js`): starts `liveSegmentsDelay = 3` target durations behind
    /// live, `bufferingGoal` 10 s, `rebufferingGoal` 0; `retryParameters` 2 attempts,
    /// 1 s base delay ×2 with ±50% fuzz, connection timeout 10 s, request timeout 30 s;
    /// each retry goes to the request's next URI. Live edge: `streaming.liveSync.enabled`
    /// is false, so nothing catches up and stalls do not move the target; the edge
    /// runs on the wall clock, so a splice of a target duration or more empties the
    /// live window for good (see `Player::follow_wall_clock`).
    pub const SHAKA: PlayerConfig = PlayerConfig {
        hold_back_segments: 3,
        start_buffer: SimDuration::ZERO,
        resume_buffer: SimDuration::ZERO,
        max_buffer: SimDuration::from_secs(10),
        playlist_retry: Self::SHAKA_RETRY,
        segment_retry: Self::SHAKA_RETRY,
        switch_on: SwitchOn::EveryRetry,
        route_exclusion: SimDuration::ZERO,
        stall_latency_increase: SimDuration::ZERO,
        playlist_stuck_after: None,
        behind_window_fatal: false,
        fatal_recovery: SimDuration::from_secs(60),
        wall_clock_live_edge: true,
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
    /// 8 s connect and read timeouts. Live edge (`DefaultHlsPlaylistTracker`,
    /// `HlsChunkSource`): a playlist unchanged for more than 3.5 target durations
    /// (`DEFAULT_PLAYLIST_STUCK_TARGET_DURATION_COEFFICIENT`) while the loader waits on
    /// it throws `PlaylistStuckException`, and a next segment that left the window
    /// throws `BehindLiveWindowException`; both stop the player. Speed control is off
    /// for a playlist without `PROGRAM-DATE-TIME` and `HOLD-BACK` (`HlsMediaSource`).
    pub const EXOPLAYER: PlayerConfig = PlayerConfig {
        hold_back_segments: 3,
        start_buffer: SimDuration::from_secs(1),
        resume_buffer: SimDuration::from_secs(2),
        max_buffer: SimDuration::from_secs(50),
        playlist_retry: Self::EXOPLAYER_RETRY,
        segment_retry: Self::EXOPLAYER_RETRY,
        switch_on: SwitchOn::HttpErrorOrExhausted,
        route_exclusion: SimDuration::from_secs(300),
        stall_latency_increase: SimDuration::ZERO,
        playlist_stuck_after: Some(3.5),
        behind_window_fatal: true,
        fatal_recovery: SimDuration::from_secs(5),
        wall_clock_live_edge: false,
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
