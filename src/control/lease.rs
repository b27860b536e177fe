//! Leader election by lease, for redundant stream managers: a store (the arbiter, such
//! as etcd or a Kubernetes Lease object) grants one holder at a time a lease of
//! `duration`, counted on its own clock; a client acquires or renews every
//! `retry_period` and counts itself leader only until `renew_deadline` after the send
//! time of its last granted request: earlier than the store lets the lease lapse, so
//! with clocks that agree two clients are never leaders at once. Defaults are
//! Kubernetes client-go's leader election: lease 15 s, renew deadline 10 s, retry 2 s.
//!
//! Calling contract (sans-IO): the store answers [`LeaseStore::handle_acquire`]; a
//! client sends a request whenever [`LeaseClient::poll_request`] returns one, reports
//! grants with [`LeaseClient::handle_grant`], and calls [`LeaseClient::handle_timeout`]
//! when `now` reaches [`LeaseClient::poll_timeout`]; leadership changes come from
//! [`LeaseClient::poll_change`].

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// Timing of a lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    pub duration: SimDuration,
    pub renew_deadline: SimDuration,
    pub retry_period: SimDuration,
}

impl LeaseConfig {
    /// client-go `leaderelection` defaults.
    pub const KUBERNETES: LeaseConfig = LeaseConfig {
        duration: SimDuration::from_secs(15),
        renew_deadline: SimDuration::from_secs(10),
        retry_period: SimDuration::from_secs(2),
    };

    pub fn validate(&self) -> Result<(), String> {
        if self.retry_period.is_zero()
            || self.retry_period >= self.renew_deadline
            || self.renew_deadline >= self.duration
        {
            return Err(format!(
                "lease timing needs 0 < retry_period ({}) < renew_deadline ({}) < duration ({})",
                self.retry_period, self.renew_deadline, self.duration
            ));
        }
        Ok(())
    }
}

/// The arbiter.
#[derive(Clone, Debug)]
pub struct LeaseStore {
    duration: SimDuration,
    holder: Option<(usize, SimTime)>,
}

impl LeaseStore {
    pub fn new(duration: SimDuration) -> Self {
        LeaseStore { duration, holder: None }
    }

    /// `client` asks at `now` to acquire or renew; `true` if granted (for `duration`).
    pub fn handle_acquire(&mut self, now: SimTime, client: usize) -> bool {
        let free = match self.holder {
            None => true,
            Some((holder, expires)) => holder == client || expires <= now,
        };
        if free {
            self.holder = Some((client, now + self.duration));
        }
        free
    }

    pub fn holder(&self, now: SimTime) -> Option<usize> {
        self.holder
            .filter(|&(_, expires)| now < expires)
            .map(|(holder, _)| holder)
    }
}

/// One candidate.
#[derive(Clone, Debug)]
pub struct LeaseClient {
    config: LeaseConfig,
    leader_until: Option<SimTime>,
    next_request: SimTime,
    next_id: u64,
    /// Outstanding requests: id → send time.
    sent: VecDeque<(u64, SimTime)>,
    changes: VecDeque<(bool, SimTime)>,
}

impl LeaseClient {
    pub fn new(config: LeaseConfig, first_request: SimTime) -> Self {
        LeaseClient {
            config,
            leader_until: None,
            next_request: first_request,
            next_id: 0,
            sent: VecDeque::new(),
            changes: VecDeque::new(),
        }
    }

    pub fn is_leader(&self, now: SimTime) -> bool {
        self.leader_until.is_some_and(|until| now < until)
    }

    /// A request to send now, if one is due: its id.
    pub fn poll_request(&mut self, now: SimTime) -> Option<u64> {
        if now < self.next_request {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.sent.push_back((id, now));
        // Keep only recent requests: older grants are useless anyway.
        while self.sent.len() > 8 {
            self.sent.pop_front();
        }
        self.next_request = now + self.config.retry_period;
        Some(id)
    }

    /// Request `id` was granted.
    pub fn handle_grant(&mut self, now: SimTime, id: u64) {
        let Some(&(_, sent_at)) = self.sent.iter().find(|&&(i, _)| i == id) else {
            return;
        };
        let until = sent_at + self.config.renew_deadline;
        if until <= now {
            return;
        }
        if !self.is_leader(now) {
            self.changes.push_back((true, now));
        }
        self.leader_until = Some(self.leader_until.map_or(until, |u| u.max(until)));
    }

    pub fn poll_timeout(&self) -> SimTime {
        match self.leader_until {
            Some(until) => until.min(self.next_request),
            None => self.next_request,
        }
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        if let Some(until) = self.leader_until {
            if until <= now {
                self.leader_until = None;
                self.changes.push_back((false, until));
            }
        }
    }

    /// `(leader, at)`: became leader, or stepped down.
    pub fn poll_change(&mut self) -> Option<(bool, SimTime)> {
        self.changes.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const K8S: LeaseConfig = LeaseConfig::KUBERNETES;

    #[test]
    fn kubernetes_defaults_are_consistent() {
        assert!(K8S.validate().is_ok());
    }

    #[test]
    fn store_grants_one_holder_until_expiry() {
        let mut store = LeaseStore::new(K8S.duration);
        assert!(store.handle_acquire(SimTime::from_secs(0), 0));
        assert!(!store.handle_acquire(SimTime::from_secs(5), 1));
        assert!(store.handle_acquire(SimTime::from_secs(5), 0));
        assert!(!store.handle_acquire(SimTime::from_secs(19), 1));
        assert!(store.handle_acquire(SimTime::from_secs(20), 1));
        assert_eq!(store.holder(SimTime::from_secs(21)), Some(1));
    }

    #[test]
    fn a_client_cut_off_steps_down_before_the_lease_lapses() {
        let mut client = LeaseClient::new(K8S, SimTime::ZERO);
        let id = client.poll_request(SimTime::ZERO).unwrap();
        client.handle_grant(SimTime::from_millis(5), id);
        assert!(client.is_leader(SimTime::from_secs(1)));
        // No more grants: leader until 0 + 10 s; the store frees the lease at 15 s.
        client.handle_timeout(SimTime::from_secs(10));
        assert_eq!(client.poll_change(), Some((true, SimTime::from_millis(5))));
        assert_eq!(client.poll_change(), Some((false, SimTime::from_secs(10))));
        assert!(!client.is_leader(SimTime::from_secs(10)));
    }

    proptest! {
        /// Two clients, one store, arbitrary message delays and losses: the two are
        /// never leaders at the same instant (checked on the exact instants each
        /// reports), and someone leads once messages flow.
        #[test]
        fn never_two_leaders(
            delays in proptest::collection::vec((0u64..4_000, 0u64..4_000, any::<bool>()), 10..200),
        ) {
            let mut store = LeaseStore::new(K8S.duration);
            let mut clients = [LeaseClient::new(K8S, SimTime::ZERO), LeaseClient::new(K8S, SimTime::from_millis(700))];
            // Each request from client c: (arrives at store, grant arrives back, lost).
            let mut pending: Vec<(SimTime, usize, u64, SimTime)> = Vec::new(); // (grant arrival, client, id, store time)
            let mut step = 0usize;
            let mut now = SimTime::ZERO;
            let mut ever_leader = false;
            // Each client's leadership as exact intervals, from its own change events:
            // sampling `is_leader` every 100 ms would miss an overlap between samples.
            let mut led: [Vec<(SimTime, SimTime)>; 2] = [Vec::new(), Vec::new()];
            let mut since: [Option<SimTime>; 2] = [None, None];
            while now < SimTime::from_secs(300) {
                now += SimDuration::from_millis(100);
                for (c, client) in clients.iter_mut().enumerate() {
                    client.handle_timeout(now);
                    if let Some(id) = client.poll_request(now) {
                        let (up, down, lost) = delays[step % delays.len()];
                        step += 1;
                        if !lost {
                            let at_store = now + SimDuration::from_millis(up);
                            pending.push((at_store + SimDuration::from_millis(down), c, id, at_store));
                        }
                    }
                }
                // The store decides in arrival order; grants travel back.
                pending.sort_by_key(|p| p.3);
                let mut keep = Vec::new();
                for (back, c, id, at_store) in pending.drain(..) {
                    if at_store <= now {
                        if store.handle_acquire(at_store, c) {
                            keep.push((back, c, id, SimTime::MAX));
                        }
                    } else {
                        keep.push((back, c, id, at_store));
                    }
                }
                for p in keep.iter_mut() {
                    if p.3 == SimTime::MAX && p.0 <= now {
                        clients[p.1].handle_grant(now, p.2);
                        p.1 = usize::MAX;
                    }
                }
                pending = keep.into_iter().filter(|p| p.1 != usize::MAX).collect();
                let leaders = clients.iter().filter(|c| c.is_leader(now)).count();
                prop_assert!(leaders <= 1, "two leaders at {}", now);
                ever_leader |= leaders == 1;
                for (c, client) in clients.iter_mut().enumerate() {
                    while let Some((leader, at)) = client.poll_change() {
                        match (leader, since[c].take()) {
                            (true, None) => since[c] = Some(at),
                            (false, Some(from)) => led[c].push((from, at)),
                            (leader, was) => prop_assert!(false, "client {c}: change to {leader} at {at} after {was:?}"),
                        }
                    }
                }
            }
            for c in 0..2 {
                if let Some(from) = since[c] {
                    led[c].push((from, now));
                }
            }
            for &(a_from, a_to) in &led[0] {
                for &(b_from, b_to) in &led[1] {
                    prop_assert!(a_to <= b_from || b_to <= a_from, "leaders at once: {a_from}..{a_to} and {b_from}..{b_to}");
                }
            }
            // A leader seen at a sample reported its change too.
            prop_assert!(!ever_leader || !led[0].is_empty() || !led[1].is_empty());
            // Round trips are under the renew deadline: any request that gets through
            // makes someone leader.
            if delays.iter().any(|d| !d.2) {
                prop_assert!(ever_leader);
            }
        }
    }
}
