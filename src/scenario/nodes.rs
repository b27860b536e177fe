//! The node table: every node a scenario runs, its name and its id, built by one
//! function. Ids follow spawn order; selectors (`role:edge`, `count:2:role:edge`) see
//! the nodes in their own order, which seeded draws depend on.

use std::ops::Range;

use super::settings::{Balancing, Redundancy};
use super::Scenario;
use crate::sim::{NodeId, KERNEL};

/// Every node of a scenario by id, and where each kind's ids lie.
///
/// Id order: the kernel (0), encoders, ingest servers, `manager-1`, origins, shields,
/// edges, one viewer cohort per edge, then the nodes appended later so that they
/// shift no id before them: `dns-1` (DNS failover), `monitor-1`, `manager-2` and
/// `lease-1` (a manager pair), then `cdn-dns` (round-robin DNS) or the `lb-N` devices
/// (hardware balancing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTable {
    /// Names by id; id 0 is the kernel.
    names: Vec<String>,
    pub encoders: Range<NodeId>,
    pub ingest: Range<NodeId>,
    pub manager: NodeId,
    pub origins: Range<NodeId>,
    pub shields: Range<NodeId>,
    pub edges: Range<NodeId>,
    /// `viewers-N`: the cohort of the viewers whose primary edge is `edge-N`.
    pub cohorts: Range<NodeId>,
    pub dns: Option<NodeId>,
    pub monitor: NodeId,
    pub manager_2: Option<NodeId>,
    pub lease: Option<NodeId>,
    pub cdn_dns: Option<NodeId>,
    pub lbs: Range<NodeId>,
}

/// Ids `start..start + count`, and the next free id.
fn take(next: &mut NodeId, count: u32) -> Range<NodeId> {
    let range = *next..*next + count;
    *next += count;
    range
}

fn take_if(next: &mut NodeId, present: bool) -> Option<NodeId> {
    present.then(|| take(next, 1).start)
}

impl NodeTable {
    /// The nodes of `s`. An enumerated setting with an unknown name counts as absent
    /// (validation reports it), so a table can be built for any scenario whose counts
    /// are in range.
    pub fn of(s: &Scenario) -> NodeTable {
        let (redundancy, balancing) = (s.redundancy(), s.balancing());
        let mut next = KERNEL + 1;
        let encoders = take(&mut next, s.encoders.count);
        let ingest = take(&mut next, s.ingest.servers);
        let manager = take(&mut next, 1).start;
        let origins = take(&mut next, s.cdn.origins);
        let shields = take(&mut next, s.cdn.shields);
        let edges = take(&mut next, s.cdn.edges);
        let cohorts = take(&mut next, s.cdn.edges);
        let dns = take_if(&mut next, redundancy == Some(Redundancy::Dns));
        let monitor = take(&mut next, 1).start;
        let pair = s.managers.count > 1;
        let manager_2 = take_if(&mut next, pair);
        let lease = take_if(&mut next, pair);
        let cdn_dns = take_if(&mut next, balancing == Some(Balancing::RoundRobinDns));
        let devices = if balancing == Some(Balancing::Hardware) {
            s.lb.devices
        } else {
            0
        };
        let lbs = take(&mut next, devices);

        let mut names = Vec::with_capacity(next as usize);
        names.push("kernel".to_string());
        let numbered = |prefix: &str, range: &Range<NodeId>| {
            (1..=range.len())
                .map(move |n| format!("{prefix}-{n}"))
                .collect::<Vec<_>>()
        };
        names.extend(numbered("encoder", &encoders));
        names.extend(numbered("ingest", &ingest));
        names.push("manager-1".into());
        names.extend(numbered("origin", &origins));
        names.extend(numbered("shield", &shields));
        names.extend(numbered("edge", &edges));
        names.extend(numbered("viewers", &cohorts));
        names.extend(dns.map(|_| "dns-1".to_string()));
        names.push("monitor-1".into());
        names.extend(manager_2.map(|_| "manager-2".to_string()));
        names.extend(lease.map(|_| "lease-1".to_string()));
        names.extend(cdn_dns.map(|_| "cdn-dns".to_string()));
        names.extend(numbered("lb", &lbs));
        debug_assert_eq!(names.len(), next as usize);
        NodeTable {
            names,
            encoders,
            ingest,
            manager,
            origins,
            shields,
            edges,
            cohorts,
            dns,
            monitor,
            manager_2,
            lease,
            cdn_dns,
            lbs,
        }
    }

    /// Names by id (id 0 is the kernel).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn name(&self, id: NodeId) -> &str {
        &self.names[id as usize]
    }

    /// How many ids there are, the kernel's included.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The nodes selectors and faults can name, in the order they see them (seeded
    /// draws pick by place in it): encoders, ingest servers, managers, origins,
    /// shields, edges, then `dns-1`, `monitor-1`, `lease-1`, `cdn-dns`, `lb-N`.
    /// Viewer cohorts are not faults' targets.
    pub fn selectable(&self) -> Vec<String> {
        let ids = (self.encoders.clone())
            .chain(self.ingest.clone())
            .chain([self.manager])
            .chain(self.manager_2)
            .chain(self.origins.clone())
            .chain(self.shields.clone())
            .chain(self.edges.clone())
            .chain(self.dns)
            .chain([self.monitor])
            .chain(self.lease)
            .chain(self.cdn_dns)
            .chain(self.lbs.clone());
        ids.map(|id| self.names[id as usize].clone()).collect()
    }
}

impl NodeTable {
    /// Ids by name, for looking up many names at once.
    pub fn ids_by_name(&self) -> std::collections::HashMap<&str, NodeId> {
        (self.names.iter().enumerate())
            .map(|(id, name)| (name.as_str(), id as NodeId))
            .collect()
    }

    /// The names of `ids`.
    pub fn names_of(&self, ids: impl IntoIterator<Item = NodeId>) -> Vec<String> {
        ids.into_iter().map(|id| self.names[id as usize].clone()).collect()
    }
}
