//! `--set KEY=VALUE`: override any scenario value by its dotted path, checked against
//! the schema (not just the file), with a did-you-mean for unknown paths.

use toml_edit::{DocumentMut, ImDocument, Item, Value};

use super::diag::{did_you_mean, Diagnostic, Diagnostics};
use super::Scenario;

/// The scenario text after overrides, and where each override landed.
pub(super) struct Edited {
    pub text: String,
    overrides: Vec<(Vec<String>, String)>,
}

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
        // Arrays of tables (faults, expectations) are edited in the file, not with --set.
        toml::Value::Array(_) => {}
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}

fn set_error(arg: &str, message: String) -> Diagnostic {
    let mut d = Diagnostic::at("--set", "", None, message);
    d.source_line = Some(format!("--set {arg}"));
    d
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
        let mut item: &mut Item = doc.as_item_mut();
        for segment in &segments {
            item = &mut item[segment.as_str()];
        }
        *item = Item::Value(value);
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
                    match item.get(segment.as_str()) {
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
