//! DNS for failover and load balancing: an authoritative failover record (Route 53
//! failover routing) that answers with the first healthy target in preference order; a
//! round-robin record that rotates through its members, skipping unhealthy ones only
//! when it is health-checked (Route 53 multivalue answers with health checks; a plain
//! zone serves every member); and a resolver cache that keeps an answer for its TTL, or
//! longer if the resolver is one of the TTL violators.
//!
//! Published behaviour (docs/model.md, "CDN, DNS and load balancing"): Route 53 health
//! checks every 30 s (fast: 10 s) with failure threshold 3 from several checkers
//! (`control::quorum`), record TTL ≤ 60 s recommended (Route 53 developer
//! guide); when every target is unhealthy Route 53 answers as if all were healthy, i.e.
//! with the primary. About 8.7% of resolvers stretch TTLs ("TTL Violation of DNS
//! Resolvers in the Wild", PAM 2023). Long-lived connections never re-resolve until
//! they break: that is the caller's business (resolve only when connecting).

use crate::time::{SimDuration, SimTime};

/// One answer: which target, and for how long it may be cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub target: usize,
    pub ttl: SimDuration,
}

/// A failover record over targets in preference order (0 = primary).
#[derive(Clone, Debug)]
pub struct FailoverRecord {
    healthy: Vec<bool>,
    ttl: SimDuration,
}

impl FailoverRecord {
    pub fn new(targets: usize, ttl: SimDuration) -> Self {
        assert!(targets >= 1, "a record needs a target");
        FailoverRecord {
            healthy: vec![true; targets],
            ttl,
        }
    }

    /// Records a health change; returns true if the answer changed.
    pub fn set_health(&mut self, target: usize, healthy: bool) -> bool {
        let before = self.answer().target;
        self.healthy[target] = healthy;
        self.answer().target != before
    }

    pub fn is_healthy(&self, target: usize) -> bool {
        self.healthy[target]
    }

    /// The first healthy target; the primary when none is (as Route 53 does).
    pub fn answer(&self) -> Answer {
        let target = self.healthy.iter().position(|&h| h).unwrap_or(0);
        Answer { target, ttl: self.ttl }
    }
}

/// A round-robin record: each query is answered with the next member in turn (one
/// address per answer, as CDN mapping DNS does), so clients spread evenly.
#[derive(Clone, Debug)]
pub struct RoundRobinRecord {
    healthy: Vec<bool>,
    /// Whether health checks may remove members; without them a dead member stays.
    health_checked: bool,
    next: usize,
    ttl: SimDuration,
}

impl RoundRobinRecord {
    pub fn new(members: usize, ttl: SimDuration, health_checked: bool) -> Self {
        assert!(members >= 1, "a record needs a member");
        RoundRobinRecord {
            healthy: vec![true; members],
            health_checked,
            next: 0,
            ttl,
        }
    }

    /// Records a health change (ignored by a record that is not health-checked).
    pub fn set_health(&mut self, member: usize, healthy: bool) {
        if self.health_checked {
            self.healthy[member] = healthy;
        }
    }

    /// Forgets every health verdict (a health checker starting afresh believes every
    /// member up, and reports only changes).
    pub fn reset_health(&mut self) {
        self.healthy.fill(true);
    }

    /// Whether `member` is served at all.
    pub fn serves(&self, member: usize) -> bool {
        self.healthy[member] || self.healthy.iter().all(|&h| !h)
    }

    /// The next member in turn that is served; every member when none is healthy
    /// (answering nothing would help nobody, so Route 53 answers as if all were).
    pub fn answer(&mut self) -> Answer {
        let n = self.healthy.len();
        let target = (0..n)
            .map(|step| (self.next + step) % n)
            .find(|&m| self.serves(m))
            .expect("some member is always served");
        self.next = (target + 1) % n;
        Answer { target, ttl: self.ttl }
    }
}

/// A recursive resolver's cache for one name.
#[derive(Clone, Debug)]
pub struct ResolverCache {
    /// For a TTL violator: the time it keeps answers at least (whatever their TTL).
    stretched_ttl: Option<SimDuration>,
    entry: Option<(Answer, SimTime)>,
}

impl ResolverCache {
    /// An honest resolver (`None`) or a violator that keeps answers at least `stretched_ttl`.
    pub fn new(stretched_ttl: Option<SimDuration>) -> Self {
        ResolverCache {
            stretched_ttl,
            entry: None,
        }
    }

    pub fn is_violator(&self) -> bool {
        self.stretched_ttl.is_some()
    }

    /// The cached target, if the answer has not expired at `now`.
    pub fn lookup(&self, now: SimTime) -> Option<usize> {
        self.entry
            .filter(|&(_, expires)| now < expires)
            .map(|(answer, _)| answer.target)
    }

    /// When the cached answer expires, if there is one.
    pub fn expires_at(&self) -> Option<SimTime> {
        self.entry.map(|(_, expires)| expires)
    }

    /// Caches `answer`, received at `now`.
    pub fn store(&mut self, now: SimTime, answer: Answer) {
        let keep = match self.stretched_ttl {
            Some(stretched) => answer.ttl.max(stretched),
            None => answer.ttl,
        };
        self.entry = Some((answer, now + keep));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TTL: SimDuration = SimDuration::from_secs(60);

    #[test]
    fn failover_record_answers_first_healthy_then_primary_when_all_down() {
        let mut record = FailoverRecord::new(2, TTL);
        assert_eq!(record.answer(), Answer { target: 0, ttl: TTL });
        assert!(record.set_health(0, false));
        assert_eq!(record.answer().target, 1);
        assert!(!record.set_health(0, false));
        // Both down: Route 53 answers as if all were healthy.
        assert!(record.set_health(1, false));
        assert_eq!(record.answer().target, 0);
    }

    #[test]
    fn honest_cache_expires_at_ttl() {
        let mut cache = ResolverCache::new(None);
        assert_eq!(cache.lookup(SimTime::ZERO), None);
        cache.store(SimTime::from_secs(10), Answer { target: 0, ttl: TTL });
        assert_eq!(cache.lookup(SimTime::from_secs(69)), Some(0));
        assert_eq!(cache.lookup(SimTime::from_secs(70)), None);
        assert_eq!(cache.expires_at(), Some(SimTime::from_secs(70)));
    }

    #[test]
    fn violator_keeps_answers_longer() {
        let mut cache = ResolverCache::new(Some(SimDuration::from_secs(600)));
        cache.store(SimTime::ZERO, Answer { target: 0, ttl: TTL });
        assert_eq!(cache.lookup(SimTime::from_secs(599)), Some(0));
        assert_eq!(cache.lookup(SimTime::from_secs(600)), None);
    }

    #[test]
    fn round_robin_rotates_and_skips_unhealthy_members_only_when_checked() {
        let mut checked = RoundRobinRecord::new(3, TTL, true);
        let targets: Vec<usize> = (0..4).map(|_| checked.answer().target).collect();
        assert_eq!(targets, vec![0, 1, 2, 0]);
        checked.set_health(1, false);
        let targets: Vec<usize> = (0..4).map(|_| checked.answer().target).collect();
        assert_eq!(targets, vec![2, 0, 2, 0]);
        checked.reset_health();
        let targets: Vec<usize> = (0..3).map(|_| checked.answer().target).collect();
        assert_eq!(targets, vec![1, 2, 0]);
        let mut plain = RoundRobinRecord::new(3, TTL, false);
        plain.set_health(1, false);
        let targets: Vec<usize> = (0..3).map(|_| plain.answer().target).collect();
        assert_eq!(targets, vec![0, 1, 2]);
    }

    proptest! {
        /// Over any run of queries a health-checked record answers only healthy members
        /// (any member when none is), and spreads answers evenly: over k full rounds
        /// each served member is answered exactly k times.
        #[test]
        fn round_robin_is_fair_and_healthy(members in 1usize..8, down in proptest::collection::vec(any::<bool>(), 8), rounds in 1usize..20) {
            let mut record = RoundRobinRecord::new(members, TTL, true);
            for (m, &d) in down.iter().take(members).enumerate() {
                record.set_health(m, !d);
            }
            let served: Vec<usize> = (0..members).filter(|&m| record.serves(m)).collect();
            prop_assert!(!served.is_empty());
            let mut counts = vec![0usize; members];
            for _ in 0..rounds * served.len() {
                let target = record.answer().target;
                prop_assert!(served.contains(&target));
                counts[target] += 1;
            }
            for &m in &served {
                prop_assert_eq!(counts[m], rounds);
            }
        }

        /// A cached answer is served exactly during [stored, stored + max(ttl, stretch)).
        #[test]
        fn cache_lifetime_is_exact(stored in 0u64..1_000, ttl in 1u64..600, stretch in proptest::option::of(1u64..3_600), after in 0u64..5_000) {
            let mut cache = ResolverCache::new(stretch.map(SimDuration::from_secs));
            cache.store(SimTime::from_secs(stored), Answer { target: 1, ttl: SimDuration::from_secs(ttl) });
            let keep = stretch.map_or(ttl, |s| s.max(ttl));
            let hit = cache.lookup(SimTime::from_secs(stored + after)).is_some();
            prop_assert_eq!(hit, after < keep);
        }
    }
}
