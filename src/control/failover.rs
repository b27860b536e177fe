//! Ingest redundancy policy: which pipeline is active, and when to switch.
//!
//! Active-passive: one active pipeline, standbys in preference order. When the active
//! pipeline is reported down, the first healthy standby is promoted at once (MODEL.md:
//! "active-passive ingest, heartbeat 1 s × 3: detect ~3 s, promote standby"). With
//! failback `prefer-primary`, the primary is restored once it has been healthy for the
//! error-clear hold (as AWS MediaLive's input failover does); with `none`, a recovered
//! primary stays a standby.
//!
//! Calling contract: report health with [`ActivePassive::handle_health`]; call
//! [`ActivePassive::handle_timeout`] when `now` reaches [`ActivePassive::poll_timeout`];
//! execute every [`Switch`] from [`ActivePassive::poll_switch`].

use std::collections::VecDeque;

use super::health::Health;
use crate::time::{SimDuration, SimTime};

/// What to do once a failed primary is healthy again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failback {
    /// Stay on the pipeline that took over.
    None,
    /// Return to the primary after it has been up for `hold`.
    PreferPrimary { hold: SimDuration },
}

/// Why the policy switched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchReason {
    ActiveDown,
    Failback,
}

/// Make pipeline `to` active in place of `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    pub from: usize,
    pub to: usize,
    pub at: SimTime,
    pub reason: SwitchReason,
}

/// Active-passive selection among `n` pipelines; pipeline 0 is the primary.
#[derive(Clone, Debug)]
pub struct ActivePassive {
    health: Vec<Health>,
    up_since: Vec<Option<SimTime>>,
    active: usize,
    failback: Failback,
    switches: VecDeque<Switch>,
}

impl ActivePassive {
    pub fn new(pipelines: usize, failback: Failback) -> Self {
        assert!(pipelines >= 2, "active-passive needs at least two pipelines");
        ActivePassive {
            health: vec![Health::Up; pipelines],
            up_since: vec![Some(SimTime::ZERO); pipelines],
            active: 0,
            failback,
            switches: VecDeque::new(),
        }
    }

    pub fn active(&self) -> usize {
        self.active
    }

    pub fn handle_health(&mut self, now: SimTime, pipeline: usize, health: Health) {
        self.health[pipeline] = health;
        self.up_since[pipeline] = (health == Health::Up).then_some(now);
        if self.health[self.active] == Health::Down {
            if let Some(to) = self.first_healthy() {
                self.switch_to(now, to, SwitchReason::ActiveDown);
            }
        }
        self.handle_timeout(now);
    }

    fn first_healthy(&self) -> Option<usize> {
        (0..self.health.len()).find(|&p| p != self.active && self.health[p] == Health::Up)
    }

    fn switch_to(&mut self, now: SimTime, to: usize, reason: SwitchReason) {
        self.switches.push_back(Switch {
            from: self.active,
            to,
            at: now,
            reason,
        });
        self.active = to;
    }

    fn failback_due(&self) -> Option<SimTime> {
        match self.failback {
            Failback::PreferPrimary { hold } if self.active != 0 => self.up_since[0].map(|since| since + hold),
            _ => None,
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.failback_due()
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        if self.failback_due().is_some_and(|due| due <= now) {
            self.switch_to(now, 0, SwitchReason::Failback);
        }
    }

    pub fn poll_switch(&mut self) -> Option<Switch> {
        self.switches.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    #[test]
    fn promotes_standby_when_active_goes_down() {
        let mut policy = ActivePassive::new(2, Failback::None);
        policy.handle_health(t(3), 0, Health::Down);
        assert_eq!(
            policy.poll_switch(),
            Some(Switch {
                from: 0,
                to: 1,
                at: t(3),
                reason: SwitchReason::ActiveDown
            })
        );
        // Primary recovers: with no failback it stays a standby.
        policy.handle_health(t(10), 0, Health::Up);
        assert_eq!(policy.poll_switch(), None);
        assert_eq!(policy.active(), 1);
        assert_eq!(policy.poll_timeout(), None);
    }

    #[test]
    fn waits_for_a_healthy_standby() {
        let mut policy = ActivePassive::new(2, Failback::None);
        policy.handle_health(t(1), 1, Health::Down);
        policy.handle_health(t(2), 0, Health::Down);
        assert_eq!(policy.poll_switch(), None);
        policy.handle_health(t(5), 1, Health::Up);
        assert_eq!(policy.poll_switch().map(|s| (s.to, s.at)), Some((1, t(5))));
    }

    #[test]
    fn fails_back_after_the_hold() {
        let hold = SimDuration::from_secs(30);
        let mut policy = ActivePassive::new(2, Failback::PreferPrimary { hold });
        policy.handle_health(t(3), 0, Health::Down);
        policy.poll_switch();
        policy.handle_health(t(100), 0, Health::Up);
        assert_eq!(policy.poll_timeout(), Some(t(130)));
        policy.handle_timeout(t(129));
        assert_eq!(policy.poll_switch(), None);
        policy.handle_timeout(t(130));
        assert_eq!(
            policy.poll_switch().map(|s| (s.to, s.reason)),
            Some((0, SwitchReason::Failback))
        );
    }

    proptest! {
        /// Whatever the health reports, the policy never makes a down pipeline active
        /// while a healthy one exists, and each switch starts from the previous active.
        #[test]
        fn never_stays_on_a_down_pipeline(reports in proptest::collection::vec((0usize..3, any::<bool>()), 1..60)) {
            let mut policy = ActivePassive::new(3, Failback::None);
            let mut health = [Health::Up; 3];
            let mut active = 0;
            for (i, (pipeline, up)) in reports.into_iter().enumerate() {
                let h = if up { Health::Up } else { Health::Down };
                health[pipeline] = h;
                policy.handle_health(SimTime::from_secs(i as u64), pipeline, h);
                while let Some(switch) = policy.poll_switch() {
                    prop_assert_eq!(switch.from, active);
                    prop_assert_eq!(health[switch.to], Health::Up);
                    active = switch.to;
                }
                prop_assert_eq!(policy.active(), active);
                if health.contains(&Health::Up) {
                    prop_assert_eq!(health[active], Health::Up);
                }
            }
        }
    }
}
