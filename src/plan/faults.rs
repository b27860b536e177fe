//! Faults as the run injects them: each of the scenario's `[[fault]]` entries and
//! `[random_faults]` draws with its targets as node ids, its start, its end and a typed
//! [`FaultAction`], computed once for both the recorder and the scheduler.

use crate::metrics::{FaultRecord, Milestone};
use crate::scenario::chaos::{concrete_faults, ConcreteFault};
use crate::scenario::select::is_node_id;
use crate::scenario::{Fault, FaultKind, NodeTable, Scenario};
use crate::sim::{rng_for, NodeId};
use crate::time::{SimDuration, SimTime};

use super::PlanError;

/// What an encoder sends while a content fault lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentFault {
    /// Black video (`encoder.black`).
    Black,
    /// Silent audio (`encoder.silent`).
    Silent,
    /// Nothing: frames are not captured (`encoder.stall`).
    Stall,
}

/// A component's function impaired while the node itself runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impairment {
    /// The DNS server answers nothing (`dns.outage`).
    DnsOutage,
    /// The DNS server keeps answering its last records (`dns.stale`).
    DnsStale,
    /// The load balancer forwards nothing (`lb.fail`).
    LbDataPlane,
    /// The monitor's records arrive late (`monitor.delay`).
    MonitorDelay,
    /// The monitor scrapes nothing (`monitor.blind`).
    MonitorBlind,
}

/// A network degradation of every link of a node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Degrade {
    pub extra_latency: SimDuration,
    pub extra_jitter: SimDuration,
    pub loss: f64,
    pub burst: SimDuration,
    pub bandwidth_bps: u64,
    /// Only what the node sends (`node.slow`).
    pub outbound_only: bool,
}

/// What a fault does at its start, undone at its end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultAction {
    /// The targets cannot reach `other` (or only not one way): one cut for all of them.
    Partition { one_way: bool },
    /// The same change to each target on its own.
    OnEachTarget(NodeFault),
}

/// What a fault does to one node at its start, undone at its end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeFault {
    /// The node stops and loses its state; it restarts at the end (`node.crash`,
    /// `region.outage`).
    Crash,
    /// The node handles nothing until the end, then everything that waited (`node.pause`).
    Pause,
    Degrade(Degrade),
    Content(ContentFault),
    /// An edge's egress capacity, during the fault and after it (`cdn.overload`).
    EdgeCapacity {
        during_bps: u64,
        normal_bps: u64,
    },
    /// The streams an ingest server packages, during and after (`ingest.overload`).
    StreamCapacity {
        during: u32,
        normal: u32,
    },
    Impair {
        what: Impairment,
        delay: SimDuration,
    },
    /// The node's clock runs fast or slow by this many parts per million (`clock.skew`).
    ClockDrift {
        ppm: i64,
    },
}

/// When a fault starts.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultStart {
    At(SimTime),
    /// After the first `event` at or after `not_before`, by `after`.
    On {
        event: Milestone,
        not_before: SimTime,
        after: SimDuration,
    },
}

/// One fault of the run, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedFault {
    /// The fault's id (`fault-N`, `random-N` or the one the file gives).
    pub id: String,
    /// Place among the run's faults: names its network changes.
    pub index: usize,
    pub kind: FaultKind,
    /// The nodes it hits, by name and id, in selector order.
    pub targets: Vec<(String, NodeId)>,
    /// Whether the file named a single node, so records keep the fault's own id.
    pub names_one_node: bool,
    /// `net.partition`'s other side (empty: every other node).
    pub other: Vec<NodeId>,
    pub start: FaultStart,
    pub duration: Option<SimDuration>,
    pub action: FaultAction,
}

/// A rate in Mbit/s, in bit/s.
pub fn capacity_bps(mbps: f64) -> u64 {
    (mbps * 1e6).round() as u64
}

/// What `fault` does, from its kind and settings (validated: a kind's required
/// settings are present).
fn action_of(s: &Scenario, kind: FaultKind, fault: &Fault) -> Result<FaultAction, PlanError> {
    let missing = |key: &'static str| PlanError::MissingSetting {
        fault: kind.name(),
        key,
    };
    let or_zero = |d: Option<crate::scenario::Dur>| d.map_or(SimDuration::ZERO, |d| d.0);
    let on_each = match kind {
        FaultKind::NodeCrash | FaultKind::RegionOutage => NodeFault::Crash,
        FaultKind::NodePause => NodeFault::Pause,
        FaultKind::NetPartition => {
            return Ok(FaultAction::Partition {
                one_way: fault.one_way.unwrap_or(false),
            })
        }
        FaultKind::NetDegrade => NodeFault::Degrade(Degrade {
            extra_latency: or_zero(fault.latency),
            extra_jitter: or_zero(fault.jitter),
            loss: fault.loss.unwrap_or(0.0),
            burst: fault.loss_burst.map_or(SimDuration::from_millis(100), |b| b.0),
            bandwidth_bps: fault.bandwidth_mbps.map_or(0, capacity_bps),
            outbound_only: false,
        }),
        FaultKind::NodeSlow => NodeFault::Degrade(Degrade {
            extra_latency: fault.delay.ok_or(missing("delay"))?.0,
            extra_jitter: or_zero(fault.jitter),
            loss: 0.0,
            burst: SimDuration::ZERO,
            bandwidth_bps: 0,
            outbound_only: true,
        }),
        FaultKind::EncoderBlack => NodeFault::Content(ContentFault::Black),
        FaultKind::EncoderSilent => NodeFault::Content(ContentFault::Silent),
        FaultKind::EncoderStall => NodeFault::Content(ContentFault::Stall),
        FaultKind::CdnOverload => NodeFault::EdgeCapacity {
            during_bps: capacity_bps(fault.capacity_mbps.ok_or(missing("capacity_mbps"))?),
            normal_bps: capacity_bps(s.cdn.edge_capacity_mbps),
        },
        FaultKind::IngestOverload => NodeFault::StreamCapacity {
            during: fault.capacity_streams.ok_or(missing("capacity_streams"))?,
            normal: s.ingest.capacity,
        },
        FaultKind::DnsOutage
        | FaultKind::DnsStale
        | FaultKind::LbFail
        | FaultKind::MonitorDelay
        | FaultKind::MonitorBlind => {
            let what = match kind {
                FaultKind::DnsOutage => Impairment::DnsOutage,
                FaultKind::DnsStale => Impairment::DnsStale,
                FaultKind::LbFail => Impairment::LbDataPlane,
                FaultKind::MonitorDelay => Impairment::MonitorDelay,
                _ => Impairment::MonitorBlind,
            };
            NodeFault::Impair {
                what,
                delay: or_zero(fault.delay),
            }
        }
        FaultKind::ClockSkew => NodeFault::ClockDrift {
            ppm: (fault.drift.ok_or(missing("drift"))? * 1e6).round() as i64,
        },
    };
    Ok(FaultAction::OnEachTarget(on_each))
}

/// Every fault of the run of `s` with `seed`: the scenario's in file order, then the
/// random ones in order of onset.
pub fn plan_faults(s: &Scenario, seed: u64, nodes: &NodeTable) -> Result<Vec<PlannedFault>, PlanError> {
    let id_of = nodes.ids_by_name();
    let ids = |names: &[String]| -> Vec<(String, NodeId)> {
        (names.iter())
            .filter_map(|name| id_of.get(name.as_str()).map(|&id| (name.clone(), id)))
            .collect()
    };
    let concrete = concrete_faults(s, |stream| rng_for(seed, stream));
    (concrete.into_iter().enumerate())
        .map(
            |(
                index,
                ConcreteFault {
                    id,
                    fault,
                    targets,
                    other,
                },
            )| {
                let kind =
                    FaultKind::by_name(&fault.kind).ok_or_else(|| PlanError::UnknownFaultKind(fault.kind.clone()))?;
                let at = SimTime::ZERO + fault.at.0;
                let start = match &fault.on {
                    None => FaultStart::At(at),
                    Some(event) => FaultStart::On {
                        event: Milestone::by_name(event).ok_or_else(|| PlanError::UnknownName {
                            what: "milestone",
                            name: event.clone(),
                        })?,
                        not_before: at,
                        after: fault.after.map_or(SimDuration::ZERO, |d| d.0),
                    },
                };
                Ok(PlannedFault {
                    names_one_node: targets.len() == 1 && is_node_id(&fault.target),
                    id,
                    index,
                    kind,
                    targets: ids(&targets),
                    other: ids(&other).into_iter().map(|(_, id)| id).collect(),
                    start,
                    duration: fault.duration.map(|d| d.0),
                    action: action_of(s, kind, &fault)?,
                })
            },
        )
        .collect()
}

impl PlannedFault {
    /// Its records as the recorder lists them, beginning at `onset`: one per target. A
    /// fault that names one node by its id keeps its id; one whose selector names nodes
    /// (`role:edge`, `count:1:role:edge`) lists each as `ID/NODE`.
    pub fn records(&self, onset: SimTime) -> Vec<FaultRecord> {
        (self.targets.iter())
            .map(|(target, _)| FaultRecord {
                id: if self.names_one_node {
                    self.id.clone()
                } else {
                    format!("{}/{target}", self.id)
                },
                kind: self.kind.name().to_string(),
                target: target.clone(),
                onset,
                end: self.duration.map(|d| onset + d),
            })
            .collect()
    }
}

/// The faults of the run as the recorder lists them before it starts: every fault
/// but those waiting for an event (listed once they fire).
pub fn fault_records(faults: &[PlannedFault]) -> Vec<FaultRecord> {
    (faults.iter())
        .filter_map(|fault| match fault.start {
            FaultStart::At(at) => Some(fault.records(at)),
            FaultStart::On { .. } => None,
        })
        .flatten()
        .collect()
}
