//! Alerting rules, evaluated on scraped samples like Prometheus alerting rules: a
//! condition must hold at every evaluation for `hold` (Prometheus `for`) before the
//! alert fires, and must be false for `clear_hold` before it resolves; notifications
//! leave `notify_delay` later (Alertmanager's `group_wait`, 30 s by default).
//!
//! Calling contract (sans-IO): call [`AlertEngine::handle_sample`] with each rule's
//! current value at every evaluation (time never goes backwards); call
//! [`AlertEngine::handle_timeout`] when `now` reaches [`AlertEngine::poll_timeout`];
//! read what happened from [`AlertEngine::poll_event`].

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

named_enum! {
    /// A metric the monitor evaluates for alert rules, by the name `[[alert]]` gives it.
    pub enum MonitorMetric {
        /// Seconds since each stream's playlist last changed at the origin (the worst).
        StreamStale = "stream_stale_s",
        /// The share of started viewers stalled at the scrape.
        ViewersStalledRatio = "viewers_stalled_ratio",
        /// Ingest servers that did not answer the last scrape.
        IngestDown = "ingest_down",
        /// Ingest servers whose input is black, silent or lost.
        InputContentBad = "input_content_bad",
        /// Infrastructure nodes that missed their scrapes.
        NodesDown = "nodes_down",
    }
}

/// Which side of the threshold is bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Above,
    Below,
}

/// One alerting rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub comparison: Comparison,
    pub threshold: f64,
    /// How long the condition must hold before the alert fires.
    pub hold: SimDuration,
    /// How long the condition must be false before the alert resolves.
    pub clear_hold: SimDuration,
}

impl Rule {
    fn breached(&self, value: f64) -> bool {
        match self.comparison {
            Comparison::Above => value > self.threshold,
            Comparison::Below => value < self.threshold,
        }
    }
}

/// What an alert went through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertEvent {
    /// Rule `rule` fired at `at`; its condition had held since `since`.
    Fired { rule: usize, since: SimTime, at: SimTime },
    /// The firing of rule `rule` was notified at `at`.
    Notified { rule: usize, at: SimTime },
    /// Rule `rule` resolved at `at`.
    Resolved { rule: usize, at: SimTime },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Inactive,
    Pending { since: SimTime },
    Firing,
    Resolving { since: SimTime },
}

/// The rules and their states.
#[derive(Clone, Debug)]
pub struct AlertEngine {
    rules: Vec<Rule>,
    states: Vec<State>,
    notify_delay: SimDuration,
    outbox: VecDeque<(SimTime, usize)>,
    events: VecDeque<AlertEvent>,
}

impl AlertEngine {
    pub fn new(rules: Vec<Rule>, notify_delay: SimDuration) -> Self {
        let n = rules.len();
        AlertEngine {
            rules,
            states: vec![State::Inactive; n],
            notify_delay,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_firing(&self, rule: usize) -> bool {
        matches!(self.states[rule], State::Firing | State::Resolving { .. })
    }

    /// The value of rule `rule`'s metric at `now`.
    pub fn handle_sample(&mut self, now: SimTime, rule: usize, value: f64) {
        let breached = self.rules[rule].breached(value);
        let hold = self.rules[rule].hold;
        let clear_hold = self.rules[rule].clear_hold;
        self.states[rule] = match (self.states[rule], breached) {
            (State::Inactive, true) => self.maybe_fire(rule, now, now, hold),
            (State::Pending { since }, true) => self.maybe_fire(rule, since, now, hold),
            (State::Pending { .. }, false) | (State::Inactive, false) => State::Inactive,
            (State::Firing, true) | (State::Resolving { .. }, true) => State::Firing,
            (State::Firing, false) => self.maybe_resolve(rule, now, now, clear_hold),
            (State::Resolving { since }, false) => self.maybe_resolve(rule, since, now, clear_hold),
        };
    }

    fn maybe_fire(&mut self, rule: usize, since: SimTime, now: SimTime, hold: SimDuration) -> State {
        if now - since >= hold {
            self.events.push_back(AlertEvent::Fired { rule, since, at: now });
            self.outbox.push_back((now + self.notify_delay, rule));
            State::Firing
        } else {
            State::Pending { since }
        }
    }

    fn maybe_resolve(&mut self, rule: usize, since: SimTime, now: SimTime, clear_hold: SimDuration) -> State {
        if now - since >= clear_hold {
            self.events.push_back(AlertEvent::Resolved { rule, at: now });
            State::Inactive
        } else {
            State::Resolving { since }
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.outbox.front().map(|&(at, _)| at)
    }

    /// Sends the notifications that are due; they are stamped with when they leave
    /// (later than scheduled if the notifier was down).
    pub fn handle_timeout(&mut self, now: SimTime) {
        while let Some(&(at, rule)) = self.outbox.front() {
            if at > now {
                break;
            }
            self.outbox.pop_front();
            self.events.push_back(AlertEvent::Notified { rule, at: now });
        }
    }

    pub fn poll_event(&mut self) -> Option<AlertEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(hold_s: u64, clear_s: u64) -> Rule {
        Rule {
            name: "stale".into(),
            comparison: Comparison::Above,
            threshold: 10.0,
            hold: SimDuration::from_secs(hold_s),
            clear_hold: SimDuration::from_secs(clear_s),
        }
    }

    fn t(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    fn events(engine: &mut AlertEngine) -> Vec<AlertEvent> {
        std::iter::from_fn(|| engine.poll_event()).collect()
    }

    #[test]
    fn fires_after_the_hold_notifies_after_the_delay_and_resolves_after_the_clear_hold() {
        let mut engine = AlertEngine::new(vec![rule(30, 60)], SimDuration::from_secs(30));
        // Evaluated every 15 s; the condition holds from 45 s to 120 s.
        for s in (0..=300).step_by(15) {
            let value = if (45..=120).contains(&s) { 20.0 } else { 0.0 };
            engine.handle_sample(t(s), 0, value);
            if let Some(due) = engine.poll_timeout().filter(|&d| d <= t(s)) {
                engine.handle_timeout(due);
            }
        }
        assert_eq!(
            events(&mut engine),
            vec![
                AlertEvent::Fired {
                    rule: 0,
                    since: t(45),
                    at: t(75)
                },
                AlertEvent::Notified { rule: 0, at: t(105) },
                AlertEvent::Resolved { rule: 0, at: t(195) },
            ]
        );
    }

    #[test]
    fn a_blip_shorter_than_the_hold_never_fires() {
        let mut engine = AlertEngine::new(vec![rule(30, 0)], SimDuration::ZERO);
        engine.handle_sample(t(0), 0, 20.0);
        engine.handle_sample(t(15), 0, 20.0);
        engine.handle_sample(t(30), 0, 0.0);
        engine.handle_sample(t(45), 0, 20.0);
        assert!(events(&mut engine).is_empty());
        assert!(!engine.is_firing(0));
    }

    #[test]
    fn a_late_notifier_stamps_when_it_sends() {
        let mut engine = AlertEngine::new(vec![rule(0, 0)], SimDuration::from_secs(30));
        engine.handle_sample(t(10), 0, 20.0);
        // Due at 40 s, but the notifier only runs again at 55 s.
        engine.handle_timeout(t(55));
        let notified: Vec<AlertEvent> = events(&mut engine).into_iter().skip(1).collect();
        assert_eq!(notified, vec![AlertEvent::Notified { rule: 0, at: t(55) }]);
    }

    #[test]
    fn below_rules_fire_on_low_values() {
        let mut low = rule(0, 0);
        low.comparison = Comparison::Below;
        let mut engine = AlertEngine::new(vec![low], SimDuration::ZERO);
        engine.handle_sample(t(1), 0, 5.0);
        assert!(engine.is_firing(0));
    }

    proptest! {
        /// Fired and Resolved alternate, each firing is preceded by `hold` of breach,
        /// and every firing is notified exactly `notify_delay` after it.
        #[test]
        fn events_alternate_and_respect_holds(samples in proptest::collection::vec(any::<bool>(), 1..120), hold in 0u64..60, clear in 0u64..60) {
            let mut engine = AlertEngine::new(vec![rule(hold, clear)], SimDuration::from_secs(7));
            for (i, &bad) in samples.iter().enumerate() {
                let now = t(i as u64 * 5);
                if let Some(due) = engine.poll_timeout().filter(|&d| d <= now) {
                    engine.handle_timeout(due);
                }
                engine.handle_sample(now, 0, if bad { 20.0 } else { 0.0 });
            }
            while let Some(due) = engine.poll_timeout() {
                engine.handle_timeout(due);
            }
            // Liveness: a breach seen at every sample for longer than `hold` (plus one
            // sample interval, so a firing between samples also counts) fires.
            let mut run = 0u64;
            let mut longest = 0u64;
            for &bad in &samples {
                run = if bad { run + 1 } else { 0 };
                longest = longest.max(run);
            }
            let must_fire = longest >= 2 && (longest - 1) * 5 >= hold + 5;
            let mut firing = false;
            let mut fired_at = Vec::new();
            let mut fired = 0;
            for event in events(&mut engine) {
                match event {
                    AlertEvent::Fired { since, at, .. } => {
                        prop_assert!(!firing);
                        prop_assert!(at - since >= SimDuration::from_secs(hold));
                        firing = true;
                        fired += 1;
                        fired_at.push(at);
                    }
                    AlertEvent::Resolved { .. } => {
                        prop_assert!(firing);
                        firing = false;
                    }
                    AlertEvent::Notified { at, .. } => {
                        let fired = fired_at.remove(0);
                        prop_assert_eq!(at, fired + SimDuration::from_secs(7));
                    }
                }
            }
            prop_assert!(fired > 0 || !must_fire, "a breach of {longest} samples never fired (hold {hold} s)");
            prop_assert!(fired_at.is_empty(), "firings never notified: {fired_at:?}");
        }
    }
}
