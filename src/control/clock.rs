//! A component's own clock when it drifts from true time (`clock.skew`): it runs at
//! `1 + drift` seconds per second from the instant the drift began, so a component
//! that counts timeouts on it counts them too fast or too slow. Offsets alone change
//! nothing in failcast (no component compares its clock with another's), so a clock
//! is a rate, re-anchored wherever the rate changes so that local time never jumps.
//!
//! Calling contract: read local time with [`LocalClock::local`] for everything the
//! component measures, arm real timers at [`LocalClock::real`] of its local deadlines,
//! and report rate changes with [`LocalClock::set_drift_ppm`].

use crate::time::SimTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClock {
    anchor_real: SimTime,
    anchor_local: SimTime,
    /// Parts per million fast (positive) or slow (negative); > -1,000,000.
    drift_ppm: i64,
}

impl Default for LocalClock {
    fn default() -> Self {
        LocalClock {
            anchor_real: SimTime::ZERO,
            anchor_local: SimTime::ZERO,
            drift_ppm: 0,
        }
    }
}

impl LocalClock {
    /// Local time at true time `real` (not before the last rate change).
    pub fn local(&self, real: SimTime) -> SimTime {
        let elapsed = i128::from(real.saturating_since(self.anchor_real).as_nanos());
        let scaled = elapsed * i128::from(1_000_000 + self.drift_ppm) / 1_000_000;
        SimTime::from_nanos(self.anchor_local.as_nanos() + scaled.max(0) as u64)
    }

    /// The true time at which the clock shows `local` (at the earliest, the anchor).
    pub fn real(&self, local: SimTime) -> SimTime {
        let elapsed = i128::from(local.saturating_since(self.anchor_local).as_nanos());
        let rate = i128::from(1_000_000 + self.drift_ppm);
        let scaled = (elapsed * 1_000_000 + rate - 1) / rate;
        SimTime::from_nanos(self.anchor_real.as_nanos() + scaled as u64)
    }

    /// From true time `now` on, the clock runs `drift_ppm` parts per million fast.
    pub fn set_drift_ppm(&mut self, now: SimTime, drift_ppm: i64) {
        self.anchor_local = self.local(now);
        self.anchor_real = now;
        self.drift_ppm = drift_ppm.max(-999_999);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_slow_clock_counts_a_timeout_late_and_time_never_jumps() {
        let mut clock = LocalClock::default();
        assert_eq!(clock.local(SimTime::from_secs(7)), SimTime::from_secs(7));
        // Half speed from 10 s: a 10 s local timeout armed at 10 s fires at 30 s.
        clock.set_drift_ppm(SimTime::from_secs(10), -500_000);
        assert_eq!(clock.local(SimTime::from_secs(10)), SimTime::from_secs(10));
        assert_eq!(clock.real(SimTime::from_secs(20)), SimTime::from_secs(30));
        // Back to true rate at 30 s: local time stays continuous (20 s), 10 s behind.
        clock.set_drift_ppm(SimTime::from_secs(30), 0);
        assert_eq!(clock.local(SimTime::from_secs(40)), SimTime::from_secs(30));
    }

    proptest! {
        /// A local deadline's true time shows at least that deadline on the clock, and
        /// a nanosecond earlier shows less: timers fire exactly when the clock says.
        #[test]
        fn real_inverts_local(ppm in -900_000i64..900_000, at_s in 0u64..100_000, ahead_ms in 0u64..10_000_000) {
            let mut clock = LocalClock::default();
            clock.set_drift_ppm(SimTime::from_secs(at_s), ppm);
            let deadline = clock.local(SimTime::from_secs(at_s)) + crate::time::SimDuration::from_millis(ahead_ms);
            let real = clock.real(deadline);
            prop_assert!(clock.local(real) >= deadline);
            if real > SimTime::from_secs(at_s) {
                prop_assert!(clock.local(SimTime::from_nanos(real.as_nanos() - 1)) < deadline);
            }
        }
    }
}
