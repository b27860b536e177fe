//! Where things start: streams on ingest servers and origins, edges behind shields,
//! viewers on edges, nodes in regions. Placement decisions use `control::placement` and
//! `control::balance`, the code a real control plane would run.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::control::balance::{Algorithm, Balancer};
use crate::control::placement::{Assignment, Placement};
use crate::scenario::workload::ViewerPlan;
use crate::scenario::{NodeTable, Scenario};
use crate::sim::{rng_for, NodeId, SimRng};

/// Places each of `streams` streams on the ingest servers with `control::placement`
/// (least loaded, a stream's primary and standby never on one server) and returns,
/// per stream, its servers in order of preference: primary, standby, then the others
/// from the least loaded. With one stream on two servers: `[[0, 1]]`.
pub fn place_streams(streams: u32, servers: u32) -> Vec<Vec<usize>> {
    let mut placement = Placement::new(servers as usize, u32::MAX, true);
    let pairs: Vec<Assignment> = (0..streams)
        .map(|_| {
            let stream = placement.add_stream();
            placement.assignment(stream)
        })
        .collect();
    let mut by_load: Vec<usize> = (0..servers as usize).collect();
    by_load.sort_by_key(|&server| (placement.roles(server), server));
    pairs
        .into_iter()
        .map(|pair| {
            let placed: Vec<usize> = [pair.primary, pair.standby].into_iter().flatten().collect();
            let rest = by_load.iter().copied().filter(|server| !placed.contains(server));
            placed.iter().copied().chain(rest).collect()
        })
        .collect()
}

/// Places each of `streams` streams on one of `origins` origins with
/// `control::placement` (least loaded, no standby); returns each stream's origin.
pub fn place_origins(streams: u32, origins: u32) -> Vec<usize> {
    let mut placement = Placement::new(origins as usize, u32::MAX, false);
    (0..streams)
        .map(|_| {
            let stream = placement.add_stream();
            placement
                .assignment(stream)
                .primary
                .expect("every origin has room at start")
        })
        .collect()
}

/// The members of each region, in region name order, by name.
pub(super) fn region_members(s: &Scenario, nodes: &NodeTable) -> Vec<Vec<String>> {
    if s.regions.is_empty() {
        return Vec::new();
    }
    let selectable = nodes.selectable();
    let universe = s.selectors(&selectable);
    (s.regions.keys())
        .map(|name| (universe.resolve::<SimRng>(&format!("region:{name}"), None)).unwrap_or_default())
        .collect()
}

/// Per region: its nodes' ids, then the cohorts of its edges (a cohort runs where its
/// viewers' primary edge does).
pub(super) fn regions(nodes: &NodeTable, region_members: &[Vec<String>]) -> Vec<Vec<NodeId>> {
    let id_of = nodes.ids_by_name();
    (region_members.iter())
        .map(|members| {
            let mut ids: Vec<NodeId> = members.iter().filter_map(|m| id_of.get(m.as_str()).copied()).collect();
            let names: HashSet<&str> = members.iter().map(String::as_str).collect();
            ids.extend(
                (nodes.edges.clone().zip(nodes.cohorts.clone()))
                    .filter(|&(edge, _)| names.contains(nodes.name(edge)))
                    .map(|(_, cohort)| cohort),
            );
            ids
        })
        .collect()
}

/// Which shield feeds each edge (indices among the shields; empty without shields):
/// round-robin, in id order, among the shields of the edge's region, or among all
/// shields when its region has none (or there are no regions).
pub(super) fn assign_shields(nodes: &NodeTable, region_members: &[Vec<String>]) -> Vec<usize> {
    let shields: Vec<NodeId> = nodes.shields.clone().collect();
    if shields.is_empty() {
        return Vec::new();
    }
    // Each node's first region, by name: looked up once per edge and shield.
    let mut first_region: HashMap<&str, usize> = HashMap::new();
    for (region, members) in region_members.iter().enumerate() {
        for member in members {
            first_region.entry(member.as_str()).or_insert(region);
        }
    }
    let region_of = |id: NodeId| first_region.get(nodes.name(id)).copied();
    let mut turns: BTreeMap<Option<usize>, usize> = BTreeMap::new();
    (nodes.edges.clone())
        .map(|edge| {
            let region = region_of(edge);
            let local: Vec<usize> = (0..shields.len())
                .filter(|&k| region.is_some() && region_of(shields[k]) == region)
                .collect();
            let (pool, key) = if local.is_empty() {
                ((0..shields.len()).collect(), None)
            } else {
                (local, region)
            };
            let turn = turns.entry(key).or_default();
            let chosen = pool[*turn % pool.len()];
            *turn += 1;
            chosen
        })
        .collect()
}

/// Each edge's viewers in id order, placed by the software balancer: in viewer order
/// when everyone watches from the start, else by replaying the planned joins and
/// departures in time order.
pub(super) fn place_viewers(
    s: &Scenario,
    nodes: &NodeTable,
    region_members: &[Vec<String>],
    plan: Option<&[ViewerPlan]>,
    algorithm: Algorithm,
    weights: &[u64],
    seed: u64,
) -> Vec<Vec<u32>> {
    let edges = nodes.edges.len();
    match plan {
        None => {
            let mut balancer = Balancer::weighted(algorithm, weights.to_vec());
            let mut rng = rng_for(seed, "balancer");
            let mut members: Vec<Vec<u32>> = vec![Vec::new(); edges];
            for viewer in 0..s.viewers.count {
                let edge = balancer
                    .pick(u64::from(viewer), &mut rng)
                    .expect("all edges start healthy");
                members[edge].push(viewer);
            }
            members
        }
        Some(plan) => place_planned_viewers(s, nodes, region_members, plan, algorithm, weights, seed),
    }
}

/// Places planned viewers on edges with the software balancer, replaying joins and
/// departures in time order (a departure frees its edge before a join at the same
/// instant) so that loads are those of the moment; a viewer with a region is placed
/// among its region's edges. Returns each edge's viewers in id order.
fn place_planned_viewers(
    s: &Scenario,
    nodes: &NodeTable,
    region_members: &[Vec<String>],
    plan: &[ViewerPlan],
    algorithm: Algorithm,
    weights: &[u64],
    seed: u64,
) -> Vec<Vec<u32>> {
    let edges = nodes.edges.len();
    // The edges each balancer chooses among: one per region, or one over every edge.
    let pools: Vec<Vec<usize>> = if s.viewers.regions.is_empty() {
        vec![(0..edges).collect()]
    } else {
        (region_members.iter())
            .map(|members| {
                let members: HashSet<&str> = members.iter().map(String::as_str).collect();
                (nodes.edges.clone().enumerate())
                    .filter(|&(_, edge)| members.contains(nodes.name(edge)))
                    .map(|(k, _)| k)
                    .collect()
            })
            .collect()
    };
    let mut balancers: Vec<Balancer> = (pools.iter())
        .map(|pool| Balancer::weighted(algorithm, pool.iter().map(|&e| weights[e]).collect()))
        .collect();
    let mut rng = rng_for(seed, "balancer");
    let mut events: Vec<(crate::time::SimTime, bool, u32)> = Vec::with_capacity(plan.len() * 2);
    for (viewer, p) in plan.iter().enumerate() {
        events.push((p.join, true, viewer as u32));
        if let Some(leave) = p.leave {
            events.push((leave, false, viewer as u32));
        }
    }
    events.sort_unstable();
    let mut placed: Vec<Option<(usize, usize)>> = vec![None; plan.len()];
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); edges];
    for (_, joins, viewer) in events {
        let pool = plan[viewer as usize].region.unwrap_or(0);
        if joins {
            let local = balancers[pool]
                .pick(u64::from(viewer), &mut rng)
                .expect("every pool has an edge (validated)");
            placed[viewer as usize] = Some((pool, local));
            members[pools[pool][local]].push(viewer);
        } else if let Some((pool, local)) = placed[viewer as usize] {
            balancers[pool].release(local);
        }
    }
    for list in &mut members {
        list.sort_unstable();
    }
    members
}
