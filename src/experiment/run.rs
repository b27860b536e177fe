//! Running one scenario: build the world on a fresh actix System, run the kernel to the
//! end, settle the metrics; and the determinism self-check that runs it twice.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use crate::actors::{world, Msg};
use crate::metrics::summary::{ledger, MeasureWindow, RunFacts};
use crate::metrics::{
    alert_rows, fault_rows, node_rows, outages, summarize, AlertRow, FailoverRow, FaultRow, NodeRow, Recorder,
    StallRow, Summary, TimelineRow, ViewerRecord,
};
use crate::plan::WorldPlan;
use crate::scenario::settings::{DispatchMode, ExpectOp};
use crate::scenario::{Expect, Scenario, Window};
use crate::sim::trace::{first_divergence, Divergence};
use crate::sim::{run_in_system, Dispatch, Kernel, SimError, TraceRecord};
use crate::time::SimTime;

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The scenario as it ran: overrides applied, and the run's seed as its seed.
    pub scenario: Scenario,
    pub summary: Summary,
    pub timeline: Vec<TimelineRow>,
    pub failovers: Vec<FailoverRow>,
    pub alerts: Vec<AlertRow>,
    /// The full event log, when asked for.
    pub records: Option<Vec<TraceRecord>>,
    /// Node names by id, to describe events.
    pub node_names: Vec<String>,
    /// What each viewer experienced, by viewer id.
    pub viewers: Vec<ViewerRecord>,
    /// Content check failures: (ingest, what failed, when it crossed its threshold).
    pub content_failures: Vec<crate::metrics::ContentFailure>,
    /// Load per edge over time (`nodes.csv`).
    pub nodes: Vec<NodeRow>,
    /// Every published segment: (stream, index, frames).
    pub published: Vec<(u32, u64, u32)>,
    /// The scenario's fault windows, for plots and the report.
    pub faults: Vec<FaultRow>,
    /// Stalls viewers recovered from.
    pub stalls: Vec<StallRow>,
    /// When a stream was not playable at the origin, in seconds: (stream, from, to).
    pub outages_s: Vec<(u32, f64, f64)>,
    /// The verdicts on the scenario's `[[expect]]`s.
    pub verdicts: Vec<Verdict>,
}

/// Runs `s` with `seed`. `dispatch` overrides the scenario's mode (results are equal).
/// A panic anywhere in the run (an actor's, or one while building the world or
/// summarising) is an error, never an abort: `failcast run` names the seed to replay.
pub fn run_scenario(
    s: &Scenario,
    seed: u64,
    dispatch: Option<Dispatch>,
    keep_records: bool,
) -> Result<RunOutput, SimError> {
    not_panicking(|| run_scenario_unguarded(s, seed, dispatch, keep_records))
}

/// `body`'s result, or its panic as [`SimError::Panic`].
fn not_panicking<T>(body: impl FnOnce() -> Result<T, SimError>) -> Result<T, SimError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(SimError::Panic {
            message: crate::sim::panic_text(payload.as_ref()),
        })
    })
}

fn run_scenario_unguarded(
    s: &Scenario,
    seed: u64,
    dispatch: Option<Dispatch>,
    keep_records: bool,
) -> Result<RunOutput, SimError> {
    let plan = WorldPlan::of(s, seed).map_err(|e| SimError::Unplannable { message: e.to_string() })?;
    let dispatch = dispatch.unwrap_or(match plan.settings.dispatch {
        DispatchMode::Strict => Dispatch::Strict,
        DispatchMode::Window => Dispatch::Window {
            lookahead: world::network(s, 0).min_latency(),
        },
    });
    let started = Instant::now();
    let (stats, recorder, node_names) = run_in_system(move || async move {
        let recorder = Rc::new(RefCell::new(Recorder::new(
            plan.stream_shape.clone(),
            plan.fault_records(),
        )));
        let end = SimTime::ZERO + s.scenario.duration.0;
        let mut kernel: Kernel<Msg> = Kernel::new(world::network(s, seed), end, dispatch, keep_records);
        world::build(&mut kernel, s, plan, seed, &recorder);
        let names: Vec<String> = (0..kernel.next_id())
            .map(|id| kernel.network().name(id).to_string())
            .collect();
        let stats = kernel.run().await?;
        Ok::<_, SimError>((stats, recorder, names))
    })?;
    let wall_s = started.elapsed().as_secs_f64();
    // The actors held the recorder; with the system gone, it is the run's alone. Taken,
    // not cloned: a copy made while the world still stood was the run's peak memory.
    let mut recorder = Rc::try_unwrap(recorder).map_or_else(|shared| shared.borrow().clone(), RefCell::into_inner);
    // Cohorts book a stall when they next hear from the viewer, not when it ended:
    // list them by when they ended.
    (recorder.stall_durations).sort_unstable_by_key(|&(viewer, resumed, stalled)| (resumed, viewer, stalled));
    let settled = ledger(&recorder);
    assert!(settled.balances(), "frame conservation violated: {settled:?}");
    let facts = RunFacts {
        windows: measure_windows(s),
        scenario: s.scenario.name.clone(),
        description: s.scenario.description.clone(),
        seed,
        wall_s,
        events: stats.events,
        trace_digest: stats.trace_digest.clone(),
        messages_lost: stats.messages_lost,
    };
    let (summary, timeline, failovers) = summarize(&recorder, &facts);
    let verdicts = evaluate(s, &summary);
    // The scenario as this run used it: rerunning it (its `scenario.toml`) replays the run.
    let mut scenario = s.clone();
    scenario.scenario.seed = seed;
    Ok(RunOutput {
        scenario,
        summary,
        timeline,
        failovers,
        alerts: alert_rows(&recorder),
        records: stats.records,
        node_names,
        nodes: node_rows(&recorder),
        published: (recorder.streams.iter().enumerate())
            .flat_map(|(k, ledger)| ledger.segments.iter().map(move |(&i, s)| (k as u32, i, s.frames)))
            .collect(),
        faults: fault_rows(&recorder),
        stalls: recorder
            .stall_durations
            .iter()
            .map(|&(viewer, at, stalled)| StallRow {
                viewer,
                resumed_s: at.as_secs_f64(),
                duration_s: stalled.as_secs_f64(),
            })
            .collect(),
        outages_s: (0..recorder.streams.len())
            .flat_map(|k| {
                let stream = k as u32;
                (outages(&recorder, k).into_iter())
                    .map(move |(from, to)| (stream, from.as_secs_f64(), to.as_secs_f64()))
            })
            .collect(),
        verdicts,
        content_failures: recorder.content_failures,
        viewers: recorder.viewers,
    })
}

/// The verdict on one `[[expect]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub expect: Expect,
    pub measured: Option<f64>,
    pub passed: bool,
}

/// Checks every expectation of `s` against `summary`. A metric with no value fails.
/// The windows the scenario's expectations measure over.
fn measure_windows(s: &Scenario) -> Vec<(String, String, MeasureWindow)> {
    (s.expects.iter())
        .filter_map(|expect| {
            let window = match Window::parse(expect.during.as_deref()?).ok()? {
                Window::Fault { id, after } => MeasureWindow::Fault { id, after },
                Window::Span { from, to } => MeasureWindow::Span {
                    from: SimTime::ZERO + from,
                    to: SimTime::ZERO + to,
                },
            };
            Some((expect.measured_as(), expect.metric.clone(), window))
        })
        .collect()
}

pub fn evaluate(s: &Scenario, summary: &Summary) -> Vec<Verdict> {
    s.expects
        .iter()
        .map(|expect| {
            let measured = match &expect.during {
                Some(_) => summary.windowed.get(&expect.measured_as()).copied().flatten(),
                None => summary.metric(&expect.metric),
            };
            let passed = measured.is_some_and(|m| holds(expect, m));
            Verdict {
                expect: expect.clone(),
                measured,
                passed,
            }
        })
        .collect()
}

/// Whether `measured` meets `expect`'s operator and threshold.
pub fn holds(expect: &Expect, measured: f64) -> bool {
    let (low, high) = expect.bounds().unwrap_or((f64::NAN, f64::NAN));
    match expect.op_kind() {
        Some(ExpectOp::Lt) => measured < low,
        Some(ExpectOp::Le) => measured <= low,
        Some(ExpectOp::Gt) => measured > low,
        Some(ExpectOp::Ge) => measured >= low,
        Some(ExpectOp::Eq) => measured == low,
        Some(ExpectOp::Between) => (low..=high).contains(&measured),
        // Validation refuses any other operator; an unknown one never holds.
        None => false,
    }
}

/// What differed between two runs of the same scenario and seed.
#[derive(Clone, Debug)]
pub struct DeterminismReport {
    pub digests: (String, String),
    pub divergence: Option<Divergence>,
    /// Output files that differ (wall-clock time excluded).
    pub differing_outputs: Vec<&'static str>,
    pub node_names: Vec<String>,
}

impl DeterminismReport {
    /// What differs between two runs meant to be identical (wall-clock time aside). Apart
    /// from [`check_determinism`] so that a test can hand it two runs with a planted
    /// difference and see it found.
    pub fn between(first: &RunOutput, second: &RunOutput) -> DeterminismReport {
        let mut differing = Vec::new();
        let mut a = first.summary.clone();
        let mut b = second.summary.clone();
        a.wall_s = 0.0;
        b.wall_s = 0.0;
        if a != b {
            differing.push(crate::files::SUMMARY_FILE);
        }
        if first.timeline != second.timeline {
            differing.push(crate::files::TIMELINE_FILE);
        }
        if first.failovers != second.failovers {
            differing.push(crate::files::FAILOVERS_FILE);
        }
        if first.alerts != second.alerts {
            differing.push(crate::files::ALERTS_FILE);
        }
        let divergence = match (&first.records, &second.records) {
            (Some(x), Some(y)) => first_divergence(x, y),
            _ => None,
        };
        DeterminismReport {
            digests: (first.summary.trace_digest.clone(), second.summary.trace_digest.clone()),
            divergence,
            differing_outputs: differing,
            node_names: first.node_names.clone(),
        }
    }

    pub fn deterministic(&self) -> bool {
        self.digests.0 == self.digests.1 && self.divergence.is_none() && self.differing_outputs.is_empty()
    }

    /// A sentence naming the first diverging event.
    pub fn describe_divergence(&self) -> Option<String> {
        let d = self.divergence.as_ref()?;
        let name = |id: u32| {
            self.node_names
                .get(id as usize)
                .cloned()
                .unwrap_or_else(|| format!("node {id}"))
        };
        let describe = |r: &Option<TraceRecord>| match r {
            Some(r) => format!(
                "t={} {} from {} to {} (seq {})",
                r.time,
                r.kind,
                name(r.src),
                name(r.dst),
                r.seq
            ),
            None => "no event (the log ended)".to_string(),
        };
        Some(format!(
            "first diverging event is #{}: run 1 had {}; run 2 had {}",
            d.index,
            describe(&d.first),
            describe(&d.second)
        ))
    }
}

/// Runs `s` twice with the same seed and compares event logs and outputs; returns the
/// comparison and the first run (its event log kept), for the caller to write.
pub fn check_determinism(s: &Scenario, seed: u64) -> Result<(DeterminismReport, RunOutput), SimError> {
    let first = run_scenario(s, seed, None, true)?;
    let second = run_scenario(s, seed, None, true)?;
    Ok((DeterminismReport::between(&first, &second), first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_outside_the_actors_is_an_error_that_quotes_it() {
        let result: Result<(), SimError> = not_panicking(|| panic!("no edge named edge-9"));
        let error = result.expect_err("a panic becomes an error").to_string();
        assert!(error.contains("outside the actors"), "{error}");
        assert!(error.ends_with("no edge named edge-9"), "{error}");
        let formatted: Result<(), SimError> = not_panicking(|| panic!("edge {} of {}", 9, 4));
        assert!(formatted.expect_err("a panic").to_string().ends_with("edge 9 of 4"));
        assert_eq!(not_panicking(|| Ok::<_, SimError>(7)).expect("no panic"), 7);
    }
}
