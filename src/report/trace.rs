//! `--trace` outputs: `events.csv`, every event the kernel delivered in order, and
//! `trace.json` in Chrome's trace-event format (opens in Perfetto or
//! chrome://tracing): faults, stream outages, failover phases and alerts as spans on
//! their own tracks.

use crate::names::StreamName;
use serde::Serialize;
use serde_json::json;

use crate::experiment::RunOutput;
use crate::sim::TraceRecord;

/// One row of `events.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRow<'a> {
    pub time_ns: u64,
    pub microstep: u32,
    pub source: &'a str,
    pub sequence: u64,
    pub destination: &'a str,
    pub kind: &'static str,
    /// FNV-1a digest of the event's payload, as 16 hex digits.
    pub payload: String,
}

pub const EVENT_COLUMNS: &[&str] = &[
    "time_ns",
    "microstep",
    "source",
    "sequence",
    "destination",
    "kind",
    "payload",
];

/// The rows of `events.csv`.
pub fn event_rows<'a>(records: &'a [TraceRecord], names: &'a [String]) -> Vec<EventRow<'a>> {
    let name = |id: u32| names.get(id as usize).map_or("?", String::as_str);
    records
        .iter()
        .map(|r| EventRow {
            time_ns: r.time.as_nanos(),
            microstep: r.micro,
            source: name(r.src),
            sequence: r.seq,
            destination: name(r.dst),
            kind: r.kind,
            payload: format!("{:016x}", r.payload),
        })
        .collect()
}

fn span(name: &str, category: &str, track: u32, start_ms: f64, end_ms: f64) -> serde_json::Value {
    json!({
        "name": name,
        "cat": category,
        "ph": "X",
        "pid": 1,
        "tid": track,
        "ts": (start_ms * 1000.0).round() as i64,
        "dur": ((end_ms - start_ms).max(0.0) * 1000.0).round() as i64,
    })
}

/// `trace.json`: spans in microseconds of virtual time.
pub fn trace_json(run: &RunOutput) -> String {
    let end_ms = run.summary.sim_duration_s * 1000.0;
    let mut events = vec![
        json!({"ph": "M", "pid": 1, "name": "process_name", "args": {"name": run.summary.scenario}}),
        json!({"ph": "M", "pid": 1, "tid": 1, "name": "thread_name", "args": {"name": "faults"}}),
        json!({"ph": "M", "pid": 1, "tid": 2, "name": "thread_name", "args": {"name": "failover phases"}}),
        json!({"ph": "M", "pid": 1, "tid": 3, "name": "thread_name", "args": {"name": "alerts"}}),
        json!({"ph": "M", "pid": 1, "tid": 4, "name": "thread_name", "args": {"name": "stream outages"}}),
    ];
    for &(stream, from, to) in &run.outages_s {
        let label = if run.summary.streams > 1 {
            format!("{} not playable", StreamName(stream as usize))
        } else {
            "stream not playable".to_string()
        };
        events.push(span(&label, "outage", 4, from * 1000.0, to * 1000.0));
    }
    for f in &run.faults {
        let end = f.end_s.map_or(end_ms, |e| e * 1000.0);
        events.push(span(
            &format!("{} {} ({})", f.kind, f.target, f.id),
            "fault",
            1,
            f.start_s * 1000.0,
            end,
        ));
    }
    for e in &run.failovers {
        let label = |phase: &str| format!("#{} {phase}: {} → {}", e.episode, e.from, e.to);
        events.push(span(&label("detect"), &e.kind, 2, e.onset_ms, e.detected_ms));
        events.push(span(&label("switch"), &e.kind, 2, e.detected_ms, e.switched_ms));
        if let Some(first) = e.first_frame_ms {
            events.push(span(&label("first frame"), &e.kind, 2, e.switched_ms, first));
        }
    }
    // Faults viewers answered by moving (an edge, a load balancer) with no episode:
    // detected, viewers moved (median), playing again (median).
    for f in &run.faults {
        let answered = run.failovers.iter().any(|e| e.fault == f.id);
        let (Some(moved_ms), false) = (f.switch_ms_p50, answered) else {
            continue;
        };
        let onset = f.start_s * 1000.0;
        let detected = onset + f.players_detect_ms_p50.map_or(moved_ms, |d| d.min(moved_ms));
        let label = |phase: &str| format!("{} {phase}: viewers leave {}", f.id, f.target);
        let detect = format!("detected by {}", f.players_detected_by);
        events.push(span(&label(&detect), "fault", 2, onset, detected));
        events.push(span(
            &label("viewers move (median)"),
            "fault",
            2,
            detected,
            onset + moved_ms,
        ));
        if let Some(back_ms) = f.recovery_ms_p50.filter(|&b| b >= moved_ms) {
            events.push(span(
                &label("playing again (median)"),
                "fault",
                2,
                onset + moved_ms,
                onset + back_ms,
            ));
        }
    }
    for a in &run.alerts {
        events.push(span(
            &format!("{} pending", a.rule),
            "alert",
            3,
            a.condition_since_ms,
            a.fired_ms,
        ));
        let until = a.resolved_ms.unwrap_or(end_ms);
        events.push(span(&format!("{} firing", a.rule), "alert", 3, a.fired_ms, until));
    }
    let mut text = serde_json::to_string_pretty(&json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
    }))
    .expect("a trace always serialises");
    text.push('\n');
    text
}
