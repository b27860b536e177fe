//! `--set KEY=VALUE`: override any scenario value by its dotted path, checked against
//! the schema (not just the file), with a did-you-mean for unknown paths.

use toml_edit::{DocumentMut, ImDocument, Item, Value};

use super::diag::{did_you_mean, Diagnostic, Diagnostics};
use super::{Dur, Fault, Scenario};
use crate::time::SimDuration;

/// The scenario text after overrides, and where each override landed.
pub(super) struct Edited {
    pub text: String,
    overrides: Vec<(Vec<String>, String)>,
}

/// The scenario's arrays of tables; every other array is a plain value.
const ARRAYS_OF_TABLES: &[&str] = &["fault", "expect", "alert"];

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
                    if prefix == "fault" {
                        for (key, placeholder) in fault_placeholders() {
                            if !table.contains_key(&key) {
                                out.push((format!("{path}.{key}"), placeholder));
                            }
                        }
                    }
                }
                leaf_paths(&path, item, out);
            }
        }
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
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

fn set_error(arg: &str, message: String) -> Diagnostic {
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

/// The item at a dotted path, creating tables as needed; an index may only appear on the
/// first segment (the arrays of tables `fault` and `expect`).
fn item_at<'d>(doc: &'d mut DocumentMut, segments: &[String]) -> Option<&'d mut Item> {
    let (first, index) = indexed(segments.first()?);
    let mut item: &mut Item = match index {
        Some(i) => {
            let table = doc.get_mut(first)?.as_array_of_tables_mut()?.get_mut(i)?;
            table.entry(segments.get(1)?).or_insert(Item::None)
        }
        None => &mut doc[first],
    };
    let rest = if index.is_some() { 2 } else { 1 };
    for segment in &segments[rest..] {
        item = &mut item[segment.as_str()];
    }
    Some(item)
}

pub(super) fn apply(file: &str, source: &str, base: &Scenario, overrides: &[String]) -> Result<Edited, Diagnostics> {
    let schema = toml::Value::try_from(base).expect("a scenario always serialises");
    let mut leaves = Vec::new();
    leaf_paths("", &schema, &mut leaves);
    let mut doc: DocumentMut = source.parse().map_err(|e: toml_edit::TomlError| {
        Diagnostics(vec![Diagnostic::at(file, source, e.span(), e.message().to_string())])
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
        match item_at(&mut doc, &segments) {
            Some(item) => *item = Item::Value(value),
            None => {
                errors.push(set_error(arg, format!("cannot set `{key}` in this file")));
                continue;
            }
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
    /// A type error in the edited text: blame the `--set` that put the value there.
    pub(super) fn explain(&self, file: &str, error: &toml::de::Error) -> Diagnostic {
        let span = error.span();
        if let (Some(span), Ok(doc)) = (span.clone(), ImDocument::parse(self.text.as_str())) {
            for (segments, arg) in &self.overrides {
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
                    return set_error(arg, format!("`{}`: {}", segments.join("."), error.message().trim()))
                        .with_help("give a value of the type this key takes (see README)");
                }
            }
        }
        Diagnostic::at(file, &self.text, span, error.message().trim())
    }
}
