//! `failcast sweep`: every cell of a parameter grid (from `--grid` or the scenario's
//! `[sweep]`) on the same seeds; per cell and metric the statistics across seeds, as a
//! tidy table, and the figure a heatmap shows.

use serde::{Deserialize, Serialize};

use super::batch::{statistic, Plan, RunRecord};
use super::compare::{Stats, COMPARE_METRICS};

/// One cell: its value on each axis, and each metric's statistics across seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Raw values, in axis order (as `--set` took them).
    pub values: Vec<String>,
    pub metrics: Vec<(String, Stats)>,
    /// The heatmap's figure: `statistic` of `metric` across the cell's seeds.
    pub heat: Option<f64>,
    /// How many of the cell's runs had a value of `metric` (the heat is over these).
    #[serde(default)]
    pub heat_runs: usize,
    /// Runs of this cell that failed: (seed, error).
    pub failed_runs: Vec<(u64, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub axes: Vec<String>,
    pub seeds: u64,
    /// What the heatmap shows: `statistic` of `metric` across seeds.
    pub metric: String,
    pub statistic: String,
    pub cells: Vec<Cell>,
}

/// The value of `key` in a cell's overrides (the last `--set` of it wins).
pub fn axis_value(overrides: &[String], key: &str) -> String {
    (overrides.iter().rev())
        .find_map(|o| {
            o.split_once('=')
                .filter(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

pub fn sweep(plan: &Plan, records: &[&RunRecord], metric: &str, stat: &str) -> Sweep {
    let per = plan.seeds as usize;
    let cells = (plan.setups.iter().enumerate())
        .map(|(k, setup)| {
            let runs = &records[k * per..(k + 1) * per];
            let values_of = |metric: &str| -> Vec<f64> {
                runs.iter()
                    .filter_map(|r| r.summary().and_then(|s| s.metric(metric)))
                    .collect()
            };
            // The tabulated metrics, and the heatmap's if it is not among them.
            let extra = (!COMPARE_METRICS.contains(&metric)).then_some(metric);
            let metrics = (COMPARE_METRICS.iter().copied().chain(extra))
                .map(|m| (m.to_string(), Stats::of(&values_of(m))))
                .collect();
            let failed_runs = (runs.iter())
                .filter_map(|r| match &r.outcome {
                    super::batch::Outcome::Failed { error } => Some((r.seed, error.clone())),
                    super::batch::Outcome::Done { .. } => None,
                })
                .collect();
            Cell {
                values: plan
                    .settings
                    .axes
                    .iter()
                    .map(|a| axis_value(&setup.overrides, a))
                    .collect(),
                metrics,
                heat: statistic(stat, &values_of(metric)),
                heat_runs: values_of(metric).len(),
                failed_runs,
            }
        })
        .collect();
    Sweep {
        axes: plan.settings.axes.clone(),
        seeds: plan.seeds,
        metric: metric.to_string(),
        statistic: stat.to_string(),
        cells,
    }
}

impl Sweep {
    /// The tidy table: a row per cell and metric (axes first).
    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = self.axes.clone();
        header.extend(["metric", "n", "mean", "p50", "p95", "ci95_low", "ci95_high"].map(String::from));
        w.write_record(&header).expect("in memory");
        let num = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for cell in &self.cells {
            for (metric, s) in &cell.metrics {
                let mut row = cell.values.clone();
                row.extend([
                    metric.clone(),
                    s.n.to_string(),
                    num(s.mean),
                    num(s.p50),
                    num(s.p95),
                    num(s.ci_low),
                    num(s.ci_high),
                ]);
                w.write_record(&row).expect("in memory");
            }
        }
        String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8")
    }

    /// Distinct values of axis `a`, in the order cells list them.
    pub fn axis_values(&self, a: usize) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for cell in &self.cells {
            if !seen.contains(&cell.values[a]) {
                seen.push(cell.values[a].clone());
            }
        }
        seen
    }

    /// The terminal table: a line per cell with the heatmap's figure.
    pub fn text_table(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{}  {} {} over {} seed(s) (runs with a value)",
            self.axes.join("  "),
            self.statistic,
            self.metric,
            self.seeds
        )];
        let widths: Vec<usize> = (0..self.axes.len())
            .map(|a| {
                self.cells
                    .iter()
                    .map(|c| c.values[a].len())
                    .chain([self.axes[a].len()])
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        for cell in &self.cells {
            let values: Vec<String> = (cell.values.iter().zip(&widths))
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            let with_value = (cell.metrics.iter())
                .find(|(m, _)| *m == self.metric)
                .map_or(0, |(_, stats)| stats.n);
            lines.push(format!(
                "{}  {} ({with_value})",
                values.join("  "),
                crate::metrics::units::human(&self.metric, cell.heat)
            ));
        }
        lines
    }
}
