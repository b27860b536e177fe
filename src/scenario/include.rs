//! `include = [...]`: scenario files built from shared fragments (a topology, a fault
//! set), merged into one document, and the map back from a key to the file that wrote it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::ImDocument;

use super::diag::{Diagnostic, Diagnostics};
use super::{LoadOptions, Scenario};

/// Arrays of tables (by dotted path): the entries of every file are kept, fragments'
/// first.
const CONCATENATED: &[&str] = &["fault", "expect", "alert", "random_faults.kind"];

/// Tables only the scenario file itself may have.
const SCENARIO_ONLY: &[&str] = &["scenario", "sweep"];

/// One file that went into a scenario.
pub(super) struct SourceFile {
    pub name: String,
    pub text: String,
    doc: Option<ImDocument<String>>,
}

impl SourceFile {
    pub fn new(name: &str, text: &str) -> SourceFile {
        SourceFile {
            name: name.to_string(),
            text: text.to_string(),
            doc: ImDocument::parse(text.to_string()).ok(),
        }
    }

    /// Entries of the array of tables at dotted `path`, written as `[[…]]` sections or
    /// as an inline array.
    fn entries(&self, path: &str) -> usize {
        let Some(doc) = self.doc.as_ref() else { return 0 };
        let mut item = doc.as_item();
        for key in path.split('.') {
            match item.get(key) {
                Some(child) => item = child,
                None => return 0,
            }
        }
        (item.as_array_of_tables().map(|a| a.len()))
            .or_else(|| item.as_array().map(|a| a.len()))
            .unwrap_or(0)
    }
}

/// The files of a scenario: its fragments in include order, then the scenario file
/// (which overrides them key by key).
pub(super) struct Sources {
    pub files: Vec<SourceFile>,
    /// `--set`s applied on top: (dotted key, the argument as given).
    pub overrides: Vec<(String, String)>,
}

impl Sources {
    pub fn single(name: &str, text: &str) -> Sources {
        Sources {
            files: vec![SourceFile::new(name, text)],
            overrides: Vec::new(),
        }
    }

    /// With the `--set`s that were applied (a problem with a value one of them wrote
    /// is blamed on it).
    pub fn with_overrides(mut self, overrides: Vec<(String, String)>) -> Sources {
        self.overrides = overrides;
        self
    }

    /// The `--set` that wrote the value at `path` or something inside it.
    fn override_of(&self, path: &str) -> Option<&str> {
        // A problem with a whole table (`encoders.reconnect`) is the override's if it
        // wrote into that table; a top-level table (`[random_faults]`) is too broad to say.
        let nested = path.contains('.') || path.contains('[');
        let inside = |key: &str, of: &str| {
            key == of
                || (nested
                    && key
                        .strip_prefix(of)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('[')))
        };
        (self.overrides.iter().rev())
            .find(|(key, _)| inside(key, path))
            .map(|(_, arg)| arg.as_str())
    }

    pub fn main(&self) -> &SourceFile {
        self.files.last().expect("a scenario file")
    }

    /// The file and byte span of the value at a dotted path such as `fault[1].target`:
    /// an entry of a concatenated array in the file that wrote it, another key in the
    /// last file that spells it out, else the nearest table the scenario file spells out.
    pub fn locate(&self, path: &str) -> (&SourceFile, Option<Range<usize>>) {
        let main = self.main();
        if self.files.len() == 1 {
            return (main, span_in(main.doc.as_ref(), path).0);
        }
        // An entry of a concatenated array: `ARRAY[N]` then the rest of the path.
        if let Some((array, rest)) = path.split_once('[') {
            let (index, tail) = rest.split_once(']').unwrap_or((rest, ""));
            if let (true, Ok(mut index)) = (CONCATENATED.contains(&array), index.parse::<usize>()) {
                for file in &self.files {
                    let n = file.entries(array);
                    if index < n {
                        return (file, span_in(file.doc.as_ref(), &format!("{array}[{index}]{tail}")).0);
                    }
                    index -= n;
                }
            }
        }
        for file in self.files.iter().rev() {
            if let (Some(span), true) = span_in(file.doc.as_ref(), path) {
                return (file, Some(span));
            }
        }
        (main, span_in(main.doc.as_ref(), path).0)
    }

    /// Whether some file or `--set` writes the value at `path` (a value equal to its
    /// default is written too, and may still conflict with another key).
    pub fn writes(&self, path: &str) -> bool {
        self.override_of(path).is_some() || (self.files.iter()).any(|file| span_in(file.doc.as_ref(), path).1)
    }

    /// A diagnostic at a dotted path: on the `--set` that wrote it, else in the file
    /// that wrote it.
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        if let Some(arg) = self.override_of(path) {
            return super::overrides::set_error(arg, message.into());
        }
        let (file, span) = self.locate(path);
        // A key the files leave at its default (and in no table they write) has no
        // place of its own: point past the end of the scenario file, where it would go.
        let span = span.or(Some(file.text.len()..file.text.len()));
        Diagnostic::at(&file.name, &file.text, span, message)
    }
}

/// Byte span of the value at a dotted path, and whether the whole path was found
/// (otherwise the span is of the nearest enclosing table the file spells out).
pub(super) fn span_in(doc: Option<&ImDocument<String>>, path: &str) -> (Option<Range<usize>>, bool) {
    let Some(doc) = doc else { return (None, false) };
    let mut item = doc.as_item();
    let mut best = None;
    let mut segments = path.split('.');
    while let Some(segment) = segments.next() {
        let (key, index) = match segment.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some(child) = item.get(key) else {
            return (best, false);
        };
        item = child;
        if let Some(index) = index {
            if let Some(value) = item.as_array().and_then(|a| a.get(index)) {
                // An element of an inline array (`arrivals = [{ at = "1h", … }]`):
                // the key after it, if any, is in its inline table.
                let inner = match segments.next() {
                    None => None,
                    Some(next) => match value.as_inline_table().and_then(|t| t.get(next)) {
                        Some(v) => v.span(),
                        None => return (value.span().or(best), false),
                    },
                };
                let exact = segments.next().is_none();
                return (inner.or(value.span()).or(item.span()).or(best), exact);
            }
            match item.as_array_of_tables().and_then(|a| a.get(index)) {
                Some(table) => {
                    best = table.span().or(best);
                    item = match item.get(index) {
                        Some(i) => i,
                        None => return (best, false),
                    };
                    continue;
                }
                None => return (best, false),
            }
        }
        best = item.span().or(best);
    }
    (best, true)
}

/// What a scenario with `include` reads: its fragments and the merged text.
pub(super) struct Included {
    pub sources: Sources,
    pub merged: String,
}

/// Reads the fragments `main` includes (paths relative to its folder, and inside its
/// folder tree unless `options` allow any file), checks each on its own (so a type
/// error points into the fragment), and merges them under `main`. `budget`: the bytes
/// the fragments may hold together.
pub(super) fn resolve(
    file: &str,
    source: &str,
    include: &[String],
    options: LoadOptions,
    mut budget: u64,
) -> Result<Included, Diagnostics> {
    let main = SourceFile::new(file, source);
    let dir = Path::new(file).parent().map(Path::to_path_buf).unwrap_or_default();
    // The folder tree includes are confined to, resolved as the includes are (symbolic
    // links followed), so `parts/../../etc` and a link out of the tree are both seen.
    let root = (if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir.as_path()
    })
    .canonicalize();
    let mut errors = Vec::new();
    let mut files = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for (k, name) in include.iter().enumerate() {
        let at = format!("scenario.include[{k}]");
        let fail = |message: String, help: &str| {
            Diagnostic::at(file, source, span_in(main.doc.as_ref(), &at).0, message).with_help(help)
        };
        let path = dir.join(name);
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        let inside = root.as_ref().is_ok_and(|root| canonical.starts_with(root));
        if !inside && !options.includes_anywhere {
            errors.push(fail(
                format!("`{name}` is outside the scenario's folder"),
                "keep included files in the scenario file's folder or below it, or run with --allow-includes-anywhere if you trust the file",
            ));
            continue;
        }
        if seen.contains(&canonical) || Path::new(file).canonicalize().is_ok_and(|m| m == canonical) {
            errors.push(fail(
                format!("`{name}` is included twice"),
                "list each file once; the scenario file itself is never included",
            ));
            continue;
        }
        seen.push(canonical);
        let text = match super::source::read(&path, &mut budget) {
            Ok(text) => text,
            Err(refusal) => {
                let help = if refusal.message.starts_with("cannot read") {
                    "include paths are relative to the scenario file's folder"
                } else {
                    refusal.help
                };
                errors.push(fail(format!("included file: {}", refusal.message), help));
                continue;
            }
        };
        let fragment = SourceFile::new(&path.display().to_string(), &text);
        if let Err(found) = super::source::check_plain_text(&fragment.name, &fragment.text) {
            errors.extend(found.0);
            continue;
        }
        match check_fragment(&fragment) {
            Ok(()) => files.push(fragment),
            Err(found) => errors.extend(found.0),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    files.push(main);
    let mut merged = toml::Table::new();
    for f in &files {
        let table: toml::Table = f
            .text
            .parse()
            .map_err(|e: toml::de::Error| Diagnostics(vec![super::diag::from_toml(&f.name, &f.text, &e)]))?;
        merge(&mut merged, table, "");
    }
    // The merged document is complete: it includes nothing more.
    if let Some(toml::Value::Table(meta)) = merged.get_mut("scenario") {
        meta.remove("include");
    }
    let merged = toml::to_string(&merged).map_err(|e| {
        Diagnostics(vec![Diagnostic::at(
            file,
            source,
            None,
            format!("cannot merge the included files: {e}"),
        )])
    })?;
    Ok(Included {
        sources: Sources {
            files,
            overrides: Vec::new(),
        },
        merged,
    })
}

/// A fragment must be a valid part of a scenario by itself, without the tables only
/// the scenario file has.
fn check_fragment(fragment: &SourceFile) -> Result<(), Diagnostics> {
    let (name, text) = (&fragment.name, &fragment.text);
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Diagnostics(vec![super::diag::from_toml(name, text, &e)]))?;
    let mut errors = Vec::new();
    for key in SCENARIO_ONLY {
        if table.contains_key(*key) {
            let span = span_in(fragment.doc.as_ref(), key).0;
            errors.push(
                Diagnostic::at(name, text, span, format!("an included file cannot have a [{key}] table"))
                    .with_help(format!(
                        "move [{key}] to the scenario file; included files hold shared parts such as the topology (and include nothing themselves)"
                    )),
            );
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    // Appended, a placeholder [scenario] leaves every offset in the fragment as it is.
    let whole = format!("{text}\n[scenario]\nname = \"included\"\nduration = \"1m\"\n");
    match toml::from_str::<Scenario>(&whole) {
        Ok(_) => Ok(()),
        Err(e) => Err(Diagnostics(vec![super::diag::from_toml(name, text, &e)])),
    }
}

/// `over` on top of `base` (at dotted `prefix`): tables merge key by key, the arrays
/// of tables in [`CONCATENATED`] append, anything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table, prefix: &str) {
    for (key, value) in over {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge(inner, value, &path),
            (Some(toml::Value::Array(items)), toml::Value::Array(more)) if CONCATENATED.contains(&path.as_str()) => {
                items.extend(more)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}
