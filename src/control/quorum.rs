//! Health checking from several uncoordinated checkers, and the verdict drawn from
//! them, as Route 53 does it (Route 53 developer guide, "How Amazon Route 53 determines
//! whether a health check is healthy"): checkers in several regions each probe the
//! endpoint on their own schedule and apply the failure threshold themselves; the
//! endpoint is healthy while *more than* 18% of them report it healthy, and unhealthy
//! once 18% or fewer do. Without a region list a health check uses all eight
//! `HealthCheckRegion` values (us-east-1, us-west-1, us-west-2, eu-west-1,
//! ap-southeast-1, ap-southeast-2, ap-northeast-1, sa-east-1; Route 53 API reference,
//! `HealthCheckConfig.Regions`).
//!
//! Each checker is a `control::health::HealthChecker`; this module only multiplexes
//! them and keeps the verdict. With one checker the verdict is that checker's, event
//! for event.
//!
//! Calling contract: as `HealthChecker`, with the checker's index on every probe
//! ([`HealthQuorum::poll_probe`]) and answer ([`HealthQuorum::handle_response`]).

use std::collections::VecDeque;

use crate::time::SimTime;

use super::health::{Health, HealthChecker, HealthConfig, HealthEvent, Probe};

/// Route 53's rule: healthy while more than this share of the checkers say so.
pub const ROUTE53_HEALTHY_ABOVE: f64 = 0.18;

/// Route 53's checker regions when a health check names none.
pub const ROUTE53_CHECKERS: u32 = 8;

#[derive(Clone, Debug)]
pub struct HealthQuorum {
    checkers: Vec<HealthChecker>,
    healthy_above: f64,
    /// Per target: how many checkers report it healthy, and the verdict.
    healthy_count: Vec<usize>,
    verdict: Vec<Health>,
    events: VecDeque<HealthEvent>,
    next_checker: usize,
}

impl HealthQuorum {
    /// `first_checks[c][t]`: when checker `c` first probes target `t`. Every target
    /// starts healthy in every checker.
    pub fn new(config: HealthConfig, first_checks: &[Vec<SimTime>], healthy_above: f64) -> Self {
        assert!(!first_checks.is_empty(), "a quorum needs a checker");
        let targets = first_checks[0].len();
        HealthQuorum {
            checkers: first_checks.iter().map(|at| HealthChecker::new(config, at)).collect(),
            healthy_above,
            healthy_count: vec![first_checks.len(); targets],
            verdict: vec![Health::Up; targets],
            events: VecDeque::new(),
            next_checker: 0,
        }
    }

    pub fn checkers(&self) -> usize {
        self.checkers.len()
    }

    /// The verdict on `target`.
    pub fn health(&self, target: usize) -> Health {
        self.verdict[target]
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.checkers.iter().filter_map(HealthChecker::poll_timeout).min()
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        for checker in &mut self.checkers {
            checker.handle_timeout(now);
        }
        self.collect();
    }

    /// Checker `checker`'s probe `probe_id` to `target` was answered at `now`.
    pub fn handle_response(&mut self, now: SimTime, checker: usize, target: usize, probe_id: u64) {
        if let Some(c) = self.checkers.get_mut(checker) {
            c.handle_response(now, target, probe_id);
            self.collect();
        }
    }

    /// The next probe to send, and which checker sends it.
    pub fn poll_probe(&mut self) -> Option<(usize, Probe)> {
        let n = self.checkers.len();
        for _ in 0..n {
            let c = self.next_checker;
            if let Some(probe) = self.checkers[c].poll_probe() {
                return Some((c, probe));
            }
            self.next_checker = (c + 1) % n;
        }
        None
    }

    /// A change of a verdict.
    pub fn poll_event(&mut self) -> Option<HealthEvent> {
        self.events.pop_front()
    }

    fn healthy(&self, count: usize) -> bool {
        count as f64 > self.healthy_above * self.checkers.len() as f64
    }

    /// Applies the checkers' changes in time order (ties: checker order) and records
    /// each change of a verdict at the instant of the checker change that made it.
    fn collect(&mut self) {
        let mut changes: Vec<(SimTime, usize, HealthEvent)> = Vec::new();
        for (c, checker) in self.checkers.iter_mut().enumerate() {
            while let Some(event) = checker.poll_event() {
                changes.push((event.at, c, event));
            }
        }
        changes.sort_by_key(|&(at, c, _)| (at, c));
        for (_, _, event) in changes {
            let count = &mut self.healthy_count[event.target];
            match event.health {
                Health::Up => *count += 1,
                Health::Down => *count -= 1,
            }
            let health = if self.healthy(self.healthy_count[event.target]) {
                Health::Up
            } else {
                Health::Down
            };
            if health != self.verdict[event.target] {
                self.verdict[event.target] = health;
                self.events.push_back(HealthEvent { health, ..event });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    const ROUTE53: HealthConfig = HealthConfig {
        interval: SimDuration::from_secs(30),
        timeout: SimDuration::from_secs(4),
        fall: 3,
        rise: 3,
    };

    fn at(ms: u64) -> SimTime {
        SimTime::from_millis(ms)
    }

    /// Drives `quorum` over one target that answers at once while `alive(t)`.
    fn drive(quorum: &mut HealthQuorum, until: SimTime, alive: impl Fn(SimTime) -> bool) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        while let Some(now) = quorum.poll_timeout().filter(|&t| t <= until) {
            quorum.handle_timeout(now);
            while let Some((checker, probe)) = quorum.poll_probe() {
                if alive(now) {
                    quorum.handle_response(now, checker, probe.target, probe.probe_id);
                }
            }
            events.extend(std::iter::from_fn(|| quorum.poll_event()));
        }
        events
    }

    #[test]
    fn eight_checkers_declare_the_endpoint_down_when_the_seventh_reaches_its_threshold() {
        // Checker c first probes at c × 3 s; the endpoint dies at 100 s. Checker c's
        // first failed probe is its first at or after 100 s, and it declares the
        // endpoint down two intervals and a timeout later.
        let phases: Vec<Vec<SimTime>> = (0..8).map(|c| vec![at(c * 3_000)]).collect();
        let mut quorum = HealthQuorum::new(ROUTE53, &phases, ROUTE53_HEALTHY_ABOVE);
        let events = drive(&mut quorum, at(300_000), |t| t < at(100_000));
        let down_at: Vec<u64> = (0..8u64)
            .map(|c| {
                let first_failed = (100_000u64.saturating_sub(c * 3_000)).div_ceil(30_000) * 30_000 + c * 3_000;
                first_failed + 60_000 + 4_000
            })
            .collect();
        let mut sorted = down_at.clone();
        sorted.sort();
        // 8 × 0.18 = 1.44: one healthy checker is not enough, so the verdict falls
        // when the seventh checker falls.
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].health, Health::Down);
        assert_eq!(events[0].at, at(sorted[6]));
    }

    /// P(the k-th smallest of n uniforms on [0, 1) is at most x).
    fn order_statistic_cdf(k: usize, n: usize, x: f64) -> f64 {
        let choose = |n: usize, j: usize| (0..j).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
        (k..=n)
            .map(|j| choose(n, j) * x.powi(j as i32) * (1.0 - x).powi((n - j) as i32))
            .sum()
    }

    #[test]
    fn detection_follows_the_seventh_order_statistic_of_eight_uniform_phases() {
        // Each checker's first probe after the crash comes V_c later, V_c uniform on
        // [0, 30 s) and independent; each declares the endpoint down V_c + 64 s after
        // the crash; the verdict falls at the 7th: 64 s + V_(7), so detection − 64 s
        // over 30 s is Beta(7, 2) distributed (mean 87.33 s, against 79 s for one
        // checker). Kolmogorov-Smirnov over 4,000 draws of the phases.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
        let crash = 1_000_000u64;
        let samples = 4_000;
        let mut detections: Vec<f64> = (0..samples)
            .map(|_| {
                let phases: Vec<Vec<SimTime>> = (0..8)
                    .map(|_| vec![SimTime::from_nanos(rng.gen_range(0..30_000_000_000))])
                    .collect();
                let mut quorum = HealthQuorum::new(ROUTE53, &phases, ROUTE53_HEALTHY_ABOVE);
                let events = drive(&mut quorum, at(crash + 200_000), |t| t < at(crash));
                assert_eq!(events.len(), 1);
                (events[0].at.as_nanos() as f64 / 1e6 - crash as f64) / 1e3
            })
            .collect();
        detections.sort_by(f64::total_cmp);
        assert!(detections[0] >= 64.0 && detections[samples - 1] <= 94.0);
        let ks = (detections.iter().enumerate())
            .map(|(i, &d)| {
                let f = order_statistic_cdf(7, 8, (d - 64.0) / 30.0);
                (f - i as f64 / samples as f64)
                    .abs()
                    .max((f - (i + 1) as f64 / samples as f64).abs())
            })
            .fold(0.0, f64::max);
        // The 1% critical value is 1.63 / √n.
        assert!(ks < 1.63 / (samples as f64).sqrt(), "KS distance {ks}");
        let mean = detections.iter().sum::<f64>() / samples as f64;
        assert!((mean - (64.0 + 30.0 * 7.0 / 9.0)).abs() < 0.3, "mean {mean}");
    }

    #[test]
    fn one_checker_is_that_checker_event_for_event() {
        let first = vec![at(7_000)];
        let mut quorum = HealthQuorum::new(ROUTE53, std::slice::from_ref(&first), ROUTE53_HEALTHY_ABOVE);
        let mut alone = HealthChecker::new(ROUTE53, &first);
        let alive = |t: SimTime| t < at(100_000) || t > at(400_000);
        let events = drive(&mut quorum, at(900_000), alive);
        let mut expected = Vec::new();
        while let Some(now) = alone.poll_timeout().filter(|&t| t <= at(900_000)) {
            alone.handle_timeout(now);
            while let Some(probe) = alone.poll_probe() {
                if alive(now) {
                    alone.handle_response(now, probe.target, probe.probe_id);
                }
            }
            expected.extend(std::iter::from_fn(|| alone.poll_event()));
        }
        assert_eq!(events, expected);
        assert_eq!(events.len(), 2, "down, then up again");
    }

    #[test]
    fn the_verdict_recovers_when_more_than_the_share_see_the_endpoint_again() {
        // Two of eight healthy is 25% > 18%: up again at the second checker's rise.
        let phases: Vec<Vec<SimTime>> = (0..8).map(|c| vec![at(c * 3_000)]).collect();
        let mut quorum = HealthQuorum::new(ROUTE53, &phases, ROUTE53_HEALTHY_ABOVE);
        let events = drive(&mut quorum, at(900_000), |t| t < at(100_000) || t >= at(500_000));
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[1].health, Health::Up);
        // Checker c's third success after 500 s: its probes at or after 500 s, the
        // third of them; the second checker to get there makes the verdict.
        let mut rise_at: Vec<u64> = (0..8u64)
            .map(|c| (500_000 - c * 3_000).div_ceil(30_000) * 30_000 + c * 3_000 + 60_000)
            .collect();
        rise_at.sort();
        assert_eq!(events[1].at, at(rise_at[1]));
    }
}
