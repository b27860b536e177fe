//! The world plan: a validated scenario turned into typed values, between the raw
//! scenario and the actors. It holds the node table, the enumerated settings parsed
//! once, where each stream is packaged and published, which shield feeds each edge,
//! which viewers start on which edge, the alert rules and every fault with its targets
//! as node ids. `actors::world` spawns from it; the recorder lists its faults.
//!
//! Everything here is a pure function of the scenario and the seed.

pub mod faults;
mod placement;

use crate::control::alert::{Comparison, MonitorMetric, Rule};
use crate::control::balance::Algorithm;
use crate::metrics::{FaultRecord, StreamShape};
use crate::scenario::settings::{AlertOp, Settings, UnknownSetting};
use crate::scenario::workload::{self, ViewerPlan};
use crate::scenario::{NodeTable, Scenario};
use crate::sim::{rng_for, NodeId};
use crate::time::{SimDuration, SimTime};

pub use faults::{ContentFault, Degrade, FaultAction, FaultStart, Impairment, NodeFault, PlannedFault};
pub use placement::{place_origins, place_streams};

/// A scenario that cannot be planned: only one that skipped validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Setting(#[from] UnknownSetting),
    #[error("unknown fault kind `{0}`")]
    UnknownFaultKind(String),
    #[error("a {fault} fault needs `{key}`")]
    MissingSetting { fault: &'static str, key: &'static str },
    #[error("unknown {what} `{name}`")]
    UnknownName { what: &'static str, name: String },
}

/// Everything the world is built from.
#[derive(Clone, Debug)]
pub struct WorldPlan {
    pub settings: Settings,
    pub nodes: NodeTable,
    /// Per stream: its ingest servers by preference (primary, standby, then the others
    /// from the least loaded), as indices among the ingest servers.
    pub preferences: Vec<Vec<usize>>,
    /// Per stream: the origin it is first published by (an index among the origins).
    pub origin_of: Vec<usize>,
    /// Per edge: the shield that feeds it (an index among the shields); empty without.
    pub shield_of: Vec<usize>,
    /// The software balancer's algorithm and per-edge weights.
    pub algorithm: Algorithm,
    pub weights: Vec<u64>,
    /// Per edge: the viewers whose primary edge it is, in id order.
    pub members: Vec<Vec<u32>>,
    /// Each viewer's join and departure, when the workload plans them (else joins are
    /// drawn uniformly by each cohort).
    pub viewer_plan: Option<Vec<ViewerPlan>>,
    /// Per region, in name order: the nodes in it (a cohort is where its edge is).
    pub regions: Vec<Vec<NodeId>>,
    /// Each `[[alert]]`'s rule and the monitor metric it watches.
    pub alerts: Vec<(Rule, MonitorMetric)>,
    pub faults: Vec<PlannedFault>,
    pub stream_shape: StreamShape,
}

impl WorldPlan {
    /// The plan of the run of `s` with `seed`.
    pub fn of(s: &Scenario, seed: u64) -> Result<WorldPlan, PlanError> {
        let settings = Settings::of(s)?;
        let nodes = NodeTable::of(s);
        let algorithm =
            Algorithm::by_name(&s.cdn.algorithm, s.cdn.hash_balance_factor).ok_or_else(|| PlanError::UnknownName {
                what: "cdn.algorithm",
                name: s.cdn.algorithm.clone(),
            })?;
        let weights = if s.cdn.weights.is_empty() {
            vec![1; s.cdn.edges as usize]
        } else {
            s.cdn.weights.clone()
        };
        let viewer_plan = workload::is_planned(s).then(|| workload::plan_viewers(s, |stream| rng_for(seed, stream)));
        // Resolved once: shields, viewers and the network are placed by the same regions.
        let region_members = placement::region_members(s, &nodes);
        let members = placement::place_viewers(
            s,
            &nodes,
            &region_members,
            viewer_plan.as_deref(),
            algorithm,
            &weights,
            seed,
        );
        Ok(WorldPlan {
            preferences: place_streams(s.encoders.count, s.ingest.servers),
            origin_of: place_origins(s.encoders.count, s.cdn.origins),
            shield_of: placement::assign_shields(&nodes, &region_members),
            regions: placement::regions(&nodes, &region_members),
            alerts: alerts(s)?,
            faults: faults::plan_faults(s, seed, &nodes)?,
            stream_shape: stream_shape(s),
            settings,
            nodes,
            algorithm,
            weights,
            members,
            viewer_plan,
        })
    }

    /// The faults the recorder lists before the run starts (triggered ones are added
    /// when they fire).
    pub fn fault_records(&self) -> Vec<FaultRecord> {
        faults::fault_records(&self.faults)
    }
}

/// Each `[[alert]]`'s rule and metric.
fn alerts(s: &Scenario) -> Result<Vec<(Rule, MonitorMetric)>, PlanError> {
    (s.alerts.iter())
        .map(|a| {
            let unknown = |what: &'static str, name: &str| PlanError::UnknownName {
                what,
                name: name.to_string(),
            };
            let metric = MonitorMetric::by_name(&a.metric).ok_or_else(|| unknown("alert metric", &a.metric))?;
            let comparison = match AlertOp::by_name(&a.op).ok_or_else(|| unknown("alert op", &a.op))? {
                AlertOp::Lt => Comparison::Below,
                AlertOp::Gt => Comparison::Above,
            };
            let rule = Rule {
                name: a.name.clone(),
                comparison,
                threshold: a.threshold,
                hold: a.hold.0,
                clear_hold: a.clear_for.0,
            };
            Ok((rule, metric))
        })
        .collect()
}

/// Frames in `span` at `fps` (validated to be whole).
pub fn frames_in(span: SimDuration, fps: u32) -> u64 {
    span.as_nanos() * u64::from(fps) / 1_000_000_000
}

/// Stream facts the recorder needs, from the scenario.
pub fn stream_shape(s: &Scenario) -> StreamShape {
    let link = &s.network.ingest_origin;
    let segment_bits = s.encoders.bitrate_kbps as f64 * 1000.0 * s.cdn.segment.0.as_secs_f64();
    let serialisation = if link.bandwidth_mbps > 0.0 {
        SimDuration::from_nanos((segment_bits / (link.bandwidth_mbps * 1e6) * 1e9).ceil() as u64)
    } else {
        SimDuration::ZERO
    };
    StreamShape {
        fps: s.encoders.fps,
        frames_per_segment: frames_in(s.cdn.segment.0, s.encoders.fps),
        segment: s.cdn.segment.0,
        end: SimTime::ZERO + s.scenario.duration.0,
        viewers: s.viewers.count as usize,
        streams: s.encoders.count.max(1) as usize,
        // Jitter is capped at 10× its mean by the network model; allow one segment of queueing.
        max_ingest_to_origin: link.latency.0 + link.jitter.0 * 10 + serialisation * 2,
    }
}
