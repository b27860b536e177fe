//! The `failcast` binary: parses the command line and maps outcomes to exit codes.

#[macro_use]
mod print;
mod allocator;
mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

use cli::{exit, Cli, Command};

#[global_allocator]
static ALLOCATOR: allocator::HugePageHint = allocator::HugePageHint;

/// Log lines carry virtual time, never wall time.
struct VirtualTime;

impl FormatTime for VirtualTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", failcast::sim::current_time())
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "failcast=debug",
        _ => "failcast=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only on a terminal: a log file or a CI log gets no escape codes.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(VirtualTime)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
}

/// Refuses an argument holding a control character before anything reads it (clap
/// would echo it in its own errors): failcast prints its arguments back in messages,
/// replay lines and reports, and none may carry one.
fn refuse_control_characters() -> Result<(), i32> {
    for (n, arg) in std::env::args_os().enumerate().skip(1) {
        let text = arg.to_string_lossy();
        if let Some(c) = text.chars().find(|&c| failcast::text::is_unsafe(c)) {
            tell!(
                "error: argument {n} `{}` holds {}",
                failcast::text::printable(&text),
                failcast::text::describe(c)
            );
            tell!("  = help: rename the file or fix the value: failcast takes no control characters in its arguments");
            return Err(exit::INVALID);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(code) = refuse_control_characters() {
        return ExitCode::from(code as u8);
    }
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let code = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Validate(args) => commands::run::validate(&args),
        Command::Report { dir } => commands::run::rebuild_report(&dir),
        Command::Bench(args) => commands::bench::bench(args),
        Command::Check(args) => commands::batch::check(args),
        Command::Compare(args) => commands::batch::compare(args),
        Command::Sweep(args) => commands::batch::sweep(args),
        Command::Merge(args) => commands::batch::merge(args),
        Command::Schema => {
            println!("{}", failcast::scenario::json_schema());
            exit::OK
        }
    };
    ExitCode::from(code as u8)
}
