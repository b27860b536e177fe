//! The `failcast` binary: parses the command line and maps outcomes to exit codes.

#[macro_use]
mod print;
mod allocator;
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
use failcast::{folders, report, scenario};

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
        Command::Run(args) => run(args),
        Command::Validate {
            scenarios,
            set,
            allow_includes_anywhere,
        } => validate(&scenarios, &set, load_options(allow_includes_anywhere)),
        Command::Bench {
            json,
            repeats,
            day,
            jobs_scaling,
            scaling,
            audience,
            squads,
            measure,
        } => match measure {
            Some(what) => measure_command(&what),
            None => bench_command(json, repeats, day, jobs_scaling, scaling, audience, squads),
        },
        Command::Check(args) => commands::check(args),
        Command::Compare(args) => commands::compare(args),
        Command::Sweep(args) => commands::sweep(args),
        Command::Merge {
            dirs,
            out,
            junit,
            markdown,
            save_baseline,
        } => commands::merge(
            &dirs,
            out.as_deref(),
            junit.as_deref(),
            markdown.as_deref(),
            save_baseline.as_deref(),
        ),
        Command::Schema => {
            println!("{}", failcast::scenario::json_schema());
            exit::OK
        }
        Command::Report { dir } => match report::rebuild(&dir) {
            Ok(()) => {
                say!("wrote     {}/{{plots/, report.html}}", shown(&dir));
                exit::OK
            }
            Err(error) => folder_error(&error),
        },
    };
    ExitCode::from(code as u8)
}

/// The command that replays a run: its file, seed and overrides, quoted for a shell.
fn replay_line(args: &RunArgs, seed: u64) -> String {
    let quote = |text: &str| failcast::experiment::batch::shell_quote(text);
    let mut line = format!(
        "failcast run {} --seed {seed}",
        quote(&args.scenario.display().to_string())
    );
    for set in &args.set {
        line.push_str(&format!(" --set {}", quote(set)));
    }
    if args.allow_includes_anywhere {
        line.push_str(" --allow-includes-anywhere");
    }
    line
}

/// A path as failcast prints it: control characters escaped.
fn shown(path: &std::path::Path) -> String {
    failcast::text::printable(&path.display().to_string()).into_owned()
}

/// Reports an output folder failcast will not or could not write: exit 2 for a place
/// that is not its to write (nothing was moved), 3 for an I/O failure.
fn folder_error(error: &folders::FolderError) -> i32 {
    tell!("error: {error}");
    match error.help() {
        Some(help) => {
            tell!("  = help: {help}");
            exit::INVALID
        }
        None => exit::INTERNAL,
    }
}

fn load_options(includes_anywhere: bool) -> scenario::LoadOptions {
    scenario::LoadOptions { includes_anywhere }
}

fn validate(paths: &[PathBuf], set: &[String], options: scenario::LoadOptions) -> i32 {
    let mut code = exit::OK;
    for path in paths {
        match scenario::load_with(path, set, options) {
            Ok(s) => {
                let memory = experiment::memory::estimate(&s, false).bytes();
                say!(
                    "ok: {} ({}; a run needs about {} of memory)",
                    shown(path),
                    s.scenario.name,
                    experiment::memory::human_bytes(memory)
                );
            }
            Err(diagnostics) => {
                tell!("{diagnostics}");
                code = exit::INVALID;
            }
        }
    }
    code
}

fn run(args: RunArgs) -> i32 {
    let s = match scenario::load_with(&args.scenario, &args.set, load_options(args.allow_includes_anywhere)) {
        Ok(s) => s,
        Err(diagnostics) => {
            tell!("{diagnostics}");
            return exit::INVALID;
        }
    };
    let seed = args.seed.unwrap_or(s.scenario.seed);
    let replay = replay_line(&args, seed);
    if !args.no_memory_check {
        // The determinism check holds both runs, event logs included, to compare them.
        let at_once = if args.check_determinism { 2 } else { 1 };
        let estimate = experiment::memory::estimate(&s, args.trace || args.check_determinism);
        if let Some(message) = experiment::memory::refusal(&vec![estimate; at_once], at_once) {
            tell!("error: {message}");
            tell!("  = help: make the run smaller (viewers.count, cdn.edges, scenario.duration), or pass --no-memory-check to run it anyway");
            return exit::INVALID;
        }
    }
    allocator::set_out_of_memory_note(format!("replay: {replay} --no-memory-check"));
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
                tell!(
                    "seed {seed} · {} · NOT deterministic: traces {} vs {}",
                    s.scenario.name,
                    report.digests.0,
                    report.digests.1
                );
                if let Some(sentence) = report.describe_divergence() {
                    tell!("{sentence}");
                }
                if !report.differing_outputs.is_empty() {
                    tell!("outputs that differ: {}", report.differing_outputs.join(", "));
                }
                exit::FAILED
            }
            Err(error) => {
                tell!("error: {error}");
                exit::INTERNAL
            }
        };
    }
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("results")
            .join(&s.scenario.name)
            .join(format!("seed-{seed}"))
    });
    // Refused before the run, so a long run is not lost to a folder it may not replace.
    if let Err(error) = folders::check_run_target(&out) {
        return folder_error(&error);
    }
    let output = match experiment::run_scenario(&s, seed, None, args.trace) {
        Ok(output) => output,
        Err(error) => {
            tell!("error: seed {seed}: {error}");
            tell!("replay: {replay}");
            return exit::INTERNAL;
        }
    };
    if let Err(error) = report::write_run(&out, &output) {
        return folder_error(&error);
    }
    say!("{}", report::text::run_summary(&output.summary, &output.failovers));
    say!(
        "wrote     {}/{{summary.json, scenario.toml, report.html, plots/, *.csv}}",
        shown(&out)
    );
    if args.trace {
        say!(
            "trace     {}/{{events.csv, trace.json}} (open trace.json in Perfetto)",
            shown(&out)
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

/// Runs one measurement (`day`, `audience=N`) in a fresh failcast process, so that its
/// peak memory is its own.
fn measure_isolated(what: &str) -> Result<bench::MeasuredRun, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the failcast binary: {e}"))?;
    let out = std::process::Command::new(&exe)
        .args(["bench", "--measure", what])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!("the measurement `{what}` failed ({})", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the measurement `{what}` printed no result: {e}"))
}

/// `failcast bench --measure WHAT`: one measurement, printed as JSON.
fn measure_command(what: &str) -> i32 {
    let calls_before = allocator::allocation_calls_on_this_thread();
    let run = match what.split_once('=') {
        None if what == "day" => bench::run_reference_day(&[]),
        Some(("audience", n)) => match n.parse::<u32>() {
            Ok(viewers) if viewers > 0 => bench::run_audience(viewers),
            _ => Err(format!("`{n}` is not a number of viewers")),
        },
        Some(("squads", n)) => match n.parse::<u32>() {
            Ok(viewers) if viewers > 0 => bench::run_squads(viewers),
            _ => Err(format!("`{n}` is not a number of viewers")),
        },
        _ => Err(format!("unknown measurement `{what}` (day, audience=N, squads=N)")),
    };
    match run {
        Ok(run) => {
            let measured = bench::MeasuredRun {
                run,
                peak_rss_bytes: bench::peak_rss_bytes(),
                allocation_calls: Some(allocator::allocation_calls_on_this_thread() - calls_before),
            };
            say!("{}", serde_json::to_string(&measured).expect("plain numbers serialise"));
            exit::OK
        }
        Err(e) => {
            tell!("error: {e}");
            exit::INTERNAL
        }
    }
}

/// `100000` → `100,000`.
fn with_thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bench_command(
    json: bool,
    repeats: u32,
    day: bool,
    jobs_scaling: bool,
    scaling: bool,
    audience: Option<u32>,
    squads: Option<u32>,
) -> i32 {
    let report = bench::run_bench(repeats, &bench::BENCH_SIZES);
    let day_run = match day.then(|| measure_isolated("day")).transpose() {
        Ok(run) => run,
        Err(e) => {
            tell!("error: reference day: {e}");
            return exit::INTERNAL;
        }
    };
    let jobs = match jobs_scaling.then(|| bench::run_jobs_scaling(8)).transpose() {
        Ok(jobs) => jobs,
        Err(e) => {
            tell!("error: jobs scaling: {e}");
            return exit::INTERNAL;
        }
    };
    let growth = match scaling.then(|| bench::run_scaling(30, 2000)).transpose() {
        Ok(growth) => growth,
        Err(e) => {
            tell!("error: scaling: {e}");
            return exit::INTERNAL;
        }
    };
    let quarter_and_full = |what: &str, viewers: u32| -> Result<bench::Audience, String> {
        let quarter = measure_isolated(&format!("{what}={}", viewers / 4))?;
        let full = measure_isolated(&format!("{what}={viewers}"))?;
        Ok(bench::Audience::from_runs(quarter, full))
    };
    let crowd = match audience
        .map(|viewers| quarter_and_full("audience", viewers))
        .transpose()
    {
        Ok(crowd) => crowd,
        Err(e) => {
            tell!("error: audience: {e}");
            return exit::INTERNAL;
        }
    };
    let squad_crowd = match squads.map(|viewers| quarter_and_full("squads", viewers)).transpose() {
        Ok(crowd) => crowd,
        Err(e) => {
            tell!("error: squads: {e}");
            return exit::INTERNAL;
        }
    };
    if json {
        let value = serde_json::json!({
            "audience": crowd,
            "squads": squad_crowd,
            "kernel": report,
            "reference_day": day_run,
            "jobs_scaling": jobs,
            "scaling": growth,
        });
        say!("{value}");
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
    for size in &report.sizes {
        say!(
            "{:>8}  {:>14}  {:>14}  {:>6.2}",
            with_thousands(size.actors),
            m(size.events_per_s),
            m(size.floor_events_per_s),
            size.ratio
        );
    }
    say!(
        "strict (one event at a time) dispatch at 1,000 actors: {}",
        m(report.strict_events_per_s_1k)
    );
    let per_event = |measured: &bench::MeasuredRun| {
        (measured.allocations_per_event()).map_or("-".into(), |calls| format!("{calls:.3}"))
    };
    if let Some(day) = &day_run {
        let run = &day.run;
        say!(
            "reference day: {:.0} s simulated in {:.1} s wall ({:.0}× real time), {} events ({}/s), peak RSS {}, {} allocations per event",
            run.simulated_s,
            run.wall_s,
            run.speedup,
            run.events,
            m(run.events_per_s),
            day.peak_rss_bytes.map_or("-".into(), |b| format!("{:.0} MB", b as f64 / 1e6)),
            per_event(day)
        );
    }
    if let Some(j) = &jobs {
        say!(
            "jobs: {} runs of 2 h: {:.2} runs/s with --jobs 1, {:.2} with --jobs 2 ({:.2}×)",
            j.runs,
            j.runs_per_s_1,
            j.runs_per_s_2,
            j.speedup
        );
    }
    if let Some(g) = &growth {
        for (what, runs) in [
            ("simulated time (quickstart, 2,000 viewers)", &g.by_duration),
            ("viewers (quickstart, 30 min)", &g.by_viewers),
        ] {
            let points: Vec<String> = runs
                .iter()
                .map(|r| format!("{:.0} s/{} viewers: {:.2} s", r.simulated_s, r.viewers, r.wall_s))
                .collect();
            say!("scaling in {what}: {}", points.join(", "));
        }
        say!(
            "scaling exponents (wall ∝ x^k): simulated time k = {:.2}, viewers k = {:.2}",
            g.duration_exponent,
            g.viewers_exponent
        );
    }
    let runs = |label: &str, a: &bench::Audience| {
        let mb = |b: Option<u64>| b.map_or("-".into(), |b| format!("{:.0} MB", b as f64 / 1e6));
        for measured in [&a.quarter, &a.full] {
            let run = &measured.run;
            say!(
                "{label}: {} viewers, {:.0} s simulated in {:.1} s wall ({:.2}× real time), {} events ({}/s), peak RSS {}, {} allocations per event",
                with_thousands(run.viewers),
                run.simulated_s,
                run.wall_s,
                run.speedup,
                run.events,
                m(run.events_per_s),
                mb(measured.peak_rss_bytes),
                per_event(measured)
            );
        }
        a.bytes_per_viewer.map_or("-".into(), |b| format!("{b:.0}"))
    };
    if let Some(a) = &squad_crowd {
        say!(
            "squads: {} bytes per viewer (joins on a {} grid, one player per squad)",
            runs("squads", a),
            bench::SQUADS_JOIN_STEP
        );
    }
    if let Some(a) = &crowd {
        say!(
            "audience: {} bytes per viewer; one simulated hour at this pace: {:.0} s wall",
            runs("audience", a),
            a.projected_hour_s
        );
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped_by_commas() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (100_000, "100,000"),
            (1_234_567, "1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(super::with_thousands(n), text);
        }
    }
}
