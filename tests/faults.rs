//! The fault vocabulary beyond crashes and partitions: each kind's effect on the world,
//! and that its end restores it (bundled scenarios, shortened).

mod common;

use common::balances;
use failcast::experiment::{run_scenario, RunOutput};

fn run(file: &str, overrides: &[&str]) -> RunOutput {
    let out = run_scenario(&common::scenario(file, overrides), 1, None, false).unwrap();
    assert!(balances(&out.summary), "{file}: the frame ledger balances");
    out
}

fn episodes(out: &RunOutput) -> Vec<(&str, &str)> {
    (out.failovers.iter())
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect()
}

#[test]
fn a_paused_server_is_detected_like_a_dead_one_and_wakes_up_on_stale_commands() {
    let short = ["scenario.duration=14m", "viewers.count=100"];
    let paused = run("scenarios/paused-ingest.toml", &short);
    let mut crashed_overrides = short.to_vec();
    crashed_overrides.push("fault[0].kind=node.crash");
    let crashed = run("scenarios/paused-ingest.toml", &crashed_overrides);
    // Unanswered probes are unanswered probes: detection to the nanosecond.
    assert_eq!(paused.failovers[0].detected_ms, crashed.failovers[0].detected_ms);
    assert_eq!(episodes(&crashed), [("ingest-1", "ingest-2")]);
    // At 720 s the server handles the promotions it held, takes the address back
    // (switch delay 100 ms), and the manager's reconciliation (every 2 s) returns it.
    assert_eq!(
        episodes(&paused),
        [
            ("ingest-1", "ingest-2"),
            ("ingest-2", "ingest-1"),
            ("ingest-1", "ingest-2")
        ]
    );
    let (grab, back) = (&paused.failovers[1], &paused.failovers[2]);
    assert!((720_100.0..720_110.0).contains(&grab.switched_ms), "{grab:?}");
    assert!(back.switched_ms - grab.switched_ms <= 2_110.0, "{back:?}");
    assert_eq!(grab.first_frame_ms, None);
    assert!(paused.summary.stall_count > crashed.summary.stall_count);
}

#[test]
fn a_slow_edge_stalls_only_its_own_viewers_and_no_check_sees_it() {
    let out = run(
        "scenarios/slow-edge.toml",
        &["scenario.duration=9m", "viewers.count=200"],
    );
    assert_eq!(out.summary.frames_dropped.total, 0);
    for v in &out.viewers {
        assert_eq!(v.stalls > 0, v.edge == "edge-2", "{v:?}");
    }
    let fault = &out.faults[0];
    assert_eq!((fault.kind.as_str(), fault.detected_by.as_deref()), ("node.slow", None));
    assert_eq!(fault.viewers_affected, 50);
    let rules: Vec<&str> = out.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(rules, ["viewers-stalling"]);
}

#[test]
fn a_stale_zone_holds_the_dns_flip_until_it_ends_and_an_outage_delays_the_encoder() {
    let out = run("scenarios/dns-trouble.toml", &["viewers.count=50"]);
    let failover = &out.failovers[0];
    assert_eq!(episodes(&out)[0], ("ingest-1", "ingest-2"));
    // The checkers saw the crash long before; the record flips when the zone takes
    // updates again (840 s), at that instant.
    assert!(failover.detected_ms < 700_000.0, "{failover:?}");
    assert_eq!(failover.switched_ms, 840_000.0);
    // The encoder reaches ingest-2 only after the name servers answer again (900 s).
    assert!(failover.first_frame_ms.unwrap() > 900_000.0, "{failover:?}");
}

#[test]
fn a_load_balancer_that_forwards_nothing_but_advertises_is_never_replaced() {
    let short = ["viewers.count=100"];
    let failed = run("scenarios/lb-data-plane.toml", &short);
    assert!(failed.failovers.is_empty());
    // Every viewer goes through lb-1 and waits out most of the 2 minutes.
    for v in &failed.viewers {
        assert!(v.stall_time.as_secs_f64() > 90.0, "{v:?}");
    }
    let crashed = run(
        "scenarios/lb-data-plane.toml",
        &["viewers.count=100", "fault[0].kind=node.crash"],
    );
    assert_eq!(episodes(&crashed)[0], ("lb-1", "lb-2"));
    assert!(crashed.viewers.iter().all(|v| v.stall_time.as_secs_f64() < 20.0));
}

#[test]
fn a_lagging_monitor_alerts_late_and_a_blind_one_not_at_all() {
    let out = run("scenarios/monitoring-faults.toml", &["viewers.count=50"]);
    // Two crashes; one alert: the one during the lag, 2 minutes late. The blind window
    // hides the second crash entirely.
    assert_eq!(out.failovers.iter().filter(|e| e.kind == "failover").count(), 2);
    assert_eq!(out.alerts.len(), 1, "{:?}", out.alerts);
    let alert = &out.alerts[0];
    assert_eq!(alert.rule, "ingest-down");
    assert_eq!(alert.fired_ms, alert.condition_since_ms + 30_000.0 + 120_000.0);
    assert_eq!(alert.notified_ms, Some(alert.fired_ms + 30_000.0));
    let second = out.faults.iter().find(|f| f.id == "second-crash").unwrap();
    assert_eq!(second.time_to_alert_s, None);
}

#[test]
fn a_fault_ends_even_for_a_node_that_is_down_or_cut_off_when_it_ends() {
    use failcast::scenario::{Dur, Fault};
    use failcast::time::SimDuration;
    let mut scenario = common::short_quickstart(&["viewers.count=20"]);
    let fault = |id: &str, kind: &str, target: &str, at_s: u64, for_s: u64| Fault {
        id: Some(id.into()),
        at: Dur(SimDuration::from_secs(at_s)),
        kind: kind.into(),
        target: target.into(),
        duration: Some(Dur(SimDuration::from_secs(for_s))),
        ..Default::default()
    };
    // The picture goes black for 60 s; the encoder is down when that ends, and the
    // ingest server it publishes to is cut off from everything.
    scenario.faults = vec![
        fault("black", "encoder.black", "encoder-1", 60, 60),
        fault("encoder-down", "node.crash", "encoder-1", 90, 60),
        fault("cut", "net.partition", "encoder-1", 100, 30),
    ];
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let content: Vec<_> = out.alerts.iter().filter(|a| a.rule == "input-content").collect();
    assert_eq!(content.len(), 1, "{:?}", out.alerts);
    // Resolved once the restarted encoder sends normal pictures again.
    assert!(content[0].resolved_ms.is_some_and(|ms| ms < 300_000.0), "{content:?}");
}

#[test]
fn a_slow_clock_on_the_leader_breaks_the_lease_guarantee() {
    // Half speed: cut off, manager-1 stops (2 + 10) / 0.5 = 24 s after its last
    // renewal; manager-2 wins 15 to 23.8 s after it (docs/model.md): both lead for
    // 0.2 to 9 s.
    let short = ["viewers.count=20"];
    let skewed = run("scenarios/clock-skew.toml", &short);
    let overlap = skewed.summary.split_brain_s;
    assert!(overlap > 0.2 && overlap < 9.0, "{overlap}");
    let mut fine = short.to_vec();
    fine.push("fault[0].drift=0.0001");
    assert_eq!(run("scenarios/clock-skew.toml", &fine).summary.split_brain_s, 0.0);
    // A fast clock only steps down earlier: never two leaders.
    let mut fast = short.to_vec();
    fast.push("fault[0].drift=1.0");
    assert_eq!(run("scenarios/clock-skew.toml", &fast).summary.split_brain_s, 0.0);
}

#[test]
fn a_fault_triggered_by_the_promotion_hits_it_in_flight_in_both_dispatch_modes() {
    let short = ["scenario.duration=14m", "viewers.count=30"];
    let out = run("scenarios/standby-dies.toml", &short);
    let standby = out.faults.iter().find(|f| f.id == "standby-crash").unwrap();
    let failover = &out.failovers[0];
    // The manager decided at detection; the standby dies 50 ms later, before the
    // address moves (100 ms), so the switch waits for its restart a minute on.
    assert_eq!(standby.start_s * 1e3, failover.detected_ms + 50.0);
    assert!(failover.switched_ms > (standby.end_s.unwrap()) * 1e3, "{failover:?}");
    assert_eq!(out.failovers.len(), 1);
    common::assert_dispatch_modes_agree(&common::scenario("scenarios/standby-dies.toml", &short), 1);
    // Never fired: a trigger armed after the only failover lists nothing.
    let late = run(
        "scenarios/standby-dies.toml",
        &["scenario.duration=14m", "viewers.count=30", "fault[1].at=11m"],
    );
    assert!(late.faults.iter().all(|f| f.id != "standby-crash"));
    assert!(late.failovers[0].switched_ms < 604_000.0);
}

/// Runs `source` (a whole scenario) with seed 1, keeping the event log.
fn run_text(source: &str) -> RunOutput {
    let scenario = failcast::scenario::load_str("t.toml", source, &[]).unwrap_or_else(|e| panic!("{e}"));
    let out = run_scenario(&scenario, 1, None, true).unwrap();
    assert!(balances(&out.summary));
    out
}

#[test]
fn a_fault_that_starts_or_ends_on_a_down_or_hung_node_does_not_make_it_act() {
    // manager-1 (the leader) is down from 30 to 70 s; a clock change starts and ends
    // meanwhile. It must not renew its lease or probe while down: manager-2 takes over.
    let source = "[scenario]\nname = \"t\"\nduration = \"2m\"\n[managers]\ncount = 2\n[viewers]\ncount = 20\n\
        [[fault]]\nat = \"30s\"\nkind = \"node.crash\"\ntarget = \"manager-1\"\nduration = \"40s\"\n\
        [[fault]]\nat = \"40s\"\nkind = \"clock.skew\"\ntarget = \"manager-1\"\ndrift = 0.001\nduration = \"10s\"\n\
        [[fault]]\nat = \"35s\"\nkind = \"node.pause\"\ntarget = \"manager-2\"\nduration = \"10s\"\n\
        [[fault]]\nat = \"38s\"\nkind = \"clock.skew\"\ntarget = \"manager-2\"\ndrift = 0.001\nduration = \"4s\"\n";
    let out = run_text(source);
    let names = &out.node_names;
    let id = |name: &str| names.iter().position(|n| n == name).unwrap() as u32;
    let records = out.records.as_ref().unwrap();
    let sent_by = |node: u32, from_s: f64, to_s: f64| {
        (records.iter())
            .filter(|r| r.src == node && (from_s..to_s).contains(&(r.time.as_nanos() as f64 / 1e9)))
            .count()
    };
    assert_eq!(sent_by(id("manager-1"), 30.0, 70.0), 0, "a dead manager sent");
    assert_eq!(sent_by(id("manager-2"), 35.0, 45.0), 0, "a hung manager sent");
    common::assert_dispatch_modes_agree(&failcast::scenario::load_str("t.toml", source, &[]).unwrap(), 1);
}

#[test]
fn triggers_fire_on_when_events_were_seen_in_both_dispatch_modes() {
    // A hung manager with fall = 1 reports failures stamped at old probe deadlines
    // when it wakes; the trigger fires after it saw them, and both modes agree.
    let source = "[scenario]\nname = \"t\"\nduration = \"2m\"\n[ingest]\nhealth = { interval = \"1s\", timeout = \"500ms\", fall = 1, rise = 2 }\n\
        [viewers]\ncount = 20\n\
        [[fault]]\nat = \"30s\"\nkind = \"node.pause\"\ntarget = \"manager-1\"\nduration = \"10s\"\n\
        [[fault]]\nid = \"trig\"\nat = \"30s\"\nkind = \"node.crash\"\ntarget = \"edge-1\"\nduration = \"5s\"\non = \"failure.detected\"\n";
    let out = run_text(source);
    let trig = out.faults.iter().find(|f| f.id == "trig").unwrap();
    assert!(trig.start_s >= 40.0, "{trig:?}");
    common::assert_dispatch_modes_agree(&failcast::scenario::load_str("t.toml", source, &[]).unwrap(), 1);
    // failover.completed also comes from a VRRP takeover's first request.
    let lb = common::scenario(
        "scenarios/hardware-lb.toml",
        &["viewers.count=40", "fault[0].at=2m", "scenario.duration=5m"],
    );
    let mut lb = lb;
    lb.faults.push(failcast::scenario::Fault {
        id: Some("after-completed".into()),
        kind: "node.crash".into(),
        target: "edge-1".into(),
        duration: Some(failcast::scenario::Dur(failcast::time::SimDuration::from_secs(10))),
        on: Some("failover.completed".into()),
        ..Default::default()
    });
    let out = run_scenario(&lb, 1, None, false).unwrap();
    let takeover = &out.failovers[0];
    let fired = out.faults.iter().find(|f| f.id == "after-completed").unwrap();
    assert!(fired.start_s * 1e3 >= takeover.first_frame_ms.unwrap(), "{fired:?}");
}

#[test]
fn a_hung_encoder_resumes_on_the_stream_clock() {
    let source = "[scenario]\nname = \"t\"\nduration = \"2m\"\n[viewers]\ncount = 20\n\
        [[fault]]\nat = \"30s\"\nkind = \"node.pause\"\ntarget = \"encoder-1\"\nduration = \"10s\"\n";
    let out = run_text(source);
    // 2 min at 30 fps less the 10 s hung (never captured), give or take a frame.
    let produced = out.summary.frames_produced as i64;
    assert!((produced - 110 * 30).abs() <= 2, "{produced}");
    common::assert_dispatch_modes_agree(&failcast::scenario::load_str("t.toml", source, &[]).unwrap(), 1);
}

#[test]
fn a_lag_that_ends_between_firing_and_notification_keeps_them_in_order() {
    let source = "[scenario]\nname = \"t\"\nduration = \"10m\"\n[viewers]\ncount = 20\n\
        [[fault]]\nat = \"1m\"\nkind = \"monitor.delay\"\ntarget = \"monitor-1\"\ndelay = \"2m\"\nduration = \"150s\"\n\
        [[fault]]\nat = \"1m\"\nkind = \"monitor.delay\"\ntarget = \"monitor-1\"\ndelay = \"1m\"\nduration = \"60s\"\n\
        [[fault]]\nat = \"150s\"\nkind = \"node.crash\"\ntarget = \"ingest-1\"\nduration = \"3m\"\n";
    let out = run_text(source);
    let alert = &out.alerts[0];
    // Fired with the 2 min lag in force (the shorter one's end does not cancel it);
    // its notification and resolution keep it.
    assert_eq!(alert.fired_ms, alert.condition_since_ms + 30_000.0 + 120_000.0);
    assert_eq!(alert.notified_ms, Some(alert.fired_ms + 30_000.0));
    assert!(alert.resolved_ms.unwrap() > alert.notified_ms.unwrap());
}
