//! `failcast compare`: setups run on the same seeds (so workload and fault draws are
//! paired), each metric summarised per setup (mean, p50, p95, 95% confidence interval
//! of the mean) and the paired difference to the first setup with its interval.

use serde::{Deserialize, Serialize};

use super::batch::{statistic, Plan, RunRecord};

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

/// Fewer values than this give no confidence interval ("too few runs"): from two, the
/// t interval's half-width rests on one degree of freedom (12.7 standard errors).
pub const MIN_RUNS_FOR_INTERVAL: usize = 3;

/// A sample's summary: mean, p50, p95 and the 95% confidence interval of the mean
/// (`None` with fewer than [`MIN_RUNS_FOR_INTERVAL`] values).
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
        let (ci_low, ci_high) = match (mean, n) {
            (Some(mean), n) if n >= MIN_RUNS_FOR_INTERVAL => {
                let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
                let half = t_975(n - 1) * (var / n as f64).sqrt();
                (Some(mean - half), Some(mean + half))
            }
            _ => (None, None),
        };
        Stats {
            n,
            mean,
            p50: statistic("p50", values),
            p95: statistic("p95", values),
            ci_low,
            ci_high,
        }
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
                        Stats::of(&paired)
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

/// A number for tables: 4 significant digits, `-` for none.
pub fn fmt(value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(0.0) => "0".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) => {
            let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
            format!("{v:.digits$}")
        }
    }
}

/// A confidence interval for tables: `[low, high]`, "too few runs" under
/// [`MIN_RUNS_FOR_INTERVAL`] values, `missing` with none.
pub fn interval_text(stats: &Stats, signed: bool, missing: &str) -> String {
    let Some(mean) = stats.mean else {
        return missing.into();
    };
    let lead = match signed {
        true => format!("{}{} ", if mean > 0.0 { "+" } else { "" }, fmt(Some(mean))),
        false => String::new(),
    };
    match (stats.ci_low, stats.ci_high, signed) {
        (Some(l), Some(h), _) => format!("{lead}[{}, {}]", fmt(Some(l)), fmt(Some(h))),
        (_, _, true) => format!("{lead}(too few runs)"),
        (_, _, false) => "too few runs".into(),
    }
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
            let diff = s.diff.as_ref().map_or(String::new(), |d| interval_text(d, true, "-"));
            lines.push(format!(
                "  {:<w2$}  {:>5} {:>10} {:>10} {:>10} {:>23}  {:>26}",
                s.setup,
                runs,
                fmt(s.stats.mean),
                fmt(s.stats.p50),
                fmt(s.stats.p95),
                interval_text(&s.stats, false, "-"),
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
        // The expansion at 30 agrees with the table, and tends to the normal quantile.
        let at_30 = {
            let z = 1.959_963_984_540_054_f64;
            let n = 30.0;
            z + (z.powi(3) + z) / (4.0 * n)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * n * n)
                + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / (384.0 * n * n * n)
        };
        assert!((at_30 - 2.0423).abs() < 1e-4, "{at_30}");
        assert!((t_975(40) - 2.0211).abs() < 1e-4);
        assert!((t_975(120) - 1.9799).abs() < 1e-4);
        assert!((t_975(100_000) - 1.96).abs() < 1e-3);
    }

    /// statrs computes the exact quantile; failcast keeps its own table and expansion
    /// because statrs goes through the platform's `ln`/`exp` (libm differs by a last
    /// bit between platforms), and compare.json must be the same bytes everywhere.
    #[test]
    fn t_quantiles_are_within_a_ten_thousandth_of_the_exact_ones() {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        for df in (1..=200).chain([500, 1_000, 10_000]) {
            let exact = StudentsT::new(0.0, 1.0, df as f64).unwrap().inverse_cdf(0.975);
            assert!(
                (t_975(df) - exact).abs() < 1e-4,
                "df {df}: {} against {exact}",
                t_975(df)
            );
        }
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

    #[test]
    fn stats_of_a_known_sample() {
        // Mean 5, sample sd sqrt(2.5) over 5 values: half-width t(4) × sd / sqrt(5).
        let s = Stats::of(&[3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!((s.n, s.mean, s.p50, s.p95), (5, Some(5.0), Some(5.0), Some(7.0)));
        let half = 2.7764 * (2.5f64 / 5.0).sqrt();
        assert!((s.ci_low.unwrap() - (5.0 - half)).abs() < 1e-12);
        assert!((s.ci_high.unwrap() - (5.0 + half)).abs() < 1e-12);
        assert_eq!(Stats::of(&[1.0]).ci_low, None);
        let two = Stats::of(&[1.0, 2.0]);
        assert_eq!((two.mean, two.ci_low, two.ci_high), (Some(1.5), None, None));
        assert_eq!(interval_text(&two, false, "-"), "too few runs");
        assert_eq!(interval_text(&Stats::of(&[]), false, "-"), "-");
    }
}
