//! `failcast bench`: the kernel's events per second on a fixed workload, against a bare
//! binary-heap loop doing the same work (the floor), measured in the same process.
//!
//! Workload: N actors each start with one event; every delivered event makes its actor
//! send one new event to a uniformly random actor after a uniformly random 1–50 ms
//! delay, drawn from the actor's own seeded generator. Both loops draw the same numbers
//! in the same order, so they deliver exactly the same events; the bench checks that.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::sim::{
    rng_for, run_in_system, Behavior, Ctx, Dispatch, Input, Kernel, LinkSpec, Network, NodeId, SimRng, TraceMsg,
};
use crate::time::{SimDuration, SimTime};

const MIN_DELAY_NS: u64 = 1_000_000;
const MAX_DELAY_NS: u64 = 50_000_000;
const BENCH_SEED: u64 = 42;

#[derive(Debug)]
pub struct Ping;

impl TraceMsg for Ping {
    fn kind(&self) -> &'static str {
        "ping"
    }
    fn digest(&self) -> u64 {
        0
    }
}

struct Pinger {
    rng: SimRng,
    actors: u32,
}

fn draw(rng: &mut SimRng, actors: u32) -> (u32, u64) {
    let target = rng.gen_range(0..actors);
    let delay_ns = rng.gen_range(MIN_DELAY_NS..=MAX_DELAY_NS);
    (target, delay_ns)
}

impl Behavior for Pinger {
    type Msg = Ping;
    fn handle(&mut self, input: Input<Ping>, ctx: &mut Ctx<'_, Ping>) {
        if matches!(input, Input::Start | Input::Msg { .. }) {
            let (target, delay_ns) = draw(&mut self.rng, self.actors);
            ctx.schedule(target + 1, SimDuration::from_nanos(delay_ns), Ping);
        }
    }
}

/// One measurement of the real kernel.
#[derive(Debug, Clone, Serialize)]
pub struct KernelRun {
    pub actors: u32,
    pub events: u64,
    pub wall_s: f64,
    pub events_per_s: f64,
    pub trace_digest: String,
}

/// Runs the workload through the kernel and actix actors.
/// Setting up the actors is not timed, in either loop: only delivering events is.
pub fn run_kernel(actors: u32, span: SimDuration, dispatch: Dispatch) -> KernelRun {
    let (stats, wall_s) = run_in_system(|| async move {
        let net = Network::new(BENCH_SEED, LinkSpec::default());
        let mut kernel: Kernel<Ping> = Kernel::new(net, SimTime::ZERO + span, dispatch, false);
        for i in 0..actors {
            let name = format!("actor-{i}");
            let rng = rng_for(BENCH_SEED, &name);
            kernel.spawn(&name, 0, Pinger { rng, actors });
        }
        let started = Instant::now();
        let stats = kernel.run().await.expect("the bench workload cannot panic");
        (stats, started.elapsed().as_secs_f64())
    });
    // Start and Finish inputs are bookkeeping, not workload events.
    let events = stats.events - 2 * u64::from(actors);
    KernelRun {
        actors,
        events,
        wall_s,
        events_per_s: events as f64 / wall_s,
        trace_digest: stats.trace_digest,
    }
}

/// The floor: the same workload on a bare binary heap with one method call per event.
pub fn run_floor(actors: u32, span: SimDuration) -> (u64, f64) {
    let end = span.as_nanos();
    let mut rngs: Vec<SimRng> = (0..actors)
        .map(|i| rng_for(BENCH_SEED, &format!("actor-{i}")))
        .collect();
    let started = Instant::now();
    let mut seqs = vec![0u64; actors as usize];
    let mut heap: BinaryHeap<Reverse<(u64, NodeId, u64, NodeId)>> = BinaryHeap::new();
    let mut events = 0u64;
    // Each actor's start event schedules its first ping, exactly as in the kernel.
    for i in 0..actors {
        let (target, delay) = draw(&mut rngs[i as usize], actors);
        heap.push(Reverse((delay, i + 1, 0, target + 1)));
        seqs[i as usize] = 1;
    }
    while let Some(Reverse((time, _src, _seq, dst))) = heap.pop() {
        if time >= end {
            break;
        }
        events += 1;
        let idx = (dst - 1) as usize;
        let (target, delay) = draw(&mut rngs[idx], actors);
        heap.push(Reverse((time + delay, dst, seqs[idx], target + 1)));
        seqs[idx] += 1;
    }
    let wall_s = started.elapsed().as_secs_f64();
    (events, wall_s)
}

/// The kernel against the floor at one number of actors.
#[derive(Debug, Clone, Serialize)]
pub struct KernelFigure {
    pub actors: u32,
    pub simulated_s: f64,
    pub events_per_s: f64,
    pub floor_events_per_s: f64,
    /// `events_per_s / floor_events_per_s`.
    pub ratio: f64,
}

/// Every figure `failcast bench` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Window dispatch, per number of actors.
    pub sizes: Vec<KernelFigure>,
    pub strict_events_per_s_1k: f64,
    pub repeats: u32,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Numbers of actors the bench measures, and how long each runs in simulated time:
/// a few million events each.
pub const BENCH_SIZES: [(u32, u64); 3] = [(1_000, 20_000), (10_000, 4_000), (100_000, 1_000)];

/// Measures kernel and floor at each of `sizes` (actors, simulated ms); medians over
/// `repeats`. Strict dispatch is measured at the first size.
pub fn run_bench(repeats: u32, sizes: &[(u32, u64)]) -> BenchReport {
    let window = Dispatch::Window {
        lookahead: SimDuration::from_nanos(MIN_DELAY_NS),
    };
    let measure = |actors: u32, span: SimDuration, dispatch: Dispatch| {
        let mut kernel_rates = Vec::new();
        let mut floor_rates = Vec::new();
        for _ in 0..repeats.max(1) {
            let run = run_kernel(actors, span, dispatch);
            let (floor_events, floor_wall) = run_floor(actors, span);
            assert_eq!(
                run.events, floor_events,
                "kernel and floor must deliver the same events"
            );
            kernel_rates.push(run.events_per_s);
            floor_rates.push(floor_events as f64 / floor_wall);
        }
        (median(&mut kernel_rates), median(&mut floor_rates))
    };
    let figures = sizes
        .iter()
        .map(|&(actors, span_ms)| {
            let span = SimDuration::from_millis(span_ms);
            let (kernel, floor) = measure(actors, span, window);
            KernelFigure {
                actors,
                simulated_s: span.as_secs_f64(),
                events_per_s: kernel,
                floor_events_per_s: floor,
                ratio: kernel / floor,
            }
        })
        .collect();
    let strict = sizes.first().map_or(0.0, |&(actors, span_ms)| {
        measure(actors, SimDuration::from_millis(span_ms), Dispatch::Strict).0
    });
    BenchReport {
        sizes: figures,
        strict_events_per_s_1k: strict,
        repeats: repeats.max(1),
    }
}

/// The bundled reference day (`scenarios/reference-day.toml`), built in so that
/// `failcast bench --day` runs anywhere.
pub const REFERENCE_DAY: &str = include_str!("../../scenarios/reference-day.toml");

/// One timed run of a scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioRun {
    pub simulated_s: f64,
    pub viewers: u32,
    pub events: u64,
    pub wall_s: f64,
    /// Simulated seconds per wall second.
    pub speedup: f64,
    pub events_per_s: f64,
}

/// A built-in scenario (`name`, `text`) with `overrides`, run once and timed.
fn run_builtin(name: &str, text: &str, overrides: &[String]) -> Result<ScenarioRun, String> {
    let s = crate::scenario::load_str(name, text, overrides).map_err(|d| d.to_string())?;
    let started = Instant::now();
    let out = super::run_scenario(&s, s.scenario.seed, None, false).map_err(|e| e.to_string())?;
    let wall_s = started.elapsed().as_secs_f64();
    let simulated_s = s.scenario.duration.0.as_secs_f64();
    Ok(ScenarioRun {
        simulated_s,
        viewers: s.viewers.count,
        events: out.summary.events,
        wall_s,
        speedup: simulated_s / wall_s,
        events_per_s: out.summary.events as f64 / wall_s,
    })
}

/// The reference day with `overrides` (e.g. a shorter duration), run once and timed.
pub fn run_reference_day(overrides: &[String]) -> Result<ScenarioRun, String> {
    run_builtin("reference-day.toml", REFERENCE_DAY, overrides)
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The least-squares slope of log(y) on log(x): the exponent of y ∝ x^k.
pub fn log_log_slope(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (libm::log(x), libm::log(y))).collect();
    let n = logs.len() as f64;
    let (mx, my) = (
        logs.iter().map(|p| p.0).sum::<f64>() / n,
        logs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = logs.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    cov / var
}

/// How wall time grows with simulated time and with viewers, on a steady workload
/// (the quickstart: viewers join in the first minute and stay; its fault at 10 min):
/// 1, 2 and 4 × a base duration, and 1, 2 and 4 × a base viewer count.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    pub by_duration: Vec<ScenarioRun>,
    pub duration_exponent: f64,
    pub by_viewers: Vec<ScenarioRun>,
    pub viewers_exponent: f64,
}

/// The bundled quickstart, built in like the reference day.
pub const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");

fn run_quickstart(overrides: &[String]) -> Result<ScenarioRun, String> {
    run_builtin("quickstart.toml", QUICKSTART, overrides)
}

pub fn run_scaling(base_minutes: u32, base_viewers: u32) -> Result<Scaling, String> {
    let mut by_duration = Vec::new();
    for k in [1, 2, 4] {
        by_duration.push(run_quickstart(&[
            format!("scenario.duration={}m", base_minutes * k),
            format!("viewers.count={base_viewers}"),
        ])?);
    }
    let mut by_viewers = Vec::new();
    for k in [1, 2, 4] {
        by_viewers.push(run_quickstart(&[
            format!("scenario.duration={base_minutes}m"),
            format!("viewers.count={}", base_viewers * k),
        ])?);
    }
    let slope = |runs: &[ScenarioRun], x: fn(&ScenarioRun) -> f64| {
        log_log_slope(&runs.iter().map(|r| (x(r), r.wall_s)).collect::<Vec<_>>())
    };
    Ok(Scaling {
        duration_exponent: slope(&by_duration, |r| r.simulated_s),
        viewers_exponent: slope(&by_viewers, |r| f64::from(r.viewers)),
        by_duration,
        by_viewers,
    })
}

/// A run timed in a process of its own, with that process's peak memory (a run in the
/// bench's own process would count what earlier measurements left resident).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeasuredRun {
    pub run: ScenarioRun,
    /// Peak resident memory of the process, if the platform can tell.
    pub peak_rss_bytes: Option<u64>,
    /// Calls to the allocator during the measurement (loading the scenario, building
    /// the world and summarising included), if the allocator counts them (the failcast
    /// binary's does).
    #[serde(default)]
    pub allocation_calls: Option<u64>,
}

impl MeasuredRun {
    /// Allocator calls per simulated event.
    pub fn allocations_per_event(&self) -> Option<f64> {
        let calls = self.allocation_calls?;
        (self.run.events > 0).then(|| calls as f64 / self.run.events as f64)
    }
}

/// What a large audience costs: a run with `viewers`, and one with a quarter as many
/// to take the fixed cost out of the memory per viewer.
#[derive(Debug, Clone, Serialize)]
pub struct Audience {
    pub quarter: MeasuredRun,
    pub full: MeasuredRun,
    /// Extra peak memory per extra viewer between the two runs.
    pub bytes_per_viewer: Option<f64>,
    /// Wall time of one simulated hour at the full run's pace (joins included).
    pub projected_hour_s: f64,
}

impl Audience {
    pub fn from_runs(quarter: MeasuredRun, full: MeasuredRun) -> Audience {
        let bytes_per_viewer = match (quarter.peak_rss_bytes, full.peak_rss_bytes) {
            (Some(q), Some(f)) if full.run.viewers > quarter.run.viewers => {
                Some((f as f64 - q as f64) / f64::from(full.run.viewers - quarter.run.viewers))
            }
            _ => None,
        };
        let projected_hour_s = full.run.wall_s * 3600.0 / full.run.simulated_s;
        Audience {
            quarter,
            full,
            bytes_per_viewer,
            projected_hour_s,
        }
    }
}

/// Simulated span of an audience run.
pub const AUDIENCE_SPAN_S: u32 = 90;

/// The bundled quickstart with `viewers` viewers for 90 simulated seconds (joining from
/// 10 s on, the ingest crash moved to 60 s), run once and timed.
pub fn run_audience(viewers: u32) -> Result<ScenarioRun, String> {
    run_quickstart(&[
        format!("viewers.count={viewers}"),
        format!("scenario.duration={AUDIENCE_SPAN_S}s"),
        "fault[0].at=60s".into(),
        "fault[0].duration=10s".into(),
    ])
}

/// The grid squads join on in [`run_squads`].
pub const SQUADS_JOIN_STEP: &str = "10ms";

/// The bundled quickstart with `viewers` viewers in squads (`viewers.squads`, joins on
/// a 10 ms grid) for a whole simulated hour, run once and timed.
pub fn run_squads(viewers: u32) -> Result<ScenarioRun, String> {
    run_quickstart(&[
        format!("viewers.count={viewers}"),
        "scenario.duration=1h".into(),
        format!("viewers.join_step={SQUADS_JOIN_STEP}"),
        "viewers.squads=true".into(),
    ])
}

/// Runs/s of a batch of short runs with one worker, and with two.
#[derive(Debug, Clone, Serialize)]
pub struct JobsScaling {
    pub runs: usize,
    pub runs_per_s_1: f64,
    pub runs_per_s_2: f64,
    pub speedup: f64,
}

pub fn run_jobs_scaling(runs: u64) -> Result<JobsScaling, String> {
    use super::batch::{execute, Options, Plan, Settings, Setup};
    let overrides = vec!["scenario.duration=2h".to_string(), "viewers.count=300".to_string()];
    let s = crate::scenario::load_str("reference-day.toml", REFERENCE_DAY, &overrides).map_err(|d| d.to_string())?;
    let setup = Setup::new(
        "reference-day".into(),
        std::path::Path::new("reference-day.toml"),
        overrides,
        1,
        s,
    );
    let plan = Plan::new("bench", vec![setup], runs, Settings::default());
    let dir = std::env::temp_dir().join(format!("failcast-bench-{}", std::process::id()));
    let mut rates = Vec::new();
    for jobs in [1, 2] {
        let _ = std::fs::remove_dir_all(&dir);
        let options = Options {
            jobs,
            resume: false,
            shard: None,
            progress: false,
        };
        let started = Instant::now();
        execute(&plan, &dir, &options, &std::sync::atomic::AtomicBool::new(false)).map_err(|e| e.to_string())?;
        rates.push(runs as f64 / started.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(JobsScaling {
        runs: runs as usize,
        runs_per_s_1: rates[0],
        runs_per_s_2: rates[1],
        speedup: rates[1] / rates[0],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_log_slope_recovers_an_exponent() {
        let points: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0].iter().map(|&x| (x, 3.0 * x * x)).collect();
        assert!((super::log_log_slope(&points) - 2.0).abs() < 1e-12);
        let linear: Vec<(f64, f64)> = [10.0, 20.0, 40.0].iter().map(|&x| (x, 0.5 * x)).collect();
        assert!((super::log_log_slope(&linear) - 1.0).abs() < 1e-12);
    }

    use super::*;

    #[test]
    fn bytes_per_viewer_is_the_extra_peak_over_the_extra_viewers() {
        let measured = |viewers: u32, wall_s: f64, peak: Option<u64>| MeasuredRun {
            run: ScenarioRun {
                simulated_s: 90.0,
                viewers,
                events: 0,
                wall_s,
                speedup: 90.0 / wall_s,
                events_per_s: 0.0,
            },
            peak_rss_bytes: peak,
            allocation_calls: None,
        };
        let a = Audience::from_runs(
            measured(1_000, 1.0, Some(10_000_000)),
            measured(4_000, 4.5, Some(16_000_000)),
        );
        assert_eq!(a.bytes_per_viewer, Some(2_000.0));
        assert_eq!(a.projected_hour_s, 180.0);
        let unknown = Audience::from_runs(measured(1_000, 1.0, None), measured(4_000, 4.5, Some(16_000_000)));
        assert_eq!(unknown.bytes_per_viewer, None);
    }

    /// Every queued event is as large as the largest kernel input: keep them small,
    /// the 100k-actor figure moves with it.
    #[test]
    fn queued_events_stay_small() {
        let size = std::mem::size_of::<crate::sim::Input<Ping>>();
        assert!(size <= 16, "Input<Ping> is {size} bytes");
    }
}
