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
    Validate(ValidateArgs),
    /// Redraw plots/ and report.html of a run folder from its CSVs and summary.json.
    Report {
        /// A run folder written by `failcast run`.
        dir: PathBuf,
    },
    /// Judge every [[expect]] of scenario files (or folders of them) over seeds, for CI.
    /// Exit code 0: all pass; 1: an expectation failed or a metric regressed against
    /// --baseline; 2: invalid input; 3: a run failed (panic, model error).
    Check(CheckArgs),
    /// Run setups on the same seeds and compare them metric by metric: mean, p50, p95,
    /// 95% confidence intervals, and the paired difference to the first setup.
    Compare(CompareArgs),
    /// Run every cell of a parameter grid (--grid, or the scenario's [sweep]) on the
    /// same seeds: a tidy CSV of cells and a heatmap for two axes.
    Sweep(SweepArgs),
    /// Combine the folders of a sharded experiment (`--shard K/N`) into the aggregate
    /// an unsharded run writes.
    Merge(MergeArgs),
    /// Print the JSON Schema of scenario files (for editors and TOML language servers).
    Schema,
    /// Measure the simulation kernel against a bare binary-heap loop.
    Bench(BenchArgs),
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
    /// Run even if the run's estimated memory is more than this machine has available.
    #[arg(long)]
    pub no_memory_check: bool,
    /// Let `include` name files outside the scenario file's folder tree.
    #[arg(long)]
    pub allow_includes_anywhere: bool,
}

/// How a batch of runs is executed (shared by check, compare and sweep).
#[derive(clap::Args, Debug)]
pub struct BatchArgs {
    /// Seeds per setup: the scenario's own seed and the ones after it (default: 1 for
    /// check, 10 for compare, 3 for sweep).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Start from this seed instead of the scenario's `scenario.seed`.
    #[arg(long)]
    pub first_seed: Option<u64>,
    /// Runs at once, each on its own thread (default: every core). Results are the
    /// same whatever this is.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Keep the runs an interrupted experiment in --out already finished.
    #[arg(long)]
    pub resume: bool,
    /// Run one slice of the runs: K/N (K = 1 … N). `auto/N` (Kubernetes Indexed Jobs)
    /// takes K from JOB_COMPLETION_INDEX; `auto` (Slurm job arrays) takes K and N from
    /// SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT. Combine
    /// the slices with `failcast merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Override a value in every scenario, e.g. --set viewers.count=50.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run even if the runs' estimated memory (each run's, times --jobs) is more than
    /// this machine has available.
    #[arg(long)]
    pub no_memory_check: bool,
    /// Let `include` name files outside each scenario file's folder tree.
    #[arg(long)]
    pub allow_includes_anywhere: bool,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario files, or folders whose *.toml files are scenarios.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// How an expectation is judged over seeds: `all` (every seed passes), or `mean`,
    /// `p50`, `p95`, `min`, `max` of the measured values checked once.
    #[arg(long, default_value = "all")]
    pub statistic: String,
    /// Experiment folder: one record per run, check.json, check.md, junit.xml.
    #[arg(long, default_value = "results/check")]
    pub out: PathBuf,
    /// Also write JUnit XML (one test case per expectation) here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write a Markdown summary (for $GITHUB_STEP_SUMMARY) here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Fail on metrics worse than this stored result by more than their tolerance
    /// (metrics better by more are reported as improved).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// With --baseline: fail on metrics better than the baseline by more than their
    /// tolerance too, so that a change which moves the figures updates it on purpose.
    #[arg(long, requires = "baseline")]
    pub fail_on_improvement: bool,
    /// Store this check's metrics as a baseline file.
    #[arg(long)]
    pub save_baseline: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Scenario files, one setup each (the first is the reference).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// A further setup: the first scenario with overrides, `NAME:KEY=VALUE;KEY=VALUE`
    /// (e.g. --variant 'fast-checks:ingest.health.interval=500ms;ingest.health.fall=2').
    #[arg(long, value_name = "NAME:KEY=VALUE;...")]
    pub variant: Vec<String>,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// Experiment folder: records, comparison.csv, comparison.json, comparison.html, plots/.
    #[arg(long, default_value = "results/compare")]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// An axis: a key `--set` takes and its values, e.g. --grid ingest.health.interval=1s,2s,5s
    /// (repeat for more axes; the last varies fastest). Default: the scenario's [sweep].
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// The figure the heatmap shows, e.g. failover_latency_ms.max or rebuffer_ratio.
    #[arg(long, default_value = "failover_latency_ms.max")]
    pub metric: String,
    /// Its statistic across each cell's seeds: mean, p50, p95, min or max.
    #[arg(long, default_value = "mean")]
    pub statistic: String,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// Experiment folder: records, sweep.csv, sweep.json, plots/sweep.{svg,png}.
    #[arg(long, default_value = "results/sweep")]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Override a value by its dotted path, e.g. --set viewers.count=50.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Let `include` name files outside the scenario file's folder tree.
    #[arg(long)]
    pub allow_includes_anywhere: bool,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Experiment folders (one per shard).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged experiment goes (default: the first folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `check` experiments: also write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// `check` experiments: also write a Markdown summary here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// `check` experiments: store the metrics as a baseline file.
    #[arg(long)]
    pub save_baseline: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Repetitions per figure; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: u32,
    /// Also time the bundled reference day (24 simulated hours) and report its
    /// speed and peak memory.
    #[arg(long)]
    pub day: bool,
    /// Also measure runs/s of a batch with --jobs 1 and --jobs 2.
    #[arg(long)]
    pub jobs_scaling: bool,
    /// Also measure how wall time grows with simulated time and with viewers, and
    /// print the fitted exponents.
    #[arg(long)]
    pub scaling: bool,
    /// Also run the bundled quickstart with this many viewers (and a quarter as
    /// many) for 90 simulated seconds: wall time, peak memory, bytes per viewer,
    /// and the wall time of a simulated hour at that pace.
    #[arg(long, value_name = "VIEWERS", value_parser = clap::value_parser!(u32).range(4..))]
    pub audience: Option<u32>,
    /// Also run the bundled quickstart with this many viewers (and a quarter as
    /// many) in squads (`viewers.squads`, joins on a 10 ms grid) for a whole
    /// simulated hour: wall time, peak memory, bytes per viewer.
    #[arg(long, value_name = "VIEWERS", value_parser = clap::value_parser!(u32).range(4..))]
    pub squads: Option<u32>,
    /// Internal: run one measurement (`day`, `audience=N`, `squads=N`) in this process and print
    /// it as JSON, for a bench that wants the run's own peak memory.
    #[arg(long, hide = true, value_name = "WHAT")]
    pub measure: Option<String>,
}
