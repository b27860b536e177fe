//! The shield tier: the origin pushes one copy per shield, shields fan out to their
//! edges, and edges whose shield goes quiet are fed by the origin directly.

mod common;

use failcast::experiment::{run_scenario, RunOutput};
use failcast::metrics::summary::NodeRow;

fn shield_failure(extra: &[&str]) -> RunOutput {
    let mut overrides = vec!["scenario.duration=12m", "viewers.count=60"];
    overrides.extend_from_slice(extra);
    let s = common::scenario("scenarios/shield-failure.toml", &overrides);
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

fn row<'a>(out: &'a RunOutput, time_s: u64, node: &str) -> &'a NodeRow {
    (out.nodes.iter())
        .find(|r| r.time_s == time_s && r.node == node)
        .unwrap_or_else(|| panic!("no {node} row at {time_s} s"))
}

/// Seconds each viewer of the shield's edges (1, 3, 5) and of the others stalled.
fn stall_s_behind(out: &RunOutput) -> (Vec<f64>, Vec<f64>) {
    let (mut behind, mut others) = (Vec::new(), Vec::new());
    for v in &out.viewers {
        let stalled = v.stall_time.as_secs_f64();
        match v.edge.as_str() {
            "edge-1" | "edge-3" | "edge-5" => behind.push(stalled),
            _ => others.push(stalled),
        }
    }
    (behind, others)
}

#[test]
fn the_origin_pushes_one_copy_per_shield_and_feeds_orphaned_edges_directly() {
    let out = shield_failure(&[]);
    // Before the crash (5 min): the origin feeds the two shields, each shield three edges.
    let (origin, shield_1) = (row(&out, 240, "origin-1"), row(&out, 240, "shield-1"));
    assert_eq!((origin.connections, shield_1.connections), (2, 3));
    assert!((shield_1.egress_mbps / origin.egress_mbps - 1.5).abs() < 1e-12);
    // During the outage: still to both shields (the origin cannot tell), and to the
    // three edges of the dead one directly, so 5 copies of the same segments.
    let during = row(&out, 360, "origin-1");
    assert_eq!(during.connections, 5);
    assert!((during.egress_mbps / origin.egress_mbps - 2.5).abs() < 1e-12);
    assert_eq!(row(&out, 360, "shield-1").egress_mbps, 0.0);
    // After it returns, the edges go back to it and the origin to two copies.
    let after = row(&out, 660, "origin-1");
    assert_eq!((after.connections, after.egress_mbps), (2, origin.egress_mbps));

    // The edges noticed 6 s after the last segment, at a check (every 1.5 s).
    let fault = &out.faults[0];
    assert_eq!(fault.detected_by.as_deref(), Some("edge-1 shield fallback"));
    let detect = fault.time_to_detect_s.unwrap();
    assert!((6.0 - 2.0..=6.0 + 1.5).contains(&detect), "{detect}");
    let (behind, others) = stall_s_behind(&out);
    assert!(behind.iter().all(|&s| s < 10.0), "{behind:?}");
    assert!(others.iter().all(|&s| s == 0.0), "{others:?}");
}

#[test]
fn edges_that_wait_for_their_shield_stall_for_the_whole_outage() {
    let out = shield_failure(&["cdn.shield_fallback_after=0s"]);
    let (behind, others) = stall_s_behind(&out);
    // Five minutes down; players hold a few segments of buffer.
    assert!(behind.iter().all(|&s| (285.0..300.0).contains(&s)), "{behind:?}");
    assert!(others.iter().all(|&s| s == 0.0), "{others:?}");
    assert_eq!(row(&out, 360, "origin-1").connections, 2);
    // Only the monitor notices (a missed liveness scrape).
    let by = out.faults[0].detected_by.as_deref().unwrap_or("");
    assert!(by.starts_with("monitor-1"), "{by}");
}

#[test]
fn an_origin_that_restarts_during_the_outage_is_asked_again() {
    let base = shield_failure(&[]);
    // A second fault: the origin crashes in the middle of the shield's outage.
    let s = common::scenario(
        "scenarios/shield-failure.toml",
        &["scenario.duration=12m", "viewers.count=60"],
    );
    let mut text = toml::to_string(&s).unwrap();
    text.push_str("\n[[fault]]\nid = \"origin-blip\"\nat = \"7m\"\nkind = \"node.crash\"\ntarget = \"origin-1\"\nduration = \"10s\"\n");
    let s = failcast::scenario::load_str("blip.toml", &text, &[]).unwrap();
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    // After the restart the orphaned edges are fed directly again (the origin forgot
    // them), well before the shield returns at 10 min.
    assert_eq!(row(&out, 480, "origin-1").connections, 5);
    let (behind, _) = stall_s_behind(&out);
    let (before, _) = stall_s_behind(&base);
    let extra: f64 = behind.iter().sum::<f64>() - before.iter().sum::<f64>();
    // Every viewer lost at most the blip and one check's worth of segments more.
    assert!(extra > 0.0 && extra < 30.0 * behind.len() as f64, "{extra}");
}

#[test]
fn each_edge_is_fed_by_a_shield_of_its_region() {
    let text = "[scenario]\nname = \"r\"\nduration = \"3m\"\n\
        [cdn]\nedges = 5\nshields = 3\n\
        [regions]\neu = [\"shield-1\", \"edge-1\", \"edge-2\", \"edge-3\"]\nus = [\"shield-2\", \"shield-3\", \"edge-4\"]\n\
        [viewers]\ncount = 10\n";
    let s = failcast::scenario::load_str("r.toml", text, &[]).unwrap();
    let out = run_scenario(&s, 1, None, false).unwrap();
    // eu: shield-1 feeds edge-1..3; us: edge-4 goes to shield-2 (first in turn); edge-5
    // has no region, so it takes the first turn over all shields: shield-1.
    let fed = |shield| row(&out, 60, shield).connections;
    assert_eq!((fed("shield-1"), fed("shield-2"), fed("shield-3")), (4, 1, 0));
}

#[test]
fn shield_settings_are_validated() {
    let base = "[scenario]\nname = \"t\"\nduration = \"1m\"\n[cdn]\nedges = 2\n";
    let err = |extra: &str| {
        failcast::scenario::load_str("t.toml", &format!("{base}{extra}"), &[])
            .unwrap_err()
            .0
            .into_iter()
            .map(|d| d.message)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        err("shields = 3\n"),
        ["cdn.shields = 3 is more than the 2 edge(s) they would feed"]
    );
    assert_eq!(
        err("shields = 1\nshield_fallback_after = \"500ms\"\n"),
        ["cdn.shield_fallback_after = \"500ms\" is shorter than 1s: a live shield would be left for a slow probe answer"]
    );
    // Shields are nodes faults can name.
    let with_fault =
        "shields = 1\n[[fault]]\nat = \"10s\"\nkind = \"node.pause\"\ntarget = \"role:shield\"\nduration = \"5s\"\n";
    assert!(failcast::scenario::load_str("t.toml", &format!("{base}{with_fault}"), &[]).is_ok());
}

fn run_text(text: &str) -> RunOutput {
    let s = failcast::scenario::load_str("t.toml", text, &[]).unwrap_or_else(|e| panic!("{e}"));
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

const SIX_EDGES: &str =
    "[scenario]\nname = \"t\"\nduration = \"12m\"\n[cdn]\nedges = 6\nshields = 2\n[viewers]\ncount = 30\n";

#[test]
fn an_origin_that_missed_the_stop_is_told_again() {
    // The edge's "stop feeding me" to origin-1 is lost in a partition; once it heals,
    // the next direct segment gets the answer again.
    let out = run_text(&format!(
        "{SIX_EDGES}[[fault]]\nat = \"5m\"\nkind = \"node.crash\"\ntarget = \"shield-1\"\nduration = \"2m\"\n\
         [[fault]]\nat = \"6m\"\nkind = \"net.partition\"\ntarget = \"edge-1\"\nother = \"origin-1\"\nduration = \"2m\"\n"
    ));
    assert_eq!(row(&out, 360, "origin-1").connections, 5);
    assert_eq!(
        row(&out, 440, "origin-1").connections,
        3,
        "edge-1 still fed directly while cut off"
    );
    for t in (490..720).step_by(10) {
        assert_eq!(row(&out, t, "origin-1").connections, 2, "at {t} s");
    }
}

#[test]
fn a_live_shield_with_nothing_to_relay_is_not_left() {
    // 6 s segments (nothing for the first 6 s) and an encoder stall: the shields are
    // alive throughout, so no edge goes around them and nobody records a detection
    // against them.
    let out = run_text(
        "[scenario]\nname = \"t\"\nduration = \"4m\"\n[cdn]\nedges = 4\nshields = 2\nsegment = \"6s\"\n\
         [viewers]\ncount = 20\n[[fault]]\nid = \"enc\"\nat = \"1m\"\nkind = \"encoder.stall\"\ntarget = \"encoder-1\"\nduration = \"30s\"\n",
    );
    for t in (0..240).step_by(10) {
        assert!(row(&out, t, "origin-1").connections <= 2, "at {t} s");
    }
    assert_eq!(out.faults[0].detected_by.as_deref(), Some("ingest-1 content check"));
}

#[test]
fn shields_outside_every_region_are_refused_when_edges_have_regions() {
    let text = "[scenario]\nname = \"t\"\nduration = \"3m\"\n[cdn]\nedges = 4\nshields = 2\n\
        [regions]\neu = [\"shield-1\", \"edge-1\", \"edge-2\"]\nus = [\"edge-3\", \"edge-4\"]\n";
    let d = failcast::scenario::load_str("t.toml", text, &[]).unwrap_err();
    assert_eq!(
        d.0[0].message,
        "shield-2 in no region, while [regions] places the edges"
    );
}
