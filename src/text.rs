//! Text that is safe to print: control characters shown as escapes, so that nothing a
//! scenario file or an argument holds can clear a terminal, set its title, ring its
//! bell or forge lines in a log.

use std::borrow::Cow;

/// Whether `c` must never reach a terminal or a log raw: the C0 and C1 controls, DEL,
/// and the Unicode controls that reorder or break lines (bidirectional overrides and
/// isolates, line and paragraph separators), which can make text read as something
/// else.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// `text` with every unsafe character written as an escape (`\n`, `\t`, `\u{1b}`):
/// one line, whatever it holds. Borrowed when there is nothing to escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    escaped(text, |_| false)
}

/// As [`printable`], but keeps line breaks (for a message of several lines).
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c == '\n')
}

fn escaped(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if keep(c) || !is_unsafe(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// The name of an unsafe character for a message: `ESC (U+001B)`.
pub fn describe(c: char) -> String {
    let name = match c {
        '\0' => "NUL",
        '\u{7}' => "BEL",
        '\u{8}' => "BS",
        '\t' => "TAB",
        '\n' => "LF",
        '\u{b}' => "VT",
        '\u{c}' => "FF",
        '\r' => "CR",
        '\u{1b}' => "ESC",
        '\u{7f}' => "DEL",
        '\u{9b}' => "CSI",
        c if c.is_control() => "a control character",
        _ => "a bidirectional or line-breaking control",
    };
    format!("{name} (U+{:04X})", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_control_and_keeps_the_rest() {
        assert_eq!(printable("edge-1"), "edge-1");
        assert!(matches!(printable("édge ✓"), Cow::Borrowed(_)));
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("t\u{1b}]0;pwned\u{7}"), "t\\u{1b}]0;pwned\\u{7}");
        assert_eq!(printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(printable("x\u{9b}y\u{7f}"), "x\\u{9b}y\\u{7f}");
        assert_eq!(printable("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(printable_lines("one\ntwo\u{1b}"), "one\ntwo\\u{1b}");
        for text in ["\u{1b}", "\u{7}", "\u{0}", "\u{9b}", "\u{2028}"] {
            assert!(!printable(text).chars().any(is_unsafe), "{text:?}");
        }
    }

    #[test]
    fn names_the_character() {
        assert_eq!(describe('\u{1b}'), "ESC (U+001B)");
        assert_eq!(describe('\u{7}'), "BEL (U+0007)");
        assert_eq!(describe('\u{85}'), "a control character (U+0085)");
        assert_eq!(
            describe('\u{202e}'),
            "a bidirectional or line-breaking control (U+202E)"
        );
    }
}
