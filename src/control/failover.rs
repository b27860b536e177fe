//! Ingest redundancy policy: which pipeline is active, and when to switch.
//!
//! Active-passive: one active pipeline, standbys in preference order. When the active
//! pipeline is reported down, the first healthy standby is promoted at once (docs/model.md:
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

/// A segment copy to publish now: the one from `pipeline` whose media starts at `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    pub start: u64,
    pub pipeline: usize,
}

/// A copy from an inactive input, waiting for its deadline.
#[derive(Clone, Copy, Debug)]
struct Held {
    pipeline: usize,
    end: u64,
    arrived_at: SimTime,
}

/// Input redundancy at the origin: publishes each segment from the active input; a copy
/// from another input is held, and if the active input has not delivered that media
/// within `input_loss`, the selector switches to the other input and publishes its copy
/// (MediaLive automatic input failover: input-loss threshold 1000 ms typical, 100 ms
/// minimum). Held copies also fill media the active input skipped.
///
/// Segments are media ranges `[start, end)` in frames, so inputs need not cut them
/// alike. The playlist's media only moves forward: a copy is published only if it
/// starts at or after the end of what was published, so after a switch between
/// misaligned inputs (docs/model.md: "seamless only if pipelines are frame-aligned") the
/// copy that straddles the switch point is passed over and the media between is lost:
/// a discontinuity. Between aligned inputs the switch is seamless.
///
/// Calling contract: report every arriving copy with [`InputSelector::handle_segment`];
/// call [`InputSelector::handle_timeout`] when `now` reaches
/// [`InputSelector::poll_timeout`]; publish what [`InputSelector::poll_publish`] returns,
/// in that order; read switches from [`InputSelector::poll_switch`].
#[derive(Clone, Debug)]
pub struct InputSelector {
    active: usize,
    input_loss: SimDuration,
    /// Where the published media ends (none before the first publication).
    published_end: Option<u64>,
    /// Copies from inactive inputs that could still be published, by start.
    held: BTreeMap<u64, Held>,
    publishes: VecDeque<Publish>,
    switches: VecDeque<Switch>,
}

impl InputSelector {
    pub fn new(input_loss: SimDuration) -> Self {
        InputSelector {
            active: 0,
            input_loss,
            published_end: None,
            held: BTreeMap::new(),
            publishes: VecDeque::new(),
            switches: VecDeque::new(),
        }
    }

    pub fn active(&self) -> usize {
        self.active
    }

    pub fn input_loss(&self) -> SimDuration {
        self.input_loss
    }

    /// Where the published media ends.
    pub fn published_end(&self) -> Option<u64> {
        self.published_end
    }

    fn is_new(&self, start: u64) -> bool {
        self.published_end.is_none_or(|end| start >= end)
    }

    /// Publishes `[start, end)` and forgets held copies it makes unpublishable.
    fn publish(&mut self, start: u64, end: u64, pipeline: usize) {
        self.published_end = Some(end);
        self.publishes.push_back(Publish { start, pipeline });
        self.held = self.held.split_off(&end);
    }

    /// Publishes held copies that fit wholly before `start` (media the active input
    /// skipped), in order.
    fn fill_before(&mut self, start: u64) {
        let earlier: Vec<(u64, Held)> = self.held.range(..start).map(|(&s, &h)| (s, h)).collect();
        for (s, held) in earlier {
            if self.is_new(s) && held.end <= start {
                self.publish(s, held.end, held.pipeline);
            }
        }
    }

    /// Publishes `[start, end)` from the active input, after any held copies that fill
    /// the media before it.
    fn publish_active(&mut self, start: u64, end: u64, pipeline: usize) {
        self.fill_before(start);
        self.publish(start, end, pipeline);
    }

    /// A copy of the media `[start, end)` (frames) from `pipeline` arrived.
    pub fn handle_segment(&mut self, now: SimTime, pipeline: usize, start: u64, end: u64) {
        if !self.is_new(start) {
            return;
        }
        if pipeline == self.active {
            self.publish_active(start, end, pipeline);
        } else {
            self.held.entry(start).or_insert(Held {
                pipeline,
                end,
                arrived_at: now,
            });
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.held.values().map(|h| h.arrived_at + self.input_loss).min()
    }

    /// The active input missed its deadline for a held copy: switch to the input that
    /// delivered it.
    pub fn handle_timeout(&mut self, now: SimTime) {
        while let Some((start, held)) = (self.held.iter())
            .find(|(_, h)| h.arrived_at + self.input_loss <= now)
            .map(|(&s, &h)| (s, h))
        {
            self.switches.push_back(Switch {
                from: self.active,
                to: held.pipeline,
                at: now,
                reason: SwitchReason::ActiveDown,
            });
            self.active = held.pipeline;
            self.publish_active(start, held.end, held.pipeline);
            // Later copies from the new active input go out now too.
            let ready: Vec<(u64, u64)> = (self.held.iter())
                .filter(|(_, h)| h.pipeline == held.pipeline)
                .map(|(&s, h)| (s, h.end))
                .collect();
            for (s, end) in ready {
                if self.is_new(s) {
                    self.publish_active(s, end, held.pipeline);
                }
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

    /// Segment `index` of inputs that cut alike: frames `[10 × index, 10 × index + 10)`.
    fn aligned(selector: &mut InputSelector, now: SimTime, pipeline: usize, index: u64) {
        selector.handle_segment(now, pipeline, index * 10, index * 10 + 10);
    }

    fn drain(selector: &mut InputSelector) -> Vec<(u64, usize)> {
        std::iter::from_fn(|| selector.poll_publish())
            .map(|p| (p.start / 10, p.pipeline))
            .collect()
    }

    #[test]
    fn publishes_the_active_copy_and_ignores_the_other() {
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        aligned(&mut sel, ms(2_010), 1, 0);
        aligned(&mut sel, ms(2_020), 0, 0);
        aligned(&mut sel, ms(4_020), 0, 1);
        aligned(&mut sel, ms(4_030), 1, 1);
        assert_eq!(drain(&mut sel), vec![(0, 0), (1, 0)]);
        assert_eq!(sel.poll_timeout(), None);
        assert_eq!(sel.poll_switch(), None);
    }

    #[test]
    fn switches_after_the_input_loss_threshold() {
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        aligned(&mut sel, ms(2_000), 0, 0);
        // Pipeline 0 dies: only pipeline 1's copies of 1 and 2 arrive.
        aligned(&mut sel, ms(4_010), 1, 1);
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
        aligned(&mut sel, ms(6_010), 1, 2);
        assert_eq!(drain(&mut sel), vec![(1, 1), (2, 1)]);
    }

    #[test]
    fn a_held_copy_fills_a_segment_the_active_input_skipped() {
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        aligned(&mut sel, ms(2_000), 0, 0);
        aligned(&mut sel, ms(4_010), 1, 1);
        aligned(&mut sel, ms(6_000), 0, 2);
        assert_eq!(drain(&mut sel), vec![(0, 0), (1, 1), (2, 0)]);
        assert_eq!(sel.active(), 0);
    }

    #[test]
    fn a_switch_between_misaligned_inputs_skips_to_the_next_whole_copy() {
        // Input 0 cuts [0, 60), [60, 120) …; input 1 restarted and cuts [20, 80) ….
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        sel.handle_segment(ms(2_000), 0, 0, 60);
        sel.handle_segment(ms(2_700), 1, 20, 80);
        sel.handle_segment(ms(4_000), 0, 60, 120);
        // Input 1's copies straddle what was published: never held, no deadline.
        assert_eq!(sel.poll_timeout(), None);
        // Input 0 dies; input 1 delivers [80, 140) and [140, 200).
        sel.handle_segment(ms(4_700), 1, 80, 140);
        assert_eq!(sel.poll_timeout(), None, "straddles the published end (120)");
        sel.handle_segment(ms(6_700), 1, 140, 200);
        assert_eq!(sel.poll_timeout(), Some(ms(7_700)));
        sel.handle_timeout(ms(7_700));
        let published: Vec<Publish> = std::iter::from_fn(|| sel.poll_publish()).collect();
        let starts: Vec<(u64, usize)> = published.iter().map(|p| (p.start, p.pipeline)).collect();
        // Frames [120, 140) are lost: the media jumps.
        assert_eq!(starts, vec![(0, 0), (60, 0), (140, 1)]);
        assert_eq!(sel.published_end(), Some(200));
        assert_eq!(sel.active(), 1);
    }

    #[test]
    fn a_switch_between_aligned_inputs_loses_nothing() {
        let mut sel = InputSelector::new(SimDuration::from_secs(1));
        sel.handle_segment(ms(2_000), 0, 0, 60);
        sel.handle_segment(ms(2_010), 1, 0, 60);
        // Input 0 dies before delivering [60, 120).
        sel.handle_segment(ms(4_010), 1, 60, 120);
        sel.handle_timeout(ms(5_010));
        let starts: Vec<u64> = std::iter::from_fn(|| sel.poll_publish()).map(|p| p.start).collect();
        assert_eq!(starts, vec![0, 60]);
    }

    proptest! {
        /// Inputs cutting at any phase: the published media never overlaps or goes
        /// back, and once the deadlines have passed the copy that arrived last from
        /// the surviving input is published.
        #[test]
        fn published_media_only_moves_forward(
            phases in proptest::collection::vec(0u64..60, 2..4),
            arrivals in proptest::collection::vec((0u64..20, 0usize..3, 0u64..5_000), 1..80),
        ) {
            let mut sel = InputSelector::new(SimDuration::from_millis(700));
            let inputs = phases.len();
            let mut copies: Vec<(u64, usize, u64)> = arrivals
                .iter()
                .map(|&(index, pipeline, jitter)| {
                    let pipeline = pipeline % inputs;
                    let start = index * 60 + phases[pipeline];
                    (start, pipeline, (start + 60) * 100 + jitter)
                })
                .collect();
            copies.sort_by_key(|&(_, _, at)| at);
            let mut published: Vec<(u64, u64)> = Vec::new();
            let collect = |sel: &mut InputSelector, published: &mut Vec<(u64, u64)>| {
                while let Some(p) = sel.poll_publish() {
                    published.push((p.start, p.start + 60));
                }
            };
            for &(start, pipeline, at) in &copies {
                let now = ms(at);
                while let Some(deadline) = sel.poll_timeout().filter(|&d| d <= now) {
                    sel.handle_timeout(deadline);
                }
                sel.handle_segment(now, pipeline, start, start + 60);
                collect(&mut sel, &mut published);
            }
            sel.handle_timeout(ms(u64::MAX / 2_000_000));
            collect(&mut sel, &mut published);
            prop_assert!(published.windows(2).all(|w| w[0].1 <= w[1].0), "{published:?}");
            prop_assert_eq!(published.last().map(|p| p.1), sel.published_end());
            prop_assert!(sel.poll_timeout().is_none());
            // Liveness: the furthest media any input delivered is published, or passed
            // over only because a copy cut at another phase already covers its start.
            let furthest = copies.iter().map(|&(start, _, _)| start + 60).max().unwrap();
            let end = sel.published_end();
            prop_assert!(end.is_some_and(|end| end + 60 > furthest), "published to {end:?}, media to {furthest}");
        }
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
                aligned(&mut sel, now, pipeline, index);
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
