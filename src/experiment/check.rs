//! `failcast check`: every `[[expect]]` of every scenario judged over seeds, baseline
//! regressions, and the CI formats (JUnit XML, a Markdown step summary).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::batch::Baseline;
use super::batch::{statistic, Outcome, Plan, RunRecord};
use super::run::holds;
use crate::scenario::settings::ExpectOp;

/// One expectation of one scenario over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// `rebuffer_ratio lt 0.02 during fault:x`.
    pub name: String,
    pub statistic: String,
    /// Each seed's measured value (`None`: the metric had no value, or the run failed).
    pub values: Vec<(u64, Option<f64>)>,
    /// The statistic over the seeds (for `all`: the worst seed's value).
    pub measured: Option<f64>,
    pub passed: bool,
    /// The seed to replay: one without a value, else the one furthest from passing.
    pub worst_seed: Option<u64>,
}

/// A metric against the stored baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineResult {
    pub metric: String,
    pub baseline: f64,
    /// Mean over this check's seeds.
    pub measured: Option<f64>,
    /// Allowed change in the worse direction, as a fraction of the baseline (of
    /// 1 − baseline for a share where more is better), with an absolute floor of
    /// `absolute`.
    pub tolerance: f64,
    pub absolute: f64,
    pub passed: bool,
    /// Better than the baseline by more than the tolerance: the baseline is out of date
    /// (a failure with `--fail-on-improvement`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub improved: bool,
    /// Why there is nothing to compare (the baseline has no entry for the scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One scenario's verdicts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioCheck {
    pub label: String,
    pub file: String,
    pub seeds: Vec<u64>,
    pub expectations: Vec<ExpectationResult>,
    /// Runs that panicked or failed: (seed, error, replay command).
    pub failed_runs: Vec<(u64, String, String)>,
    pub baseline: Vec<BaselineResult>,
    /// Each headline metric's mean over the seeds (what `--save-baseline` stores).
    pub means: BTreeMap<String, f64>,
}

/// Everything `check` found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub statistic: String,
    pub scenarios: Vec<ScenarioCheck>,
}

/// Metrics a baseline keeps, and whether more is better.
pub const BASELINE_METRICS: &[(&str, bool)] = &[
    ("failover_latency_ms.p50", false),
    ("failover_latency_ms.max", false),
    ("frames_dropped.total", false),
    ("viewer_frames_dropped.total", false),
    ("stall_count", false),
    ("stall_s_total", false),
    ("rebuffer_ratio", false),
    ("availability", true),
    ("startup_ms_p50", false),
    ("time_to_detect_s_max", false),
    ("time_to_alert_s_max", false),
    ("discontinuities", false),
];

/// Default relative tolerance of a baseline metric.
pub const DEFAULT_TOLERANCE: f64 = 0.10;
/// Changes smaller than this (in the metric's unit) are never regressions: a metric
/// whose baseline is 0 would otherwise fail on any noise.
const ABSOLUTE_FLOOR: f64 = 1e-9;

impl CheckReport {
    pub fn expectations(&self) -> usize {
        self.scenarios
            .iter()
            .map(|s| s.expectations.len() + s.baseline.len())
            .sum()
    }

    pub fn failures(&self) -> usize {
        (self.scenarios.iter())
            .map(|s| {
                s.expectations.iter().filter(|e| !e.passed).count() + s.baseline.iter().filter(|b| !b.passed).count()
            })
            .sum()
    }

    pub fn failed_runs(&self) -> usize {
        self.scenarios.iter().map(|s| s.failed_runs.len()).sum()
    }

    /// The baseline this report would store.
    pub fn to_baseline(&self, tolerances: BTreeMap<String, f64>) -> Baseline {
        Baseline {
            tolerances,
            scenarios: (self.scenarios.iter())
                .map(|s| (s.label.clone(), s.means.clone()))
                .collect(),
        }
    }
}

/// Judges every expectation of every setup of `plan` over its seeds.
pub fn judge(plan: &Plan, records: &[&RunRecord], stat: &str, baseline: Option<&Baseline>) -> CheckReport {
    let per = plan.seeds as usize;
    let scenarios = (plan.setups.iter().enumerate())
        .map(|(k, setup)| {
            let runs = &records[k * per..(k + 1) * per];
            let scenario = setup.scenario.as_ref().expect("check plans hold their scenarios");
            let seeds: Vec<u64> = runs.iter().map(|r| r.seed).collect();
            let failed_runs = (runs.iter())
                .filter_map(|r| match &r.outcome {
                    Outcome::Failed { error } => Some((r.seed, error.clone(), setup.replay(r.seed))),
                    Outcome::Done { .. } => None,
                })
                .collect();
            let expectations = (scenario.expects.iter().enumerate())
                .map(|(i, expect)| {
                    let values: Vec<(u64, Option<f64>)> = (runs.iter())
                        .map(|r| {
                            let value = match &r.outcome {
                                Outcome::Done { expects, .. } => expects.get(i).and_then(|m| m.measured),
                                Outcome::Failed { .. } => None,
                            };
                            (r.seed, value)
                        })
                        .collect();
                    let passes = |v: Option<f64>| v.is_some_and(|v| holds(expect, v));
                    // How far a value is from passing (0: it passes).
                    let distance = |v: f64| {
                        let (low, high) = expect.bounds().unwrap_or((f64::NAN, f64::NAN));
                        match expect.op_kind() {
                            Some(ExpectOp::Lt | ExpectOp::Le) => v - low,
                            Some(ExpectOp::Gt | ExpectOp::Ge) => low - v,
                            Some(ExpectOp::Between) => (low - v).max(v - high),
                            Some(ExpectOp::Eq) | None => (v - low).abs(),
                        }
                    };
                    // The seed furthest from passing (earliest on ties); a seed with
                    // no value (the metric never happened, or the run failed) first.
                    let no_value = values.iter().find(|(_, v)| v.is_none()).map(|&(seed, _)| seed);
                    let furthest = (values.iter())
                        .filter_map(|&(seed, v)| v.map(|v| (seed, distance(v))))
                        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                        .map(|(seed, _)| seed);
                    let worst_seed = no_value.or(furthest);
                    let (measured, passed) = if stat == "all" {
                        let worst = worst_seed.and_then(|seed| values.iter().find(|(s, _)| *s == seed)?.1);
                        (worst, values.iter().all(|(_, v)| passes(*v)))
                    } else {
                        let present: Vec<f64> = values.iter().filter_map(|(_, v)| *v).collect();
                        let complete = present.len() == values.len();
                        let measured = if complete { statistic(stat, &present) } else { None };
                        (measured, passes(measured))
                    };
                    let during = expect
                        .during
                        .as_deref()
                        .map_or(String::new(), |w| format!(" during {w}"));
                    ExpectationResult {
                        name: format!("{} {} {}{during}", expect.metric, expect.op, expect.describe()),
                        statistic: stat.to_string(),
                        values,
                        measured,
                        passed,
                        worst_seed,
                    }
                })
                .collect();
            let means: BTreeMap<String, f64> = (BASELINE_METRICS.iter())
                .filter_map(|&(metric, _)| {
                    let values: Vec<f64> = (runs.iter())
                        .map(|r| r.summary().and_then(|s| s.metric(metric)))
                        .collect::<Option<Vec<f64>>>()?;
                    Some((metric.to_string(), statistic("mean", &values)?))
                })
                .collect();
            // A scenario the baseline does not know fails: a regression check that
            // checks nothing must not pass quietly.
            let baseline = match baseline {
                None => Vec::new(),
                Some(b) => match b.scenarios.get(&setup.label) {
                    Some(stored) => compare_to_baseline(b, stored, &means, plan.settings.fail_on_improvement),
                    None => vec![BaselineResult {
                        metric: "entry".into(),
                        baseline: 0.0,
                        measured: None,
                        tolerance: 0.0,
                        absolute: 0.0,
                        passed: false,
                        improved: false,
                        note: Some(format!(
                            "the baseline has no entry for `{}` (it has: {}); store one with --save-baseline",
                            setup.label,
                            b.scenarios.keys().cloned().collect::<Vec<_>>().join(", ")
                        )),
                    }],
                },
            };
            ScenarioCheck {
                label: setup.label.clone(),
                file: setup.file.clone(),
                seeds,
                expectations,
                failed_runs,
                baseline,
                means,
            }
        })
        .collect();
    CheckReport {
        statistic: stat.to_string(),
        scenarios,
    }
}

/// Each stored metric against this check's mean: worse by more than its tolerance
/// fails; better by more is `improved`, and fails too with `fail_on_improvement`.
fn compare_to_baseline(
    b: &Baseline,
    stored: &BTreeMap<String, f64>,
    means: &BTreeMap<String, f64>,
    fail_on_improvement: bool,
) -> Vec<BaselineResult> {
    (stored.iter())
        .map(|(metric, &was)| {
            let tolerance = b.tolerances.get(metric).copied().unwrap_or(DEFAULT_TOLERANCE);
            // A metric where more is better is a share (availability): its tolerance
            // applies to what is missing (1 − value), so 99.9% → 99.8% is a doubling.
            let higher_is_better = BASELINE_METRICS.iter().any(|&(m, better)| m == metric && better);
            let measured = means.get(metric).copied();
            let lacking = |v: f64| if higher_is_better { 1.0 - v } else { v };
            let allowed = (lacking(was).abs() * tolerance).max(ABSOLUTE_FLOOR);
            let improved = measured.is_some_and(|now| lacking(was) - lacking(now) > allowed);
            let passed = measured.is_some_and(|now| lacking(now) - lacking(was) <= allowed)
                && !(improved && fail_on_improvement);
            BaselineResult {
                metric: metric.clone(),
                baseline: was,
                measured,
                tolerance,
                absolute: ABSOLUTE_FLOOR,
                passed,
                improved,
                note: None,
            }
        })
        .collect()
}

pub fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "no value".to_string(), |v| format!("{v}"))
}

impl BaselineResult {
    pub fn describe(&self) -> String {
        if let Some(note) = &self.note {
            return note.clone();
        }
        let improved = if self.improved {
            "; improved beyond it: update the baseline with --save-baseline"
        } else {
            ""
        };
        format!(
            "{}: {} now, {} in the baseline (tolerance {:.1}% in the worse direction){improved}",
            self.metric,
            number(self.measured),
            self.baseline,
            self.tolerance * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(metric: &str, was: f64, now: f64, fail_on_improvement: bool) -> BaselineResult {
        let baseline = Baseline::default();
        let stored = BTreeMap::from([(metric.to_string(), was)]);
        let means = BTreeMap::from([(metric.to_string(), now)]);
        compare_to_baseline(&baseline, &stored, &means, fail_on_improvement).remove(0)
    }

    #[test]
    fn a_baseline_is_two_sided_around_its_tolerance() {
        // 10% of 100 stalls either way.
        let verdicts = [
            (109.0, true, false),
            (111.0, false, false),
            (91.0, true, false),
            (89.0, true, true),
        ];
        for (now, passed, improved) in verdicts {
            let result = judged("stall_count", 100.0, now, false);
            assert_eq!((result.passed, result.improved), (passed, improved), "{now} stalls");
        }
        // Behind the flag an improvement beyond the tolerance fails, one within it does not.
        assert!(!judged("stall_count", 100.0, 89.0, true).passed);
        assert!(judged("stall_count", 100.0, 91.0, true).passed);
        // A drop to zero is an improvement a one-sided gate would never see.
        let dropped = judged("stall_count", 100.0, 0.0, true);
        assert!(dropped.improved && !dropped.passed);
        assert!(
            dropped.describe().contains("update the baseline"),
            "{}",
            dropped.describe()
        );
    }

    #[test]
    fn for_a_share_the_tolerance_applies_to_what_is_missing() {
        // 99.9% → 99.88% misses 0.12% instead of 0.1%: 20% worse, beyond 10%.
        assert!(!judged("availability", 0.999, 0.9988, false).passed);
        assert!(judged("availability", 0.999, 0.99891, false).passed);
        // 99.9% → 99.92% misses 20% less: improved.
        let better = judged("availability", 0.999, 0.9992, true);
        assert!(better.improved && !better.passed);
    }
}
