//! Metrics by name: every metric an `[[expect]]` may judge, and those measured over a
//! window (a fault's, or a span of the run).

use super::*;

/// Where an expectation measures: around a fault, or a fixed span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeasureWindow {
    /// From the earliest onset of fault `id` (on any node it hit) to `after` past its
    /// latest end (the end of the run if it never ends).
    Fault {
        id: String,
        after: SimDuration,
    },
    Span {
        from: SimTime,
        to: SimTime,
    },
}

/// The metrics `[[expect]]` can measure during a window.
pub const WINDOWED_METRICS: &[&str] = &[
    "stall_count",
    "stall_count_by_duration.under_100ms",
    "stall_count_by_duration.100ms_to_1s",
    "stall_count_by_duration.1s_and_over",
    "stall_s_total",
    "failovers",
    "failover_latency_ms.count",
    "failover_latency_ms.p50",
    "failover_latency_ms.p95",
    "failover_latency_ms.p99",
    "failover_latency_ms.max",
    "viewer_request_errors",
    "viewer_route_switches",
    "alerts_fired",
    "availability",
    "edge_requests_per_s_peak",
];

/// The instants a window spans in this run (`None`: its fault never happened, as a
/// triggered fault whose event never came).
pub(super) fn window_span(rec: &Recorder, window: &MeasureWindow) -> Option<(SimTime, SimTime)> {
    let end = rec.shape.end;
    match window {
        MeasureWindow::Span { from, to } => Some((*from, (*to).min(end))),
        MeasureWindow::Fault { id, after } => {
            let prefix = format!("{id}/");
            let records: Vec<&crate::metrics::FaultRecord> = (rec.faults.iter())
                .filter(|f| f.id == *id || f.id.starts_with(&prefix))
                .collect();
            let from = records.iter().map(|f| f.onset).min()?;
            let until = (records.iter())
                .map(|f| f.end.map_or(end, |e| e + *after))
                .max()?
                .min(end);
            Some((from, until.max(from)))
        }
    }
}

/// Every stall as an interval `(began, ended)`: those that ended, and those still under
/// way at the end of the run (ended then).
pub(super) fn stall_intervals(rec: &Recorder) -> impl Iterator<Item = (SimTime, SimTime)> + '_ {
    (rec.stall_durations.iter())
        .map(|&(_, resumed, stalled)| (resumed - stalled, resumed))
        .chain(
            rec.viewers
                .iter()
                .filter_map(|v| v.stalled_at_end.map(|at| (at, rec.shape.end))),
        )
}

/// `metric` ([`WINDOWED_METRICS`]) over `[from, to)`.
pub fn windowed_metric(rec: &Recorder, metric: &str, from: SimTime, to: SimTime) -> Option<f64> {
    let within = |t: SimTime| from <= t && t < to;
    let overlap = |a: SimTime, b: SimTime| b.min(to).saturating_since(a.max(from));
    let stalls = stall_intervals(rec);
    let band = |band: StallBand| {
        (stall_intervals(rec))
            .filter(|&(start, end)| within(start) && StallBand::of(end - start) == band)
            .count() as f64
    };
    let failovers = || {
        (failover_rows(rec).into_iter())
            .filter(|r| r.kind == "failover" && within(SimTime::from_nanos((r.onset_ms * 1e6).round() as u64)))
            .collect::<Vec<_>>()
    };
    let latency = |q: f64| {
        let mut latencies: Vec<f64> = failovers().iter().filter_map(|r| r.failover_latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        nearest_rank(&latencies, q)
    };
    Some(match metric {
        "stall_count" => stalls.filter(|&(start, _)| within(start)).count() as f64,
        "stall_count_by_duration.under_100ms" => band(StallBand::Under100Ms),
        "stall_count_by_duration.100ms_to_1s" => band(StallBand::From100MsTo1S),
        "stall_count_by_duration.1s_and_over" => band(StallBand::From1S),
        "stall_s_total" => stalls
            .fold(SimDuration::ZERO, |total, (start, end)| total + overlap(start, end))
            .as_secs_f64(),
        "failovers" => failovers().len() as f64,
        "failover_latency_ms.count" => failovers().iter().filter(|r| r.failover_latency_ms.is_some()).count() as f64,
        "failover_latency_ms.p50" => latency(0.5)?,
        "failover_latency_ms.p95" => latency(0.95)?,
        "failover_latency_ms.p99" => latency(0.99)?,
        "failover_latency_ms.max" => latency(1.0)?,
        "viewer_request_errors" => (rec.viewers.iter())
            .map(|v| v.failures.iter().filter(|&&(at, _)| within(at)).count())
            .sum::<usize>() as f64,
        "viewer_route_switches" => (rec.viewers.iter())
            .map(|v| v.switches.iter().filter(|&&(at, _)| within(at)).count())
            .sum::<usize>() as f64,
        "alerts_fired" => rec.alerts.iter().filter(|a| within(a.fired)).count() as f64,
        "availability" => windowed_availability(rec, from, to)?,
        "edge_requests_per_s_peak" => {
            let seconds = bin_of_s(from)..bin_of_s(to).max(bin_of_s(from) + 1);
            (rec.edge_requests_per_s.get(seconds).unwrap_or(&[]).iter().copied())
                .max()
                .unwrap_or(0) as f64
        }
        _ => return None,
    })
}

/// Every numeric `summary.json` key, as the dotted paths `[[expect]]` may name.
pub const METRICS: &[&str] = &[
    "sim_duration_s",
    "events",
    "frames_produced",
    "frames_played",
    "frames_dropped.ingest",
    "frames_dropped.distribution",
    "frames_dropped.player",
    "frames_dropped.total",
    "frames_in_flight",
    "frames_unwatched",
    "failover_latency_ms.count",
    "failover_latency_ms.p50",
    "failover_latency_ms.p95",
    "failover_latency_ms.p99",
    "failover_latency_ms.max",
    "failovers",
    "failbacks",
    "failovers_unrecovered",
    "alerts_fired",
    "split_brain_s",
    "leader_changes",
    "stall_s_total",
    "stall_count",
    "stall_count_by_duration.under_100ms",
    "stall_count_by_duration.100ms_to_1s",
    "stall_count_by_duration.1s_and_over",
    "rebuffer_ratio",
    "availability",
    "edge_availability",
    "streams",
    "viewers",
    "viewers_started",
    "startup_ms_p50",
    "startup_ms_max",
    "viewer_request_errors",
    "viewer_route_switches",
    "content_failures",
    "viewer_frames_played",
    "viewer_frames_skipped",
    "viewer_frames_dropped.ingest",
    "viewer_frames_dropped.distribution",
    "viewer_frames_dropped.player",
    "viewer_frames_dropped.total",
    "live_latency_s_p50",
    "live_latency_s_p95",
    "edge_requests_per_s_peak",
    "discontinuities",
    "alert_precision",
    "alert_recall",
    "time_to_detect_s_max",
    "time_to_alert_s_max",
    "messages_lost",
];
