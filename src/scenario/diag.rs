//! Diagnostics for scenario files: file, line and column, the offending line, and how to
//! fix it, rendered like rustc's.

use std::fmt;
use std::ops::Range;

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

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => writeln!(f, "  --> {}:{}:{}", self.file, line, column)?,
            _ => writeln!(f, "  --> {}", self.file)?,
        }
        if let (Some(text), Some(line), Some(column)) = (&self.source_line, self.line, self.column) {
            let gutter = line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{line} | {text}")?;
            writeln!(f, "{:gutter$} | {:>column$}", "", "^")?;
        } else if let (Some(text), None) = (&self.source_line, self.line) {
            // No place in a file (a `--set`): show what was given.
            writeln!(f, "  |")?;
            writeln!(f, "  | {text}")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
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
    fn renders_like_rustc() {
        let src = "[viewers]\ncount = -3\n";
        let d = Diagnostic::at("s.toml", src, Some(18..20), "viewers.count must be at least 1")
            .with_help("set a positive number of viewers");
        assert_eq!(
            d.to_string(),
            "error: viewers.count must be at least 1\n  --> s.toml:2:9\n  |\n2 | count = -3\n  |         ^\n  = help: set a positive number of viewers\n"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("coutn", ["count", "fps"]), Some("count"));
        assert_eq!(did_you_mean("zzzzzz", ["count", "fps"]), None);
    }
}
