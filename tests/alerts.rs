//! Monitoring: alert times follow from the scrape interval, the rule's `for` and the
//! notification delay, exactly.

mod common;

use failcast::experiment::run_scenario;

#[test]
fn ingest_down_alert_times_are_exact() {
    // Scrapes every 15 s from 15 s. ingest-1 dies at 600 s: the scrape sent at 600 s is
    // unanswered, seen at the 615 s evaluation; `for = 30s` fires at 645 s; Alertmanager
    // notifies 30 s later. It restarts at 900 s, answers the 900 s scrape, and the alert
    // resolves after `clear_for = 30s` at 945 s.
    let scenario = common::scenario(
        "scenarios/quickstart.toml",
        &["scenario.duration=17m", "viewers.count=20"],
    );
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    type Row<'a> = (&'a str, f64, f64, Option<f64>, Option<f64>);
    let rows: Vec<Row> = out
        .alerts
        .iter()
        .map(|a| {
            (
                a.rule.as_str(),
                a.condition_since_ms,
                a.fired_ms,
                a.notified_ms,
                a.resolved_ms,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![("ingest-down", 615_000.0, 645_000.0, Some(675_000.0), Some(945_000.0))]
    );
    assert_eq!(out.summary.alerts_fired, 1);
}

#[test]
fn a_long_outage_fires_stale_and_stalling_alerts_a_short_one_does_not() {
    let long = common::scenario(
        "scenarios/dns-failover.toml",
        &["scenario.duration=15m", "viewers.count=20", "dns.violator_share=0"],
    );
    let out = run_scenario(&long, 1, None, false).unwrap();
    let rules: Vec<&str> = out.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert!(
        rules.contains(&"stream-stale") && rules.contains(&"viewers-stalling"),
        "{rules:?}"
    );
    // Every alert fired no earlier than its condition plus its hold.
    for alert in &out.alerts {
        assert!(alert.fired_ms >= alert.condition_since_ms);
        assert_eq!(alert.notified_ms, Some(alert.fired_ms + 30_000.0));
    }

    // Active-active hides the crash from viewers: only the ingest alert fires.
    let short = common::scenario(
        "scenarios/active-active.toml",
        &["scenario.duration=12m", "viewers.count=20"],
    );
    let out = run_scenario(&short, 1, None, false).unwrap();
    let rules: Vec<&str> = out.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(rules, ["ingest-down"]);
}

#[test]
fn custom_rules_replace_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.toml");
    let mut text = std::fs::read_to_string(common::repo_path("scenarios/quickstart.toml")).unwrap();
    text.push_str(
        "\n[monitor]\nscrape_interval = \"2s\"\nnotify_delay = \"0s\"\n\n[[alert]]\nname = \"any-stall\"\n\
         metric = \"viewers_stalled_ratio\"\nop = \"gt\"\nthreshold = 0.5\n",
    );
    std::fs::write(&file, text).unwrap();
    let overrides = vec!["scenario.duration=12m".to_string(), "viewers.count=20".to_string()];
    let scenario = failcast::scenario::load(&file, &overrides).unwrap();
    assert_eq!(scenario.alerts.len(), 1);
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    // Every viewer is stalled from ~605.5 s to ~608 s: the 606 s scrape sees it, and the
    // 608 s evaluation fires (no `for`, no notification delay). A 5 s scrape would
    // straddle this stall and miss it.
    assert!(out.alerts.iter().all(|a| a.rule == "any-stall"));
    assert!(!out.alerts.is_empty());
    let first = &out.alerts[0];
    assert!((600_000.0..615_000.0).contains(&first.fired_ms), "{first:?}");
    assert_eq!(first.notified_ms, Some(first.fired_ms));
}

#[test]
fn a_restarted_monitor_neither_invents_alerts_nor_misdates_notifications() {
    let mut scenario = common::scenario(
        "scenarios/quickstart.toml",
        &["scenario.duration=17m", "viewers.count=20"],
    );
    // Down from 90.001 s to 100.001 s: the 90 s round's answers are lost. And again
    // from 670 s to 680 s, across the ingest-down notification due at 675 s.
    for (at_ms, id) in [(90_001u64, "monitor-blip"), (670_000, "monitor-crash")] {
        scenario.faults.push(failcast::scenario::Fault {
            id: Some(id.into()),
            at: failcast::scenario::Dur(failcast::time::SimDuration::from_millis(at_ms)),
            kind: "node.crash".into(),
            target: "monitor-1".into(),
            duration: Some(failcast::scenario::Dur(failcast::time::SimDuration::from_secs(10))),
            ..Default::default()
        });
    }
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let rules: Vec<&str> = out.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(rules, ["ingest-down"], "no alert from the lost round");
    let alert = &out.alerts[0];
    // The notification could only leave after the restart, and says so.
    assert!(alert.notified_ms.unwrap() >= 680_000.0, "{alert:?}");
    assert!(alert.notified_ms.unwrap() >= alert.fired_ms + 30_000.0);
}

/// The quickstart with its fault (at 600 s, two minutes long) turned into `kind` on
/// `target`, twenty viewers, seventeen minutes.
fn fault_on(target: &str, kind: &str) -> failcast::experiment::RunOutput {
    let target = format!("fault[0].target={target}");
    let kind = format!("fault[0].kind={kind}");
    let scenario = common::scenario(
        "scenarios/quickstart.toml",
        &[
            "scenario.duration=17m",
            "viewers.count=20",
            "fault[0].duration=2m",
            &target,
            &kind,
        ],
    );
    run_scenario(&scenario, 1, None, false).unwrap()
}

#[test]
fn a_partitioned_origin_is_detected_by_its_missed_scrape_and_alerted_as_stale() {
    // No health check probes the origin. Scrapes go out every 15 s; the one sent at
    // 600 s, as the partition begins, goes unanswered, and the 615 s evaluation sees the
    // origin down. Its staleness grows from its last answer (under one segment, 2 s)
    // with the time since: 15-17 s at 615 s, over the 10 s threshold, so stream-stale
    // holds from 615 s, fires after `for = 15s` at 630 s and is notified at 660 s.
    let out = fault_on("origin-1", "net.partition");
    let fault = &out.faults[0];
    assert_eq!(
        (fault.time_to_detect_s, fault.time_to_alert_s),
        (Some(15.0), Some(60.0))
    );
    assert_eq!(fault.detected_by.as_deref(), Some("monitor-1 scrape"));
    let stale = out.alerts.iter().find(|a| a.rule == "stream-stale").unwrap();
    assert_eq!((stale.condition_since_ms, stale.fired_ms), (615_000.0, 630_000.0));
}

#[test]
fn a_partitioned_manager_is_detected_by_the_monitor_not_by_the_failover_it_causes() {
    // The cut-off manager sees ingest-1 fail its checks 2.8 s in and decides to fail
    // over; its command waits for the partition to heal and then moves a healthy
    // stream: a needless failover the fault is blamed for. That episode detects
    // ingest-1, not the manager: the manager's own detection is the monitor's, at the
    // first evaluation after the unanswered 600 s scrape.
    let out = fault_on("manager-1", "net.partition");
    assert_eq!(out.faults[0].time_to_detect_s, Some(15.0));
    let episode = &out.failovers[0];
    assert_eq!(
        (episode.fault.as_str(), episode.from.as_str()),
        ("primary-crash", "ingest-1")
    );
    assert!(episode.switched_ms >= 720_000.0, "{episode:?}");
    assert!(out.summary.frames_dropped.ingest > 0);
}

#[test]
fn an_encoder_crash_is_detected_by_the_ingest_content_check() {
    // Input loss after 1 s (MediaLive's threshold) at the ingest, long before the
    // monitor's next scrape; measured from the last frame's arrival, so just under 1 s.
    let out = fault_on("encoder-1", "node.crash");
    let detect = out.faults[0].time_to_detect_s.unwrap();
    assert!((0.95..1.0).contains(&detect), "{detect}");
    assert_eq!(out.faults[0].detected_by.as_deref(), Some("ingest-1 content check"));
}

#[test]
fn nothing_watches_the_monitor() {
    let out = fault_on("monitor-1", "node.crash");
    assert_eq!(
        (out.faults[0].time_to_detect_s, out.faults[0].time_to_alert_s),
        (None, None)
    );
    assert!(out.alerts.is_empty());
}

#[test]
fn a_node_down_rule_fires_for_a_silent_edge_and_resolves_when_it_answers() {
    // edge-2 is cut off from 600 s to 720 s. The 600 s scrape goes unanswered: the rule
    // holds from the 615 s evaluation and fires after `for = 30s`. The 720 s scrape is
    // answered, so the 735 s evaluation sees nothing down and the rule clears after
    // `clear_for = 30s`, at 765 s.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node-down.toml");
    let mut text = std::fs::read_to_string(common::repo_path("scenarios/quickstart.toml")).unwrap();
    text.push_str(
        "\n[[alert]]\nname = \"node-down\"\nmetric = \"nodes_down\"\nop = \"gt\"\nthreshold = 0\n\
         for = \"30s\"\nclear_for = \"30s\"\n",
    );
    std::fs::write(&file, text).unwrap();
    let overrides: Vec<String> = ["scenario.duration=17m", "viewers.count=20", "fault[0].duration=2m"]
        .into_iter()
        .chain(["fault[0].target=edge-2", "fault[0].kind=net.partition"])
        .map(String::from)
        .collect();
    let scenario = failcast::scenario::load(&file, &overrides).unwrap();
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let rows: Vec<_> = out
        .alerts
        .iter()
        .map(|a| (a.rule.as_str(), a.condition_since_ms, a.fired_ms, a.resolved_ms))
        .collect();
    assert_eq!(rows, [("node-down", 615_000.0, 645_000.0, Some(765_000.0))]);
}
