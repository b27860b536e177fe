//! Checks that run before anything else: every value finite and free of control
//! characters, every node count in range.

use super::*;

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
pub(super) fn check_values(c: &mut Checker<'_>, s: &Scenario) {
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
pub(super) fn check_counts(c: &mut Checker<'_>, s: &Scenario) -> bool {
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
    let hardware = s.balancing() == Some(Balancing::Hardware);
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
