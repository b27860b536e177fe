//! Diagnostics for scenario files: file, line and column, the offending line, and how to
//! fix it, rendered by annotate-snippets as rustc renders its own.

use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::text::printable;

/// One problem found in a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based line and column, when the problem has a place in the file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub source_line: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem at byte range `span` of `source` (or with no place if `span` is `None`).
    pub fn at(file: &str, source: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        let (line, column, source_line) = match span {
            Some(span) => {
                let (line, column) = line_col(source, span.start);
                let text = source.lines().nth(line - 1).unwrap_or("").to_string();
                (Some(line), Some(column), Some(text))
            }
            None => (None, None, None),
        };
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            source_line,
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

// Everything a diagnostic shows may come from the file or the command line: the
// message, file name and help are escaped, the source line is drawn by
// annotate-snippets (rustc's renderer) with control pictures, and the whole is
// escaped once more, so a file cannot drive the terminal that shows its errors.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = printable(&self.message);
        let file = printable(&self.file);
        let mut group = Group::with_title(Level::ERROR.primary_title(message.as_ref()));
        match (&self.source_line, self.line, self.column) {
            (Some(text), Some(line), Some(column)) => {
                let at: usize = text.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
                let width = text[at..].chars().next().map_or(0, char::len_utf8);
                let snippet = Snippet::source(text.as_str())
                    .line_start(line)
                    .path(file.as_ref())
                    .annotation(AnnotationKind::Primary.span(at..at + width));
                group = group.element(snippet);
            }
            (Some(text), None, _) => {
                // No place in a file (a `--set`): show what was given.
                let snippet = Snippet::<annotate_snippets::Annotation<'_>>::source(printable(text).into_owned())
                    .path(file.as_ref())
                    .line_numbering(false)
                    .fold(false);
                group = group.element(snippet);
            }
            (_, line, column) => {
                let origin = Origin::path(file.as_ref());
                let origin = match (line, column) {
                    (Some(line), Some(column)) => origin.line(line).char_column(column),
                    _ => origin,
                };
                group = group.element(origin);
            }
        }
        let help = self.help.as_deref().map(printable);
        if let Some(help) = &help {
            group = group.element(Level::HELP.message(help.as_ref()));
        }
        // annotate-snippets shows control characters of the source line as control
        // pictures (`␛`), as rustc does; anything else unsafe it passed is escaped.
        let rendered = Renderer::plain().render(&[group]);
        writeln!(f, "{}", crate::text::printable_lines(&rendered))
    }
}

/// A TOML parser's message for the error at `span` of `source`, never empty: the
/// parser gives none for some characters it refuses (a raw control character, a lone
/// carriage return), so name the character there instead.
pub fn parser_message(message: &str, source: &str, span: Option<Range<usize>>) -> String {
    let message = message.trim();
    if !message.is_empty() {
        return message.to_string();
    }
    let found = span
        .and_then(|span| source.get(span.start..))
        .and_then(|rest| rest.chars().next());
    match found {
        Some(c) if crate::text::is_unsafe(c) => format!(
            "{} is not allowed here: TOML takes tabs and line breaks (LF or CR LF) only",
            crate::text::describe(c)
        ),
        Some(c) => format!("unexpected `{c}`"),
        None => "the file ends where TOML expects more".to_string(),
    }
}

/// Every problem found in one load, reported together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.0 {
            writeln!(f, "{diagnostic}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{} in scenario", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|&(distance, c)| distance <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

/// A diagnostic for a TOML syntax or type error, with a did-you-mean for unknown keys.
pub fn from_toml(file: &str, source: &str, error: &toml::de::Error) -> Diagnostic {
    let message = parser_message(error.message(), source, error.span());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
    }

    #[test]
    fn renders_like_rustc_by_annotate_snippets() {
        let src = "[viewers]\ncount = -3\n";
        let d = Diagnostic::at("s.toml", src, Some(18..20), "viewers.count must be at least 1")
            .with_help("set a positive number of viewers");
        assert_eq!(
            d.to_string(),
            "error: viewers.count must be at least 1\n --> s.toml:2:9\n  |\n2 | count = -3\n  |         ^\n  |\n  = help: set a positive number of viewers\n"
        );
    }

    #[test]
    fn control_characters_are_shown_as_pictures_with_the_caret_still_under_its_place() {
        let src = "[scenario]\nname = \"\u{1b}]0;x\u{7}\" # \u{1b}[2J\n";
        let d = Diagnostic::at("s\u{1b}.toml", src, Some(23..24), "bad \u{1b}[31m name").with_help("no \u{7} here");
        let text = d.to_string();
        assert!(
            !text.chars().any(|c| crate::text::is_unsafe(c) && c != '\n'),
            "{text:?}"
        );
        assert_eq!(
            text,
            "error: bad \\u{1b}[31m name\n --> s\\u{1b}.toml:2:13\n  |\n2 | name = \"␛]0;x␇\" # ␛[2J\n  |             ^\n  |\n  = help: no \\u{7} here\n"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("coutn", ["count", "fps"]), Some("count"));
        assert_eq!(did_you_mean("zzzzzz", ["count", "fps"]), None);
    }
}
