//! Reconnect backoff for publishers (encoders): first retry after `first_delay`, each
//! next delay × `multiplier`, up to `max_delay`, at most `max_attempts` tries.
//!
//! Defaults follow OBS Studio: first retry after 2 s, then ×1.5, 25 tries
//! (obs-studio `rtmp-stream.c`, `OBSBasic.cpp`).

use crate::time::SimDuration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub first_delay: SimDuration,
    pub multiplier: f64,
    pub max_delay: SimDuration,
    pub max_attempts: u32,
}

impl Backoff {
    /// OBS Studio's reconnect behaviour.
    pub const OBS: Backoff = Backoff {
        first_delay: SimDuration::from_secs(2),
        multiplier: 1.5,
        max_delay: SimDuration::from_secs(900),
        max_attempts: 25,
    };

    /// The wait before attempt number `attempt` (1-based), or `None` once tries run out.
    pub fn delay(&self, attempt: u32) -> Option<SimDuration> {
        if attempt == 0 || attempt > self.max_attempts {
            return None;
        }
        // libm's pow is the same on every platform, so are the delays.
        let factor = libm::pow(self.multiplier, f64::from(attempt - 1));
        Some(self.first_delay.mul_f64(factor).min(self.max_delay))
    }
}

/// Connection state of a publisher that retries with a [`Backoff`].
#[derive(Clone, Debug, PartialEq)]
pub struct Reconnector {
    backoff: Backoff,
    failed_attempts: u32,
}

impl Reconnector {
    pub fn new(backoff: Backoff) -> Self {
        Reconnector {
            backoff,
            failed_attempts: 0,
        }
    }

    /// The session was established: the next failure starts from the first delay.
    pub fn connected(&mut self) {
        self.failed_attempts = 0;
    }

    /// The session broke or an attempt failed: how long to wait before the next attempt,
    /// or `None` when the publisher gives up.
    pub fn failed(&mut self) -> Option<SimDuration> {
        self.failed_attempts += 1;
        self.backoff.delay(self.failed_attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Delays never shrink, never pass the cap, start at the first delay, and
        /// there are exactly `max_attempts` of them until a success starts over.
        #[test]
        fn delays_grow_to_the_cap_and_run_out(
            first_ms in 1u64..10_000,
            multiplier in 1.0f64..4.0,
            max_ms in 1u64..1_000_000,
            max_attempts in 1u32..40,
            successes in proptest::collection::vec(0u32..50, 0..4),
        ) {
            let backoff = Backoff {
                first_delay: SimDuration::from_millis(first_ms),
                multiplier,
                max_delay: SimDuration::from_millis(max_ms),
                max_attempts,
            };
            let mut r = Reconnector::new(backoff);
            for after in successes {
                let delays: Vec<SimDuration> = std::iter::from_fn(|| r.failed()).take(after as usize).collect();
                let expected_len = (after as usize).min(max_attempts as usize);
                prop_assert_eq!(delays.len(), expected_len);
                if let Some(&first) = delays.first() {
                    prop_assert_eq!(first, backoff.first_delay.min(backoff.max_delay));
                }
                prop_assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
                prop_assert!(delays.iter().all(|&d| d <= backoff.max_delay));
                // Liveness, in closed form: the k-th delay is first × multiplier^(k−1),
                // capped (to a nanosecond of rounding per step).
                for (k, d) in delays.iter().enumerate() {
                    let grown = first_ms as f64 * 1e6 * multiplier.powi(k as i32);
                    let expected = grown.min(max_ms as f64 * 1e6);
                    let got = d.as_nanos() as f64;
                    prop_assert!((got - expected).abs() <= 1.0 + expected * 1e-9, "delay {k}: {got} ns, expected {expected}");
                }
                r.connected();
            }
        }
    }

    #[test]
    fn obs_delays_grow_by_half_and_stop_after_25() {
        let mut r = Reconnector::new(Backoff::OBS);
        assert_eq!(r.failed(), Some(SimDuration::from_secs(2)));
        assert_eq!(r.failed(), Some(SimDuration::from_secs(3)));
        assert_eq!(r.failed(), Some(SimDuration::from_millis(4_500)));
        for _ in 3..25 {
            assert!(r.failed().is_some());
        }
        assert_eq!(r.failed(), None);
        r.connected();
        assert_eq!(r.failed(), Some(SimDuration::from_secs(2)));
    }
}
