//! Batches of runs for `check`, `compare` and `sweep`: every (setup, seed) run on
//! worker threads (each run its own actix System), a record per run written atomically
//! (so `--resume` skips what is done and `merge` combines shards), panics isolated to
//! their run, and results kept by run index so every aggregate is the same whatever
//! `--jobs` is.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::metrics::Summary;
use crate::scenario::Scenario;

use super::run::{evaluate, run_scenario};

/// The experiment's description file in its folder.
pub const MANIFEST_FILE: &str = "experiment.json";
/// Where run records go, one file per run.
pub const RUNS_DIR: &str = "runs";

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
            resolved: toml::to_string(&scenario).unwrap_or_default(),
            scenario: Some(scenario),
        }
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

/// How a command aggregates its runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `check`: how expectations are judged over seeds (see [`STATISTICS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// `check`: the stored result regressions are measured against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::check::Baseline>,
    /// `sweep`: the axes (keys); each setup's overrides end with its cell's values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub axes: Vec<String>,
    /// `sweep`: the metric its heatmap shows (with `statistic` across seeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

impl Plan {
    /// The scenarios of a plan read back from its manifest.
    pub fn with_scenarios(mut self) -> Result<Plan, String> {
        for setup in &mut self.setups {
            let scenario: Scenario = toml::from_str(&setup.resolved)
                .map_err(|e| format!("setup `{}`: its scenario does not load: {e}", setup.label))?;
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

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Reads the plan an experiment folder holds.
pub fn read_manifest(dir: &Path) -> Result<Plan, BatchError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| BatchError::Folder {
        dir: dir.display().to_string(),
        message: format!("no experiment here ({MANIFEST_FILE}: {e})"),
    })?;
    serde_json::from_str(&text).map_err(|e| BatchError::Folder {
        dir: dir.display().to_string(),
        message: format!("{MANIFEST_FILE} is not an experiment description: {e}"),
    })
}

/// Reads the record of run `index`, if the folder has a valid one for this plan.
pub fn read_record(plan: &Plan, dir: &Path, index: usize) -> Option<RunRecord> {
    let text = std::fs::read_to_string(plan.record_path(dir, index)).ok()?;
    let record: RunRecord = serde_json::from_str(&text).ok()?;
    let (setup, seed) = plan.run(index);
    (record.setup == setup && record.seed == seed).then_some(record)
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
    RunRecord { setup, seed, outcome }
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
    prepare_folder(plan, dir, options.resume)?;
    let owned = |index: usize| options.shard.is_none_or(|(k, n)| index % n == k);
    let mut records: Vec<Option<RunRecord>> = vec![None; plan.len()];
    let mut pending = Vec::new();
    for (index, slot) in records.iter_mut().enumerate() {
        if !owned(index) {
            continue;
        }
        match options.resume.then(|| read_record(plan, dir, index)).flatten() {
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
            if let Err(e) = write_atomic(&path, &json) {
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

/// Makes `dir` hold `plan`: a fresh folder, or with `resume` the folder of the same
/// plan (its records kept). Without `resume`, earlier records and aggregates go.
fn prepare_folder(plan: &Plan, dir: &Path, resume: bool) -> Result<(), BatchError> {
    let folder_error = |message: String| BatchError::Folder {
        dir: dir.display().to_string(),
        message,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(folder_error("is a file, not a folder; give another --out".into()));
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
            // Start over: what an earlier experiment wrote goes, anything else stays.
            for name in WRITTEN {
                let path = dir.join(name);
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                if let Err(e) = removed {
                    if e.kind() != io::ErrorKind::NotFound {
                        return Err(io_error(&path)(e));
                    }
                }
            }
        }
    } else if dir.exists() && std::fs::read_dir(dir).map_err(io_error(dir))?.next().is_some() {
        return Err(folder_error(
            "exists and is not an experiment folder; give another --out".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let path = dir.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(plan).expect("a plan serialises");
    write_atomic(&path, &json).map_err(io_error(&path))
}

/// What an experiment folder holds that the batch commands wrote (removed when an
/// experiment starts over in it).
pub const WRITTEN: &[&str] = &[
    MANIFEST_FILE,
    RUNS_DIR,
    "check.json",
    "check.md",
    "junit.xml",
    "comparison.csv",
    "comparison.json",
    "comparison.html",
    "sweep.csv",
    "sweep.json",
    "plots",
    ".plots.tmp",
];

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
    for index in 0..plan.len() {
        match dirs.iter().find_map(|dir| read_record(&plan, dir, index)) {
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
