//! Checks of what names nodes and what breaks them: groups, regions, scheduled and
//! random faults.

use super::*;

/// A fault's settings against its kind: required ones present, foreign ones absent,
/// the target of a role the kind applies to.
fn check_fault_settings(c: &mut Checker<'_>, at: &str, fault: &Fault, kind: FaultKind, candidates: &[String]) {
    let given = fault.settings_given();
    let name = kind.name();
    let spec = kind.spec();
    let missing: Vec<&str> = (spec.required.iter().copied())
        .filter(|key| !given.contains(key))
        .collect();
    let lacking = if spec.any_of {
        missing.len() == spec.required.len() && !missing.is_empty()
    } else {
        !missing.is_empty()
    };
    if lacking {
        let needs = if spec.any_of {
            format!("at least one of `{}`", missing.join("`, `"))
        } else {
            format!("`{}`", missing.join("`, `"))
        };
        c.error(
            &format!("{at}.kind"),
            format!("{} {} fault needs {needs}", article(name), name),
            format!("add e.g. {}", spec.example),
        );
    }
    for key in given.into_iter().filter(|key| !kind.accepts(key)) {
        let takers: Vec<&str> = (FaultKind::ALL.iter())
            .filter(|k| k.accepts(key))
            .map(|k| k.name())
            .collect();
        c.error(
            &format!("{at}.{key}"),
            format!("`{key}` applies to {} faults, not {name}", takers.join(", ")),
            format!("remove it, or make the fault's kind {}", takers.join(" or ")),
        );
    }
    let fits = |node: &String| spec.targets.iter().any(|prefix| node.starts_with(prefix));
    if let Some(misfit) = candidates.iter().find(|node| !spec.targets.is_empty() && !fits(node)) {
        let roles: Vec<String> = spec
            .targets
            .iter()
            .map(|p| p.trim_end_matches('-').to_string())
            .collect();
        let named = if misfit == &fault.target {
            format!("`{misfit}`")
        } else {
            format!("`{misfit}` (from `{}`)", fault.target)
        };
        c.error(
            &format!("{at}.target"),
            format!("{name} targets {}, not {named}", article_list(&roles)),
            format!("name one, e.g. `{}1`", spec.targets[0]),
        );
    }
}

/// The ranges of a fault's settings (a `[[fault]]` or a random kind's).
fn check_fault_values(c: &mut Checker<'_>, at: &str, fault: &Fault) {
    if let Some(mbps) = fault.capacity_mbps.filter(|m| !(m.is_finite() && *m > 0.0)) {
        c.error(
            &format!("{at}.capacity_mbps"),
            format!("capacity_mbps = {mbps} is not a positive number"),
            "give the edge's capacity during the fault in Mbit/s, e.g. 50",
        );
    }
    if fault.delay.is_some_and(|d| d.0.is_zero()) {
        c.error(
            &format!("{at}.delay"),
            "delay must be longer than zero",
            "give how much later, e.g. \"500ms\"",
        );
    }
    if let Some(drift) = fault.drift.filter(|d| !(d.is_finite() && *d > -1.0 && *d <= 10.0)) {
        c.error(
            &format!("{at}.drift"),
            format!("drift = {drift} is not a clock rate change in (-1, 10]"),
            "give the share the clock runs fast or slow, e.g. -0.5 (half speed) or 0.001",
        );
    }
    if fault.capacity_streams == Some(0) {
        c.error(
            &format!("{at}.capacity_streams"),
            "capacity_streams = 0 would make the server package nothing",
            "give at least 1; to take the server down use node.crash",
        );
    }
    if let Some(loss) = fault.loss.filter(|l| !(0.0..1.0).contains(l)) {
        c.error(
            &format!("{at}.loss"),
            format!("loss = {loss} is not a probability below 1"),
            "use a share in [0, 1), e.g. 0.05; to cut a node off entirely use net.partition",
        );
    }
    if fault.loss_burst.is_some_and(|b| b.0.is_zero()) {
        c.error(
            &format!("{at}.loss_burst"),
            "loss_burst must be longer than zero",
            "give the mean length of a loss burst, e.g. \"200ms\"",
        );
    }
    if let Some(mbps) = fault.bandwidth_mbps.filter(|m| !(m.is_finite() && *m > 0.0)) {
        c.error(
            &format!("{at}.bandwidth_mbps"),
            format!("bandwidth_mbps = {mbps} is not a positive number"),
            "give the capped rate in Mbit/s, e.g. 10",
        );
    }
}

/// A fault's own `id`: a name that `during = "fault:ID+60s"` and the reports can
/// carry, and not one the random faults take.
fn check_fault_id(c: &mut Checker<'_>, at: &str, id: Option<&str>) {
    let Some(id) = id else { return };
    let path = format!("{at}.id");
    if id.trim().is_empty() {
        c.error(
            &path,
            "a fault id is empty",
            "name the fault, e.g. id = \"primary-crash\"",
        );
    } else if id.trim() != id {
        c.error(
            &path,
            format!("fault id `{id}` starts or ends with blanks"),
            format!("write id = \"{}\"", id.trim()),
        );
    } else if id.contains('+') {
        c.error(
            &path,
            format!("fault id `{id}` contains `+`"),
            "`+` separates the id from the time after the fault in `during = \"fault:ID+60s\"`: use another character, e.g. `-`",
        );
    } else if id.strip_prefix("random-").is_some_and(|n| n.parse::<u64>().is_ok()) {
        c.error(
            &path,
            format!("fault id `{id}` is how random faults are named"),
            "give the fault another id, e.g. id = \"primary-crash\"",
        );
    }
}

/// Every node `selector` could name (for draws, every candidate); reports why it names
/// nothing usable.
fn check_selector(c: &mut Checker<'_>, path: &str, selector: &str, universe: &Universe<'_>) -> Vec<String> {
    match universe.resolve::<rand_chacha::ChaCha8Rng>(selector, None) {
        Ok(nodes) => nodes,
        Err(e) => {
            let nodes = universe.nodes;
            let help = if !e.help.is_empty() {
                e.help
            } else {
                match did_you_mean(selector, nodes.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`? Nodes: {}", nodes.join(", ")),
                    None => format!(
                        "nodes in this scenario: {}; or a selector: role:edge, group:NAME, count:2:role:edge, percent:25:role:edge",
                        nodes.join(", ")
                    ),
                }
            };
            c.error(path, e.message, help);
            Vec::new()
        }
    }
}

pub(super) fn check_random_faults(
    c: &mut Checker<'_>,
    r: &RandomFaults,
    universe: &Universe<'_>,
    duration: SimDuration,
) {
    let from = r.from.map_or(SimDuration::ZERO, |d| d.0);
    let until = r.until.map_or(duration, |d| d.0);
    if from >= until || until > duration {
        c.error(
            "random_faults",
            format!("random faults window {from}..{until} is not inside the run (0s..{duration})"),
            "make random_faults.from earlier than random_faults.until, and until at most scenario.duration",
        );
    }
    if r.max_concurrent == 0 {
        c.error(
            "random_faults.max_concurrent",
            "max_concurrent = 0 would inject nothing",
            "give at least 1, or remove [random_faults]",
        );
    }
    for selector in &r.protected {
        check_selector(c, "random_faults.protected", selector, universe);
    }
    if r.kinds.is_empty() {
        c.error(
            "random_faults",
            "[random_faults] lists no kind",
            "add e.g. [[random_faults.kind]] with kind = \"node.crash\", target = \"role:edge\", mtbf = \"6h\", mttr = \"5m\"",
        );
    }
    let weighted = r.kinds.iter().any(|k| k.weight.is_some() && k.mtbf.is_none());
    if weighted && r.mtbf.is_none() {
        c.error(
            "random_faults",
            "kinds with a weight share random_faults.mtbf, which is not given",
            "add e.g. `mtbf = \"2h\"` to [random_faults]",
        );
    }
    if r.mtbf.is_some_and(|m| m.0.is_zero()) {
        c.error("random_faults.mtbf", "mtbf must be longer than zero", "e.g. \"2h\"");
    }
    // Arrivals are drawn before the run: refuse a rate no run could hold.
    let window = if until > from { until - from } else { SimDuration::ZERO };
    let rate_per_s: f64 = (r.mtbf.iter().filter(|_| weighted))
        .chain(r.kinds.iter().filter_map(|k| k.mtbf.as_ref()))
        .filter(|m| !m.0.is_zero())
        .map(|m| 1.0 / m.0.as_secs_f64())
        .sum();
    let expected = rate_per_s * window.as_secs_f64();
    if expected > MAX_RANDOM_ARRIVALS {
        c.error(
            "random_faults",
            format!("the mtbf values draw about {expected:.0} random faults in the window; at most {MAX_RANDOM_ARRIVALS:.0} are allowed"),
            "lengthen mtbf (faults minutes to hours apart are what a soak test needs)",
        );
    }
    for (k, kind) in r.kinds.iter().enumerate() {
        let at = format!("random_faults.kind[{k}]");
        let Some(spec) = FaultKind::by_name(&kind.kind) else {
            c.one_of(&format!("{at}.kind"), &kind.kind, FaultKind::NAMES, &[]);
            continue;
        };
        match (kind.weight, kind.mtbf) {
            (Some(_), Some(_)) | (None, None) => c.error(
                &at,
                format!("random {} faults need either a `weight` or their own `mtbf`", kind.kind),
                "give `weight = 1` (sharing random_faults.mtbf) or `mtbf = \"6h\"`",
            ),
            (Some(w), None) if !(w.is_finite() && w > 0.0) => c.error(
                &format!("{at}.weight"),
                format!("weight = {w} is not a positive number"),
                "e.g. `weight = 1`",
            ),
            (None, Some(m)) if m.0.is_zero() => {
                c.error(&format!("{at}.mtbf"), "mtbf must be longer than zero", "e.g. \"6h\"")
            }
            _ => {}
        }
        if kind.mttr.0.is_zero() {
            c.error(&format!("{at}.mttr"), "mttr must be longer than zero", "e.g. \"5m\"");
        }
        for (key, value) in [
            ("interval_distribution", &kind.interval_distribution),
            ("duration_distribution", &kind.duration_distribution),
        ] {
            c.one_of(&format!("{at}.{key}"), value, Distribution::NAMES, &[]);
        }
        if spec == FaultKind::RegionOutage {
            if universe.regions.is_empty() {
                c.error(&at, "random region outages need regions", "define them under [regions]");
            }
            if kind.target.as_ref().is_some_and(|t| !t.starts_with("region:")) {
                c.error(
                    &format!("{at}.target"),
                    "a random region.outage draws among regions: its target is `region:NAME` or none",
                    "write `target = \"region:eu\"`, or leave target out to draw any region",
                );
            }
        }
        let target = kind.target.clone().unwrap_or_else(|| "every node".to_string());
        let candidates = match &kind.target {
            Some(selector) => check_selector(c, &format!("{at}.target"), selector, universe),
            None => universe.nodes.to_vec(),
        };
        let template = kind.fault(String::new(), SimDuration::ZERO, target, kind.mttr.0);
        check_fault_settings(c, &at, &template, spec, &candidates);
        check_fault_values(c, &at, &template);
    }
}

/// The indefinite article before `word` (by its first letter).
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// "an encoder", "an edge or a lb".
fn article_list(roles: &[String]) -> String {
    let with_article = |r: &String| format!("{} {r}", article(r));
    roles.iter().map(with_article).collect::<Vec<_>>().join(" or ")
}

/// Groups and regions: every member names nodes, and a node is in one region.
pub(super) fn check_placement(c: &mut Checker<'_>, s: &Scenario, universe: &Universe<'_>, counts_ok: bool) {
    let groups = if counts_ok { &s.groups } else { &BTreeMap::new() };
    for (name, members) in groups {
        for member in members {
            check_selector(c, &format!("groups.{name}"), member, universe);
        }
    }
    let mut region_of: BTreeMap<String, &str> = BTreeMap::new();
    let regions = if counts_ok { &s.regions } else { &BTreeMap::new() };
    for (name, members) in regions {
        for member in members {
            if universe.draws(member) {
                c.error(
                    &format!("regions.{name}"),
                    format!("`{member}` in region `{name}` draws its nodes (count: or percent:), but a region places nodes for the whole run"),
                    "name the nodes (e.g. \"edge-1\"), a role or a group without draws",
                );
                continue;
            }
            for node in check_selector(c, &format!("regions.{name}"), member, universe) {
                if let Some(other) = region_of.insert(node.clone(), name).filter(|o| o != name) {
                    c.error(
                        &format!("regions.{name}"),
                        format!("`{node}` is in region `{other}` and in region `{name}`"),
                        "a node runs in one region: remove it from one of them",
                    );
                }
            }
        }
    }
}

/// Random and scheduled faults: ids, kinds, targets, times, settings, triggers.
pub(super) fn check_faults(c: &mut Checker<'_>, s: &Scenario, universe: &Universe<'_>, counts_ok: bool) {
    let duration = s.scenario.duration.0;
    if let Some(random) = s.random_faults.as_ref().filter(|_| counts_ok) {
        check_random_faults(c, random, universe, duration);
    }
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for (n, fault) in s.faults.iter().enumerate() {
        let at = format!("fault[{n}]");
        check_fault_id(c, &at, fault.id.as_deref());
        if let Some(first) = ids.insert(s.fault_id(n), n) {
            c.error(
                &format!("{at}.id"),
                format!("fault id `{}` is also fault[{first}]'s", s.fault_id(n)),
                "give each fault its own `id` (reports and `during = \"fault:ID\"` name faults by it)",
            );
        }
        if FaultKind::by_name(&fault.kind).is_none() {
            c.one_of(&format!("{at}.kind"), &fault.kind, FaultKind::NAMES, &[]);
        }
        let candidates = match counts_ok {
            true => check_selector(c, &format!("{at}.target"), &fault.target, universe),
            false => Vec::new(),
        };
        if let Some(other) = fault.other.as_ref().filter(|_| counts_ok) {
            check_selector(c, &format!("{at}.other"), other, universe);
        }
        if fault.at.0 >= duration {
            c.error(
                &format!("{at}.at"),
                format!(
                    "fault at \"{}\" is outside the run (scenario.duration = \"{}\")",
                    fault.at.0, duration
                ),
                "move the fault before the end of the run or lengthen the run",
            );
        }
        if let Some(kind) = FaultKind::by_name(&fault.kind) {
            check_fault_settings(c, &at, fault, kind, &candidates);
        }
        if FaultKind::by_name(&fault.kind) == Some(FaultKind::RegionOutage) && !fault.target.starts_with("region:") {
            c.error(
                &format!("{at}.target"),
                format!("region.outage targets a region, not `{}`", fault.target),
                "write `region:NAME` for a region under [regions]; to crash one node use node.crash",
            );
        }
        match (&fault.on, fault.after) {
            (Some(event), _) if Milestone::by_name(event).is_none() => {
                c.one_of(&format!("{at}.on"), event, Milestone::NAMES, &[]);
            }
            (None, Some(_)) => c.error(
                &format!("{at}.after"),
                "`after` applies to faults started by an event (`on`)",
                "add e.g. `on = \"failover.started\"`, or remove `after`",
            ),
            _ => {}
        }
        check_fault_values(c, &at, fault);
        if fault.duration.is_some_and(|d| d.0.is_zero()) {
            c.error(
                &format!("{at}.duration"),
                "a fault's duration must be greater than zero",
                "omit duration for a fault that never ends",
            );
        }
    }
}
