//! Edge failures as players see them: requests to a dead edge time out, players retry
//! by their preset's rules and move to their backup edge at the instant those rules
//! imply; an edge that restarts with an empty cache sends players to the live edge.

mod common;

use failcast::experiment::{run_scenario, RunOutput};
use failcast::metrics::ViewerRecord;
use failcast::time::{SimDuration, SimTime};

const CRASH_S: u64 = 300;
const OUTAGE_S: u64 = 120;

fn crash(player: &str, backup_edges: u32) -> RunOutput {
    let player = format!("viewers.player={player}");
    let backups = format!("cdn.backup_edges={backup_edges}");
    let s = common::scenario(
        "scenarios/edge-failover.toml",
        &["scenario.duration=8m", "viewers.count=200", &player, &backups],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

fn on_edge<'a>(out: &'a RunOutput, edge: &'a str) -> impl Iterator<Item = &'a ViewerRecord> + 'a {
    out.viewers.iter().filter(move |v| v.edge == edge)
}

/// Viewers of the other edges never notice.
fn others_unaffected(out: &RunOutput) {
    for v in out.viewers.iter().filter(|v| v.edge != "edge-1") {
        assert_eq!((v.stalls, v.request_errors, v.route_switches), (0, 0, 0), "{v:?}");
    }
}

/// Every viewer of edge-1 moves exactly once, within `[crash + give_up, crash + 2 s +
/// give_up]`: its first unanswered request left between the crash (less one network
/// latency) and one playlist reload interval (2 s) after it.
fn switches_within(out: &RunOutput, give_up: SimDuration) {
    let crash = SimTime::from_secs(CRASH_S);
    let slack = SimDuration::from_millis(100);
    let earliest = crash + (give_up - slack);
    let latest = crash + give_up + SimDuration::from_secs(2) + slack;
    let mut count = 0;
    for v in on_edge(out, "edge-1") {
        count += 1;
        assert_eq!(v.route_switches, 1, "{v:?}");
        let at = v.first_switch_at.expect("switched");
        assert!(
            earliest <= at && at <= latest,
            "switch at {at}, expected {earliest}..{latest}"
        );
    }
    assert_eq!(count, 50);
    others_unaffected(out);
}

fn stalled_s(out: &RunOutput) -> f64 {
    on_edge(out, "edge-1").map(|v| v.stall_time.as_secs_f64()).sum::<f64>() / 50.0
}

#[test]
fn hls_js_gives_up_on_a_silent_edge_after_three_playlist_timeouts() {
    // playlistLoadPolicy: 10 s to first byte, 2 immediate retries.
    let out = crash("hls.js", 1);
    switches_within(&out, SimDuration::from_secs(30));
    // By then its next segment has left the backup's 10-segment (20 s) playlist: it
    // jumps back to live, skipping about what it stalled for less one segment: its
    // stalls raised the target latency from 3 × 2 s to 7 or 8 s
    // (`liveSyncOnStallIncrease`), which lands in the 4th segment from the end.
    for v in on_edge(&out, "edge-1") {
        assert!(v.stalls >= 1, "{v:?}");
        let skipped_s = v.segments_skipped as f64 * 2.0;
        assert!((skipped_s + 2.0 - v.stall_time.as_secs_f64()).abs() <= 2.0, "{v:?}");
    }
    // Other edges' viewers played those frames: no frame was lost to every viewer.
    assert_eq!(out.summary.frames_dropped.player, 0);
}

#[test]
fn shaka_players_act_on_their_first_timeout_before_any_check_sees_the_edge() {
    let out = crash("shaka", 1);
    let f = &out.faults[0];
    // The monitor's scrape sees edge-1 at 15 s; Shaka's players have already moved, at
    // their first 10 s timeout: the detection they acted on is theirs.
    assert_eq!(f.time_to_detect_s, Some(15.0));
    let (noticed, moved) = (f.players_detect_ms_p50.unwrap(), f.switch_ms_p50.unwrap());
    assert_eq!(noticed, moved);
    assert!(moved < 15_000.0, "{f:?}");
}

#[test]
fn shaka_moves_at_its_first_timeout() {
    let out = crash("shaka", 1);
    switches_within(&out, SimDuration::from_secs(10));
}

#[test]
fn exoplayer_moves_after_four_timeouts_and_its_backoff() {
    // 4 attempts × 8 s, with 0 + 1 + 2 s between them.
    let out = crash("exoplayer", 1);
    switches_within(&out, SimDuration::from_secs(35));
}

#[test]
fn stalls_order_by_how_fast_players_give_up_and_no_backup_is_worst() {
    let shaka = stalled_s(&crash("shaka", 1));
    let hls = stalled_s(&crash("hls.js", 1));
    let exo = stalled_s(&crash("exoplayer", 1));
    assert!(
        shaka < hls && hls < exo,
        "shaka {shaka:.1} s, hls.js {hls:.1} s, exoplayer {exo:.1} s"
    );
    // Each stalls for about its give-up time less the 6 s (3 segments) it had buffered.
    assert!((hls - 25.0).abs() < 2.5, "hls.js {hls:.1} s");

    let alone = crash("hls.js", 0);
    others_unaffected(&alone);
    // Without a backup the viewers wait out the outage, less their buffer.
    let stalled = stalled_s(&alone);
    assert!(stalled > (OUTAGE_S - 6) as f64, "{stalled:.1} s");
    // The edge comes back with an empty cache: its playlist starts again at the live
    // edge, so the players jump forward over the segments they missed.
    for v in on_edge(&alone, "edge-1") {
        assert!(v.segments_skipped >= (OUTAGE_S - 6) / 2, "{v:?}");
        assert_eq!(v.route_switches, 0);
    }
}

fn overload(player: &str) -> RunOutput {
    let player = format!("viewers.player={player}");
    let s = common::scenario(
        "scenarios/edge-failover.toml",
        &[
            "scenario.duration=8m",
            "viewers.count=200",
            &player,
            "fault[0].kind=\"cdn.overload\"",
            "fault[0].capacity_mbps=20",
        ],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

#[test]
fn an_overloaded_edge_sheds_load_and_players_react_by_their_rules() {
    // 50 viewers at 4 Mbit/s need 200 Mbit/s; at 20 Mbit/s the edge answers most
    // segment requests with 503. hls.js retries a 5xx on the same edge (1, 2, 4 s …)
    // and stalls; Shaka moves on its first retry, ExoPlayer at the first 503.
    let hls = overload("hls.js");
    assert!(on_edge(&hls, "edge-1").map(|v| v.stalls).sum::<u32>() > 0);
    for player in ["shaka", "exoplayer"] {
        let out = overload(player);
        for v in on_edge(&out, "edge-1") {
            assert_eq!(v.stalls, 0, "{player}: {v:?}");
        }
        assert!(
            on_edge(&out, "edge-1").filter(|v| v.route_switches > 0).count() > 10,
            "{player}"
        );
        others_unaffected_by_errors(&out);
    }
    others_unaffected_by_errors(&hls);
}

/// Viewers of the other edges are never refused.
fn others_unaffected_by_errors(out: &RunOutput) {
    for v in out.viewers.iter().filter(|v| v.edge != "edge-1") {
        assert_eq!(v.request_errors, 0, "{v:?}");
    }
}

#[test]
fn a_dead_edge_is_a_fault_with_its_viewers_impact_and_an_edge_availability_gap() {
    let out = crash("hls.js", 1);
    // Stream availability at the origin is untouched; at the edges, edge-1 is stale
    // from 1.5 segments after its last segment before the crash until its first after
    // the restart: the 120 s outage, give or take a segment's timing.
    assert_eq!(out.summary.availability, 1.0);
    // Each edge's first segment arrives within the second the first is delivered.
    let first = out.timeline.iter().find(|r| r.frames_delivered > 0).unwrap().time_s as f64;
    let (short, long) = (4.0 * (480.0 - first - 1.0), 4.0 * (480.0 - first));
    let lost = 1.0 - out.summary.edge_availability;
    let outage = OUTAGE_S as f64;
    assert!(
        lost * short > outage - 3.5 && lost * long < outage + 2.0,
        "{} to {} s of edge-1 lost",
        lost * short,
        lost * long
    );
    // faults.csv: the fault's viewers are exactly edge-1's, all moved and all back.
    let f = &out.faults[0];
    let on_edge_1 = on_edge(&out, "edge-1").count() as u64;
    assert_eq!(
        (f.viewers_affected, f.viewers_switched, f.viewers_recovered),
        (on_edge_1, on_edge_1, on_edge_1)
    );
    // hls.js moves after three 10 s playlist timeouts, and plays again just after.
    let (switch, back) = (f.switch_ms_p50.unwrap(), f.recovery_ms_p50.unwrap());
    assert!((30_000.0..32_000.0).contains(&switch), "{switch}");
    assert!(back > switch && back < switch + 2_000.0, "{back}");
    assert_eq!(f.detected_by.as_deref(), Some("monitor-1 scrape"));
    assert_eq!(f.switched_to, format!("edge-2 ({on_edge_1})"));
    // What the players acted on: their first request timeout (hls.js: 10 s after its
    // first unanswered request), 20 s before they gave up on the edge.
    assert_eq!(f.players_detected_by, "players (request timeout)");
    let noticed = f.players_detect_ms_p50.unwrap();
    assert!(
        (10_000.0..12_000.0).contains(&noticed) && noticed < switch - 18_000.0,
        "{f:?}"
    );
    // The trace shows the fault's phases as spans.
    let trace = failcast::report::trace::trace_json(&out);
    for phase in [
        "detected by players (request timeout)",
        "viewers move (median)",
        "playing again (median)",
    ] {
        assert!(
            trace.contains(&format!("edge-crash {phase}: viewers leave edge-1")),
            "{phase}"
        );
    }
}

#[test]
fn a_degraded_edge_slows_only_its_own_viewers_and_recovers() {
    let run = |degrade: bool| {
        let mut s = common::scenario(
            "scenarios/edge-failover.toml",
            &["scenario.duration=8m", "viewers.count=200"],
        );
        if degrade {
            // edge-2's links get 1.5 s more delay each way for two minutes.
            let f = &mut s.faults[0];
            f.kind = "net.degrade".into();
            f.target = "edge-2".into();
            f.latency = Some(failcast::scenario::Dur(SimDuration::from_millis(1_500)));
        } else {
            s.faults.clear();
        }
        s.expects.clear();
        run_scenario(&s, 1, None, false).unwrap()
    };
    let (calm, slowed) = (run(false), run(true));
    // Every viewer of another edge lives exactly the same run: the degradation draws
    // randomness only on the degraded links.
    for (a, b) in calm.viewers.iter().zip(&slowed.viewers) {
        if a.edge != "edge-2" {
            assert_eq!(a, b);
        }
    }
    // edge-2's viewers fall behind: segments reach the edge 1.5 s later, and every
    // request and answer takes 1.5 s more.
    let worst = |out: &RunOutput| on_edge(out, "edge-2").map(|v| v.latency_max).max().unwrap();
    assert!(worst(&slowed) > worst(&calm) + SimDuration::from_millis(1_500));
    assert!(common::balances(&slowed.summary));
    assert_eq!(slowed.summary.frames_dropped.total, 0);
}

#[test]
fn a_second_edge_crash_counts_the_viewers_it_moves_again() {
    // edge-1 dies at 300 s for 2 min; edge-2, where its viewers went, dies at 420 s.
    // Each fault's moved viewers are those that moved in its own window, even if they
    // had moved before.
    let mut s = common::scenario(
        "scenarios/edge-failover.toml",
        &["scenario.duration=10m", "viewers.count=200", "cdn.backup_edges=2"],
    );
    let mut second = s.faults[0].clone();
    second.id = Some("second".into());
    second.at = failcast::scenario::Dur(SimDuration::from_secs(CRASH_S + OUTAGE_S));
    second.target = "edge-2".into();
    s.faults.push(second);
    s.expects.clear();
    let out = run_scenario(&s, 1, None, false).unwrap();
    let second = &out.faults[1];
    assert!(
        second.viewers_affected > on_edge(&out, "edge-2").count() as u64,
        "{second:?}"
    );
    assert_eq!(second.viewers_switched, second.viewers_affected, "{second:?}");
    assert!(!second.switched_to.contains("edge-2"), "{}", second.switched_to);
}
