//! Turns a finished run's [`Recorder`] into the summary, the timeline and the failover
//! table: the frame ledger, latency quantiles, stall totals and availability.

mod availability;
mod ledger;
mod rows;
mod windowed;

pub use availability::*;
pub use ledger::*;
pub use rows::*;
pub use windowed::*;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::quantile::nearest_rank;
use super::{Fill, Recorder, ViewerRecord, ALL_STREAMS, NODE_BIN_S};
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
/// How long a stall lasted, in the bands the headline and `summary.json` count: under
/// 0.1 s (a wait a viewer may not notice), 0.1 s to 1 s, and 1 s or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StallBand {
    Under100Ms,
    From100MsTo1S,
    From1S,
}

impl StallBand {
    pub fn of(stalled: SimDuration) -> StallBand {
        if stalled < SimDuration::from_millis(100) {
            StallBand::Under100Ms
        } else if stalled < SimDuration::from_secs(1) {
            StallBand::From100MsTo1S
        } else {
            StallBand::From1S
        }
    }
}

/// Stalls counted by [`StallBand`]; a stall still under way at the end of the run
/// counts by how long it had lasted. The three add up to `stall_count`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallBands {
    pub under_100ms: u64,
    #[serde(rename = "100ms_to_1s")]
    pub from_100ms_to_1s: u64,
    #[serde(rename = "1s_and_over")]
    pub from_1s: u64,
}

impl StallBands {
    /// The stalls that began once measuring did (those `stall_count` counts).
    fn of(rec: &Recorder) -> StallBands {
        let mut bands = StallBands::default();
        for (began, ended) in stall_intervals(rec).filter(|&(began, _)| began >= rec.measure_from) {
            match StallBand::of(ended - began) {
                StallBand::Under100Ms => bands.under_100ms += 1,
                StallBand::From100MsTo1S => bands.from_100ms_to_1s += 1,
                StallBand::From1S => bands.from_1s += 1,
            }
        }
        bands
    }

    pub fn total(&self) -> u64 {
        self.under_100ms + self.from_100ms_to_1s + self.from_1s
    }
}

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
    /// `stall_count` by how long each stall lasted: most stalls of a live player are
    /// short waits for a segment, and the few long ones are what viewers notice.
    #[serde(default)]
    pub stall_count_by_duration: StallBands,
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
    /// Fatal player errors after which the host prepared the player again (media3),
    /// summed over viewers.
    #[serde(default)]
    pub viewer_fatal_errors: u64,
    /// Viewers whose player stopped for good: Shaka's live window emptied after a
    /// splice.
    #[serde(default)]
    pub viewers_stranded: u64,
    /// Seconds of slate watched, summed over viewers (`ingest.input_loss_action =
    /// "slate"`): time the player was not stalled but showed no content.
    #[serde(default)]
    pub viewer_slate_s: f64,
    /// Slate segments and `EXT-X-GAP` entries the origins published in place of
    /// lost input, over every stream.
    #[serde(default)]
    pub slate_segments: u64,
    #[serde(default)]
    pub gap_segments: u64,
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

fn ms(t: SimTime) -> f64 {
    t.as_millis_f64()
}

/// The whole second `t` falls in.
fn bin_of_s(t: SimTime) -> usize {
    (t.as_nanos() / 1_000_000_000) as usize
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
        stall_count_by_duration: StallBands::of(rec),
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
        viewer_fatal_errors: rec.viewers.iter().map(|v| u64::from(v.fatal_errors)).sum(),
        viewers_stranded: rec.viewers.iter().filter(|v| v.stranded_at.is_some()).count() as u64,
        viewer_slate_s: rec.viewers.iter().map(|v| v.slate_time.as_secs_f64()).sum(),
        slate_segments: fillers(rec, Fill::Slate),
        gap_segments: fillers(rec, Fill::Gap),
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

impl Summary {
    /// The value of a dotted metric path; `None` when it has no value (e.g. no failover).
    pub fn metric(&self, path: &str) -> Option<f64> {
        let json = serde_json::to_value(self).expect("a summary always serialises");
        path.split('.').try_fold(&json, |value, key| value.get(key))?.as_f64()
    }
}

/// How many of `fill` the origins published, over every stream.
fn fillers(rec: &Recorder, fill: Fill) -> u64 {
    (rec.streams.iter())
        .map(|stream| stream.fillers.values().filter(|&&f| f == fill).count() as u64)
        .sum()
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
        for frame in 0..600 {
            rec.frame_produced(0, frame, SimTime::ZERO);
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
    fn frames_an_encoder_never_captured_are_not_lost_anywhere() {
        // Captured 0..60, down for a segment, then 120..180 on the stream clock.
        let mut rec = recorder(20);
        for frame in (0..60).chain(120..180) {
            rec.frame_produced(0, frame, SimTime::ZERO);
        }
        rec.streams[0].segments.insert(0, segment(0, 2, true, Some(3)));
        rec.streams[0].segments.insert(2, segment(2, 6, true, Some(7)));
        rec.streams[0].ingest_floor = Some(180);
        rec.viewers[0] = ViewerRecord {
            first_index: Some(0),
            frontier: Some(3),
            ..ViewerRecord::default()
        };
        let l = ledger(&rec);
        assert_eq!((l.produced, l.played, l.dropped.total, l.in_flight), (120, 120, 0, 0));
        assert!(l.balances(), "{l:?}");
        // Half of the second capture never reached a packager (lost at ingest), the
        // other half never reached the origin (lost in distribution); no packager is
        // left to send more.
        rec.streams[0].segments.remove(&2);
        rec.segment_packaged(0, 2, 150, 30, SimTime::from_secs(6));
        rec.streams[0].ingest_floor = None;
        let l = ledger(&rec);
        assert_eq!((l.dropped.ingest, l.dropped.distribution), (30, 30));
        assert!(l.balances(), "{l:?}");
    }

    #[test]
    fn frames_a_stage_miscounts_are_not_passed_off_as_lost_at_ingest() {
        let mut rec = recorder(20);
        for frame in 0..120 {
            rec.frame_produced(0, frame, SimTime::ZERO);
        }
        rec.streams[0].segments.insert(0, segment(0, 2, true, Some(3)));
        rec.streams[0].segments.insert(1, segment(1, 4, true, Some(5)));
        rec.viewers[0] = ViewerRecord {
            first_index: Some(0),
            frontier: Some(2),
            ..ViewerRecord::default()
        };
        assert!(ledger(&rec).balances());
        // The origin wrongly takes half of segment 1 for media it already had: 30
        // frames vanish from the published count. Every frame reached a packager, so
        // none is lost at ingest, and the ledger no longer balances.
        rec.streams[0].segments.get_mut(&1).unwrap().overlap_frames = 30;
        let l = ledger(&rec);
        assert_eq!((l.played, l.dropped.ingest), (90, 0));
        assert!(!l.balances(), "{l:?}");
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
            for frame in 0..120 {
                rec.frame_produced(stream, frame, SimTime::ZERO);
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
        for frame in 0..60 {
            rec.frame_produced(0, frame, SimTime::ZERO);
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
