//! Several streams on shared ingest servers: placement spreads them, a server's failure
//! fails over exactly the streams it was primary for, and every other stream (and its
//! viewers) is untouched.

mod common;

use common::balances;
use failcast::experiment::{run_scenario, RunOutput};
use failcast::plan::place_streams;

fn multi_stream(overrides: &[&str]) -> RunOutput {
    let mut all = vec!["scenario.duration=14m", "viewers.count=300"];
    all.extend_from_slice(overrides);
    let scenario = common::scenario("scenarios/multi-stream.toml", &all);
    run_scenario(&scenario, 1, None, false).unwrap()
}

#[test]
fn placement_spreads_primaries_and_never_pairs_a_stream_on_one_server() {
    // Least loaded first; among equals the server with fewest primaries, then the lowest
    // index; the rest of each list from the least loaded.
    assert_eq!(
        place_streams(6, 4),
        vec![
            vec![0, 1, 2, 3],
            vec![2, 3, 0, 1],
            vec![1, 0, 2, 3],
            vec![3, 2, 0, 1],
            vec![0, 1, 2, 3],
            vec![2, 3, 0, 1],
        ]
    );
    // One stream on two servers: the layout every single-stream scenario always had.
    assert_eq!(place_streams(1, 2), vec![vec![0, 1]]);
}

/// Each failover episode as (stream, from, to).
fn switches(out: &RunOutput) -> Vec<(&str, &str, &str)> {
    (out.failovers.iter())
        .map(|e| (e.stream.as_str(), e.from.as_str(), e.to.as_str()))
        .collect()
}

/// Published segment indices of `stream`, in order.
fn published(out: &RunOutput, stream: u32) -> Vec<u64> {
    out.published.iter().filter(|p| p.0 == stream).map(|p| p.1).collect()
}

#[test]
fn a_server_crash_fails_over_only_the_streams_it_was_primary_for() {
    let out = multi_stream(&[]);
    let switched = switches(&out);
    assert_eq!(
        switched,
        [
            ("stream-1", "ingest-1", "ingest-2"),
            ("stream-5", "ingest-1", "ingest-2")
        ]
    );
    // Both switches are the quickstart's failover, to the nanosecond of detection.
    assert!(out.failovers.iter().all(|e| e.detected_by == "manager-1 health check"));
    assert_eq!(out.failovers[0].detected_ms, out.failovers[1].detected_ms);
    assert!(balances(&out.summary));
    for stream in 0..6u32 {
        let indices = published(&out, stream);
        let gaps = indices.windows(2).filter(|w| w[1] != w[0] + 1).count();
        let touched = stream == 0 || stream == 4;
        // A failed-over stream skips the segments lost at ingest; no other has a gap.
        assert_eq!(gaps > 0, touched, "stream-{}", stream + 1);
        for v in out.viewers.iter().filter(|v| v.stream == stream) {
            assert_eq!(v.stalls > 0, touched, "stream-{}: {v:?}", stream + 1);
        }
    }
    // Every viewer watches its own stream: 50 each.
    assert!((0..6).all(|k| out.viewers.iter().filter(|v| v.stream == k).count() == 50));
}

#[test]
fn a_second_crash_moves_each_stream_to_its_next_placed_server() {
    // ingest-1 is down from 600 s; ingest-2 dies at 660 s. Streams 1 and 5 (now on
    // ingest-2) and stream 3 (primary ingest-2, standby the dead ingest-1) all go to
    // their next choice, ingest-3.
    let mut scenario = common::scenario(
        "scenarios/multi-stream.toml",
        &["scenario.duration=14m", "viewers.count=300", "fault[0].duration=10m"],
    );
    let mut second = scenario.faults[0].clone();
    second.id = Some("second".into());
    second.at = failcast::scenario::Dur(failcast::time::SimDuration::from_secs(660));
    second.target = "ingest-2".into();
    scenario.faults.push(second);
    scenario.expects.clear();
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let switched = switches(&out);
    assert_eq!(
        switched,
        [
            ("stream-1", "ingest-1", "ingest-2"),
            ("stream-5", "ingest-1", "ingest-2"),
            ("stream-1", "ingest-2", "ingest-3"),
            ("stream-3", "ingest-2", "ingest-3"),
            ("stream-5", "ingest-2", "ingest-3"),
        ]
    );
    assert!(out.failovers[2..].iter().all(|e| e.fault == "second"));
    assert!(out.failovers.iter().all(|e| e.failover_latency_ms.is_some()));
    assert!(balances(&out.summary));
}

#[test]
fn multi_stream_runs_are_deterministic_across_dispatch_modes() {
    let scenario = common::scenario(
        "scenarios/multi-stream.toml",
        &["scenario.duration=11m", "viewers.count=60"],
    );
    common::assert_dispatch_modes_agree(&scenario, 3);
}

#[test]
fn an_origin_crash_moves_its_streams_to_the_other_origin_and_nothing_moves_back() {
    assert_eq!(failcast::plan::place_origins(6, 2), vec![0, 1, 0, 1, 0, 1]);
    let scenario = common::scenario("scenarios/origin-failover.toml", &["viewers.count=300"]);
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    // origin-1 is down from 600 s to 900 s; only its three streams switch, once each:
    // the return of origin-1 moves nothing back.
    assert_eq!(
        switches(&out),
        [
            ("stream-1", "origin-1", "origin-2"),
            ("stream-3", "origin-1", "origin-2"),
            ("stream-5", "origin-1", "origin-2"),
        ]
    );
    for e in &out.failovers {
        // Detected after 3 failed checks at 1 s (2-3.5 s), and the next segment (at
        // most 2 s later) is the first on the new path.
        let detect = e.time_to_detect_ms;
        assert!((2_000.0..3_500.0).contains(&detect), "{e:?}");
        let latency = e.failover_latency_ms.unwrap();
        assert!(latency > detect && latency < detect + 2_100.0, "{e:?}");
        assert_eq!(e.first_frame_ms, e.first_segment_ms);
    }
    // What was sent to the dead origin is lost in distribution, in whole segments;
    // nothing is lost at ingest.
    let s = &out.summary;
    assert_eq!(s.frames_dropped.ingest, 0);
    assert!(s.frames_dropped.distribution > 0 && s.frames_dropped.distribution.is_multiple_of(60));
    assert!(balances(s));
    for stream in [1u32, 3, 5] {
        for v in out.viewers.iter().filter(|v| v.stream == stream) {
            assert_eq!(v.stalls, 0, "stream-{}: {v:?}", stream + 1);
        }
    }
    assert_eq!(out.faults[0].detected_by.as_deref(), Some("manager-1 health check"));
}

#[test]
fn origin_failover_is_deterministic_across_dispatch_modes() {
    let scenario = common::scenario(
        "scenarios/origin-failover.toml",
        &["scenario.duration=11m", "viewers.count=60"],
    );
    common::assert_dispatch_modes_agree(&scenario, 2);
}

/// origin-failover's six streams on 2 origins with `faults` (target, at s, for s).
fn origins_with(faults: &[(&str, u64, u64)]) -> RunOutput {
    let mut scenario = common::scenario(
        "scenarios/origin-failover.toml",
        &["viewers.count=60", "scenario.duration=17m"],
    );
    let template = scenario.faults[0].clone();
    scenario.faults = (faults.iter().enumerate())
        .map(|(i, &(target, at, span))| {
            let mut f = template.clone();
            f.id = Some(format!("f{}", i + 1));
            f.target = target.into();
            f.at = failcast::scenario::Dur(failcast::time::SimDuration::from_secs(at));
            f.duration = Some(failcast::scenario::Dur(failcast::time::SimDuration::from_secs(span)));
            f
        })
        .collect();
    scenario.expects.clear();
    run_scenario(&scenario, 1, None, false).unwrap()
}

#[test]
fn a_stream_gets_its_own_origin_back_without_an_episode_when_all_were_down() {
    // origin-1 dies at 180 s (its streams move to origin-2); origin-2 dies at 240 s
    // with every stream on it and nowhere to go; it returns at 300 s. Only the first
    // three moves are failovers.
    let out = origins_with(&[("origin-1", 180, 180), ("origin-2", 240, 60)]);
    assert!(out.failovers.iter().all(|e| e.from != e.to), "{:?}", out.failovers);
    assert_eq!(out.summary.failovers, 3);
    assert!(balances(&out.summary));
}

#[test]
fn a_restarted_manager_sees_an_origin_that_came_back_while_it_was_down() {
    // origin-1 is down 180-360 s; the manager is down 240-480 s, so it never sees
    // origin-1 return. When origin-2 dies at 600 s its streams must still go to origin-1.
    let out = origins_with(&[("origin-1", 180, 180), ("manager-1", 240, 240), ("origin-2", 600, 300)]);
    let late: Vec<(&str, &str)> = (out.failovers.iter())
        .filter(|e| e.onset_ms >= 600_000.0)
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(late, [("origin-2", "origin-1"); 6]);
    assert!(out.failovers.iter().all(|e| e.from != e.to));
    assert!(out.summary.availability > 0.99, "{}", out.summary.availability);
}

#[test]
fn an_overloaded_server_sheds_its_last_stream_to_a_server_with_room() {
    let scenario = common::scenario(
        "scenarios/ingest-overload.toml",
        &["scenario.duration=14m", "viewers.count=300"],
    );
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    // ingest-3 (streams 2 and 6; 6 connected last) drops to one slot at 300 s: stream 6
    // moves to ingest-4, the first server in its list [3, 4, 1, 2] with a free slot. At
    // 600 s ingest-1 dies: stream 1 goes to its standby ingest-2; stream 5's standby
    // ingest-2 is then full (streams 3 and 1), ingest-3 has room again.
    assert_eq!(
        switches(&out),
        [
            ("stream-6", "ingest-3", "ingest-4"),
            ("stream-1", "ingest-1", "ingest-2"),
            ("stream-5", "ingest-1", "ingest-3"),
        ]
    );
    let moved = &out.failovers[0];
    assert_eq!(
        (moved.fault.as_str(), moved.detected_by.as_str()),
        ("transcoder-loss", "manager-1 load report")
    );
    // Detected by the first probe answer after the drop: within one probe interval
    // (1 s) and a control round trip.
    let detect_ms = moved.detected_ms - 300_000.0;
    assert!((0.0..1_003.0).contains(&detect_ms), "{detect_ms}");
    let fault = &out.faults.iter().find(|f| f.id == "transcoder-loss").unwrap();
    assert_eq!(fault.detected_by.as_deref(), Some("manager-1 load report"));
    // The move costs what a crash failover costs after detection (reconnect backoff,
    // keyframe), and nobody else: streams 2-4 never stall.
    assert!(balances(&out.summary));
    assert_eq!(out.summary.frames_dropped.player, 0);
    for v in out.viewers.iter().filter(|v| [1, 2, 3].contains(&v.stream)) {
        assert_eq!(v.stalls, 0, "{v:?}");
    }
    // Without the slot limit the crash sends stream 5 to its standby like stream 1.
    let unlimited = multi_stream(&[]);
    assert_eq!(unlimited.failovers[1].to, "ingest-2");
}
