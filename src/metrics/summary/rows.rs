//! The per-row tables a run writes: viewers, faults, nodes, alerts, failovers and the
//! per-second timeline.

use super::*;
use crate::names::StreamName;

/// One row of `stalls.csv`: a stall a viewer recovered from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StallRow {
    pub viewer: u32,
    /// When playback resumed.
    pub resumed_s: f64,
    pub duration_s: f64,
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
pub(super) fn count<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
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

pub(super) fn viewer_row(id: usize, v: &ViewerRecord) -> ViewerRow {
    let watched = (v.play_time + v.stall_time).as_secs_f64();
    ViewerRow {
        viewer: id.to_string(),
        edge: v.edge.clone(),
        stream: StreamName(v.stream as usize).to_string(),
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

pub(super) fn in_window(f: &crate::metrics::FaultRecord, at: SimTime) -> bool {
    at >= f.onset && f.end.is_none_or(|end| at <= end + ALERT_GRACE)
}

/// Viewers (those `watches` accepts) whose playback stalled in `[from, until)`, each
/// with when its first such stall ended (`None`: still stalled at the end).
pub(super) fn stalled_in(
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
pub(super) fn sorted_ms_since(onset: SimTime, times: impl Iterator<Item = SimTime>) -> Vec<f64> {
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
                .map_or(String::new(), |c| {
                    format!("players ({})", crate::metrics::FAILURE_NAMES[c])
                });
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
                StreamName(e.stream).to_string()
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
