//! Regression tests for crash/restart of every node kind, loss between ingest and
//! origin, and failback: each failure is accounted at the right stage and the world
//! recovers.

mod common;

use common::balances;

use failcast::experiment::run_scenario;
use failcast::scenario::{Dur, Fault, Scenario};
use failcast::time::SimDuration;

fn crash(target: &str, at_s: u64, for_s: Option<u64>) -> Fault {
    Fault {
        id: Some(format!("{target}-crash-{at_s}")),
        at: Dur(SimDuration::from_secs(at_s)),
        kind: "node.crash".into(),
        target: target.into(),
        duration: for_s.map(|d| Dur(SimDuration::from_secs(d))),
        ..Default::default()
    }
}

fn with_faults(overrides: &[&str], faults: Vec<Fault>) -> Scenario {
    let mut overrides = overrides.to_vec();
    overrides.extend(["scenario.duration=5m", "viewers.count=20", "fault[0].at=30s"]);
    let mut scenario = common::scenario("scenarios/quickstart.toml", &overrides);
    scenario.faults = faults;
    scenario.expects.clear();
    scenario
}

#[test]
fn a_restarted_encoder_captures_again() {
    let scenario = with_faults(&[], vec![crash("encoder-1", 60, Some(10))]);
    let s = run_scenario(&scenario, 1, None, false).unwrap().summary;
    // 300 s at 30 fps less the 10 s the encoder was down (and its reconnect).
    assert!(
        s.frames_produced > 30 * 285 && s.frames_produced <= 30 * 290,
        "{}",
        s.frames_produced
    );
    assert!(s.availability > 0.95, "{}", s.availability);
    assert!(balances(&s));
}

#[test]
fn a_restarted_manager_checks_again_and_fails_over() {
    let scenario = with_faults(
        &[],
        vec![crash("manager-1", 60, Some(10)), crash("ingest-1", 120, Some(60))],
    );
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    assert_eq!(out.summary.failovers, 1);
    assert_eq!(out.failovers[0].fault, "ingest-1-crash-120");
    assert!(out.failovers[0].failover_latency_ms.unwrap() < 8_000.0);
}

#[test]
fn segments_lost_on_the_way_to_a_dead_origin_are_distribution_drops() {
    let scenario = with_faults(&[], vec![crash("origin-1", 60, Some(10))]);
    let s = run_scenario(&scenario, 1, None, false).unwrap().summary;
    assert_eq!(s.frames_dropped.ingest, 0);
    // Five 2 s segments were packaged while the origin was down.
    assert_eq!(s.frames_dropped.distribution, 5 * 60);
    assert!(balances(&s));
}

#[test]
fn failback_is_its_own_episode_and_a_stale_session_is_not_reused() {
    let scenario = with_faults(
        &["ingest.failback=prefer-primary", "ingest.failback_hold=30s"],
        vec![crash("ingest-1", 60, Some(30)), crash("ingest-1", 180, None)],
    );
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let kinds: Vec<&str> = out.failovers.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds, ["failover", "failback", "failover"]);
    assert_eq!((out.summary.failovers, out.summary.failbacks), (2, 1));
    // The second failover returns to ingest-2, whose old connection went idle and was
    // dropped: the encoder reconnects and waits for a keyframe, exactly as the first time.
    let first = out.failovers[0].failover_latency_ms.unwrap();
    let third = out.failovers[2].failover_latency_ms.unwrap();
    assert!((first - third).abs() < 5.0, "{first} vs {third}");
    // Failback latency stays out of the failover statistics.
    assert_eq!(out.summary.failover_latency_ms.count, 2);
    // Whole segments are lost, never partial GOPs.
    assert_eq!(out.summary.frames_dropped.ingest % 60, 0);
    assert!(balances(&out.summary));
}

#[test]
fn a_manager_partition_blames_the_partition() {
    let mut scenario = with_faults(&[], vec![]);
    scenario.faults.push(Fault {
        id: Some("manager-cut".into()),
        at: Dur(SimDuration::from_secs(60)),
        kind: "net.partition".into(),
        target: "manager-1".into(),
        duration: Some(Dur(SimDuration::from_secs(60))),
        ..Default::default()
    });
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    // Cut off, the manager sees every server fail; nothing is switched while all look
    // down. When the cut heals, whichever server rises first wins: a needless failover.
    assert!(!out.failovers.is_empty());
    for episode in &out.failovers {
        assert_eq!(episode.fault, "manager-cut");
        assert!(episode.switched_ms >= 120_000.0);
    }
    assert!(balances(&out.summary));
}
