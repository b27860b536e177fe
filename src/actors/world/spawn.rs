//! One method per kind of node: builds its actor's configuration from the plan and
//! spawns it at the id the plan's node table gives it.

use std::rc::Rc;

use rand::Rng;

use crate::control::alert::AlertEngine;
use crate::control::content::{ContentConfig, PlaylistCheck};
use crate::control::dns::{FailoverRecord, ResolverCache, RoundRobinRecord};
use crate::control::failover::{Failback, InputSelector};
use crate::control::lease::LeaseConfig;
use crate::control::passive::{NginxPassive, OutlierConfig, OutlierDetector, Passive};
use crate::control::player::PlayerConfig;
use crate::control::reconnect::Backoff;
use crate::control::vrrp::Role;
use crate::plan::faults::capacity_bps;
use crate::plan::{frames_in, WorldPlan};
use crate::scenario::settings::{
    Balancing, FailbackSetting, LbCheck, OutputLocking, PassiveChecks, PlayerPreset, Redundancy,
};
use crate::scenario::{FaultKind, Scenario};
use crate::sim::{rng_for, Dest, Kernel, NodeId, Places};
use crate::time::{SimDuration, SimTime};

use super::super::cohort::{Cohort, CohortConfig, EdgeChoice, Joins};
use super::super::dns::{Checks, Dns, Record};
use super::super::edge::{Edge, EdgeConfig, ShieldFeed};
use super::super::encoder::{Encoder, EncoderConfig, UplinkTarget};
use super::super::ingest::{Ingest, IngestConfig};
use super::super::lb::{LbConfig, LoadBalancer};
use super::super::lease::LeaseStoreNode;
use super::super::manager::{LeaseSetup, Manager, ManagerConfig};
use super::super::monitor::{Monitor, ScrapeTargets};
use super::super::origin::{Inputs, Origin, OriginMedia, OriginStream};
use super::super::shield::Shield;
use super::super::{class, Msg, SharedRecorder};
use super::{probe_phases, HEALTH_PHASE_STREAM};

/// Spawns the nodes of a plan, kind by kind, in id order.
pub(super) struct Spawner<'a> {
    kernel: &'a mut Kernel<Msg>,
    s: &'a Scenario,
    plan: &'a WorldPlan,
    seed: u64,
    recorder: &'a SharedRecorder,
    fps: u32,
    frame_bytes: u64,
    /// Per stream: its floating ingest address (on its primary at start).
    ingest_vips: Vec<u32>,
}

impl<'a> Spawner<'a> {
    pub(super) fn new(
        kernel: &'a mut Kernel<Msg>,
        s: &'a Scenario,
        plan: &'a WorldPlan,
        seed: u64,
        recorder: &'a SharedRecorder,
    ) -> Self {
        let fps = s.encoders.fps;
        let frame_bytes = (s.encoders.bitrate_kbps * 1000 / 8 / u64::from(fps)).max(1);
        let ingest_vips = (plan.preferences.iter())
            .map(|servers| {
                let primary = plan.nodes.ingest.start + servers[0] as NodeId;
                kernel.network_mut().add_vip(class::INGEST, Some(primary))
            })
            .collect();
        Spawner {
            kernel,
            s,
            plan,
            seed,
            recorder,
            fps,
            frame_bytes,
            ingest_vips,
        }
    }

    fn spawn<B: crate::sim::Behavior<Msg = Msg>>(&mut self, id: NodeId, class: u16, behavior: B) {
        let spawned = self.kernel.spawn(self.plan.nodes.name(id), class, behavior);
        assert_eq!(spawned, id, "nodes are spawned in the node table's order");
    }

    fn ingest_id(&self, server: usize) -> NodeId {
        self.plan.nodes.ingest.start + server as NodeId
    }

    /// Each stream's encoder: active-passive pushes to the stream's floating address;
    /// active-active to both of its servers; DNS failover to whatever the name
    /// resolves to.
    pub(super) fn encoders(&mut self) {
        let (s, plan) = (self.s, self.plan);
        let r = &s.encoders.reconnect;
        for (k, id) in plan.nodes.encoders.clone().enumerate() {
            let uplinks: Vec<UplinkTarget> = match plan.settings.redundancy {
                Redundancy::ActiveActive => (plan.preferences[k].iter().take(2))
                    .map(|&server| UplinkTarget::Fixed(Dest::Node(self.ingest_id(server))))
                    .collect(),
                Redundancy::Dns => {
                    let mut resolver_rng = rng_for(self.seed, &format!("{}/resolver", plan.nodes.name(id)));
                    let violator = resolver_rng.gen_bool(s.dns.violator_share.clamp(0.0, 1.0));
                    vec![UplinkTarget::Resolve {
                        dns: plan.nodes.dns.expect("DNS failover has dns-1"),
                        cache: ResolverCache::new(violator.then_some(s.dns.stretched_ttl.0)),
                        query_timeout: s.dns.query_timeout.0,
                    }]
                }
                Redundancy::ActivePassive => vec![UplinkTarget::Fixed(Dest::Vip(self.ingest_vips[k]))],
            };
            let config = EncoderConfig {
                fps: self.fps,
                chunk_frames: s.encoders.chunk_frames,
                frame_bytes: self.frame_bytes,
                connect_timeout: s.encoders.connect_timeout.0,
                ack_timeout: s.encoders.ack_timeout.0,
                backoff: Backoff {
                    first_delay: r.first_delay.0,
                    multiplier: r.multiplier,
                    max_delay: r.max_delay.0,
                    max_attempts: r.max_attempts,
                },
                stream: k as u32,
            };
            let encoder = Encoder::new(config, uplinks, self.recorder.clone());
            self.spawn(id, class::ENCODER, encoder);
        }
    }

    pub(super) fn ingest_servers(&mut self) {
        let (s, plan) = (self.s, self.plan);
        let nodes = &plan.nodes;
        let config = IngestConfig {
            gop_frames: frames_in(s.encoders.gop.0, self.fps),
            frames_per_segment: frames_in(s.cdn.segment.0, self.fps),
            frame_bytes: self.frame_bytes,
            idle_timeout: s.ingest.idle_timeout.0,
            ack_every_frames: u64::from(self.fps),
            vips: self.ingest_vips.clone(),
            switch_delay: s.ingest.switch_delay.0,
            encoders: nodes.encoders.clone().collect(),
            pipelines: nodes
                .ingest
                .clone()
                .map(|id| (id, nodes.name(id).to_string()))
                .collect(),
            // A pair's second manager has the id after the monitor's, whether or not it runs.
            managers: vec![
                (nodes.manager, "manager-1".into()),
                (nodes.monitor + 1, "manager-2".into()),
            ],
            content: ContentConfig {
                loss_after: s.ingest.input_loss.0,
                black_after: s.ingest.black_after.0,
                silence_after: s.ingest.silence_after.0,
            },
            capacity_streams: s.ingest.capacity,
            unlocked: plan.settings.output_locking == OutputLocking::None,
            input_loss_action: plan.settings.input_loss_action,
            fps: self.fps,
            active_passive: plan.settings.redundancy == Redundancy::ActivePassive,
        };
        for (server, id) in nodes.ingest.clone().enumerate() {
            let lanes = (plan.preferences.iter().zip(&plan.origin_of))
                .map(|(servers, &origin)| (servers[0] == server, nodes.origins.start + origin as NodeId))
                .collect();
            let ingest = Ingest::new(config.clone(), nodes.name(id).to_string(), lanes, self.recorder.clone());
            self.spawn(id, class::INGEST, ingest);
        }
    }

    /// Manager `index` (0: `manager-1`). Each target's checks start at a phase drawn
    /// from the seed: faults do not land on probe instants by coincidence of round
    /// numbers (HAProxy also spreads its checks). With several origins the manager also
    /// checks them (after the ingest servers) and re-places the streams of one that fails.
    fn manager(&self, index: u32) -> Manager {
        let (s, plan) = (self.s, self.plan);
        let nodes = &plan.nodes;
        let several_origins = nodes.origins.len() > 1;
        let targets: Vec<NodeId> = (nodes.ingest.clone())
            .chain(nodes.origins.clone().filter(|_| several_origins))
            .collect();
        let health = s.ingest.health.to_config();
        let stream = if index == 0 {
            HEALTH_PHASE_STREAM.to_string()
        } else {
            format!("manager-{}/health-phase", index + 1)
        };
        let phases = probe_phases(self.seed, &stream, targets.len(), s.ingest.health.interval.0);
        let lease = self.lease_config();
        let config = ManagerConfig {
            name: format!("manager-{}", index + 1),
            lease: nodes.lease.map(|store| {
                let first_ask = SimDuration::from_nanos(lease.retry_period.as_nanos() / 2 * u64::from(index));
                LeaseSetup {
                    config: lease,
                    store,
                    client: index,
                    first_try: SimTime::ZERO + first_ask,
                    rng: rng_for(self.seed, &format!("manager-{}/lease", index + 1)),
                }
            }),
            names: nodes.names_of(targets.iter().copied()),
            targets,
            health,
            phases,
            preferences: plan.preferences.clone(),
            origins: several_origins.then(|| (nodes.ingest.len(), plan.origin_of.clone())),
        };
        let failback = match plan.settings.failback {
            FailbackSetting::PreferPrimary => Failback::PreferPrimary {
                hold: s.ingest.failback_hold.0,
            },
            FailbackSetting::None => Failback::None,
        };
        let policy = (plan.settings.redundancy == Redundancy::ActivePassive).then_some(failback);
        Manager::new(config, policy, self.recorder.clone())
    }

    fn lease_config(&self) -> LeaseConfig {
        let m = &self.s.managers;
        LeaseConfig {
            duration: m.lease.0,
            renew_deadline: m.renew_deadline.0,
            retry_period: m.retry_period.0,
        }
    }

    pub(super) fn first_manager(&mut self) {
        let manager = self.manager(0);
        self.spawn(self.plan.nodes.manager, class::MANAGER, manager);
    }

    /// `manager-2` and its lease store, when the managers are a pair.
    pub(super) fn manager_pair(&mut self) {
        let nodes = &self.plan.nodes;
        let (Some(second), Some(lease)) = (nodes.manager_2, nodes.lease) else {
            return;
        };
        let manager = self.manager(1);
        self.spawn(second, class::MANAGER, manager);
        let store = LeaseStoreNode::new(vec![nodes.manager, second]);
        self.spawn(lease, class::LEASE, store);
    }

    /// Every origin can take any stream (placement decides which it gets).
    pub(super) fn origins(&mut self) {
        let (s, plan) = (self.s, self.plan);
        let nodes = &plan.nodes;
        let downstream: Vec<NodeId> = if nodes.shields.is_empty() {
            nodes.edges.clone().collect()
        } else {
            nodes.shields.clone().collect()
        };
        for id in nodes.origins.clone() {
            let streams = (plan.preferences.iter())
                .map(|servers| {
                    OriginStream::new(match plan.settings.redundancy {
                        Redundancy::ActiveActive => Inputs::Selector {
                            selector: InputSelector::new(s.ingest.input_loss.0),
                            pipelines: servers.iter().take(2).map(|&server| self.ingest_id(server)).collect(),
                        },
                        _ => Inputs::FirstCopy,
                    })
                })
                .collect();
            let media = OriginMedia {
                frame_bytes: self.frame_bytes,
                frames_per_segment: frames_in(s.cdn.segment.0, self.fps),
                segment: s.cdn.segment.0,
            };
            let names = nodes.names().to_vec();
            let origin = Origin::new(
                nodes.name(id),
                downstream.clone(),
                names,
                media,
                streams,
                self.recorder.clone(),
            );
            self.spawn(id, class::ORIGIN, origin);
        }
    }

    pub(super) fn shields_and_edges(&mut self) {
        let (s, plan) = (self.s, self.plan);
        let nodes = &plan.nodes;
        let shields: Vec<NodeId> = nodes.shields.clone().collect();
        for (k, id) in nodes.shields.clone().enumerate() {
            let fed: Vec<NodeId> = (nodes.edges.clone().zip(&plan.shield_of))
                .filter(|&(_, &shield)| shield == k)
                .map(|(edge, _)| edge)
                .collect();
            let index = self.recorder.borrow_mut().register_load(nodes.name(id));
            let shield = Shield::new(fed, self.frame_bytes, index, self.recorder.clone());
            self.spawn(id, class::SHIELD, shield);
        }
        let edge_config = EdgeConfig {
            playlist_window: s.cdn.playlist_window as usize,
            fps: self.fps,
            frame_bytes: self.frame_bytes,
            capacity_bps: capacity_bps(s.cdn.edge_capacity_mbps),
            index: 0,
            serve_in_viewer_order: plan.settings.balancing == Balancing::Hardware && edges_may_run_short(s),
        };
        let fallback_after = s.cdn.shield_fallback_after.0;
        for (e, id) in nodes.edges.clone().enumerate() {
            let index = self.recorder.borrow_mut().register_load(nodes.name(id));
            let config = EdgeConfig { index, ..edge_config };
            let mut edge = Edge::new(config, s.encoders.count as usize, self.recorder.clone());
            if let Some(&k) = plan.shield_of.get(e) {
                edge = edge.behind_shield(ShieldFeed {
                    shield: shields[k],
                    origins: nodes.origins.clone().collect(),
                    fallback_after: (!fallback_after.is_zero()).then_some(fallback_after),
                    check_every: SimDuration::from_nanos(fallback_after.as_nanos() / 4),
                    shield_name: nodes.name(shields[k]).to_string(),
                    edge_name: nodes.name(id).to_string(),
                });
            }
            self.spawn(id, class::EDGE, edge);
        }
        self.recorder.borrow_mut().edge_names = nodes.names_of(nodes.edges.clone());
    }

    /// How viewers reach an edge; with load balancers, their address (on the first
    /// device, the preferred master).
    pub(super) fn edge_choice(&mut self) -> EdgeChoice {
        let (s, plan) = (self.s, self.plan);
        match plan.settings.balancing {
            Balancing::RoundRobinDns => EdgeChoice::Resolved {
                dns: plan.nodes.cdn_dns.expect("round-robin DNS has cdn-dns"),
                violator_share: s.dns.violator_share,
                stretched_ttl: s.dns.stretched_ttl.0,
            },
            Balancing::Hardware if !plan.nodes.lbs.is_empty() => EdgeChoice::Balanced {
                vip: self.kernel.network_mut().add_vip(class::LB, Some(plan.nodes.lbs.start)),
            },
            _ => EdgeChoice::Assigned,
        }
    }

    /// One cohort per edge: the viewers whose primary edge it is (`members`, the
    /// plan's, each moved into its cohort).
    pub(super) fn cohorts(&mut self, edge_choice: &EdgeChoice, mut members: Vec<Vec<u32>>) {
        let (s, plan) = (self.s, self.plan);
        let nodes = &plan.nodes;
        let mut slot_of_viewer = vec![0u32; s.viewers.count as usize];
        for cohort in &members {
            for (slot, &viewer) in cohort.iter().enumerate() {
                slot_of_viewer[viewer as usize] = slot as u32;
            }
        }
        let slot_of_viewer: Rc<[u32]> = slot_of_viewer.into();
        let player = match plan.settings.player {
            PlayerPreset::HlsJs => PlayerConfig::HLS_JS,
            PlayerPreset::Shaka => PlayerConfig::SHAKA,
            PlayerPreset::ExoPlayer => PlayerConfig::EXOPLAYER,
        };
        let edges: Vec<NodeId> = nodes.edges.clone().collect();
        let shared_edges: Rc<[NodeId]> = edges.as_slice().into();
        let shared_edge_names: Rc<[String]> = nodes.names_of(edges.iter().copied()).into();
        let edge_places = Rc::new(Places::of(&edges));
        for (i, id) in nodes.cohorts.clone().enumerate() {
            let viewers = std::mem::take(&mut members[i]);
            let joins = match &plan.viewer_plan {
                None => Joins::Uniform {
                    at: s.viewers.join_at.0,
                    over: s.viewers.join_over.0,
                },
                Some(planned) => Joins::Planned(
                    (viewers.iter())
                        .map(|&v| (planned[v as usize].join, planned[v as usize].leave))
                        .collect(),
                ),
            };
            let config = CohortConfig {
                edges: shared_edges.clone(),
                edge_names: shared_edge_names.clone(),
                edge_places: edge_places.clone(),
                primary: i,
                routes: 1 + s.cdn.backup_edges as u8,
                viewers,
                slot_of_viewer: slot_of_viewer.clone(),
                streams: s.encoders.count,
                player,
                target_duration: s.cdn.segment.0,
                fps: self.fps,
                frame_bytes: self.frame_bytes,
                joins,
                measure_from: SimTime::ZERO + s.scenario.warmup.0,
                downlink_bps: (s.viewers.downlink_mbps * 1e6).round().max(1.0) as u64,
                edge_choice: edge_choice.clone(),
                join_step: s.viewers.join_step.0,
                squads: s.viewers.squads,
                retry_key: crate::sim::derive_key(self.seed, "viewers/retry"),
            };
            let cohort = Cohort::new(config, rng_for(self.seed, nodes.name(id)), self.recorder.clone());
            self.spawn(id, class::VIEWERS, cohort);
        }
    }

    /// `dns-1`, the failover record of the ingest name, with DNS failover.
    pub(super) fn dns_failover(&mut self) {
        let (s, plan) = (self.s, self.plan);
        let Some(id) = plan.nodes.dns else { return };
        let servers: Vec<NodeId> = plan.nodes.ingest.clone().collect();
        let checks = self.route53_checks("dns-1", servers.len());
        let record = Record::Failover(
            (plan.preferences.iter())
                .map(|members| (FailoverRecord::new(members.len(), s.dns.ttl.0), members.clone()))
                .collect(),
        );
        let names = plan.nodes.names_of(servers.iter().copied());
        let dns = Dns::new("dns-1", servers, names, checks, record, self.recorder.clone());
        self.spawn(id, class::DNS, dns);
    }

    /// `monitor-1`: scrapes every infrastructure node, those spawned after it included.
    pub(super) fn monitor(&mut self) {
        let (s, plan) = (self.s, self.plan);
        let nodes = &plan.nodes;
        let cohorts = Places::of(&nodes.cohorts.clone().collect::<Vec<_>>());
        let later = [nodes.manager_2, nodes.lease, nodes.cdn_dns].into_iter().flatten();
        let scraped: Vec<(NodeId, String)> = (nodes.encoders.start..nodes.monitor)
            .filter(|&id| cohorts.get(id).is_none())
            .chain(later)
            .chain(nodes.lbs.clone())
            .map(|id| (id, nodes.name(id).to_string()))
            .collect();
        let (rules, metrics) = plan.alerts.iter().cloned().unzip();
        let monitor = Monitor::new(
            ScrapeTargets {
                origins: nodes.origins.clone().collect(),
                streams: s.encoders.count as usize,
                cohorts: nodes.cohorts.clone().collect(),
                ingests: nodes.ingest.clone().collect(),
                nodes: scraped,
            },
            s.monitor.scrape_interval.0,
            AlertEngine::new(rules, s.monitor.notify_delay.0),
            metrics,
            self.recorder.clone(),
        );
        self.spawn(nodes.monitor, class::MONITOR, monitor);
    }

    /// The Route 53 checkers of DNS server `name` over `targets` targets: each checker
    /// probes each target at a phase drawn from the seed. The first checker keeps the
    /// stream a lone checker always drew from.
    fn route53_checks(&self, name: &str, targets: usize) -> Checks {
        let health = &self.s.dns.health;
        let config = health.to_config();
        let phases = (0..health.checkers)
            .map(|c| {
                let stream = match c {
                    0 => format!("{name}/health-phase"),
                    c => format!("{name}/health-phase/checker-{}", c + 1),
                };
                probe_phases(self.seed, &stream, targets, config.interval)
            })
            .collect();
        Checks {
            config,
            phases,
            healthy_above: health.healthy_above,
        }
    }

    /// `cdn-dns`, the round-robin record of the CDN name.
    pub(super) fn cdn_dns(&mut self) {
        let (s, plan) = (self.s, self.plan);
        let Some(id) = plan.nodes.cdn_dns else { return };
        let edges: Vec<NodeId> = plan.nodes.edges.clone().collect();
        let checks = self.route53_checks("cdn-dns", edges.len());
        let record = Record::RoundRobin(RoundRobinRecord::new(edges.len(), s.dns.ttl.0, s.dns.health_checked));
        let names = plan.nodes.names_of(edges.iter().copied());
        let dns = Dns::new("cdn-dns", edges, names, checks, record, self.recorder.clone());
        self.spawn(id, class::DNS, dns);
    }

    /// The load balancer devices: the first is the preferred master and preempts when
    /// back.
    pub(super) fn load_balancers(&mut self, edge_choice: &EdgeChoice) {
        let (s, plan) = (self.s, self.plan);
        let EdgeChoice::Balanced { vip } = *edge_choice else {
            return;
        };
        let nodes = &plan.nodes;
        let edges: Vec<NodeId> = nodes.edges.clone().collect();
        let devices: Vec<NodeId> = nodes.lbs.clone().collect();
        let health = s.lb.health.to_config();
        for (i, &id) in devices.iter().enumerate() {
            let name = nodes.name(id).to_string();
            let peer = devices
                .iter()
                .find(|&&other| other != id)
                .map(|&other| (other, nodes.name(other).to_string()));
            let phases = probe_phases(self.seed, &format!("{name}/health-phase"), edges.len(), health.interval);
            let passive = match plan.settings.lb_passive {
                PassiveChecks::Nginx => Some(Passive::Nginx(NginxPassive::nginx_defaults(edges.len()))),
                PassiveChecks::Envoy => Some(Passive::Envoy(OutlierDetector::new(
                    OutlierConfig::ENVOY,
                    edges.len(),
                    SimTime::ZERO,
                ))),
                PassiveChecks::None => None,
            };
            let config = LbConfig {
                name: name.clone(),
                vip,
                edges: edges.clone(),
                edge_names: nodes.names_of(edges.iter().copied()),
                peer,
                priority: if i == 0 { 200 } else { 100 },
                initial_role: if i == 0 { Role::Master } else { Role::Backup },
                advert_interval: s.lb.advert_interval.0,
                takeover_delay: s.lb.takeover_delay.0,
                health,
                phases,
                algorithm: plan.algorithm,
                weights: plan.weights.clone(),
                max_connections: s.lb.max_connections,
                active_checks: s.lb.active_checks,
                playlist_check: (plan.settings.lb_check == LbCheck::Playlist)
                    .then(|| PlaylistCheck::new(edges.len(), s.lb.playlist_stale_after.0)),
                passive,
                proxy_timeout: s.lb.proxy_timeout.0,
                frame_bytes: self.frame_bytes,
            };
            let device = LoadBalancer::new(config, rng_for(self.seed, &name), self.recorder.clone());
            self.spawn(id, class::LB, device);
        }
    }
}

/// Whether an edge's egress may ever be capped: `cdn.edge_capacity_mbps`, or a
/// `cdn.overload` fault, scheduled or random.
fn edges_may_run_short(s: &Scenario) -> bool {
    let overload = |kind: &str| FaultKind::by_name(kind) == Some(FaultKind::CdnOverload);
    s.cdn.edge_capacity_mbps > 0.0
        || s.faults.iter().any(|f| overload(&f.kind))
        || (s.random_faults.iter()).any(|r| r.kinds.iter().any(|k| overload(&k.kind)))
}
