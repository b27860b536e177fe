//! Semantic checks of a parsed scenario. Every problem is collected (not just the
//! first), each pointing at the offending key with a fix.

use std::collections::BTreeMap;
use std::ops::Range;

use super::chaos::{RandomFaults, DISTRIBUTIONS};
use super::diag::{did_you_mean, Diagnostic, Diagnostics};
use super::include::Sources;
use super::select::Universe;
use super::{Fault, FaultKind, Scenario, FAULT_KIND_SPECS};
use crate::actors::monitor::MonitorMetric;
use crate::control::balance::Algorithm;
use crate::control::lease::LeaseConfig;
use crate::control::player::PlayerConfig;
use crate::metrics::summary::{METRICS, WINDOWED_METRICS};
use crate::metrics::TRIGGER_EVENTS;
use crate::time::SimDuration;

/// Most random-fault arrivals a scenario may draw (each is kept in memory).
const MAX_RANDOM_ARRIVALS: f64 = 100_000.0;
/// Longest run (the timeline keeps a row per simulated second).
const MAX_DURATION: SimDuration = SimDuration::from_secs(30 * 86_400);
/// Most edges: a 30-minute run with this many (and 20 viewers) took 19 s and 544 MB
/// where docs/performance.md ("Many edges") measured it; memory and work grow
/// linearly with edges.
const MAX_EDGES: u32 = 10_000;
const MAX_INGEST_SERVERS: u32 = 64;
/// Highest relative arrival rate: the curve's area over a 30-day run stays far inside
/// an f64's exact range (rates are relative, so this limits nothing real).
const MAX_ARRIVAL_RATE: f64 = 1e12;
/// Shortest `cdn.shield_fallback_after`: edges probe their shield 4 times in it.
const MIN_SHIELD_FALLBACK: SimDuration = SimDuration::from_secs(1);
/// Shortest health-check interval: faster probing is not a real deployment.
const MIN_HEALTH_INTERVAL: SimDuration = SimDuration::from_millis(10);
/// Shortest DNS health-check interval: Route 53's fast health checks (Route 53 API
/// Reference, `HealthCheckConfig.RequestInterval`: 10 or 30 s, 30 by default).
const MIN_DNS_HEALTH_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// Shortest first reconnect delay, and most attempts: OBS Studio's settings allow a
/// retry delay of 1 to 30 s and 1 to 10000 retries (obs-studio
/// `frontend/forms/OBSBasicSettings.ui`, `reconnectRetryDelay`, `reconnectMaxRetries`).
const MIN_RECONNECT_DELAY: SimDuration = SimDuration::from_secs(1);
const MAX_RECONNECT_ATTEMPTS: u32 = 10_000;
/// Shortest lease: a Kubernetes Lease keeps its duration in whole seconds
/// (`LeaseSpec.leaseDurationSeconds`, k8s.io/api/coordination/v1).
const MIN_LEASE: SimDuration = SimDuration::from_secs(1);

/// A diagnostic for a TOML syntax or type error, with a did-you-mean for unknown keys.
pub(super) fn from_toml(file: &str, source: &str, error: &toml::de::Error) -> Diagnostic {
    let message = super::diag::parser_message(error.message(), source, error.span());
    let mut d = Diagnostic::at(file, source, error.span(), message.clone());
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (unknown, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        d = match did_you_mean(unknown, candidates.iter().copied()) {
            Some(near) => d.with_help(format!("did you mean `{near}`?")),
            None => d.with_help(format!("remove `{unknown}` or use one of the keys listed")),
        };
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        d = d.with_help(missing_key_help(&table_of(source, error.span()), key));
    } else if in_sweep_table(source, error.span()) {
        d = d.with_help("[sweep] keys are dotted paths in quotes: \"ingest.health.interval\" = [\"1s\", \"2s\"]");
    } else if message.contains("has no unit") || message.contains("unknown unit") {
        d = d.with_help("durations are strings with a unit: \"500ms\", \"2s\", \"10m\", \"1h\"");
    }
    d
}

/// Most problems reported for one scenario: past these, the rest are counted, not
/// located (locating each costs a pass over the file, and nobody reads thousands).
const MAX_DIAGNOSTICS: usize = 50;

struct Checker<'a> {
    sources: &'a Sources,
    errors: Vec<Diagnostic>,
    /// Problems found past [`MAX_DIAGNOSTICS`].
    unreported: usize,
}

impl Checker<'_> {
    /// An error at the value of a dotted path such as `fault[1].target`, in the file
    /// that wrote it (or the nearest enclosing table the scenario file spells out).
    fn error(&mut self, path: &str, message: impl Into<String>, help: impl Into<String>) {
        if self.errors.len() >= MAX_DIAGNOSTICS {
            self.unreported += 1;
            return;
        }
        self.errors.push(self.sources.error_at(path, message).with_help(help));
    }

    /// The problems found, the last one saying how many more there were.
    fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.errors.is_empty() {
            return Ok(value);
        }
        if self.unreported > 0 {
            let last = self.errors.last().expect("some errors").clone();
            self.errors.push(Diagnostic {
                message: format!("{} more problems like these are not shown", self.unreported),
                help: Some("fix the ones above first".into()),
                ..last
            });
        }
        Err(Diagnostics(self.errors))
    }

    fn one_of(&mut self, path: &str, value: &str, allowed: &[&str], planned: &[&str]) {
        if allowed.contains(&value) {
            return;
        }
        if planned.contains(&value) {
            self.error(
                path,
                format!("`{path} = \"{value}\"` is not available in this version"),
                format!("use one of: {}", allowed.join(", ")),
            );
            return;
        }
        let help = match did_you_mean(value, allowed.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? (one of: {})", allowed.join(", ")),
            None => format!("use one of: {}", allowed.join(", ")),
        };
        self.error(path, format!("unknown value `{value}` for `{path}`"), help);
    }
}

/// A fault's settings against its kind: required ones present, foreign ones absent,
/// the target of a role the kind applies to.
fn check_fault_settings(c: &mut Checker<'_>, at: &str, fault: &Fault, kind: &FaultKind, candidates: &[String]) {
    let given = fault.settings_given();
    let missing: Vec<&str> = (kind.required.iter().copied())
        .filter(|key| !given.contains(key))
        .collect();
    let lacking = if kind.any_of {
        missing.len() == kind.required.len() && !missing.is_empty()
    } else {
        !missing.is_empty()
    };
    if lacking {
        let needs = if kind.any_of {
            format!("at least one of `{}`", missing.join("`, `"))
        } else {
            format!("`{}`", missing.join("`, `"))
        };
        c.error(
            &format!("{at}.kind"),
            format!("{} {} fault needs {needs}", article(kind.name), kind.name),
            format!("add e.g. {}", kind.example),
        );
    }
    for key in given.into_iter().filter(|key| !kind.accepts(key)) {
        let takers: Vec<&str> = (FAULT_KIND_SPECS.iter())
            .filter(|k| k.accepts(key))
            .map(|k| k.name)
            .collect();
        c.error(
            &format!("{at}.{key}"),
            format!("`{key}` applies to {} faults, not {}", takers.join(", "), kind.name),
            format!("remove it, or make the fault's kind {}", takers.join(" or ")),
        );
    }
    let fits = |node: &String| kind.targets.iter().any(|prefix| node.starts_with(prefix));
    if let Some(misfit) = candidates.iter().find(|node| !kind.targets.is_empty() && !fits(node)) {
        let roles: Vec<String> = kind
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
            format!("{} targets {}, not {named}", kind.name, article_list(&roles)),
            format!("name one, e.g. `{}1`", kind.targets[0]),
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

/// The viewers' arrival curve, sessions and regions.
fn check_workload(c: &mut Checker<'_>, s: &Scenario, duration: SimDuration, counts_ok: bool) {
    let v = &s.viewers;
    if !v.arrivals.is_empty() {
        if v.arrivals.len() < 2 {
            c.error(
                "viewers.arrivals",
                "an arrival curve needs at least two points",
                "give the rate at the start and at the end, e.g. arrivals = [{ at = \"0s\", rate = 1 }, { at = \"1h\", rate = 1 }]",
            );
        }
        for (i, point) in v.arrivals.iter().enumerate() {
            if i > 0 && point.at.0 < v.arrivals[i - 1].at.0 {
                c.error(
                    &format!("viewers.arrivals[{i}].at"),
                    format!(
                        "arrival point at {} comes before the one above it ({})",
                        point.at.0,
                        v.arrivals[i - 1].at.0
                    ),
                    "list the points in time order (two at the same instant make a step)",
                );
            }
            if !point.rate.is_finite() || !(0.0..=MAX_ARRIVAL_RATE).contains(&point.rate) {
                c.error(
                    &format!("viewers.arrivals[{i}].rate"),
                    format!("arrival rate {:e} is not a number in 0 ..= {MAX_ARRIVAL_RATE:e}", point.rate),
                    "rates are relative intensities: only their ratios matter, e.g. 1 at the start and 15 for a flash crowd",
                );
            }
        }
        let valid = (v.arrivals.iter()).all(|p| p.rate.is_finite() && (0.0..=MAX_ARRIVAL_RATE).contains(&p.rate));
        let ordered = v.arrivals.windows(2).all(|w| w[0].at.0 <= w[1].at.0);
        if v.arrivals.len() >= 2 && valid && ordered && super::workload::curve_area(&v.arrivals, duration) <= 0.0 {
            c.error(
                "viewers.arrivals",
                format!("the arrival curve has no arrivals before the end of the run ({duration})"),
                "give some point within the run a positive rate",
            );
        }
        let defaults = super::Viewers::default();
        let written = ["viewers.join_at", "viewers.join_over"]
            .into_iter()
            .find(|path| c.sources.writes(path));
        if written.is_some() || v.join_at != defaults.join_at || v.join_over != defaults.join_over {
            c.error(
                written.unwrap_or("viewers.join_at"),
                "viewers.join_at / join_over and viewers.arrivals both say when viewers join",
                "drop join_at and join_over: the arrival curve decides",
            );
        }
    }
    if let Some(session) = &v.session {
        c.one_of(
            "viewers.session.distribution",
            &session.distribution,
            super::workload::SESSION_DISTRIBUTIONS,
            &[],
        );
        if session.mean.0.is_zero() {
            c.error(
                "viewers.session.mean",
                "viewers.session.mean must be greater than zero",
                "e.g. mean = \"20m\"",
            );
        }
        if !(session.sigma > 0.0 && session.sigma <= 4.0) {
            c.error(
                "viewers.session.sigma",
                format!("viewers.session.sigma = {} is outside (0, 4]", session.sigma),
                "1.0 gives a long tail; larger values put almost every viewer far below the mean",
            );
        }
    }
    if counts_ok && !v.regions.is_empty() {
        if s.cdn.balancing != "software" {
            c.error(
                "viewers.regions",
                format!(
                    "viewers.regions with cdn.balancing = \"{}\": only the software balancer places viewers by region (no GeoDNS is modelled)",
                    s.cdn.balancing
                ),
                "set cdn.balancing = \"software\", or drop viewers.regions",
            );
        }
        let nodes = s.node_names();
        let universe = s.selectors(&nodes);
        for (name, &weight) in &v.regions {
            let path = format!("viewers.regions.{name}");
            if !s.regions.contains_key(name) {
                let help = match did_you_mean(name, s.regions.keys().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`? Regions are defined under [regions]"),
                    None => "define the region under [regions] first".to_string(),
                };
                c.error(&path, format!("unknown region `{name}`"), help);
                continue;
            }
            if !weight.is_finite() || weight < 0.0 {
                c.error(
                    &path,
                    format!("region weight {weight} is not a non-negative number"),
                    "use a share such as 0.4",
                );
                continue;
            }
            let edges: Vec<usize> = (universe.resolve::<rand_chacha::ChaCha20Rng>(&format!("region:{name}"), None))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|node| node.strip_prefix("edge-")?.parse::<usize>().ok())
                .collect();
            if weight > 0.0 && edges.is_empty() {
                c.error(
                    &path,
                    format!("region `{name}` has viewers but no edge"),
                    format!("add an edge to regions.{name}, or give it weight 0"),
                );
            }
            // The balancer never picks an edge of weight 0.
            let weights = &s.cdn.weights;
            let weighted = !weights.is_empty();
            if weight > 0.0 && weighted && edges.iter().all(|&e| weights.get(e - 1).is_none_or(|&w| w == 0)) {
                c.error(
                    &path,
                    format!("region `{name}` has viewers but every edge of it has weight 0 in cdn.weights"),
                    format!("give an edge of regions.{name} a positive weight, or give the region share 0"),
                );
            }
        }
        if v.regions.values().all(|&w| w.is_finite() && w <= 0.0) {
            c.error(
                "viewers.regions",
                "every region's share is 0: no viewer has a region",
                "give some region a positive share",
            );
        }
    }
}

/// Whether byte range `span` lies in the `[sweep]` table.
fn in_sweep_table(source: &str, span: Option<Range<usize>>) -> bool {
    let Some(span) = span else { return false };
    let before = &source[..span.start.min(source.len())];
    let header = before.lines().rev().find(|line| line.trim_start().starts_with('['));
    header.is_some_and(|line| line.trim() == "[sweep]")
}

/// The dotted name of the table an error's span stands in: `viewers.session` for
/// `[viewers.session]`, `fault` for `[[fault]]`, the key of an inline table or of an
/// array of them (`session = { … }` or `arrivals = [{ … }]` under `[viewers]`:
/// `viewers.session`, `viewers.arrivals`); empty at the top.
fn table_of(source: &str, span: Option<Range<usize>>) -> String {
    let Some(span) = span else { return String::new() };
    let start = span.start.min(source.len());
    let line_start = source[..start].rfind('\n').map_or(0, |at| at + 1);
    let line = source[line_start..].lines().next().unwrap_or("").trim();
    let header_of = |line: &str| line.trim_matches(|c| c == '[' || c == ']').trim().to_string();
    if line.starts_with('[') {
        return header_of(line);
    }
    let above = (source[..line_start].lines().rev())
        .find(|line| line.trim_start().starts_with('['))
        .map(header_of)
        .unwrap_or_default();
    // An inline table: the key before its `{`, or before the `[` of the array it is in.
    let before = &source[..start];
    let opening = if source[start..].starts_with('{') {
        let mut depth = 0usize;
        let unclosed = before.char_indices().rev().find(|&(_, c)| match c {
            ']' => {
                depth += 1;
                false
            }
            '[' if depth == 0 => true,
            '[' => {
                depth -= 1;
                false
            }
            _ => false,
        });
        match unclosed {
            Some((at, _)) if !before[..at].trim_end().ends_with('\n') && before[..at].trim_end().ends_with('=') => at,
            _ => start,
        }
    } else {
        return above;
    };
    let inline = before[..opening]
        .rsplit_once('=')
        .map(|(key, _)| key.rsplit(['{', ',', '\n']).next().unwrap_or("").trim().to_string())
        .filter(|key| !key.is_empty());
    match (above.is_empty(), inline) {
        (_, None) => above,
        (true, Some(key)) => key,
        (false, Some(key)) => format!("{above}.{key}"),
    }
}

/// What to write for required key `key` of table `table`, with an example value.
fn missing_key_help(table: &str, key: &str) -> String {
    let example = match (table, key) {
        ("scenario", "name") => "name = \"my-scenario\"",
        ("scenario", "duration") => "duration = \"30m\"",
        ("fault", "at") => "at = \"10m\"",
        ("fault", "kind") => "kind = \"node.crash\"",
        ("fault", "target") => "target = \"ingest-1\"",
        ("expect", "metric") => "metric = \"failover_latency_ms.p99\"",
        ("expect", "op") => "op = \"lt\"",
        ("expect", "value") => "value = 15000",
        ("alert", "name") => "name = \"stream-stale\"",
        ("alert", "metric") => "metric = \"stream_stale_s\"",
        ("alert", "op") => "op = \"gt\"",
        ("alert", "threshold") => "threshold = 10",
        ("viewers.session", "mean") => "mean = \"6m\"",
        ("viewers.arrivals", "at") => "at = \"10m\"",
        ("viewers.arrivals", "rate") => "rate = 1.0",
        ("random_faults.kind", "kind") => "kind = \"node.crash\"",
        ("random_faults.kind", "mttr") => "mttr = \"5m\"",
        _ => "",
    };
    let place = match table {
        "" => "the file".to_string(),
        "fault" | "expect" | "alert" | "random_faults.kind" => format!("this [[{table}]] entry"),
        "viewers.arrivals" => "each point of viewers.arrivals".to_string(),
        _ => format!("[{table}]"),
    };
    if example.is_empty() {
        format!("add `{key}` to {place}; docs/scenarios.md lists every key with its unit and range")
    } else {
        format!("add `{example}` to {place}; docs/scenarios.md lists every key with its unit and range")
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

fn check_random_faults(c: &mut Checker<'_>, r: &RandomFaults, universe: &Universe<'_>, duration: SimDuration) {
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
            let names: Vec<&str> = FAULT_KIND_SPECS.iter().map(|k| k.name).collect();
            c.one_of(&format!("{at}.kind"), &kind.kind, &names, &[]);
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
            c.one_of(&format!("{at}.{key}"), value, DISTRIBUTIONS, &[]);
        }
        if spec.name == "region.outage" {
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

fn frames_in(span: SimDuration, fps: u32) -> Option<u64> {
    let product = u128::from(span.as_nanos()) * u128::from(fps);
    (product % 1_000_000_000 == 0).then_some((product / 1_000_000_000) as u64)
}

/// Most unsafe values reported for one scenario (each is its own diagnostic).
const MAX_VALUE_PROBLEMS: usize = 10;

/// What is wrong with one key or value wherever it stands.
enum ValueProblem {
    NotFinite(f64),
    Control(char),
}

/// Every key and value of the scenario as it runs (its files and `--set`s merged):
/// numbers finite (no setting means anything at NaN or infinity), text free of control
/// characters (a `description` may break lines), so nothing a file holds can reach a
/// report or a terminal raw.
fn check_values(c: &mut Checker<'_>, s: &Scenario) {
    let Ok(value) = toml::Value::try_from(s) else {
        return;
    };
    let mut found = Vec::new();
    find_unsafe_values(&value, "", &mut found);
    for (path, problem) in found.into_iter().take(MAX_VALUE_PROBLEMS) {
        match problem {
            ValueProblem::NotFinite(v) => c.error(
                &path,
                format!("`{path}` = {v} is not a finite number"),
                "give a finite number: no setting means anything at nan or inf",
            ),
            ValueProblem::Control(ch) => c.error(
                &path,
                format!("`{path}` holds {}", crate::text::describe(ch)),
                "names, ids, targets and keys are plain text: remove it",
            ),
        }
    }
}

fn find_unsafe_values(value: &toml::Value, path: &str, found: &mut Vec<(String, ValueProblem)>) {
    let control = |text: &str, lines_allowed: bool| {
        text.chars()
            .find(|&ch| crate::text::is_unsafe(ch) && !(lines_allowed && matches!(ch, '\n' | '\t')))
    };
    match value {
        toml::Value::Float(v) if !v.is_finite() => found.push((path.to_string(), ValueProblem::NotFinite(*v))),
        toml::Value::String(text) => {
            if let Some(ch) = control(text, path == "scenario.description") {
                found.push((path.to_string(), ValueProblem::Control(ch)));
            }
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_unsafe_values(item, &format!("{path}[{i}]"), found);
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(ch) = control(key, false) {
                    found.push((inner.clone(), ValueProblem::Control(ch)));
                }
                find_unsafe_values(item, &inner, found);
            }
        }
        _ => {}
    }
}

/// The node counts, checked before anything is built from them (a node list of
/// u32::MAX entries would not fit in memory). `false` if any is above its range:
/// then nothing that names nodes can be checked.
fn check_counts(c: &mut Checker<'_>, s: &Scenario) -> bool {
    // One encoder per stream. Streams are told apart in probe answers by a 64-bit mask.
    if !(1..=64).contains(&s.encoders.count) {
        c.error(
            "encoders.count",
            format!("encoders.count = {} is out of range", s.encoders.count),
            "use 1 to 64 encoders (one per stream)",
        );
    }
    let i = &s.ingest;
    if i.servers > MAX_INGEST_SERVERS {
        c.error(
            "ingest.servers",
            format!("ingest.servers = {} is more than {MAX_INGEST_SERVERS}", i.servers),
            "use fewer ingest servers",
        );
    }
    if i.servers < 2 {
        c.error(
            "ingest.servers",
            format!(
                "ingest.redundancy = \"{}\" needs at least 2 servers, not {}",
                i.redundancy, i.servers
            ),
            "set ingest.servers = 2 or more",
        );
    }
    if !(1..=2).contains(&s.managers.count) {
        c.error(
            "managers.count",
            format!("managers.count = {} is not supported", s.managers.count),
            "use 1, or 2 for an active/standby pair elected by lease",
        );
    }
    let cdn = &s.cdn;
    if !(1..=16).contains(&cdn.origins) {
        c.error(
            "cdn.origins",
            format!("cdn.origins = {} is out of range", cdn.origins),
            "use 1 to 16 origins",
        );
    }
    if cdn.edges == 0 || cdn.edges > MAX_EDGES {
        c.error(
            "cdn.edges",
            format!("cdn.edges = {} is outside 1..={MAX_EDGES}", cdn.edges),
            "viewers need at least one edge to watch from",
        );
    }
    if cdn.shields > cdn.edges.max(1) {
        c.error(
            "cdn.shields",
            format!(
                "cdn.shields = {} is more than the {} edge(s) they would feed",
                cdn.shields, cdn.edges
            ),
            "use at most one shield per edge (typically one per region), or 0 for none",
        );
    }
    let hardware = cdn.balancing == "hardware";
    if hardware && !(1..=2).contains(&s.lb.devices) {
        c.error(
            "lb.devices",
            format!("lb.devices = {} is not 1 or 2", s.lb.devices),
            "use 2 for an active-standby pair (VRRP), 1 for a single device",
        );
    }
    s.encoders.count <= 64
        && i.servers <= MAX_INGEST_SERVERS
        && s.managers.count <= 2
        && cdn.origins <= 16
        && cdn.edges <= MAX_EDGES
        && cdn.shields <= cdn.edges.max(1)
        && (!hardware || s.lb.devices <= 2)
}

pub(super) fn validate(sources: &Sources, s: Scenario) -> Result<Scenario, Diagnostics> {
    let mut c = Checker {
        sources,
        errors: Vec::new(),
        unreported: 0,
    };
    // Nothing is built from a count out of range: what names nodes is checked only
    // when every count is in range.
    check_values(&mut c, &s);
    let counts_ok = check_counts(&mut c, &s);
    let name_ok = !s.scenario.name.is_empty()
        && s.scenario
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        && !s.scenario.name.starts_with('.');
    if !name_ok {
        c.error(
            "scenario.name",
            format!("scenario.name `{}` cannot be used as a folder name", s.scenario.name),
            "use letters, digits, `-`, `_` and `.` only, e.g. \"quickstart\"",
        );
    }
    let duration = s.scenario.duration.0;
    if duration.is_zero() || duration > MAX_DURATION {
        c.error(
            "scenario.duration",
            format!("scenario.duration = \"{duration}\" must be greater than zero and at most {MAX_DURATION}"),
            "e.g. duration = \"30m\"; split longer studies into several runs",
        );
    }
    c.one_of("scenario.dispatch", &s.scenario.dispatch, &["window", "strict"], &[]);

    let e = &s.encoders;
    if !(1..=240).contains(&e.fps) {
        c.error(
            "encoders.fps",
            format!("encoders.fps = {} is out of range", e.fps),
            "use 1 to 240 frames per second",
        );
    }
    let fps = e.fps.clamp(1, 240);
    let gop_frames = frames_in(e.gop.0, fps).filter(|&f| f > 0);
    if gop_frames.is_none() {
        c.error(
            "encoders.gop",
            format!(
                "encoders.gop = \"{}\" is not a whole number of frames at {fps} fps",
                e.gop.0
            ),
            "use a GOP such as \"2s\" (Apple's HLS authoring spec recommends 2 s)",
        );
    }
    if let Some(gop_frames) = gop_frames {
        if e.chunk_frames == 0 || gop_frames % u64::from(e.chunk_frames) != 0 {
            c.error(
                "encoders.chunk_frames",
                format!(
                    "encoders.chunk_frames = {} does not divide the GOP of {gop_frames} frames",
                    e.chunk_frames
                ),
                "use 1, or a divisor of the GOP length in frames",
            );
        }
        match frames_in(s.cdn.segment.0, fps) {
            Some(seg) if seg > 0 && seg % gop_frames == 0 => {}
            _ => c.error(
                "cdn.segment",
                format!(
                    "cdn.segment = \"{}\" is not a whole number of GOPs (\"{}\")",
                    s.cdn.segment.0, e.gop.0
                ),
                "every segment starts with a keyframe: make the segment a multiple of encoders.gop",
            ),
        }
    }
    if e.bitrate_kbps == 0 {
        c.error(
            "encoders.bitrate_kbps",
            "encoders.bitrate_kbps must be at least 1",
            "e.g. bitrate_kbps = 4000",
        );
    }
    let r = &e.reconnect;
    if r.multiplier.is_nan() || r.multiplier < 1.0 || r.max_attempts == 0 || r.max_delay < r.first_delay {
        c.error(
            "encoders.reconnect",
            "encoders.reconnect needs multiplier ≥ 1, max_attempts ≥ 1 and max_delay ≥ first_delay",
            "OBS Studio uses first_delay = \"2s\", multiplier = 1.5, max_attempts = 25",
        );
    }
    if r.first_delay.0 < MIN_RECONNECT_DELAY {
        c.error(
            "encoders.reconnect.first_delay",
            format!(
                "encoders.reconnect.first_delay = \"{}\" is shorter than {MIN_RECONNECT_DELAY}",
                r.first_delay.0
            ),
            "OBS Studio retries after 1 to 30 s (2 s by default): reconnecting faster would be a storm no encoder makes",
        );
    }
    if r.max_attempts > MAX_RECONNECT_ATTEMPTS {
        c.error(
            "encoders.reconnect.max_attempts",
            format!(
                "encoders.reconnect.max_attempts = {} is more than {MAX_RECONNECT_ATTEMPTS}",
                r.max_attempts
            ),
            "OBS Studio allows 1 to 10000 retries (25 by default)",
        );
    }
    // The ingest acknowledges every second of media, but no more often than the
    // encoder sends: a healthy connection must outlive one chunk and a round trip.
    let chunk = SimDuration::from_nanos(u64::from(e.chunk_frames) * 1_000_000_000 / u64::from(fps));
    let min_ack_timeout = chunk.max(SimDuration::from_secs(1)) + SimDuration::from_secs(1);
    if e.ack_timeout.0 < min_ack_timeout {
        c.error(
            "encoders.ack_timeout",
            format!(
                "encoders.ack_timeout = \"{}\" is too short: acknowledgements come every {} of media",
                e.ack_timeout.0,
                chunk.max(SimDuration::from_secs(1))
            ),
            format!("make it at least {min_ack_timeout} (SRT's peer idle timeout is \"5s\")"),
        );
    }
    if e.connect_timeout.0.is_zero() {
        c.error(
            "encoders.connect_timeout",
            "encoders.connect_timeout must be greater than zero",
            "e.g. \"3s\"",
        );
    }

    let i = &s.ingest;
    if i.capacity > 0 && u64::from(i.capacity) * u64::from(i.servers) < u64::from(s.encoders.count) {
        c.error(
            "ingest.capacity",
            format!(
                "ingest.capacity = {} on {} servers cannot package {} streams",
                i.capacity, i.servers, s.encoders.count
            ),
            format!(
                "raise ingest.capacity to at least {} or add servers (0: unlimited)",
                s.encoders.count.div_ceil(i.servers.max(1))
            ),
        );
    }
    if i.capacity > 0 && i.redundancy == "active-active" && i.capacity < s.encoders.count {
        c.error(
            "ingest.capacity",
            format!(
                "ingest.capacity = {} with active-active: every server packages every one of the {} streams",
                i.capacity, s.encoders.count
            ),
            format!(
                "raise ingest.capacity to at least {} (or 0: unlimited), or use active-passive, where streams are spread",
                s.encoders.count
            ),
        );
    }
    c.one_of(
        "ingest.redundancy",
        &i.redundancy,
        &["active-passive", "active-active", "dns"],
        &[],
    );
    c.one_of("ingest.output_locking", &i.output_locking, &["epoch", "none"], &[]);
    if i.redundancy == "dns" || s.cdn.balancing == "round-robin-dns" {
        let d = &s.dns;
        if d.health.interval.0 < MIN_DNS_HEALTH_INTERVAL {
            c.error(
                "dns.health.interval",
                format!(
                    "dns.health.interval = \"{}\" is shorter than {MIN_DNS_HEALTH_INTERVAL}",
                    d.health.interval.0
                ),
                "Route 53 checks every 30 s, or every 10 s with fast health checks",
            );
        }
        if let Err(message) = d.health.to_config().validate() {
            c.error(
                "dns.health",
                format!("dns.{message}"),
                "Route 53 checks every 30 s with threshold 3",
            );
        }
        if d.ttl.0.is_zero() {
            c.error(
                "dns.ttl",
                "dns.ttl must be greater than zero",
                "Route 53 recommends at most \"60s\"",
            );
        }
        if !(0.0..=1.0).contains(&d.violator_share) {
            c.error(
                "dns.violator_share",
                format!("dns.violator_share = {} is not a probability", d.violator_share),
                "about 0.087 of resolvers stretch TTLs (PAM 2023)",
            );
        }
        if d.query_timeout.0.is_zero() {
            c.error(
                "dns.query_timeout",
                "dns.query_timeout must be greater than zero",
                "resolv.conf uses \"5s\"",
            );
        }
    }
    if i.input_loss.0 < SimDuration::from_millis(100) {
        c.error(
            "ingest.input_loss",
            format!(
                "ingest.input_loss = \"{}\" is below MediaLive's 100 ms minimum",
                i.input_loss.0
            ),
            "MediaLive's typical input-loss threshold is \"1s\"",
        );
    }
    if i.health.interval.0 < MIN_HEALTH_INTERVAL {
        c.error(
            "ingest.health.interval",
            format!(
                "ingest.health.interval = \"{}\" is shorter than {MIN_HEALTH_INTERVAL}",
                i.health.interval.0
            ),
            "real checkers probe every 1–30 s (HAProxy 2 s, Route 53 30 s)",
        );
    }
    if let Err(message) = i.health.to_config().validate() {
        c.error(
            "ingest.health",
            format!("ingest.{message}"),
            "HAProxy's defaults are interval 2s, fall 3, rise 2",
        );
    }
    c.one_of("ingest.failback", &i.failback, &["none", "prefer-primary"], &[]);
    if i.idle_timeout.0.is_zero() {
        c.error(
            "ingest.idle_timeout",
            "ingest.idle_timeout must be greater than zero",
            "SRS and SRT drop a silent publisher after \"5s\"",
        );
    }

    let min_latency = [
        &s.network.encoder_ingest,
        &s.network.control,
        &s.network.ingest_origin,
        &s.network.origin_edge,
        &s.network.edge_viewer,
    ]
    .iter()
    .map(|l| l.latency.0)
    .min()
    .unwrap_or(SimDuration::ZERO);
    if i.switch_delay.0 < min_latency {
        c.error(
            "ingest.switch_delay",
            format!(
                "ingest.switch_delay = \"{}\" is shorter than the smallest link latency ({min_latency})",
                i.switch_delay.0
            ),
            "the switch travels over the network: make it at least the smallest network latency",
        );
    }

    let lease = LeaseConfig {
        duration: s.managers.lease.0,
        renew_deadline: s.managers.renew_deadline.0,
        retry_period: s.managers.retry_period.0,
    };
    if let Err(message) = lease.validate() {
        c.error(
            "managers.lease",
            message,
            "client-go uses lease 15s, renew_deadline 10s, retry_period 2s",
        );
    }
    if s.managers.lease.0 < MIN_LEASE {
        c.error(
            "managers.lease",
            format!(
                "managers.lease = \"{}\" is shorter than {MIN_LEASE}",
                s.managers.lease.0
            ),
            "a Kubernetes Lease holds its duration in whole seconds (leaseDurationSeconds); client-go uses 15s",
        );
    }
    if s.managers.retry_period.0 < MIN_HEALTH_INTERVAL {
        c.error(
            "managers.retry_period",
            format!(
                "managers.retry_period = \"{}\" is shorter than {MIN_HEALTH_INTERVAL}",
                s.managers.retry_period.0
            ),
            "every retry is a write to the lease store; client-go uses 2s",
        );
    }
    let cdn = &s.cdn;
    if cdn.shields > 0 {
        let after = cdn.shield_fallback_after.0;
        if !after.is_zero() && after < MIN_SHIELD_FALLBACK {
            c.error(
                "cdn.shield_fallback_after",
                format!("cdn.shield_fallback_after = \"{after}\" is shorter than {MIN_SHIELD_FALLBACK}: a live shield would be left for a slow probe answer"),
                "allow a few probe round trips (6 s is the default), or \"0s\" to never fall back",
            );
        }
        // With edges placed in regions, a shield outside every region would be in none:
        // no inter-region distance, no region partition, a bridge between regions.
        if counts_ok && !s.regions.is_empty() {
            let nodes = s.node_names();
            let universe = s.selectors(&nodes);
            // A set: regions may list thousands of edges.
            let placed: std::collections::BTreeSet<String> = (s.regions.keys())
                .flat_map(|r| {
                    universe
                        .resolve::<crate::sim::SimRng>(&format!("region:{r}"), None)
                        .unwrap_or_default()
                })
                .collect();
            let edges_placed = (0..cdn.edges).any(|i| placed.contains(&Scenario::edge_name(i)));
            let unplaced: Vec<String> = (1..=cdn.shields)
                .map(|i| format!("shield-{i}"))
                .filter(|name| !placed.contains(name))
                .collect();
            if edges_placed && !unplaced.is_empty() {
                c.error(
                    "regions",
                    format!("{} in no region, while [regions] places the edges", unplaced.join(", ")),
                    "list every shield in the region it serves (its edges are fed by the shields of their region)",
                );
            }
        }
    }
    c.one_of(
        "cdn.balancing",
        &cdn.balancing,
        &["software", "round-robin-dns", "hardware"],
        &[],
    );
    if cdn.balancing == "hardware" {
        let lb = &s.lb;
        if lb.advert_interval.0 < MIN_HEALTH_INTERVAL {
            c.error(
                "lb.advert_interval",
                format!("lb.advert_interval is shorter than {MIN_HEALTH_INTERVAL}"),
                "keepalived advertises every 1s",
            );
        }
        if lb.health.interval.0 < MIN_HEALTH_INTERVAL {
            c.error(
                "lb.health.interval",
                format!(
                    "lb.health.interval = \"{}\" is shorter than {MIN_HEALTH_INTERVAL}",
                    lb.health.interval.0
                ),
                "real checkers probe every 1–30 s (HAProxy inter 2s)",
            );
        }
        if let Err(message) = lb.health.to_config().validate() {
            c.error(
                "lb.health",
                format!("lb.{message}"),
                "HAProxy: inter 2s, fall 3, rise 2",
            );
        }
        c.one_of("lb.passive", &lb.passive, &["none", "nginx", "envoy"], &[]);
        c.one_of("lb.check", &lb.check, &["liveness", "playlist"], &[]);
        if lb.check == "playlist" && lb.playlist_stale_after.0 <= cdn.segment.0 {
            c.error(
                "lb.playlist_stale_after",
                format!(
                    "lb.playlist_stale_after = {} is not longer than cdn.segment = {}: a healthy edge's playlist stays the same for a whole segment, so every edge would fail",
                    lb.playlist_stale_after.0, cdn.segment.0
                ),
                format!(
                    "use at least 1.5 × cdn.segment (RFC 8216 §6.2.1 allows a playlist that long without a new segment); 3 × is {}",
                    cdn.segment.0 * 3
                ),
            );
        }
        if lb.proxy_timeout.0.is_zero() {
            c.error(
                "lb.proxy_timeout",
                "lb.proxy_timeout must be greater than zero",
                "nginx waits 60s (proxy_connect_timeout / proxy_read_timeout)",
            );
        }
        if !lb.active_checks && lb.passive == "none" {
            c.error(
                "lb.active_checks",
                "with neither active nor passive checks the devices never notice a dead edge",
                "keep active_checks = true, or set lb.passive = \"nginx\" or \"envoy\"",
            );
        }
        if lb.max_connections == 0 {
            c.error(
                "lb.max_connections",
                "lb.max_connections must be at least 1",
                "a device tracks up to millions of connections; 1000000 is the default",
            );
        }
    }
    if cdn.backup_edges > 0 && cdn.balancing != "software" {
        c.error(
            "cdn.backup_edges",
            format!(
                "cdn.backup_edges applies to software balancing, not `{}`",
                cdn.balancing
            ),
            "with DNS or a load balancer, viewers reach another edge through it: remove backup_edges",
        );
    }
    c.one_of("cdn.algorithm", &cdn.algorithm, Algorithm::NAMES, &[]);
    if !cdn.weights.is_empty() && (cdn.weights.len() != cdn.edges as usize || cdn.weights.iter().all(|&w| w == 0)) {
        c.error(
            "cdn.weights",
            format!(
                "cdn.weights lists {} weights for {} edges",
                cdn.weights.len(),
                cdn.edges
            ),
            "give one weight per edge (not all zero), or leave it out for equal weights",
        );
    }
    if cdn.hash_balance_factor.is_nan() || cdn.hash_balance_factor < 1.0 {
        c.error(
            "cdn.hash_balance_factor",
            format!("cdn.hash_balance_factor = {} is below 1", cdn.hash_balance_factor),
            "HAProxy's hash-balance-factor 125 is 1.25; 1 means perfectly even",
        );
    }
    if cdn.playlist_window > 10_000 {
        c.error(
            "cdn.playlist_window",
            "cdn.playlist_window is more than 10000 segments",
            "10 is common",
        );
    }
    if cdn.playlist_window < 3 {
        c.error(
            "cdn.playlist_window",
            "cdn.playlist_window must list at least 3 segments",
            "RFC 8216 §6.2.2: keep at least three target durations; 10 is common",
        );
    }

    if !(cdn.edge_capacity_mbps.is_finite() && cdn.edge_capacity_mbps >= 0.0) {
        c.error(
            "cdn.edge_capacity_mbps",
            format!("cdn.edge_capacity_mbps = {} is not a capacity", cdn.edge_capacity_mbps),
            "give Mbit/s per edge, or 0 for unlimited",
        );
    }
    if cdn.backup_edges >= cdn.edges.max(1) || cdn.backup_edges > 7 {
        c.error(
            "cdn.backup_edges",
            format!(
                "cdn.backup_edges = {} needs more than {} edges (at most 7 backups)",
                cdn.backup_edges, cdn.edges
            ),
            "each viewer's backups are other edges: use fewer backups than edges",
        );
    }

    let v = &s.viewers;
    if v.count == 0 {
        c.error(
            "viewers.count",
            "viewers.count must be at least 1",
            "set a positive number of viewers",
        );
    }
    c.one_of("viewers.player", &v.player, PlayerConfig::PRESETS, &["shaka"]);
    if v.downlink_mbps.is_nan() || v.downlink_mbps <= 0.0 {
        c.error(
            "viewers.downlink_mbps",
            "viewers.downlink_mbps must be greater than zero",
            "e.g. downlink_mbps = 20",
        );
    }
    check_workload(&mut c, &s, duration, counts_ok);
    let warmup = s.scenario.warmup.0;
    if warmup >= duration && !warmup.is_zero() {
        c.error(
            "scenario.warmup",
            format!("scenario.warmup = {warmup} leaves nothing of the {duration} run to measure"),
            "make the warmup shorter than scenario.duration",
        );
    }
    for (i, fault) in s.faults.iter().enumerate() {
        if fault.on.is_none() && fault.at.0 < warmup {
            c.error(
                &format!("fault[{i}].at"),
                format!(
                    "fault at {} starts inside the warmup ({warmup}): what it does would not be measured",
                    fault.at.0
                ),
                format!("move it to {warmup} or later, or shorten scenario.warmup"),
            );
        }
    }
    let gap = &s.network.inter_region;
    if s.regions.is_empty() && !(gap.latency.0.is_zero() && gap.jitter.0.is_zero()) {
        c.error(
            "network.inter_region",
            "network.inter_region applies between regions, and this scenario has none",
            "define [regions] (e.g. eu = [\"edge-1\", \"edge-2\"]), or drop network.inter_region",
        );
    }
    if v.join_at.0 + v.join_over.0 > duration {
        // Blame what the file wrote: the join window, else the run's length.
        let written = ["viewers.join_at", "viewers.join_over"]
            .into_iter()
            .find(|path| c.sources.writes(path));
        c.error(
            written.unwrap_or("scenario.duration"),
            format!(
                "viewers join until {} but the run ends at {duration}",
                v.join_at.0 + v.join_over.0
            ),
            "make viewers.join_at + viewers.join_over at most scenario.duration",
        );
    }

    for (name, link) in [
        ("encoder_ingest", &s.network.encoder_ingest),
        ("control", &s.network.control),
        ("ingest_origin", &s.network.ingest_origin),
        ("origin_edge", &s.network.origin_edge),
        ("edge_viewer", &s.network.edge_viewer),
    ] {
        if link.latency.0.is_zero() {
            c.error(
                &format!("network.{name}.latency"),
                format!("network.{name}.latency must be greater than zero"),
                "every link has some propagation delay; the kernel's lookahead is the smallest one",
            );
        }
        if !(0.0..=1.0).contains(&link.loss) {
            c.error(
                &format!("network.{name}.loss"),
                format!("network.{name}.loss = {} is not a probability", link.loss),
                "use a value between 0 and 1",
            );
        }
        if link.bandwidth_mbps.is_nan() || link.bandwidth_mbps < 0.0 {
            c.error(
                &format!("network.{name}.bandwidth_mbps"),
                "bandwidth cannot be negative",
                "use 0 for unlimited",
            );
        }
    }

    let nodes = if counts_ok { s.node_names() } else { Vec::new() };
    let universe = s.selectors(&nodes);
    let groups = if counts_ok { &s.groups } else { &BTreeMap::new() };
    for (name, members) in groups {
        for member in members {
            check_selector(&mut c, &format!("groups.{name}"), member, &universe);
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
            for node in check_selector(&mut c, &format!("regions.{name}"), member, &universe) {
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
    if let Some(random) = s.random_faults.as_ref().filter(|_| counts_ok) {
        check_random_faults(&mut c, random, &universe, duration);
    }
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for (n, fault) in s.faults.iter().enumerate() {
        let at = format!("fault[{n}]");
        check_fault_id(&mut c, &at, fault.id.as_deref());
        if let Some(first) = ids.insert(s.fault_id(n), n) {
            c.error(
                &format!("{at}.id"),
                format!("fault id `{}` is also fault[{first}]'s", s.fault_id(n)),
                "give each fault its own `id` (reports and `during = \"fault:ID\"` name faults by it)",
            );
        }
        if FaultKind::by_name(&fault.kind).is_none() {
            let names: Vec<&str> = FAULT_KIND_SPECS.iter().map(|k| k.name).collect();
            c.one_of(&format!("{at}.kind"), &fault.kind, &names, &[]);
        }
        let candidates = match counts_ok {
            true => check_selector(&mut c, &format!("{at}.target"), &fault.target, &universe),
            false => Vec::new(),
        };
        if let Some(other) = fault.other.as_ref().filter(|_| counts_ok) {
            check_selector(&mut c, &format!("{at}.other"), other, &universe);
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
            check_fault_settings(&mut c, &at, fault, kind, &candidates);
        }
        if fault.kind == "region.outage" && !fault.target.starts_with("region:") {
            c.error(
                &format!("{at}.target"),
                format!("region.outage targets a region, not `{}`", fault.target),
                "write `region:NAME` for a region under [regions]; to crash one node use node.crash",
            );
        }
        match (&fault.on, fault.after) {
            (Some(event), _) if !TRIGGER_EVENTS.contains(&event.as_str()) => {
                c.one_of(&format!("{at}.on"), event, TRIGGER_EVENTS, &[]);
            }
            (None, Some(_)) => c.error(
                &format!("{at}.after"),
                "`after` applies to faults started by an event (`on`)",
                "add e.g. `on = \"failover.started\"`, or remove `after`",
            ),
            _ => {}
        }
        check_fault_values(&mut c, &at, fault);
        if fault.duration.is_some_and(|d| d.0.is_zero()) {
            c.error(
                &format!("{at}.duration"),
                "a fault's duration must be greater than zero",
                "omit duration for a fault that never ends",
            );
        }
    }
    if s.monitor.scrape_interval.0 < SimDuration::from_secs(1) {
        c.error(
            "monitor.scrape_interval",
            "monitor.scrape_interval must be at least 1s",
            "Prometheus setups scrape every 15 s to 1 m",
        );
    }
    for (n, alert) in s.alerts.iter().enumerate() {
        if MonitorMetric::by_name(&alert.metric).is_none() {
            let help = match did_you_mean(&alert.metric, MonitorMetric::NAMES.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("metrics: {}", MonitorMetric::NAMES.join(", ")),
            };
            c.error(
                &format!("alert[{n}].metric"),
                format!("unknown monitor metric `{}`", alert.metric),
                help,
            );
        }
        c.one_of(&format!("alert[{n}].op"), &alert.op, &["gt", "lt"], &[]);
    }
    for (n, expect) in s.expects.iter().enumerate() {
        if !METRICS.contains(&expect.metric.as_str()) {
            let help = match did_you_mean(&expect.metric, METRICS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("metrics: {}", METRICS.join(", ")),
            };
            c.error(
                &format!("expect[{n}].metric"),
                format!("unknown metric `{}`", expect.metric),
                help,
            );
        }
        c.one_of(
            &format!("expect[{n}].op"),
            &expect.op,
            &["lt", "le", "gt", "ge", "eq", "between"],
            &[],
        );
        match expect.bounds() {
            Err(message) => c.error(
                &format!("expect[{n}].value"),
                message,
                "a number, a duration such as \"3s\" for a metric in _ms or _s, or a percentage such as \"2%\"",
            ),
            Ok((low, high)) if low > high => c.error(
                &format!("expect[{n}].value"),
                format!("`between` {low} and {high}: the low bound is above the high one"),
                "write `value = [low, high]`",
            ),
            Ok(_) => {}
        }
        if let Some(during) = &expect.during {
            let at = format!("expect[{n}].during");
            match super::Window::parse(during) {
                Err(message) => c.error(
                    &at,
                    message,
                    "write `fault:ID` (the fault's window), `fault:ID+60s` (to 60 s after its end) or `5m..10m`",
                ),
                Ok(super::Window::Fault { id, .. }) => {
                    let ids: Vec<String> = (0..s.faults.len()).map(|i| s.fault_id(i)).collect();
                    if !ids.contains(&id) {
                        let help = match did_you_mean(&id, ids.iter().map(String::as_str)) {
                            Some(near) => format!("did you mean `fault:{near}`?"),
                            None => "name the `id` of a [[fault]] in this file".to_string(),
                        };
                        c.error(&at, format!("no fault `{id}` to measure during"), help);
                    }
                }
                Ok(super::Window::Span { to, .. }) if to > duration => c.error(
                    &at,
                    format!("the window ends at {to}, after the run ({duration})"),
                    "end the window within scenario.duration",
                ),
                Ok(_) => {}
            }
            if !WINDOWED_METRICS.contains(&expect.metric.as_str()) && METRICS.contains(&expect.metric.as_str()) {
                c.error(
                    &format!("expect[{n}].metric"),
                    format!(
                        "`{}` is a whole-run figure and cannot be measured during a window",
                        expect.metric
                    ),
                    format!("metrics with a window: {}", WINDOWED_METRICS.join(", ")),
                );
            }
        }
    }
    c.into_result(s)
}
