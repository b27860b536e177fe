//! The binary's output lines: `say!` to stdout, `tell!` to stderr. Every line goes
//! through [`failcast::text::printable_lines`], so no text from a file or an argument
//! reaches the terminal with its control characters; a closed pipe
//! (`failcast run … | head`) is not an error.

/// Prints a line to stdout.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stdout().lock(), "{}", failcast::text::printable_lines(&line));
    }};
}

/// Prints a line to stderr.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stderr().lock(), "{}", failcast::text::printable_lines(&line));
    }};
}
