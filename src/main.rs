//! The `failcast` binary: parses the command line and maps outcomes to exit codes.

mod cli;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

use cli::{exit, Cli, Command, RunArgs};
use failcast::experiment::{self, bench};
use failcast::{report, scenario};

/// Prints a line to stdout; a closed pipe (`failcast run … | head`) is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(VirtualTime)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenarios, set } => validate(&scenarios, &set),
        Command::Bench { json, repeats } => bench_command(json, repeats),
        Command::Check(args) => commands::check(args),
        Command::Compare(args) => commands::compare(args),
        Command::Sweep(args) => commands::sweep(args),
        Command::Merge {
            dirs,
            out,
            junit,
            markdown,
        } => commands::merge(&dirs, out.as_deref(), junit.as_deref(), markdown.as_deref()),
        Command::Schema => {
            println!("{}", failcast::scenario::json_schema());
            exit::OK
        }
        Command::Report { dir } => match report::rebuild(&dir) {
            Ok(()) => {
                say!("wrote     {}/{{plots/, report.html}}", dir.display());
                exit::OK
            }
            Err(error) => {
                eprintln!("error: {error}");
                eprintln!("  = help: give a folder written by `failcast run` (it needs summary.json and the CSVs)");
                exit::INVALID
            }
        },
    };
    ExitCode::from(code as u8)
}

fn validate(paths: &[PathBuf], set: &[String]) -> i32 {
    let mut code = exit::OK;
    for path in paths {
        match scenario::load(path, set) {
            Ok(s) => say!("ok: {} ({})", path.display(), s.scenario.name),
            Err(diagnostics) => {
                eprintln!("{diagnostics}");
                code = exit::INVALID;
            }
        }
    }
    code
}

fn run(args: RunArgs) -> i32 {
    let s = match scenario::load(&args.scenario, &args.set) {
        Ok(s) => s,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return exit::INVALID;
        }
    };
    let seed = args.seed.unwrap_or(s.scenario.seed);
    if args.check_determinism {
        return match experiment::check_determinism(&s, seed) {
            Ok(report) if report.deterministic() => {
                say!(
                    "seed {seed} · {} · deterministic: both runs gave trace {}",
                    s.scenario.name,
                    report.digests.0
                );
                exit::OK
            }
            Ok(report) => {
                eprintln!(
                    "seed {seed} · {} · NOT deterministic: traces {} vs {}",
                    s.scenario.name, report.digests.0, report.digests.1
                );
                if let Some(sentence) = report.describe_divergence() {
                    eprintln!("{sentence}");
                }
                if !report.differing_outputs.is_empty() {
                    eprintln!("outputs that differ: {}", report.differing_outputs.join(", "));
                }
                exit::FAILED
            }
            Err(error) => {
                eprintln!("error: {error}");
                exit::INTERNAL
            }
        };
    }
    let output = match experiment::run_scenario(&s, seed, None, args.trace) {
        Ok(output) => output,
        Err(error) => {
            eprintln!("error: seed {seed}: {error}");
            eprintln!("replay: failcast run {} --seed {seed}", args.scenario.display());
            return exit::INTERNAL;
        }
    };
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("results")
            .join(&s.scenario.name)
            .join(format!("seed-{seed}"))
    });
    if let Err(error) = report::write_run(&out, &output) {
        eprintln!("error: cannot write {}: {error}", out.display());
        return exit::INTERNAL;
    }
    say!("{}", report::text::run_summary(&output.summary, &output.failovers));
    say!(
        "wrote     {}/{{summary.json, scenario.toml, report.html, plots/, *.csv}}",
        out.display()
    );
    if args.trace {
        say!(
            "trace     {}/{{events.csv, trace.json}} (open trace.json in Perfetto)",
            out.display()
        );
    }
    let verdicts = experiment::evaluate(&s, &output.summary);
    let mut code = exit::OK;
    for v in &verdicts {
        let measured = v.measured.map_or("no value".to_string(), |m| m.to_string());
        let mark = if v.passed { "pass" } else { "FAIL" };
        let during = v
            .expect
            .during
            .as_deref()
            .map_or(String::new(), |w| format!(" during {w}"));
        say!(
            "expect    {mark}: {} {} {}{during} (measured {measured})",
            v.expect.metric,
            v.expect.op,
            v.expect.describe()
        );
        if !v.passed {
            code = exit::FAILED;
        }
    }
    code
}

fn bench_command(json: bool, repeats: u32) -> i32 {
    use failcast::time::SimDuration;
    let report = bench::run_bench(repeats, SimDuration::from_secs(20), SimDuration::from_secs(4));
    if json {
        say!("{}", serde_json::to_string(&report).expect("bench report serialises"));
        return exit::OK;
    }
    if cfg!(debug_assertions) {
        say!("note: this is a debug build; measure with `cargo run --release -- bench`");
    }
    let m = |v: f64| format!("{:.2} M", v / 1e6);
    say!(
        "failcast bench: events/s, kernel + actix actors vs bare binary-heap floor (medians of {})",
        report.repeats
    );
    say!("{:>8}  {:>14}  {:>14}  {:>6}", "actors", "kernel", "floor", "ratio");
    say!(
        "{:>8}  {:>14}  {:>14}  {:>6.2}",
        "1,000",
        m(report.events_per_s_1k),
        m(report.floor_events_per_s_1k),
        report.ratio_1k
    );
    say!(
        "{:>8}  {:>14}  {:>14}  {:>6.2}",
        "10,000",
        m(report.events_per_s_10k),
        m(report.floor_events_per_s_10k),
        report.ratio_10k
    );
    say!(
        "strict (one event at a time) dispatch at 1,000 actors: {}",
        m(report.strict_events_per_s_1k)
    );
    exit::OK
}
