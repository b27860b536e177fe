//! The faults a run injects: the scenario's `[[fault]]` entries with their targets
//! resolved (selectors, seeded draws), and the faults `[random_faults]` draws from the
//! seed. Pure: the caller hands in a seeded generator per named stream.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::select::{Universe, ROLES};
use super::settings::Distribution;
use super::{Dur, Fault, FaultKind, Scenario};
use crate::time::SimDuration;

/// Seeded chaos: faults drawn over a window, at most `max_concurrent` at once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomFaults {
    /// The window faults start in (default: the whole run).
    #[serde(default)]
    pub from: Option<Dur>,
    #[serde(default)]
    pub until: Option<Dur>,
    /// Random faults in force at once; an arrival beyond it is skipped.
    #[serde(default = "one")]
    pub max_concurrent: u32,
    /// Nodes of one role down at once (the blast radius); 0: no limit.
    #[serde(default = "one")]
    pub blast_radius: u32,
    /// Selectors of nodes never picked.
    #[serde(default)]
    pub protected: Vec<String>,
    /// Mean time between faults of the kinds that give a `weight` (they share one
    /// arrival process and a weight picks the kind).
    #[serde(default)]
    pub mtbf: Option<Dur>,
    #[serde(default, rename = "kind")]
    pub kinds: Vec<RandomKind>,
}

fn one() -> u32 {
    1
}

/// One kind of random fault: where, how often, how long, and its settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomKind {
    pub kind: String,
    /// Candidates (a selector); default: every node.
    #[serde(default)]
    pub target: Option<String>,
    /// Share of `random_faults.mtbf`'s arrivals, or
    #[serde(default)]
    pub weight: Option<f64>,
    /// this kind's own mean time between faults.
    #[serde(default)]
    pub mtbf: Option<Dur>,
    /// Mean duration of a fault (mean time to repair).
    pub mttr: Dur,
    /// Distribution of the time between faults: `exponential` (default), `fixed`,
    /// `uniform` (on [0, 2 × mtbf]).
    #[serde(default = "exponential")]
    pub interval_distribution: String,
    /// Distribution of durations, as above around `mttr`.
    #[serde(default = "exponential")]
    pub duration_distribution: String,
    #[serde(default)]
    pub capacity_mbps: Option<f64>,
    #[serde(default)]
    pub capacity_streams: Option<u32>,
    #[serde(default)]
    pub latency: Option<Dur>,
    #[serde(default)]
    pub jitter: Option<Dur>,
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub loss_burst: Option<Dur>,
    #[serde(default)]
    pub bandwidth_mbps: Option<f64>,
    #[serde(default)]
    pub delay: Option<Dur>,
    #[serde(default)]
    pub drift: Option<f64>,
}

fn exponential() -> String {
    "exponential".into()
}

impl RandomKind {
    /// The fault this kind injects at `at` on `target` for `duration`.
    pub fn fault(&self, id: String, at: SimDuration, target: String, duration: SimDuration) -> Fault {
        Fault {
            id: Some(id),
            at: Dur(at),
            kind: self.kind.clone(),
            target,
            duration: Some(Dur(duration)),
            capacity_mbps: self.capacity_mbps,
            capacity_streams: self.capacity_streams,
            latency: self.latency,
            jitter: self.jitter,
            loss: self.loss,
            loss_burst: self.loss_burst,
            bandwidth_mbps: self.bandwidth_mbps,
            delay: self.delay,
            drift: self.drift,
            ..Fault::default()
        }
    }
}

/// A draw from the distribution named `distribution` with mean `mean` (at least
/// 1 ms). Validation admits only [`Distribution::NAMES`]; any other name draws as
/// the default, exponential.
fn draw<R: Rng>(rng: &mut R, distribution: &str, mean: SimDuration) -> SimDuration {
    let factor = match Distribution::by_name(distribution) {
        Some(Distribution::Fixed) => 1.0,
        Some(Distribution::Uniform) => 2.0 * rng.gen::<f64>(),
        Some(Distribution::Exponential) | None => -libm::log(1.0 - rng.gen::<f64>()),
    };
    mean.mul_f64(factor).max(SimDuration::from_millis(1))
}

/// A fault as the run injects it: its id, its settings, and the nodes it hits.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcreteFault {
    pub id: String,
    /// Kind, timing and settings; `target` is the selector as written.
    pub fault: Fault,
    pub targets: Vec<String>,
    /// `net.partition`'s other side (empty: every other node).
    pub other: Vec<String>,
}

/// The role of a node, by its name.
fn role_of(node: &str) -> &'static str {
    (ROLES.iter())
        .find(|(_, prefixes)| prefixes.iter().any(|p| node.starts_with(p)))
        .map_or("other", |(role, _)| role)
}

/// Every fault the run of `s` injects: the scenario's in file order, then the random
/// ones in order of onset. `rng_for` gives the generator of a named
/// seed stream. The scenario was validated, so every selector resolves.
pub fn concrete_faults<R: Rng>(s: &Scenario, mut rng_for: impl FnMut(&str) -> R) -> Vec<ConcreteFault> {
    let nodes = super::NodeTable::of(s).selectable();
    let universe = s.selectors(&nodes);
    let mut out: Vec<ConcreteFault> = Vec::new();
    for (i, fault) in s.faults.iter().enumerate() {
        let id = s.fault_id(i);
        let mut rng = rng_for(&format!("fault-targets/{id}"));
        let targets = universe.resolve(&fault.target, Some(&mut rng)).unwrap_or_default();
        let other = (fault.other.as_deref())
            .map(|sel| universe.resolve(sel, Some(&mut rng)).unwrap_or_default())
            .unwrap_or_default();
        out.push(ConcreteFault {
            id,
            fault: fault.clone(),
            targets,
            other,
        });
    }
    if let Some(random) = &s.random_faults {
        out.extend(random_faults(s, random, &universe, &mut rng_for("random-faults")));
    }
    out
}

fn random_faults<R: Rng>(s: &Scenario, r: &RandomFaults, universe: &Universe<'_>, rng: &mut R) -> Vec<ConcreteFault> {
    let from = r.from.map_or(SimDuration::ZERO, |d| d.0);
    let until = r.until.map_or(s.scenario.duration.0, |d| d.0);
    // Arrivals: each kind with its own mtbf, and one shared process for the weighted.
    let mut arrivals: Vec<(SimDuration, usize)> = Vec::new();
    for (k, kind) in r.kinds.iter().enumerate() {
        if let Some(mtbf) = kind.mtbf {
            let mut t = from;
            loop {
                t += draw(rng, &kind.interval_distribution, mtbf.0);
                if t >= until {
                    break;
                }
                arrivals.push((t, k));
            }
        }
    }
    let weighted: Vec<(usize, f64)> = (r.kinds.iter().enumerate())
        .filter_map(|(k, kind)| kind.weight.map(|w| (k, w)))
        .collect();
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    if let (Some(mtbf), true) = (r.mtbf, total > 0.0) {
        let mut t = from;
        loop {
            t += draw(rng, "exponential", mtbf.0);
            if t >= until {
                break;
            }
            let mut pick = rng.gen::<f64>() * total;
            let k = (weighted.iter())
                .find(|(_, w)| {
                    pick -= w;
                    pick < 0.0
                })
                .map_or(weighted[weighted.len() - 1].0, |&(k, _)| k);
            arrivals.push((t, k));
        }
    }
    arrivals.sort();
    let protected: Vec<String> = (r.protected.iter())
        .flat_map(|sel| universe.resolve::<R>(sel, None).unwrap_or_default())
        .collect();
    let mut active: Vec<(SimDuration, Vec<String>)> = Vec::new();
    let mut out = Vec::new();
    for (at, k) in arrivals {
        let kind = &r.kinds[k];
        active.retain(|(end, _)| *end > at);
        if active.len() >= r.max_concurrent as usize {
            continue;
        }
        let down = |n: &String| active.iter().any(|(_, nodes)| nodes.contains(n));
        let per_role = |role: &str| {
            (active.iter().flat_map(|(_, nodes)| nodes))
                .filter(|n| role_of(n) == role)
                .count()
        };
        // A region outage draws a region (every node of it, none already down or
        // protected); other kinds draw one node within the blast radius.
        let (target, targets) = if FaultKind::by_name(&kind.kind) == Some(FaultKind::RegionOutage) {
            let regions: Vec<(&String, Vec<String>)> = (universe.regions.keys())
                .filter(|name| kind.target.as_deref().is_none_or(|t| t == format!("region:{name}")))
                .map(|name| {
                    let nodes = universe
                        .resolve::<R>(&format!("region:{name}"), None)
                        .unwrap_or_default();
                    (name, nodes)
                })
                .filter(|(_, nodes)| !nodes.is_empty() && !nodes.iter().any(|n| protected.contains(n) || down(n)))
                .collect();
            if regions.is_empty() {
                continue;
            }
            let (name, nodes) = regions[rng.gen_range(0..regions.len())].clone();
            (format!("region:{name}"), nodes)
        } else {
            let pool = match &kind.target {
                Some(selector) => universe.resolve::<R>(selector, None).unwrap_or_default(),
                None => universe.nodes.to_vec(),
            };
            let candidates: Vec<String> = (pool.into_iter())
                .filter(|n| !protected.contains(n) && !down(n))
                .filter(|n| r.blast_radius == 0 || per_role(role_of(n)) < r.blast_radius as usize)
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let node = candidates[rng.gen_range(0..candidates.len())].clone();
            (node.clone(), vec![node])
        };
        let duration = draw(rng, &kind.duration_distribution, kind.mttr.0);
        active.push((at + duration, targets.clone()));
        let id = format!("random-{}", out.len() + 1);
        out.push(ConcreteFault {
            id: id.clone(),
            fault: kind.fault(id, at, target, duration),
            targets,
            other: Vec::new(),
        });
    }
    out
}

/// Groups of nodes faults can name as `group:NAME`.
pub type Groups = BTreeMap<String, Vec<String>>;
