//! Redundancy modes compared on the same topology, fault and seeds.

mod common;

use common::balances;
use failcast::experiment::run_scenario;
use failcast::sim::Dispatch;
use failcast::time::SimDuration;

fn short(file: &str, extra: &[&str]) -> failcast::scenario::Scenario {
    let mut overrides = vec!["scenario.duration=12m", "viewers.count=100"];
    overrides.extend_from_slice(extra);
    common::scenario(file, &overrides)
}

#[test]
fn active_active_fails_over_faster_than_active_passive_on_every_seed() {
    let passive = short("scenarios/quickstart.toml", &[]);
    let active = short("scenarios/active-active.toml", &[]);
    for seed in [1, 2, 3] {
        let p = run_scenario(&passive, seed, None, false).unwrap().summary;
        let a = run_scenario(&active, seed, None, false).unwrap().summary;
        let (p_ms, a_ms) = (p.failover_latency_ms.max.unwrap(), a.failover_latency_ms.max.unwrap());
        assert!(
            a_ms < p_ms,
            "seed {seed}: active-active {a_ms} ms vs active-passive {p_ms} ms"
        );
        // The surviving pipeline had every frame: nothing is lost and nobody stalls.
        assert_eq!(a.frames_dropped.total, 0, "seed {seed}");
        assert_eq!(a.stall_count, 0, "seed {seed}");
        assert!(p.frames_dropped.ingest > 0);
        assert!(balances(&a) && balances(&p));
    }
}

#[test]
fn active_active_latency_is_the_input_loss_threshold_plus_transit() {
    for input_loss_ms in [500u64, 1_000, 2_000] {
        let setting = format!("ingest.input_loss={input_loss_ms}ms");
        let out = run_scenario(&short("scenarios/active-active.toml", &[&setting]), 1, None, false).unwrap();
        let e = &out.failovers[0];
        assert_eq!(e.kind, "failover");
        assert_eq!(e.from, "ingest-1");
        // The crash at 600 s kills ingest-1's copy of the segment completing just after;
        // ingest-2's copy reached the origin within ~60 ms (encoder → ingest → origin),
        // and the origin waited `input_loss` for ingest-1's.
        let latency = e.failover_latency_ms.unwrap();
        let transit = latency - input_loss_ms as f64;
        assert!(
            (0.0..100.0).contains(&transit),
            "{input_loss_ms} ms: latency {latency} ms"
        );
        assert_eq!(e.switched_ms, e.first_frame_ms.unwrap());
    }
}

#[test]
fn losing_both_pipelines_is_accounted_and_recovers_when_one_returns() {
    let mut scenario = short("scenarios/active-active.toml", &[]);
    let mut second = scenario.faults[0].clone();
    second.id = Some("second-crash".into());
    second.target = "ingest-2".into();
    second.at = failcast::scenario::Dur(SimDuration::from_secs(610));
    second.duration = Some(failcast::scenario::Dur(SimDuration::from_secs(30)));
    scenario.faults.push(second);
    scenario.expects.clear();
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let s = &out.summary;
    // 610–640 s no pipeline is alive; ingest-2 comes back at 640 s (ingest-1 only at 900 s).
    assert!(s.frames_dropped.ingest >= 30 * 30, "{}", s.frames_dropped.ingest);
    assert!(s.stall_count > 0);
    assert!(balances(s));
    // After its restart, ingest-2 is publishing again before the end of the run.
    let last = out.timeline.iter().rev().find(|r| r.frames_ingested > 0).unwrap();
    assert!(last.time_s >= 700);
}

#[test]
fn active_active_is_deterministic_across_dispatch_modes() {
    let scenario = short("scenarios/active-active.toml", &["viewers.count=30"]);
    let window = Dispatch::Window {
        lookahead: SimDuration::from_millis(1),
    };
    let mut a = run_scenario(&scenario, 9, Some(Dispatch::Strict), true).unwrap();
    let mut b = run_scenario(&scenario, 9, Some(window), true).unwrap();
    a.summary.wall_s = 0.0;
    b.summary.wall_s = 0.0;
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.failovers, b.failovers);
    assert_eq!(a.records, b.records);
}
