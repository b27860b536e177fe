//! The batch commands (`check`, `compare`, `sweep`, `merge`): turn arguments into a plan, execute it,
//! write the aggregates and map the outcome to an exit code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use failcast::experiment::batch::{self, Executed, Options, Plan, RunRecord, Settings, Setup};
use failcast::experiment::check::{self, Baseline, CheckReport};
use failcast::experiment::compare;
use failcast::experiment::sweep;
use failcast::folders::{self, write_atomic};
use failcast::report::{compare_html, compare_plots, sweep_plots};
use failcast::scenario;

use crate::cli::{exit, BatchArgs, CheckArgs, CompareArgs, MergeArgs, SweepArgs};

/// Exit code of an experiment stopped by Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: i32 = 130;

/// Set by Ctrl-C: take no new runs (those under way finish and are kept).
fn stop_flag() -> &'static AtomicBool {
    static STOP: OnceLock<&'static AtomicBool> = OnceLock::new();
    STOP.get_or_init(|| {
        let flag: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        // A second Ctrl-C leaves at once.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(INTERRUPTED);
            }
            tell!("stopping: finishing the runs under way (Ctrl-C again to leave now)");
        });
        flag
    })
}

/// Scenario files: each file given, and the `*.toml` files directly in each folder.
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!("{}: no *.toml scenario files in this folder", path.display()));
            }
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    Ok(files)
}

/// `K/N`, `auto/N` or `auto` → 0-based (k, n).
fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<usize>().ok());
    let help = "write --shard K/N with 1 ≤ K ≤ N, e.g. --shard 2/8";
    let (k, n) = match text.split_once('/') {
        Some(("auto", n)) => {
            let n: usize = n
                .parse()
                .map_err(|_| format!("--shard {text}: N is not a number; {help}"))?;
            let k = match env("JOB_COMPLETION_INDEX") {
                Some(k) => k,
                None => slurm_task()?.ok_or(format!(
                    "--shard {text}: neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set"
                ))?,
            };
            (k + 1, n)
        }
        Some((k, n)) => (
            k.parse()
                .map_err(|_| format!("--shard {text}: K is not a number; {help}"))?,
            n.parse()
                .map_err(|_| format!("--shard {text}: N is not a number; {help}"))?,
        ),
        None if text == "auto" => {
            let k = slurm_task()?
                .ok_or("--shard auto: SLURM_ARRAY_TASK_ID is not set (on Kubernetes write --shard auto/N)")?;
            let n = env("SLURM_ARRAY_TASK_COUNT").ok_or("--shard auto: SLURM_ARRAY_TASK_COUNT is not set")?;
            (k + 1, n)
        }
        None => return Err(format!("--shard {text}: {help}")),
    };
    if n == 0 || k == 0 || k > n {
        return Err(format!("--shard {text}: shard {k} of {n} does not exist; {help}"));
    }
    Ok((k - 1, n))
}

/// The batch's `--shard`, if any (an error is printed).
fn shard_of(batch: &BatchArgs) -> Result<Option<(usize, usize)>, ()> {
    batch.shard.as_deref().map(parse_shard).transpose().map_err(|message| {
        tell!("error: {message}");
    })
}

/// This Slurm array task's 0-based place among the array's tasks:
/// (ID − MIN) / STEP (`--array=0-12:4` has tasks 0, 4, 8, 12).
fn slurm_task() -> Result<Option<usize>, String> {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<usize>().ok());
    let Some(id) = env("SLURM_ARRAY_TASK_ID") else {
        return Ok(None);
    };
    let min = env("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
    let step = env("SLURM_ARRAY_TASK_STEP").unwrap_or(1).max(1);
    let offset = id
        .checked_sub(min)
        .ok_or(format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"))?;
    Ok(Some(offset / step))
}

fn options(args: &BatchArgs, shard: Option<(usize, usize)>) -> Options {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Options {
        jobs: args.jobs.unwrap_or(cores).max(1),
        resume: args.resume,
        shard,
        progress: true,
    }
}

/// Most runs one experiment may plan (each run's record is kept in memory).
const MAX_RUNS: u64 = 10_000_000;

/// `--seeds`, or the command's default; `None` (reported) for 0, for more runs than
/// an experiment may have, or for seeds past the largest seed.
fn seeds(args: &BatchArgs, default: u64) -> Option<u64> {
    let n = args.seeds.unwrap_or(default);
    if n == 0 {
        tell!("error: --seeds 0 runs nothing\n  = help: give --seeds 1 or more");
        return None;
    }
    if n > MAX_RUNS {
        tell!("error: --seeds {n} is more than {MAX_RUNS} runs\n  = help: split the experiment with --shard, or run fewer seeds");
        return None;
    }
    if let Some(first) = args.first_seed.filter(|first| first.checked_add(n - 1).is_none()) {
        tell!(
            "error: --first-seed {first} with --seeds {n} runs past the largest seed ({})",
            u64::MAX
        );
        tell!("  = help: start from a smaller seed");
        return None;
    }
    Some(n)
}

/// Refuses (exit 2, before anything runs) an experiment too large, a --out that is a
/// file, or an output file that is a folder.
fn check_outputs(plan: &Plan, out: &Path, files: &[Option<&Path>]) -> Result<(), i32> {
    if plan.setups.len() as u64 * plan.seeds > MAX_RUNS {
        tell!(
            "error: {} setups × {} seeds is more than {MAX_RUNS} runs\n  = help: split the experiment with --shard, or run fewer seeds",
            plan.setups.len(),
            plan.seeds
        );
        return Err(exit::INVALID);
    }
    if plan
        .setups
        .iter()
        .any(|s| s.first_seed.checked_add(plan.seeds - 1).is_none())
    {
        tell!("error: the seeds run past the largest seed\n  = help: give a smaller --first-seed or scenario.seed");
        return Err(exit::INVALID);
    }
    if out.exists() && !out.is_dir() {
        tell!(
            "error: --out {} is a file\n  = help: give a folder (it is created if missing)",
            out.display()
        );
        return Err(exit::INVALID);
    }
    for file in files.iter().flatten() {
        if file.is_dir() {
            tell!(
                "error: {} is a folder\n  = help: give a file name to write",
                file.display()
            );
            return Err(exit::INVALID);
        }
    }
    Ok(())
}

/// A label not used yet: `name`, else `name-2`, `name-3`, …
fn unique_label(setups: &[Setup], name: &str) -> String {
    let mut label = name.to_string();
    let mut n = 2;
    while setups.iter().any(|setup| setup.label == label) {
        label = format!("{name}-{n}");
        n += 1;
    }
    label
}

/// One setup per (file, overrides, label); every diagnostic is printed; `None` if any
/// is invalid. `first_seed`: one for all (paired), else each scenario's own.
fn load_setups_with(
    specs: &[(PathBuf, Vec<String>, Option<String>)],
    first_seed: Option<u64>,
    options: scenario::LoadOptions,
) -> Option<Vec<Setup>> {
    let mut setups: Vec<Setup> = Vec::new();
    let mut ok = true;
    for (file, overrides, label) in specs {
        match scenario::load_with(file, overrides, options) {
            Ok(s) => {
                let label = unique_label(&setups, label.as_deref().unwrap_or(&s.scenario.name));
                let first_seed = first_seed.unwrap_or(s.scenario.seed);
                setups.push(Setup::new(label, file, overrides.clone(), first_seed, s));
            }
            Err(diagnostics) => {
                tell!("{diagnostics}");
                ok = false;
            }
        }
    }
    ok.then_some(setups)
}

fn load_options(args: &BatchArgs) -> scenario::LoadOptions {
    scenario::LoadOptions {
        includes_anywhere: args.allow_includes_anywhere,
    }
}

/// Loads every scenario with the batch's `--set`s.
fn load_setups(files: &[PathBuf], args: &BatchArgs) -> Option<Vec<Setup>> {
    let specs: Vec<_> = files.iter().map(|f| (f.clone(), args.set.clone(), None)).collect();
    load_setups_with(&specs, args.first_seed, load_options(args))
}

pub fn check(args: CheckArgs) -> i32 {
    if !batch::STATISTICS.contains(&args.statistic.as_str()) {
        tell!("error: unknown --statistic `{}`", args.statistic);
        tell!("  = help: use one of: {}", batch::STATISTICS.join(", "));
        return exit::INVALID;
    }
    let Some(seeds) = seeds(&args.batch, 1) else {
        return exit::INVALID;
    };
    let Ok(shard) = shard_of(&args.batch) else {
        return exit::INVALID;
    };
    let baseline = match &args.baseline {
        None => None,
        Some(path) => match read_baseline(path) {
            Ok(b) => Some(b),
            Err(e) => {
                tell!("error: baseline {}: {e}", path.display());
                tell!("  = help: give a file written by `failcast check --save-baseline FILE`");
                return exit::INVALID;
            }
        },
    };
    let files = match scenario_files(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            tell!("error: {message}");
            return exit::INVALID;
        }
    };
    let Some(setups) = load_setups(&files, &args.batch) else {
        return exit::INVALID;
    };
    let plan = Plan::new(
        "check",
        setups,
        seeds,
        Settings {
            statistic: Some(args.statistic.clone()),
            baseline,
            fail_on_improvement: args.fail_on_improvement,
            ..Settings::default()
        },
    );
    let outputs = [
        args.junit.as_deref(),
        args.markdown.as_deref(),
        args.save_baseline.as_deref(),
    ];
    if shard.is_some() && outputs.iter().any(Option::is_some) {
        tell!(
            "error: a shard has no verdict to write: --junit, --markdown and --save-baseline go with `failcast merge`"
        );
        tell!("  = help: run the shards without them, then: failcast merge DIR... --junit FILE --markdown FILE");
        return exit::INVALID;
    }
    run_plan(&plan, &args.out, &args.batch, shard, &outputs, |plan, records| {
        finish_check(
            plan,
            records,
            &args.out,
            args.junit.as_deref(),
            args.markdown.as_deref(),
            args.save_baseline.as_deref(),
        )
    })
}

/// Most bytes a baseline file may hold (a few hundred per scenario).
const MAX_BASELINE_BYTES: u64 = 16 << 20;

/// A baseline file: a small regular file of JSON whose text holds no control
/// character (its names reach the reports and the terminal).
fn read_baseline(path: &Path) -> Result<Baseline, String> {
    let text = folders::read_regular_text(path, MAX_BASELINE_BYTES)?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if let Some(c) = first_unsafe_char(&value) {
        return Err(format!("it holds {}", failcast::text::describe(c)));
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// The first control character in any key or string of `value`.
fn first_unsafe_char(value: &serde_json::Value) -> Option<char> {
    let unsafe_in = |text: &str| text.chars().find(|&c| failcast::text::is_unsafe(c));
    match value {
        serde_json::Value::String(text) => unsafe_in(text),
        serde_json::Value::Array(items) => items.iter().find_map(first_unsafe_char),
        serde_json::Value::Object(map) => map
            .iter()
            .find_map(|(key, item)| unsafe_in(key).or_else(|| first_unsafe_char(item))),
        _ => None,
    }
}

fn execute(plan: &Plan, out: &Path, options: &Options) -> Result<Executed, i32> {
    let started = std::time::Instant::now();
    match batch::execute(plan, out, options, stop_flag()) {
        Ok(executed) => {
            let wall = started.elapsed().as_secs_f64();
            if executed.ran > 0 {
                tell!(
                    "ran       {} run(s) in {wall:.1} s wall on {} job(s) · {:.0} simulated s/s",
                    executed.ran,
                    options.jobs,
                    executed.simulated_s / wall.max(1e-9)
                );
            }
            Ok(executed)
        }
        Err(error) => {
            tell!("error: {error}");
            Err(match error {
                batch::BatchError::Folder { .. } => exit::INVALID,
                batch::BatchError::Io { .. } => exit::INTERNAL,
            })
        }
    }
}

/// Executes `plan` in `out` (after refusing bad outputs), and hands a finished,
/// unsharded experiment's records to `finish`.
fn run_plan(
    plan: &Plan,
    out: &Path,
    batch: &BatchArgs,
    shard: Option<(usize, usize)>,
    outputs: &[Option<&Path>],
    finish: impl FnOnce(&Plan, &[&RunRecord]) -> i32,
) -> i32 {
    if let Err(code) = check_outputs(plan, out, outputs) {
        return code;
    }
    let options = options(batch, shard);
    if !batch.no_memory_check {
        let estimates: Vec<_> = (plan.setups.iter())
            .filter_map(|setup| setup.scenario.as_ref())
            .map(|s| failcast::experiment::memory::estimate(s, false))
            .collect();
        let at_once = options.jobs.min(plan.len());
        if let Some(message) = failcast::experiment::memory::refusal(&estimates, at_once) {
            tell!("error: {message}");
            tell!("  = help: run fewer at once (--jobs), make the setups smaller, or pass --no-memory-check to run anyway");
            return exit::INVALID;
        }
    }
    crate::allocator::set_out_of_memory_note(format!(
        "the runs already finished are kept in {}: continue with the same command, --resume and fewer --jobs",
        out.display()
    ));
    let executed = match execute(plan, out, &options) {
        Ok(executed) => executed,
        Err(code) => return code,
    };
    if let Some(code) = unfinished(plan, out, &executed, shard) {
        return code;
    }
    let records = executed
        .complete()
        .expect("a finished unsharded experiment has every run");
    finish(plan, &records)
}

/// An interrupted or sharded experiment ends here: what is done is kept.
fn unfinished(plan: &Plan, out: &Path, executed: &Executed, shard: Option<(usize, usize)>) -> Option<i32> {
    let done = executed.records.iter().filter(|r| r.is_some()).count();
    let failed = (executed.records.iter().flatten())
        .filter(|r| r.summary().is_none())
        .count();
    if executed.interrupted {
        tell!(
            "interrupted: {done} of {} run(s) done and kept in {}; continue with the same command and --resume",
            plan.len(),
            out.display()
        );
        return Some(INTERRUPTED);
    }
    let (k, n) = shard?;
    say!(
        "shard {}/{n}: {done} run(s) of this shard in {}; when every shard is done: failcast merge DIR...",
        k + 1,
        out.display()
    );
    for record in executed.records.iter().flatten() {
        if let batch::Outcome::Failed { error } = &record.outcome {
            let setup = &plan.setups[record.setup];
            tell!(
                "ERROR {} seed {}: {error}\n      replay: {}",
                setup.label,
                record.seed,
                setup.replay(record.seed)
            );
        }
    }
    Some(if failed > 0 { exit::INTERNAL } else { exit::OK })
}

fn write_file(path: &Path, text: &str) -> Result<(), i32> {
    write_atomic(path, text.as_bytes()).map_err(|e| {
        tell!("error: cannot write {}: {e}", path.display());
        exit::INTERNAL
    })
}

/// Writes check.json, check.md and junit.xml in `out` (and where asked), prints the
/// verdicts, and returns the exit code.
fn finish_check(
    plan: &Plan,
    records: &[&RunRecord],
    out: &Path,
    junit: Option<&Path>,
    markdown: Option<&Path>,
    save_baseline: Option<&Path>,
) -> i32 {
    let statistic = plan.settings.statistic.as_deref().unwrap_or("all");
    let report: CheckReport = check::judge(plan, records, statistic, plan.settings.baseline.as_ref());
    let json = serde_json::to_string_pretty(&report).expect("a report serialises") + "\n";
    let xml = failcast::report::check::junit(&report, plan);
    let md = failcast::report::check::markdown(&report, plan);
    let mut writes = vec![
        (out.join("check.json"), json),
        (out.join("junit.xml"), xml.clone()),
        (out.join("check.md"), md.clone()),
    ];
    writes.extend(junit.map(|p| (p.to_path_buf(), xml)));
    writes.extend(markdown.map(|p| (p.to_path_buf(), md)));
    if let Some(path) = save_baseline {
        let tolerances = plan
            .settings
            .baseline
            .as_ref()
            .map(|b| b.tolerances.clone())
            .unwrap_or_default();
        let baseline = report.to_baseline(tolerances);
        writes.push((
            path.to_path_buf(),
            serde_json::to_string_pretty(&baseline).expect("serialises") + "\n",
        ));
    }
    for (path, text) in &writes {
        if let Err(code) = write_file(path, text) {
            return code;
        }
    }
    for line in failcast::report::check::text_lines(&report, plan) {
        say!("{line}");
    }
    let (checks, failures, errors) = (report.expectations(), report.failures(), report.failed_runs());
    say!(
        "check     {} of {checks} passed over {} scenario(s) × {} seed(s){}; wrote {}/{{check.json, check.md, junit.xml}}",
        checks - failures,
        plan.setups.len(),
        plan.seeds,
        if errors > 0 { format!(", {errors} run(s) failed") } else { String::new() },
        out.display()
    );
    if errors > 0 {
        exit::INTERNAL
    } else if failures > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// `NAME:KEY=VALUE;KEY=VALUE` (the name is optional) → (name, overrides).
fn parse_variant(text: &str) -> Result<(Option<String>, Vec<String>), String> {
    let (name, sets) = match (text.find(':'), text.find('=')) {
        (Some(colon), Some(eq)) if colon < eq => (Some(text[..colon].trim().to_string()), &text[colon + 1..]),
        _ => (None, text),
    };
    let sets: Vec<String> = sets
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if sets.is_empty() || sets.iter().any(|s| !s.contains('=')) {
        return Err(format!(
            "--variant '{text}': write NAME:KEY=VALUE;KEY=VALUE, e.g. --variant 'fast-checks:ingest.health.interval=500ms'"
        ));
    }
    Ok((name.filter(|n| !n.is_empty()).or_else(|| Some(sets.join(" "))), sets))
}

pub fn compare(args: CompareArgs) -> i32 {
    let Some(seeds) = seeds(&args.batch, 10) else {
        return exit::INVALID;
    };
    let Ok(shard) = shard_of(&args.batch) else {
        return exit::INVALID;
    };
    for file in &args.scenarios {
        if !file.is_file() {
            tell!("error: {}: no such scenario file", file.display());
            return exit::INVALID;
        }
    }
    let mut specs: Vec<(PathBuf, Vec<String>, Option<String>)> = (args.scenarios.iter())
        .map(|f| (f.clone(), args.batch.set.clone(), None))
        .collect();
    for text in &args.variant {
        match parse_variant(text) {
            Ok((name, sets)) => {
                let mut overrides = args.batch.set.clone();
                overrides.extend(sets);
                specs.push((args.scenarios[0].clone(), overrides, name));
            }
            Err(message) => {
                tell!("error: {message}");
                return exit::INVALID;
            }
        }
    }
    if specs.len() < 2 {
        tell!("error: compare needs at least two setups");
        tell!("  = help: give two scenario files, or one and a --variant 'NAME:KEY=VALUE'");
        return exit::INVALID;
    }
    // Paired: every setup runs the reference's seeds.
    let first_seed = match args.batch.first_seed {
        Some(seed) => seed,
        None => match scenario::load_with(&args.scenarios[0], &args.batch.set, load_options(&args.batch)) {
            Ok(s) => s.scenario.seed,
            Err(_) => 1, // reported by load_setups_with below
        },
    };
    let Some(setups) = load_setups_with(&specs, Some(first_seed), load_options(&args.batch)) else {
        return exit::INVALID;
    };
    let plan = Plan::new("compare", setups, seeds, Settings::default());
    run_plan(&plan, &args.out, &args.batch, shard, &[], |plan, records| {
        finish_compare(plan, records, &args.out)
    })
}

/// Writes comparison.csv, comparison.json, plots/ and comparison.html in `out`,
/// prints the table, and returns the exit code.
fn finish_compare(plan: &Plan, records: &[&RunRecord], out: &Path) -> i32 {
    let c = compare::compare(plan, records);
    let mut csv_out = csv::Writer::from_writer(Vec::new());
    for row in c.rows() {
        csv_out.serialize(row).expect("a comparison row serialises");
    }
    let csv_text = String::from_utf8(csv_out.into_inner().expect("in memory")).expect("UTF-8");
    let json = serde_json::to_string_pretty(&c).expect("a comparison serialises") + "\n";
    let html = match compare_html::comparison_html(&c, plan) {
        Ok(html) => html,
        Err(e) => {
            tell!("error: {e}");
            return exit::INTERNAL;
        }
    };
    // Each plot file is replaced on its own; nothing else in plots/ is touched.
    if let Err(e) = compare_plots::write_all(&out.join(batch::PLOTS_DIR), &c) {
        tell!("error: {e}");
        return exit::INTERNAL;
    }
    for (name, text) in [
        ("comparison.csv", csv_text),
        ("comparison.json", json),
        ("comparison.html", html),
    ] {
        if let Err(code) = write_file(&out.join(name), &text) {
            return code;
        }
    }
    for line in compare::text_table(&c) {
        say!("{line}");
    }
    for line in compare::verdict(&c) {
        say!("verdict   {line}");
    }
    for (setup, seed, error) in &c.failed_runs {
        let replay = plan
            .setups
            .iter()
            .find(|s| &s.label == setup)
            .map(|s| s.replay(*seed))
            .unwrap_or_default();
        tell!("ERROR {setup} seed {seed}: {error}\n      replay: {replay}");
    }
    say!(
        "compare   {} setups × {} paired seed(s); wrote {}/{{comparison.csv, comparison.json, comparison.html, plots/}}",
        plan.setups.len(),
        plan.seeds,
        out.display()
    );
    if c.failed_runs.is_empty() {
        exit::OK
    } else {
        exit::INTERNAL
    }
}

/// `KEY=V1,V2,...` → (key, values).
fn parse_grid(text: &str) -> Result<(String, Vec<String>), String> {
    let help = "write --grid KEY=V1,V2,..., e.g. --grid ingest.health.interval=1s,2s,5s";
    let (key, values) = text.split_once('=').ok_or(format!("--grid {text}: no `=`; {help}"))?;
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if key.trim().is_empty() || values.is_empty() {
        return Err(format!("--grid {text}: {help}"));
    }
    Ok((key.trim().to_string(), values))
}

pub fn sweep(args: SweepArgs) -> i32 {
    let Some(seeds) = seeds(&args.batch, 3) else {
        return exit::INVALID;
    };
    if !failcast::metrics::summary::METRICS.contains(&args.metric.as_str()) {
        tell!("error: unknown --metric `{}`", args.metric);
        let names = failcast::metrics::summary::METRICS.iter().copied();
        match failcast::scenario::diag::did_you_mean(&args.metric, names) {
            Some(near) => tell!("  = help: did you mean `{near}`?"),
            None => tell!("  = help: metrics are the summary.json keys listed in docs/metrics.md"),
        }
        return exit::INVALID;
    }
    if args.statistic == "all" || !batch::STATISTICS.contains(&args.statistic.as_str()) {
        tell!(
            "error: unknown --statistic `{}`\n  = help: use mean, p50, p95, min or max",
            args.statistic
        );
        return exit::INVALID;
    }
    let Ok(shard) = shard_of(&args.batch) else {
        return exit::INVALID;
    };
    let base = match scenario::load_with(&args.scenario, &args.batch.set, load_options(&args.batch)) {
        Ok(s) => s,
        Err(diagnostics) => {
            tell!("{diagnostics}");
            return exit::INVALID;
        }
    };
    // The cells: --grid axes in the order given (the last varies fastest), else the
    // scenario's [sweep] (keys in name order).
    let (axes, cells): (Vec<String>, Vec<Vec<String>>) = if args.grid.is_empty() {
        (base.sweep.keys().cloned().collect(), base.sweep_cells())
    } else {
        let mut axes = Vec::new();
        let mut cells: Vec<Vec<String>> = vec![Vec::new()];
        for text in &args.grid {
            let (key, values) = match parse_grid(text) {
                Ok(grid) => grid,
                Err(message) => {
                    tell!("error: {message}");
                    return exit::INVALID;
                }
            };
            if axes.contains(&key) {
                tell!("error: --grid {key} is given twice\n  = help: list every value of an axis in one --grid {key}=V1,V2,...");
                return exit::INVALID;
            }
            cells = (cells.iter())
                .flat_map(|cell| {
                    values.iter().map(|v| {
                        let mut next = cell.clone();
                        next.push(format!("{key}={v}"));
                        next
                    })
                })
                .collect();
            axes.push(key);
        }
        (axes, cells)
    };
    if axes.is_empty() {
        tell!("error: {}: nothing to sweep", args.scenario.display());
        tell!("  = help: give --grid KEY=V1,V2,... or a [sweep] table in the scenario");
        return exit::INVALID;
    }
    if cells.len() > scenario::MAX_SWEEP_CELLS {
        tell!(
            "error: the grid has {} cells, more than {}",
            cells.len(),
            scenario::MAX_SWEEP_CELLS
        );
        tell!("  = help: sweep fewer values per key, or split the experiment");
        return exit::INVALID;
    }
    let specs: Vec<(PathBuf, Vec<String>, Option<String>)> = (cells.iter())
        .map(|cell| {
            let mut overrides = args.batch.set.clone();
            overrides.extend(cell.iter().cloned());
            (args.scenario.clone(), overrides, Some(cell.join(" ")))
        })
        .collect();
    let first_seed = args.batch.first_seed.unwrap_or(base.scenario.seed);
    // A key no cell can take is reported once, not once per cell.
    if load_setups_with(&specs[..1], Some(first_seed), load_options(&args.batch)).is_none() {
        return exit::INVALID;
    }
    let Some(setups) = load_setups_with(&specs, Some(first_seed), load_options(&args.batch)) else {
        return exit::INVALID;
    };
    let plan = Plan::new(
        "sweep",
        setups,
        seeds,
        Settings {
            statistic: Some(args.statistic.clone()),
            axes,
            metric: Some(args.metric.clone()),
            ..Settings::default()
        },
    );
    run_plan(&plan, &args.out, &args.batch, shard, &[], |plan, records| {
        finish_sweep(plan, records, &args.out)
    })
}

/// Writes sweep.csv, sweep.json and plots/sweep.{svg,png} in `out`, prints the cells,
/// and returns the exit code.
fn finish_sweep(plan: &Plan, records: &[&RunRecord], out: &Path) -> i32 {
    let metric = plan.settings.metric.as_deref().unwrap_or("failover_latency_ms.max");
    let statistic = plan.settings.statistic.as_deref().unwrap_or("mean");
    let result = sweep::sweep(plan, records, metric, statistic);
    let json = serde_json::to_string_pretty(&result).expect("a sweep serialises") + "\n";
    let drawn = match sweep_plots::write(&out.join(batch::PLOTS_DIR), &result) {
        Ok(drawn) => drawn,
        Err(e) => {
            tell!("error: {e}");
            return exit::INTERNAL;
        }
    };
    for (name, text) in [("sweep.csv", result.csv()), ("sweep.json", json)] {
        if let Err(code) = write_file(&out.join(name), &text) {
            return code;
        }
    }
    for line in result.text_table() {
        say!("{line}");
    }
    let mut failed = 0;
    for (cell, setup) in result.cells.iter().zip(&plan.setups) {
        for (seed, error) in &cell.failed_runs {
            failed += 1;
            tell!(
                "ERROR {} seed {seed}: {error}\n      replay: {}",
                setup.label,
                setup.replay(*seed)
            );
        }
    }
    let plot_note = if drawn {
        ", plots/sweep.{svg,png}"
    } else {
        " (no plot for more than two axes)"
    };
    say!(
        "sweep     {} cell(s) × {} seed(s); wrote {}/{{sweep.csv, sweep.json}}{plot_note}",
        plan.setups.len(),
        plan.seeds,
        out.display()
    );
    if failed > 0 {
        exit::INTERNAL
    } else {
        exit::OK
    }
}

pub fn merge(args: MergeArgs) -> i32 {
    let (plan, records) = match batch::merge(&args.dirs) {
        Ok(merged) => merged,
        Err(error) => {
            tell!("error: {error}");
            return exit::INVALID;
        }
    };
    let plan = match plan.with_scenarios() {
        Ok(plan) => plan,
        Err(message) => {
            tell!("error: {message}");
            return exit::INVALID;
        }
    };
    let out = args.out.as_deref().unwrap_or(&args.dirs[0]);
    // The merged folder is a complete experiment: manifest and every record. It is
    // locked like a batch's, and may only be empty or hold this same experiment.
    let _lock = match batch::prepare_merge_folder(&plan, out) {
        Ok(lock) => lock,
        Err(error) => {
            tell!("error: {error}");
            return match error {
                batch::BatchError::Folder { .. } => exit::INVALID,
                batch::BatchError::Io { .. } => exit::INTERNAL,
            };
        }
    };
    for (index, record) in records.iter().enumerate() {
        let json = serde_json::to_string_pretty(record).expect("a record serialises");
        if let Err(code) = write_file(&plan.record_path(out, index), &json) {
            return code;
        }
    }
    let records: Vec<&RunRecord> = records.iter().collect();
    match plan.command.as_str() {
        "check" => finish_check(
            &plan,
            &records,
            out,
            args.junit.as_deref(),
            args.markdown.as_deref(),
            args.save_baseline.as_deref(),
        ),
        "compare" => finish_compare(&plan, &records, out),
        "sweep" => finish_sweep(&plan, &records, out),
        other => {
            tell!("error: cannot merge `{other}` experiments in this version");
            exit::INVALID
        }
    }
}
