//! The world builder: turns a validated scenario into nodes, links, the ingest address
//! and the fault schedule on a kernel. Node ids follow a fixed order (encoders, ingest
//! servers, manager, origin, edges, viewer cohorts), so names and ids are stable.

use std::collections::{HashMap, HashSet};

use rand::Rng;

use crate::control::alert::{AlertEngine, Comparison, Rule};
use crate::control::balance::{Algorithm, Balancer};
use crate::control::content::ContentConfig;
use crate::control::content::PlaylistCheck;
use crate::control::dns::{FailoverRecord, ResolverCache, RoundRobinRecord};
use crate::control::failover::{Failback, InputSelector};
use crate::control::lease::{LeaseConfig, LeaseStore};
use crate::control::passive::{NginxPassive, OutlierConfig, OutlierDetector, Passive};
use crate::control::placement::{Assignment, Placement};
use crate::control::player::PlayerConfig;
use crate::control::reconnect::Backoff;
use crate::control::vrrp::Role;
use crate::metrics::{FaultRecord, StreamShape};
use crate::scenario::chaos::{concrete_faults, ConcreteFault};
use crate::scenario::select::is_node_id;
use crate::scenario::workload;
use crate::scenario::{Fault, LinkCfg, Scenario};
use crate::sim::{rng_for, Degradation, Dest, Kernel, KernelAction, LinkSpec, NodeId, Partition, Places, Scheduled};
use crate::time::{SimDuration, SimTime};

use super::class;
use super::cohort::{Cohort, CohortConfig, EdgeChoice, Joins};
use super::dns::{Dns, Record};
use super::edge::{Edge, EdgeConfig, ShieldFeed};
use super::encoder::{Encoder, EncoderConfig, UplinkTarget};
use super::ingest::{Ingest, IngestConfig};
use super::lb::{LbConfig, LoadBalancer};
use super::lease::LeaseStoreNode;
use super::manager::{Manager, ManagerConfig};
use super::monitor::{Monitor, MonitorMetric, ScrapeTargets};
use super::origin::{Inputs, Origin, OriginMedia, OriginStream};
use super::shield::Shield;
use super::{content, impair, Msg, SharedRecorder};

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
fn probe_phases(seed: u64, stream: &str, targets: u32, interval: SimDuration) -> Vec<SimDuration> {
    let mut rng = rng_for(seed, stream);
    (0..targets)
        .map(|_| SimDuration::from_nanos(rng.gen_range(0..interval.as_nanos())))
        .collect()
}

/// Frames in `span` at `fps` (validated to be whole).
fn frames_in(span: SimDuration, fps: u32) -> u64 {
    span.as_nanos() * u64::from(fps) / 1_000_000_000
}

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

/// Places planned viewers on edges with the software balancer, replaying joins and
/// departures in time order (a departure frees its edge before a join at the same
/// instant) so that loads are those of the moment; a viewer with a region is placed
/// among its region's edges. Returns each edge's viewers in id order.
fn place_planned_viewers(
    s: &Scenario,
    plan: &[workload::ViewerPlan],
    algorithm: Algorithm,
    weights: &[u64],
    names: &[String],
    edge_ids: &[NodeId],
    seed: u64,
) -> Vec<Vec<u32>> {
    let edge_names: Vec<&String> = edge_ids.iter().map(|&id| &names[id as usize]).collect();
    // The edges each balancer chooses among: one per region, or one over every edge.
    let pools: Vec<Vec<usize>> = if s.viewers.regions.is_empty() {
        vec![(0..edge_ids.len()).collect()]
    } else {
        let nodes = s.node_names();
        let universe = s.selectors(&nodes);
        (s.regions.keys())
            .map(|region| {
                let members =
                    (universe.resolve::<crate::sim::SimRng>(&format!("region:{region}"), None)).unwrap_or_default();
                let members: HashSet<&str> = members.iter().map(String::as_str).collect();
                (0..edge_ids.len())
                    .filter(|&edge| members.contains(edge_names[edge].as_str()))
                    .collect()
            })
            .collect()
    };
    let mut balancers: Vec<Balancer> = (pools.iter())
        .map(|pool| Balancer::weighted(algorithm, pool.iter().map(|&e| weights[e]).collect()))
        .collect();
    let mut rng = rng_for(seed, "balancer");
    let mut events: Vec<(SimTime, bool, u32)> = Vec::with_capacity(plan.len() * 2);
    for (viewer, p) in plan.iter().enumerate() {
        events.push((p.join, true, viewer as u32));
        if let Some(leave) = p.leave {
            events.push((leave, false, viewer as u32));
        }
    }
    events.sort_unstable();
    let mut placed: Vec<Option<(usize, usize)>> = vec![None; plan.len()];
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); edge_ids.len()];
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

/// Which shield feeds each edge (indices into `shield_ids`; empty without shields):
/// round-robin, in id order, among the shields of the edge's region, or among all
/// shields when its region has none (or there are no regions).
fn assign_shields(s: &Scenario, names: &[String], shield_ids: &[NodeId], edge_ids: &[NodeId]) -> Vec<usize> {
    if shield_ids.is_empty() {
        return Vec::new();
    }
    let nodes = s.node_names();
    let universe = s.selectors(&nodes);
    let region_members: Vec<Vec<String>> = (s.regions.keys())
        .map(|name| (universe.resolve::<crate::sim::SimRng>(&format!("region:{name}"), None)).unwrap_or_default())
        .collect();
    // Each node's first region, by name: looked up once per edge and shield.
    let mut first_region: HashMap<&str, usize> = HashMap::new();
    for (region, members) in region_members.iter().enumerate() {
        for member in members {
            first_region.entry(member.as_str()).or_insert(region);
        }
    }
    let region_of = |id: NodeId| first_region.get(names[id as usize].as_str()).copied();
    let mut turns: std::collections::BTreeMap<Option<usize>, usize> = Default::default();
    (edge_ids.iter())
        .map(|&edge| {
            let region = region_of(edge);
            let local: Vec<usize> = (0..shield_ids.len())
                .filter(|&k| region.is_some() && region_of(shield_ids[k]) == region)
                .collect();
            let (pool, key) = if local.is_empty() {
                ((0..shield_ids.len()).collect(), None)
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

/// Node ids by name (ids index `names`; a name listed twice keeps its first id, as a
/// search from the front finds it), for looking up many names at once.
fn ids_by_name(names: &[String]) -> HashMap<&str, NodeId> {
    let mut id_of = HashMap::with_capacity(names.len());
    for (id, name) in names.iter().enumerate() {
        id_of.entry(name.as_str()).or_insert(id as NodeId);
    }
    id_of
}

/// Tells the network where each node runs (`[regions]`; a cohort runs where its
/// viewers' primary edge does) and how far apart regions are.
fn place_in_regions(
    kernel: &mut Kernel<Msg>,
    s: &Scenario,
    names: &[String],
    edge_ids: &[NodeId],
    cohort_ids: &[NodeId],
) {
    if s.regions.is_empty() {
        return;
    }
    let nodes = s.node_names();
    let universe = s.selectors(&nodes);
    let net = kernel.network_mut();
    let gap = &s.network.inter_region;
    net.set_inter_region(gap.latency.0, gap.jitter.0);
    // Regions may list thousands of edges.
    let id_of = ids_by_name(names);
    for (region, name) in s.regions.keys().enumerate() {
        let members = (universe.resolve::<crate::sim::SimRng>(&format!("region:{name}"), None)).unwrap_or_default();
        for member in &members {
            if let Some(&id) = id_of.get(member.as_str()) {
                net.set_region(id, region as u16);
            }
        }
        let members: HashSet<&str> = members.iter().map(String::as_str).collect();
        for (edge, &cohort) in edge_ids.iter().zip(cohort_ids) {
            if members.contains(names[*edge as usize].as_str()) {
                net.set_region(cohort, region as u16);
            }
        }
    }
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

/// The faults of the run, as the recorder lists them: one per fault and target. A
/// fault that names one node by its id keeps its id; one whose selector names nodes
/// (`role:edge`, `count:1:role:edge`) lists each as `ID/NODE`.
/// A triggered fault (`on`) is listed once it fires.
pub fn fault_records(s: &Scenario, seed: u64) -> Vec<FaultRecord> {
    (concrete_faults(s, |stream| rng_for(seed, stream)).iter())
        .filter(|concrete| concrete.fault.on.is_none())
        .flat_map(|concrete| records_of(concrete, SimTime::ZERO + concrete.fault.at.0))
        .collect()
}

/// The records of `concrete`, beginning at `onset`.
fn records_of(concrete: &ConcreteFault, onset: SimTime) -> Vec<FaultRecord> {
    let f = &concrete.fault;
    let plain = concrete.targets.len() == 1 && is_node_id(&f.target);
    (concrete.targets.iter())
        .map(|target| FaultRecord {
            id: if plain {
                concrete.id.clone()
            } else {
                format!("{}/{target}", concrete.id)
            },
            kind: f.kind.clone(),
            target: target.clone(),
            onset,
            end: f.duration.map(|d| onset + d.0),
        })
        .collect()
}

/// Where scheduled faults go: the kernel before the run, or a triggered fault's list
/// for the kernel's window hook during it.
trait FaultSink {
    fn action(&mut self, at: SimTime, action: KernelAction);
    fn message(&mut self, at: SimTime, node: NodeId, msg: Msg);
}

impl FaultSink for Kernel<Msg> {
    fn action(&mut self, at: SimTime, action: KernelAction) {
        self.schedule_action(at, action);
    }
    fn message(&mut self, at: SimTime, node: NodeId, msg: Msg) {
        self.schedule_message(at, node, msg);
    }
}

impl FaultSink for Vec<Scheduled<Msg>> {
    fn action(&mut self, at: SimTime, action: KernelAction) {
        self.push(Scheduled::Action(at, action));
    }
    fn message(&mut self, at: SimTime, node: NodeId, msg: Msg) {
        self.push(Scheduled::Message(at, node, msg));
    }
}

/// A fault waiting for its event.
struct Trigger {
    /// Index among the run's faults (names its network changes).
    n: usize,
    concrete: ConcreteFault,
    fired: bool,
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

/// Spawns every node of `s` on `kernel` and schedules its faults.
pub fn build(kernel: &mut Kernel<Msg>, s: &Scenario, seed: u64, recorder: &SharedRecorder) {
    recorder.borrow_mut().measure_from = SimTime::ZERO + s.scenario.warmup.0;
    let fps = s.encoders.fps;
    let frame_bytes = (s.encoders.bitrate_kbps * 1000 / 8 / u64::from(fps)).max(1);
    let servers = s.ingest.servers;
    let edges = s.cdn.edges;
    let streams = s.encoders.count;

    // Fixed id layout; asserted as nodes are spawned.
    let first_encoder_id: NodeId = kernel.next_id();
    let encoder_ids: Vec<NodeId> = (0..streams).map(|k| first_encoder_id + k).collect();
    let ingest_ids: Vec<NodeId> = (0..servers).map(|i| first_encoder_id + streams + i).collect();
    let manager_id = first_encoder_id + streams + servers;
    let origins = s.cdn.origins;
    let origin_ids: Vec<NodeId> = (0..origins).map(|i| manager_id + 1 + i).collect();
    let origin_id = origin_ids[origins as usize - 1];
    let shields = s.cdn.shields;
    let shield_ids: Vec<NodeId> = (0..shields).map(|i| origin_id + 1 + i).collect();
    let last_upstream_id = shield_ids.last().copied().unwrap_or(origin_id);
    let edge_ids: Vec<NodeId> = (0..edges).map(|i| last_upstream_id + 1 + i).collect();
    let cohort_ids: Vec<NodeId> = (0..edges).map(|i| last_upstream_id + 1 + edges + i).collect();

    let mut names = vec![String::from("kernel"); first_encoder_id as usize];
    names.extend((0..streams).map(|k| format!("encoder-{}", k + 1)));
    names.extend((0..servers).map(Scenario::ingest_name));
    names.push("manager-1".into());
    names.extend((0..origins).map(|i| format!("origin-{}", i + 1)));
    names.extend((0..shields).map(|i| format!("shield-{}", i + 1)));
    names.extend((0..edges).map(Scenario::edge_name));
    names.extend((0..edges).map(|i| format!("viewers-{}", i + 1)));

    let active_active = s.ingest.redundancy == "active-active";
    let round_robin_dns = s.cdn.balancing == "round-robin-dns";
    let dns_failover = s.ingest.redundancy == "dns";
    let dns_id = cohort_ids.last().map_or(last_upstream_id + 1, |&id| id + 1);
    let preferences = place_streams(streams, servers);
    let origin_of = place_origins(streams, origins);
    // Each stream's floating ingest address starts on its primary.
    let ingest_vips: Vec<u32> = (preferences.iter())
        .map(|servers| {
            kernel
                .network_mut()
                .add_vip(class::INGEST, Some(ingest_ids[servers[0]]))
        })
        .collect();

    let r = &s.encoders.reconnect;
    for (k, &encoder_id) in encoder_ids.iter().enumerate() {
        let name = &names[encoder_id as usize];
        // Active-passive pushes to the stream's floating address; active-active to both
        // of its servers; DNS failover to whatever the name resolves to.
        let uplinks: Vec<UplinkTarget> = if active_active {
            (preferences[k].iter().take(2))
                .map(|&server| UplinkTarget::Fixed(Dest::Node(ingest_ids[server])))
                .collect()
        } else if dns_failover {
            let mut resolver_rng = rng_for(seed, &format!("{name}/resolver"));
            let violator = resolver_rng.gen_bool(s.dns.violator_share.clamp(0.0, 1.0));
            vec![UplinkTarget::Resolve {
                dns: dns_id,
                cache: ResolverCache::new(violator.then_some(s.dns.stretched_ttl.0)),
                query_timeout: s.dns.query_timeout.0,
            }]
        } else {
            vec![UplinkTarget::Fixed(Dest::Vip(ingest_vips[k]))]
        };
        let encoder = Encoder::new(
            EncoderConfig {
                fps,
                chunk_frames: s.encoders.chunk_frames,
                frame_bytes,
                connect_timeout: s.encoders.connect_timeout.0,
                ack_timeout: s.encoders.ack_timeout.0,
                backoff: Backoff {
                    first_delay: r.first_delay.0,
                    multiplier: r.multiplier,
                    max_delay: r.max_delay.0,
                    max_attempts: r.max_attempts,
                },
                stream: k as u32,
            },
            uplinks,
            recorder.clone(),
        );
        assert_eq!(kernel.spawn(name, class::ENCODER, encoder), encoder_id);
    }

    // Nodes after the cohorts: dns-1 (DNS failover), monitor-1, then manager-2 and
    // lease-1 (a manager pair): appended so that every other node keeps its id.
    let monitor_id =
        cohort_ids.last().map_or(last_upstream_id + 1, |&id| id + 1) + u32::from(s.ingest.redundancy == "dns");
    let manager_pair = s.managers.count > 1;
    let (manager2_id, lease_id) = (monitor_id + 1, monitor_id + 2);
    let ingest_config = IngestConfig {
        gop_frames: frames_in(s.encoders.gop.0, fps),
        frames_per_segment: frames_in(s.cdn.segment.0, fps),
        frame_bytes,
        idle_timeout: s.ingest.idle_timeout.0,
        ack_every_frames: u64::from(fps),
        vips: ingest_vips.clone(),
        switch_delay: s.ingest.switch_delay.0,
        encoders: encoder_ids.clone(),
        pipelines: ingest_ids.iter().map(|&id| (id, names[id as usize].clone())).collect(),
        managers: vec![(manager_id, "manager-1".into()), (manager2_id, "manager-2".into())],
        content: ContentConfig {
            loss_after: s.ingest.input_loss.0,
            black_after: s.ingest.black_after.0,
            silence_after: s.ingest.silence_after.0,
        },
        capacity_streams: s.ingest.capacity,
        unlocked: s.ingest.output_locking == "none",
    };
    for (server, &id) in ingest_ids.iter().enumerate() {
        let name = names[id as usize].clone();
        let lanes = (preferences.iter().zip(&origin_of))
            .map(|(servers, &origin)| (servers[0] == server, origin_ids[origin]))
            .collect();
        let ingest = Ingest::new(ingest_config.clone(), name, lanes, recorder.clone());
        assert_eq!(kernel.spawn(&names[id as usize], class::INGEST, ingest), id);
    }

    let h = &s.ingest.health;
    let health_config = h.to_config();
    // Each target's checks start at a phase drawn from the seed: faults do not land on
    // probe instants by coincidence of round numbers (HAProxy also spreads its checks).
    // With several origins the manager also checks them (after the ingest servers) and
    // re-places the streams of one that fails.
    let checked_origins: &[NodeId] = if origins > 1 { &origin_ids } else { &[] };
    let targets: Vec<NodeId> = ingest_ids.iter().chain(checked_origins).copied().collect();
    let phases = probe_phases(seed, HEALTH_PHASE_STREAM, targets.len() as u32, h.interval.0);
    let failback = match s.ingest.failback.as_str() {
        "prefer-primary" => Failback::PreferPrimary {
            hold: s.ingest.failback_hold.0,
        },
        _ => Failback::None,
    };
    let lease_config = LeaseConfig {
        duration: s.managers.lease.0,
        renew_deadline: s.managers.renew_deadline.0,
        retry_period: s.managers.retry_period.0,
    };
    let manager_config = |index: u32, phases: Vec<SimDuration>| ManagerConfig {
        name: format!("manager-{}", index + 1),
        lease: manager_pair.then_some((
            lease_config,
            lease_id,
            SimTime::ZERO + SimDuration::from_nanos(lease_config.retry_period.as_nanos() / 2 * u64::from(index)),
        )),
        targets: targets.clone(),
        names: targets.iter().map(|&id| names[id as usize].clone()).collect(),
        health: health_config,
        phases,
        preferences: preferences.clone(),
        origins: (origins > 1).then(|| (servers as usize, origin_of.clone())),
    };
    let policy = (s.ingest.redundancy == "active-passive").then_some(failback);
    let manager_2 = manager_pair.then(|| {
        let phases = probe_phases(seed, "manager-2/health-phase", targets.len() as u32, h.interval.0);
        Manager::new(manager_config(1, phases), policy, recorder.clone())
    });
    let manager = Manager::new(manager_config(0, phases), policy, recorder.clone());
    assert_eq!(kernel.spawn("manager-1", class::MANAGER, manager), manager_id);

    // Every origin can take any stream (placement decides which it gets).
    for &id in &origin_ids {
        let origin_streams = (preferences.iter())
            .map(|servers| {
                OriginStream::new(if active_active {
                    Inputs::Selector {
                        selector: InputSelector::new(s.ingest.input_loss.0),
                        pipelines: servers.iter().take(2).map(|&server| ingest_ids[server]).collect(),
                    }
                } else {
                    Inputs::FirstCopy
                })
            })
            .collect();
        let name = &names[id as usize];
        let origin = Origin::new(
            name,
            if shields > 0 {
                shield_ids.clone()
            } else {
                edge_ids.clone()
            },
            names.clone(),
            OriginMedia {
                frame_bytes,
                frames_per_segment: frames_in(s.cdn.segment.0, fps),
                segment: s.cdn.segment.0,
            },
            origin_streams,
            recorder.clone(),
        );
        assert_eq!(kernel.spawn(name, class::ORIGIN, origin), id);
    }
    let edge_config = EdgeConfig {
        playlist_window: s.cdn.playlist_window as usize,
        fps,
        frame_bytes,
        capacity_bps: capacity_bps(s.cdn.edge_capacity_mbps),
        index: 0,
        serve_in_viewer_order: s.cdn.balancing == "hardware" && edges_may_run_short(s),
    };
    let shield_of = assign_shields(s, &names, &shield_ids, &edge_ids);
    for (k, &id) in shield_ids.iter().enumerate() {
        let fed: Vec<NodeId> = (edge_ids.iter().zip(&shield_of))
            .filter(|&(_, &shield)| shield == k)
            .map(|(&edge, _)| edge)
            .collect();
        let index = recorder.borrow_mut().register_load(&names[id as usize]);
        let shield = Shield::new(fed, frame_bytes, index, recorder.clone());
        assert_eq!(kernel.spawn(&names[id as usize], class::SHIELD, shield), id);
    }
    let fallback_after = s.cdn.shield_fallback_after.0;
    for (e, &id) in edge_ids.iter().enumerate() {
        let index = recorder.borrow_mut().register_load(&names[id as usize]);
        let mut edge = Edge::new(EdgeConfig { index, ..edge_config }, streams as usize, recorder.clone());
        if let Some(&k) = shield_of.get(e) {
            edge = edge.behind_shield(ShieldFeed {
                shield: shield_ids[k],
                origins: origin_ids.clone(),
                fallback_after: (!fallback_after.is_zero()).then_some(fallback_after),
                check_every: SimDuration::from_nanos(fallback_after.as_nanos() / 4),
                shield_name: names[shield_ids[k] as usize].clone(),
                edge_name: names[id as usize].clone(),
            });
        }
        assert_eq!(kernel.spawn(&names[id as usize], class::EDGE, edge), id);
    }

    recorder.borrow_mut().edge_names = edge_ids.iter().map(|&id| names[id as usize].clone()).collect();
    // Viewers are placed on edges by the software balancer as they are created.
    let algorithm = Algorithm::by_name(&s.cdn.algorithm, s.cdn.hash_balance_factor).unwrap_or(Algorithm::RoundRobin);
    let weights = if s.cdn.weights.is_empty() {
        vec![1; edges as usize]
    } else {
        s.cdn.weights.clone()
    };
    let plan = workload::is_planned(s).then(|| workload::plan_viewers(s, |stream| rng_for(seed, stream)));
    let members = match &plan {
        None => {
            // Everyone watches at once: place them in viewer order.
            let mut balancer = Balancer::weighted(algorithm, weights.clone());
            let mut balancer_rng = rng_for(seed, "balancer");
            let mut members: Vec<Vec<u32>> = vec![Vec::new(); edges as usize];
            for viewer in 0..s.viewers.count {
                let edge = balancer
                    .pick(u64::from(viewer), &mut balancer_rng)
                    .expect("all edges start healthy");
                members[edge].push(viewer);
            }
            members
        }
        Some(plan) => place_planned_viewers(s, plan, algorithm, &weights, &names, &edge_ids, seed),
    };
    let mut members = members;
    let mut slot_of_viewer = vec![0u32; s.viewers.count as usize];
    for cohort in &members {
        for (slot, &viewer) in cohort.iter().enumerate() {
            slot_of_viewer[viewer as usize] = slot as u32;
        }
    }
    let slot_of_viewer: std::rc::Rc<[u32]> = slot_of_viewer.into();
    let player = PlayerConfig::preset(&s.viewers.player).unwrap_or(PlayerConfig::HLS_JS);
    // Appended after every other node (cdn-dns last), so that it shifts no id.
    let cdn_dns_id = monitor_id + 1 + if manager_pair { 2 } else { 0 };
    // Load balancer devices take the same place (they never coexist with cdn-dns).
    let lb_ids: Vec<NodeId> = if s.cdn.balancing == "hardware" {
        (0..s.lb.devices).map(|i| cdn_dns_id + i).collect()
    } else {
        Vec::new()
    };
    let edge_choice = if round_robin_dns {
        EdgeChoice::Resolved {
            dns: cdn_dns_id,
            violator_share: s.dns.violator_share,
            stretched_ttl: s.dns.stretched_ttl.0,
        }
    } else if let Some(&master) = lb_ids.first() {
        EdgeChoice::Balanced {
            vip: kernel.network_mut().add_vip(class::LB, Some(master)),
        }
    } else {
        EdgeChoice::Assigned
    };
    let shared_edges: std::rc::Rc<[NodeId]> = edge_ids.as_slice().into();
    let shared_edge_names: std::rc::Rc<[String]> = edge_ids.iter().map(|&id| names[id as usize].clone()).collect();
    let edge_places = std::rc::Rc::new(Places::of(&edge_ids));
    for (i, &id) in cohort_ids.iter().enumerate() {
        let name = &names[id as usize];
        let cohort_viewers = std::mem::take(&mut members[i]);
        let joins = match &plan {
            None => Joins::Uniform {
                at: s.viewers.join_at.0,
                over: s.viewers.join_over.0,
            },
            Some(plan) => Joins::Planned(
                (cohort_viewers.iter())
                    .map(|&v| (plan[v as usize].join, plan[v as usize].leave))
                    .collect(),
            ),
        };
        let cohort = Cohort::new(
            CohortConfig {
                edges: shared_edges.clone(),
                edge_names: shared_edge_names.clone(),
                edge_places: edge_places.clone(),
                primary: i,
                routes: 1 + s.cdn.backup_edges as u8,
                viewers: cohort_viewers,
                slot_of_viewer: slot_of_viewer.clone(),
                streams,
                player,
                target_duration: s.cdn.segment.0,
                fps,
                frame_bytes,
                joins,
                measure_from: SimTime::ZERO + s.scenario.warmup.0,
                downlink_bps: (s.viewers.downlink_mbps * 1e6).round().max(1.0) as u64,
                edge_choice: edge_choice.clone(),
                join_step: s.viewers.join_step.0,
                squads: s.viewers.squads,
                retry_key: crate::sim::derive_key(seed, "viewers/retry"),
            },
            rng_for(seed, name),
            recorder.clone(),
        );
        assert_eq!(kernel.spawn(name, class::VIEWERS, cohort), id);
    }

    if dns_failover {
        names.push("dns-1".into());
        let dns_health = s.dns.health.to_config();
        let phases = probe_phases(seed, "dns-1/health-phase", servers, dns_health.interval);
        let dns = Dns::new(
            "dns-1",
            ingest_ids.clone(),
            ingest_ids.iter().map(|&id| names[id as usize].clone()).collect(),
            dns_health,
            phases,
            Record::Failover(
                (preferences.iter())
                    .map(|members| (FailoverRecord::new(members.len(), s.dns.ttl.0), members.clone()))
                    .collect(),
            ),
            recorder.clone(),
        );
        assert_eq!(kernel.spawn("dns-1", class::DNS, dns), dns_id);
    }

    names.push("monitor-1".into());
    let rules: Vec<Rule> = s
        .alerts
        .iter()
        .map(|a| Rule {
            name: a.name.clone(),
            comparison: if a.op == "lt" {
                Comparison::Below
            } else {
                Comparison::Above
            },
            threshold: a.threshold,
            hold: a.hold.0,
            clear_hold: a.clear_for.0,
        })
        .collect();
    let metrics: Vec<MonitorMetric> = s
        .alerts
        .iter()
        .map(|a| MonitorMetric::by_name(&a.metric).expect("validated"))
        .collect();
    // Every infrastructure node, those spawned after the monitor included.
    let cohort_places = Places::of(&cohort_ids);
    let mut nodes: Vec<(NodeId, String)> = (first_encoder_id..monitor_id)
        .filter(|&id| cohort_places.get(id).is_none())
        .map(|id| (id, names[id as usize].clone()))
        .collect();
    if manager_pair {
        nodes.extend([(manager2_id, "manager-2".into()), (lease_id, "lease-1".into())]);
    }
    if round_robin_dns {
        nodes.push((cdn_dns_id, "cdn-dns".into()));
    }
    nodes.extend(lb_ids.iter().enumerate().map(|(i, &id)| (id, format!("lb-{}", i + 1))));
    let monitor = Monitor::new(
        ScrapeTargets {
            origins: origin_ids.clone(),
            streams: streams as usize,
            cohorts: cohort_ids.clone(),
            ingests: ingest_ids.clone(),
            nodes,
        },
        s.monitor.scrape_interval.0,
        AlertEngine::new(rules, s.monitor.notify_delay.0),
        metrics,
        recorder.clone(),
    );
    assert_eq!(kernel.spawn("monitor-1", class::MONITOR, monitor), monitor_id);
    if let Some(manager_2) = manager_2 {
        names.push("manager-2".into());
        names.push("lease-1".into());
        assert_eq!(kernel.spawn("manager-2", class::MANAGER, manager_2), manager2_id);
        let store = LeaseStoreNode::new(vec![manager_id, manager2_id], LeaseStore::new(lease_config.duration));
        assert_eq!(kernel.spawn("lease-1", class::LEASE, store), lease_id);
    }

    if round_robin_dns {
        names.push("cdn-dns".into());
        let health = s.dns.health.to_config();
        let phases = probe_phases(seed, "cdn-dns/health-phase", edges, health.interval);
        let dns = Dns::new(
            "cdn-dns",
            edge_ids.clone(),
            edge_ids.iter().map(|&id| names[id as usize].clone()).collect(),
            health,
            phases,
            Record::RoundRobin(RoundRobinRecord::new(edges as usize, s.dns.ttl.0, s.dns.health_checked)),
            recorder.clone(),
        );
        assert_eq!(kernel.spawn("cdn-dns", class::DNS, dns), cdn_dns_id);
    }

    if let EdgeChoice::Balanced { vip } = edge_choice {
        let health = s.lb.health.to_config();
        for (i, &id) in lb_ids.iter().enumerate() {
            let name = format!("lb-{}", i + 1);
            names.push(name.clone());
            let peer = lb_ids
                .iter()
                .position(|&other| other != id)
                .map(|j| (lb_ids[j], format!("lb-{}", j + 1)));
            let phases = probe_phases(seed, &format!("{name}/health-phase"), edges, health.interval);
            let device = LoadBalancer::new(
                LbConfig {
                    name: name.clone(),
                    vip,
                    edges: edge_ids.clone(),
                    edge_names: edge_ids.iter().map(|&e| names[e as usize].clone()).collect(),
                    peer,
                    // The first device is the preferred master and preempts when back.
                    priority: if i == 0 { 200 } else { 100 },
                    initial_role: if i == 0 { Role::Master } else { Role::Backup },
                    advert_interval: s.lb.advert_interval.0,
                    takeover_delay: s.lb.takeover_delay.0,
                    health,
                    phases,
                    algorithm,
                    weights: weights.clone(),
                    max_connections: s.lb.max_connections,
                    active_checks: s.lb.active_checks,
                    playlist_check: (s.lb.check == "playlist")
                        .then(|| PlaylistCheck::new(edges as usize, s.lb.playlist_stale_after.0)),
                    passive: match s.lb.passive.as_str() {
                        "nginx" => Some(Passive::Nginx(NginxPassive::nginx_defaults(edges as usize))),
                        "envoy" => Some(Passive::Envoy(OutlierDetector::new(
                            OutlierConfig::ENVOY,
                            edges as usize,
                            SimTime::ZERO,
                        ))),
                        _ => None,
                    },
                    proxy_timeout: s.lb.proxy_timeout.0,
                    frame_bytes,
                },
                rng_for(seed, &name),
                recorder.clone(),
            );
            assert_eq!(kernel.spawn(&name, class::LB, device), id);
        }
    }

    place_in_regions(kernel, s, &names, &edge_ids, &cohort_ids);

    let mut triggers = Vec::new();
    for (n, concrete) in concrete_faults(s, |stream| rng_for(seed, stream))
        .into_iter()
        .enumerate()
    {
        if concrete.fault.on.is_some() {
            triggers.push(Trigger {
                n,
                concrete,
                fired: false,
            });
        } else {
            let at = SimTime::ZERO + concrete.fault.at.0;
            schedule_fault(kernel, s, &names, n, &concrete, at);
        }
    }
    if triggers.is_empty() {
        return;
    }
    // A triggered fault starts `after` its event, and no sooner than a lookahead after
    // it: the kernel hears of the event at the end of the window it happened in.
    let lookahead = network(s, 0).min_latency();
    {
        let mut recorder = recorder.borrow_mut();
        recorder.triggers = Some(Vec::new());
        recorder.handling_time = Some(crate::sim::current_time);
    }
    let (recorder, s) = (recorder.clone(), s.clone());
    kernel.set_window_hook(Box::new(move || {
        let mut events = (recorder.borrow_mut().triggers.as_mut())
            .map(std::mem::take)
            .unwrap_or_default();
        // In the order they happened: a window's actors are handled in no time order.
        events.sort_by_key(|&(_, at)| at);
        let mut scheduled: Vec<Scheduled<Msg>> = Vec::new();
        for (event, at) in events {
            for trigger in triggers.iter_mut().filter(|t| !t.fired) {
                let fault = &trigger.concrete.fault;
                if fault.on.as_deref() != Some(event) || at < SimTime::ZERO + fault.at.0 {
                    continue;
                }
                trigger.fired = true;
                let onset = at + fault.after.map_or(SimDuration::ZERO, |d| d.0).max(lookahead);
                tracing::info!(fault = %trigger.concrete.id, %event, %onset, "triggered fault");
                schedule_fault(&mut scheduled, &s, &names, trigger.n, &trigger.concrete, onset);
                recorder
                    .borrow_mut()
                    .faults
                    .extend(records_of(&trigger.concrete, onset));
            }
        }
        scheduled
    }));
}

/// Schedules `concrete` from `at` on every node it names: one action per fault and
/// target (a partition: one for all); `n` keeps the file order of network changes.
fn schedule_fault(
    sink: &mut impl FaultSink,
    s: &Scenario,
    names: &[String],
    n: usize,
    concrete: &ConcreteFault,
    at: SimTime,
) {
    // A fault on `role:edge` names every edge.
    let id_of = ids_by_name(names);
    let node_id = |name: &String| id_of.get(name.as_str()).copied();
    let fault = &concrete.fault;
    let until = fault.duration.map(|d| at + d.0);
    if fault.kind == "net.partition" {
        let id = (n as u64) << 16;
        let partition = Partition {
            side_a: concrete.targets.iter().filter_map(node_id).collect(),
            side_b: concrete.other.iter().filter_map(node_id).collect(),
            one_way: fault.one_way.unwrap_or(false),
        };
        sink.action(at, KernelAction::Partition { id, partition });
        if let Some(until) = until {
            sink.action(until, KernelAction::Heal { id });
        }
        return;
    }
    for (t, target) in concrete.targets.iter().enumerate() {
        let Some(target) = node_id(target) else { continue };
        let id = (n as u64) << 16 | t as u64;
        apply_fault(sink, s, fault, id, target, at, until);
    }
}

/// A rate in Mbit/s, in bit/s.
fn capacity_bps(mbps: f64) -> u64 {
    (mbps * 1e6).round() as u64
}

/// Schedules `fault` (any kind but a partition) on `target`; `id` names its network
/// degradation.
fn apply_fault(
    sink: &mut impl FaultSink,
    s: &Scenario,
    fault: &Fault,
    id: u64,
    target: NodeId,
    at: SimTime,
    until: Option<SimTime>,
) {
    match fault.kind.as_str() {
        "node.crash" | "region.outage" => {
            sink.action(at, KernelAction::Crash(target));
            if let Some(until) = until {
                sink.action(until, KernelAction::Restart(target));
            }
        }
        "net.degrade" => {
            let degradation = Degradation {
                node: target,
                extra_latency: fault.latency.map_or(SimDuration::ZERO, |d| d.0),
                extra_jitter: fault.jitter.map_or(SimDuration::ZERO, |d| d.0),
                loss: fault.loss.unwrap_or(0.0),
                burst: fault.loss_burst.map_or(SimDuration::from_millis(100), |b| b.0),
                bandwidth_bps: fault.bandwidth_mbps.map_or(0, capacity_bps),
                outbound_only: false,
            };
            sink.action(at, KernelAction::Degrade { id, degradation });
            if let Some(until) = until {
                sink.action(until, KernelAction::Restore { id });
            }
        }
        "encoder.black" | "encoder.silent" | "encoder.stall" => {
            let bits = match fault.kind.as_str() {
                "encoder.black" => content::BLACK,
                "encoder.silent" => content::SILENT,
                _ => content::STALL,
            };
            sink.message(at, target, Msg::SetContent { bits, on: true });
            if let Some(until) = until {
                sink.message(until, target, Msg::SetContent { bits, on: false });
            }
        }
        "cdn.overload" => {
            let during = capacity_bps(fault.capacity_mbps.expect("validated"));
            sink.message(at, target, Msg::SetCapacity { bps: during });
            if let Some(until) = until {
                let normal = capacity_bps(s.cdn.edge_capacity_mbps);
                sink.message(until, target, Msg::SetCapacity { bps: normal });
            }
        }
        "node.pause" => {
            sink.action(at, KernelAction::Pause(target));
            if let Some(until) = until {
                sink.action(until, KernelAction::Resume(target));
            }
        }
        "node.slow" => {
            let degradation = Degradation {
                node: target,
                extra_latency: fault.delay.expect("validated").0,
                extra_jitter: fault.jitter.map_or(SimDuration::ZERO, |d| d.0),
                loss: 0.0,
                burst: SimDuration::ZERO,
                bandwidth_bps: 0,
                outbound_only: true,
            };
            sink.action(at, KernelAction::Degrade { id, degradation });
            if let Some(until) = until {
                sink.action(until, KernelAction::Restore { id });
            }
        }
        "dns.outage" | "dns.stale" | "lb.fail" | "monitor.delay" | "monitor.blind" => {
            let what = match fault.kind.as_str() {
                "dns.outage" => impair::DNS_OUTAGE,
                "dns.stale" => impair::DNS_STALE,
                "lb.fail" => impair::LB_DATA_PLANE,
                "monitor.delay" => impair::MONITOR_DELAY,
                _ => impair::MONITOR_BLIND,
            };
            let delay_ns = fault.delay.map_or(0, |d| d.0.as_nanos());
            sink.message(
                at,
                target,
                Msg::Impair {
                    what,
                    on: true,
                    delay_ns,
                },
            );
            if let Some(until) = until {
                sink.message(
                    until,
                    target,
                    Msg::Impair {
                        what,
                        on: false,
                        delay_ns,
                    },
                );
            }
        }
        "clock.skew" => {
            let drift_ppm = (fault.drift.expect("validated") * 1e6).round() as i64;
            sink.message(at, target, Msg::SetClockDrift { drift_ppm });
            if let Some(until) = until {
                sink.message(until, target, Msg::SetClockDrift { drift_ppm: 0 });
            }
        }
        "ingest.overload" => {
            let during = fault.capacity_streams.expect("validated");
            sink.message(at, target, Msg::SetStreamCapacity { streams: during });
            if let Some(until) = until {
                let normal = s.ingest.capacity;
                sink.message(until, target, Msg::SetStreamCapacity { streams: normal });
            }
        }
        other => unreachable!("validation admits only known fault kinds, not {other}"),
    }
}

/// Whether an edge's egress may ever be capped: `cdn.edge_capacity_mbps`, or a
/// `cdn.overload` fault, scheduled or random.
fn edges_may_run_short(s: &Scenario) -> bool {
    const OVERLOAD: &str = "cdn.overload";
    s.cdn.edge_capacity_mbps > 0.0
        || s.faults.iter().any(|f| f.kind == OVERLOAD)
        || (s.random_faults.iter()).any(|r| r.kinds.iter().any(|k| k.kind == OVERLOAD))
}
