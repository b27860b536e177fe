//! Plots of a comparison: failover latency CDFs overlaid per setup, and box plots of
//! per-run figures (failover latency, dropped frames, rebuffering) per setup.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::plots::{palette, register_font, tick, DrawResult, SIZE};
use crate::experiment::compare::Comparison;

pub use crate::files::COMPARISON_PLOTS;

/// Log-axis CDF of every failover episode's latency, one line per setup. A failover
/// that never recovered has no latency but counts in the whole: the curve ends at
/// the share that recovered (right-censored), and the legend says how many did not.
fn latency_cdf<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let all: Vec<f64> = c
        .failover_latencies_ms
        .iter()
        .flatten()
        .map(|ms| (ms / 1000.0).max(0.01))
        .collect();
    let low = all.iter().copied().fold(f64::INFINITY, f64::min);
    let high = all.iter().copied().fold(0.0, f64::max);
    let (low, high) = if all.is_empty() {
        (0.1, 10.0)
    } else {
        (low * 0.8, (high * 1.25).max(low * 10.0))
    };
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Failover latency (CDF over every failover; unrecovered ones keep it below 1)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((low..high).log_scale(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x: &f64| super::plots::log_tick(*x))
        .y_label_formatter(&|y: &f64| tick(*y))
        .x_desc("failover latency (s, log scale)")
        .y_desc("share of failovers ≤ x")
        .label_style(("sans-serif", 13))
        .draw()?;
    for (k, latencies) in c.failover_latencies_ms.iter().enumerate() {
        let mut sorted: Vec<f64> = latencies.iter().map(|ms| (ms / 1000.0).max(0.01)).collect();
        sorted.sort_by(f64::total_cmp);
        let unrecovered = c.failovers_unrecovered.get(k).copied().unwrap_or(0);
        if sorted.is_empty() && unrecovered == 0 {
            continue;
        }
        let steps = censored_cdf(&sorted, unrecovered, low, high);
        let color = palette(k);
        let runs = c.runs_done.get(k).copied().unwrap_or(0);
        let label = match unrecovered {
            0 => format!("{}: {} failovers, {runs} runs", c.setups[k], sorted.len()),
            _ => format!(
                "{}: {} of {} failovers recovered, {runs} runs",
                c.setups[k],
                sorted.len(),
                sorted.len() as u64 + unrecovered
            ),
        };
        chart
            .draw_series(LineSeries::new(steps, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// The steps of the empirical CDF of `sorted` latencies from `low` to `high`, out of
/// them and `unrecovered` failovers that have none: it ends at the share recovered.
fn censored_cdf(sorted: &[f64], unrecovered: u64, low: f64, high: f64) -> Vec<(f64, f64)> {
    let all = sorted.len() as f64 + unrecovered as f64;
    let mut steps = vec![(low, 0.0)];
    for (i, &s) in sorted.iter().enumerate() {
        steps.push((s, i as f64 / all));
        steps.push((s, (i + 1) as f64 / all));
    }
    steps.push((high, sorted.len() as f64 / all));
    steps
}

/// Values spanning at least this ratio (largest over smallest, all positive) are drawn
/// on a log axis: on a linear one the small setups' boxes flatten into the axis.
const LOG_AXIS_FROM_RATIO: f64 = 100.0;

/// Whether `values` span decades: all positive and the largest at least
/// [`LOG_AXIS_FROM_RATIO`] times the smallest.
pub fn spans_decades(values: &[f64]) -> bool {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    low > 0.0 && high / low >= LOG_AXIS_FROM_RATIO
}

/// A box per setup: the box spans the quartiles, a line marks the median, whiskers
/// reach the smallest and largest values (every run is inside them). Values spanning
/// decades get a log axis ([`spans_decades`]).
fn boxes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Comparison,
    title: &str,
    unit: &str,
    samples: &[Vec<f64>],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let all: Vec<f64> = samples.iter().flatten().copied().collect();
    let high = all.iter().copied().fold(0.0, f64::max);
    let n = c.setups.len();
    let labels = c.setups.clone();
    let x_label = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-9 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let builder = || {
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70);
        builder
    };
    if spans_decades(&all) {
        let low = all.iter().copied().fold(f64::INFINITY, f64::min);
        let mut chart = builder().build_cartesian_2d(-0.5..n as f64 - 0.5, (low / 1.25..high * 1.25).log_scale())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&x_label)
            .y_label_formatter(&|y: &f64| super::plots::log_tick(*y))
            .y_desc(format!("{unit} (log scale)"))
            .label_style(("sans-serif", 13))
            .draw()?;
        draw_boxes(&mut chart, samples)
    } else {
        let low = all.iter().copied().fold(f64::INFINITY, f64::min).min(0.0);
        let span = if high > low { high - low } else { 1.0 };
        let mut chart = builder().build_cartesian_2d(-0.5..n as f64 - 0.5, low - span * 0.02..high + span * 0.08)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&x_label)
            .y_label_formatter(&|y: &f64| tick(*y))
            .y_desc(unit)
            .label_style(("sans-serif", 13))
            .draw()?;
        draw_boxes(&mut chart, samples)
    }
}

/// The boxes themselves, on either axis.
fn draw_boxes<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    samples: &[Vec<f64>],
) -> DrawResult<DB> {
    for (k, sample) in samples.iter().enumerate() {
        let mut sorted = sample.clone();
        sorted.sort_by(f64::total_cmp);
        let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) else {
            continue;
        };
        // Quartiles by linear interpolation between order statistics.
        let q = |p: f64| {
            let at = p * (sorted.len() - 1) as f64;
            let (i, frac) = (at.floor() as usize, at.fract());
            sorted[i] + (sorted[(i + 1).min(sorted.len() - 1)] - sorted[i]) * frac
        };
        let (q1, median, q3) = (q(0.25), q(0.5), q(0.75));
        let x = k as f64;
        let color = palette(k);
        let style = color.stroke_width(2);
        chart.draw_series([
            PathElement::new(vec![(x, min), (x, q1)], style),
            PathElement::new(vec![(x, q3), (x, max)], style),
            PathElement::new(vec![(x - 0.08, min), (x + 0.08, min)], style),
            PathElement::new(vec![(x - 0.08, max), (x + 0.08, max)], style),
            PathElement::new(vec![(x - 0.2, median), (x + 0.2, median)], color.stroke_width(4)),
        ])?;
        chart.draw_series(std::iter::once(Rectangle::new([(x - 0.2, q1), (x + 0.2, q3)], style)))?;
    }
    Ok(())
}

fn per_run(c: &Comparison, metric: &str, scale: f64) -> Vec<Vec<f64>> {
    let Some(m) = c.metrics.iter().find(|m| m.metric == metric) else {
        return vec![Vec::new(); c.setups.len()];
    };
    (m.setups.iter())
        .map(|s| s.values.iter().filter_map(|(_, v)| v.map(|v| v * scale)).collect())
        .collect()
}

fn draw<DB: DrawingBackend>(name: &str, root: &DrawingArea<DB, Shift>, c: &Comparison) -> DrawResult<DB> {
    match name {
        "failover_latency_cdf" => latency_cdf(root, c),
        "failover_latency_box" => {
            let samples: Vec<Vec<f64>> = (c.failover_latencies_ms.iter())
                .map(|l| l.iter().map(|ms| ms / 1000.0).collect())
                .collect();
            boxes(
                root,
                c,
                "Failover latency per setup (every failover)",
                "seconds",
                &samples,
            )
        }
        "frames_dropped_box" => boxes(
            root,
            c,
            "Frames dropped per run (ingest, distribution, player)",
            "frames",
            &per_run(c, "frames_dropped.total", 1.0),
        ),
        _ => boxes(
            root,
            c,
            "Rebuffering per run (stalled time ÷ watch time)",
            "percent",
            &per_run(c, "rebuffer_ratio", 100.0),
        ),
    }
}

/// Plot `name` as an SVG document.
pub fn svg(name: &str, c: &Comparison) -> Result<String, String> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(name, &root, c).map_err(|e| format!("plot {name}: {e}"))?;
        root.present().map_err(|e| format!("plot {name}: {e}"))?;
    }
    Ok(text)
}

/// Writes every comparison plot to `dir` as `NAME.svg` and `NAME.png`, each file
/// replaced atomically (other files in `dir` are left alone).
pub fn write_all(dir: &Path, c: &Comparison) -> Result<(), String> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for name in COMPARISON_PLOTS {
        let svg_path = dir.join(format!("{name}.svg"));
        crate::folders::write_atomic(&svg_path, svg(name, c)?.as_bytes())
            .map_err(|e| format!("{}: {e}", svg_path.display()))?;
        super::write_png_atomic(&dir.join(format!("{name}.png")), |root| {
            draw(name, root, c).map_err(|e| format!("plot {name}: {e}"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cdf_with_unrecovered_failovers_ends_at_the_share_recovered() {
        let steps = censored_cdf(&[1.0, 2.0], 1, 0.5, 10.0);
        assert_eq!(
            steps,
            [
                (0.5, 0.0),
                (1.0, 0.0),
                (1.0, 1.0 / 3.0),
                (2.0, 1.0 / 3.0),
                (2.0, 2.0 / 3.0),
                (10.0, 2.0 / 3.0)
            ]
        );
        assert_eq!(censored_cdf(&[1.0], 0, 0.5, 10.0).last(), Some(&(10.0, 1.0)));
        // Nothing recovered: flat at zero, not left out.
        assert_eq!(censored_cdf(&[], 2, 0.5, 10.0), [(0.5, 0.0), (10.0, 0.0)]);
    }

    #[test]
    fn box_plots_of_values_spanning_decades_get_a_log_axis() {
        assert!(spans_decades(&[1.05, 6.06, 178.0]));
        assert!(!spans_decades(&[1.05, 6.06, 88.0]), "under a factor of 100");
        assert!(!spans_decades(&[0.0, 6.06, 178.0]), "zero has no logarithm");
        assert!(!spans_decades(&[]));
        let comparison = |latencies: Vec<Vec<f64>>| Comparison {
            setups: vec!["aa".into(), "dns".into()],
            seeds: 2,
            metrics: Vec::new(),
            failovers_unrecovered: vec![0; latencies.len()],
            runs_done: vec![2, 2],
            failover_latencies_ms: latencies,
            failed_runs: Vec::new(),
        };
        let wide = svg(
            "failover_latency_box",
            &comparison(vec![vec![1_050.0, 1_060.0], vec![88_000.0, 178_000.0]]),
        );
        assert!(wide.unwrap().contains("seconds (log scale)"));
        let narrow = svg(
            "failover_latency_box",
            &comparison(vec![vec![5_000.0, 6_000.0], vec![8_000.0, 9_000.0]]),
        );
        let narrow = narrow.unwrap();
        assert!(narrow.contains("seconds") && !narrow.contains("log scale"));
    }
}
