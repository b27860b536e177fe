//! Command-line interface: argument parsing with clap, and exit codes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    /// An expectation failed, or a determinism check found a difference.
    pub const FAILED: i32 = 1;
    /// The scenario or the command line is invalid.
    pub const INVALID: i32 = 2;
    /// failcast itself failed (a panic in the model, an I/O error).
    pub const INTERNAL: i32 = 3;
}

#[derive(Parser, Debug)]
#[command(
    name = "failcast",
    version,
    about = "Deterministic chaos testbed for the control plane of 24/7 live streaming"
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace), stamped with virtual time. RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one scenario and write its run folder (summary, CSVs, plots, report.html).
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Override a value by its dotted path, e.g. --set viewers.count=50.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Redraw plots/ and report.html of a run folder from its CSVs and summary.json.
    Report {
        /// A run folder written by `failcast run`.
        dir: PathBuf,
    },
    /// Print the JSON Schema of scenario files (for editors and TOML language servers).
    Schema,
    /// Measure the simulation kernel against a bare binary-heap loop.
    Bench {
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Repetitions per figure; medians are reported.
        #[arg(long, default_value_t = 3)]
        repeats: u32,
    },
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Seed for every random draw (default: scenario.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: results/<scenario name>/seed-<N>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override a scenario value by its dotted path, e.g. --set viewers.count=50.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run twice and fail, naming the first diverging event, if anything differs.
    #[arg(long)]
    pub check_determinism: bool,
    /// Also write events.csv (every delivered event) and trace.json (Chrome trace-event
    /// spans of faults, failover phases and alerts; open it in Perfetto).
    #[arg(long)]
    pub trace: bool,
}
