//! The authoritative DNS actor: health-checks its targets like Route 53's checkers,
//! from `dns.health.checkers` uncoordinated checkers whose verdicts
//! `control::quorum::HealthQuorum` combines (a probe's id carries its checker), and
//! answers queries with the current target and TTL. `dns-1`
//! keeps a `control::dns::FailoverRecord` for each stream's ingest name, over that
//! stream's servers in order of preference (one health check per server, shared by
//! the records, as Route 53 health checks are): a flip of a record is the switch of a
//! DNS failover episode of its stream; publishers only follow it when they next
//! resolve, after their connection broke and their resolver's cache expired. `cdn-dns`
//! keeps a `control::dns::RoundRobinRecord` over the edges for viewers. Its rotation
//! hands the queries of one instant their answers together, once the last is in, in
//! viewer order: no answer depends on which simultaneous query the kernel delivered
//! first. A squad's query (`viewers.squads`) gets one answer per member, as its
//! members' own queries would, with one reply per target naming the members given it.
//!
//! Faults of the service itself: `dns.outage` (queries go unanswered; the health
//! checkers, a separate system, keep checking) and `dns.stale` (the record stops taking
//! health results, as a failed zone update; when it ends the record catches up with
//! what the checkers see then).

use std::sync::Arc;

use smallvec::SmallVec;

use crate::control::dns::{FailoverRecord, RoundRobinRecord};
use crate::control::health::{Health, HealthConfig};
use crate::control::quorum::HealthQuorum;
use crate::names::StreamName;
use crate::sim::{Behavior, Ctx, Input, NodeId, Places};
use crate::time::{SimDuration, SimTime};

use super::{first_checks, impair, Deadline, Msg, Party, SharedRecorder, ViewerOrder, CONTROL_MESSAGE_BYTES};

/// What the names answer with.
pub enum Record {
    /// Per stream: its record, and the targets (indices into the server's targets)
    /// of the record's members, in order of preference.
    Failover(Vec<(FailoverRecord, Vec<usize>)>),
    RoundRobin(RoundRobinRecord),
}

/// How the server's checkers probe: one checker's settings, each checker's probe
/// phase per target, and the share of checkers that must see a target healthy.
pub struct Checks {
    pub config: HealthConfig,
    pub phases: Vec<Vec<SimDuration>>,
    pub healthy_above: f64,
}

impl Checks {
    fn quorum(&self, now: SimTime) -> HealthQuorum {
        let first: Vec<Vec<SimTime>> = (self.phases.iter())
            .map(|phases| first_checks(&self.config, phases, now))
            .collect();
        HealthQuorum::new(self.config, &first, self.healthy_above)
    }
}

pub struct Dns {
    targets: Vec<NodeId>,
    /// Each target's place in `targets`, by node id: the CDN's name health-checks every
    /// edge, and each answer finds its target in one step.
    target_places: Places,
    names: Vec<String>,
    checks: Checks,
    health: HealthQuorum,
    record: Record,
    detected_at: Vec<Option<SimTime>>,
    /// How this server's health checks are named in records (`dns-1 health check`).
    check_name: String,
    timer: Deadline,
    recorder: SharedRecorder,
    /// `dns.outage` and `dns.stale` in force.
    outage: bool,
    stale: bool,
    /// A rotating record's queries of this instant, answered together once all are in.
    queries: Vec<Query>,
    /// Answers [`Dns::queries`]' viewers in viewer order.
    order: ViewerOrder<Option<Answer>>,
}

/// An answer: a target (index) and its TTL.
type Answer = (usize, SimDuration);

/// A query to a rotating record, waiting for the other queries of its instant.
struct Query {
    from: NodeId,
    id: u64,
    name: u32,
    viewer: u32,
    party: Option<Arc<Party>>,
}

impl Query {
    /// The viewers it asks for: the squad's members, or the viewer alone.
    fn members(&self) -> &[u32] {
        Party::members_of(&self.party, &self.viewer)
    }
}

impl Dns {
    pub fn new(
        name: &str,
        targets: Vec<NodeId>,
        names: Vec<String>,
        checks: Checks,
        record: Record,
        recorder: SharedRecorder,
    ) -> Self {
        let n = targets.len();
        Dns {
            target_places: Places::of(&targets),
            targets,
            names,
            health: checks.quorum(SimTime::ZERO),
            checks,
            record,
            detected_at: vec![None; n],
            check_name: format!("{name} health check"),
            timer: Deadline::default(),
            recorder,
            outage: false,
            stale: false,
            queries: Vec::new(),
            order: ViewerOrder::default(),
        }
    }

    /// A target's health as the record should take it (not while stale).
    /// Health changes of targets, applied together (a catch-up after `dns.stale`
    /// applies every target's at once, so a record flips at most once).
    /// The answer to a query for `name` now (target index, TTL): the next one for a
    /// rotating record. `None` for a name it does not serve.
    fn answer(&mut self, name: u32) -> Option<(usize, SimDuration)> {
        match &mut self.record {
            Record::Failover(records) => {
                let (record, members) = records.get(name as usize)?;
                let answer = record.answer();
                Some((members[answer.target], answer.ttl))
            }
            Record::RoundRobin(record) => {
                let answer = record.answer();
                Some((answer.target, answer.ttl))
            }
        }
    }

    /// Answers the queries of this instant: each viewer (a squad's members one by one)
    /// in viewer order takes the record's next answer; each query then gets one reply
    /// per target, naming the members given it.
    fn answer_queries(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let mut queries = std::mem::take(&mut self.queries);
        let mut order = std::mem::take(&mut self.order);
        order.decide(&queries, Query::members, None, |_, at| self.answer(queries[at].name));
        for (at, query) in queries.iter().enumerate() {
            let answers = order.of(at);
            // Those with the same answer share a reply, in the order of their first.
            let mut targets: SmallVec<[Answer; 4]> = SmallVec::new();
            for &answer in answers.iter().flatten() {
                if !targets.contains(&answer) {
                    targets.push(answer);
                }
            }
            for &(target, ttl) in &targets {
                let party = match &query.party {
                    Some(party) if targets.len() > 1 => {
                        let given: Box<[u32]> = (party.members.iter().zip(answers))
                            .filter(|&(_, &a)| a == Some((target, ttl)))
                            .map(|(&member, _)| member)
                            .collect();
                        Some(party.part_of(given))
                    }
                    party => party.clone(),
                };
                let reply = Msg::DnsAnswer {
                    id: query.id,
                    target: self.targets[target],
                    ttl_ns: ttl.as_nanos(),
                    party,
                };
                ctx.send(query.from, reply, CONTROL_MESSAGE_BYTES);
            }
        }
        queries.clear();
        // Kept, emptied, for the next instant.
        (self.queries, self.order) = (queries, order);
    }

    fn apply_health(&mut self, ctx: &mut Ctx<'_, Msg>, changes: &[(usize, bool)]) {
        if self.stale {
            return;
        }
        let records = match &mut self.record {
            Record::Failover(records) => records,
            Record::RoundRobin(record) => {
                for &(target, healthy) in changes {
                    record.set_health(target, healthy);
                }
                return;
            }
        };
        for (stream, (record, members)) in records.iter_mut().enumerate() {
            let before = members[record.answer().target];
            for &(target, healthy) in changes {
                if let Some(member) = members.iter().position(|&m| m == target) {
                    record.set_health(member, healthy);
                }
            }
            let after_member = record.answer().target;
            let after = members[after_member];
            if after == before {
                continue;
            }
            let (from, to) = (&self.names[before], &self.names[after]);
            tracing::info!(stream = %StreamName(stream), %from, %to, "DNS record flipped");
            // Back to a healthy primary is a failback; "back" to the primary because
            // every target is down (Route 53 answers as if all were healthy) is not.
            let failback = after_member == 0 && record.is_healthy(0);
            let detected = if failback {
                ctx.now()
            } else {
                self.detected_at[before].unwrap_or(ctx.now())
            };
            let mut recorder = self.recorder.borrow_mut();
            recorder.failover_started(failback, ctx.now());
            recorder.switched(stream, from, to, failback, (&self.check_name, detected), ctx.now());
        }
    }

    fn pump(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let checkers = self.health.checkers() as u64;
        while let Some((checker, probe)) = self.health.poll_probe() {
            // Each checker numbers its probes; the id on the wire says whose it is.
            let id = probe.probe_id * checkers + checker as u64;
            let probe_msg = Msg::Probe { id };
            ctx.send(self.targets[probe.target], probe_msg, CONTROL_MESSAGE_BYTES);
        }
        while let Some(event) = self.health.poll_event() {
            let healthy = event.health == Health::Up;
            if let Record::RoundRobin(_) = self.record {
                let target = &self.names[event.target];
                tracing::info!(%target, healthy, "round-robin member health");
            }
            if !healthy {
                self.detected_at[event.target] = Some(event.at);
                self.recorder
                    .borrow_mut()
                    .detected(&self.names[event.target], &self.check_name, event.at);
            }
            self.apply_health(ctx, &[(event.target, healthy)]);
        }
        self.timer.arm(self.health.poll_timeout(), ctx, Msg::ControlTimer);
    }
}

impl Behavior for Dns {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if super::answer_liveness_scrape(&input, ctx) {
            return;
        }
        match input {
            Input::Start => {}
            // The record is configuration and survives; the checkers start afresh.
            Input::Restart => {
                self.health = self.checks.quorum(ctx.now());
                // The new checker reports only changes from "all up": a member left
                // marked down would never come back. (A failover record keeps its state;
                // a primary that recovers while it is marked down is then not seen until
                // it fails and recovers again: noted as a known gap.)
                if let Record::RoundRobin(record) = &mut self.record {
                    record.reset_health();
                }
                self.detected_at.fill(None);
                self.timer.clear();
                self.queries.clear();
            }
            Input::Timer(Msg::ControlTimer) => {
                if self.timer.fire(ctx.now()) {
                    self.health.handle_timeout(ctx.now());
                }
            }
            Input::Msg {
                from,
                msg: Msg::ProbeAck { id, .. },
            } => {
                if let Some(target) = self.target_places.get(from) {
                    let checkers = self.health.checkers() as u64;
                    let (checker, probe_id) = ((id % checkers) as usize, id / checkers);
                    self.health.handle_response(ctx.now(), checker, target, probe_id);
                }
            }
            Input::Msg {
                msg: Msg::Impair { what, on, .. },
                ..
            } => match what {
                impair::DNS_OUTAGE => self.outage = on,
                impair::DNS_STALE => {
                    self.stale = on;
                    if !on {
                        // Catch up with what the checkers see now.
                        let now_seen: Vec<(usize, bool)> = (0..self.targets.len())
                            .map(|target| (target, self.health.health(target) == Health::Up))
                            .collect();
                        self.apply_health(ctx, &now_seen);
                    }
                }
                _ => {}
            },
            Input::Msg {
                msg: Msg::DnsQuery { .. },
                ..
            } if self.outage => return,
            Input::Msg {
                from,
                msg:
                    Msg::DnsQuery {
                        id,
                        name,
                        viewer,
                        party,
                    },
            } => {
                if let Record::RoundRobin(_) = self.record {
                    if self.queries.is_empty() {
                        ctx.timer_at(ctx.now(), Msg::PlaceTimer);
                    }
                    let query = Query {
                        from,
                        id,
                        name,
                        viewer,
                        party,
                    };
                    self.queries.push(query);
                    return;
                }
                // A failover record answers alike whatever the order: at once. A name
                // it does not serve gets no answer (NXDOMAIN is not modelled).
                let Some((target, ttl)) = self.answer(name) else { return };
                let reply = Msg::DnsAnswer {
                    id,
                    target: self.targets[target],
                    ttl_ns: ttl.as_nanos(),
                    party,
                };
                return ctx.send(from, reply, CONTROL_MESSAGE_BYTES);
            }
            Input::Timer(Msg::PlaceTimer) => return self.answer_queries(ctx),
            _ => return,
        }
        self.pump(ctx);
    }
}
