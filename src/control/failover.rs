//! Ingest redundancy policy: which pipeline is active, and when to switch.
//!
//! Active-passive: one active pipeline, standbys in preference order. When the active
//! pipeline is reported down, the first healthy standby is promoted at once (MODEL.md:
//! "active-passive ingest, heartbeat 1 s × 3: detect ~3 s, promote standby"). With
//! failback `prefer-primary`, the primary is restored once it has been healthy for the
//! error-clear hold (as AWS MediaLive's input failover does); with `none`, a recovered
//! primary stays a standby.
//!
//! Room: a pipeline whose server has no room for another stream (its capacity is
//! taken) is skipped when choosing where to fail over, as long as a healthy one with
//! room exists, and is never failed back to. An active pipeline whose server is
//! overloaded is moved off with [`ActivePassive::relieve`] (the manager's load-based
//! re-placement).
//!
//! Calling contract: report health with [`ActivePassive::handle_health`]; call
//! [`ActivePassive::handle_timeout`] when `now` reaches [`ActivePassive::poll_timeout`];
//! execute every [`Switch`] from [`ActivePassive::poll_switch`].
//!
//! Active-active: every pipeline ingests and packages the same keyframe-aligned
//! segments and the origin chooses among them with an [`InputSelector`] (AWS Elemental
//! MediaLive standard channels: "two pipelines, both live; downstream chooses").

use std::collections::{BTreeMap, VecDeque};

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
    /// The active pipeline's server was overloaded and could not serve the stream.
    Overload,
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
    /// Whether each pipeline's server has room for this stream.
    room: Vec<bool>,
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
            room: vec![true; pipelines],
            active: 0,
            failback,
            switches: VecDeque::new(),
        }
    }

    pub fn active(&self) -> usize {
        self.active
    }

    /// Takes `pipeline` as the active one without a switch: what a manager does when it
    /// takes over and finds another pipeline already serving (its own view was stale).
    pub fn adopt(&mut self, pipeline: usize) {
        self.active = pipeline;
        self.switches.clear();
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

    /// The health view starts over with every pipeline up, as a new health checker's
    /// does (the caller's checker restarted): a pipeline that recovered while nobody
    /// was checking is not left marked down. The active pipeline stays.
    pub fn assume_all_up(&mut self, now: SimTime) {
        for pipeline in 0..self.health.len() {
            if self.health[pipeline] == Health::Down {
                self.health[pipeline] = Health::Up;
                self.up_since[pipeline] = Some(now);
            }
        }
    }

    /// The first healthy pipeline other than the active one, one with room if any.
    fn first_healthy(&self) -> Option<usize> {
        let healthy = |p: &usize| *p != self.active && self.health[*p] == Health::Up;
        let mut candidates = (0..self.health.len()).filter(healthy);
        let fallback = candidates.clone().next();
        candidates.find(|&p| self.room[p]).or(fallback)
    }

    /// Whether `pipeline`'s server has room for this stream now.
    pub fn handle_room(&mut self, now: SimTime, pipeline: usize, room: bool) {
        self.room[pipeline] = room;
        self.handle_timeout(now);
    }

    /// The active pipeline's server cannot serve the stream: move to the first healthy
    /// pipeline with room. Returns whether it moved.
    pub fn relieve(&mut self, now: SimTime) -> bool {
        let healthy = |p: &usize| *p != self.active && self.health[*p] == Health::Up;
        match (0..self.health.len()).filter(healthy).find(|&p| self.room[p]) {
            Some(to) => {
                self.switch_to(now, to, SwitchReason::Overload);
                true
            }
            None => false,
        }
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
            Failback::PreferPrimary { hold } if self.active != 0 && self.room[0] => {
                self.up_since[0].map(|since| since + hold)
            }
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

/// A segment copy to publish now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    pub index: u64,
    pub pipeline: usize,
}

/// Input redundancy at the origin: publishes each segment from the active input; a copy
/// from another input is held, and if the active input has not delivered that segment
/// within `input_loss`, the selector switches to the other input and publishes its copy
/// (MediaLive automatic input failover: input-loss threshold 1000 ms typical, 100 ms
/// minimum). Held copies also fill a segment the active input skipped. The playlist
/// only grows: each index is published at most once, in increasing order.
///
/// Calling contract: report every arriving copy with [`InputSelector::handle_segment`];
/// call [`InputSelector::handle_timeout`] when `now` reaches
/// [`InputSelector::poll_timeout`]; publish what [`InputSelector::poll_publish`] returns,
/// in that order; read switches from [`InputSelector::poll_switch`].
#[derive(Clone, Debug)]
pub struct InputSelector {
    active: usize,
    input_loss: SimDuration,
    last_published: Option<u64>,
    /// Copies from inactive inputs: index → (pipeline, arrived at).
    held: BTreeMap<u64, (usize, SimTime)>,
    publishes: VecDeque<Publish>,
    switches: VecDeque<Switch>,
}

impl InputSelector {
    pub fn new(input_loss: SimDuration) -> Self {
        InputSelector {
            active: 0,
            input_loss,
            last_published: None,
            held: BTreeMap::new(),
            publishes: VecDeque::new(),
            switches: VecDeque::new(),
        }
    }

    pub fn active(&self) -> usize {
        self.active
    }

    fn is_new(&self, index: u64) -> bool {
        self.last_published.is_none_or(|last| index > last)
    }

    fn publish(&mut self, index: u64, pipeline: usize) {
        self.last_published = Some(index);
        self.publishes.push_back(Publish { index, pipeline });
    }

    /// Publishes held copies below `index` (segments the active input skipped), then drops
    /// whatever is no longer needed.
    fn fill_before(&mut self, index: u64) {
        let earlier: Vec<(u64, usize)> = self.held.range(..index).map(|(&i, &(p, _))| (i, p)).collect();
        for (i, pipeline) in earlier {
            self.held.remove(&i);
            if self.is_new(i) {
                self.publish(i, pipeline);
            }
        }
    }

    /// Publishes `index` from the active input, after any held copies that fill gaps
    /// below it.
    fn publish_active(&mut self, index: u64, pipeline: usize) {
        self.fill_before(index);
        self.held.remove(&index);
        self.publish(index, pipeline);
    }

    /// A copy of segment `index` from `pipeline` arrived.
    pub fn handle_segment(&mut self, now: SimTime, pipeline: usize, index: u64) {
        if !self.is_new(index) {
            return;
        }
        if pipeline == self.active {
            self.publish_active(index, pipeline);
        } else {
            self.held.entry(index).or_insert((pipeline, now));
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.held.values().map(|&(_, at)| at + self.input_loss).min()
    }

    /// The active input missed its deadline for a held segment: switch to the input that
    /// delivered it.
    pub fn handle_timeout(&mut self, now: SimTime) {
        while let Some((index, pipeline)) = self
            .held
            .iter()
            .find(|(_, &(_, at))| at + self.input_loss <= now)
            .map(|(&index, &(pipeline, _))| (index, pipeline))
        {
            self.switches.push_back(Switch {
                from: self.active,
                to: pipeline,
                at: now,
                reason: SwitchReason::ActiveDown,
            });
            self.active = pipeline;
            self.publish_active(index, pipeline);
            // Later copies from the new active input go out now too.
            let ready: Vec<u64> = self
                .held
                .iter()
                .filter(|(_, &(p, _))| p == pipeline)
                .map(|(&i, _)| i)
                .collect();
            for i in ready {
                self.publish_active(i, pipeline);
            }
        }
    }

    /// Forgets held copies (the origin that held their bodies restarted); what was
    /// published stays published.
    pub fn forget_held(&mut self) {
        self.held.clear();
        self.publishes.clear();
    }

    pub fn poll_publish(&mut self) -> Option<Publish> {
        self.publishes.pop_front()
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
    fn a_restarted_view_takes_every_pipeline_as_up_and_can_fail_back() {
        let hold = SimDuration::from_secs(30);
        let mut policy = ActivePassive::new(2, Failback::PreferPrimary { hold });
        policy.handle_health(t(3), 0, Health::Down);
        policy.poll_switch();
        // The manager restarts at 100 s; its new checker takes the primary as up. The
        // policy agrees instead of waiting forever for an Up it will never be told.
        policy.assume_all_up(t(100));
        assert_eq!((policy.active(), policy.poll_timeout()), (1, Some(t(130))));
        policy.handle_timeout(t(130));
        assert_eq!(
            policy.poll_switch().map(|s| (s.to, s.reason)),
            Some((0, SwitchReason::Failback))
        );
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

    #[test]
    fn fails_over_to_a_server_with_room_and_moves_off_an_overloaded_one() {
        let hold = SimDuration::from_secs(30);
        let mut policy = ActivePassive::new(3, Failback::PreferPrimary { hold });
        // Pipeline 1's server is full: the failover skips it for pipeline 2.
        policy.handle_room(t(1), 1, false);
        policy.handle_health(t(3), 0, Health::Down);
        assert_eq!(
            policy.poll_switch().map(|s| (s.to, s.reason)),
            Some((2, SwitchReason::ActiveDown))
        );
        // The primary returns but has no room: no failback until it has.
        policy.handle_room(t(4), 0, false);
        policy.handle_health(t(5), 0, Health::Up);
        assert_eq!(policy.poll_timeout(), None);
        policy.handle_room(t(50), 0, true);
        policy.handle_timeout(t(50));
        assert_eq!(
            policy.poll_switch().map(|s| (s.to, s.reason)),
            Some((0, SwitchReason::Failback))
        );
        // Pipeline 0's server is overloaded; 1 has no room, 2 has.
        assert!(policy.relieve(t(60)));
        assert_eq!(
            policy.poll_switch().map(|s| (s.from, s.to, s.reason)),
            Some((0, 2, SwitchReason::Overload))
        );
        // Nowhere to go: it stays.
        policy.handle_room(t(61), 0, false);
        assert!(!policy.relieve(t(62)));
        assert_eq!(policy.poll_switch(), None);
    }

    #[test]
    fn a_full_standby_still_beats_a_dead_active() {
        let mut policy = ActivePassive::new(2, Failback::None);
        policy.handle_room(t(1), 1, false);
        policy.handle_health(t(3), 0, Health::Down);
        assert_eq!(policy.poll_switch().map(|s| s.to), Some(1));
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

    fn ms(v: u64) -> SimTime {
        SimTime::from_millis(v)
    }

    fn drain(selector: &mut InputSelector) -> Vec<(u64, usize)> {
        std::iter::from_fn(|| selector.poll_publish())
            .map(|p| (p.index, p.pipeline))
            .collect()
    }

    #[test]
    fn publishes_the_active_copy_and_ignores_the_other() {
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        sel.handle_segment(ms(2_010), 1, 0);
        sel.handle_segment(ms(2_020), 0, 0);
        sel.handle_segment(ms(4_020), 0, 1);
        sel.handle_segment(ms(4_030), 1, 1);
        assert_eq!(drain(&mut sel), vec![(0, 0), (1, 0)]);
        assert_eq!(sel.poll_timeout(), None);
        assert_eq!(sel.poll_switch(), None);
    }

    #[test]
    fn switches_after_the_input_loss_threshold() {
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        sel.handle_segment(ms(2_000), 0, 0);
        // Pipeline 0 dies: only pipeline 1's copies of 1 and 2 arrive.
        sel.handle_segment(ms(4_010), 1, 1);
        assert_eq!(sel.poll_timeout(), Some(ms(5_010)));
        sel.handle_timeout(ms(5_009));
        assert_eq!(drain(&mut sel), vec![(0, 0)]);
        sel.handle_timeout(ms(5_010));
        assert_eq!(
            sel.poll_switch(),
            Some(Switch {
                from: 0,
                to: 1,
                at: ms(5_010),
                reason: SwitchReason::ActiveDown
            })
        );
        sel.handle_segment(ms(6_010), 1, 2);
        assert_eq!(drain(&mut sel), vec![(1, 1), (2, 1)]);
    }

    #[test]
    fn a_held_copy_fills_a_segment_the_active_input_skipped() {
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        sel.handle_segment(ms(2_000), 0, 0);
        sel.handle_segment(ms(4_010), 1, 1);
        sel.handle_segment(ms(6_000), 0, 2);
        assert_eq!(drain(&mut sel), vec![(0, 0), (1, 1), (2, 0)]);
        assert_eq!(sel.active(), 0);
    }

    proptest! {
        /// Whatever arrives, in whatever order, the playlist only grows and every
        /// segment any input delivered is published once the deadlines have passed.
        #[test]
        fn publishes_each_index_once_in_order(arrivals in proptest::collection::vec((0u64..20, 0usize..2, 0u64..5_000), 1..80)) {
            let mut sel = InputSelector::new(SimDuration::from_millis(700));
            let mut sorted = arrivals.clone();
            sorted.sort_by_key(|&(index, _, jitter)| index * 2_000 + jitter);
            let mut published = Vec::new();
            for &(index, pipeline, jitter) in &sorted {
                let now = ms(index * 2_000 + jitter);
                while let Some(deadline) = sel.poll_timeout().filter(|&d| d <= now) {
                    sel.handle_timeout(deadline);
                }
                sel.handle_segment(now, pipeline, index);
                published.extend(drain(&mut sel));
            }
            sel.handle_timeout(ms(1_000_000));
            published.extend(drain(&mut sel));
            let indices: Vec<u64> = published.iter().map(|p| p.0).collect();
            prop_assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
            // The newest index that arrived is always published.
            let newest = sorted.iter().map(|a| a.0).max().unwrap();
            prop_assert_eq!(indices.last().copied(), Some(newest));
        }
    }
}
