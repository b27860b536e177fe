//! Content checks: an input that is connected but carries black video, silent audio,
//! or nothing at all is failed, as MediaLive's automatic input failover judges it
//! (AWS MediaLive user guide: input-loss threshold 1000 ms typical; black-video and
//! audio-silence detection after a threshold). Liveness checks cannot see these: the
//! server answers its probes all along. [`PlaylistCheck`] is the same idea one tier
//! down: a server that answers with a live playlist that has stopped advancing
//! (docs/model.md, "What the model must get right": "a playlist that stops advancing
//! passes liveness checks; detect on content").
//!
//! Calling contract (sans-IO): report every batch of frames with
//! [`ContentCheck::handle_frames`]; ask [`ContentCheck::failure`] at any `now` (no
//! timer needed: the instant a threshold was crossed is computed exactly). Call
//! [`ContentCheck::reset`] when no input is expected any more (the server lost its
//! publisher's address, or restarted). The check is armed by the first frame.

use crate::time::{SimDuration, SimTime};

/// Thresholds; see [`ContentConfig::MEDIALIVE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentConfig {
    pub loss_after: SimDuration,
    pub black_after: SimDuration,
    pub silence_after: SimDuration,
}

impl ContentConfig {
    /// MediaLive's typical thresholds: 1 s for each condition.
    pub const MEDIALIVE: ContentConfig = ContentConfig {
        loss_after: SimDuration::from_secs(1),
        black_after: SimDuration::from_secs(1),
        silence_after: SimDuration::from_secs(1),
    };
}

/// What is wrong with the content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContentFault {
    InputLoss,
    Black,
    Silence,
}

impl ContentFault {
    pub fn name(self) -> &'static str {
        match self {
            ContentFault::InputLoss => "input-loss",
            ContentFault::Black => "black",
            ContentFault::Silence => "silence",
        }
    }
}

/// The content check of one input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContentCheck {
    config: Option<ContentConfig>,
    last_frame: Option<SimTime>,
    black_since: Option<SimTime>,
    silent_since: Option<SimTime>,
}

impl ContentCheck {
    pub fn new(config: ContentConfig) -> Self {
        ContentCheck {
            config: Some(config),
            ..ContentCheck::default()
        }
    }

    /// Frames arrived at `now`; `black` / `silent` describe their content.
    pub fn handle_frames(&mut self, now: SimTime, black: bool, silent: bool) {
        self.last_frame = Some(now);
        self.black_since = if black { self.black_since.or(Some(now)) } else { None };
        self.silent_since = if silent { self.silent_since.or(Some(now)) } else { None };
    }

    /// No input is expected any more: disarm until the next frame.
    pub fn reset(&mut self) {
        self.last_frame = None;
        self.black_since = None;
        self.silent_since = None;
    }

    /// The first condition that has lasted past its threshold at `now`, and the
    /// instant it crossed it.
    pub fn failure(&self, now: SimTime) -> Option<(ContentFault, SimTime)> {
        let config = self.config?;
        let last_frame = self.last_frame?;
        [
            (ContentFault::InputLoss, Some(last_frame + config.loss_after)),
            (
                ContentFault::Black,
                self.black_since.map(|since| since + config.black_after),
            ),
            (
                ContentFault::Silence,
                self.silent_since.map(|since| since + config.silence_after),
            ),
        ]
        .into_iter()
        .filter_map(|(fault, at)| at.filter(|&at| at <= now).map(|at| (fault, at)))
        .min_by_key(|&(fault, at)| (at, fault))
    }
}

/// A health check's judgement of the live playlists its targets answer with: fresh
/// while the newest segment changes at least every `stale_after` (RFC 8216 §6.2.1: a
/// live playlist gains a segment every target duration, so a few target durations
/// without one means the server has stopped receiving).
///
/// Calling contract: for each answer from `target` at `now` carrying the newest segment
/// it lists (`None` for an empty playlist), call [`PlaylistCheck::handle_playlist`] and
/// count the check as passed if it returns true. Any change of the newest segment (a
/// restarted server starting over included) restarts the clock; a target's first answer
/// starts it.
#[derive(Clone, Debug)]
pub struct PlaylistCheck {
    stale_after: SimDuration,
    /// Per target: the newest segment last seen, and since when.
    seen: Vec<Option<(Option<u64>, SimTime)>>,
}

impl PlaylistCheck {
    pub fn new(targets: usize, stale_after: SimDuration) -> Self {
        PlaylistCheck {
            stale_after,
            seen: vec![None; targets],
        }
    }

    /// Whether `target`'s playlist, whose newest segment is `newest`, is fresh at `now`.
    pub fn handle_playlist(&mut self, now: SimTime, target: usize, newest: Option<u64>) -> bool {
        let Some(seen) = self.seen.get_mut(target) else {
            return true;
        };
        match *seen {
            Some((last, since)) if last == newest => now < since + self.stale_after,
            _ => {
                *seen = Some((newest, now));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: u64) -> SimTime {
        SimTime::from_millis(ms)
    }

    #[test]
    fn a_playlist_is_stale_once_its_newest_segment_is_older_than_the_limit() {
        let mut check = PlaylistCheck::new(2, SimDuration::from_secs(6));
        assert!(check.handle_playlist(t(0), 0, Some(10)));
        assert!(check.handle_playlist(t(2_000), 0, Some(11)));
        assert!(check.handle_playlist(t(7_999), 0, Some(11)));
        assert!(!check.handle_playlist(t(8_000), 0, Some(11)));
        // The other target is judged on its own; an empty playlist counts as a state.
        assert!(check.handle_playlist(t(8_000), 1, None));
        assert!(!check.handle_playlist(t(14_000), 1, None));
        // A restarted server that starts over is fresh again.
        assert!(check.handle_playlist(t(9_000), 0, Some(3)));
        assert!(!check.handle_playlist(t(15_000), 0, Some(3)));
        assert!(check.handle_playlist(t(15_000), 5, None), "unknown targets pass");
    }

    #[test]
    fn black_frames_fail_after_the_threshold_exactly() {
        let mut check = ContentCheck::new(ContentConfig::MEDIALIVE);
        assert_eq!(check.failure(t(10_000)), None, "unarmed before the first frame");
        check.handle_frames(t(0), false, false);
        check.handle_frames(t(500), true, false);
        check.handle_frames(t(1_400), true, false);
        assert_eq!(check.failure(t(1_400)), None);
        check.handle_frames(t(1_500), true, false);
        assert_eq!(check.failure(t(1_500)), Some((ContentFault::Black, t(1_500))));
        // Picture back: healthy again.
        check.handle_frames(t(1_600), false, false);
        assert_eq!(check.failure(t(1_600)), None);
    }

    #[test]
    fn an_input_that_stops_is_lost_one_second_after_its_last_frame() {
        let mut check = ContentCheck::new(ContentConfig::MEDIALIVE);
        check.handle_frames(t(2_000), false, true);
        assert_eq!(check.failure(t(2_999)), None);
        // Silence and loss cross together; loss is reported first.
        assert_eq!(check.failure(t(3_000)), Some((ContentFault::InputLoss, t(3_000))));
        check.reset();
        assert_eq!(check.failure(t(9_000)), None);
    }

    proptest! {
        /// A playlist check passes exactly when the newest segment changed within
        /// `stale_after` of the answer (measured from the first answer showing it).
        #[test]
        fn playlist_freshness_is_exact(answers in proptest::collection::vec((1u64..5_000, 0u64..3), 1..60)) {
            let stale_after = SimDuration::from_secs(6);
            let mut check = PlaylistCheck::new(1, stale_after);
            let (mut now, mut last, mut since) = (0, None, 0);
            for (step, newest) in answers {
                now += step;
                let newest = newest.checked_sub(1);
                if last != Some(newest) {
                    last = Some(newest);
                    since = now;
                }
                let fresh = check.handle_playlist(t(now), 0, newest);
                prop_assert_eq!(fresh, now < since + 6_000);
            }
        }

        /// A failure is reported exactly when some condition has lasted its threshold:
        /// never earlier, and its instant is never in the future.
        #[test]
        fn failures_are_exact(frames in proptest::collection::vec((1u64..800, any::<bool>(), any::<bool>()), 1..100), probe in 0u64..3_000) {
            let mut check = ContentCheck::new(ContentConfig::MEDIALIVE);
            let mut now = 0;
            let (mut black_since, mut silent_since) = (None, None);
            for (step, black, silent) in frames {
                now += step;
                check.handle_frames(t(now), black, silent);
                black_since = if black { black_since.or(Some(now)) } else { None };
                silent_since = if silent { silent_since.or(Some(now)) } else { None };
            }
            let at = now + probe;
            let expected = [Some(now + 1_000), black_since.map(|s| s + 1_000), silent_since.map(|s| s + 1_000)]
                .into_iter()
                .flatten()
                .filter(|&crossed| crossed <= at)
                .min();
            prop_assert_eq!(check.failure(t(at)).map(|(_, crossed)| crossed), expected.map(t));
        }
    }
}
