//! Turns a finished run's [`Recorder`] into the summary, the timeline and the failover
//! table: the frame ledger, latency quantiles, stall totals and availability.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::quantile::nearest_rank;
use super::{Recorder, ViewerRecord, ALL_STREAMS, NODE_BIN_S};
use crate::time::{SimDuration, SimTime};

/// Facts about the run that the recorder does not hold.
#[derive(Clone, Debug)]
pub struct RunFacts {
    /// Metrics to measure over windows: (key in `Summary::windowed`, metric, window).
    pub windows: Vec<(String, String, MeasureWindow)>,
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    pub wall_s: f64,
    pub events: u64,
    pub trace_digest: String,
    pub messages_lost: u64,
}

impl std::ops::AddAssign for FramesDropped {
    fn add_assign(&mut self, other: FramesDropped) {
        self.ingest += other.ingest;
        self.distribution += other.distribution;
        self.player += other.player;
        self.total += other.total;
    }
}

/// Frames lost, by the stage that lost them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FramesDropped {
    /// No live ingest took them (dead or unreachable ingest, reconnecting encoder,
    /// frames before the first keyframe of a new session).
    pub ingest: u64,
    /// Packaged but never reached the origin, or published but never reached an edge.
    pub distribution: u64,
    /// Reached the edge but every viewer passed over them (a jump to the live edge).
    pub player: u64,
    pub total: u64,
}

/// Failover latency (fault onset → first frame on the new path) over episodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub count: u64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

fn one() -> u64 {
    1
}

/// `summary.json`. Keys are a stable interface: add, never rename or remove.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub scenario: String,
    /// The scenario's `description`.
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    pub sim_duration_s: f64,
    pub wall_s: f64,
    pub events: u64,
    pub trace_digest: String,
    pub frames_produced: u64,
    pub frames_played: u64,
    pub frames_dropped: FramesDropped,
    pub frames_in_flight: u64,
    pub frames_unwatched: u64,
    pub failover_latency_ms: LatencyStats,
    pub failovers: u64,
    pub failbacks: u64,
    /// Failovers whose new path never delivered a frame (their latency is missing
    /// from `failover_latency_ms`, so check this too).
    #[serde(default)]
    pub failovers_unrecovered: u64,
    pub alerts_fired: u64,
    pub split_brain_s: f64,
    pub leader_changes: u64,
    pub stall_s_total: f64,
    pub stall_count: u64,
    pub rebuffer_ratio: f64,
    pub availability: f64,
    /// Share of time each edge held a fresh copy of each stream (see
    /// [`edge_availability`]).
    #[serde(default)]
    pub edge_availability: f64,
    /// Streams in the run (one encoder each).
    #[serde(default = "one")]
    pub streams: u64,
    pub viewers: u64,
    pub viewers_started: u64,
    pub startup_ms_p50: Option<f64>,
    pub startup_ms_max: Option<f64>,
    pub viewer_request_errors: u64,
    pub viewer_route_switches: u64,
    pub content_failures: u64,
    pub viewer_frames_played: u64,
    pub viewer_frames_skipped: u64,
    /// Viewer-frames lost, by stage: over each viewer's range, frames × the viewers
    /// who should have seen them (see [`viewer_frames_dropped`]).
    #[serde(default)]
    pub viewer_frames_dropped: FramesDropped,
    pub live_latency_s_p50: Option<f64>,
    pub live_latency_s_p95: Option<f64>,
    pub edge_requests_per_s_peak: u64,
    /// Segments published after a jump in the stream's media (EXT-X-DISCONTINUITY):
    /// a failover to a new publisher, or a switch between misaligned pipelines.
    #[serde(default)]
    pub discontinuities: u64,
    /// See [`alert_scores`].
    #[serde(default)]
    pub alert_precision: Option<f64>,
    #[serde(default)]
    pub alert_recall: Option<f64>,
    /// The longest time to detect, and to alert, over the faults (see `faults.csv`).
    #[serde(default)]
    pub time_to_detect_s_max: Option<f64>,
    #[serde(default)]
    pub time_to_alert_s_max: Option<f64>,
    /// Metrics measured over a window, for `[[expect]]`s with `during`: key
    /// `"METRIC during WINDOW"`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub windowed: std::collections::BTreeMap<String, Option<f64>>,
    pub messages_lost: u64,
}

/// One row of `viewers.csv`: one viewer (or, past [`VIEWER_ROWS_LIMIT`] viewers, one
/// quantile of each column over all viewers; `viewer` then names the quantile).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewerRow {
    pub viewer: String,
    pub edge: String,
    /// The stream watched (`stream-1`, …; `all` on quantile rows).
    pub stream: String,
    pub joined_s: Option<f64>,
    pub startup_ms: Option<f64>,
    #[serde(serialize_with = "count")]
    pub stalls: f64,
    pub stall_s: f64,
    pub play_s: f64,
    pub rebuffer_ratio: f64,
    #[serde(serialize_with = "count")]
    pub frames_played: f64,
    #[serde(serialize_with = "count")]
    pub frames_skipped: f64,
    pub live_latency_s_mean: Option<f64>,
    pub live_latency_s_max: Option<f64>,
    #[serde(serialize_with = "count")]
    pub request_errors: f64,
    #[serde(serialize_with = "count")]
    pub edge_switches: f64,
    pub ttl_violator: bool,
    /// When the viewer left (`viewers.session`); empty: it watched to the end.
    pub left_s: Option<f64>,
}

/// A count held as `f64` (so quantile rows share the type) is written as an integer;
/// nearest-rank quantiles of counts are counts.
fn count<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && (0.0..9.0e15).contains(value) {
        serializer.serialize_u64(*value as u64)
    } else {
        serializer.serialize_f64(*value)
    }
}

/// Above this many viewers `viewers.csv` holds quantile rows instead of one per viewer.
pub const VIEWER_ROWS_LIMIT: usize = 100_000;

/// The quantiles written when viewers exceed [`VIEWER_ROWS_LIMIT`].
pub const VIEWER_QUANTILES: &[f64] = &[0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0];

fn viewer_row(id: usize, v: &ViewerRecord) -> ViewerRow {
    let watched = (v.play_time + v.stall_time).as_secs_f64();
    ViewerRow {
        viewer: id.to_string(),
        edge: v.edge.clone(),
        stream: format!("stream-{}", v.stream + 1),
        joined_s: v.joined_at.map(SimTime::as_secs_f64),
        startup_ms: v.startup.map(SimDuration::as_millis_f64),
        stalls: f64::from(v.stalls),
        stall_s: v.stall_time.as_secs_f64(),
        play_s: v.play_time.as_secs_f64(),
        rebuffer_ratio: if watched > 0.0 {
            v.stall_time.as_secs_f64() / watched
        } else {
            0.0
        },
        frames_played: v.frames_played as f64,
        frames_skipped: v.frames_skipped as f64,
        live_latency_s_mean: v.latency_mean().map(SimDuration::as_secs_f64),
        live_latency_s_max: (v.segments_played > 0).then(|| v.latency_max.as_secs_f64()),
        request_errors: f64::from(v.request_errors),
        edge_switches: f64::from(v.route_switches),
        ttl_violator: v.ttl_violator,
        left_s: v.left_at.map(SimTime::as_secs_f64),
    }
}

/// The rows of `viewers.csv`.
pub fn viewer_rows(viewers: &[ViewerRecord]) -> Vec<ViewerRow> {
    let rows: Vec<ViewerRow> = viewers.iter().enumerate().map(|(id, v)| viewer_row(id, v)).collect();
    if rows.len() <= VIEWER_ROWS_LIMIT {
        return rows;
    }
    let column = |get: &dyn Fn(&ViewerRow) -> Option<f64>| {
        let mut values: Vec<f64> = rows.iter().filter_map(get).collect();
        values.sort_by(f64::total_cmp);
        values
    };
    let columns: Vec<Vec<f64>> = [
        &(|r: &ViewerRow| r.joined_s) as &dyn Fn(&ViewerRow) -> Option<f64>,
        &|r| r.startup_ms,
        &|r| Some(r.stalls),
        &|r| Some(r.stall_s),
        &|r| Some(r.play_s),
        &|r| Some(r.rebuffer_ratio),
        &|r| Some(r.frames_played),
        &|r| Some(r.frames_skipped),
        &|r| r.live_latency_s_mean,
        &|r| r.live_latency_s_max,
        &|r| Some(r.request_errors),
        &|r| Some(r.edge_switches),
        &|r| r.left_s,
    ]
    .iter()
    .map(|get| column(*get))
    .collect();
    VIEWER_QUANTILES
        .iter()
        .map(|&q| {
            let at = |c: usize| nearest_rank(&columns[c], q);
            ViewerRow {
                viewer: format!("p{}", q * 100.0),
                edge: "all".into(),
                stream: "all".into(),
                joined_s: at(0),
                startup_ms: at(1),
                stalls: at(2).unwrap_or(0.0),
                stall_s: at(3).unwrap_or(0.0),
                play_s: at(4).unwrap_or(0.0),
                rebuffer_ratio: at(5).unwrap_or(0.0),
                frames_played: at(6).unwrap_or(0.0),
                frames_skipped: at(7).unwrap_or(0.0),
                live_latency_s_mean: at(8),
                live_latency_s_max: at(9),
                request_errors: at(10).unwrap_or(0.0),
                edge_switches: at(11).unwrap_or(0.0),
                ttl_violator: false,
                left_s: at(12),
            }
        })
        .collect()
}

/// After a fault ends, an alert whose condition began within this long is still
/// blamed on it (a condition outlives its cause by the monitor's holds).
pub const ALERT_GRACE: SimDuration = SimDuration::from_secs(120);

/// One row of `faults.csv`: a fault, when it was detected and when someone was told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRow {
    pub id: String,
    pub kind: String,
    pub target: String,
    pub start_s: f64,
    /// `None`: the fault never ends.
    pub end_s: Option<f64>,
    /// Onset → the first detection of it: a failed health check of its target (by a
    /// manager, the DNS or a load balancer), a load balancer taking over from a silent
    /// peer, the monitor's scrape, the failover episode moving away from it, or the
    /// content check of the ingest an encoder feeds.
    pub time_to_detect_s: Option<f64>,
    /// The check that detected it first, with its node (`manager-1 health check`).
    pub detected_by: Option<String>,
    /// Onset → the first alert notification whose condition began in its window.
    pub time_to_alert_s: Option<f64>,
    /// Viewers whose playback stalled from the onset until [`AFFECTED_WINDOW`] after
    /// the end (only the stream's own viewers for an encoder's fault); of them, those
    /// that moved to another edge or route in that time, and the median onset → move;
    /// those playing again by the end, and onset → playing again (nearest rank).
    #[serde(default)]
    pub viewers_affected: u64,
    #[serde(default)]
    pub viewers_switched: u64,
    /// Where they moved: each edge with how many of them, most first
    /// (`edge-2 (50) edge-3 (48)`).
    #[serde(default)]
    pub switched_to: String,
    /// What the moving viewers' players acted on: onset → each one's first failed
    /// request since the onset (median), and the commonest failure
    /// (`players (request timeout)`).
    #[serde(default)]
    pub players_detect_ms_p50: Option<f64>,
    #[serde(default)]
    pub players_detected_by: String,
    #[serde(default)]
    pub switch_ms_p50: Option<f64>,
    #[serde(default)]
    pub viewers_recovered: u64,
    #[serde(default)]
    pub recovery_ms_p50: Option<f64>,
    #[serde(default)]
    pub recovery_ms_p95: Option<f64>,
}

fn in_window(f: &super::FaultRecord, at: SimTime) -> bool {
    at >= f.onset && f.end.is_none_or(|end| at <= end + ALERT_GRACE)
}

/// Viewers (those `watches` accepts) whose playback stalled in `[from, until)`, each
/// with when its first such stall ended (`None`: still stalled at the end).
fn stalled_in(
    rec: &Recorder,
    from: SimTime,
    until: SimTime,
    watches: impl Fn(&ViewerRecord) -> bool,
) -> Vec<(u32, Option<SimTime>)> {
    // By viewer, not in a map: a million viewers stall millions of times.
    let mut first_stall: Vec<Option<Option<SimTime>>> = vec![None; rec.viewers.len()];
    for &(viewer, resumed, stalled) in &rec.stall_durations {
        let began = resumed - stalled;
        if began >= from && began < until {
            if let Some(first @ None) = first_stall.get_mut(viewer as usize) {
                *first = Some(Some(resumed));
            }
        }
    }
    for (v, first) in rec.viewers.iter().zip(&mut first_stall) {
        // Still stalled at the end: began after its last recorded state change.
        if first.is_none() && v.stalled_at_end.is_some_and(|since| since >= from && since < until) {
            *first = Some(None);
        }
    }
    (first_stall.into_iter().zip(&rec.viewers).enumerate())
        .filter_map(|(viewer, (first, v))| first.filter(|_| watches(v)).map(|first| (viewer as u32, first)))
        .collect()
}

/// Milliseconds from `onset` to each time, sorted.
fn sorted_ms_since(onset: SimTime, times: impl Iterator<Item = SimTime>) -> Vec<f64> {
    let mut ms: Vec<f64> = times.map(|t| (t - onset).as_millis_f64()).collect();
    ms.sort_by(f64::total_cmp);
    ms
}

/// The rows of `faults.csv`.
pub fn fault_rows(rec: &Recorder) -> Vec<FaultRow> {
    rec.faults
        .iter()
        .map(|f| {
            let by_check = rec
                .detections
                .iter()
                .filter(|(node, _, at)| *node == f.target && in_window(f, *at))
                .map(|(_, by, at)| (*at, by.clone()));
            let by_episode = rec
                .episodes
                .iter()
                .filter(|e| e.fault.as_deref() == Some(f.id.as_str()) && e.from == f.target)
                .map(|e| (e.detected, e.detected_by.clone()));
            // Any fault of an encoder (a content fault, a crash, a partition) is seen by
            // the content check of the ingest its stream goes to.
            let encoder_stream = (f.target.strip_prefix("encoder-"))
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1));
            let by_content = rec
                .content_failures
                .iter()
                .filter(|c| Some(c.stream) == encoder_stream && in_window(f, c.at))
                .map(|c| (c.at, format!("{} content check", c.ingest)));
            let detected = by_check
                .chain(by_episode)
                .chain(by_content)
                .filter(|(at, _)| *at >= f.onset)
                .min();
            let alerted = rec
                .alerts
                .iter()
                .filter(|a| in_window(f, a.since))
                .filter_map(|a| a.notified)
                .min();
            // Viewer impact: stalls that began from the onset until the affected window
            // after the fault's end (an encoder's fault touches only its stream).
            let until = f.end.unwrap_or(rec.shape.end) + AFFECTED_WINDOW;
            let affected = stalled_in(rec, f.onset, until, |v| {
                encoder_stream.is_none_or(|stream| stream == v.stream as usize)
            });
            // Each affected viewer's first move while the fault lasts, and where to
            // (a move after it ended is not leaving the target); and, for those that
            // moved, the first request that failed since the onset: what their
            // players acted on.
            let fault_end = f.end.unwrap_or(rec.shape.end);
            let mut moves: Vec<(SimTime, u16)> = Vec::new();
            let mut noticed: Vec<(SimTime, u8)> = Vec::new();
            for &(v, _) in &affected {
                let record = &rec.viewers[v as usize];
                let Some(&(moved, edge)) = record.switches.iter().find(|&&(at, _)| at >= f.onset && at < fault_end)
                else {
                    continue;
                };
                moves.push((moved, edge));
                if let Some(&failure) = record.failures.iter().find(|&&(at, _)| at >= f.onset && at <= moved) {
                    noticed.push(failure);
                }
            }
            let switches = sorted_ms_since(f.onset, moves.iter().map(|&(at, _)| at));
            let noticed_ms = sorted_ms_since(f.onset, noticed.iter().map(|&(at, _)| at));
            let mut codes = [0usize; 3];
            for &(_, code) in &noticed {
                codes[usize::from(code)] += 1;
            }
            let players_detected_by = (0..3)
                .filter(|&c| codes[c] > 0)
                .max_by_key(|&c| (codes[c], std::cmp::Reverse(c)))
                .map_or(String::new(), |c| format!("players ({})", super::FAILURE_NAMES[c]));
            let mut destinations: BTreeMap<u16, u64> = BTreeMap::new();
            for &(_, edge) in &moves {
                *destinations.entry(edge).or_default() += 1;
            }
            let mut destinations: Vec<(u16, u64)> = destinations.into_iter().collect();
            destinations.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let switched_to = (destinations.iter())
                .map(|&(edge, n)| {
                    let name = rec.edge_names.get(edge as usize).map_or("edge", String::as_str);
                    format!("{name} ({n})")
                })
                .collect::<Vec<_>>()
                .join(" ");
            let recovery = sorted_ms_since(f.onset, affected.iter().filter_map(|&(_, resumed)| resumed));
            FaultRow {
                viewers_affected: affected.len() as u64,
                viewers_switched: switches.len() as u64,
                switched_to,
                players_detect_ms_p50: nearest_rank(&noticed_ms, 0.5),
                players_detected_by,
                switch_ms_p50: nearest_rank(&switches, 0.5),
                viewers_recovered: recovery.len() as u64,
                recovery_ms_p50: nearest_rank(&recovery, 0.5),
                recovery_ms_p95: nearest_rank(&recovery, 0.95),
                id: f.id.clone(),
                kind: f.kind.clone(),
                target: f.target.clone(),
                start_s: f.onset.as_secs_f64(),
                end_s: f.end.map(SimTime::as_secs_f64),
                time_to_detect_s: detected.as_ref().map(|(at, _)| (*at - f.onset).as_secs_f64()),
                detected_by: detected.map(|(_, by)| by),
                time_to_alert_s: alerted.map(|at| (at - f.onset).as_secs_f64()),
            }
        })
        .collect()
}

/// Alert precision (share of fired alerts whose condition began in some fault's
/// window) and recall (share of faults with an alert in their window); `None` when
/// there is nothing to divide by.
pub fn alert_scores(rec: &Recorder) -> (Option<f64>, Option<f64>) {
    let true_alerts = rec
        .alerts
        .iter()
        .filter(|a| rec.faults.iter().any(|f| in_window(f, a.since)))
        .count();
    let caught = rec
        .faults
        .iter()
        .filter(|f| rec.alerts.iter().any(|a| in_window(f, a.since)))
        .count();
    let ratio = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64);
    (ratio(true_alerts, rec.alerts.len()), ratio(caught, rec.faults.len()))
}

/// One row of `nodes.csv`: one edge over one bin of [`NODE_BIN_S`] seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    pub time_s: u64,
    pub node: String,
    /// Distinct clients served in the bin (see [`crate::metrics::NodeLoad`]).
    pub connections: u64,
    pub requests: u64,
    pub refused: u64,
    pub egress_mbps: f64,
}

/// The rows of `nodes.csv`, by time then node.
pub fn node_rows(rec: &Recorder) -> Vec<NodeRow> {
    let bins = rec.load.first().map_or(0, Vec::len);
    (0..bins)
        .flat_map(|bin| {
            rec.load_names.iter().zip(&rec.load).map(move |(name, load)| {
                let l = load[bin];
                NodeRow {
                    time_s: bin as u64 * NODE_BIN_S,
                    node: name.clone(),
                    connections: l.connections,
                    requests: l.requests,
                    refused: l.refused,
                    // Rounded to the bit per second, so the CSV shows no float noise.
                    egress_mbps: (l.egress_bytes as f64 * 8.0 / NODE_BIN_S as f64).round() / 1e6,
                }
            })
        })
        .collect()
}

/// One row of `timeline.csv`: one simulated second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineRow {
    pub time_s: u64,
    pub frames_produced: u64,
    pub frames_ingested: u64,
    pub frames_delivered: u64,
    pub frames_played: u64,
    pub viewers_starting: i64,
    pub viewers_playing: i64,
    pub viewers_stalled: i64,
    /// Playlist and segment requests all edges received in the second.
    #[serde(default)]
    pub edge_requests: u64,
}

/// One row of `failovers.csv`: times in milliseconds since the run started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailoverRow {
    pub episode: u64,
    /// The stream that switched (`stream-1`, …).
    pub stream: String,
    /// `failover` or `failback`.
    pub kind: String,
    pub fault: String,
    pub from: String,
    pub to: String,
    pub onset_ms: f64,
    pub detected_ms: f64,
    /// The check whose detection the switch acted on, with its node.
    pub detected_by: String,
    pub switched_ms: f64,
    pub first_frame_ms: Option<f64>,
    pub first_segment_ms: Option<f64>,
    pub time_to_detect_ms: f64,
    pub failover_latency_ms: Option<f64>,
    /// Viewers whose playback stalled between the onset and [`AFFECTED_WINDOW`] after
    /// the first frame on the new path (or the switch, or the next episode); of them,
    /// those playing again by the end; and how long after the onset they first played
    /// again (nearest-rank quantiles).
    #[serde(default)]
    pub viewers_affected: u64,
    #[serde(default)]
    pub viewers_recovered: u64,
    #[serde(default)]
    pub recovery_ms_p50: Option<f64>,
    #[serde(default)]
    pub recovery_ms_p95: Option<f64>,
    /// The most requests all edges received in one second during the episode (from
    /// the onset to the end of the affected window): the reconnect storm.
    #[serde(default)]
    pub edge_requests_per_s_peak: u64,
    /// Media the new path's first segment skipped (from the end of the segment
    /// published before it to its first frame): 0 for a seamless switch, as between
    /// aligned active-active pipelines; negative when it repeats media already
    /// published (a new origin whose pipeline cuts at another phase).
    #[serde(default)]
    pub media_gap_ms: Option<f64>,
}

/// How long after an episode's first frame (or switch) a stall that begins still
/// counts as caused by it: a player's buffer (hls.js `maxBufferLength`) at most.
pub const AFFECTED_WINDOW: SimDuration = SimDuration::from_secs(30);

/// One row of `alerts.csv`: times in milliseconds since the run started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    pub alert: u64,
    pub rule: String,
    pub condition_since_ms: f64,
    pub fired_ms: f64,
    pub notified_ms: Option<f64>,
    pub resolved_ms: Option<f64>,
}

pub fn alert_rows(rec: &Recorder) -> Vec<AlertRow> {
    rec.alerts
        .iter()
        .enumerate()
        .map(|(i, a)| AlertRow {
            alert: i as u64 + 1,
            rule: a.rule.clone(),
            condition_since_ms: ms(a.since),
            fired_ms: ms(a.fired),
            notified_ms: a.notified.map(ms),
            resolved_ms: a.resolved.map(ms),
        })
        .collect()
}

/// The frame ledger: produced = played + dropped.total + in flight + unwatched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Frames counted downstream beyond what was produced (a bookkeeping error; zero
    /// in every correct run).
    pub overcounted: u64,
    pub produced: u64,
    pub played: u64,
    pub dropped: FramesDropped,
    pub in_flight: u64,
    pub unwatched: u64,
}

impl Ledger {
    pub fn balances(&self) -> bool {
        self.overcounted == 0 && self.produced == self.played + self.dropped.total + self.in_flight + self.unwatched
    }
}

fn display_time(first: SimTime, frame: u64, fps: u32) -> SimTime {
    first + SimDuration::from_nanos(frame * 1_000_000_000 / u64::from(fps))
}

/// Settles the fate of every produced frame at the end of the run, all streams
/// together.
pub fn ledger(rec: &Recorder) -> Ledger {
    let mut total = Ledger::default();
    for stream in 0..rec.streams.len() {
        let l = stream_ledger(rec, stream);
        total.produced += l.produced;
        total.overcounted += l.overcounted;
        total.played += l.played;
        total.in_flight += l.in_flight;
        total.unwatched += l.unwatched;
        total.dropped += l.dropped;
    }
    total
}

/// The union of the viewers' ranges `[first_index, frontier)`, as sorted disjoint
/// intervals.
fn owed_ranges(viewers: &[&ViewerRecord]) -> Vec<(u64, u64)> {
    merged_ranges((viewers.iter()).filter_map(|v| Some((v.first_index?, v.frontier.unwrap_or(u64::MAX)))))
}

fn is_owed(owed: &[(u64, u64)], index: u64) -> bool {
    let after = owed.partition_point(|&(first, _)| first <= index);
    after > 0 && index < owed[after - 1].1
}

/// `ranges` (in any order) as sorted disjoint intervals.
fn merged_ranges(ranges: impl Iterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = ranges.filter(|(first, end)| first < end).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (first, end) in ranges {
        match merged.last_mut() {
            Some(last) if first <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((first, end)),
        }
    }
    merged
}

/// How much of `[from, to)` the sorted disjoint `ranges` cover.
fn covered(ranges: &[(u64, u64)], from: u64, to: u64) -> u64 {
    let start = ranges.partition_point(|&(_, end)| end <= from);
    (ranges[start..].iter())
        .take_while(|&&(first, _)| first < to)
        .map(|&(first, end)| end.min(to).saturating_sub(first.max(from)))
        .sum()
}

/// Settles the fate of every frame `stream` produced, against its own viewers.
fn stream_ledger(rec: &Recorder, stream: usize) -> Ledger {
    let end = rec.shape.end;
    let own = &rec.streams[stream];
    let started: Vec<_> = (rec.viewers.iter())
        .filter(|v| v.stream as usize == stream && v.first_index.is_some())
        .collect();
    // A segment nobody played is in flight if a viewer still watching may yet reach
    // it; lost if it lay in some viewer's range (first segment to frontier); else
    // nobody was owed it (before anyone joined, or while nobody watched).
    let still_watching_frontier = (started.iter())
        .filter(|v| v.left_at.is_none())
        .map(|v| v.frontier.unwrap_or(u64::MAX))
        .min();
    let owed = owed_ranges(&started);
    let mut ledger = Ledger {
        produced: own.frames_produced,
        ..Ledger::default()
    };
    // Published media, each frame once: a segment's frames that an earlier one
    // already held (`overlap_frames`) are not new.
    let published: u64 = (own.segments.values())
        .map(|segment| u64::from(segment.frames) - segment.overlap_frames)
        .sum();
    // Cut by a packager but never published (as frame ranges, so copies cut at other
    // phases count only for media no published segment holds): lost between ingest
    // and origin, or passed over by a switch to a misaligned pipeline, unless it may
    // still arrive.
    let published_ranges = merged_ranges(
        (own.segments.values()).map(|segment| (segment.first_frame, segment.first_frame + u64::from(segment.frames))),
    );
    // From here on a live packager will still publish every frame (never media before
    // the published end, which only moves forward: a standby cutting at another phase
    // holds some); without one, nothing more comes.
    let produced = own.frames_produced;
    let floor = (own.ingest_floor)
        .map_or(produced, |floor| floor.max(own.published_end.unwrap_or(0)))
        .min(produced);
    let mut packaged_unpublished = 0u64;
    let mut cursor = 0u64;
    for (&first, &(end, at)) in &own.packaged_ranges {
        let (from, end) = (first.max(cursor), end.min(floor));
        if from >= end {
            continue;
        }
        cursor = end;
        let frames = (end - from) - covered(&published_ranges, from, end);
        packaged_unpublished += frames;
        if at + rec.shape.max_ingest_to_origin >= rec.shape.end {
            ledger.in_flight += frames;
        } else {
            ledger.dropped.distribution += frames;
        }
    }
    for (&index, segment) in &own.segments {
        let frames = u64::from(segment.frames) - segment.overlap_frames;
        if let Some(first_play) = segment.first_play_at {
            let shown = (segment.overlap_frames..u64::from(segment.frames))
                .take_while(|&i| display_time(first_play, i, rec.shape.fps) < end)
                .count() as u64;
            ledger.played += shown;
            ledger.in_flight += frames - shown;
        } else if still_watching_frontier.is_some_and(|frontier| index >= frontier) {
            ledger.in_flight += frames;
        } else if is_owed(&owed, index) {
            if segment.first_edge_at.is_none() {
                ledger.dropped.distribution += frames;
            } else {
                ledger.dropped.player += frames;
            }
        } else {
            ledger.unwatched += frames;
        }
    }
    // Downstream counts come from the packagers, the origin and the players; the
    // ingest stage is what is left of what the encoder produced, which can never be
    // negative: if it would be, frames were counted twice downstream.
    let downstream = published + packaged_unpublished;
    ledger.overcounted += downstream.saturating_sub(ledger.produced);
    let unpackaged = ledger.produced.saturating_sub(downstream);
    let tail = (produced - floor) - covered(&published_ranges, floor, produced);
    let ingest_in_flight = tail.min(unpackaged);
    ledger.in_flight += ingest_in_flight;
    ledger.dropped.ingest = unpackaged - ingest_in_flight;
    ledger.dropped.total = ledger.dropped.ingest + ledger.dropped.distribution + ledger.dropped.player;
    ledger
}

/// Viewer-frames lost, by stage. Each viewer is owed every frame of its stream's
/// nominal segments from its start position to where it got (`first_index` to
/// `frontier`). Of those it did not play: frames no packager received are lost at
/// ingest (whole segments never cut, and the gaps of segments cut short); frames of
/// segments cut but never published, or published but never at any edge, are lost in
/// distribution; the rest of what it skipped (reached an edge, passed over) is lost
/// by the player. So for each viewer, owed = played + these three.
pub fn viewer_frames_dropped(rec: &Recorder) -> FramesDropped {
    // Running sums over each stream's segments make a viewer two lookups instead of a
    // walk over every segment it was owed: a million viewers of an hour would
    // otherwise take a minute here.
    let mut spans: Vec<Option<(u64, u64)>> = vec![None; rec.streams.len()];
    for v in &rec.viewers {
        if let (Some(first), Some(frontier)) = (v.first_index, v.frontier) {
            let frontier = frontier.max(first);
            let span = &mut spans[v.stream as usize];
            *span = Some(span.map_or((first, frontier), |(lo, hi)| (lo.min(first), hi.max(frontier))));
        }
    }
    let sums: Vec<Option<DropSums>> = (spans.iter().enumerate())
        .map(|(stream, span)| span.map(|(lo, hi)| DropSums::new(rec, stream, lo, hi)))
        .collect();
    let mut total = FramesDropped::default();
    for v in &rec.viewers {
        if let (Some(first), Some(frontier), Some(sums)) = (v.first_index, v.frontier, &sums[v.stream as usize]) {
            total += sums.for_viewer(v, first, frontier);
        }
    }
    total
}

/// Per segment index of one stream from `from` on, the frames owed but not played so
/// far, by cause, summed over the indices before it.
struct DropSums {
    from: u64,
    /// `(ingest, distribution, never at an edge)` over indices `from..from + i`.
    before: Vec<[u64; 3]>,
}

impl DropSums {
    fn new(rec: &Recorder, stream: usize, from: u64, until: u64) -> DropSums {
        let per_segment = rec.shape.frames_per_segment;
        let own = &rec.streams[stream];
        let mut running = [0u64; 3];
        let mut before = Vec::with_capacity((until - from) as usize + 1);
        before.push(running);
        for index in from..until {
            let (received, lost_in_distribution, never_at_edge) =
                match (own.segments.get(&index), own.packaged.get(&index)) {
                    (Some(published), _) => {
                        let lost = if published.first_edge_at.is_none() {
                            u64::from(published.frames)
                        } else {
                            0
                        };
                        (u64::from(published.frames), lost, lost)
                    }
                    (None, Some(&(frames, _))) => (u64::from(frames), u64::from(frames), 0),
                    (None, None) => (0, 0, 0),
                };
            running[0] += per_segment.saturating_sub(received);
            running[1] += lost_in_distribution;
            running[2] += never_at_edge;
            before.push(running);
        }
        DropSums { from, before }
    }

    /// One viewer's share of [`viewer_frames_dropped`], owed segments `first..frontier`.
    fn for_viewer(&self, v: &ViewerRecord, first: u64, frontier: u64) -> FramesDropped {
        let frontier = frontier.max(first);
        let (a, b) = (
            &self.before[(first - self.from) as usize],
            &self.before[(frontier - self.from) as usize],
        );
        let mut dropped = FramesDropped {
            ingest: b[0] - a[0],
            distribution: b[1] - a[1],
            ..FramesDropped::default()
        };
        // What never reached an edge was necessarily skipped; the rest of the skips are
        // the player's.
        dropped.player = v.frames_skipped.saturating_sub(b[2] - a[2]);
        dropped.total = dropped.ingest + dropped.distribution + dropped.player;
        dropped
    }
}

/// Share of the time since its first segment during which a stream's live edge at the
/// origin was fresh (it is stale once no new segment has arrived for 1.5 target
/// durations), averaged over the streams.
pub fn availability(rec: &Recorder) -> f64 {
    let streams = rec.streams.len();
    (0..streams).map(|stream| stream_availability(rec, stream)).sum::<f64>() / streams as f64
}

/// Availability where viewers fetch: over every (stream, edge) pair, the share of the
/// time since the edge's first segment of the stream during which it held a fresh
/// one (a new segment within 1.5 segment durations). A crashed or cut-off edge
/// receives nothing and goes stale; one that restarts is fresh from its next segment.
pub fn edge_availability(rec: &Recorder) -> f64 {
    let stale_after = rec.shape.segment.mul_f64(1.5);
    let end = rec.shape.end;
    let (mut stale, mut span) = (SimDuration::ZERO, SimDuration::ZERO);
    for fresh in rec.edge_freshness.iter().flatten() {
        let Some(first) = fresh
            .first
            .map(|first| first.max(rec.measure_from))
            .filter(|&first| first < end)
        else {
            continue;
        };
        span += end - first;
        stale += fresh.stale + end.saturating_since((fresh.last + stale_after).max(rec.measure_from));
    }
    if span == SimDuration::ZERO {
        return 0.0;
    }
    1.0 - stale.as_secs_f64() / span.as_secs_f64()
}

/// [`availability`] over `[from, to)`: each stream counts from its first segment (and
/// `scenario.warmup`) as over the whole run, a stream that never published is down
/// throughout, and a window that ends before any stream began has no value. Over the
/// whole run it is exactly [`availability`].
fn windowed_availability(rec: &Recorder, from: SimTime, to: SimTime) -> Option<f64> {
    let mut ratios = Vec::with_capacity(rec.streams.len());
    for stream in 0..rec.streams.len() {
        let Some(first) = rec.streams[stream].segments.values().map(|s| s.published_at).min() else {
            ratios.push(0.0);
            continue;
        };
        let start = first.max(rec.measure_from).max(from);
        let end = to.min(rec.shape.end);
        if end <= start {
            continue;
        }
        let unavailable = (outages(rec, stream).iter()).fold(SimDuration::ZERO, |total, &(a, b)| {
            total + b.min(end).saturating_since(a.max(start))
        });
        ratios.push(1.0 - unavailable.as_secs_f64() / (end - start).as_secs_f64());
    }
    (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64)
}

fn stream_availability(rec: &Recorder, stream: usize) -> f64 {
    let Some(first) = rec.streams[stream].segments.values().map(|s| s.published_at).min() else {
        return 0.0;
    };
    let first = first.max(rec.measure_from);
    let end = rec.shape.end;
    if end <= first {
        return 1.0;
    }
    let unavailable = outages(rec, stream)
        .iter()
        .fold(SimDuration::ZERO, |total, &(from, to)| {
            total + to.saturating_since(from.max(first))
        });
    1.0 - unavailable.as_secs_f64() / (end - first).as_secs_f64()
}

/// The intervals during which `stream` was not playable at the origin: from 1.5 × the
/// segment duration after a publication until the next one (or the end).
pub fn outages(rec: &Recorder, stream: usize) -> Vec<(SimTime, SimTime)> {
    let mut publishes: Vec<SimTime> = (rec.streams[stream].segments.values())
        .map(|s| s.published_at)
        .collect();
    publishes.sort_unstable();
    let stale_after = rec.shape.segment.mul_f64(1.5);
    let end = rec.shape.end;
    let boundaries = publishes.iter().skip(1).copied().chain(std::iter::once(end));
    publishes
        .iter()
        .zip(boundaries)
        .filter_map(|(&previous, next)| {
            let stale = previous + stale_after;
            (next > stale).then_some((stale, next))
        })
        .collect()
}

fn ms(t: SimTime) -> f64 {
    t.as_millis_f64()
}

/// The whole second `t` falls in.
fn bin_of_s(t: SimTime) -> usize {
    (t.as_nanos() / 1_000_000_000) as usize
}

pub fn failover_rows(rec: &Recorder) -> Vec<FailoverRow> {
    rec.episodes
        .iter()
        .enumerate()
        .map(|(i, e)| {
            // A viewer the episode affected stalls before the new path's first frame
            // has had time to reach it past a player's buffer (30 s at most).
            let settled = e.first_frame.unwrap_or(e.switched) + AFFECTED_WINDOW;
            let until = (rec.episodes[i + 1..].iter())
                .find(|next| next.stream == e.stream || e.stream == ALL_STREAMS || next.stream == ALL_STREAMS)
                .map_or(rec.shape.end, |next| next.onset)
                .min(settled);
            // Each of the stream's viewers' first stall that began in the episode, and
            // when it ended.
            let first_stall = stalled_in(rec, e.onset, until, |v| {
                e.stream == ALL_STREAMS || v.stream as usize == e.stream
            });
            // The reconnect storm: the busiest second of edge requests in the episode.
            let seconds = bin_of_s(e.onset)..bin_of_s(until).max(bin_of_s(e.onset) + 1);
            let storm = (rec.edge_requests_per_s.get(seconds).unwrap_or(&[]).iter().copied())
                .max()
                .unwrap_or(0);
            let recovery = sorted_ms_since(e.onset, first_stall.iter().filter_map(|&(_, resumed)| resumed));
            (e, i, first_stall.len() as u64, recovery, storm)
        })
        .map(|(e, i, affected, recovery, storm)| FailoverRow {
            edge_requests_per_s_peak: storm,
            viewers_affected: affected,
            viewers_recovered: recovery.len() as u64,
            recovery_ms_p50: nearest_rank(&recovery, 0.5),
            recovery_ms_p95: nearest_rank(&recovery, 0.95),
            episode: i as u64 + 1,
            stream: if e.stream == ALL_STREAMS {
                "all".to_string()
            } else {
                format!("stream-{}", e.stream + 1)
            },
            kind: if e.failback { "failback" } else { "failover" }.to_string(),
            fault: e.fault.clone().unwrap_or_default(),
            from: e.from.clone(),
            to: e.to.clone(),
            onset_ms: ms(e.onset),
            detected_ms: ms(e.detected),
            detected_by: e.detected_by.clone(),
            switched_ms: ms(e.switched),
            first_frame_ms: e.first_frame.map(ms),
            first_segment_ms: e.first_segment.map(ms),
            time_to_detect_ms: (e.detected - e.onset).as_millis_f64(),
            failover_latency_ms: e.first_frame.map(|f| (f - e.onset).as_millis_f64()),
            media_gap_ms: e
                .gap_frames
                .map(|frames| frames as f64 * 1000.0 / f64::from(rec.shape.fps)),
        })
        .collect()
}

pub fn timeline(rec: &Recorder) -> Vec<TimelineRow> {
    let bins = rec.bins();
    let mut ingested = vec![0u64; bins];
    let mut delivered = vec![0u64; bins];
    let mut played = vec![0u64; bins];
    let bin = |t: SimTime| (t.as_nanos() / 1_000_000_000) as usize;
    for segment in rec.streams.iter().flat_map(|s| s.segments.values()) {
        let frames = u64::from(segment.frames);
        if let Some(slot) = ingested.get_mut(bin(segment.published_at)) {
            *slot += frames;
        }
        if let Some(slot) = segment.first_edge_at.and_then(|t| delivered.get_mut(bin(t))) {
            *slot += frames;
        }
        if let Some(first_play) = segment.first_play_at {
            for i in 0..frames {
                match played.get_mut(bin(display_time(first_play, i, rec.shape.fps))) {
                    Some(slot) => *slot += 1,
                    None => break,
                }
            }
        }
    }
    rec.viewer_counts()
        .into_iter()
        .enumerate()
        .map(|(s, counts)| TimelineRow {
            time_s: s as u64,
            frames_produced: rec.frames_produced_in(s),
            frames_ingested: ingested[s],
            frames_delivered: delivered[s],
            frames_played: played[s],
            viewers_starting: counts[0],
            viewers_playing: counts[1],
            viewers_stalled: counts[2],
            edge_requests: rec.edge_requests_per_s.get(s).copied().unwrap_or(0),
        })
        .collect()
}

/// Everything a run reports.
pub fn summarize(rec: &Recorder, facts: &RunFacts) -> (Summary, Vec<TimelineRow>, Vec<FailoverRow>) {
    let ledger = ledger(rec);
    let rows = failover_rows(rec);
    let is_failover = |r: &&FailoverRow| r.kind == "failover";
    let mut latencies: Vec<f64> = rows
        .iter()
        .filter(is_failover)
        .filter_map(|r| r.failover_latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let stall_time: SimDuration = rec.viewers.iter().fold(SimDuration::ZERO, |a, v| a + v.stall_time);
    let play_time: SimDuration = rec.viewers.iter().fold(SimDuration::ZERO, |a, v| a + v.play_time);
    let watched = (stall_time + play_time).as_secs_f64();
    let mut startups: Vec<f64> = rec
        .viewers
        .iter()
        .filter_map(|v| v.startup.map(|s| s.as_millis_f64()))
        .collect();
    startups.sort_by(f64::total_cmp);
    let mut latencies_s: Vec<f64> = rec
        .viewers
        .iter()
        .filter_map(|v| v.latency_mean().map(SimDuration::as_secs_f64))
        .collect();
    latencies_s.sort_by(f64::total_cmp);
    let faults = fault_rows(rec);
    let (alert_precision, alert_recall) = alert_scores(rec);
    let summary = Summary {
        schema_version: 1,
        scenario: facts.scenario.clone(),
        description: facts.description.clone(),
        seed: facts.seed,
        sim_duration_s: rec.shape.end.as_secs_f64(),
        wall_s: facts.wall_s,
        events: facts.events,
        trace_digest: facts.trace_digest.clone(),
        frames_produced: ledger.produced,
        frames_played: ledger.played,
        frames_dropped: ledger.dropped.clone(),
        frames_in_flight: ledger.in_flight,
        frames_unwatched: ledger.unwatched,
        failover_latency_ms: LatencyStats {
            count: latencies.len() as u64,
            p50: nearest_rank(&latencies, 0.50),
            p95: nearest_rank(&latencies, 0.95),
            p99: nearest_rank(&latencies, 0.99),
            max: latencies.last().copied(),
        },
        failovers: rows.iter().filter(is_failover).count() as u64,
        failbacks: rows.iter().filter(|r| r.kind == "failback").count() as u64,
        failovers_unrecovered: (rows.iter())
            .filter(|r| r.kind == "failover" && r.failover_latency_ms.is_none())
            .count() as u64,
        alerts_fired: rec.alerts.len() as u64,
        split_brain_s: rec.split_brain().as_secs_f64(),
        leader_changes: rec.leadership.iter().filter(|l| l.1).count() as u64,
        stall_s_total: stall_time.as_secs_f64(),
        stall_count: rec.viewers.iter().map(|v| u64::from(v.stalls)).sum(),
        rebuffer_ratio: if watched > 0.0 {
            stall_time.as_secs_f64() / watched
        } else {
            0.0
        },
        availability: availability(rec),
        edge_availability: edge_availability(rec),
        streams: rec.streams.len() as u64,
        viewers: rec.viewers.len() as u64,
        viewers_started: rec.viewers.iter().filter(|v| v.startup.is_some()).count() as u64,
        startup_ms_p50: nearest_rank(&startups, 0.5),
        startup_ms_max: startups.last().copied(),
        viewer_request_errors: rec.viewers.iter().map(|v| u64::from(v.request_errors)).sum(),
        viewer_route_switches: rec.viewers.iter().map(|v| u64::from(v.route_switches)).sum(),
        content_failures: rec.content_failures.len() as u64,
        viewer_frames_played: rec.viewers.iter().map(|v| v.frames_played).sum(),
        viewer_frames_skipped: rec.viewers.iter().map(|v| v.frames_skipped).sum(),
        viewer_frames_dropped: viewer_frames_dropped(rec),
        live_latency_s_p50: nearest_rank(&latencies_s, 0.5),
        live_latency_s_p95: nearest_rank(&latencies_s, 0.95),
        edge_requests_per_s_peak: rec.edge_requests_per_s.iter().copied().max().unwrap_or(0),
        discontinuities: (rec.streams.iter().flat_map(|s| s.segments.values()))
            .filter(|segment| segment.gap_frames > 0 || segment.overlap_frames > 0)
            .count() as u64,
        alert_precision,
        alert_recall,
        time_to_detect_s_max: faults.iter().filter_map(|f| f.time_to_detect_s).reduce(f64::max),
        time_to_alert_s_max: faults.iter().filter_map(|f| f.time_to_alert_s).reduce(f64::max),
        messages_lost: facts.messages_lost,
        windowed: (facts.windows.iter())
            .map(|(key, metric, window)| {
                let value = window_span(rec, window).and_then(|(from, to)| windowed_metric(rec, metric, from, to));
                (key.clone(), value)
            })
            .collect(),
    };
    (summary, timeline(rec), rows)
}

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
fn window_span(rec: &Recorder, window: &MeasureWindow) -> Option<(SimTime, SimTime)> {
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

/// `metric` ([`WINDOWED_METRICS`]) over `[from, to)`.
pub fn windowed_metric(rec: &Recorder, metric: &str, from: SimTime, to: SimTime) -> Option<f64> {
    let within = |t: SimTime| from <= t && t < to;
    let overlap = |a: SimTime, b: SimTime| b.min(to).saturating_since(a.max(from));
    // Every stall as an interval: those that ended, and those still under way.
    let stalls = (rec.stall_durations.iter())
        .map(|&(_, resumed, stalled)| (resumed - stalled, resumed))
        .chain(
            rec.viewers
                .iter()
                .filter_map(|v| v.stalled_at_end.map(|at| (at, rec.shape.end))),
        );
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

impl Summary {
    /// The value of a dotted metric path; `None` when it has no value (e.g. no failover).
    pub fn metric(&self, path: &str) -> Option<f64> {
        let json = serde_json::to_value(self).expect("a summary always serialises");
        path.split('.').try_fold(&json, |value, key| value.get(key))?.as_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_scored_against_fault_windows_with_a_grace() {
        use crate::metrics::{AlertRecord, FaultRecord};
        let mut rec = recorder(3_600);
        let fault = |id: &str, onset: u64, end: u64| FaultRecord {
            id: id.into(),
            kind: "node.crash".into(),
            target: "ingest-1".into(),
            onset: SimTime::from_secs(onset),
            end: Some(SimTime::from_secs(end)),
        };
        let alert = |since: u64, notified: u64| AlertRecord {
            rule: "r".into(),
            since: SimTime::from_secs(since),
            fired: SimTime::from_secs(since),
            notified: Some(SimTime::from_secs(notified)),
            resolved: None,
        };
        rec.faults = vec![fault("a", 600, 900), fault("b", 2_000, 2_100)];
        // One alert inside a's window, one within the 120 s grace after it, one false.
        rec.alerts = vec![alert(615, 675), alert(1_010, 1_040), alert(1_500, 1_530)];
        rec.detections = vec![
            (
                "ingest-1".into(),
                "manager-1 health check".into(),
                SimTime::from_secs(599),
            ),
            (
                "ingest-1".into(),
                "manager-1 health check".into(),
                SimTime::from_secs(603),
            ),
        ];
        let (precision, recall) = alert_scores(&rec);
        assert_eq!(precision, Some(2.0 / 3.0));
        assert_eq!(recall, Some(0.5), "b was never alerted");
        let rows = fault_rows(&rec);
        // A detection before the onset is not this fault's.
        assert_eq!(rows[0].time_to_detect_s, Some(3.0));
        assert_eq!(rows[0].time_to_alert_s, Some(75.0));
        assert_eq!((rows[1].time_to_detect_s, rows[1].time_to_alert_s), (None, None));
        rec.alerts.clear();
        assert_eq!(alert_scores(&rec), (None, Some(0.0)));
    }

    #[test]
    fn a_fault_is_detected_by_the_first_check_that_saw_its_target() {
        use crate::metrics::{Episode, FaultRecord};
        let mut rec = recorder(3_600);
        let fault = |id: &str, kind: &str, target: &str| FaultRecord {
            id: id.into(),
            kind: kind.into(),
            target: target.into(),
            onset: SimTime::from_secs(600),
            end: Some(SimTime::from_secs(700)),
        };
        rec.faults = vec![
            fault("origin", "net.partition", "origin-1"),
            fault("encoder", "node.crash", "encoder-1"),
            fault("manager", "net.partition", "manager-1"),
        ];
        let at = |s: f64| SimTime::from_nanos((s * 1e9) as u64);
        rec.detections = vec![
            ("origin-1".into(), "monitor-1 scrape".into(), at(615.0)),
            ("encoder-1".into(), "monitor-1 scrape".into(), at(615.0)),
            ("manager-1".into(), "monitor-1 scrape".into(), at(615.0)),
            ("ingest-1".into(), "manager-1 health check".into(), at(602.8)),
        ];
        rec.content_failures = vec![crate::metrics::ContentFailure {
            ingest: "ingest-1".into(),
            stream: 0,
            what: "input loss",
            at: at(601.0),
        }];
        // The cut-off manager's failover of a healthy ingest is blamed on its fault but
        // detected ingest-1, not the manager.
        rec.episodes = vec![Episode {
            stream: 0,
            failback: false,
            fault: Some("manager".into()),
            from: "ingest-1".into(),
            to: "ingest-2".into(),
            onset: at(600.0),
            detected: at(602.8),
            detected_by: "manager-1 health check".into(),
            switched: at(720.0),
            first_frame: None,
            first_segment: None,
            gap_frames: None,
        }];
        let rows = fault_rows(&rec);
        let got: Vec<(Option<f64>, Option<&str>)> = rows
            .iter()
            .map(|r| (r.time_to_detect_s, r.detected_by.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(15.0), Some("monitor-1 scrape")),
                (Some(1.0), Some("ingest-1 content check")),
                (Some(15.0), Some("monitor-1 scrape")),
            ]
        );
    }

    #[test]
    fn past_the_limit_viewers_csv_holds_quantile_rows() {
        let viewers: Vec<ViewerRecord> = (0..=VIEWER_ROWS_LIMIT as u32)
            .map(|i| ViewerRecord {
                stalls: i % 101,
                ..ViewerRecord::default()
            })
            .collect();
        let rows = viewer_rows(&viewers);
        let names: Vec<&str> = rows.iter().map(|r| r.viewer.as_str()).collect();
        assert_eq!(names, ["p0", "p1", "p5", "p25", "p50", "p75", "p95", "p99", "p100"]);
        assert_eq!((rows[0].stalls, rows[4].stalls, rows[8].stalls), (0.0, 50.0, 100.0));
        assert!(viewer_rows(&viewers[..10]).iter().all(|r| r.edge.is_empty()));
    }
    use crate::metrics::{SegmentRecord, StreamShape, ViewerRecord};

    fn recorder(end_s: u64) -> Recorder {
        Recorder::new(
            StreamShape {
                fps: 30,
                frames_per_segment: 60,
                segment: SimDuration::from_secs(2),
                end: SimTime::from_secs(end_s),
                viewers: 1,
                streams: 1,
                max_ingest_to_origin: SimDuration::from_millis(10),
            },
            Vec::new(),
        )
    }

    fn segment(index: u64, published_s: u64, edge: bool, play: Option<u64>) -> SegmentRecord {
        SegmentRecord {
            first_frame: index * 60,
            frames: 60,
            missing: 0,
            pipeline: "ingest-1".into(),
            origin: "origin-1".into(),
            published_at: SimTime::from_secs(published_s),
            first_edge_at: edge.then(|| SimTime::from_secs(published_s)),
            first_play_at: play.map(SimTime::from_secs),
            gap_frames: 0,
            overlap_frames: 0,
            start: index * 60,
        }
    }

    #[test]
    fn ledger_attributes_every_frame_to_one_stage() {
        let mut rec = recorder(20);
        for _ in 0..600 {
            rec.frame_produced(0, SimTime::ZERO);
        }
        // Segments 0..=3 published; 4 lost at ingest; 5 lost on the way to the origin; 6 never reached an edge;
        // 7 reached an edge but the viewer jumped over it; 8 played; 9 still buffered.
        for i in 0..4 {
            rec.streams[0]
                .segments
                .insert(i, segment(i, 2 * i + 2, true, Some(2 * i + 3)));
        }
        // Segment 5 was packaged at 12 s but never reached the origin.
        rec.segment_packaged(0, 5, 300, 60, SimTime::from_secs(12));
        rec.streams[0].segments.insert(6, segment(6, 14, false, None));
        rec.streams[0].segments.insert(7, segment(7, 15, true, None));
        // Played from 19 s: 30 frames shown before the end at 20 s, 30 still to show.
        rec.streams[0].segments.insert(8, segment(8, 16, true, Some(19)));
        rec.streams[0].segments.insert(9, segment(9, 18, true, None));
        rec.viewers[0] = ViewerRecord {
            first_index: Some(0),
            frontier: Some(9),
            ..ViewerRecord::default()
        };
        let l = ledger(&rec);
        assert_eq!(l.played, 4 * 60 + 30);
        assert_eq!(l.dropped.ingest, 60);
        assert_eq!(l.dropped.distribution, 120);
        assert_eq!(l.dropped.player, 60);
        assert_eq!(l.in_flight, 30 + 60);
        assert!(l.balances(), "{l:?}");
    }

    #[test]
    fn each_stream_settles_its_own_frames_against_its_own_viewers() {
        let mut rec = Recorder::new(
            StreamShape {
                streams: 2,
                viewers: 2,
                ..recorder(20).shape
            },
            Vec::new(),
        );
        for stream in 0..2 {
            for _ in 0..120 {
                rec.frame_produced(stream, SimTime::ZERO);
            }
        }
        // Stream 0: segments 0 and 1 played by its viewer. Stream 1: segment 0 played,
        // segment 1 never reached an edge though its viewer's frontier passed it.
        rec.streams[0].segments.insert(0, segment(0, 2, true, Some(3)));
        rec.streams[0].segments.insert(1, segment(1, 4, true, Some(5)));
        rec.streams[1].segments.insert(0, segment(0, 2, true, Some(3)));
        rec.streams[1].segments.insert(1, segment(1, 4, false, None));
        rec.viewers[0] = ViewerRecord {
            stream: 0,
            first_index: Some(0),
            frontier: Some(2),
            ..ViewerRecord::default()
        };
        rec.viewers[1] = ViewerRecord {
            stream: 1,
            first_index: Some(0),
            frontier: Some(2),
            ..ViewerRecord::default()
        };
        let l = ledger(&rec);
        assert_eq!((l.produced, l.played, l.dropped.distribution), (240, 180, 60));
        assert!(l.balances(), "{l:?}");
        // Stream 1 is stale from 4 + 3 = 7 s to the end (13 of its 18 s); stream 0 too.
        // Availability is the mean of the two.
        assert_eq!(outages(&rec, 1), vec![(SimTime::from_secs(7), SimTime::from_secs(20))]);
        assert!((availability(&rec) - (1.0 - 13.0 / 18.0)).abs() < 1e-12);
    }

    #[test]
    fn failover_rows_count_the_streams_viewers_in_the_window_and_the_storm() {
        use crate::metrics::Episode;
        let mut rec = Recorder::new(
            StreamShape {
                streams: 2,
                viewers: 4,
                ..recorder(100).shape
            },
            Vec::new(),
        );
        let t = |ms: u64| SimTime::from_millis(ms);
        rec.episodes = vec![Episode {
            stream: 0,
            failback: false,
            fault: Some("f".into()),
            from: "ingest-1".into(),
            to: "ingest-2".into(),
            onset: t(10_000),
            detected: t(12_000),
            detected_by: "manager-1 health check".into(),
            switched: t(12_100),
            first_frame: Some(t(15_000)),
            first_segment: Some(t(17_000)),
            gap_frames: None,
        }];
        for (v, stream) in [0, 0, 1, 0].into_iter().enumerate() {
            rec.viewers[v].stream = stream;
        }
        let stall = |viewer: u32, from_ms: u64, to_ms: u64| (viewer, t(to_ms), t(to_ms) - t(from_ms));
        rec.stall_durations = vec![
            // In the window (onset to first frame + 30 s = 45 s): affected, back at 20 s.
            stall(0, 16_000, 20_000),
            // Another stream's viewer: not this episode's.
            stall(2, 14_000, 18_000),
            // Began after the window.
            stall(1, 50_000, 52_000),
        ];
        // Stalled from 30 s to the end: affected, never recovered.
        rec.viewers[3].stalled_at_end = Some(t(30_000));
        // Requests per second: the storm is the busiest whole second in [10 s, 45 s).
        for (second, requests) in [(9, 500), (10, 5), (20, 9), (44, 7), (45, 100)] {
            rec.edge_requests_per_s[second] = requests;
        }
        let rows = failover_rows(&rec);
        let r = &rows[0];
        assert_eq!((r.stream.as_str(), r.kind.as_str()), ("stream-1", "failover"));
        assert_eq!((r.viewers_affected, r.viewers_recovered), (2, 1));
        assert_eq!((r.recovery_ms_p50, r.recovery_ms_p95), (Some(10_000.0), Some(10_000.0)));
        assert_eq!(r.edge_requests_per_s_peak, 9);
        assert_eq!((r.time_to_detect_ms, r.failover_latency_ms), (2_000.0, Some(5_000.0)));
    }

    #[test]
    fn timeline_and_node_rows_bin_what_happened() {
        let mut rec = recorder(20);
        let edge = rec.register_load("edge-1");
        // A segment published at 2 s, at an edge at 2 s, shown from 3 s: its 60 frames
        // (30 fps) are shown over seconds 3 and 4.
        rec.streams[0].segments.insert(0, segment(0, 2, true, Some(3)));
        rec.edge_requests_per_s[3] = 4;
        let rows = timeline(&rec);
        let at = |s: usize| (rows[s].frames_ingested, rows[s].frames_delivered, rows[s].frames_played);
        assert_eq!(
            (at(2), at(3), at(4), at(5)),
            ((60, 60, 0), (0, 0, 30), (0, 0, 30), (0, 0, 0))
        );
        assert_eq!(rows[3].edge_requests, 4);
        // Connections: distinct clients per 10 s bin; egress: bytes × 8 ÷ 10 s.
        for (client, ms) in [(7, 1_000), (7, 2_000), (8, 3_000), (7, 12_000)] {
            rec.node_client(edge, SimTime::from_millis(ms), client);
            rec.node_load(edge, SimTime::from_millis(ms), 1_250_000, false);
        }
        rec.node_load(edge, SimTime::from_millis(4_000), 200, true);
        let nodes = node_rows(&rec);
        let row = |bin: usize| {
            (
                nodes[bin].connections,
                nodes[bin].requests,
                nodes[bin].refused,
                nodes[bin].egress_mbps,
            )
        };
        assert_eq!(row(0), (2, 4, 1, 3.00016));
        assert_eq!(row(1), (1, 1, 0, 1.0));
    }

    #[test]
    fn frames_counted_twice_downstream_break_the_ledger() {
        let mut rec = recorder(20);
        for _ in 0..60 {
            rec.frame_produced(0, SimTime::ZERO);
        }
        rec.streams[0].segments.insert(0, segment(0, 2, true, Some(3)));
        assert!(ledger(&rec).balances());
        // A second segment of 60 frames from a stream that produced only 60.
        rec.streams[0].segments.insert(1, segment(1, 4, true, Some(5)));
        let l = ledger(&rec);
        assert_eq!(l.overcounted, 60);
        assert!(!l.balances(), "{l:?}");
    }

    #[test]
    fn availability_counts_stale_time_only() {
        let mut rec = recorder(20);
        // Segments every 2 s from 2 s, except a gap between 6 s and 14 s.
        for (i, t) in [2, 4, 6, 14, 16, 18].into_iter().enumerate() {
            rec.streams[0]
                .segments
                .insert(i as u64, segment(i as u64, t, true, None));
        }
        // Stale from 6 + 3 = 9 s to 14 s, and fresh at the end (18 + 3 > 20).
        assert_eq!(outages(&rec, 0), vec![(SimTime::from_secs(9), SimTime::from_secs(14))]);
        let expected = 1.0 - 5.0 / 18.0;
        assert!((availability(&rec) - expected).abs() < 1e-12);
        // A window counts from the first segment, as the whole run does.
        let window = |rec: &Recorder, from: u64, to: u64| {
            windowed_metric(rec, "availability", SimTime::from_secs(from), SimTime::from_secs(to))
        };
        assert_eq!(window(&rec, 0, 20), Some(availability(&rec)));
        assert_eq!(window(&rec, 0, 10), Some(1.0 - 1.0 / 8.0));
        assert_eq!(window(&rec, 0, 2), None, "nothing had begun");
        assert_eq!(window(&rec, 10, 14), Some(0.0));
        // A second stream that never published is down throughout, window or not.
        rec.streams.push(Default::default());
        assert_eq!(availability(&rec), expected / 2.0);
        assert_eq!(window(&rec, 0, 20), Some(expected / 2.0));
        assert_eq!(window(&rec, 0, 2), Some(0.0));
        // From the warmup on.
        rec.streams.pop();
        rec.measure_from = SimTime::from_secs(10);
        assert_eq!(window(&rec, 0, 20), Some(availability(&rec)));
        assert_eq!(window(&rec, 0, 20), Some(1.0 - 4.0 / 10.0));
    }

    #[test]
    fn every_listed_metric_is_a_summary_key() {
        let rec = recorder(10);
        let facts = RunFacts {
            windows: Vec::new(),
            scenario: "t".into(),
            description: String::new(),
            seed: 1,
            wall_s: 0.0,
            events: 0,
            trace_digest: String::new(),
            messages_lost: 0,
        };
        let (summary, _, _) = summarize(&rec, &facts);
        let json = serde_json::to_value(&summary).unwrap();
        for path in METRICS {
            let value = path.split('.').try_fold(&json, |v, k| v.get(k));
            assert!(value.is_some_and(|v| v.is_number() || v.is_null()), "{path}");
        }
    }
}
