//! Admission control for a server's egress: a token bucket that admits a response when
//! the bits it sends fit within the configured rate (with one second of burst), and
//! sheds it (the server answers 503) when they do not. This is how an edge at capacity
//! behaves towards new requests: it refuses quickly instead of slowing everyone.
//!
//! Calling contract (sans-IO): call [`TokenBucket::try_take`] for every response with
//! its size and `now`; `now` never goes backwards. [`TokenBucket::set_rate`] changes the
//! capacity (an overload fault, or its end).

use crate::time::SimTime;

/// Egress capacity in bits per second, with a burst of one second's worth. A response
/// larger than the burst is admitted when the bucket is full and leaves it in debt, so
/// a server slower than one segment per second still serves, just rarely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    rate_bps: u64,
    /// Negative while in debt.
    tokens_bits: i128,
    refilled_at: SimTime,
}

impl TokenBucket {
    /// A full bucket admitting `rate_bps` on average.
    pub fn new(rate_bps: u64, now: SimTime) -> Self {
        TokenBucket {
            rate_bps,
            tokens_bits: i128::from(rate_bps),
            refilled_at: now,
        }
    }

    pub fn rate_bps(&self) -> u64 {
        self.rate_bps
    }

    fn refill(&mut self, now: SimTime) {
        let elapsed_ns = now.saturating_since(self.refilled_at).as_nanos();
        let earned = i128::from(elapsed_ns) * i128::from(self.rate_bps) / 1_000_000_000;
        self.tokens_bits = (self.tokens_bits + earned).min(i128::from(self.rate_bps));
        self.refilled_at = now;
    }

    /// Admits a response of `bits` at `now` if the bucket holds them.
    pub fn try_take(&mut self, now: SimTime, bits: u64) -> bool {
        self.refill(now);
        let needed = i128::from(bits.min(self.rate_bps));
        if needed <= self.tokens_bits {
            self.tokens_bits -= i128::from(bits);
            true
        } else {
            false
        }
    }

    /// Changes the capacity at `now`; the burst shrinks with it.
    pub fn set_rate(&mut self, now: SimTime, rate_bps: u64) {
        self.refill(now);
        self.rate_bps = rate_bps;
        self.tokens_bits = self.tokens_bits.min(i128::from(rate_bps));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn admits_a_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(1_000, SimTime::ZERO);
        assert!(bucket.try_take(SimTime::ZERO, 600));
        assert!(!bucket.try_take(SimTime::ZERO, 600));
        // 200 ms later 200 bits have been earned: 600 fit again.
        assert!(bucket.try_take(SimTime::from_millis(200), 600));
        assert!(!bucket.try_take(SimTime::from_millis(200), 1));
        // Never more than one second's worth at once...
        assert!(bucket.try_take(SimTime::from_secs(100), 1_000));
        assert!(!bucket.try_take(SimTime::from_secs(100), 1));
    }

    #[test]
    fn a_response_larger_than_the_burst_is_served_from_a_full_bucket_and_repaid() {
        let mut bucket = TokenBucket::new(1_000, SimTime::ZERO);
        // 2.5 s worth: admitted from the full bucket, leaving 1.5 s of debt.
        assert!(bucket.try_take(SimTime::ZERO, 2_500));
        assert!(!bucket.try_take(SimTime::from_millis(2_400), 2_500));
        assert!(bucket.try_take(SimTime::from_millis(2_500), 2_500));
    }

    #[test]
    fn a_capacity_drop_takes_effect_at_once() {
        let mut bucket = TokenBucket::new(10_000, SimTime::ZERO);
        bucket.set_rate(SimTime::ZERO, 100);
        assert!(bucket.try_take(SimTime::ZERO, 100));
        assert!(!bucket.try_take(SimTime::ZERO, 1));
        assert!(bucket.try_take(SimTime::from_secs(1), 100));
    }

    proptest! {
        /// Over any sequence of requests, what is admitted never exceeds the burst plus
        /// the rate times the elapsed time, plus one response (the debt it may leave).
        #[test]
        fn admitted_never_exceeds_rate_plus_burst(rate in 1u64..1_000_000, asks in proptest::collection::vec((0u64..2_000, 1u64..2_000_000), 1..200)) {
            let mut bucket = TokenBucket::new(rate, SimTime::ZERO);
            let mut now = 0u64;
            let mut admitted: u128 = 0;
            let largest = asks.iter().map(|&(_, bits)| u128::from(bits)).max().unwrap_or(0);
            // (when, bits) of the last admitted response.
            let mut last: Option<(u64, u64)> = None;
            for (step_ms, bits) in asks {
                now += step_ms;
                // Liveness: once any debt is repaid and a second's burst earned since the
                // last admission, the bucket is full and must admit anything.
                let refilled = last.is_none_or(|(at, taken)| {
                    u128::from(now - at) * u128::from(rate) >= (u128::from(rate) + u128::from(taken)) * 1_000
                });
                let took = bucket.try_take(SimTime::from_millis(now), bits);
                prop_assert!(took || !refilled, "a full bucket refused {bits} bits at {now} ms");
                if took {
                    admitted += u128::from(bits);
                    last = Some((now, bits));
                }
                let bound = u128::from(rate) + u128::from(rate) * u128::from(now) / 1_000 + largest;
                prop_assert!(admitted <= bound, "{admitted} > {bound}");
            }
        }
    }
}
