//! Reading scenario files without trusting them: only regular `.toml` files, at most
//! [`MAX_SCENARIO_BYTES`] for a scenario and everything it includes, never a FIFO or a
//! device that would block or never end, and text free of control characters.

use std::path::Path;

use super::diag::{Diagnostic, Diagnostics};
use crate::folders::{read_regular, Unreadable};
use crate::text::{describe, is_unsafe};

/// Most bytes a scenario file and the files it includes may hold together. The
/// largest bundled scenario is a few kilobytes; a megabyte is room for thousands of
/// faults while keeping validation well under a second.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// How scenario files may be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Let `include` name files outside the scenario file's folder tree
    /// (`--allow-includes-anywhere`).
    pub includes_anywhere: bool,
}

/// Why a file could not be read as a scenario part: a message and how to fix it. It
/// never quotes the file's content (the file may not be a scenario at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: &'static str,
}

/// Reads `path` as a scenario part, taking its size from `budget` (bytes still allowed
/// for this scenario).
pub fn read(path: &Path, budget: &mut u64) -> Result<String, Refusal> {
    let shown = path.display();
    if path.extension().is_none_or(|e| e != "toml") {
        return Err(Refusal {
            message: format!("`{shown}` is not a scenario file: scenario files end in `.toml`"),
            help: "give a scenario file (bundled ones are in scenarios/); failcast reads no other files",
        });
    }
    let bytes = read_regular(path, *budget).map_err(|refusal| match refusal {
        Unreadable::Io(e) => Refusal {
            message: format!("cannot read `{shown}`: {e}"),
            help: "check the path; bundled scenarios are in scenarios/",
        },
        Unreadable::NotRegular(kind) => Refusal {
            message: format!("`{shown}` is {kind}, not a regular file"),
            help: "give a scenario file; failcast reads only regular files",
        },
        Unreadable::TooLarge(size) => Refusal {
            message: format!(
                "`{shown}` is {} bytes: a scenario and the files it includes may hold {MAX_SCENARIO_BYTES} bytes in all",
                size.map_or(format!("more than {budget}"), |size| size.to_string())
            ),
            help: "scenario files are short; share parts through `include` and draw many faults with [random_faults]",
        },
    })?;
    *budget -= bytes.len() as u64;
    String::from_utf8(bytes).map_err(|_| Refusal {
        message: format!("`{shown}` is not UTF-8 text"),
        help: "scenario files are UTF-8 TOML; save it as UTF-8",
    })
}

/// Most control characters reported for one file (each is its own diagnostic).
const MAX_REPORTED: usize = 5;

/// Refuses text holding control characters anywhere (a comment included): TOML allows
/// none but tab and line breaks, and failcast would otherwise have to print them.
pub fn check_plain_text(file: &str, text: &str) -> Result<(), Diagnostics> {
    // A carriage return is a line break only before a line feed (TOML's CR LF).
    let lone_cr = |at: usize| text.as_bytes().get(at + 1) != Some(&b'\n');
    let found: Vec<Diagnostic> = (text.char_indices())
        .filter(|&(at, c)| is_unsafe(c) && !matches!(c, '\t' | '\n') && (c != '\r' || lone_cr(at)))
        .take(MAX_REPORTED)
        .map(|(at, c)| {
            Diagnostic::at(
                file,
                text,
                Some(at..at + c.len_utf8()),
                format!("{} in the file: scenario files are plain text", describe(c)),
            )
            .with_help(
                "remove it (in a string, TOML writes such a character as an escape, but names and ids cannot hold one)",
            )
        })
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> u64 {
        MAX_SCENARIO_BYTES
    }

    #[test]
    fn reads_a_scenario_and_takes_its_size_from_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[scenario]\n").unwrap();
        let mut left = budget();
        assert_eq!(read(&path, &mut left).unwrap(), "[scenario]\n");
        assert_eq!(left, MAX_SCENARIO_BYTES - 11);
    }

    #[test]
    fn refuses_what_is_not_a_small_regular_toml_file_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("shadow");
        std::fs::write(&secret, "root:$6$secret").unwrap();
        let refusal = read(&secret, &mut budget()).unwrap_err();
        assert!(refusal.message.contains("end in `.toml`"), "{refusal:?}");
        assert!(!refusal.message.contains("secret"));
        let folder = dir.path().join("folder.toml");
        std::fs::create_dir(&folder).unwrap();
        assert!(read(&folder, &mut budget()).unwrap_err().message.contains("a folder"));
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_SCENARIO_BYTES as usize + 1]).unwrap();
        assert!(read(&big, &mut budget()).unwrap_err().message.contains("bytes"));
        let mut small_budget = 3;
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[a]\n").unwrap();
        assert!(
            read(&path, &mut small_budget).is_err(),
            "the budget is shared with includes"
        );
        let latin1 = dir.path().join("latin1.toml");
        std::fs::write(&latin1, b"name = \"caf\xe9\"\n").unwrap();
        assert!(read(&latin1, &mut budget()).unwrap_err().message.contains("UTF-8"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_or_a_device_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.toml");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert!(read(&fifo, &mut budget()).unwrap_err().message.contains("a FIFO"));
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(read(&zero, &mut budget()).unwrap_err().message.contains("a device"));
    }

    #[test]
    fn control_characters_are_refused_where_they_are() {
        let text = "# a \u{1b}[2J comment\n[scenario]\nname = \"x\u{7}\"\n";
        let found = check_plain_text("t.toml", text).unwrap_err().0;
        let places: Vec<_> = found.iter().map(|d| (d.line, d.column)).collect();
        assert_eq!(places, [(Some(1), Some(5)), (Some(3), Some(10))]);
        assert!(found[0].message.starts_with("ESC (U+001B)"), "{}", found[0].message);
        assert!(check_plain_text("t.toml", "a = \"tab\there\"\r\n").is_ok());
        let lone = check_plain_text("t.toml", "\r a comment\n").unwrap_err().0;
        assert!(lone[0].message.starts_with("CR (U+000D)"), "{}", lone[0].message);
    }
}
