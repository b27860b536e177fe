//! Batches of runs for `check`, `compare` and `sweep`: every (setup, seed) run on
//! worker threads (each run its own actix System), a record per run written atomically
//! (so `--resume` skips what is done and `merge` combines shards), panics isolated to
//! their run, and results kept by run index so every aggregate is the same whatever
//! `--jobs` is.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::folders::{self, FolderError, FolderLock};
use crate::metrics::Summary;
use crate::scenario::Scenario;

use super::run::{evaluate, run_scenario};

/// The experiment's description file in its folder.
pub const MANIFEST_FILE: &str = "experiment.json";
/// Where run records go, one file per run.
pub const RUNS_DIR: &str = "runs";
/// Most bytes read of a manifest (each setup's resolved scenario is a few kilobytes;
/// a sweep may have 10,000 cells) and of a run record (a summary and its latencies).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;
const MAX_RECORD_BYTES: u64 = 16 << 20;

/// One setup: a scenario file with overrides. Two setups are equal when everything a
/// manifest records is (the parsed scenario is derived from `resolved`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    /// How tables and plots name it.
    pub label: String,
    /// The file as given on the command line.
    pub file: String,
    pub overrides: Vec<String>,
    /// Its runs use seeds `first_seed`, `first_seed + 1`, …
    pub first_seed: u64,
    /// The scenario as it runs (every default, include and override resolved), as TOML:
    /// two experiments are the same only if these are.
    pub resolved: String,
    #[serde(skip)]
    pub scenario: Option<Scenario>,
}

impl PartialEq for Setup {
    fn eq(&self, other: &Setup) -> bool {
        (
            &self.label,
            &self.file,
            &self.overrides,
            self.first_seed,
            &self.resolved,
        ) == (
            &other.label,
            &other.file,
            &other.overrides,
            other.first_seed,
            &other.resolved,
        )
    }
}

impl Setup {
    pub fn new(label: String, file: &Path, overrides: Vec<String>, first_seed: u64, scenario: Scenario) -> Setup {
        Setup {
            label,
            file: file.display().to_string(),
            overrides,
            first_seed,
            resolved: scenario.to_toml().unwrap_or_default(),
            scenario: Some(scenario),
        }
    }

    /// A digest of the setup as it runs (its resolved scenario): every record carries
    /// its setup's, and a record whose digest differs is never adopted.
    pub fn digest(&self) -> String {
        format!("{:016x}", crate::sim::trace::fnv1a64(self.resolved.as_bytes()))
    }

    /// The command that replays one run of this setup.
    pub fn replay(&self, seed: u64) -> String {
        let mut command = format!("failcast run {} --seed {seed}", shell_quote(&self.file));
        for o in &self.overrides {
            command.push_str(&format!(" --set {}", shell_quote(o)));
        }
        command
    }
}

/// `text` as one word for a POSIX shell: as it is when it holds only characters no
/// shell treats specially, else in single quotes (a `'` inside written `'\''`).
pub fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=:,@%+".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// What an experiment runs: every setup on `seeds` seeds each (setup-major), and how
/// its aggregates are made (so `merge` makes exactly the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The failcast version that ran it: records of another version may differ.
    #[serde(default)]
    pub version: String,
    /// `check`, `compare` or `sweep`.
    pub command: String,
    pub setups: Vec<Setup>,
    pub seeds: u64,
    #[serde(default)]
    pub settings: Settings,
}

/// A stored result `--baseline` compares against (`--save-baseline` writes one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Allowed relative change in the worse direction per metric (default 10%).
    #[serde(default)]
    pub tolerances: BTreeMap<String, f64>,
    /// Scenario label → metric → mean.
    pub scenarios: BTreeMap<String, BTreeMap<String, f64>>,
}

/// How a command aggregates its runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `check`: how expectations are judged over seeds (see [`STATISTICS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// `check`: the stored result regressions are measured against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// `check`: a metric better than the baseline by more than its tolerance fails too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_on_improvement: bool,
    /// `sweep`: the axes (keys); each setup's overrides end with its cell's values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub axes: Vec<String>,
    /// `sweep`: the metric its heatmap shows (with `statistic` across seeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

impl Plan {
    /// The scenarios of a plan read back from its manifest, validated as any scenario
    /// file is (a manifest is a file like any other: it may have been edited).
    pub fn with_scenarios(mut self) -> Result<Plan, String> {
        for setup in &mut self.setups {
            let name = format!("{MANIFEST_FILE} (setup `{}`)", setup.label);
            let scenario = crate::scenario::load_str(&name, &setup.resolved, &[])
                .map_err(|e| format!("setup `{}`: its scenario does not load:\n{e}", setup.label))?;
            setup.scenario = Some(scenario);
        }
        Ok(self)
    }
}

impl Plan {
    /// A plan of this failcast version.
    pub fn new(command: &str, setups: Vec<Setup>, seeds: u64, settings: Settings) -> Plan {
        Plan {
            version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            setups,
            seeds,
            settings,
        }
    }

    pub fn len(&self) -> usize {
        self.setups.len() * self.seeds as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every setup's [`Setup::digest`], by setup.
    pub fn digests(&self) -> Vec<String> {
        self.setups.iter().map(Setup::digest).collect()
    }

    /// Run `index`: (setup, seed).
    pub fn run(&self, index: usize) -> (usize, u64) {
        let per = self.seeds.max(1) as usize;
        let setup = index / per;
        (setup, self.setups[setup].first_seed + (index % per) as u64)
    }

    /// Where run `index`'s record lives under the experiment folder.
    pub fn record_path(&self, dir: &Path, index: usize) -> PathBuf {
        let (setup, seed) = self.run(index);
        dir.join(RUNS_DIR)
            .join(format!("setup-{}", setup + 1))
            .join(format!("seed-{seed}.json"))
    }
}

/// A measured expectation of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub measured: Option<f64>,
    pub passed: bool,
}

/// What one run leaves for the aggregates. No wall-clock figure is kept: aggregates
/// are byte-identical across processes and `--jobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub setup: usize,
    pub seed: u64,
    /// [`Setup::digest`] of the setup it ran (a record without one is run again).
    #[serde(default)]
    pub setup_digest: String,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Done {
        summary: Box<Summary>,
        /// Every failover episode's latency, for distributions across seeds.
        failover_latencies_ms: Vec<f64>,
        /// The scenario's `[[expect]]`s, in file order.
        expects: Vec<Measured>,
    },
    /// The run panicked or the model reported an error; the rest of the batch went on.
    Failed { error: String },
}

impl RunRecord {
    pub fn summary(&self) -> Option<&Summary> {
        match &self.outcome {
            Outcome::Done { summary, .. } => Some(summary),
            Outcome::Failed { .. } => None,
        }
    }
}

/// How to execute a plan.
#[derive(Clone, Debug)]
pub struct Options {
    pub jobs: usize,
    /// Keep records already in the folder (of the same plan) instead of starting over.
    pub resume: bool,
    /// Run only the slice `k` of `n` (0-based `k`): runs whose index ≡ k mod n.
    pub shard: Option<(usize, usize)>,
    pub progress: bool,
}

/// The runs a plan left after executing (or reading) it.
pub struct Executed {
    /// By run index; `None`: not in this shard, or not run (interrupted).
    pub records: Vec<Option<RunRecord>>,
    pub interrupted: bool,
    /// Runs done now (not read back from an earlier attempt).
    pub ran: usize,
    /// Simulated seconds of the runs done now.
    pub simulated_s: f64,
    /// The experiment folder's lock, held until the aggregates are written too.
    pub lock: FolderLock,
}

impl Executed {
    /// Every run's record, if every run has one.
    pub fn complete(&self) -> Option<Vec<&RunRecord>> {
        self.records.iter().map(Option::as_ref).collect()
    }
}

/// Why a plan could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{dir}: {message}")]
    Folder { dir: String, message: String },
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: io::Error },
}

impl From<FolderError> for BatchError {
    fn from(error: FolderError) -> BatchError {
        match error {
            FolderError::Refused { place, message, help } => BatchError::Folder {
                dir: place,
                message: format!("{message}; {help}"),
            },
            FolderError::Io { path, source } => BatchError::Io { path, source },
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads the plan an experiment folder holds.
pub fn read_manifest(dir: &Path) -> Result<Plan, BatchError> {
    let path = dir.join(MANIFEST_FILE);
    let text = folders::read_regular_text(&path, MAX_MANIFEST_BYTES).map_err(|e| BatchError::Folder {
        dir: dir.display().to_string(),
        message: format!("no experiment here ({MANIFEST_FILE}: {e})"),
    })?;
    serde_json::from_str(&text).map_err(|e| BatchError::Folder {
        dir: dir.display().to_string(),
        message: format!("{MANIFEST_FILE} is not an experiment description: {e}"),
    })
}

/// Reads the record of run `index`, if the folder has a valid one for this plan: its
/// setup, seed and setup digest (`digests`, from [`Plan::digests`]) all match.
pub fn read_record(plan: &Plan, digests: &[String], dir: &Path, index: usize) -> Option<RunRecord> {
    let text = folders::read_regular_text(&plan.record_path(dir, index), MAX_RECORD_BYTES).ok()?;
    let record: RunRecord = serde_json::from_str(&text).ok()?;
    let (setup, seed) = plan.run(index);
    (record.setup == setup && record.seed == seed && record.setup_digest == digests[setup]).then_some(record)
}

/// Runs one (setup, seed) of `plan`.
pub fn run_one(plan: &Plan, index: usize) -> RunRecord {
    let (setup, seed) = plan.run(index);
    let scenario = plan.setups[setup]
        .scenario
        .as_ref()
        .expect("a plan being run has its scenarios");
    let outcome = match run_scenario(scenario, seed, None, false) {
        Ok(out) => {
            let mut summary = out.summary;
            summary.wall_s = 0.0;
            let expects = (evaluate(scenario, &summary).into_iter())
                .map(|v| Measured {
                    measured: v.measured,
                    passed: v.passed,
                })
                .collect();
            Outcome::Done {
                summary: Box::new(summary),
                failover_latencies_ms: out.failovers.iter().filter_map(|f| f.failover_latency_ms).collect(),
                expects,
            }
        }
        Err(error) => Outcome::Failed {
            error: error.to_string(),
        },
    };
    RunRecord {
        setup,
        seed,
        setup_digest: plan.setups[setup].digest(),
        outcome,
    }
}

/// Runs `runner` for run `index`, turning a panic (an invariant the model broke) into
/// a failed record, so the rest of the batch goes on.
fn run_isolated(plan: &Plan, index: usize, runner: &(dyn Fn(&Plan, usize) -> RunRecord + Sync)) -> RunRecord {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner(plan, index))) {
        Ok(record) => record,
        Err(panic) => {
            let (setup, seed) = plan.run(index);
            RunRecord {
                setup,
                seed,
                setup_digest: plan.setups[setup].digest(),
                outcome: Outcome::Failed {
                    error: panic_message(&panic),
                },
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    format!("panicked: {}", crate::sim::panic_text(panic.as_ref()))
}

/// Runs every run of `plan` this shard owns that `dir` does not hold yet, writing each
/// record as it completes. Stops taking new runs once `stop` is set (Ctrl-C); runs
/// under way finish and are kept.
pub fn execute(plan: &Plan, dir: &Path, options: &Options, stop: &AtomicBool) -> Result<Executed, BatchError> {
    execute_with(plan, dir, options, stop, &run_one)
}

/// As [`execute`], with each run done by `runner` (tests stand in a failing model).
pub fn execute_with(
    plan: &Plan,
    dir: &Path,
    options: &Options,
    stop: &AtomicBool,
    runner: &(dyn Fn(&Plan, usize) -> RunRecord + Sync),
) -> Result<Executed, BatchError> {
    let lock = prepare_folder(plan, dir, options.resume)?;
    let digests = plan.digests();
    let owned = |index: usize| options.shard.is_none_or(|(k, n)| index % n == k);
    let mut records: Vec<Option<RunRecord>> = vec![None; plan.len()];
    let mut pending = Vec::new();
    for (index, slot) in records.iter_mut().enumerate() {
        if !owned(index) {
            continue;
        }
        match options
            .resume
            .then(|| read_record(plan, &digests, dir, index))
            .flatten()
        {
            Some(record) => *slot = Some(record),
            None => pending.push(index),
        }
    }
    let progress = progress_bar(pending.len(), options.progress);
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, RunRecord)>();
    let workers = options.jobs.clamp(1, pending.len().max(1));
    let mut ran = 0;
    let mut simulated_s = 0.0;
    let mut write_error = None;
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let sender = sender.clone();
            let (next, pending) = (&next, &pending);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Some(&index) = pending.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    break;
                };
                if sender.send((index, run_isolated(plan, index, runner))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for (index, record) in receiver {
            let path = plan.record_path(dir, index);
            let json = serde_json::to_vec_pretty(&record).expect("a record serialises");
            if let Err(e) = folders::write_atomic(&path, &json) {
                write_error.get_or_insert_with(|| io_error(&path)(e));
                stop.store(true, Ordering::SeqCst);
            }
            ran += 1;
            simulated_s += record.summary().map_or(0.0, |s| s.sim_duration_s);
            records[index] = Some(record);
            let rate = simulated_s / started.elapsed().as_secs_f64().max(1e-9);
            progress.set_message(format!("{} simulated s/s", human(rate)));
            progress.inc(1);
        }
    });
    progress.finish_and_clear();
    if let Some(error) = write_error {
        return Err(error);
    }
    let interrupted = stop.load(Ordering::SeqCst) && records.iter().enumerate().any(|(i, r)| owned(i) && r.is_none());
    Ok(Executed {
        records,
        interrupted,
        ran,
        simulated_s,
        lock,
    })
}

fn human(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{:.1} M", v / 1e6),
        v if v >= 1e3 => format!("{:.1} k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

fn progress_bar(len: usize, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    // Drawn on stderr only when it is a terminal (indicatif hides it otherwise).
    let bar = indicatif::ProgressBar::new(len as u64);
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs · ETA {eta} · {msg}")
        .expect("a valid template");
    bar.set_style(style);
    bar
}

/// Makes `dir` hold `plan` and locks it: a fresh folder, or with `resume` the folder
/// of the same plan (its records kept). Without `resume`, what an earlier experiment
/// wrote there goes, and nothing else: a folder holding anything failcast did not
/// write is refused, as is a folder another batch is writing.
fn prepare_folder(plan: &Plan, dir: &Path, resume: bool) -> Result<FolderLock, BatchError> {
    let folder_error = |message: String| BatchError::Folder {
        dir: crate::text::printable(&dir.display().to_string()).into_owned(),
        message,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(folder_error("is a file, not a folder; give another --out".into()));
    }
    let foreign = || -> Result<bool, BatchError> {
        let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
        let mut names = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned());
        Ok(!dir.join(MANIFEST_FILE).exists() && names.any(|name| !is_lock_or_temporary(&name)))
    };
    let not_ours = || folder_error("exists and is not an experiment folder; give another --out".into());
    if dir.is_dir() && foreign()? {
        return Err(not_ours());
    }
    let lock = folders::lock_experiment(dir)?;
    // Looked at again under the lock: another batch may have started here meanwhile.
    if foreign()? {
        return Err(not_ours());
    }
    if dir.join(MANIFEST_FILE).exists() {
        let earlier = read_manifest(dir)?;
        if resume {
            if let Some(what) = plan.differs_in_runs(&earlier) {
                return Err(folder_error(format!(
                    "holds another experiment ({what} differ): resume it with the same command, or give another --out"
                )));
            }
        } else {
            remove_written(dir, &earlier)?;
        }
    }
    clean_temporary_files_below(dir);
    let path = dir.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(plan).expect("a plan serialises");
    folders::write_atomic(&path, &json).map_err(io_error(&path))?;
    Ok(lock)
}

/// Makes `dir` the folder of a merged experiment and locks it: it may be empty or
/// hold the same experiment (a shard's folder, its records kept); the manifest is
/// written.
pub fn prepare_merge_folder(plan: &Plan, dir: &Path) -> Result<FolderLock, BatchError> {
    prepare_folder(plan, dir, true)
}

/// The lock file, or a temporary file an interrupted batch left: a folder holding only
/// these holds nothing of anyone's.
fn is_lock_or_temporary(name: &str) -> bool {
    name == folders::LOCK_FILE || (name.starts_with('.') && name.contains(".tmp-"))
}

/// Removes the temporary files interrupted batches left in an experiment folder (only
/// one batch can be in it: it is locked).
fn clean_temporary_files_below(dir: &Path) {
    folders::clean_temporary_files(dir);
    folders::clean_temporary_files(&dir.join(PLOTS_DIR));
    let runs = dir.join(RUNS_DIR);
    folders::clean_temporary_files(&runs);
    for entry in std::fs::read_dir(&runs).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            folders::clean_temporary_files(&entry.path());
        }
    }
}

/// Where compare and sweep draw their plots in an experiment folder.
pub const PLOTS_DIR: &str = "plots";

/// The aggregates the batch commands write in an experiment folder.
pub const AGGREGATES: &[&str] = &[
    "check.json",
    "check.md",
    "junit.xml",
    "comparison.csv",
    "comparison.json",
    "comparison.html",
    "sweep.csv",
    "sweep.json",
];

/// Removes what the experiment `earlier` wrote in `dir`: its manifest, the records of
/// its runs, the aggregates and plots the batch commands write. A file failcast does
/// not write there (a user's own, even under `runs/`) stays, and so do the folders
/// holding one.
fn remove_written(dir: &Path, earlier: &Plan) -> Result<(), BatchError> {
    let remove_file = |path: &Path| match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => std::fs::remove_file(path).map_err(io_error(path)),
        _ => Ok(()),
    };
    let runs = dir.join(RUNS_DIR);
    for (k, setup) in earlier.setups.iter().enumerate() {
        let folder = runs.join(format!("setup-{}", k + 1));
        let seeds = setup.first_seed..setup.first_seed.saturating_add(earlier.seeds);
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let seed = (name.strip_prefix("seed-").and_then(|n| n.strip_suffix(".json")))
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok());
            if seed.is_some_and(|seed| seeds.contains(&seed)) {
                remove_file(&entry.path())?;
            }
        }
        let _ = std::fs::remove_dir(&folder); // only if nothing else is in it
    }
    let _ = std::fs::remove_dir(&runs);
    for name in AGGREGATES {
        remove_file(&dir.join(name))?;
    }
    let plots = dir.join(PLOTS_DIR);
    for name in crate::files::experiment_plot_files() {
        remove_file(&plots.join(name))?;
    }
    let _ = std::fs::remove_dir(&plots);
    remove_file(&dir.join(MANIFEST_FILE))
}

impl Plan {
    /// Why another plan's runs are not this plan's runs (`None`: they are, whatever
    /// their aggregate settings): the version, the command, the setups or the seeds.
    pub fn differs_in_runs(&self, other: &Plan) -> Option<&'static str> {
        if self.version != other.version {
            Some("failcast versions")
        } else if self.command != other.command {
            Some("the commands")
        } else if self.setups != other.setups {
            Some("the setups (files, overrides, first seeds or scenario contents)")
        } else if self.seeds != other.seeds {
            Some("the seed counts")
        } else {
            None
        }
    }
}

/// Reads the records of every run of `plan` from shard folders (each must hold the
/// same plan); a run missing from all of them is an error naming it.
pub fn merge(dirs: &[PathBuf]) -> Result<(Plan, Vec<RunRecord>), BatchError> {
    let first = dirs.first().ok_or_else(|| BatchError::Folder {
        dir: String::new(),
        message: "no folders to merge".into(),
    })?;
    let plan = read_manifest(first)?;
    for dir in &dirs[1..] {
        let other = read_manifest(dir)?;
        let what = plan
            .differs_in_runs(&other)
            .or((other.settings != plan.settings).then_some("the settings"));
        if let Some(what) = what {
            return Err(BatchError::Folder {
                dir: dir.display().to_string(),
                message: format!("holds another experiment than {} ({what} differ)", first.display()),
            });
        }
    }
    let mut records = Vec::with_capacity(plan.len());
    let mut missing = Vec::new();
    let digests = plan.digests();
    for index in 0..plan.len() {
        match dirs.iter().find_map(|dir| read_record(&plan, &digests, dir, index)) {
            Some(record) => records.push(record),
            None => {
                let (setup, seed) = plan.run(index);
                missing.push(format!("{} seed {seed}", plan.setups[setup].label));
            }
        }
    }
    if !missing.is_empty() {
        let shown: Vec<_> = missing.iter().take(5).cloned().collect();
        return Err(BatchError::Folder {
            dir: first.display().to_string(),
            message: format!(
                "{} run(s) missing from every folder (e.g. {}): merge every shard, or --resume the shard that was interrupted",
                missing.len(),
                shown.join(", ")
            ),
        });
    }
    Ok((plan, records))
}

/// A scenario's expectations judged over seeds: `all` (every seed passes) or a
/// statistic of the measured values checked once.
pub const STATISTICS: &[&str] = &["all", "mean", "p50", "p95", "min", "max"];

/// A statistic of values (sorted copy; nearest rank for percentiles).
pub fn statistic(name: &str, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    Some(match name {
        "mean" => sorted.iter().sum::<f64>() / sorted.len() as f64,
        "p50" => rank(0.5),
        "p95" => rank(0.95),
        "min" => sorted[0],
        "max" => sorted[sorted.len() - 1],
        _ => return None,
    })
}
