//! Fault target selectors: which nodes a `target` names. A node id (`edge-3`), every
//! node of a role (`role:edge`), a named group (`group:NAME`, from `[groups]`), a
//! region (`region:NAME`, from `[regions]`), or
//! `count:N:SELECTOR` / `percent:P:SELECTOR`: N nodes (P% rounded up, at least one) of
//! what SELECTOR names, drawn from the run's seed.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use rand::seq::SliceRandom;
use rand::Rng;

/// Roles and the node-name prefixes that make them.
pub const ROLES: &[(&str, &[&str])] = &[
    ("encoder", &["encoder-"]),
    ("ingest", &["ingest-"]),
    ("manager", &["manager-"]),
    ("origin", &["origin-"]),
    ("shield", &["shield-"]),
    ("edge", &["edge-"]),
    ("dns", &["dns-", "cdn-dns"]),
    ("monitor", &["monitor-"]),
    ("lease", &["lease-"]),
    ("lb", &["lb-"]),
];

/// Nesting allowed through groups and draws (a group naming itself is an error).
const MAX_DEPTH: usize = 8;
/// Selectors visited to resolve one target: groups naming groups many times over
/// would otherwise take exponential time. A region may name each of the 10,000 edges
/// a scenario can have, and a group two such regions.
const MAX_STEPS: u32 = 100_000;
/// Selectors visited and nodes named by all the targets of one scenario together
/// (resolving costs 0.1 to 0.2 µs for each): room for 100 faults on every one of
/// 10,000 edges, and at most about half a second of checking.
pub const MAX_NAMED: usize = 2_000_000;

/// What a selector can name: the scenario's nodes (in id order) and its groups.
pub struct Universe<'a> {
    pub nodes: &'a [String],
    pub groups: &'a BTreeMap<String, Vec<String>>,
    pub regions: &'a BTreeMap<String, Vec<String>>,
    /// Each node's place in `nodes`: selections are sorted into node order and plain
    /// ids looked up without scanning every node (10,000 edges are allowed). Only
    /// looked up, never iterated, so its order cannot leak into a result.
    place: HashMap<&'a str, usize>,
    /// Selectors visited and nodes named by every resolution so far, held to
    /// [`MAX_NAMED`] so that no scenario costs more than that to check or build.
    named: Cell<usize>,
}

impl<'a> Universe<'a> {
    pub fn new(
        nodes: &'a [String],
        groups: &'a BTreeMap<String, Vec<String>>,
        regions: &'a BTreeMap<String, Vec<String>>,
    ) -> Universe<'a> {
        // The first place of a name, as a search from the front would find it.
        let mut place = HashMap::with_capacity(nodes.len());
        for (i, name) in nodes.iter().enumerate() {
            place.entry(name.as_str()).or_insert(i);
        }
        Universe {
            nodes,
            groups,
            regions,
            place,
            named: Cell::new(0),
        }
    }

    /// Where node `name` stands in node order (`None`: no such node, sorted first).
    fn place_of(&self, name: &str) -> Option<usize> {
        self.place.get(name).copied()
    }
}

/// Why a selector names nothing usable; the text is the message, `help` the fix.
#[derive(Debug, PartialEq)]
pub struct SelectError {
    pub message: String,
    pub help: String,
}

fn error(message: String, help: impl Into<String>) -> SelectError {
    SelectError {
        message,
        help: help.into(),
    }
}

impl Universe<'_> {
    /// The nodes `selector` names, in node order; draws use `rng`. Without `rng`
    /// (validation) a draw names every candidate it could draw from.
    pub fn resolve<R: Rng>(&self, selector: &str, rng: Option<&mut R>) -> Result<Vec<String>, SelectError> {
        if self.named.get() > MAX_NAMED {
            return Err(error(
                format!("the targets of this scenario name more than {MAX_NAMED} nodes in all"),
                "target roles, groups or regions once, not in many faults: e.g. [random_faults] draws faults over them",
            ));
        }
        let mut steps = 0;
        let picked = self.resolve_at(selector, rng, 0, &mut steps);
        self.named
            .set(self.named.get() + steps as usize + picked.as_ref().map_or(0, Vec::len));
        let mut picked = picked.map_err(|e| {
            if steps > MAX_STEPS {
                error(
                    format!("target `{selector}` expands through more than {MAX_STEPS} group members"),
                    e.help,
                )
            } else {
                e
            }
        })?;
        picked.sort_by_key(|name| self.place_of(name));
        picked.dedup();
        Ok(picked)
    }

    /// Whether `selector` draws (`count:`/`percent:`), itself or through the groups and
    /// regions it names: what it names then hangs on the seed.
    pub fn draws(&self, selector: &str) -> bool {
        self.draws_at(selector, 0)
    }

    fn draws_at(&self, selector: &str, depth: usize) -> bool {
        let selector = selector.trim();
        if depth > MAX_DEPTH {
            // Too deep to resolve at all: resolving reports it.
            return false;
        }
        if selector.starts_with("count:") || selector.starts_with("percent:") {
            return true;
        }
        let named = [("group:", self.groups), ("region:", self.regions)];
        named.iter().any(|&(prefix, sets)| {
            (selector.strip_prefix(prefix))
                .and_then(|name| sets.get(name))
                .is_some_and(|members| members.iter().any(|m| self.draws_at(m, depth + 1)))
        })
    }

    fn resolve_at<R: Rng>(
        &self,
        selector: &str,
        rng: Option<&mut R>,
        depth: usize,
        steps: &mut u32,
    ) -> Result<Vec<String>, SelectError> {
        *steps += 1;
        if *steps > MAX_STEPS {
            return Err(error(
                format!("target `{selector}` expands through more than {MAX_STEPS} group members"),
                "groups that name other groups many times over: name the nodes or roles directly",
            ));
        }
        if depth > MAX_DEPTH {
            return Err(error(
                format!("target `{selector}` nests groups or draws more than {MAX_DEPTH} deep"),
                "a group may not name itself, directly or through other groups",
            ));
        }
        let selector = selector.trim();
        if let Some(rest) = selector
            .strip_prefix("count:")
            .or_else(|| selector.strip_prefix("percent:"))
        {
            let percent = selector.starts_with("percent:");
            let (number, inner) = rest.split_once(':').ok_or_else(|| {
                error(
                    format!("target `{selector}` lacks what to draw from"),
                    "write e.g. `count:2:role:edge` or `percent:25:role:edge`",
                )
            })?;
            let number: u32 = number.trim().parse().map_err(|_| {
                error(
                    format!("`{number}` in target `{selector}` is not a whole number"),
                    "write e.g. `count:2:role:edge` or `percent:25:role:edge`",
                )
            })?;
            let mut rng = rng;
            let mut candidates = self.resolve_at(inner, rng.as_deref_mut(), depth + 1, steps)?;
            candidates.sort_by_key(|name| self.place_of(name));
            candidates.dedup();
            let wanted = if percent {
                if !(1..=100).contains(&number) {
                    return Err(error(
                        format!("percent:{number} in target `{selector}` is not between 1 and 100"),
                        "give a share of the group in percent, e.g. `percent:25:role:edge`",
                    ));
                }
                (candidates.len() * number as usize).div_ceil(100).max(1)
            } else {
                number as usize
            };
            if wanted == 0 || wanted > candidates.len() {
                return Err(error(
                    format!("target `{selector}` draws {wanted} of {} nodes", candidates.len()),
                    format!("draw between 1 and {} nodes", candidates.len()),
                ));
            }
            return Ok(match rng {
                Some(rng) => candidates.choose_multiple(rng, wanted).cloned().collect(),
                None => candidates,
            });
        }
        if let Some(role) = selector.strip_prefix("role:") {
            let Some((_, prefixes)) = ROLES.iter().find(|(name, _)| *name == role) else {
                let roles: Vec<&str> = ROLES.iter().map(|(name, _)| *name).collect();
                return Err(error(
                    format!("unknown role `{role}` in target `{selector}`"),
                    format!("roles: {}", roles.join(", ")),
                ));
            };
            let members: Vec<String> = (self.nodes.iter())
                .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
                .cloned()
                .collect();
            if members.is_empty() {
                return Err(error(
                    format!("target `{selector}`: this scenario has no {role} node"),
                    "name a role the topology has",
                ));
            }
            return Ok(members);
        }
        let named = [("group", "groups", self.groups), ("region", "regions", self.regions)];
        if let Some((what, table, sets, name)) = (named.iter()).find_map(|&(what, table, sets)| {
            selector
                .strip_prefix(what)
                .and_then(|r| r.strip_prefix(':'))
                .map(|name| (what, table, sets, name))
        }) {
            let Some(members) = sets.get(name) else {
                let known: Vec<&str> = sets.keys().map(String::as_str).collect();
                let help = if known.is_empty() {
                    format!("define it under [{table}], e.g. `eu = [\"edge-1\", \"edge-2\"]`")
                } else {
                    format!("{table}: {}", known.join(", "))
                };
                return Err(error(format!("unknown {what} `{name}` in target `{selector}`"), help));
            };
            let mut rng = rng;
            let mut all = Vec::new();
            for member in members {
                all.extend(self.resolve_at(member, rng.as_deref_mut(), depth + 1, steps)?);
            }
            return Ok(all);
        }
        if self.place_of(selector).is_some() {
            return Ok(vec![selector.to_string()]);
        }
        Err(error(
            format!("fault target `{selector}` is not a node of this scenario"),
            "",
        ))
    }
}

/// Whether `selector` is a plain node id (no role, group or draw).
pub fn is_node_id(selector: &str) -> bool {
    !["count:", "percent:", "role:", "group:", "region:"]
        .iter()
        .any(|prefix| selector.trim().starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes() -> Vec<String> {
        [
            "encoder-1",
            "ingest-1",
            "ingest-2",
            "edge-1",
            "edge-2",
            "edge-3",
            "edge-4",
            "cdn-dns",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn ids_roles_groups_and_draws() {
        let nodes = nodes();
        let groups = BTreeMap::from([
            ("west".to_string(), vec!["edge-1".to_string(), "edge-2".to_string()]),
            (
                "front".to_string(),
                vec!["group:west".to_string(), "role:dns".to_string()],
            ),
            ("loop".to_string(), vec!["group:loop".to_string()]),
        ]);
        let regions = BTreeMap::from([("eu".to_string(), vec!["ingest-1".to_string(), "edge-1".to_string()])]);
        let u = Universe::new(&nodes, &groups, &regions);
        assert_eq!(
            u.resolve::<ChaCha8Rng>("region:eu", None).unwrap(),
            ["ingest-1", "edge-1"]
        );
        assert_eq!(
            u.resolve::<ChaCha8Rng>("region:us", None).unwrap_err().message,
            "unknown region `us` in target `region:us`"
        );
        let none: Option<&mut ChaCha8Rng> = None;
        assert_eq!(u.resolve("edge-3", none).unwrap(), ["edge-3"]);
        let all_edges = u.resolve::<ChaCha8Rng>("role:edge", None).unwrap();
        assert_eq!(all_edges, ["edge-1", "edge-2", "edge-3", "edge-4"]);
        assert_eq!(
            u.resolve::<ChaCha8Rng>("group:front", None).unwrap(),
            ["edge-1", "edge-2", "cdn-dns"]
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let two = u.resolve("count:2:role:edge", Some(&mut rng)).unwrap();
        assert_eq!(two.len(), 2);
        assert!(two.iter().all(|n| all_edges.contains(n)));
        // 25% of 4 edges is one; 30% rounds up to two.
        assert_eq!(u.resolve("percent:25:role:edge", Some(&mut rng)).unwrap().len(), 1);
        assert_eq!(u.resolve("percent:30:role:edge", Some(&mut rng)).unwrap().len(), 2);
        // The same seed draws the same nodes.
        let again = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            u.resolve("count:2:role:edge", Some(&mut rng)).unwrap()
        };
        assert_eq!(again(7), again(7));
        let err = |s: &str| u.resolve::<ChaCha8Rng>(s, None).unwrap_err().message;
        assert_eq!(
            err("count:5:role:edge"),
            "target `count:5:role:edge` draws 5 of 4 nodes"
        );
        assert_eq!(err("role:cache"), "unknown role `cache` in target `role:cache`");
        assert_eq!(err("role:lb"), "target `role:lb`: this scenario has no lb node");
        assert_eq!(err("group:east"), "unknown group `east` in target `group:east`");
        assert!(err("group:loop").contains("nests groups or draws more than"));
        assert_eq!(
            err("count:two:role:edge"),
            "`two` in target `count:two:role:edge` is not a whole number"
        );
    }
}
