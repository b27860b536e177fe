//! The player's live-edge rules: where it starts and re-syncs in a playlist, media3's
//! fatal errors, and Shaka's wall-clock live edge. Each rule names the player's own
//! file it follows.

use super::*;

impl Player {
    /// The segment playback (re)starts at, from the newest end of the playlist: the one
    /// holding the instant `target latency` before its end (hls.js `liveSyncPosition`,
    /// Shaka's `liveSegmentsDelay` and media3's default offset, all three target
    /// durations). hls.js adds `liveSyncOnStallIncrease` per stall, up to one target
    /// duration (`latency-controller.ts`, `get targetLatency`).
    pub(super) fn live_start(&self, entries: &[PlaylistEntry]) -> u64 {
        let increase = (self.config.stall_latency_increase * u64::from(self.stalls)).min(self.target_duration);
        let target = self.target_duration * u64::from(self.config.hold_back_segments) + increase;
        let mut from_end = SimDuration::ZERO;
        for entry in entries.iter().rev() {
            from_end += entry.duration;
            if from_end >= target {
                return entry.index;
            }
        }
        entries.first().map_or(0, |e| e.index)
    }

    /// Shaka: adds the media spliced out of the playlist since the start was locked to
    /// how far the wall-clock live edge runs ahead of the media. From one target
    /// duration on, each playlist update evicts segments that end before the live
    /// edge less the playlist's span, and the span is measured on what is left, so the
    /// window empties (`lib/media/presentation_timeline.js` `getLiveEdge_`,
    /// `getSegmentAvailabilityStart`; `lib/hls/hls_parser.js` `lockStartTime` and
    /// `mergeAndEvict` at shaka-player 35b290e; observed in Chromium for 2, 4, 8 and
    /// 60 s splices; upstream issue #6019).
    pub(super) fn follow_wall_clock(&mut self, now: SimTime, entries: &[PlaylistEntry]) {
        let Some(newest) = entries.last().map(|e| e.index) else {
            return;
        };
        let counted = *self.locked_newest.get_or_insert(newest);
        for entry in entries.iter().filter(|e| e.index > counted) {
            self.lag += entry.spliced;
        }
        self.locked_newest = Some(counted.max(newest));
        if !self.window_emptied && self.lag >= self.target_duration {
            self.window_emptied = true;
            // The segment on its way had left the index too: nothing retries it.
            if let Some(loading) = self.loading.take() {
                self.next_index = Some(loading);
            }
            self.segment = Loader::default();
            self.segment_retry_at = None;
            self.arriving = None;
            self.events.push(PlayerEvent::Failed {
                at: now,
                error: FatalError::LiveWindowEmptied,
                until: None,
            });
        }
    }

    /// Whether the segment loader has loaded everything listed and waits for the
    /// playlist to grow (media3 `HlsChunkSource`: `nextChunkStuckOnPlaylistUrl`).
    pub(super) fn waits_on_playlist(&self) -> bool {
        self.loading.is_none()
            && self.buffered < self.config.max_buffer
            && self
                .next_to_load()
                .is_some_and(|(next, _)| self.latest.is_some_and(|latest| next > latest))
    }

    /// Stops on a fatal error: requests are abandoned and what was buffered and not yet
    /// played is dropped, to be fetched again once the host has prepared the player
    /// again (media3 releases its media periods on a playback error; `prepare()`
    /// resumes at the playback position, after loading the playlist afresh), or at
    /// `resume` where the host seeks elsewhere. The segment playing plays out: failcast
    /// plays whole segments.
    pub(super) fn halt(&mut self, now: SimTime, error: FatalError, resume: Option<u64>) {
        let until = now + self.config.fatal_recovery;
        self.events.push(PlayerEvent::Failed {
            at: now,
            error,
            until: Some(until),
        });
        if let Some(resume) = resume.or(self.buffer.first().map(|e| e.index)).or(self.loading) {
            self.next_index = Some(resume);
        }
        self.buffer.clear();
        self.buffered = SimDuration::ZERO;
        self.loading = None;
        self.arriving = None;
        self.segment = Loader::default();
        self.segment_retry_at = None;
        self.segment_switches = 0;
        self.playlist = Loader::default();
        self.latest = None;
        self.reload_at = Some(until);
        self.halted_until = Some(until);
    }
}
