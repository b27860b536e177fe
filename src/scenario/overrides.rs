//! `--set KEY=VALUE`: override any scenario value by its dotted path, checked against
//! the schema (not just the file), with a did-you-mean for unknown paths.

use toml_edit::{DocumentMut, ImDocument, Item, Table, Value};

use super::chaos::{RandomFaults, RandomKind};
use super::diag::{did_you_mean, Diagnostic, Diagnostics};
use super::{Dur, Fault, Scenario};
use crate::time::SimDuration;

/// The scenario text after overrides, and where each override landed.
pub(super) struct Edited {
    pub text: String,
    overrides: Vec<(Vec<String>, String)>,
}

/// The scenario's arrays of tables; every other array is a plain value.
const ARRAYS_OF_TABLES: &[&str] = &["fault", "expect", "alert", "random_faults.kind"];

fn leaf_paths(prefix: &str, value: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match value {
        toml::Value::Table(table) => {
            for (key, child) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_paths(&path, child, out);
            }
        }
        // Arrays of tables (faults, expectations, alerts): entries by index, `fault[0].at`.
        toml::Value::Array(items) if ARRAYS_OF_TABLES.contains(&prefix) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{prefix}[{i}]");
                if let toml::Value::Table(table) = item {
                    // Optional keys a file may leave out can still be set.
                    let optional = match prefix {
                        "fault" => fault_placeholders(),
                        "random_faults.kind" => random_kind_placeholders(),
                        _ => toml::Table::new(),
                    };
                    for (key, placeholder) in optional {
                        if !table.contains_key(&key) {
                            out.push((format!("{path}.{key}"), placeholder));
                        }
                    }
                }
                leaf_paths(&path, item, out);
            }
        }
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}

/// `[random_faults]` keys a file may leave out, with a value of their type.
fn random_faults_placeholders() -> toml::Table {
    let d = Dur(SimDuration::ZERO);
    let every = RandomFaults {
        from: Some(d),
        until: Some(d),
        mtbf: Some(d),
        ..RandomFaults::default()
    };
    let mut table = toml::Table::try_from(&every).expect("random faults serialise");
    table.remove("kind");
    table
}

/// Every key a `[[random_faults.kind]]` entry can have, with a value of its type.
fn random_kind_placeholders() -> toml::Table {
    let d = Dur(SimDuration::ZERO);
    let every = RandomKind {
        kind: String::new(),
        target: Some(String::new()),
        weight: Some(0.0),
        mtbf: Some(d),
        mttr: d,
        interval_distribution: String::new(),
        duration_distribution: String::new(),
        capacity_mbps: Some(0.0),
        capacity_streams: Some(0),
        latency: Some(d),
        jitter: Some(d),
        loss: Some(0.0),
        loss_burst: Some(d),
        bandwidth_mbps: Some(0.0),
        delay: Some(d),
        drift: Some(0.0),
    };
    toml::Table::try_from(&every).expect("a random fault kind serialises")
}

/// Every key a `[[fault]]` entry can have, with a value of its type (what a `--set`
/// value is read as). Built from a literal that names every field, so a new setting
/// cannot be forgotten here.
fn fault_placeholders() -> toml::Table {
    let d = Dur(SimDuration::ZERO);
    let every = Fault {
        id: Some(String::new()),
        at: d,
        kind: String::new(),
        target: String::new(),
        duration: Some(d),
        capacity_mbps: Some(0.0),
        capacity_streams: Some(0),
        latency: Some(d),
        jitter: Some(d),
        loss: Some(0.0),
        loss_burst: Some(d),
        bandwidth_mbps: Some(0.0),
        delay: Some(d),
        drift: Some(0.0),
        on: Some(String::new()),
        after: Some(d),
        other: Some(String::new()),
        one_way: Some(false),
    };
    toml::Table::try_from(&every).expect("a fault serialises")
}

pub(super) fn set_error(arg: &str, message: String) -> Diagnostic {
    let mut d = Diagnostic::at("--set", "", None, message);
    d.source_line = Some(format!("--set {arg}"));
    d
}

/// Splits `fault[2]` into `("fault", Some(2))`.
fn indexed(segment: &str) -> (&str, Option<usize>) {
    match segment.split_once('[') {
        Some((key, rest)) => (key, rest.strip_suffix(']').and_then(|i| i.parse().ok())),
        None => (segment, None),
    }
}

/// Puts `value` at a dotted path under `table`, creating tables as needed; a segment
/// may index an array of tables (`fault[2]`, `random_faults.kind[0]`) or an inline
/// array of tables. `false` if the path does not lead to a value.
fn set_in_table(table: &mut Table, segments: &[String], value: Value) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return false;
    };
    let (key, index) = indexed(first);
    let child = table.entry(key).or_insert(Item::None);
    set_in_child(child, index, rest, value)
}

fn set_in_child(child: &mut Item, index: Option<usize>, rest: &[String], value: Value) -> bool {
    match index {
        None if rest.is_empty() => {
            *child = Item::Value(value);
            true
        }
        None => {
            if child.is_none() {
                let mut implicit = Table::new();
                implicit.set_implicit(true);
                *child = Item::Table(implicit);
            }
            if let Some(table) = child.as_table_mut() {
                return set_in_table(table, rest, value);
            }
            match child.as_value_mut() {
                Some(inline) => set_in_value(inline, rest, value),
                None => false,
            }
        }
        Some(i) => {
            if let Some(entry) = child.as_array_of_tables_mut().and_then(|a| a.get_mut(i)) {
                return set_in_table(entry, rest, value);
            }
            let Some(element) = child.as_array_mut().and_then(|a| a.get_mut(i)) else {
                return false;
            };
            if rest.is_empty() {
                *element = value;
                return true;
            }
            set_in_value(element, rest, value)
        }
    }
}

/// As [`set_in_table`], inside an inline table (`session = { mean = "10m" }`, or an
/// element of `kind = [{ … }]`), at any depth.
fn set_in_value(inline: &mut Value, segments: &[String], value: Value) -> bool {
    let (Some((first, rest)), Some(table)) = (segments.split_first(), inline.as_inline_table_mut()) else {
        return false;
    };
    let (key, index) = indexed(first);
    if index.is_none() && rest.is_empty() {
        table.insert(key, value);
        return true;
    }
    if index.is_none() && !table.contains_key(key) {
        table.insert(key, Value::InlineTable(toml_edit::InlineTable::new()));
    }
    let Some(child) = table.get_mut(key) else {
        return false;
    };
    match index {
        None => set_in_value(child, rest, value),
        Some(i) => match child.as_array_mut().and_then(|a| a.get_mut(i)) {
            Some(element) if rest.is_empty() => {
                *element = value;
                true
            }
            Some(element) => set_in_value(element, rest, value),
            None => false,
        },
    }
}

pub(super) fn apply(file: &str, source: &str, base: &Scenario, overrides: &[String]) -> Result<Edited, Diagnostics> {
    let schema = toml::Value::try_from(base).map_err(|e| {
        let message = format!("the scenario cannot take --set: it is not representable as TOML ({e})");
        Diagnostics(vec![Diagnostic::at(file, source, Some(0..0), message)])
    })?;
    let mut leaves = Vec::new();
    leaf_paths("", &schema, &mut leaves);
    // Optional `[random_faults]` keys the file leaves out (the table itself must be
    // written: chaos needs at least one kind).
    if base.random_faults.is_some() {
        for (key, placeholder) in random_faults_placeholders() {
            let path = format!("random_faults.{key}");
            if !leaves.iter().any(|(p, _)| *p == path) {
                leaves.push((path, placeholder));
            }
        }
    }
    // `viewers.session` is optional: a run without sessions can be given some.
    if base.viewers.session.is_none() {
        let every = super::workload::Session {
            distribution: String::new(),
            mean: Dur(SimDuration::ZERO),
            sigma: 0.0,
        };
        for (key, placeholder) in toml::Table::try_from(&every).expect("a session serialises") {
            leaves.push((format!("viewers.session.{key}"), placeholder));
        }
    }
    let mut doc: DocumentMut = source.parse().map_err(|e: toml_edit::TomlError| {
        let message = super::diag::parser_message(e.message(), source, e.span());
        Diagnostics(vec![Diagnostic::at(file, source, e.span(), message)])
    })?;
    let mut errors = Vec::new();
    let mut applied = Vec::new();
    for arg in overrides {
        let Some((key, raw)) = arg.split_once('=') else {
            errors.push(
                set_error(arg, format!("`--set {arg}` has no `=`"))
                    .with_help("write --set KEY=VALUE, e.g. --set viewers.count=50"),
            );
            continue;
        };
        let key = key.trim();
        let Some((_, current)) = leaves.iter().find(|(path, _)| path == key) else {
            if base.random_faults.is_none() && key.starts_with("random_faults.") {
                errors.push(
                    set_error(arg, format!("`{key}`: this scenario has no [random_faults]"))
                        .with_help("add a [random_faults] table with at least one [[random_faults.kind]] to the file"),
                );
                continue;
            }
            let mut d = set_error(arg, format!("unknown scenario key `{key}`"));
            d = match did_you_mean(key, leaves.iter().map(|(p, _)| p.as_str())) {
                Some(near) => d.with_help(format!("did you mean `{near}`?")),
                None => {
                    d.with_help("keys are dotted paths such as `viewers.count` or `ingest.health.interval`; see README")
                }
            };
            errors.push(d);
            continue;
        };
        let raw = raw.trim();
        // Strings need no quotes on a command line; everything else is TOML.
        let value: Value = match current {
            toml::Value::String(_) => {
                let unquoted = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
                Value::from(unquoted)
            }
            _ => match raw.parse::<Value>() {
                Ok(value) => value,
                Err(_) => Value::from(raw),
            },
        };
        let segments: Vec<String> = key.split('.').map(str::to_string).collect();
        if !set_in_table(doc.as_table_mut(), &segments, value) {
            errors.push(set_error(arg, format!("cannot set `{key}` in this file")));
            continue;
        }
        applied.push((segments, arg.clone()));
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    Ok(Edited {
        text: doc.to_string(),
        overrides: applied,
    })
}

impl Edited {
    /// Each applied override: (dotted key, the argument as given).
    pub(super) fn applied(&self) -> Vec<(String, String)> {
        (self.overrides.iter())
            .map(|(segments, arg)| (segments.join("."), arg.clone()))
            .collect()
    }

    /// A type error in the edited text: blame the `--set` that put the value there.
    pub(super) fn explain(&self, file: &str, error: &toml::de::Error) -> Diagnostic {
        let span = error.span();
        if let (Some(span), Ok(doc)) = (span.clone(), ImDocument::parse(self.text.as_str())) {
            // The last `--set` of a key is the one whose value the text holds.
            for (segments, arg) in self.overrides.iter().rev() {
                let mut item = doc.as_item();
                let mut found = true;
                for segment in segments {
                    let (key, index) = indexed(segment);
                    let child = item.get(key).and_then(|c| match index {
                        Some(i) => c.get(i),
                        None => Some(c),
                    });
                    match child {
                        Some(child) => item = child,
                        None => {
                            found = false;
                            break;
                        }
                    }
                }
                let covers = item.span().is_some_and(|s| s.start <= span.start && span.end <= s.end);
                if found && covers {
                    let message = super::diag::parser_message(error.message(), &self.text, Some(span.clone()));
                    return set_error(arg, format!("`{}`: {message}", segments.join(".")))
                        .with_help("give a value of the type this key takes (see README)");
                }
            }
        }
        let message = super::diag::parser_message(error.message(), &self.text, span.clone());
        Diagnostic::at(file, &self.text, span, message)
    }
}
