//! The simulated network: per-link latency with jitter, loss and bandwidth; partitions
//! that are applied and healed; floating addresses (VIPs) that move between nodes.
//!
//! Links behave like TCP streams: a link never reorders (arrival times are monotone per
//! link) and serialises messages at its bandwidth. Each link draws from its own seeded
//! stream, keyed by the two endpoints' stable names, so traffic on one link never shifts
//! the draws of another.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use super::seed::{rng_for, SimRng};
use crate::time::{SimDuration, SimTime};

/// A node's index in the kernel; `0` is the kernel itself.
pub type NodeId = u32;

/// Where a message is addressed: a node, or a floating address held by some node.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum Dest {
    Node(NodeId),
    Vip(u32),
}

impl From<NodeId> for Dest {
    fn from(node: NodeId) -> Dest {
        Dest::Node(node)
    }
}

/// Properties of one direction of a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkSpec {
    /// Minimum one-way delay (propagation).
    pub latency: SimDuration,
    /// Mean of the extra, exponentially distributed queueing delay (capped at 10×).
    pub jitter: SimDuration,
    /// Probability that a message is lost, in [0, 1].
    pub loss: f64,
    /// Serialisation rate; `0` means unlimited.
    pub bandwidth_bps: u64,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            latency: SimDuration::from_millis(1),
            jitter: SimDuration::ZERO,
            loss: 0.0,
            bandwidth_bps: 0,
        }
    }
}

struct LinkState {
    spec: LinkSpec,
    rng: SimRng,
    busy_until: SimTime,
    last_arrival: SimTime,
    /// The Gilbert–Elliott chain of each degradation in force on this link: its id →
    /// (in the bad state, when the state next changes).
    chains: BTreeMap<u64, (bool, SimTime)>,
}

/// A degradation of every link to and from one node (`net.degrade`): extra delay,
/// bursty loss and a bandwidth cap, on top of the links' own properties.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Degradation {
    pub node: NodeId,
    pub extra_latency: SimDuration,
    /// Mean of an extra exponential delay (capped at 10×, like link jitter).
    pub extra_jitter: SimDuration,
    /// Long-run share of time the link loses everything, in [0, 1).
    pub loss: f64,
    /// Mean length of a loss burst: a continuous-time Gilbert–Elliott model, a
    /// lossless good state and a bad state that loses every message, with exponential
    /// stays of mean `burst` (bad) and `burst × (1 − loss) / loss` (good), so that the
    /// link is bad a `loss` share of the time whatever its message rate.
    pub burst: SimDuration,
    /// Serialisation rate cap in bit/s; `0` leaves the link's own.
    pub bandwidth_bps: u64,
    /// Only what the node sends (`node.slow`: a slow process answers late; what it
    /// receives arrives on time).
    pub outbound_only: bool,
}

impl Degradation {
    fn touches(&self, src: NodeId, dst: Option<NodeId>) -> bool {
        self.node == src || (!self.outbound_only && dst == Some(self.node))
    }
}

/// A cut between two groups of nodes. An empty `side_b` means "every other node".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub side_a: BTreeSet<NodeId>,
    pub side_b: BTreeSet<NodeId>,
    /// Only traffic from `side_a` to `side_b` is cut.
    pub one_way: bool,
}

impl Partition {
    fn in_b(&self, node: NodeId) -> bool {
        if self.side_b.is_empty() {
            !self.side_a.contains(&node)
        } else {
            self.side_b.contains(&node)
        }
    }

    fn cuts(&self, from: NodeId, to: NodeId) -> bool {
        let forward = self.side_a.contains(&from) && self.in_b(to);
        let backward = self.side_a.contains(&to) && self.in_b(from);
        forward || (!self.one_way && backward)
    }
}

/// The network every message crosses.
pub struct Network {
    seed: u64,
    names: Vec<String>,
    classes: Vec<u16>,
    class_specs: BTreeMap<(u16, u16), LinkSpec>,
    default_spec: LinkSpec,
    /// Per source node, its links by destination: a message searches its sender's
    /// few links rather than every link of the run.
    links: Vec<BTreeMap<Dest, LinkState>>,
    vips: Vec<Option<NodeId>>,
    vip_classes: Vec<u16>,
    partitions: BTreeMap<u64, Partition>,
    degradations: BTreeMap<u64, Degradation>,
    lost: u64,
    /// Each node's region, if it has one.
    regions: Vec<Option<u16>>,
    /// Extra latency and jitter between nodes of two different regions.
    inter_region: (SimDuration, SimDuration),
}

impl Network {
    pub fn new(seed: u64, default_spec: LinkSpec) -> Self {
        Network {
            seed,
            names: vec!["kernel".to_string()],
            classes: vec![0],
            class_specs: BTreeMap::new(),
            default_spec,
            links: vec![BTreeMap::new()],
            vips: Vec::new(),
            vip_classes: Vec::new(),
            partitions: BTreeMap::new(),
            degradations: BTreeMap::new(),
            lost: 0,
            regions: vec![None],
            inter_region: (SimDuration::ZERO, SimDuration::ZERO),
        }
    }

    /// Node `node` runs in region `region`.
    pub fn set_region(&mut self, node: NodeId, region: u16) {
        if let Some(slot) = self.regions.get_mut(node as usize) {
            *slot = Some(region);
        }
    }

    /// Messages between nodes of two different regions take `latency` more, plus
    /// exponential jitter of mean `jitter` (on links not yet used).
    pub fn set_inter_region(&mut self, latency: SimDuration, jitter: SimDuration) {
        self.inter_region = (latency, jitter);
    }

    /// Registers node `id` (ids are handed out in order) with its stable name and link class.
    pub(crate) fn add_node(&mut self, id: NodeId, name: &str, class: u16) {
        assert_eq!(id as usize, self.names.len(), "nodes are registered in id order");
        self.names.push(name.to_string());
        self.classes.push(class);
        self.regions.push(None);
        self.links.push(BTreeMap::new());
    }

    pub fn name(&self, node: NodeId) -> &str {
        &self.names[node as usize]
    }

    /// Links from class `from` to class `to` use `spec` (both directions if `symmetric`).
    pub fn set_class_link(&mut self, from: u16, to: u16, spec: LinkSpec, symmetric: bool) {
        self.class_specs.insert((from, to), spec);
        if symmetric {
            self.class_specs.insert((to, from), spec);
        }
    }

    /// Creates a floating address of link class `class`, held by `holder`.
    pub fn add_vip(&mut self, class: u16, holder: Option<NodeId>) -> u32 {
        self.vips.push(holder);
        self.vip_classes.push(class);
        (self.vips.len() - 1) as u32
    }

    pub fn vip_holder(&self, vip: u32) -> Option<NodeId> {
        self.vips[vip as usize]
    }

    pub(crate) fn move_vip(&mut self, vip: u32, to: Option<NodeId>) {
        self.vips[vip as usize] = to;
    }

    pub(crate) fn partition(&mut self, id: u64, partition: Partition) {
        self.partitions.insert(id, partition);
    }

    pub(crate) fn degrade(&mut self, id: u64, degradation: Degradation) {
        self.degradations.insert(id, degradation);
    }

    pub(crate) fn restore(&mut self, id: u64) {
        self.degradations.remove(&id);
    }

    pub(crate) fn heal(&mut self, id: u64) {
        self.partitions.remove(&id);
    }

    /// True if a partition currently cuts traffic from `from` to `to`.
    #[inline(always)]
    pub fn blocked(&self, from: NodeId, to: NodeId) -> bool {
        // Asked for every message delivered; most of a run has no partition at all.
        !self.partitions.is_empty() && self.partitions.values().any(|p| p.cuts(from, to))
    }

    /// The smallest one-way latency of any configured link: the kernel's safe lookahead.
    pub fn min_latency(&self) -> SimDuration {
        self.class_specs
            .values()
            .map(|s| s.latency)
            .chain(std::iter::once(self.default_spec.latency))
            .min()
            .unwrap_or(SimDuration::ZERO)
    }

    /// Messages lost to link loss or partitions so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    fn spec_for(&self, src: NodeId, dst: Dest) -> LinkSpec {
        let to_class = match dst {
            Dest::Node(n) => self.classes[n as usize],
            Dest::Vip(v) => self.vip_classes[v as usize],
        };
        let from_class = self.classes[src as usize];
        let mut spec = (self.class_specs.get(&(from_class, to_class)).copied()).unwrap_or(self.default_spec);
        if let Dest::Node(to) = dst {
            let (a, b) = (self.regions[src as usize], self.regions[to as usize]);
            if a.is_some() && b.is_some() && a != b {
                spec.latency += self.inter_region.0;
                spec.jitter += self.inter_region.1;
            }
        }
        spec
    }

    /// Sends `bytes` from `src` to `dst` at `now`; returns the arrival time, or `None` if lost.
    pub fn transmit(&mut self, now: SimTime, src: NodeId, dst: Dest, bytes: u64) -> Option<SimTime> {
        let resolved = match dst {
            Dest::Node(n) => Some(n),
            Dest::Vip(v) => self.vip_holder(v),
        };
        if resolved.is_some_and(|to| self.blocked(src, to)) {
            self.lost += 1;
            return None;
        }
        if !self.links[src as usize].contains_key(&dst) {
            let spec = self.spec_for(src, dst);
            let dst_name = match dst {
                Dest::Node(n) => self.names[n as usize].clone(),
                Dest::Vip(v) => format!("vip-{v}"),
            };
            let rng = rng_for(self.seed, &format!("link:{}->{}", self.names[src as usize], dst_name));
            let link = LinkState {
                spec,
                rng,
                busy_until: SimTime::ZERO,
                last_arrival: SimTime::ZERO,
                chains: BTreeMap::new(),
            };
            self.links[src as usize].insert(dst, link);
        }
        let link = self.links[src as usize].get_mut(&dst).expect("inserted above");
        let mut spec = link.spec;
        if spec.loss > 0.0 && link.rng.gen::<f64>() < spec.loss {
            self.lost += 1;
            return None;
        }
        // Degradations draw from the link's stream only while they last, so a run
        // without one draws exactly what it always did.
        let mut extra = SimDuration::ZERO;
        // Chains of degradations that have ended are forgotten; a new one starts afresh.
        link.chains.retain(|id, _| self.degradations.contains_key(id));
        for (&id, d) in self.degradations.iter().filter(|(_, d)| d.touches(src, resolved)) {
            if d.loss > 0.0 && !d.burst.is_zero() {
                let good = d.burst.mul_f64((1.0 - d.loss) / d.loss);
                let stay = |mean: SimDuration, rng: &mut SimRng| {
                    let u: f64 = rng.gen();
                    mean.mul_f64(-libm::log(1.0 - u)).max(SimDuration::from_nanos(1))
                };
                // A new degradation starts its chain in the good state.
                let (mut bad, mut flip) = match link.chains.get(&id) {
                    Some(&state) => state,
                    None => (false, now + stay(good, &mut link.rng)),
                };
                while flip <= now {
                    bad = !bad;
                    flip += stay(if bad { d.burst } else { good }, &mut link.rng);
                }
                link.chains.insert(id, (bad, flip));
                if bad {
                    self.lost += 1;
                    return None;
                }
            }
            extra += d.extra_latency;
            if !d.extra_jitter.is_zero() {
                let u: f64 = link.rng.gen();
                extra += d.extra_jitter.mul_f64((-libm::log(1.0 - u)).min(10.0));
            }
            if d.bandwidth_bps > 0 {
                spec.bandwidth_bps = if spec.bandwidth_bps == 0 {
                    d.bandwidth_bps
                } else {
                    spec.bandwidth_bps.min(d.bandwidth_bps)
                };
            }
        }
        // To a floating address: the distance to whoever holds it as the message
        // leaves (the address may move; the link's FIFO order still holds below).
        if let (Dest::Vip(_), Some(to)) = (dst, resolved) {
            let (a, b) = (self.regions[src as usize], self.regions[to as usize]);
            if a.is_some() && b.is_some() && a != b {
                extra += self.inter_region.0;
                if !self.inter_region.1.is_zero() {
                    let u: f64 = link.rng.gen();
                    extra += self.inter_region.1.mul_f64((-libm::log(1.0 - u)).min(10.0));
                }
            }
        }
        let departure = if spec.bandwidth_bps > 0 {
            let start = link.busy_until.max(now);
            let serialisation_ns = (u128::from(bytes) * 8 * 1_000_000_000 / u128::from(spec.bandwidth_bps)) as u64;
            link.busy_until = start + SimDuration::from_nanos(serialisation_ns);
            link.busy_until
        } else {
            now
        };
        let mut delay = spec.latency + extra;
        if !spec.jitter.is_zero() {
            let u: f64 = link.rng.gen();
            // libm, not the platform's ln: the same draw gives the same delay everywhere.
            let extra = (-libm::log(1.0 - u)).min(10.0);
            delay += spec.jitter.mul_f64(extra);
        }
        let arrival = (departure + delay).max(link.last_arrival);
        link.last_arrival = arrival;
        Some(arrival)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net_with(spec: LinkSpec) -> Network {
        let mut net = Network::new(7, spec);
        net.add_node(1, "a", 1);
        net.add_node(2, "b", 1);
        net.add_node(3, "c", 2);
        net
    }

    #[test]
    fn fixed_latency_and_bandwidth_are_exact() {
        let spec = LinkSpec {
            latency: SimDuration::from_millis(10),
            bandwidth_bps: 8_000_000, // 1 byte per microsecond
            ..LinkSpec::default()
        };
        let mut net = net_with(spec);
        let t = SimTime::from_secs(1);
        // 1000 bytes take 1 ms to serialise, then 10 ms to propagate.
        assert_eq!(
            net.transmit(t, 1, Dest::Node(2), 1000),
            Some(SimTime::from_millis(1011))
        );
        // The next message queues behind the first.
        assert_eq!(
            net.transmit(t, 1, Dest::Node(2), 1000),
            Some(SimTime::from_millis(1012))
        );
    }

    #[test]
    fn links_between_regions_take_the_extra_latency() {
        let spec = LinkSpec {
            latency: SimDuration::from_millis(10),
            ..LinkSpec::default()
        };
        let mut net = net_with(spec);
        net.set_inter_region(SimDuration::from_millis(80), SimDuration::ZERO);
        net.set_region(1, 0);
        net.set_region(2, 1);
        let t = SimTime::from_secs(1);
        assert_eq!(
            net.transmit(t, 1, Dest::Node(2), 100),
            Some(SimTime::from_millis(1_090))
        );
        assert_eq!(
            net.transmit(t, 2, Dest::Node(1), 100),
            Some(SimTime::from_millis(1_090))
        );
        // To a node with no region: the link's own latency.
        assert_eq!(
            net.transmit(t, 1, Dest::Node(3), 100),
            Some(SimTime::from_millis(1_010))
        );
        // Within a region too; across, the extra.
        net.set_region(3, 1);
        assert_eq!(
            net.transmit(t, 2, Dest::Node(3), 100),
            Some(SimTime::from_millis(1_010))
        );
        assert_eq!(
            net.transmit(t, 3, Dest::Node(1), 100),
            Some(SimTime::from_millis(1_090))
        );
    }

    #[test]
    fn a_floating_address_is_as_far_as_its_holder_when_a_message_leaves() {
        let spec = LinkSpec {
            latency: SimDuration::from_millis(10),
            ..LinkSpec::default()
        };
        let mut net = net_with(spec);
        net.set_inter_region(SimDuration::from_millis(80), SimDuration::ZERO);
        net.set_region(1, 0);
        net.set_region(2, 0);
        net.set_region(3, 1);
        let vip = net.add_vip(2, Some(3));
        let t = SimTime::from_secs(1);
        // Held across the regions: the extra distance.
        assert_eq!(
            net.transmit(t, 1, Dest::Vip(vip), 100),
            Some(SimTime::from_millis(1_090))
        );
        // Moved to a node of the sender's region: the link's own latency, but never
        // before what the link already carries (FIFO).
        net.move_vip(vip, Some(2));
        assert_eq!(
            net.transmit(t, 1, Dest::Vip(vip), 100),
            Some(SimTime::from_millis(1_090))
        );
        let later = SimTime::from_secs(2);
        assert_eq!(
            net.transmit(later, 1, Dest::Vip(vip), 100),
            Some(SimTime::from_millis(2_010))
        );
    }

    #[test]
    fn jitter_never_reorders_a_link_and_stays_above_latency() {
        let spec = LinkSpec {
            latency: SimDuration::from_millis(5),
            jitter: SimDuration::from_millis(3),
            ..LinkSpec::default()
        };
        let mut net = net_with(spec);
        let mut last = SimTime::ZERO;
        for i in 0..1000u64 {
            let now = SimTime::from_micros_for_test(i * 100);
            let arrival = net.transmit(now, 1, Dest::Node(2), 100).unwrap();
            assert!(arrival >= now + SimDuration::from_millis(5));
            assert!(arrival >= last);
            last = arrival;
        }
    }

    #[test]
    fn partitions_cut_and_heal() {
        let mut net = net_with(LinkSpec::default());
        net.partition(
            1,
            Partition {
                side_a: [1].into(),
                side_b: BTreeSet::new(),
                one_way: false,
            },
        );
        assert!(net.blocked(1, 2) && net.blocked(3, 1));
        assert!(!net.blocked(2, 3));
        assert_eq!(net.transmit(SimTime::ZERO, 2, Dest::Node(1), 10), None);
        net.heal(1);
        assert!(!net.blocked(1, 2));
        net.partition(
            2,
            Partition {
                side_a: [1].into(),
                side_b: [2].into(),
                one_way: true,
            },
        );
        assert!(net.blocked(1, 2) && !net.blocked(2, 1) && !net.blocked(1, 3));
    }

    #[test]
    fn loss_rate_matches_probability() {
        let spec = LinkSpec {
            loss: 0.25,
            ..LinkSpec::default()
        };
        let mut net = net_with(spec);
        let delivered = (0..10_000)
            .filter(|_| net.transmit(SimTime::ZERO, 1, Dest::Node(3), 1).is_some())
            .count();
        assert!((7_300..7_700).contains(&delivered), "{delivered}");
    }

    fn degradation(node: NodeId) -> Degradation {
        Degradation {
            node,
            extra_latency: SimDuration::ZERO,
            extra_jitter: SimDuration::ZERO,
            loss: 0.0,
            burst: SimDuration::ZERO,
            bandwidth_bps: 0,
            outbound_only: false,
        }
    }

    #[test]
    fn an_outbound_degradation_delays_only_what_the_node_sends() {
        let mut net = net_with(LinkSpec::default());
        let slow = Degradation {
            extra_latency: SimDuration::from_millis(300),
            outbound_only: true,
            ..degradation(3)
        };
        net.degrade(1, slow);
        let t = SimTime::ZERO;
        assert_eq!(net.transmit(t, 3, Dest::Node(1), 1), Some(SimTime::from_millis(301)));
        assert_eq!(net.transmit(t, 1, Dest::Node(3), 1), Some(SimTime::from_millis(1)));
    }

    #[test]
    fn degradation_adds_delay_and_caps_bandwidth_on_the_nodes_links_only_while_it_lasts() {
        let mut net = net_with(LinkSpec::default());
        let d = Degradation {
            extra_latency: SimDuration::from_millis(200),
            bandwidth_bps: 8_000,
            ..degradation(3)
        };
        net.degrade(7, d);
        // 1 ms link + 200 ms, after 1000 bytes at 8 kbit/s (1 s): to node 3 and from it.
        let t = SimTime::ZERO;
        assert_eq!(
            net.transmit(t, 1, Dest::Node(3), 1000),
            Some(SimTime::from_millis(1_201))
        );
        assert_eq!(
            net.transmit(t, 3, Dest::Node(1), 1000),
            Some(SimTime::from_millis(1_201))
        );
        // Another pair of nodes is untouched.
        assert_eq!(net.transmit(t, 1, Dest::Node(2), 1000), Some(SimTime::from_millis(1)));
        net.restore(7);
        let later = SimTime::from_secs(10);
        assert_eq!(
            net.transmit(later, 1, Dest::Node(3), 1000),
            Some(later + SimDuration::from_millis(1))
        );
    }

    #[test]
    fn gilbert_elliott_loss_has_the_asked_rate_and_burst_length() {
        let mut net = net_with(LinkSpec::default());
        net.degrade(
            1,
            Degradation {
                loss: 0.1,
                burst: SimDuration::from_millis(50),
                ..degradation(3)
            },
        );
        // One message per millisecond for 500 s: bursts of ~50 messages, 10% lost.
        let outcomes: Vec<bool> = (0..500_000)
            .map(|ms| net.transmit(SimTime::from_millis(ms), 1, Dest::Node(3), 1).is_none())
            .collect();
        let lost = outcomes.iter().filter(|&&l| l).count() as f64;
        let bursts = outcomes.windows(2).filter(|w| !w[0] && w[1]).count() as f64;
        let rate = lost / outcomes.len() as f64;
        let mean_burst_ms = lost / bursts;
        assert!((rate - 0.1).abs() < 0.01, "loss {rate}");
        assert!((mean_burst_ms - 50.0).abs() < 5.0, "burst {mean_burst_ms} ms");
        assert_eq!(net.lost(), lost as u64);
        // A link that sends rarely sees the same share of time lost, not longer bursts.
        let sparse = (0..20_000)
            .filter(|s| {
                net.transmit(SimTime::from_secs(1_000 + s), 3, Dest::Node(1), 1)
                    .is_none()
            })
            .count() as f64;
        assert!((sparse / 20_000.0 - 0.1).abs() < 0.02, "sparse loss {sparse}");
    }

    #[test]
    fn overlapping_degradations_each_keep_their_own_loss() {
        // 30% on node 3's links and 30% on node 1's: the link 1 → 3 is in both, so it
        // loses about 1 − 0.7² = 51%; a link in one loses about 30%.
        let mut net = net_with(LinkSpec::default());
        let lossy = |node| Degradation {
            loss: 0.3,
            burst: SimDuration::from_millis(50),
            ..degradation(node)
        };
        net.degrade(1, lossy(3));
        net.degrade(2, lossy(1));
        let share = |net: &mut Network, from: NodeId, to: NodeId| {
            (0..100_000)
                .filter(|&ms| {
                    net.transmit(SimTime::from_millis(ms), from, Dest::Node(to), 1)
                        .is_none()
                })
                .count() as f64
                / 100_000.0
        };
        let both = share(&mut net, 1, 3);
        let one = share(&mut net, 2, 3);
        assert!((both - 0.51).abs() < 0.04, "both: {both}");
        assert!((one - 0.3).abs() < 0.03, "one: {one}");
    }

    impl SimTime {
        fn from_micros_for_test(us: u64) -> SimTime {
            SimTime::from_nanos(us * 1000)
        }
    }
}
