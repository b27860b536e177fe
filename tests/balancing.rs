//! Load balancing in front of the edges: with round-robin DNS, viewers of a dead edge
//! move when their connection breaks and their resolver's answer runs out: spread over
//! the TTL after the record drops the edge, with a tail from TTL-stretching resolvers.

mod common;

use failcast::experiment::{run_scenario, RunOutput};
use failcast::metrics::ViewerRecord;
use failcast::time::{SimDuration, SimTime};

const CRASH: SimTime = SimTime::from_secs(300);

fn round_robin(extra: &[&str]) -> RunOutput {
    let mut overrides = vec!["viewers.count=200"];
    overrides.extend_from_slice(extra);
    let s = common::scenario("scenarios/round-robin-dns.toml", &overrides);
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

#[test]
fn dns_switch_over_spreads_over_the_ttl_with_a_violator_tail() {
    let out = round_robin(&[]);
    // Health checks every 10 s, 2 s timeout, 3 failures: the record drops edge-1 by
    // crash + 32 s. A viewer's first request to the dead edge times out within
    // 2 s + 10 s; honest resolvers hold a stale answer at most one TTL (60 s) longer,
    // and hls.js retries at least every 10 s.
    let dropped_by = CRASH + SimDuration::from_secs(32);
    let honest_latest = dropped_by + SimDuration::from_secs(60 + 10 + 1);
    let earliest = CRASH + SimDuration::from_millis(9_900);
    let on_dead: Vec<_> = out.viewers.iter().filter(|v| v.edge == "edge-1").collect();
    assert!(on_dead.len() >= 40, "{}", on_dead.len());
    let (violators, honest): (Vec<&ViewerRecord>, Vec<&ViewerRecord>) = on_dead.iter().partition(|v| v.ttl_violator);
    assert!(!violators.is_empty(), "seed 1 draws violators among edge-1's viewers");
    let mut late_honest = 0;
    for v in &honest {
        let at = v.first_switch_at.expect("every honest viewer leaves the dead edge");
        assert!(earliest <= at && at <= honest_latest, "honest viewer switched at {at}");
        if at > dropped_by {
            late_honest += 1;
        }
    }
    // Some were answered edge-1 again before the record dropped it and waited out
    // their cache: the switch-over spreads over the TTL.
    assert!(late_honest > 0);
    // Violators (their resolvers keep answers 10 min) resolved when they joined at
    // 10–15 s: they stay on the dead edge until about 610–615 s, the tail.
    for v in &violators {
        let at = v.first_switch_at.expect("violators move once their answer expires");
        assert!(at >= SimTime::from_secs(610), "violator switched at {at}");
        assert!(at <= SimTime::from_secs(615 + 11), "violator switched at {at}");
    }
    // Viewers of live edges never move.
    for v in out.viewers.iter().filter(|v| v.edge != "edge-1") {
        assert_eq!((v.route_switches, v.stalls), (0, 0), "{v:?}");
    }
    // Viewers resolve independently: the rotation spread them evenly over the edges.
    for edge in ["edge-1", "edge-2", "edge-3", "edge-4"] {
        assert_eq!(out.viewers.iter().filter(|v| v.edge == edge).count(), 50, "{edge}");
    }
}

#[test]
fn without_health_checks_the_dead_edge_stays_in_the_rotation() {
    let checked = round_robin(&[]);
    let unchecked = round_robin(&["dns.health_checked=false"]);
    // Every re-resolution has a 1-in-4 chance to land on the dead edge again, so
    // viewers keep stalling on it until it comes back.
    assert!(
        unchecked.summary.stall_s_total > checked.summary.stall_s_total * 1.2,
        "{} vs {}",
        unchecked.summary.stall_s_total,
        checked.summary.stall_s_total
    );
    assert!(unchecked.summary.viewer_request_errors > checked.summary.viewer_request_errors);
}

fn hardware(extra: &[&str]) -> RunOutput {
    let mut overrides = vec!["viewers.count=200", "scenario.duration=7m"];
    overrides.extend_from_slice(extra);
    let s = common::scenario("scenarios/hardware-lb.toml", &overrides);
    let out = run_scenario(&s, 1, None, true).unwrap();
    assert!(common::balances(&out.summary));
    out
}

/// When `node` gained a virtual address, from the event log.
fn address_gained(out: &RunOutput, node: &str) -> Vec<SimTime> {
    let id = out.node_names.iter().position(|n| n == node).unwrap() as u32;
    let records = out.records.as_ref().expect("kept");
    records
        .iter()
        .filter(|r| r.dst == id && r.kind == "vip" && r.payload & (1 << 32) != 0)
        .map(|r| r.time)
        .collect()
}

#[test]
fn vrrp_standby_takes_over_after_three_missed_adverts_and_skew() {
    let out = hardware(&[]);
    // lb-1 advertised every second until it died at 300 s: lb-2 takes the address
    // Master_Down_Interval (3 s + (256 − 100)/256 s) after the last advert it heard,
    // plus the 100 ms gratuitous ARP.
    let taken = address_gained(&out, "lb-2");
    assert_eq!(taken.len(), 1, "{taken:?}");
    let down = SimDuration::from_nanos(3_609_375_000) + SimDuration::from_millis(100);
    let (earliest, latest) = (SimTime::from_secs(299) + down, SimTime::from_secs(300) + down);
    assert!(
        earliest <= taken[0] && taken[0] <= latest + SimDuration::from_millis(20),
        "{}",
        taken[0]
    );
    // Back at 360 s as a backup, lb-1 hears lb-2's lower priority, and preempts after
    // its own Master_Down_Interval (3 s + 56/256 s) + 100 ms: exactly.
    let back = address_gained(&out, "lb-1");
    assert_eq!(
        back,
        vec![SimTime::from_secs(360) + SimDuration::from_nanos(3_218_750_000) + SimDuration::from_millis(100)]
    );
    // The takeover is an episode of every stream: lb-1 → lb-2, detected by lb-2's VRRP
    // timer, switched when the address moved, and its first frame is the first request
    // served through lb-2. lb-1's return is a failback at its preemption.
    let episodes: Vec<(&str, &str, &str, &str)> = out
        .failovers
        .iter()
        .map(|e| (e.kind.as_str(), e.stream.as_str(), e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(
        episodes,
        [("failover", "all", "lb-1", "lb-2"), ("failback", "all", "lb-2", "lb-1")]
    );
    let takeover = &out.failovers[0];
    assert_eq!(takeover.detected_by, "lb-2 VRRP");
    assert_eq!(takeover.switched_ms, taken[0].as_millis_f64());
    assert!(takeover.first_frame_ms.unwrap() > takeover.switched_ms);
    assert_eq!(out.failovers[1].switched_ms, back[0].as_millis_f64());
    // Viewers lose the requests in flight during the takeover: at most one playlist
    // and one segment load each, timed out together after 10 s, less their 6 s of
    // buffer.
    for v in &out.viewers {
        assert!(v.request_errors <= 2, "{v:?}");
        assert!(v.stall_time <= SimDuration::from_secs(10), "{v:?}");
    }
    assert!(out.summary.stall_count > 0);
}

#[test]
fn a_single_device_is_a_single_point_of_failure() {
    let out = hardware(&["lb.devices=1"]);
    assert!(!out.node_names.iter().any(|n| n == "lb-2"));
    // Nothing answers for the minute lb-1 is down: every viewer stalls for about the
    // outage less its buffer.
    for v in &out.viewers {
        assert!(v.stall_time >= SimDuration::from_secs(54), "{v:?}");
    }
}

#[test]
fn the_device_health_checks_edges_and_moves_their_viewers() {
    let out = hardware(&["fault[0].target=edge-1"]);
    // HAProxy checks (every 2 s, 1 s timeout, 3 failures) mark edge-1 down within
    // 7 s; a viewer's first request to it times out after 10 s, and its retry is
    // balanced onto a live edge.
    let crash = SimTime::from_secs(300);
    let moved: Vec<_> = out.viewers.iter().filter(|v| v.edge == "edge-1").collect();
    assert_eq!(moved.len(), 50);
    for v in moved {
        let at = v.first_switch_at.expect("moved off the dead edge");
        assert!(at >= crash + SimDuration::from_millis(9_900), "{at}");
        assert!(at <= crash + SimDuration::from_millis(12_200), "{at}");
        // Its buffer held at least 4 s (3 segments behind live, less one in playing).
        assert!(v.stall_time <= SimDuration::from_millis(12_200 - 4_000), "{v:?}");
    }
}

#[test]
fn a_full_connection_table_refuses_viewers() {
    // (The crash comes too late to matter: the standby would start a fresh table.)
    let out = hardware(&["lb.max_connections=120", "fault[0].at=419s"]);
    // The device answers 503 beyond 120 connections: the rest never start.
    assert_eq!(out.summary.viewers_started, 120);
    assert!(out.summary.viewer_request_errors >= 80);
}

#[test]
fn nginx_passive_checks_notice_a_dead_edge_only_at_the_proxy_timeout() {
    // nginx open source: no probes; a request the edge does not answer within 60 s
    // (proxy timeout) marks it failed for 10 s (max_fails 1, fail_timeout 10 s).
    let out = hardware(&[
        "fault[0].target=edge-1",
        "fault[0].duration=3m",
        "lb.active_checks=false",
        "lb.passive=\"nginx\"",
    ]);
    let crash = SimTime::from_secs(300);
    let first_timeout = crash + SimDuration::from_secs(60);
    let on_dead: Vec<_> = out.viewers.iter().filter(|v| v.edge == "edge-1").collect();
    assert_eq!(on_dead.len(), 50);
    for v in on_dead {
        let at = v.first_switch_at.expect("moved off the dead edge");
        // hls.js gives up on its own requests after 10 s and retries, but the proxy
        // keeps sending them to edge-1 until its first request there times out. Then
        // edge-1 sits out 10 s, and a viewer moves with its next request: at most a
        // playlist retry delay (8 s) and a reload interval (2 s) later.
        assert!(at >= first_timeout - SimDuration::from_millis(100), "{at}");
        assert!(at <= first_timeout + SimDuration::from_secs(20), "{at}");
        assert!(v.stall_time >= SimDuration::from_secs(50), "{v:?}");
    }
    // With HAProxy-style probes as well, the same crash costs a few seconds.
    let probed = hardware(&["fault[0].target=edge-1", "fault[0].duration=3m", "lb.passive=\"nginx\""]);
    assert!(probed.summary.stall_s_total * 4.0 < out.summary.stall_s_total);
}

#[test]
fn envoy_ejects_an_overloaded_edge_and_its_viewers_stop_stalling() {
    let overload = [
        "fault[0].kind=\"cdn.overload\"",
        "fault[0].target=edge-1",
        "fault[0].capacity_mbps=20",
    ];
    // Without passive checks the device keeps edge-1 (it answers probes) and hls.js
    // keeps retrying its 503s there.
    let blind = hardware(&overload);
    let stalled = |out: &RunOutput| {
        out.viewers
            .iter()
            .filter(|v| v.edge == "edge-1")
            .map(|v| v.stall_time.as_secs_f64())
            .sum::<f64>()
    };
    assert!(stalled(&blind) > 100.0, "{}", stalled(&blind));
    // Envoy ejects it after 5 consecutive 5xx; its viewers' connections move.
    let mut with_envoy = overload.to_vec();
    with_envoy.push("lb.passive=\"envoy\"");
    let out = hardware(&with_envoy);
    assert_eq!(stalled(&out), 0.0);
    // The ejection is the device detecting the overload: within a few seconds.
    let detect = out.faults[0].time_to_detect_s.expect("detected by passive checks");
    assert!(detect < 5.0, "{detect}");
    assert_eq!(
        blind.faults[0].time_to_detect_s, None,
        "probes pass: nothing detects it"
    );
    assert!(
        out.viewers
            .iter()
            .filter(|v| v.edge == "edge-1" && v.route_switches > 0)
            .count()
            >= 40
    );
}

fn stale_edge(check: &str) -> RunOutput {
    let setting = format!("lb.check={check}");
    let s = common::scenario(
        "scenarios/stale-edge.toml",
        &["viewers.count=200", "scenario.duration=8m", &setting],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

#[test]
fn a_playlist_check_takes_out_an_edge_that_answers_with_a_frozen_playlist() {
    let content = stale_edge("playlist");
    let fault = &content.faults[0];
    // Both devices check (the standby keeps its view warm); either may be first.
    let by = fault.detected_by.as_deref().unwrap();
    assert!(["lb-1 playlist check", "lb-2 playlist check"].contains(&by), "{by}");
    // The newest segment edge-2 had (at most one segment, 2 s, before the cut) is
    // 6 s old by the first failing check; two more checks 2 s apart make three.
    let detect_s = fault.time_to_detect_s.unwrap();
    assert!((8.0..=10.1).contains(&detect_s), "{detect_s}");
    // Least connections spreads the 200 viewers evenly: 50 on each of the 4 edges.
    let on_stale: Vec<&ViewerRecord> = content.viewers.iter().filter(|v| v.edge == "edge-2").collect();
    assert_eq!(on_stale.len(), 50);
    for v in &on_stale {
        // Moved once, and stalled at most while the check made up its mind.
        assert_eq!(v.route_switches, 1, "{v:?}");
        assert!(v.stall_time < SimDuration::from_secs(10), "{v:?}");
    }
    let elsewhere: Vec<&ViewerRecord> = content.viewers.iter().filter(|v| v.edge != "edge-2").collect();
    assert_eq!(elsewhere.len(), 150);
    for v in elsewhere {
        assert_eq!(v.stalls, 0, "{v:?}");
    }

    // A liveness check never sees it: edge-2's viewers starve for the whole cut.
    let liveness = stale_edge("liveness");
    assert_eq!(liveness.faults[0].detected_by, None);
    let starved: Vec<&ViewerRecord> = liveness.viewers.iter().filter(|v| v.edge == "edge-2").collect();
    assert_eq!(starved.len(), 50);
    for v in starved {
        assert_eq!(v.route_switches, 0, "{v:?}");
        assert!(v.stall_time > SimDuration::from_secs(160), "{v:?}");
    }
}

#[test]
fn a_playlist_check_keeps_edges_in_while_any_stream_advances() {
    // Three streams; encoder-1 stalls for 2 minutes: its playlists freeze on every
    // edge while the other two advance, so no edge fails and the other streams'
    // viewers never notice.
    let mut s = common::scenario(
        "scenarios/stale-edge.toml",
        &["viewers.count=90", "scenario.duration=8m", "encoders.count=3"],
    );
    s.faults[0].kind = "encoder.stall".into();
    s.faults[0].target = "encoder-1".into();
    s.faults[0].other = None;
    s.faults[0].duration = Some(failcast::scenario::Dur(SimDuration::from_secs(120)));
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    assert_eq!(out.summary.viewer_request_errors, 0);
    // Viewer v watches stream v mod 3: 60 of the 90 watch the other two.
    let others: Vec<&ViewerRecord> = out.viewers.iter().filter(|v| v.stream != 0).collect();
    assert_eq!(others.len(), 90 / 3 * 2);
    for v in others {
        assert_eq!((v.stalls, v.route_switches), (0, 0), "{v:?}");
    }
}
