//! Loading a scenario: the file and its includes, `--set` overrides, the `[sweep]`
//! check, then validation.

use super::*;

/// The JSON Schema of scenario files (for editors: TOML language servers such as
/// Taplo and Even Better TOML read it).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).expect("a schema serialises")
}

/// Reads, overrides and validates a scenario file (includes confined to its folder).
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, Diagnostics> {
    load_with(path, overrides, LoadOptions::default())
}

/// As [`load`], with `options` saying what the file may include.
pub fn load_with(path: &Path, overrides: &[String], options: LoadOptions) -> Result<Scenario, Diagnostics> {
    let file = path.display().to_string();
    let mut budget = MAX_SCENARIO_BYTES;
    let source = source::read(path, &mut budget).map_err(|refusal| {
        Diagnostics(vec![
            Diagnostic::at(&file, "", None, refusal.message).with_help(refusal.help)
        ])
    })?;
    let reading = Reading { options, budget };
    load_text(&file, &source, overrides, reading)
}

/// As [`load`], from text; `file` names it in diagnostics (and its folder is where
/// includes are found).
pub fn load_str(file: &str, source: &str, overrides: &[String]) -> Result<Scenario, Diagnostics> {
    let budget = MAX_SCENARIO_BYTES.saturating_sub(source.len() as u64);
    let reading = Reading {
        options: LoadOptions::default(),
        budget,
    };
    load_text(file, source, overrides, reading)
}

/// What loading one scenario may still read: its options and the bytes left for includes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Reading {
    options: LoadOptions,
    budget: u64,
}

pub(super) fn load_text(
    file: &str,
    source: &str,
    overrides: &[String],
    reading: Reading,
) -> Result<Scenario, Diagnostics> {
    if source.len() as u64 > MAX_SCENARIO_BYTES {
        let message = format!("the scenario is {} bytes, more than {MAX_SCENARIO_BYTES}", source.len());
        return Err(Diagnostics(vec![Diagnostic::at(file, "", None, message)]));
    }
    source::check_plain_text(file, source)?;
    let scenario = load_without_sweep_check(file, source, overrides, reading)?;
    if !scenario.sweep.is_empty() {
        check_sweep(file, source, &scenario, reading)?;
    }
    Ok(scenario)
}

/// Every `[sweep]` value must make a valid scenario on its own (on the file as
/// written); an error names the value's place in the file. Combinations are checked
/// when they run. Each value costs a load of the file, so a sweep too large to run
/// ([`MAX_SWEEP_CELLS`]) or to check ([`SWEEP_CHECK_BUDGET_BYTES`]) is refused first.
pub(super) fn check_sweep(file: &str, source: &str, scenario: &Scenario, reading: Reading) -> Result<(), Diagnostics> {
    let doc = toml_edit::ImDocument::parse(source).ok();
    let place = |key: &str, i: Option<usize>| {
        let values = doc.as_ref()?.get("sweep")?.get(key)?;
        match i {
            Some(i) => values.as_array()?.get(i)?.span(),
            None => values.span(),
        }
    };
    let sweep_span = || doc.as_ref().and_then(|d| d.get("sweep")).and_then(|s| s.span());
    let cells = (scenario.sweep.values()).fold(1usize, |cells, values| cells.saturating_mul(values.len().max(1)));
    if cells > MAX_SWEEP_CELLS {
        return Err(Diagnostics(vec![Diagnostic::at(
            file,
            source,
            sweep_span(),
            format!("[sweep] has {cells} combinations, more than {MAX_SWEEP_CELLS}"),
        )
        .with_help("sweep fewer values per key, or split the experiment")]));
    }
    // The values are checked against the file without its [sweep] table: they do not
    // depend on it, and a long one would be read again for every value.
    let plain = match source.parse::<toml_edit::DocumentMut>() {
        Ok(mut without_sweep) => {
            without_sweep.remove("sweep");
            without_sweep.to_string()
        }
        Err(_) => source.to_string(),
    };
    let values: usize = scenario.sweep.values().map(Vec::len).sum();
    if values > MAX_SWEEP_VALUES {
        return Err(Diagnostics(vec![Diagnostic::at(
            file,
            source,
            sweep_span(),
            format!("[sweep] lists {values} values, more than {MAX_SWEEP_VALUES}"),
        )
        .with_help(
            "sweep fewer values (each is checked as a scenario of its own), or give them with `failcast sweep --grid`",
        )]));
    }
    let work = (values as u64).saturating_mul(plain.len() as u64);
    if work > SWEEP_CHECK_BUDGET_BYTES {
        return Err(Diagnostics(vec![Diagnostic::at(
            file,
            source,
            sweep_span(),
            format!(
                "[sweep] lists {values} values over a scenario of {} bytes: checking each on the whole file reads more than {} MB",
                plain.len(),
                SWEEP_CHECK_BUDGET_BYTES >> 20
            ),
        )
        .with_help("sweep fewer values, or give them with `failcast sweep --grid KEY=V1,V2,...`")]));
    }
    let mut errors = Vec::new();
    for (key, values) in &scenario.sweep {
        if values.is_empty() {
            errors.push(
                Diagnostic::at(file, source, place(key, None), format!("sweep `{key}` has no values"))
                    .with_help("list the values to try, e.g. \"ingest.health.interval\" = [\"1s\", \"2s\"]"),
            );
            continue;
        }
        for (i, value) in values.iter().enumerate() {
            let Some(literal) = sweep_literal(value) else {
                errors.push(
                    Diagnostic::at(
                        file,
                        source,
                        place(key, Some(i)),
                        format!("sweep `{key}`: value {value} is a table"),
                    )
                    .with_help("sweep values are numbers, strings, booleans or arrays"),
                );
                continue;
            };
            // Against the file alone: with the caller's overrides (a cell being run)
            // the key's other values would be judged on top of that cell.
            if let Err(found) = load_without_sweep_check(file, &plain, &[format!("{key}={literal}")], reading) {
                for inner in found.0 {
                    let message = format!("sweep `{key}` = {literal}: {}", inner.message);
                    let mut d = Diagnostic::at(file, source, place(key, Some(i)), message);
                    d.help = inner.help;
                    errors.push(d);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

/// Most values a `[sweep]` may list, all keys together (each is loaded as a scenario
/// of its own: 0.1 to 0.3 ms for a small file), and most bytes of scenario text
/// checking them may read (values times the file): together, a fraction of a second.
pub(super) const MAX_SWEEP_VALUES: usize = 1_000;
pub(super) const SWEEP_CHECK_BUDGET_BYTES: u64 = 8 << 20;

/// A value inside a TOML array (`None` for a table).
pub(super) fn toml_literal(value: &serde_json::Value) -> Option<String> {
    Some(match value {
        serde_json::Value::String(s) => toml_edit::Value::from(s.as_str()).to_string().trim().to_string(),
        serde_json::Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(toml_literal).collect();
            format!("[{}]", items?.join(", "))
        }
        serde_json::Value::Object(_) => return None,
        other => other.to_string(),
    })
}

/// A sweep value as `--set` takes it (`None` for a table).
pub(super) fn sweep_literal(value: &serde_json::Value) -> Option<String> {
    Some(match value {
        // `--set` takes a string key's value as it is written.
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(toml_literal).collect();
            format!("[{}]", items?.join(", "))
        }
        serde_json::Value::Object(_) => return None,
        other => other.to_string(),
    })
}

impl Scenario {
    /// Every combination of the `[sweep]` axes, each as `--set` arguments: keys in
    /// name order, the last key varying fastest, values in the order listed.
    pub fn sweep_cells(&self) -> Vec<Vec<String>> {
        let mut cells: Vec<Vec<String>> = vec![Vec::new()];
        for (key, values) in &self.sweep {
            let literals: Vec<String> = values.iter().filter_map(sweep_literal).collect();
            cells = (cells.iter())
                .flat_map(|cell| {
                    literals.iter().map(move |literal| {
                        let mut next = cell.clone();
                        next.push(format!("{key}={literal}"));
                        next
                    })
                })
                .collect();
        }
        cells
    }
}

pub(super) fn load_without_sweep_check(
    file: &str,
    source: &str,
    overrides: &[String],
    reading: Reading,
) -> Result<Scenario, Diagnostics> {
    let base: Scenario = toml::from_str(source).map_err(|e| Diagnostics(vec![diag::from_toml(file, source, &e)]))?;
    if !base.scenario.include.is_empty() {
        return load_with_includes(file, source, &base.scenario.include, overrides, reading);
    }
    if overrides.is_empty() {
        let base = with_context_defaults(source, base);
        return validate::validate(&Sources::single(file, source), base);
    }
    let edited = overrides::apply(file, source, &base, overrides)?;
    let scenario: Scenario = toml::from_str(&edited.text).map_err(|e| Diagnostics(vec![edited.explain(file, &e)]))?;
    let scenario = with_context_defaults(&edited.text, scenario);
    validate::validate(
        &Sources::single(file, &edited.text).with_overrides(edited.applied()),
        scenario,
    )
}

/// A scenario file with `include`: each fragment is checked on its own, then the merged
/// document is overridden and validated; an error points into the file that wrote the
/// key (an override's value is blamed on its `--set`).
pub(super) fn load_with_includes(
    file: &str,
    source: &str,
    include: &[String],
    overrides: &[String],
    reading: Reading,
) -> Result<Scenario, Diagnostics> {
    let included = include::resolve(file, source, include, reading.options, reading.budget)?;
    let merged_error = |e: toml::de::Error| {
        let mut d = Diagnostic::at(
            file,
            source,
            None,
            format!("the merged scenario: {}", diag::parser_message(e.message(), "", None)),
        );
        d = d.with_help("each file is valid alone, but not together: check the keys the included files share");
        Diagnostics(vec![d])
    };
    let base: Scenario = toml::from_str(&included.merged).map_err(merged_error)?;
    let (text, applied) = if overrides.is_empty() {
        (included.merged, Vec::new())
    } else {
        let edited = overrides::apply(file, &included.merged, &base, overrides)?;
        toml::from_str::<Scenario>(&edited.text).map_err(|e| Diagnostics(vec![edited.explain(file, &e)]))?;
        let applied = edited.applied();
        (edited.text, applied)
    };
    let scenario: Scenario = toml::from_str(&text).map_err(merged_error)?;
    let scenario = with_context_defaults(&text, scenario);
    validate::validate(&included.sources.with_overrides(applied), scenario)
}

/// Re-reads `text` over the defaults of every table, so that a table written in part
/// keeps the defaults of where it stands: `dns.health = { interval = "10s" }` keeps
/// Route 53's 4 s timeout and `network.encoder_ingest = { loss = 0.01 }` its 20 ms,
/// where serde alone would fill them from the type's generic defaults. `parsed` (the
/// text already read and found well-typed) is returned if anything goes wrong.
pub(super) fn with_context_defaults(text: &str, parsed: Scenario) -> Scenario {
    fn merge(base: &mut toml::Table, over: toml::Table) {
        for (key, value) in over {
            match (base.get_mut(&key), value) {
                (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge(inner, value),
                (_, value) => {
                    base.insert(key, value);
                }
            }
        }
    }
    let minimal = "[scenario]\nname = \"defaults\"\nduration = \"1m\"\n";
    let defaults = toml::from_str::<Scenario>(minimal)
        .ok()
        .and_then(|d| toml::Table::try_from(&d).ok());
    let (Some(mut merged), Ok(user)) = (defaults, text.parse::<toml::Table>()) else {
        return parsed;
    };
    // Lists replace their defaults whole (the default alert rules, faults, expectations).
    for list in ["scenario", "fault", "expect", "alert"] {
        merged.remove(list);
    }
    merge(&mut merged, user);
    merged.try_into().unwrap_or(parsed)
}
