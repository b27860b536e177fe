//! The sweep plot: a heatmap of one figure over two axes (each cell annotated with
//! its value), or bars over one axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::plots::{palette, register_font, tick, DrawResult, SIZE};
use crate::experiment::sweep::Sweep;
use crate::metrics::units::human;

/// The plot's file name (without extension).
pub use crate::files::SWEEP_PLOT;

/// Viridis, sampled at five points and interpolated: readable in grey and by most
/// colour-blind readers; low values dark.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let at = t * (STOPS.len() - 1) as f64;
    let i = (at.floor() as usize).min(STOPS.len() - 2);
    let f = at - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A cell's figure, with its count when fewer runs than the title's seeds had a value.
fn cell_text(s: &Sweep, cell: &crate::experiment::sweep::Cell, value: f64) -> String {
    if (cell.heat_runs as u64) < s.seeds {
        format!("{} ({} of {})", human(&s.metric, Some(value)), cell.heat_runs, s.seeds)
    } else {
        human(&s.metric, Some(value))
    }
}

fn title(s: &Sweep) -> String {
    format!("{} of {} over {} seed(s) per cell", s.statistic, s.metric, s.seeds)
}

fn heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Sweep) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (xs, ys) = (s.axis_values(1), s.axis_values(0));
    let heats: Vec<f64> = s.cells.iter().filter_map(|c| c.heat).collect();
    let low = heats.iter().copied().fold(f64::INFINITY, f64::min);
    let high = heats.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let norm = |v: f64| if high > low { (v - low) / (high - low) } else { 0.5 };
    let (xl, yl) = (xs.clone(), ys.clone());
    let mut chart = ChartBuilder::on(root)
        .caption(title(s), ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5..xs.len() as f64 - 0.5, -0.5..ys.len() as f64 - 0.5)?;
    let label = |values: &[String], v: f64| {
        let i = v.round();
        if (v - i).abs() < 1e-9 && i >= 0.0 {
            values.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(xs.len())
        .y_labels(ys.len())
        .x_label_formatter(&|v: &f64| label(&xl, *v))
        .y_label_formatter(&|v: &f64| label(&yl, *v))
        .x_desc(s.axes[1].as_str())
        .y_desc(s.axes[0].as_str())
        .label_style(("sans-serif", 13))
        .draw()?;
    for cell in &s.cells {
        let (Some(x), Some(y)) = (
            xs.iter().position(|v| *v == cell.values[1]),
            ys.iter().position(|v| *v == cell.values[0]),
        ) else {
            continue;
        };
        let (x, y) = (x as f64, y as f64);
        let (fill, text) = match cell.heat {
            Some(v) => (viridis(norm(v)), cell_text(s, cell, v)),
            None => (RGBColor(220, 220, 220), "no value".to_string()),
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
            fill.filled(),
        )))?;
        let dark = cell.heat.is_some_and(|v| norm(v) < 0.6);
        let ink = if dark { WHITE } else { BLACK };
        let style =
            TextStyle::from(("sans-serif", 16).into_font())
                .color(&ink)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
        chart.draw_series(std::iter::once(Text::new(text, (x, y), style)))?;
    }
    Ok(())
}

fn bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Sweep) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let xs = s.axis_values(0);
    let high = s.cells.iter().filter_map(|c| c.heat).fold(0.0, f64::max);
    let low = s.cells.iter().filter_map(|c| c.heat).fold(0.0, f64::min);
    let span = if high > low { high - low } else { 1.0 };
    let xl = xs.clone();
    let mut chart = ChartBuilder::on(root)
        .caption(title(s), ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..xs.len() as f64 - 0.5, low..high + span * 0.1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(xs.len())
        .x_label_formatter(&|v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 {
                xl.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y: &f64| tick(*y))
        .x_desc(s.axes[0].as_str())
        .y_desc(s.metric.as_str())
        .label_style(("sans-serif", 13))
        .draw()?;
    for (i, cell) in s.cells.iter().enumerate() {
        if let Some(v) = cell.heat {
            let x = i as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.3, 0.0), (x + 0.3, v)],
                palette(0).filled(),
            )))?;
            // Each bar says its figure, and its count when short of the title's seeds.
            let style = TextStyle::from(("sans-serif", 14).into_font()).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ));
            chart.draw_series(std::iter::once(Text::new(cell_text(s, cell, v), (x, v), style)))?;
        }
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Sweep) -> DrawResult<DB> {
    if s.axes.len() == 1 {
        bars(root, s)
    } else {
        heatmap(root, s)
    }
}

/// Writes `sweep.svg` and `sweep.png` to `dir`, for one or two axes (`Ok(false)` for
/// more: a flat picture of three axes misleads more than it shows).
pub fn write(dir: &Path, s: &Sweep) -> Result<bool, String> {
    if !(1..=2).contains(&s.axes.len()) {
        return Ok(false);
    }
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(&root, s).map_err(|e| format!("plot {SWEEP_PLOT}: {e}"))?;
        root.present().map_err(|e| format!("plot {SWEEP_PLOT}: {e}"))?;
    }
    let svg_path = dir.join(format!("{SWEEP_PLOT}.svg"));
    crate::folders::write_atomic(&svg_path, text.as_bytes()).map_err(|e| format!("{}: {e}", svg_path.display()))?;
    super::write_png_atomic(&dir.join(format!("{SWEEP_PLOT}.png")), |root| {
        draw(root, s).map_err(|e| format!("plot {SWEEP_PLOT}: {e}"))
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::sweep::Cell;

    #[test]
    fn a_cell_short_of_the_seeds_says_how_many_runs_it_covers() {
        let cell = |heat_runs| Cell {
            values: vec!["10s".into()],
            metrics: Vec::new(),
            heat: Some(88_067.0),
            heat_runs,
            failed_runs: Vec::new(),
        };
        let sweep = Sweep {
            axes: vec!["dns.ttl".into()],
            seeds: 3,
            metric: "failover_latency_ms.max".into(),
            statistic: "mean".into(),
            cells: vec![cell(2), cell(3)],
        };
        assert_eq!(cell_text(&sweep, &sweep.cells[0], 88_067.0), "88.07 s (2 of 3)");
        assert_eq!(cell_text(&sweep, &sweep.cells[1], 88_067.0), "88.07 s");
    }
}
