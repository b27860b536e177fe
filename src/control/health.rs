//! Active health checking (HAProxy / Route 53 style): probes every `interval`, a probe
//! unanswered within `timeout` fails, `fall` consecutive failures mark a target down and
//! `rise` consecutive successes mark it up again.
//!
//! Defaults follow HAProxy (`inter 2s fall 3 rise 2`, HAProxy configuration manual);
//! Route 53 uses interval 30 s, failure threshold 3 (Route 53 developer guide).
//!
//! Calling contract (sans-IO, as quinn-proto): call [`HealthChecker::handle_timeout`]
//! whenever `now` reaches [`HealthChecker::poll_timeout`]; send every probe from
//! [`HealthChecker::poll_probe`] and report answers with
//! [`HealthChecker::handle_response`]; read state changes from
//! [`HealthChecker::poll_event`]. `now` must never go backwards.
//!
//! Exact timing: if the first probe that goes unanswered is sent at `s`, the target is
//! declared down at `s + (fall - 1) × interval + timeout`.

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// Settings of one health check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    pub interval: SimDuration,
    pub timeout: SimDuration,
    pub fall: u32,
    pub rise: u32,
}

impl HealthConfig {
    /// HAProxy's defaults: `inter 2s`, `fall 3`, `rise 2`; the timeout defaults to `inter`.
    pub const HAPROXY: HealthConfig = HealthConfig {
        interval: SimDuration::from_secs(2),
        timeout: SimDuration::from_secs(2),
        fall: 3,
        rise: 2,
    };

    /// Checks the settings; the message says how to fix them.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval.is_zero() {
            return Err("health.interval must be greater than zero".into());
        }
        if self.timeout.is_zero() || self.timeout > self.interval {
            return Err(format!(
                "health.timeout ({}) must be greater than zero and at most health.interval ({})",
                self.timeout, self.interval
            ));
        }
        if self.fall == 0 || self.rise == 0 {
            return Err("health.fall and health.rise must be at least 1".into());
        }
        Ok(())
    }
}

/// A target's health as the checker believes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Up,
    Down,
}

/// A probe to send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub target: usize,
    pub probe_id: u64,
}

/// A change of a target's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    pub target: usize,
    pub health: Health,
    pub at: SimTime,
}

#[derive(Clone, Debug)]
struct TargetState {
    health: Health,
    consecutive_ok: u32,
    consecutive_failed: u32,
    next_check_at: SimTime,
    outstanding: Option<(u64, SimTime)>,
}

/// Active checker for a fixed list of targets. Targets start `Up`.
#[derive(Clone, Debug)]
pub struct HealthChecker {
    config: HealthConfig,
    targets: Vec<TargetState>,
    next_probe_id: u64,
    probes: VecDeque<Probe>,
    events: VecDeque<HealthEvent>,
}

impl HealthChecker {
    /// `first_check_at[i]` is when target `i` is first probed (spread them to avoid bursts).
    pub fn new(config: HealthConfig, first_check_at: &[SimTime]) -> Self {
        HealthChecker {
            config,
            targets: first_check_at
                .iter()
                .map(|&at| TargetState {
                    health: Health::Up,
                    consecutive_ok: 0,
                    consecutive_failed: 0,
                    next_check_at: at,
                    outstanding: None,
                })
                .collect(),
            next_probe_id: 0,
            probes: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &HealthConfig {
        &self.config
    }

    pub fn health(&self, target: usize) -> Health {
        self.targets[target].health
    }

    /// The earliest time at which [`Self::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.targets
            .iter()
            .flat_map(|t| [Some(t.next_check_at), t.outstanding.map(|(_, deadline)| deadline)])
            .flatten()
            .min()
    }

    /// Expires unanswered probes and starts due checks.
    pub fn handle_timeout(&mut self, now: SimTime) {
        for index in 0..self.targets.len() {
            if let Some((_, deadline)) = self.targets[index].outstanding {
                if deadline <= now {
                    self.targets[index].outstanding = None;
                    self.record(index, false, deadline);
                }
            }
            while self.targets[index].next_check_at <= now {
                let probe_id = self.next_probe_id;
                self.next_probe_id += 1;
                let sent_at = self.targets[index].next_check_at;
                let target = &mut self.targets[index];
                target.outstanding = Some((probe_id, sent_at + self.config.timeout));
                target.next_check_at = sent_at + self.config.interval;
                self.probes.push_back(Probe {
                    target: index,
                    probe_id,
                });
            }
        }
    }

    /// An answer to probe `probe_id` from `target` arrived at `now`.
    pub fn handle_response(&mut self, now: SimTime, target: usize, probe_id: u64) {
        self.handle_result(now, target, probe_id, true);
    }

    /// An answer to probe `probe_id` from `target` arrived at `now`, and what it said
    /// passed the check (`ok`) or failed it (an HTTP check's unexpected status or
    /// content, HAProxy `http-check expect`): a failing answer counts as a failed check.
    pub fn handle_result(&mut self, now: SimTime, target: usize, probe_id: u64, ok: bool) {
        let Some(state) = self.targets.get_mut(target) else {
            return;
        };
        match state.outstanding {
            Some((id, deadline)) if id == probe_id && now < deadline => {
                state.outstanding = None;
                self.record(target, ok, now);
            }
            // Late or unknown answers count for nothing, as in HAProxy.
            _ => {}
        }
    }

    fn record(&mut self, index: usize, ok: bool, at: SimTime) {
        let config = self.config;
        let target = &mut self.targets[index];
        if ok {
            target.consecutive_ok += 1;
            target.consecutive_failed = 0;
            if target.health == Health::Down && target.consecutive_ok >= config.rise {
                target.health = Health::Up;
                self.events.push_back(HealthEvent {
                    target: index,
                    health: Health::Up,
                    at,
                });
            }
        } else {
            target.consecutive_failed += 1;
            target.consecutive_ok = 0;
            if target.health == Health::Up && target.consecutive_failed >= config.fall {
                target.health = Health::Down;
                self.events.push_back(HealthEvent {
                    target: index,
                    health: Health::Down,
                    at,
                });
            }
        }
    }

    pub fn poll_probe(&mut self) -> Option<Probe> {
        self.probes.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<HealthEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Drives a checker against one target that answers after `rtt` while `alive(t)`.
    fn drive(
        config: HealthConfig,
        rtt: SimDuration,
        until: SimTime,
        alive: impl Fn(SimTime) -> bool,
    ) -> Vec<HealthEvent> {
        let mut checker = HealthChecker::new(config, &[SimTime::ZERO]);
        let mut answers: Vec<(SimTime, u64)> = Vec::new();
        let mut events = Vec::new();
        loop {
            let next_answer = answers.iter().map(|a| a.0).min();
            let next = [checker.poll_timeout(), next_answer]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            if next > until {
                break;
            }
            if next_answer == Some(next) {
                let pos = answers.iter().position(|a| a.0 == next).unwrap();
                let (at, id) = answers.remove(pos);
                checker.handle_response(at, 0, id);
            } else {
                checker.handle_timeout(next);
            }
            while let Some(probe) = checker.poll_probe() {
                if alive(next) {
                    answers.push((next + rtt, probe.probe_id));
                }
            }
            events.extend(std::iter::from_fn(|| checker.poll_event()));
        }
        events
    }

    #[test]
    fn haproxy_defaults_detect_in_six_seconds_plus_timeout() {
        // The target dies just after answering the check at t=10 s: checks at 12, 14 and
        // 16 s fail, the last one at 16 s + 2 s timeout.
        let events = drive(
            HealthConfig::HAPROXY,
            SimDuration::from_millis(1),
            SimTime::from_secs(30),
            |t| t <= SimTime::from_secs(10),
        );
        assert_eq!(
            events,
            vec![HealthEvent {
                target: 0,
                health: Health::Down,
                at: SimTime::from_secs(18)
            }]
        );
        // Detection relative to the last good answer = interval × fall + timeout.
        let detection = SimTime::from_secs(18) - SimTime::from_secs(10);
        assert_eq!(detection, SimDuration::from_secs(2) * 3 + SimDuration::from_secs(2));
    }

    #[test]
    fn answers_that_fail_the_check_count_as_failures_at_their_arrival() {
        // HAProxy defaults, probes at 0, 2, 4 … s answered 5 ms later; from 10 s on the
        // answers are wrong (stale content): checks at 10, 12 and 14 s fail.
        let mut checker = HealthChecker::new(HealthConfig::HAPROXY, &[SimTime::ZERO]);
        let mut events = Vec::new();
        for second in (0..20).step_by(2) {
            let now = SimTime::from_secs(second);
            checker.handle_timeout(now);
            let probe = checker.poll_probe().expect("a check is due every 2 s");
            let answered = now + SimDuration::from_millis(5);
            checker.handle_result(answered, 0, probe.probe_id, second < 10);
            events.extend(std::iter::from_fn(|| checker.poll_event()));
        }
        assert_eq!(
            events,
            vec![HealthEvent {
                target: 0,
                health: Health::Down,
                at: SimTime::from_millis(14_005)
            }]
        );
    }

    #[test]
    fn recovers_after_rise_successes() {
        let config = HealthConfig {
            interval: SimDuration::from_secs(1),
            timeout: SimDuration::from_millis(500),
            fall: 3,
            rise: 2,
        };
        let down_from = SimTime::from_millis(4_500);
        let up_from = SimTime::from_millis(20_500);
        let events = drive(config, SimDuration::from_millis(2), SimTime::from_secs(30), |t| {
            !(down_from..up_from).contains(&t)
        });
        // First failed probe at 5 s: down at 5 + 2×1 + 0.5 = 7.5 s. First good probe at
        // 21 s answered at 21.002 s, second at 22.002 s: up then.
        assert_eq!(
            events,
            vec![
                HealthEvent {
                    target: 0,
                    health: Health::Down,
                    at: SimTime::from_millis(7_500)
                },
                HealthEvent {
                    target: 0,
                    health: Health::Up,
                    at: SimTime::from_millis(22_002)
                },
            ]
        );
    }

    #[test]
    fn late_answers_do_not_count() {
        let config = HealthConfig {
            interval: SimDuration::from_secs(1),
            timeout: SimDuration::from_millis(100),
            fall: 2,
            rise: 1,
        };
        // Every answer takes 150 ms: later than the timeout, so the target is down at 1.1 s.
        let events = drive(config, SimDuration::from_millis(150), SimTime::from_secs(5), |_| true);
        assert_eq!(events[0].at, SimTime::from_millis(1_100));
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn route53_defaults_detect_in_ninety_seconds() {
        // Route 53: interval 30 s, failure threshold 3. A target that stops answering
        // right after a successful check is declared unhealthy three intervals later
        // (plus the last check's timeout).
        let config = HealthConfig {
            interval: SimDuration::from_secs(30),
            timeout: SimDuration::from_secs(4),
            fall: 3,
            rise: 3,
        };
        let mut checker = HealthChecker::new(config, &[SimTime::ZERO]);
        let dies = SimTime::from_secs(1);
        let mut down = None;
        while down.is_none() {
            let now = checker.poll_timeout().unwrap();
            checker.handle_timeout(now);
            while let Some(probe) = checker.poll_probe() {
                if now < dies {
                    checker.handle_response(now + SimDuration::from_millis(20), 0, probe.probe_id);
                }
            }
            if let Some(event) = checker.poll_event() {
                assert_eq!(event.health, Health::Down);
                down = Some(event.at);
            }
        }
        // Checks at 30, 60 and 90 s fail: down at 90 s + 4 s timeout.
        assert_eq!(down, Some(SimTime::from_secs(94)));
        assert_eq!(config.interval * u64::from(config.fall), SimDuration::from_secs(90));
    }

    proptest! {
        /// detection = first unanswered probe + (fall − 1) × interval + timeout, exactly.
        #[test]
        fn detection_time_is_exact(
            interval_ms in 100u64..5_000,
            timeout_pct in 1u64..=100,
            fall in 1u32..6,
            crash_ms in 0u64..60_000,
        ) {
            let interval = SimDuration::from_millis(interval_ms);
            let timeout = SimDuration::from_millis((interval_ms * timeout_pct / 100).max(1));
            let config = HealthConfig { interval, timeout, fall, rise: 1 };
            let crash = SimTime::from_millis(crash_ms);
            let rtt = SimDuration::from_nanos(1);
            let events = drive(config, rtt, SimTime::from_secs(120), |t| t < crash);
            let first_unanswered_ms = crash_ms.div_ceil(interval_ms) * interval_ms;
            let expected = SimTime::from_millis(first_unanswered_ms) + interval * u64::from(fall - 1) + timeout;
            prop_assert_eq!(events.len(), 1);
            prop_assert_eq!(events[0].health, Health::Down);
            prop_assert_eq!(events[0].at, expected);
        }
    }
}
