//! Manager redundancy by lease: take-over timing, no split brain, and the split-brain
//! finding itself.

mod common;

use common::balances;
use failcast::experiment::run_scenario;
use failcast::metrics::{Recorder, StreamShape};
use failcast::scenario::{Dur, Fault};
use failcast::time::{SimDuration, SimTime};

fn pair(extra: &[&str]) -> failcast::scenario::Scenario {
    let mut overrides = vec!["scenario.duration=12m", "viewers.count=20"];
    overrides.extend_from_slice(extra);
    common::scenario("scenarios/manager-pair.toml", &overrides)
}

#[test]
fn the_standby_takes_over_within_a_lease_and_handles_the_failover() {
    let out = run_scenario(&pair(&[]), 1, None, false).unwrap();
    let s = &out.summary;
    assert_eq!(s.leader_changes, 2, "manager-1 at start, manager-2 after the crash");
    assert_eq!(s.split_brain_s, 0.0);
    assert_eq!(s.failovers, 1);
    assert!(out.failovers[0].failover_latency_ms.unwrap() < 8_000.0);
    assert!(balances(s));
}

#[test]
fn a_partitioned_leader_steps_down_before_the_standby_takes_over() {
    let mut scenario = pair(&[]);
    scenario.faults[0] = Fault {
        id: Some("manager-cut".into()),
        at: Dur(SimDuration::from_secs(300)),
        kind: "net.partition".into(),
        target: "manager-1".into(),
        duration: Some(Dur(SimDuration::from_secs(60))),
        ..Default::default()
    };
    for seed in [1, 2, 3] {
        let out = run_scenario(&scenario, seed, None, false).unwrap();
        // Cut off from the store, manager-1 stops leading 12 s after its last renewal;
        // manager-2 cannot win before 15 s after it: no instant with two leaders.
        assert_eq!(out.summary.split_brain_s, 0.0, "seed {seed}");
        assert_eq!(out.summary.leader_changes, 2, "seed {seed}");
        // manager-2, now leading, handles the ingest crash at 600 s.
        assert_eq!(out.summary.failovers, 1, "seed {seed}");
    }
}

#[test]
fn split_brain_is_the_exact_overlap_of_leaderships() {
    let shape = StreamShape {
        fps: 30,
        frames_per_segment: 60,
        segment: SimDuration::from_secs(2),
        end: SimTime::from_secs(100),
        viewers: 0,
        streams: 1,
        max_ingest_to_origin: SimDuration::ZERO,
    };
    let mut rec = Recorder::new(shape, Vec::new());
    let t = SimTime::from_secs;
    rec.leadership("manager-1", true, t(0));
    rec.leadership("manager-2", true, t(40));
    rec.leadership("manager-1", false, t(45));
    // A clean hand-over at the same instant is not a split.
    rec.leadership("manager-2", false, t(60));
    rec.leadership("manager-1", true, t(60));
    rec.leadership("manager-2", true, t(90));
    assert_eq!(rec.split_brain(), SimDuration::from_secs(5 + 10));
}

#[test]
fn an_ingest_crash_during_the_hand_over_waits_for_the_new_leader_and_is_recorded() {
    // manager-1 dies at 540 s; ingest-1 at 542 s. manager-2's policy sees the failure
    // while still standby and hands the switch over when it takes the lease, 13 to
    // 23.8 s after the crash (tests/leader_election.rs): 553 to 563.8 s.
    let out = run_scenario(&pair(&["fault[1].at=542s", "scenario.duration=15m"]), 1, None, false).unwrap();
    assert_eq!(out.summary.failovers, 1);
    let e = &out.failovers[0];
    assert_eq!(e.fault, "primary-crash");
    let latency = e.failover_latency_ms.unwrap();
    assert!((11_000.0..24_000.0).contains(&latency), "{latency}");
    assert!((553_000.0..563_800.0).contains(&e.switched_ms), "{}", e.switched_ms);
}

#[test]
fn a_partitioned_leader_cannot_move_the_address() {
    // manager-1 is cut off from everything at 540 s: it still leads for up to 10 s and
    // sees both ingest servers fail, but its promotion cannot reach them. Only the
    // real crash at 840 s fails over.
    let scenario = pair(&[
        "fault[0].kind=net.partition",
        "fault[0].duration=60s",
        "fault[1].at=14m",
        "scenario.duration=15m",
    ]);
    // Its checks declare a server down at most fall × interval + timeout after the cut;
    // it leads until renew_deadline after its last granted renewal, sent at most
    // retry_period before the cut. So it does want a switch while leading.
    let (health, lease) = (&scenario.ingest.health, &scenario.managers);
    let detected_within = health.interval.0 * u64::from(health.fall) + health.timeout.0;
    assert!(detected_within < lease.renew_deadline.0 - lease.retry_period.0);
    let out = run_scenario(&scenario, 4, None, false).unwrap();
    let faults: Vec<&str> = out.failovers.iter().map(|e| e.fault.as_str()).collect();
    assert_eq!(faults, ["primary-crash"]);
    assert_eq!(out.summary.frames_dropped.ingest, 240);
    assert_eq!(out.summary.split_brain_s, 0.0);
    // The cut took effect: manager-1 lost the lease, and manager-2, leading since,
    // fails the crash over (without the cut manager-1 leads throughout).
    assert_eq!(out.summary.leader_changes, 2);
    assert_eq!(out.failovers[0].detected_by, "manager-2 health check");
}

fn fault(id: &str, at_ms: u64, kind: &str, target: &str, for_ms: Option<u64>) -> Fault {
    Fault {
        id: Some(id.into()),
        at: Dur(SimDuration::from_millis(at_ms)),
        kind: kind.into(),
        target: target.into(),
        duration: for_ms.map(|ms| Dur(SimDuration::from_millis(ms))),
        ..Default::default()
    }
}

/// How often the leader re-sends the promotion it wants (`RECONCILE_PERIOD` in
/// src/actors/manager.rs), from 0 s on its timer.
const RECONCILE_MS: f64 = 2_000.0;

#[test]
fn a_failback_redone_by_reconciliation_is_still_a_failback() {
    // With prefer-primary the failback is decided at ~931.3 s (ingest-1 back at 900 s,
    // up after 2 answered probes, then held healthy for 30 s). ingest-1 is cut off for a
    // second from 931.3 s, so the promotion sent at the decision is lost; the
    // reconciliation carries it out, and the run without the cut shows the difference.
    let clean = common::scenario(
        "scenarios/quickstart.toml",
        &[
            "scenario.duration=17m",
            "viewers.count=20",
            "ingest.failback=prefer-primary",
        ],
    );
    let (cut_from, cut_for) = (931_300, 1_000);
    let mut cut = clean.clone();
    cut.faults
        .push(fault("blip", cut_from, "net.partition", "ingest-1", Some(cut_for)));
    let direct = run_scenario(&clean, 1, None, false).unwrap();
    let out = run_scenario(&cut, 1, None, false).unwrap();
    let kinds: Vec<&str> = out.failovers.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["failover", "failback"]);
    assert_eq!(out.summary.failover_latency_ms.count, 1);
    assert_eq!(
        out.failovers[0], direct.failovers[0],
        "the cut comes after the failover"
    );
    let (redone, direct) = (&out.failovers[1], &direct.failovers[1]);
    // Decided at the same instant in both runs, inside the cut.
    assert_eq!(redone.detected_ms, direct.detected_ms);
    let (cut_from, cut_to) = (cut_from as f64, (cut_from + cut_for) as f64);
    assert!(
        (cut_from..cut_to).contains(&redone.detected_ms),
        "{}",
        redone.detected_ms
    );
    // The promotion crosses the control link (1 ms + jitter capped at 10 × 100 µs) and
    // the address moves ingest.switch_delay (100 ms) later: at once without the cut,
    // from the first reconciliation after the cut with it.
    let direct_switch = direct.switched_ms - direct.detected_ms;
    assert!((101.0..=102.0).contains(&direct_switch), "{direct_switch}");
    let reconciliation = (cut_to / RECONCILE_MS).ceil() * RECONCILE_MS;
    let redone_switch = redone.switched_ms - reconciliation;
    assert!((101.0..=102.0).contains(&redone_switch), "{redone_switch}");
}

#[test]
fn a_new_leader_adopts_the_serving_server_instead_of_its_stale_view() {
    // manager-2 is down while manager-1 fails ingest-1 over; when manager-1 dies at
    // 20 min, manager-2 leads with a stale view (ingest-1 active) and must not move the
    // address back.
    let mut s = pair(&["scenario.duration=25m"]);
    s.faults = vec![
        fault("m2-crash", 540_000, "node.crash", "manager-2", Some(420_000)),
        fault("primary-crash", 600_000, "node.crash", "ingest-1", Some(300_000)),
        fault("m1-crash", 1_200_000, "node.crash", "manager-1", None),
    ];
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert_eq!(out.summary.failovers, 1, "{:?}", out.failovers);
    assert_eq!(out.summary.frames_dropped.ingest, 240);
    // manager-1's death did hand the lease over: the stale view was put to the test.
    assert_eq!(out.summary.leader_changes, 2);
}

#[test]
fn a_promotion_cut_short_by_a_crash_is_redone_and_recorded() {
    // ingest-2 blips for 20 ms just after being asked to take the address: the move
    // dies with the process, and the next reconciliation asks again.
    let mut s = common::scenario(
        "scenarios/quickstart.toml",
        &["scenario.duration=12m", "viewers.count=20"],
    );
    s.faults
        .push(fault("blip", 602_850, "node.crash", "ingest-2", Some(20)));
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert_eq!(out.summary.failovers, 1);
    let e = &out.failovers[0];
    assert!(e.switched_ms - e.detected_ms > 1_000.0, "{e:?}");
    assert!(balances(&out.summary));
}

#[test]
fn a_leader_crashed_after_its_renewal_deadline_stopped_leading_at_the_deadline() {
    // Cut from lease-1 at 300 s, manager-1 stops leading 12 s after its last renewal
    // (≈ 310 s), but it is paused from 303 s, so no timer reports it before the crash
    // at 320 s. The leadership still ends at the deadline, before manager-2 wins
    // (≥ 15 s after that renewal): no split brain.
    let mut scenario = pair(&[]);
    let mut cut = fault("cut", 300_000, "net.partition", "manager-1", Some(60_000));
    cut.other = Some("lease-1".into());
    scenario.faults = vec![
        cut,
        fault("pause", 303_000, "node.pause", "manager-1", Some(30_000)),
        fault("crash", 320_000, "node.crash", "manager-1", Some(20_000)),
    ];
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    assert_eq!(out.summary.split_brain_s, 0.0);
}

#[test]
fn an_answer_held_past_the_renewal_deadline_does_not_renew() {
    // lease-1 is paused 300-312 s: the renewal sent at 300 s gives up at 305 s and the
    // poll ends at 310 s. manager-1 is paused 304-330 s, so the store's answer (sent
    // at 312 s) reaches it at 330 s, after its deadline: it must not lead again.
    let mut scenario = pair(&[]);
    scenario.faults = vec![
        fault("store-pause", 300_000, "node.pause", "lease-1", Some(12_000)),
        fault("leader-pause", 304_000, "node.pause", "manager-1", Some(26_000)),
    ];
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    assert_eq!(out.summary.split_brain_s, 0.0);
}
