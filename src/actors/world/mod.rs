//! The world builder: spawns the nodes of a [`WorldPlan`] on a kernel in id order,
//! wires them (links, addresses, regions) and schedules the plan's faults. Every
//! decision (ids, placements, settings, fault targets) was made by the plan; this
//! module only turns it into actors.

mod faults;
mod spawn;

use rand::Rng;

use crate::plan::WorldPlan;
use crate::scenario::{LinkCfg, Scenario};
use crate::sim::{rng_for, Kernel, LinkSpec, KERNEL};
use crate::time::{SimDuration, SimTime};

use super::{class, Msg, SharedRecorder};

/// The seeded stream the manager's probe phases are drawn from (one draw per ingest
/// server, in order); public so tests can compute probe instants exactly.
pub const HEALTH_PHASE_STREAM: &str = "manager-1/health-phase";

fn link(cfg: &LinkCfg) -> LinkSpec {
    LinkSpec {
        latency: cfg.latency.0,
        jitter: cfg.jitter.0,
        loss: cfg.loss,
        bandwidth_bps: (cfg.bandwidth_mbps * 1e6).round() as u64,
    }
}

/// Each of `targets` probe phases within `interval`, drawn in order from the seed
/// stream `stream`, so that faults at round times do not land on probe instants.
fn probe_phases(seed: u64, stream: &str, targets: usize, interval: SimDuration) -> Vec<SimDuration> {
    let mut rng = rng_for(seed, stream);
    (0..targets)
        .map(|_| SimDuration::from_nanos(rng.gen_range(0..interval.as_nanos())))
        .collect()
}

/// The network every run of `s` uses: link classes and their settings.
pub fn network(s: &Scenario, seed: u64) -> crate::sim::Network {
    let n = &s.network;
    let mut net = crate::sim::Network::new(seed, link(&n.control));
    net.set_class_link(class::ENCODER, class::INGEST, link(&n.encoder_ingest), true);
    net.set_class_link(class::MANAGER, class::INGEST, link(&n.control), true);
    net.set_class_link(class::INGEST, class::ORIGIN, link(&n.ingest_origin), true);
    net.set_class_link(class::ORIGIN, class::EDGE, link(&n.origin_edge), true);
    // A shield is one more hop of the same kind.
    net.set_class_link(class::ORIGIN, class::SHIELD, link(&n.origin_edge), true);
    net.set_class_link(class::SHIELD, class::EDGE, link(&n.origin_edge), true);
    net.set_class_link(class::EDGE, class::VIEWERS, link(&n.edge_viewer), true);
    // Viewers' resolvers and load balancers are as far away as their edges.
    net.set_class_link(class::VIEWERS, class::DNS, link(&n.edge_viewer), true);
    net.set_class_link(class::VIEWERS, class::LB, link(&n.edge_viewer), true);
    net
}

/// Spawns every node of `plan` (made from `s` and `seed`) on `kernel` and schedules
/// its faults. The plan is used up: each cohort takes its viewers from it, and
/// nothing of it outlives the build (a large audience would hold them twice).
pub fn build(kernel: &mut Kernel<Msg>, s: &Scenario, mut plan: WorldPlan, seed: u64, recorder: &SharedRecorder) {
    assert_eq!(kernel.next_id(), KERNEL + 1, "a world is built on a fresh kernel");
    recorder.borrow_mut().measure_from = SimTime::ZERO + s.scenario.warmup.0;
    let members = std::mem::take(&mut plan.members);
    let plan = &plan;
    let mut world = spawn::Spawner::new(kernel, s, plan, seed, recorder);
    world.encoders();
    world.ingest_servers();
    world.first_manager();
    world.origins();
    world.shields_and_edges();
    let edge_choice = world.edge_choice();
    world.cohorts(&edge_choice, members);
    world.dns_failover();
    world.monitor();
    world.manager_pair();
    world.cdn_dns();
    world.load_balancers(&edge_choice);
    place_in_regions(kernel, s, plan);
    let lookahead = network(s, 0).min_latency();
    faults::schedule_faults(kernel, &plan.faults, lookahead, recorder);
}

/// Tells the network where each node runs (`[regions]`) and how far apart regions are.
fn place_in_regions(kernel: &mut Kernel<Msg>, s: &Scenario, plan: &WorldPlan) {
    if plan.regions.is_empty() {
        return;
    }
    let net = kernel.network_mut();
    let gap = &s.network.inter_region;
    net.set_inter_region(gap.latency.0, gap.jitter.0);
    for (region, ids) in plan.regions.iter().enumerate() {
        for &id in ids {
            net.set_region(id, region as u16);
        }
    }
}
