//! `failcast compare`: setups run on the same seeds (so workload and fault draws are
//! paired), each metric summarised per setup (mean, p50, p95, 95% bootstrap confidence
//! interval of the mean) and the paired difference to the first setup with its interval.

use serde::{Deserialize, Serialize};

use super::batch::{statistic, Plan, RunRecord};
use crate::metrics::quantile::nearest_rank;
use crate::metrics::units::human;

/// Metrics compared, in table order (per run, from its summary).
pub const COMPARE_METRICS: &[&str] = &[
    "failover_latency_ms.p50",
    "failover_latency_ms.max",
    "failovers",
    "failovers_unrecovered",
    "time_to_detect_s_max",
    "time_to_alert_s_max",
    "frames_dropped.total",
    "viewer_frames_dropped.total",
    "stall_count",
    "stall_s_total",
    "rebuffer_ratio",
    "viewer_slate_s",
    "viewer_fatal_errors",
    "viewers_stranded",
    "availability",
    "startup_ms_p50",
    "discontinuities",
];

/// Two-sided 97.5% quantiles of Student's t for 1 … 30 degrees of freedom.
const T_975: [f64; 30] = [
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604, 2.1448,
    2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484,
    2.0452, 2.0423,
];

/// Student's t quantile for a two-sided 95% interval: the table up to 30 degrees of
/// freedom, then the Cornish–Fisher expansion around the normal quantile (within
/// 1e-4 of the exact value there). Plain arithmetic: the same bits on every platform.
pub fn t_975(df: usize) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    if df <= T_975.len() {
        return T_975[df - 1];
    }
    let z = 1.959_963_984_540_054_f64;
    let n = df as f64;
    let (z3, z5, z7) = (z * z * z, z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * n)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * n * n * n)
}

/// Resamples drawn for a bootstrap interval.
const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// The bootstrap's generator seed: fixed, so the same values always give the same
/// interval, in any process.
const BOOTSTRAP_SEED: u64 = 0x00b0_0757_2a9d;

/// The 95% bootstrap percentile interval of the mean of `values` (Efron and
/// Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13): the 2.5th and 97.5th
/// percentiles (nearest rank) of the means of 2,000 samples drawn from `values` with
/// replacement. Every resampled mean lies between the smallest and the largest value,
/// so the interval never leaves the range the metric can take: a proportion stays in
/// [0, 1], a latency stays positive, where a t interval does not.
pub fn bootstrap_interval(values: &[f64]) -> Option<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| values[rng.gen_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    Some((nearest_rank(&means, 0.025)?, nearest_rank(&means, 0.975)?))
}

/// Fewer values than this give no confidence interval ("too few runs"): two values
/// resample to only three distinct means.
pub const MIN_RUNS_FOR_INTERVAL: usize = 3;

/// A sample's summary: mean, p50, p95 and the 95% bootstrap confidence interval of the
/// mean ([`bootstrap_interval`]; `None` with fewer than [`MIN_RUNS_FOR_INTERVAL`]
/// values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub n: usize,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        let n = values.len();
        let mean = statistic("mean", values);
        let interval = (n >= MIN_RUNS_FOR_INTERVAL)
            .then(|| bootstrap_interval(values))
            .flatten();
        let (ci_low, ci_high) = (interval.map(|i| i.0), interval.map(|i| i.1));
        Stats {
            n,
            mean,
            p50: statistic("p50", values),
            p95: statistic("p95", values),
            ci_low,
            ci_high,
        }
    }

    /// The summary of paired differences, whose interval is Student's t, mean ±
    /// t(n−1) · s / √n: the verdict rests on whether it excludes zero, and the
    /// bootstrap percentile interval covers far less than 95% with few runs (about 76%
    /// with 3, 89% with 10), so it would report differences that are not there. A
    /// difference has no range of its own to leave.
    pub fn of_differences(values: &[f64]) -> Stats {
        let mut stats = Stats::of(values);
        let n = values.len();
        if let (Some(mean), true) = (stats.mean, n >= MIN_RUNS_FOR_INTERVAL) {
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
            let half = t_975(n - 1) * (var / n as f64).sqrt();
            (stats.ci_low, stats.ci_high) = (Some(mean - half), Some(mean + half));
        }
        stats
    }
}

/// One setup's figures for one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetupFigures {
    pub setup: String,
    /// Each seed's value (`None`: no value in that run, e.g. no failover happened).
    pub values: Vec<(u64, Option<f64>)>,
    pub stats: Stats,
    /// This setup minus the first, seed by seed, over seeds where both have a value
    /// (`None` for the first setup).
    pub diff: Option<Stats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    pub metric: String,
    pub setups: Vec<SetupFigures>,
}

/// Everything `compare` found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub setups: Vec<String>,
    pub seeds: u64,
    pub metrics: Vec<MetricComparison>,
    /// Every failover episode's latency per setup, pooled over seeds (for CDFs).
    pub failover_latencies_ms: Vec<Vec<f64>>,
    /// Per setup: failovers that never recovered, pooled over seeds (they have no
    /// latency, so a CDF of the latencies ends at recovered ÷ all).
    #[serde(default)]
    pub failovers_unrecovered: Vec<u64>,
    /// Per setup: runs that finished (a failed run has no figures).
    #[serde(default)]
    pub runs_done: Vec<usize>,
    /// Runs that failed: (setup, seed, error).
    pub failed_runs: Vec<(String, u64, String)>,
}

/// Compares the setups of `plan` from its records (by run index).
pub fn compare(plan: &Plan, records: &[&RunRecord]) -> Comparison {
    let per = plan.seeds as usize;
    let runs = |k: usize| &records[k * per..(k + 1) * per];
    let values_of = |k: usize, metric: &str| -> Vec<(u64, Option<f64>)> {
        runs(k)
            .iter()
            .map(|r| (r.seed, r.summary().and_then(|s| s.metric(metric))))
            .collect()
    };
    let metrics = (COMPARE_METRICS.iter())
        .map(|&metric| {
            let first = values_of(0, metric);
            let setups = (0..plan.setups.len())
                .map(|k| {
                    let values = values_of(k, metric);
                    let present: Vec<f64> = values.iter().filter_map(|(_, v)| *v).collect();
                    let diff = (k > 0).then(|| {
                        let paired: Vec<f64> = (values.iter().zip(&first))
                            .filter_map(|((_, v), (_, base))| Some((*v)? - (*base)?))
                            .collect();
                        Stats::of_differences(&paired)
                    });
                    SetupFigures {
                        setup: plan.setups[k].label.clone(),
                        stats: Stats::of(&present),
                        values,
                        diff,
                    }
                })
                .collect();
            MetricComparison {
                metric: metric.to_string(),
                setups,
            }
        })
        .collect();
    let failover_latencies_ms = (0..plan.setups.len())
        .map(|k| {
            (runs(k).iter())
                .flat_map(|r| match &r.outcome {
                    super::batch::Outcome::Done {
                        failover_latencies_ms, ..
                    } => failover_latencies_ms.clone(),
                    super::batch::Outcome::Failed { .. } => Vec::new(),
                })
                .collect()
        })
        .collect();
    let summaries = |k: usize| runs(k).iter().filter_map(|r| r.summary());
    let failovers_unrecovered = (0..plan.setups.len())
        .map(|k| summaries(k).map(|s| s.failovers_unrecovered).sum())
        .collect();
    let runs_done = (0..plan.setups.len()).map(|k| summaries(k).count()).collect();
    let failed_runs = (records.iter())
        .filter_map(|r| match &r.outcome {
            super::batch::Outcome::Failed { error } => {
                Some((plan.setups[r.setup].label.clone(), r.seed, error.clone()))
            }
            super::batch::Outcome::Done { .. } => None,
        })
        .collect();
    Comparison {
        setups: plan.setups.iter().map(|s| s.label.clone()).collect(),
        seeds: plan.seeds,
        metrics,
        failover_latencies_ms,
        failovers_unrecovered,
        runs_done,
        failed_runs,
    }
}

/// One row of `comparison.csv`: a metric of a setup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    pub metric: String,
    pub setup: String,
    pub n: usize,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    /// Paired difference to the first setup (this − first).
    pub diff_mean: Option<f64>,
    pub diff_ci95_low: Option<f64>,
    pub diff_ci95_high: Option<f64>,
}

impl Comparison {
    /// How many of setup `k`'s runs finished (all of `figures`' seeds for a
    /// comparison.json written before the count was kept).
    pub fn runs_done(&self, k: usize, figures: &SetupFigures) -> usize {
        self.runs_done.get(k).copied().unwrap_or(figures.values.len())
    }

    pub fn rows(&self) -> Vec<ComparisonRow> {
        (self.metrics.iter())
            .flat_map(|m| {
                m.setups.iter().map(move |s| ComparisonRow {
                    metric: m.metric.clone(),
                    setup: s.setup.clone(),
                    n: s.stats.n,
                    mean: s.stats.mean,
                    p50: s.stats.p50,
                    p95: s.stats.p95,
                    ci95_low: s.stats.ci_low,
                    ci95_high: s.stats.ci_high,
                    diff_mean: s.diff.as_ref().and_then(|d| d.mean),
                    diff_ci95_low: s.diff.as_ref().and_then(|d| d.ci_low),
                    diff_ci95_high: s.diff.as_ref().and_then(|d| d.ci_high),
                })
            })
            .collect()
    }
}

/// A confidence interval of `metric` for tables, in the unit a person reads it in:
/// `[low, high]`, "too few runs" under [`MIN_RUNS_FOR_INTERVAL`] values, `missing`
/// with none.
pub fn interval_text(metric: &str, stats: &Stats, signed: bool, missing: &str) -> String {
    let Some(mean) = stats.mean else {
        return missing.into();
    };
    let lead = match signed {
        true => format!("{}{} ", if mean > 0.0 { "+" } else { "" }, human(metric, Some(mean))),
        false => String::new(),
    };
    match (stats.ci_low, stats.ci_high, signed) {
        (Some(l), Some(h), _) => format!("{lead}[{}, {}]", human(metric, Some(l)), human(metric, Some(h))),
        (_, _, true) => format!("{lead}(too few runs)"),
        (_, _, false) => "too few runs".into(),
    }
}

/// Whether a lower value of `metric` is better (`None`: neither, as a count of
/// failovers, which follows the faults).
fn lower_is_better(metric: &str) -> Option<bool> {
    match metric {
        "availability" => Some(false),
        "failovers" => None,
        _ => Some(true),
    }
}

/// What an architect can act on, setup by setup against the first: the metrics whose
/// paired difference has a 95% interval that excludes zero (better or worse), and the
/// failovers that never recovered. One line per finding; the comparison page leads
/// with them and the terminal prints them after the table.
pub fn verdict(c: &Comparison) -> Vec<String> {
    let first = c.setups.first().map_or("", String::as_str);
    let mut lines = Vec::new();
    for (k, setup) in c.setups.iter().enumerate() {
        let unrecovered = c.failovers_unrecovered.get(k).copied().unwrap_or(0);
        if unrecovered > 0 {
            let all = unrecovered + c.failover_latencies_ms.get(k).map_or(0, Vec::len) as u64;
            lines.push(format!(
                "{setup}: {unrecovered} of {all} failovers never recovered (no first frame on the new path before the run ended)"
            ));
        }
        if k == 0 {
            continue;
        }
        let mut differs = Vec::new();
        for m in &c.metrics {
            let Some(d) = m.setups.get(k).and_then(|s| s.diff.as_ref()) else {
                continue;
            };
            let (Some(mean), Some(low), Some(high)) = (d.mean, d.ci_low, d.ci_high) else {
                continue;
            };
            if low <= 0.0 && high >= 0.0 {
                continue;
            }
            let direction = if mean > 0.0 { "higher" } else { "lower" };
            let judgement = match lower_is_better(&m.metric) {
                Some(lower_better) if lower_better == (mean < 0.0) => ", better",
                Some(_) => ", worse",
                None => "",
            };
            differs.push(format!(
                "{setup} against {first}: {} {direction} by {} (95% CI [{}, {}], {} paired runs{judgement})",
                m.metric,
                human(&m.metric, Some(mean.abs())),
                human(&m.metric, Some(low)),
                human(&m.metric, Some(high)),
                d.n
            ));
        }
        if differs.is_empty() {
            let runs = c.runs_done.get(k).copied().unwrap_or(0);
            lines.push(format!(
                "{setup}: no metric differs from {first} with a 95% interval that excludes zero ({runs} runs)"
            ));
        } else {
            lines.extend(differs);
        }
    }
    lines
}

/// The terminal table: per metric, a line per setup, with how many runs each figure
/// covers (`2/3`: two of the setup's three finished runs had a value).
pub fn text_table(c: &Comparison) -> Vec<String> {
    let width = (c.setups.iter().map(|s| s.len() + 2))
        .chain(c.metrics.iter().map(|m| m.metric.len()))
        .max()
        .unwrap_or(5);
    let mut lines = Vec::new();
    for m in &c.metrics {
        lines.push(format!(
            "{:<width$}  {:>5} {:>10} {:>10} {:>10} {:>23}  {:>26}",
            m.metric, "runs", "mean", "p50", "p95", "95% CI", "vs first (paired, 95% CI)"
        ));
        for (k, s) in m.setups.iter().enumerate() {
            let runs = format!("{}/{}", s.stats.n, c.runs_done(k, s));
            let diff = (s.diff.as_ref()).map_or(String::new(), |d| interval_text(&m.metric, d, true, "-"));
            lines.push(format!(
                "  {:<w2$}  {:>5} {:>10} {:>10} {:>10} {:>23}  {:>26}",
                s.setup,
                runs,
                human(&m.metric, s.stats.mean),
                human(&m.metric, s.stats.p50),
                human(&m.metric, s.stats.p95),
                interval_text(&m.metric, &s.stats, false, "-"),
                diff,
                w2 = width - 2
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables_and_join_smoothly() {
        assert_eq!(t_975(1), 12.7062);
        assert_eq!(t_975(30), 2.0423);
        assert!((t_975(31) - 2.0395).abs() < 1e-4);
        assert!((t_975(40) - 2.0211).abs() < 1e-4);
        assert!((t_975(120) - 1.9799).abs() < 1e-4);
        assert!((t_975(100_000) - 1.96).abs() < 1e-3);
    }

    #[test]
    fn differences_get_a_t_interval_with_its_nominal_coverage() {
        // Mean 5, sample sd √2.5 over 5 values: half-width t(4) × sd / √5.
        let d = Stats::of_differences(&[3.0, 4.0, 5.0, 6.0, 7.0]);
        let half = 2.7764 * (2.5f64 / 5.0).sqrt();
        assert!((d.ci_low.unwrap() - (5.0 - half)).abs() < 1e-12);
        assert!((d.ci_high.unwrap() - (5.0 + half)).abs() < 1e-12);
        // Paired differences with no true difference: the interval excludes zero in
        // about 5% of samples, at 3 runs and at 10 (the bootstrap's did in 24% and 10%).
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for n in [3usize, 10] {
            let trials = 4_000;
            let excluded = (0..trials)
                .filter(|_| {
                    let sample: Vec<f64> = (0..n).map(|_| rng.gen::<f64>() - 0.5).collect();
                    let d = Stats::of_differences(&sample);
                    d.ci_low.unwrap() > 0.0 || d.ci_high.unwrap() < 0.0
                })
                .count();
            let rate = excluded as f64 / trials as f64;
            assert!((0.03..0.075).contains(&rate), "{n} runs: zero excluded in {rate}");
        }
    }

    #[test]
    fn the_bootstrap_interval_of_two_point_samples_is_exact() {
        // Four values, two 0 and two 1: a resampled mean is Binomial(4, ½) / 4, and 0
        // and 1 each have probability 1/16 > 2.5%: the interval is [0, 1].
        assert_eq!(bootstrap_interval(&[0.0, 0.0, 1.0, 1.0]), Some((0.0, 1.0)));
        // Ten, five of each: P(mean ≤ 0.1) = 11/1024 < 2.5% < P(mean ≤ 0.2) = 56/1024.
        let ten: Vec<f64> = (0..10).map(|i| f64::from(i % 2)).collect();
        assert_eq!(bootstrap_interval(&ten), Some((0.2, 0.8)));
        assert_eq!(bootstrap_interval(&[7.0; 5]), Some((7.0, 7.0)));
        assert_eq!(bootstrap_interval(&[]), None);
    }

    #[test]
    fn intervals_stay_within_what_the_metric_can_take() {
        // An availability near 1 and a latency with one huge value: a t interval gave
        // [0.675, 1.085] and a negative latency here.
        let availability = [0.9, 1.0, 1.0, 1.0];
        let s = Stats::of(&availability);
        assert!(s.ci_low.unwrap() >= 0.9 && s.ci_high.unwrap() <= 1.0, "{s:?}");
        let latency = [900.0, 1_000.0, 1_100.0, 704_892.0];
        let s = Stats::of(&latency);
        assert!(s.ci_low.unwrap() >= 900.0 && s.ci_high.unwrap() <= 704_892.0, "{s:?}");
        // The mean lies inside.
        assert!(s.ci_low.unwrap() <= s.mean.unwrap() && s.mean.unwrap() <= s.ci_high.unwrap());
    }

    #[test]
    fn the_terminal_table_says_how_many_runs_each_figure_covers() {
        let values = vec![(1, Some(1.0)), (2, None), (3, Some(2.0))];
        let present = [1.0, 2.0];
        let c = Comparison {
            setups: vec!["dns".into()],
            seeds: 3,
            metrics: vec![MetricComparison {
                metric: "failover_latency_ms.p50".into(),
                setups: vec![SetupFigures {
                    setup: "dns".into(),
                    values,
                    stats: Stats::of(&present),
                    diff: None,
                }],
            }],
            failover_latencies_ms: vec![present.to_vec()],
            failovers_unrecovered: vec![1],
            runs_done: vec![3],
            failed_runs: Vec::new(),
        };
        let lines = text_table(&c);
        assert!(lines[0].contains("runs"), "{lines:?}");
        assert!(
            lines[1].contains(" 2/3 ") && lines[1].contains("too few runs"),
            "{lines:?}"
        );
    }

    fn figures(setup: &str, values: &[f64], diff: Option<&[f64]>) -> SetupFigures {
        SetupFigures {
            setup: setup.into(),
            values: values
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as u64 + 1, Some(v)))
                .collect(),
            stats: Stats::of(values),
            diff: diff.map(Stats::of_differences),
        }
    }

    #[test]
    fn the_verdict_names_differences_that_exclude_zero_and_unrecovered_failovers() {
        let metric = |name: &str, first: &[f64], second: &[f64], diff: &[f64]| MetricComparison {
            metric: name.into(),
            setups: vec![figures("aa", first, None), figures("dns", second, Some(diff))],
        };
        let c = Comparison {
            setups: vec!["aa".into(), "dns".into()],
            seeds: 4,
            metrics: vec![
                // Every paired difference positive: the interval excludes zero.
                metric(
                    "failover_latency_ms.p50",
                    &[1_000.0; 4],
                    &[90_000.0, 91_000.0, 89_000.0, 90_000.0],
                    &[89_000.0, 90_000.0, 88_000.0, 89_000.0],
                ),
                // Differences of both signs: it does not.
                metric("stall_count", &[5.0; 4], &[4.0, 6.0, 5.0, 5.0], &[-1.0, 1.0, 0.0, 0.0]),
                metric("availability", &[1.0; 4], &[0.9; 4], &[-0.1; 4]),
            ],
            failover_latencies_ms: vec![vec![1.0; 4], vec![90.0; 3]],
            failovers_unrecovered: vec![0, 1],
            runs_done: vec![4, 4],
            failed_runs: Vec::new(),
        };
        let lines = verdict(&c);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[0],
            "dns: 1 of 4 failovers never recovered (no first frame on the new path before the run ended)"
        );
        assert_eq!(
            lines[1],
            "dns against aa: failover_latency_ms.p50 higher by 89 s (95% CI [87.70 s, 90.30 s], 4 paired runs, worse)"
        );
        assert_eq!(
            lines[2],
            "dns against aa: availability lower by 10 % (95% CI [-10 %, -10 %], 4 paired runs, worse)"
        );
    }

    #[test]
    fn stats_of_a_known_sample() {
        let s = Stats::of(&[3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!((s.n, s.mean, s.p50, s.p95), (5, Some(5.0), Some(5.0), Some(7.0)));
        // The bootstrap's own interval, symmetric about 5 for a symmetric sample up to
        // resampling noise, and narrower than the sample's range.
        let (low, high) = (s.ci_low.unwrap(), s.ci_high.unwrap());
        assert_eq!((low, high), bootstrap_interval(&[3.0, 4.0, 5.0, 6.0, 7.0]).unwrap());
        assert!(
            low > 3.0 && high < 7.0 && ((5.0 - low) - (high - 5.0)).abs() <= 0.4,
            "{low} {high}"
        );
        assert_eq!(Stats::of(&[1.0]).ci_low, None);
        let two = Stats::of(&[1.0, 2.0]);
        assert_eq!((two.mean, two.ci_low, two.ci_high), (Some(1.5), None, None));
        assert_eq!(interval_text("stall_count", &two, false, "-"), "too few runs");
        assert_eq!(interval_text("stall_count", &Stats::of(&[]), false, "-"), "-");
    }
}
