//! Per-viewer accounting: every frame a viewer was owed (published from its start
//! position up to where it got) was either played or skipped by it, exactly; and the
//! per-viewer files agree with the summary.

mod common;

use failcast::experiment::{run_scenario, RunOutput};
use failcast::metrics::viewer_rows;

fn owed(out: &RunOutput, stream: u32, first: u64, frontier: u64) -> u64 {
    out.published
        .iter()
        .filter(|&&(s, index, _)| s == stream && index >= first && index < frontier)
        .map(|&(_, _, frames)| u64::from(frames))
        .sum()
}

fn check_viewers(out: &RunOutput) {
    // Every viewer of these runs joins in the first 15 s and watches to the end, so each
    // has a range to check: a run whose viewers skipped the check would prove nothing.
    let viewers = out.scenario.viewers.count as usize;
    assert_eq!(out.viewers.len(), viewers);
    let mut checked = 0;
    for (id, v) in out.viewers.iter().enumerate() {
        let (Some(first), Some(frontier)) = (v.first_index, v.frontier) else {
            continue;
        };
        // The frontier may be a segment being loaded: it is owed but not yet played.
        let played_or_skipped = v.frames_played + v.frames_skipped;
        let upto = owed(out, v.stream, first, frontier);
        assert_eq!(played_or_skipped, upto, "viewer {id}: {v:?}");
        checked += 1;
    }
    assert_eq!(checked, viewers, "viewers with a range to check");
    let s = &out.summary;
    assert_eq!(
        s.viewer_frames_played,
        out.viewers.iter().map(|v| v.frames_played).sum::<u64>()
    );
    let rows = viewer_rows(&out.viewers);
    assert_eq!(rows.len(), out.viewers.len());
    let stalls: f64 = rows.iter().map(|r| r.stalls).sum();
    assert_eq!(stalls as u64, s.stall_count);
}

#[test]
fn every_owed_frame_is_played_or_skipped_by_each_viewer() {
    // An ingest failover (frames lost upstream are not owed), an edge crash with an
    // empty cache on restart (viewers jump: skipped), and a backup edge move.
    let quick = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    check_viewers(&quick);
    let edge = common::scenario(
        "scenarios/edge-failover.toml",
        &["scenario.duration=8m", "viewers.count=100", "cdn.backup_edges=0"],
    );
    let edge = run_scenario(&edge, 1, None, false).unwrap();
    check_viewers(&edge);
    assert!(edge.summary.viewer_frames_skipped > 0);
    // Segments lost between origin and edge are published but never listed by that
    // edge: its viewers pass over them, and those frames count as skipped by them.
    let lossy = run_scenario(
        &common::short_quickstart(&["viewers.count=40", "network.origin_edge.loss=0.05"]),
        1,
        None,
        false,
    )
    .unwrap();
    check_viewers(&lossy);
    assert!(lossy.summary.viewer_frames_skipped > 0);
    // Frames lost on the encoder's uplink make short segments (58, 59 frames): each
    // counts its own frames, not its duration rounded back to frames.
    let short = run_scenario(
        &common::short_quickstart(&["viewers.count=20", "network.encoder_ingest.loss=0.01"]),
        1,
        None,
        false,
    )
    .unwrap();
    assert!(short.published.iter().any(|&(_, _, frames)| frames % 3 != 0));
    check_viewers(&short);
}

#[test]
fn live_latency_is_about_three_segments_behind() {
    let out = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    // hls.js starts 3 segments (6 s) behind the newest, which is complete 2 s after its
    // first frame was captured: a segment starts playing 4–8 s after its capture.
    let p50 = out.summary.live_latency_s_p50.unwrap();
    assert!((4.0..8.0).contains(&p50), "{p50}");
    assert_eq!(out.viewers.len(), 200);
    for v in &out.viewers {
        assert!(v.latency_max.as_secs_f64() < 20.0, "{v:?}");
    }
}

/// The quickstart with its fault turned into an encoder stall of `stall` (the encoder
/// captures but sends nothing, so no segment is published for that long), 200 viewers.
fn encoder_stall(stall: &str) -> RunOutput {
    let duration = format!("fault[0].duration={stall}");
    let scenario = common::short_quickstart(&[
        "fault[0].kind=\"encoder.stall\"",
        "fault[0].target=encoder-1",
        &duration,
    ]);
    let out = failcast::experiment::run_scenario(&scenario, 1, None, false).unwrap();
    // Claims about every viewer need viewers.
    assert_eq!(out.viewers.len(), 200);
    out
}

#[test]
fn in_the_world_a_buffer_hides_a_shorter_outage_and_a_longer_one_costs_the_uncovered_gap() {
    // hls.js viewers start 3 segments (6 s) behind the newest: a publication gap that
    // fits in that cushion costs nobody a stall or a frame.
    for stall in ["1s", "2s"] {
        let out = encoder_stall(stall);
        assert!(
            out.summary.frames_dropped.ingest > 0,
            "the stall must cost frames at ingest"
        );
        assert_eq!(
            (out.summary.stall_count, out.summary.frames_dropped.player),
            (0, 0),
            "{stall}"
        );
        assert!(out.viewers.iter().all(|v| v.stalls == 0 && v.frames_skipped == 0));
    }
    // A 20 s stall: the origin publishes nothing for G seconds (the outage interval
    // begins 1.5 segments after the last publication). When the last segment before
    // the gap reaches a viewer, 3 to 4 segments (6-8 s) are buffered; the first one
    // after it is seen at the next reload of the unchanged playlist (≤ 1 s) and
    // downloaded. So each viewer's stall is G less its cushion plus at most that
    // second, and nothing is skipped: the stall is the uncovered gap.
    let out = encoder_stall("20s");
    let [(_, from, to)] = out.outages_s[..] else {
        panic!("one outage expected: {:?}", out.outages_s)
    };
    let gap = to - from + 3.0;
    let mut first_stall = std::collections::BTreeMap::new();
    for s in &out.stalls {
        first_stall.entry(s.viewer).or_insert(s.duration_s);
    }
    assert_eq!(first_stall.len(), out.viewers.len(), "every viewer stalls");
    for (viewer, stall) in first_stall {
        assert!(
            (gap - 8.0 - 0.2..=gap - 6.0 + 1.2).contains(&stall),
            "viewer {viewer}: stalled {stall} s for a {gap} s gap"
        );
    }
    assert!(out.viewers.iter().all(|v| v.frames_skipped == 0));
    assert_eq!(out.summary.frames_dropped.player, 0);
}

#[test]
fn viewer_frames_count_each_loss_once_per_viewer_who_should_have_seen_it() {
    // The quickstart's failover loses 240 frames at ingest; all 200 viewers watch
    // across it, so 48,000 viewer-frames are lost there, and nothing else.
    let out = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    let d = &out.summary.viewer_frames_dropped;
    assert_eq!(
        (d.ingest, d.distribution, d.player, d.total),
        (240 * 200, 0, 0, 240 * 200)
    );
    // origin-1's crash loses 2 segments (120 frames) of each of its 3 streams in
    // distribution; each stream has 50 of the 300 viewers.
    let scenario = common::scenario("scenarios/origin-failover.toml", &["viewers.count=300"]);
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let d = &out.summary.viewer_frames_dropped;
    assert_eq!(out.summary.frames_dropped.distribution, 3 * 120);
    assert_eq!((d.ingest, d.distribution, d.player), (0, 3 * 120 * 50, 0));
    // A dead edge loses nothing upstream, yet its viewers skip what they could not
    // fetch: stream frames are all shown (by others), viewer-frames are lost by players.
    let out = run_scenario(
        &common::scenario("scenarios/edge-failover.toml", &["viewers.count=100"]),
        1,
        None,
        false,
    )
    .unwrap();
    let d = &out.summary.viewer_frames_dropped;
    assert_eq!(out.summary.frames_dropped.total, 0);
    assert!(d.player > 0);
    assert_eq!(
        (d.ingest, d.distribution, d.player),
        (0, 0, out.summary.viewer_frames_skipped)
    );
}
