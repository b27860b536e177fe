//! Leader election for redundant stream managers, as Kubernetes client-go does it
//! (`tools/leaderelection/leaderelection.go`). The store is a Lease object that only
//! answers reads and compare-and-swap updates ([`LeaseObject`]); it never expires
//! anything. Every judgement of expiry is a candidate's own, on its own clock, from
//! when it last saw the record change ([`LeaseClient`]).
//!
//! The rules, each from the upstream file named:
//! - A candidate tries every `retry_period` jittered up by a factor of up to 1.2
//!   (2–4.4 s for 2 s), counted from the end of its last try (`acquire`:
//!   `wait.JitterUntilWithContext(…, RetryPeriod, JitterFactor, true)`; apimachinery
//!   `pkg/util/wait/wait.go` `Jitter`, `backoff.go` `BackoffUntilWithContext`).
//! - A try reads the record; if it is held by someone else and the candidate saw it
//!   change less than the record's `leaseDurationSeconds` ago, the try fails; else the
//!   candidate writes itself in with the version it read (`tryAcquireOrRenew`,
//!   `isLeaseValid`, `setObservedRecord`). A leader whose lease is valid by its own
//!   observation writes straight away and reads only when that write conflicts.
//! - A leader renews at once on winning, then `retry_period` after each successful
//!   renewal (`renew`: `wait.UntilWithContext(…, RetryPeriod)`). A renewal is a poll
//!   that tries at once and then on a `retry_period` timer until `renew_deadline` after
//!   the poll began; at that deadline it stops leading (`wait.PollUntilContextTimeout`;
//!   `loopConditionUntilContext` with sliding false). So a leader cut off from the store
//!   stops `retry_period + renew_deadline` after its last successful renewal.
//! - A request unanswered for max(1 s, `renew_deadline` / 2) fails
//!   (`resourcelock/interface.go` `NewFromKubeconfig` sets the client's timeout so).
//! - The record holds its duration in whole seconds (`LeaseDurationSeconds:
//!   int(LeaseDuration / time.Second)`); `NewLeaderElector` requires lease duration >
//!   renew deadline > 1.2 × retry period.
//!
//! With clocks that agree, two clients never lead at once as long as answers from the
//! store take less than `duration − renew_deadline − retry_period` (3 s with the
//! defaults) to arrive: the old leader stops at most that long after its last renewal
//! reached the store, the new one cannot win earlier than `duration` after it. A slow
//! clock on the leader stretches its side and opens a split brain (docs/model.md).
//!
//! One departure: a client-go process that stops leading exits (kube-controller-manager
//! `OnStoppedLeading`) and is restarted under a new identity (its id carries a fresh
//! UUID). failcast's manager stays up and re-runs the election at once under a new
//! [`Identity::incarnation`], so it too must see the record unchanged for a whole lease
//! before it can win it back.
//!
//! Calling contract (sans-IO): the store answers with [`LeaseObject::handle_call`]; a
//! client sends every call [`LeaseClient::poll_call`] returns, reports answers with
//! [`LeaseClient::handle_answer`], and calls [`LeaseClient::handle_timeout`] when `now`
//! reaches [`LeaseClient::poll_timeout`]; leadership changes come from
//! [`LeaseClient::poll_change`]. All times a client sees are its own clock's.

use std::collections::VecDeque;

use rand::Rng;

use crate::time::{SimDuration, SimTime, NANOS_PER_S};

/// Timing of a lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    pub duration: SimDuration,
    pub renew_deadline: SimDuration,
    pub retry_period: SimDuration,
}

impl LeaseConfig {
    /// client-go `leaderelection` defaults (kube-controller-manager, kube-scheduler).
    pub const KUBERNETES: LeaseConfig = LeaseConfig {
        duration: SimDuration::from_secs(15),
        renew_deadline: SimDuration::from_secs(10),
        retry_period: SimDuration::from_secs(2),
    };

    /// client-go `JitterFactor`: a candidate waits up to 1.2 retry periods extra.
    pub const JITTER_FACTOR: f64 = 1.2;

    /// `NewLeaderElector`'s checks.
    pub fn validate(&self) -> Result<(), String> {
        let jittered = self.retry_period.mul_f64(Self::JITTER_FACTOR);
        if self.retry_period.is_zero() || self.renew_deadline <= jittered || self.duration <= self.renew_deadline {
            return Err(format!(
                "lease timing needs 0 < 1.2 × retry_period ({}) < renew_deadline ({}) < duration ({})",
                self.retry_period, self.renew_deadline, self.duration
            ));
        }
        Ok(())
    }

    /// How long a request may go unanswered: max(1 s, renew deadline / 2).
    pub fn request_timeout(&self) -> SimDuration {
        SimDuration::from_nanos((self.renew_deadline.as_nanos() / 2).max(NANOS_PER_S))
    }

    /// The duration a client writes into the record: whole seconds.
    pub fn record_duration(&self) -> SimDuration {
        SimDuration::from_secs(self.duration.as_nanos() / NANOS_PER_S)
    }

    /// A candidate's wait between tries: `retry_period × (1 + 1.2 u)`, u uniform in [0, 1).
    fn jittered_retry(&self, rng: &mut impl Rng) -> SimDuration {
        let u: f64 = rng.gen();
        self.retry_period + self.retry_period.mul_f64(u * Self::JITTER_FACTOR)
    }
}

/// A candidate as the record names it: which client, and which run of its election
/// (a client that stopped leading, or restarted, runs it again as someone new).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub client: u32,
    pub incarnation: u32,
}

/// The Lease object's spec as a client reads it. `version` is the resource version:
/// 0 while the object does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    pub holder: Option<Identity>,
    pub duration: SimDuration,
    pub version: u64,
}

/// A request to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseCall {
    Get,
    /// Write the caller in as holder for `duration`, if the object is still at
    /// `expected_version` (0: create it).
    Update {
        expected_version: u64,
        duration: SimDuration,
    },
}

/// The store's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// The record, for a `Get`; the record as written, for a successful `Update`.
    Record(LeaseRecord),
    /// The object changed since the version the caller wrote against (HTTP 409).
    Conflict,
}

/// The arbiter: a Kubernetes Lease object in the API server. It holds no clock.
#[derive(Clone, Debug, Default)]
pub struct LeaseObject {
    record: Option<LeaseRecord>,
}

impl LeaseObject {
    pub fn handle_call(&mut self, caller: Identity, call: LeaseCall) -> LeaseAnswer {
        let current = self.record.unwrap_or(LeaseRecord {
            holder: None,
            duration: SimDuration::ZERO,
            version: 0,
        });
        match call {
            LeaseCall::Get => LeaseAnswer::Record(current),
            LeaseCall::Update {
                expected_version,
                duration,
            } if expected_version == current.version => {
                let written = LeaseRecord {
                    holder: Some(caller),
                    duration,
                    version: current.version + 1,
                };
                self.record = Some(written);
                LeaseAnswer::Record(written)
            }
            LeaseCall::Update { .. } => LeaseAnswer::Conflict,
        }
    }

    /// Who the record names, whatever its age (the object does not judge expiry).
    pub fn holder(&self) -> Option<Identity> {
        self.record.and_then(|r| r.holder)
    }
}

/// Which request of a try is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// A valid leader's optimistic write.
    FastUpdate,
    Get,
    /// The write after a read that allowed it.
    Update,
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    id: u64,
    step: Step,
    gives_up_at: SimTime,
}

/// One candidate.
#[derive(Clone, Debug)]
pub struct LeaseClient {
    config: LeaseConfig,
    identity: Identity,
    leading: bool,
    /// The record as last read or written, and when this client saw it change.
    observed: Option<(LeaseRecord, SimTime)>,
    in_flight: Option<InFlight>,
    /// When the current try began (a poll tick, for a leader).
    try_began: SimTime,
    /// When the next try begins, when none is in flight.
    next_try: SimTime,
    /// A leader's current renewal poll ends at this deadline; `None` between polls.
    poll_deadline: Option<SimTime>,
    next_id: u64,
    calls: VecDeque<(u64, LeaseCall)>,
    changes: VecDeque<(bool, SimTime)>,
}

impl LeaseClient {
    /// A candidate that makes its first try at `first_try`.
    pub fn new(config: LeaseConfig, identity: Identity, first_try: SimTime) -> Self {
        LeaseClient {
            config,
            identity,
            leading: false,
            observed: None,
            in_flight: None,
            try_began: first_try,
            next_try: first_try,
            poll_deadline: None,
            next_id: 0,
            calls: VecDeque::new(),
            changes: VecDeque::new(),
        }
    }

    pub fn identity(&self) -> Identity {
        self.identity
    }

    pub fn is_leader(&self, now: SimTime) -> bool {
        self.leading && self.poll_deadline.is_none_or(|deadline| now < deadline)
    }

    /// The next request to send: its id and what it asks.
    pub fn poll_call(&mut self) -> Option<(u64, LeaseCall)> {
        self.calls.pop_front()
    }

    pub fn poll_timeout(&self) -> SimTime {
        let pending = match self.in_flight {
            Some(call) => call.gives_up_at,
            None => self.next_try,
        };
        self.poll_deadline.map_or(pending, |deadline| deadline.min(pending))
    }

    pub fn handle_timeout(&mut self, now: SimTime, rng: &mut impl Rng) {
        if let Some(deadline) = self.poll_deadline.filter(|&d| d <= now) {
            self.stop_leading(deadline);
        }
        if let Some(call) = self.in_flight.filter(|c| c.gives_up_at <= now) {
            self.in_flight = None;
            self.try_done(call.gives_up_at.max(self.try_began), false, rng);
        }
        if self.in_flight.is_none() && self.next_try <= now {
            self.begin_try(now);
        }
    }

    /// The store answered request `id` (answers to requests given up on are ignored).
    pub fn handle_answer(&mut self, now: SimTime, id: u64, answer: LeaseAnswer, rng: &mut impl Rng) {
        // What fell due before this answer came happened first: a request given up on,
        // or a renewal deadline passed, is not saved by a late answer.
        self.handle_timeout(now, rng);
        let Some(call) = self.in_flight.filter(|c| c.id == id) else {
            return;
        };
        self.in_flight = None;
        match (call.step, answer) {
            (Step::FastUpdate | Step::Update, LeaseAnswer::Record(written)) => {
                self.observed = Some((written, now));
                self.try_done(now, true, rng);
            }
            (Step::FastUpdate, LeaseAnswer::Conflict) => self.send(now, Step::Get, LeaseCall::Get),
            (Step::Update, LeaseAnswer::Conflict) => self.try_done(now, false, rng),
            (Step::Get, LeaseAnswer::Record(read)) => {
                if self.observed.is_none_or(|(seen, _)| seen != read) {
                    self.observed = Some((read, now));
                }
                if self.held_by_another(now) {
                    self.try_done(now, false, rng);
                } else {
                    let update = self.update_against(read.version);
                    self.send(now, Step::Update, update);
                }
            }
            (Step::Get, LeaseAnswer::Conflict) => self.try_done(now, false, rng),
        }
    }

    /// `(leader, at)`: became leader, or stopped leading.
    pub fn poll_change(&mut self) -> Option<(bool, SimTime)> {
        self.changes.pop_front()
    }

    /// The record names someone else and this client saw it change less than a lease
    /// ago (`isLeaseValid && !IsLeader`).
    fn held_by_another(&self, now: SimTime) -> bool {
        self.observed.is_some_and(|(record, seen_at)| {
            record.holder.is_some_and(|h| h != self.identity) && seen_at + record.duration > now
        })
    }

    fn valid_leader(&self, now: SimTime) -> bool {
        self.observed
            .is_some_and(|(record, seen_at)| record.holder == Some(self.identity) && seen_at + record.duration > now)
    }

    fn update_against(&self, expected_version: u64) -> LeaseCall {
        LeaseCall::Update {
            expected_version,
            duration: self.config.record_duration(),
        }
    }

    fn begin_try(&mut self, now: SimTime) {
        self.try_began = now;
        if self.leading && self.poll_deadline.is_none() {
            self.poll_deadline = Some(now + self.config.renew_deadline);
        }
        match self.observed {
            Some((record, _)) if self.valid_leader(now) => {
                let update = self.update_against(record.version);
                self.send(now, Step::FastUpdate, update);
            }
            _ => self.send(now, Step::Get, LeaseCall::Get),
        }
    }

    fn send(&mut self, now: SimTime, step: Step, call: LeaseCall) {
        let id = self.next_id;
        self.next_id += 1;
        let mut gives_up_at = now + self.config.request_timeout();
        if let Some(deadline) = self.poll_deadline {
            gives_up_at = gives_up_at.min(deadline);
        }
        self.in_flight = Some(InFlight { id, step, gives_up_at });
        self.calls.push_back((id, call));
    }

    /// A try ended at `now`; schedule the next one.
    fn try_done(&mut self, now: SimTime, won: bool, rng: &mut impl Rng) {
        if !self.leading {
            if won {
                self.leading = true;
                self.changes.push_back((true, now));
                // `renew` starts its first poll at once.
                self.poll_deadline = None;
                self.next_try = now;
            } else {
                self.next_try = now + self.config.jittered_retry(rng);
            }
            return;
        }
        if won {
            self.poll_deadline = None;
            self.next_try = now + self.config.retry_period;
        } else {
            // The poll's timer ticks every retry period from the try's start; a try
            // that ran past a tick is followed at once.
            self.next_try = (self.try_began + self.config.retry_period).max(now);
        }
    }

    /// The renewal poll's deadline passed: stop, and run the election again as a new
    /// candidate that has seen nothing yet.
    fn stop_leading(&mut self, at: SimTime) {
        self.leading = false;
        self.poll_deadline = None;
        self.changes.push_back((false, at));
        self.identity.incarnation += 1;
        self.observed = None;
        self.in_flight = None;
        self.next_try = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const K8S: LeaseConfig = LeaseConfig::KUBERNETES;
    const ME: Identity = Identity {
        client: 0,
        incarnation: 0,
    };
    const OTHER: Identity = Identity {
        client: 1,
        incarnation: 0,
    };

    fn secs(s: f64) -> SimTime {
        SimTime::from_nanos((s * 1e9) as u64)
    }

    #[test]
    fn kubernetes_defaults_pass_client_gos_checks() {
        assert!(K8S.validate().is_ok());
        assert_eq!(K8S.request_timeout(), SimDuration::from_secs(5));
        let tight = LeaseConfig {
            renew_deadline: SimDuration::from_millis(2_400),
            ..K8S
        };
        assert!(tight.validate().is_err(), "renew deadline must exceed 1.2 × 2 s");
        let ok = LeaseConfig {
            renew_deadline: SimDuration::from_millis(2_401),
            ..K8S
        };
        assert!(ok.validate().is_ok());
        let fractional = LeaseConfig {
            duration: SimDuration::from_millis(15_900),
            ..K8S
        };
        assert_eq!(fractional.record_duration(), SimDuration::from_secs(15));
    }

    #[test]
    fn the_object_writes_only_against_the_version_it_holds() {
        let mut object = LeaseObject::default();
        let create = LeaseCall::Update {
            expected_version: 0,
            duration: K8S.duration,
        };
        let LeaseAnswer::Record(first) = object.handle_call(ME, create) else {
            panic!("create failed");
        };
        assert_eq!((first.holder, first.version), (Some(ME), 1));
        assert_eq!(object.handle_call(OTHER, create), LeaseAnswer::Conflict);
        assert_eq!(object.handle_call(OTHER, LeaseCall::Get), LeaseAnswer::Record(first));
        let take = LeaseCall::Update {
            expected_version: 1,
            duration: K8S.duration,
        };
        assert!(matches!(object.handle_call(OTHER, take), LeaseAnswer::Record(r) if r.version == 2));
        assert_eq!(object.holder(), Some(OTHER));
        // The first holder's renewal against version 1 now conflicts.
        assert_eq!(object.handle_call(ME, take), LeaseAnswer::Conflict);
    }

    /// Runs one client against `object` with instant answers until `until`, answering
    /// only while `reachable(now)`.
    fn drive(client: &mut LeaseClient, object: &mut LeaseObject, until: SimTime, reachable: impl Fn(SimTime) -> bool) {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut now = SimTime::ZERO;
        loop {
            client.handle_timeout(now, &mut rng);
            while let Some((id, call)) = client.poll_call() {
                if reachable(now) {
                    let answer = object.handle_call(client.identity(), call);
                    client.handle_answer(now, id, answer, &mut rng);
                }
            }
            now = client.poll_timeout();
            if now > until {
                return;
            }
        }
    }

    #[test]
    fn a_leader_renews_at_once_then_every_retry_period() {
        let mut object = LeaseObject::default();
        let mut client = LeaseClient::new(K8S, ME, SimTime::ZERO);
        drive(&mut client, &mut object, secs(9.0), |_| true);
        assert_eq!(client.poll_change(), Some((true, SimTime::ZERO)));
        // Create at 0, renew at 0, then at 2, 4, 6 and 8 s.
        let Some(LeaseAnswer::Record(record)) = Some(object.handle_call(ME, LeaseCall::Get)) else {
            unreachable!()
        };
        assert_eq!(record.version, 6);
        assert!(client.is_leader(secs(9.0)));
    }

    #[test]
    fn a_leader_cut_off_stops_retry_period_plus_renew_deadline_after_its_last_renewal() {
        let mut object = LeaseObject::default();
        let mut client = LeaseClient::new(K8S, ME, SimTime::ZERO);
        // Renewals succeed at 0, 0, 2, 4, 6; the store is gone from 7 s.
        drive(&mut client, &mut object, secs(60.0), |now| now < secs(7.0));
        assert_eq!(client.poll_change(), Some((true, SimTime::ZERO)));
        assert_eq!(client.poll_change(), Some((false, secs(6.0 + 2.0 + 10.0))));
        assert!(!client.is_leader(secs(18.0)));
        assert_eq!(client.identity().incarnation, 1, "it runs again as someone new");
    }

    #[test]
    fn an_answer_after_the_request_was_given_up_on_does_not_renew() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut object = LeaseObject::default();
        let mut client = LeaseClient::new(K8S, ME, SimTime::ZERO);
        drive(&mut client, &mut object, secs(1.0), |_| true);
        assert!(client.is_leader(secs(1.0)));
        // The renewal at 2 s goes out; its answer is held until 30 s, past the request
        // timeout (7 s) and the poll's deadline (12 s).
        client.handle_timeout(secs(2.0), &mut rng);
        let (id, call) = client.poll_call().expect("a renewal");
        let answer = object.handle_call(ME, call);
        client.handle_answer(secs(30.0), id, answer, &mut rng);
        assert!(!client.is_leader(secs(30.0)));
        assert_eq!(client.poll_change(), Some((true, SimTime::ZERO)));
        assert_eq!(client.poll_change(), Some((false, secs(12.0))));
    }

    #[test]
    fn a_candidate_waits_a_whole_lease_after_the_record_last_changed() {
        let mut object = LeaseObject::default();
        object.handle_call(
            OTHER,
            LeaseCall::Update {
                expected_version: 0,
                duration: K8S.duration,
            },
        );
        // The holder is gone from the start: the candidate first reads the record at
        // 0, and wins at its first try at or after 15 s, 2–4.4 s apart.
        let mut client = LeaseClient::new(K8S, ME, SimTime::ZERO);
        drive(&mut client, &mut object, secs(40.0), |_| true);
        let (leader, at) = client.poll_change().expect("it wins");
        assert!(leader);
        assert!(at >= secs(15.0) && at < secs(19.4), "won at {at}");
        assert_eq!(object.holder(), Some(ME));
    }

    #[test]
    fn a_restarted_holder_is_a_stranger_to_its_own_record() {
        let mut object = LeaseObject::default();
        let mut first = LeaseClient::new(K8S, ME, SimTime::ZERO);
        drive(&mut first, &mut object, secs(1.0), |_| true);
        assert_eq!(object.holder(), Some(ME));
        let again = Identity { incarnation: 1, ..ME };
        let mut restarted = LeaseClient::new(K8S, again, secs(1.0));
        drive(&mut restarted, &mut object, secs(40.0), |_| true);
        let (_, at) = restarted.poll_change().expect("it wins");
        assert!(at >= secs(16.0), "won at {at}, before the lease it held lapsed");
    }
}
