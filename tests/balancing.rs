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
