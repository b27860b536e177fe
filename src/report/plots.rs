//! Plots of a run, as SVG and PNG in `plots/`: the viewer timeline with fault windows
//! shaded, the failover latency decomposition per episode, the CDF of stall durations,
//! dropped frames by stage, and the load on each edge over time. Drawn with plotters;
//! text uses the bundled DejaVu Sans (`assets/fonts`), so no system font or library is
//! needed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::metrics::{FailoverRow, NodeRow, TimelineRow};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(super) const SIZE: (u32, u32) = (1000, 520);

/// The plots' names, without extension (each is written as `.svg` and `.png`).
pub const PLOTS: &[&str] = &[
    "timeline",
    "failover_latency",
    "stall_cdf",
    "dropped_frames",
    "node_load",
];

/// A fault's window on the time axis: `start_s` to `end_s` (`None`: to the end).
pub use crate::metrics::FaultRow as FaultWindow;

/// What the plots are drawn from.
pub struct PlotInput<'a> {
    pub timeline: &'a [TimelineRow],
    pub failovers: &'a [FailoverRow],
    pub faults: &'a [FaultWindow],
    /// Frames dropped at ingest, in distribution, at the player.
    pub dropped: [u64; 3],
    /// The same in viewer-frames.
    pub viewer_dropped: [u64; 3],
    pub nodes: &'a [NodeRow],
    /// Durations of the stalls viewers recovered from, in seconds.
    pub stalls_s: Vec<f64>,
}

pub(super) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font("sans-serif", style, FONT)
                .unwrap_or_else(|_| panic!("the bundled font is a valid TrueType font"));
        }
    });
}

/// A tick label: whole numbers without decimals, small fractions with one.
/// A log-axis label: one significant digit below 1 (0.001, 0.02, 0.5).
pub(super) fn log_tick(value: f64) -> String {
    if value >= 1.0 {
        return tick(value);
    }
    let decimals = (-value.log10()).ceil().max(1.0) as usize;
    format!("{value:.decimals$}")
}

pub(super) fn tick(value: f64) -> String {
    if value.fract() == 0.0 || value.abs() >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

pub(super) type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Colours told apart by most readers (Tableau 10), for one series per setup.
pub(super) fn palette(k: usize) -> RGBColor {
    const COLORS: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    COLORS[k % COLORS.len()]
}

const FAULT_SHADE: RGBColor = RGBColor(250, 210, 200);
const PLAYING: RGBColor = RGBColor(46, 125, 50);
const STALLED: RGBColor = RGBColor(198, 40, 40);
const STARTING: RGBColor = RGBColor(120, 120, 120);
const DELIVERED: RGBColor = RGBColor(21, 101, 192);
const DETECT: RGBColor = RGBColor(239, 108, 0);
const SWITCH: RGBColor = RGBColor(25, 118, 210);
const RECOVER: RGBColor = RGBColor(123, 31, 162);

fn end_s(input: &PlotInput) -> f64 {
    input.timeline.len().max(1) as f64
}

fn shade_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    faults: &[FaultWindow],
    end: f64,
    top: f64,
) -> DrawResult<DB> {
    for (i, fault) in faults.iter().enumerate() {
        let until = fault.end_s.unwrap_or(end).min(end);
        let series = chart.draw_series(std::iter::once(Rectangle::new(
            [(fault.start_s, 0.0), (until.max(fault.start_s + end / 500.0), top)],
            FAULT_SHADE.mix(0.6).filled(),
        )))?;
        if i == 0 {
            series
                .label("fault window")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], FAULT_SHADE.filled()));
        }
    }
    Ok(())
}

/// The legend of `chart`, in one style for every plot.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    position: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()
}

/// Width of the legend column beside a panel with many series.
const SIDE_LEGEND_WIDTH: u32 = 140;

/// One entry of a side legend: a filled box (a shaded window) or a line sample.
enum Swatch {
    Box(RGBAColor),
    Line(RGBAColor),
}

/// A legend drawn in its own column beside a chart, so that however many series a
/// panel has, the legend covers none of them and never spills past the plot.
fn side_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[(String, Swatch)]) -> DrawResult<DB> {
    let (top, row) = (40, 15);
    for (i, (label, swatch)) in entries.iter().enumerate() {
        let y = top + row * i as i32;
        match swatch {
            Swatch::Box(colour) => area.draw(&Rectangle::new([(4, y - 5), (22, y + 5)], colour.filled()))?,
            Swatch::Line(colour) => area.draw(&PathElement::new([(4, y), (22, y)], colour.stroke_width(2)))?,
        }
        area.draw(&Text::new(label.as_str(), (28, y - 6), ("sans-serif", 12).into_font()))?;
    }
    Ok(())
}

fn timeline<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(300);
    let end = end_s(input);
    let viewers_top = input
        .timeline
        .iter()
        .map(|r| (r.viewers_playing + r.viewers_stalled + r.viewers_starting) as f64)
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&upper)
        .caption("Viewers over time", ("sans-serif", 22))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..viewers_top)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x: &f64| tick(*x))
        .y_label_formatter(&|y: &f64| tick(*y))
        .x_desc("time (s)")
        .y_desc("viewers")
        .label_style(("sans-serif", 13))
        .draw()?;
    shade_faults(&mut chart, input.faults, end, viewers_top)?;
    let line = |get: fn(&TimelineRow) -> i64| {
        input
            .timeline
            .iter()
            .map(move |r| (r.time_s as f64, get(r) as f64))
            .collect::<Vec<_>>()
    };
    chart
        .draw_series(LineSeries::new(line(|r| r.viewers_playing), PLAYING.stroke_width(2)))?
        .label("playing")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], PLAYING.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(line(|r| r.viewers_stalled), STALLED.stroke_width(2)))?
        .label("stalled")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], STALLED.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(line(|r| r.viewers_starting), STARTING.stroke_width(1)))?
        .label("starting")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], STARTING.stroke_width(1)));
    legend(&mut chart, SeriesLabelPosition::MiddleRight)?;

    let frames_top = input
        .timeline
        .iter()
        .map(|r| r.frames_delivered.max(r.frames_played) as f64)
        .fold(1.0, f64::max)
        // Headroom above the curves for the legend.
        * 1.9;
    let mut chart = ChartBuilder::on(&lower)
        .caption("Frames per second", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..frames_top)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x: &f64| tick(*x))
        .y_label_formatter(&|y: &f64| tick(*y))
        .x_desc("time (s)")
        .y_desc("frames/s")
        .label_style(("sans-serif", 13))
        .draw()?;
    shade_faults(&mut chart, input.faults, end, frames_top)?;
    chart
        .draw_series(LineSeries::new(
            input
                .timeline
                .iter()
                .map(|r| (r.time_s as f64, r.frames_produced as f64)),
            BLACK.mix(0.4).stroke_width(1),
        ))?
        .label("produced")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.4).stroke_width(1)));
    // Segments reach the edges whole, every segment duration: a trailing 10 s mean
    // shows the rate rather than the bursts.
    let delivered: Vec<(f64, f64)> = (0..input.timeline.len())
        .map(|i| {
            let window = &input.timeline[i.saturating_sub(9)..=i];
            let mean = window.iter().map(|r| r.frames_delivered as f64).sum::<f64>() / window.len() as f64;
            (input.timeline[i].time_s as f64, mean)
        })
        .collect();
    chart
        .draw_series(LineSeries::new(delivered, DELIVERED.stroke_width(2)))?
        .label("delivered to edges (10 s mean)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], DELIVERED.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            input.timeline.iter().map(|r| (r.time_s as f64, r.frames_played as f64)),
            PLAYING.stroke_width(2),
        ))?
        .label("played (first shown)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], PLAYING.stroke_width(2)));
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// One bar of the latency plot: its label (in full, and short for a crowded plot),
/// its phases in seconds (an episode's detect, switch, first frame; a fault's first
/// failed request, viewers moved, playing again), whether its new path never
/// delivered, and whether it is a fault's bar.
struct LatencyBar {
    label: String,
    short: String,
    parts: [f64; 3],
    never: bool,
    fault: bool,
}

/// Beyond this many bars the axis names them short (`#3`, or the fault's id): the
/// report's tables give the rest.
const FULL_BAR_LABELS_UP_TO: usize = 3;

/// Width of a character of the axis labels (13 px sans-serif), for fitting them.
const LABEL_CHAR_PX: f64 = 7.5;

/// The bars: every failover episode, then every fault that viewers answered by moving
/// (a dead edge) and no episode did: their players' first failed request (the
/// detection they acted on), their move, and playing again (medians over the viewers
/// that moved; playing again over all affected).
fn latency_bars(input: &PlotInput) -> Vec<LatencyBar> {
    let streams: std::collections::BTreeSet<&str> = input.failovers.iter().map(|e| e.stream.as_str()).collect();
    let mut bars: Vec<LatencyBar> = (input.failovers.iter())
        .map(|e| {
            let detect = (e.detected_ms - e.onset_ms) / 1000.0;
            let switch = (e.switched_ms - e.detected_ms) / 1000.0;
            let recover = e.first_frame_ms.map_or(0.0, |f| (f - e.switched_ms) / 1000.0);
            let kind = if e.kind == "failback" { " (failback)" } else { "" };
            let stream = if streams.len() > 1 {
                format!(" {}", e.stream)
            } else {
                String::new()
            };
            LatencyBar {
                label: format!("#{}{stream} {} → {}{kind}", e.episode, e.from, e.to),
                short: format!("#{}", e.episode),
                parts: [detect.max(0.0), switch.max(0.0), recover.max(0.0)],
                never: e.first_frame_ms.is_none(),
                fault: false,
            }
        })
        .collect();
    for f in input.faults {
        let answered = input.failovers.iter().any(|e| e.fault == f.id);
        let (Some(moved_ms), false) = (f.switch_ms_p50, answered) else {
            continue;
        };
        let moved = moved_ms / 1000.0;
        let detect = f.players_detect_ms_p50.map_or(moved, |d| (d / 1000.0).min(moved));
        let back = f.recovery_ms_p50.map_or(moved, |r| (r / 1000.0).max(moved));
        bars.push(LatencyBar {
            label: format!("{}: {} viewers leave {}", f.id, f.viewers_switched, f.target),
            short: f.id.clone(),
            parts: [detect, moved - detect, back - moved],
            never: f.recovery_ms_p50.is_none(),
            fault: true,
        });
    }
    bars
}

fn failover_latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let bars = latency_bars(input);
    // Headroom above the tallest bar for the legend.
    let top = bars.iter().map(|b| b.parts.iter().sum::<f64>()).fold(1.0, f64::max) * 1.5;
    let n = bars.len().max(1);
    let crowded = bars.len() > FULL_BAR_LABELS_UP_TO;
    // Name every k-th bar, k as small as keeps the widest short label off its neighbours.
    let px_per_bar = f64::from(SIZE.0 - 90) / n as f64;
    let widest = bars.iter().map(|b| b.short.chars().count()).max().unwrap_or(0) as f64;
    let every = ((widest * LABEL_CHAR_PX + 8.0) / px_per_bar).ceil().max(1.0) as usize;
    let x_desc = if crowded {
        "failover episode (#, as in failovers.csv) or fault id (its bar: medians of first failed request, viewers moved, playing again)"
    } else {
        "episode (a fault's bar: medians of first failed request, viewers moved, playing again)"
    };
    let mut chart = ChartBuilder::on(root)
        .caption("Failover latency by phase (onset → first frame)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..top)?;
    chart
        .configure_mesh()
        .y_label_formatter(&|y: &f64| tick(*y))
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x: &f64| {
            let i = x.round().max(0.0) as usize;
            match bars.get(i) {
                Some(b) if !crowded => b.label.clone(),
                Some(b) if i.is_multiple_of(every) => b.short.clone(),
                _ => String::new(),
            }
        })
        .x_desc(x_desc)
        .y_desc("seconds")
        .label_style(("sans-serif", 13))
        .draw()?;
    if bars.is_empty() {
        root.draw(&Text::new(
            "no failover in this run",
            (SIZE.0 as i32 / 2 - 90, SIZE.1 as i32 / 2),
            ("sans-serif", 18).into_font(),
        ))?;
        return Ok(());
    }
    // A fault's bar has phases of its own, in paler colours and with its own legend.
    let colours = [DETECT, SWITCH, RECOVER];
    let kinds = [
        (false, ["detect", "switch", "first frame"], 1.0),
        (
            true,
            [
                "fault: first failed request",
                "fault: viewers moved",
                "fault: playing again",
            ],
            0.45,
        ),
    ];
    for (fault, names, strength) in kinds {
        if !bars.iter().any(|b| b.fault == fault) {
            continue;
        }
        for phase in 0..3 {
            let colour = colours[phase].mix(strength);
            let rects = (bars.iter().enumerate())
                .filter(|(_, b)| b.fault == fault)
                .map(|(i, b)| {
                    let below: f64 = b.parts[..phase].iter().sum();
                    let x = i as f64;
                    Rectangle::new([(x - 0.3, below), (x + 0.3, below + b.parts[phase])], colour.filled())
                });
            chart
                .draw_series(rects)?
                .label(names[phase])
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], colour.filled()));
        }
    }
    // A bar whose new path never delivered has no first-frame phase: say so.
    let never = bars.iter().enumerate().filter(|(_, b)| b.never);
    chart.draw_series(never.map(|(i, b)| {
        let height: f64 = b.parts.iter().sum();
        Text::new(
            "never delivered",
            (i as f64 - 0.2, height + top * 0.04),
            ("sans-serif", 14).into_font(),
        )
    }))?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// The most steps a CDF is drawn with.
const CDF_STEPS: f64 = 2000.0;

/// Shortest stall the log axis shows; shorter ones are drawn at it.
const STALL_FLOOR_S: f64 = 0.001;

fn stall_cdf<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let mut stalls: Vec<f64> = input.stalls_s.iter().map(|&s| s.max(STALL_FLOOR_S)).collect();
    stalls.sort_by(f64::total_cmp);
    // Stalls span milliseconds (live-edge hiccups) to minutes (outages): a log axis
    // shows both.
    let bottom = stalls.first().copied().unwrap_or(STALL_FLOOR_S) * 0.8;
    let top = stalls.last().copied().unwrap_or(1.0).max(bottom * 10.0) * 1.25;
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("Stall durations (CDF over {} stalls)", stalls.len()),
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((bottom..top).log_scale(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x: &f64| log_tick(*x))
        .y_label_formatter(&|y: &f64| tick(*y))
        .x_desc("stall duration (s, log scale)")
        .y_desc("share of stalls ≤ x")
        .label_style(("sans-serif", 13))
        .draw()?;
    // One step per distinct duration, and no step smaller than 1/CDF_STEPS: a million
    // stalls stay a curve of a few thousand points (off by less than a pixel) rather
    // than a 100 MB drawing.
    let n = stalls.len() as f64;
    let mut steps = vec![(bottom, 0.0)];
    let mut drawn = 0.0;
    for (i, &s) in stalls.iter().enumerate() {
        let share = (i + 1) as f64 / n;
        let last_of_its_value = stalls.get(i + 1) != Some(&s);
        if last_of_its_value && (share - drawn >= 1.0 / CDF_STEPS || i + 1 == stalls.len()) {
            steps.push((s, drawn));
            steps.push((s, share));
            drawn = share;
        }
    }
    chart.draw_series(LineSeries::new(steps, STALLED.stroke_width(2)))?;
    Ok(())
}

/// One panel of the dropped-frames plot: a bar per stage.
fn stage_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    unit: &str,
    counts: [u64; 3],
) -> DrawResult<DB> {
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.15;
    let stages = ["ingest", "distribution", "player"];
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..2.5, 0.0..top)?;
    chart
        .configure_mesh()
        .y_label_formatter(&|y: &f64| tick(*y))
        .disable_x_mesh()
        .x_labels(3)
        .x_label_formatter(&|x: &f64| {
            stages
                .get(x.round().max(0.0) as usize)
                .map_or(String::new(), |s| s.to_string())
        })
        .x_desc("stage")
        .y_desc(unit)
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(counts.iter().enumerate().map(|(i, &count)| {
        Rectangle::new(
            [(i as f64 - 0.25, 0.0), (i as f64 + 0.25, count as f64)],
            STALLED.filled(),
        )
    }))?;
    chart.draw_series(counts.iter().enumerate().map(|(i, &count)| {
        Text::new(
            count.to_string(),
            (i as f64 - 0.05, count as f64 + top * 0.05),
            ("sans-serif", 14),
        )
    }))?;
    Ok(())
}

/// Frames lost by stage: the stream's frames, and viewer-frames (each loss once per
/// viewer who should have seen it: a dead edge loses no stream frame but many of these).
fn dropped_frames<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    stage_bars(&left, "Stream frames lost, by stage", "frames", input.dropped)?;
    stage_bars(
        &right,
        "Viewer-frames lost, by stage",
        "viewer-frames",
        input.viewer_dropped,
    )
}

/// Lines per node drawn in one load panel: beyond this many, the busiest by peak.
const MAX_NODE_LINES: usize = 12;

/// One node's line in a load panel: its rows (in the file's order) and their peak.
struct NodeLine<'a> {
    name: &'a str,
    rows: Vec<&'a NodeRow>,
    peak: f64,
}

/// The lines of one load panel: the nodes of `rows` in the file's order (spawn order),
/// or, beyond [`MAX_NODE_LINES`], the busiest by peak `value` (ties by name) kept in
/// that order; and whether every node is shown. One pass groups the rows by node, so a
/// run with thousands of edges costs what its rows do, not rows × nodes.
fn node_lines<'a>(rows: &[&'a NodeRow], value: &dyn Fn(&NodeRow) -> f64) -> (Vec<NodeLine<'a>>, bool) {
    let mut line_of: HashMap<&str, usize> = HashMap::new();
    let mut lines: Vec<NodeLine> = Vec::new();
    for &row in rows {
        let line = *line_of.entry(row.node.as_str()).or_insert_with(|| {
            lines.push(NodeLine {
                name: &row.node,
                rows: Vec::new(),
                peak: 0.0,
            });
            lines.len() - 1
        });
        let line = &mut lines[line];
        line.rows.push(row);
        line.peak = f64::max(line.peak, value(row));
    }
    let shown_all = lines.len() <= MAX_NODE_LINES;
    if !shown_all {
        let mut by_peak: Vec<usize> = (0..lines.len()).collect();
        by_peak.sort_by(|&a, &b| {
            let (a, b) = (&lines[a], &lines[b]);
            b.peak.total_cmp(&a.peak).then(a.name.cmp(b.name))
        });
        let mut busiest = vec![false; lines.len()];
        for &line in &by_peak[..MAX_NODE_LINES] {
            busiest[line] = true;
        }
        let mut kept = busiest.iter();
        lines.retain(|_| *kept.next().expect("one flag per line"));
    }
    (lines, shown_all)
}

/// One panel of the load plot: `value` of each node `keep` accepts, per 10 s bin.
fn load_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &PlotInput,
    caption: &str,
    unit: &str,
    keep: &dyn Fn(&NodeRow) -> bool,
    value: &dyn Fn(&NodeRow) -> f64,
) -> DrawResult<DB> {
    let end = end_s(input);
    let rows: Vec<&NodeRow> = input.nodes.iter().filter(|n| keep(n)).collect();
    let (lines, shown_all) = node_lines(&rows, value);
    let top = lines.iter().map(|line| line.peak).fold(1.0, f64::max) * 1.1;
    let caption = if shown_all {
        caption.to_string()
    } else {
        format!("{caption} (the {MAX_NODE_LINES} busiest nodes)")
    };
    let (plot_area, legend_area) = area.split_horizontally(SIZE.0 - SIDE_LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x: &f64| tick(*x))
        .y_label_formatter(&|y: &f64| tick(*y))
        .x_desc("time (s)")
        .y_desc(unit)
        .label_style(("sans-serif", 13))
        .draw()?;
    shade_faults(&mut chart, input.faults, end, top)?;
    // A node keeps its colour in every panel: picked by its place among all nodes.
    let mut place_of: HashMap<&str, usize> = HashMap::new();
    for row in input.nodes {
        let next = place_of.len();
        place_of.entry(row.node.as_str()).or_insert(next);
    }
    let mut entries = Vec::with_capacity(lines.len() + 1);
    if !input.faults.is_empty() {
        entries.push(("fault window".to_string(), Swatch::Box(FAULT_SHADE.to_rgba())));
    }
    for line in &lines {
        let i = place_of.get(line.name).copied().unwrap_or(0);
        let colour = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = line.rows.iter().map(|n| (n.time_s as f64, value(n))).collect();
        chart.draw_series(LineSeries::new(points, colour.stroke_width(2)))?;
        entries.push((line.name.to_string(), Swatch::Line(colour)));
    }
    side_legend(&legend_area, &entries)
}

/// Load per node over time: the connections of the nodes viewers reach (edges, load
/// balancers) and every node's egress.
fn node_load<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(SIZE.1 / 2);
    let facing_viewers = |n: &NodeRow| n.node.starts_with("edge-") || n.node.starts_with("lb-");
    load_panel(
        &upper,
        input,
        "Viewer connections per node (10 s bins)",
        "connections",
        &facing_viewers,
        &|n| n.connections as f64,
    )?;
    load_panel(
        &lower,
        input,
        "Egress per node (10 s bins)",
        "egress (Mbit/s)",
        &|_| true,
        &|n| n.egress_mbps,
    )
}

/// Draws plot `name` on `root`.
fn draw<DB: DrawingBackend>(name: &str, root: &DrawingArea<DB, Shift>, input: &PlotInput) -> DrawResult<DB> {
    match name {
        "timeline" => timeline(root, input),
        "failover_latency" => failover_latency(root, input),
        "stall_cdf" => stall_cdf(root, input),
        "dropped_frames" => dropped_frames(root, input),
        "node_load" => node_load(root, input),
        other => unreachable!("no plot named {other}"),
    }
}

/// Plot `name` as an SVG document.
pub fn svg(name: &str, input: &PlotInput) -> Result<String, String> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(name, &root, input).map_err(|e| format!("plot {name}: {e}"))?;
        root.present().map_err(|e| format!("plot {name}: {e}"))?;
    }
    Ok(text)
}

/// Writes every plot to `dir` as `NAME.svg` and `NAME.png`.
pub fn write_all(dir: &Path, input: &PlotInput) -> Result<(), String> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for name in PLOTS {
        std::fs::write(dir.join(format!("{name}.svg")), svg(name, input)?)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let png = dir.join(format!("{name}.png"));
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        draw(name, &root, input).map_err(|e| format!("plot {name}: {e}"))?;
        root.present().map_err(|e| format!("plot {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time_s: u64, node: &str, connections: u64) -> NodeRow {
        NodeRow {
            time_s,
            node: node.to_string(),
            connections,
            requests: 0,
            refused: 0,
            egress_mbps: connections as f64,
        }
    }

    /// Rows by time then node, as `nodes.csv` holds them: node `k` of `peaks` has
    /// `peaks[k]` connections in the second bin and one in the first.
    fn rows_with_peaks(peaks: &[(&str, u64)]) -> Vec<NodeRow> {
        let first = peaks.iter().map(|&(name, _)| row(0, name, 1));
        let second = peaks.iter().map(|&(name, peak)| row(10, name, peak));
        first.chain(second).collect()
    }

    fn connections(n: &NodeRow) -> f64 {
        n.connections as f64
    }

    #[test]
    fn few_nodes_are_all_drawn_in_the_files_order() {
        let rows = rows_with_peaks(&[("edge-2", 5), ("edge-1", 9), ("lb-1", 0)]);
        let refs: Vec<&NodeRow> = rows.iter().collect();
        let (lines, shown_all) = node_lines(&refs, &connections);
        assert!(shown_all);
        let drawn: Vec<(&str, f64, Vec<u64>)> = (lines.iter())
            .map(|l| (l.name, l.peak, l.rows.iter().map(|r| r.time_s).collect()))
            .collect();
        assert_eq!(
            drawn,
            [
                ("edge-2", 5.0, vec![0, 10]),
                ("edge-1", 9.0, vec![0, 10]),
                ("lb-1", 1.0, vec![0, 10]),
            ]
        );
    }

    #[test]
    fn many_nodes_keep_the_busiest_by_peak_then_name_in_the_files_order() {
        // Fifteen nodes for twelve lines: the three quietest go. edge-13 and edge-3
        // tie at the cut (peak 2): the name that sorts first (edge-13) stays.
        let peaks: Vec<(String, u64)> = (1..=15)
            .map(|k| {
                let peak = match k {
                    3 | 13 => 2,
                    7 | 11 => 1,
                    _ => 10 + k,
                };
                (format!("edge-{k}"), peak)
            })
            .collect();
        let named: Vec<(&str, u64)> = peaks.iter().map(|(name, peak)| (name.as_str(), *peak)).collect();
        let rows = rows_with_peaks(&named);
        let refs: Vec<&NodeRow> = rows.iter().collect();
        let (lines, shown_all) = node_lines(&refs, &connections);
        assert!(!shown_all);
        let names: Vec<&str> = lines.iter().map(|l| l.name).collect();
        let expected = [1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15].map(|k| format!("edge-{k}"));
        assert_eq!(names, expected);
        assert!(lines.iter().all(|l| l.rows.len() == 2), "each line has both bins");
    }

    #[test]
    fn each_rows_value_is_read_once_whatever_the_node_count() {
        // Sorting nodes by a peak rescanned over every row reads each row's value
        // once per comparison: thousands of edges made that quadratic.
        let names: Vec<String> = (1..=200).map(|k| format!("edge-{k}")).collect();
        let named: Vec<(&str, u64)> = (names.iter().enumerate())
            .map(|(k, name)| (name.as_str(), k as u64 % 17))
            .collect();
        let rows = rows_with_peaks(&named);
        let refs: Vec<&NodeRow> = rows.iter().collect();
        let reads = std::cell::Cell::new(0usize);
        let counted = |n: &NodeRow| {
            reads.set(reads.get() + 1);
            n.connections as f64
        };
        let (lines, _) = node_lines(&refs, &counted);
        assert_eq!(lines.len(), MAX_NODE_LINES);
        assert_eq!(reads.get(), rows.len());
    }

    #[test]
    fn the_load_plot_names_the_busiest_nodes_when_there_are_many() {
        let names: Vec<String> = (1..=20).map(|k| format!("edge-{k}")).collect();
        let named: Vec<(&str, u64)> = (names.iter().enumerate())
            .map(|(k, name)| (name.as_str(), k as u64))
            .collect();
        let rows = rows_with_peaks(&named);
        let input = PlotInput {
            timeline: &[],
            failovers: &[],
            faults: &[],
            dropped: [0; 3],
            viewer_dropped: [0; 3],
            nodes: &rows,
            stalls_s: Vec::new(),
        };
        let svg = svg("node_load", &input).expect("the plot draws");
        assert!(svg.contains("(the 12 busiest nodes)"));
        // Each text element holds its words on a line of their own.
        let texts: Vec<&str> = svg.lines().collect();
        for k in 1..=20 {
            let named = texts.contains(&format!("edge-{k}").as_str());
            assert_eq!(named, k > 8, "edge-{k}");
        }
    }
}
