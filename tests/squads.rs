//! Squads (`viewers.squads`): viewers who join together share a player, and every
//! result a run writes is what the same viewers give one player each.

mod common;

use std::path::Path;

use failcast::experiment::{run_scenario, RunOutput};
use failcast::report::write_run;
use failcast::scenario::Scenario;
use failcast::time::{SimDuration, SimTime};

/// Every CSV of the run folder, by name.
fn csvs(out: &RunOutput) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_run(&run, out).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&run)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .map(|path| (name_of(&path), std::fs::read(&path).unwrap()))
        .collect();
    files.sort();
    files
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Runs `base` with one player per viewer and with squads, asserts that every CSV and
/// every summary figure but the event count, digest and wall time are identical, and
/// returns the events of each run.
fn assert_squads_change_nothing(file: &str, base: &[&str]) -> (u64, u64) {
    assert_squads_change_nothing_in(file, base, |_| {})
}

/// Like [`assert_squads_change_nothing`], with `edit` applied to both scenarios (what
/// overrides cannot say, such as a second fault).
fn assert_squads_change_nothing_in(file: &str, base: &[&str], edit: impl Fn(&mut Scenario)) -> (u64, u64) {
    let (apart, together) = squads_compared(file, base, edit);
    (apart, together.summary.events)
}

/// Makes the comparison of [`assert_squads_change_nothing_in`], and returns the events
/// of the run with one player per viewer and the whole run with squads, for tests
/// that look further into it.
fn squads_compared(file: &str, base: &[&str], edit: impl Fn(&mut Scenario)) -> (u64, RunOutput) {
    let load = |squads: &str| -> Scenario {
        let mut overrides = base.to_vec();
        overrides.push(squads);
        let mut s = common::scenario(file, &overrides);
        edit(&mut s);
        s
    };
    let apart = run_scenario(&load("viewers.squads=false"), 1, None, false).unwrap();
    let together = run_scenario(&load("viewers.squads=true"), 1, None, false).unwrap();
    let (a, b) = (csvs(&apart), csvs(&together));
    assert_eq!(
        a.len(),
        8,
        "every CSV of a run: {:?}",
        a.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, apart), (_, together)) in a.iter().zip(&b) {
        assert!(
            apart == together,
            "{name} differs:\n--- one player each\n{}\n--- squads\n{}",
            String::from_utf8_lossy(apart)
                .lines()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(together)
                .lines()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    let apart_events = apart.summary.events;
    let (mut x, mut y) = (apart.summary, together.summary.clone());
    for s in [&mut x, &mut y] {
        s.wall_s = 0.0;
        s.events = 0;
        s.trace_digest = String::new();
    }
    assert_eq!(x, y);
    assert!(common::balances(&y));
    (apart_events, together)
}

/// 400 quickstart viewers for 12 min, joining over 5 s on a 1 s grid (5 instants, 4
/// edges, one stream: 20 squads), on jitter-free viewer links.
const GRID: &[&str] = &[
    "scenario.duration=12m",
    "viewers.count=400",
    "viewers.join_step=1s",
    "network.edge_viewer.jitter=0s",
];

#[test]
fn on_the_grid_squads_give_exactly_the_results_of_one_player_per_viewer() {
    // 400 viewers join over 5 s on a 1 s grid: 5 instants, 4 edges, one stream, so
    // 20 squads. The primary ingest crashes at 10 min: everyone stalls together.
    let (apart, together) = assert_squads_change_nothing("scenarios/quickstart.toml", GRID);
    // The encoder's and ingest's events stay; the viewers' are 20 squads' instead of
    // 400 viewers'.
    let short = |count: &str| {
        let s = common::scenario("scenarios/quickstart.toml", &["scenario.duration=12m", count]);
        run_scenario(&s, 1, None, false).unwrap().summary.events
    };
    let (per_viewer, base) = (short("viewers.count=400"), short("viewers.count=20"));
    assert!(
        together - base < (per_viewer - base) / 10,
        "squads share the work: {together} events against {apart} ({base} with 20 viewers)"
    );
}

#[test]
fn members_leave_one_by_one_and_ride_out_an_edge_crash_with_their_squad() {
    // Match day: an arrival curve with a flash crowd, two regions, lognormal sessions
    // that end one viewer at a time inside squads, and edge-2 dying at 11 min while its
    // viewers move to their backup edge together.
    let (apart, together) = assert_squads_change_nothing(
        "scenarios/match-day.toml",
        &[
            "scenario.duration=16m",
            "viewers.count=500",
            "viewers.player=hls.js",
            "cdn.edge_capacity_mbps=0",
            "viewers.join_step=10s",
            "network.edge_viewer.jitter=0s",
        ],
    );
    assert!(together < apart, "{together} events against {apart}");
}

#[test]
fn squads_split_where_an_edge_at_capacity_serves_some_members_and_refuses_others() {
    // 400 viewers on 4 edges of 300 Mbit/s ask for 4 Mbit/s each: about 100 per edge,
    // 400 Mbit/s. Every edge refuses part of each wave, and a squad at the boundary is
    // split into those it served and those it refused, who retry apart.
    let base = [GRID, &["cdn.edge_capacity_mbps=300"]].concat();
    let (apart, out) = squads_compared("scenarios/quickstart.toml", &base, |_| {});
    let together = out.summary.events;
    assert!(together < apart, "{together} events against {apart}");
    let errors: u64 = out.viewers.iter().map(|v| u64::from(v.request_errors)).sum();
    assert!(errors > 1000, "the edges refuse requests: {errors}");
    let differ = (out.viewers.windows(2)).any(|w| w[0].joined_at == w[1].joined_at && w[0] != w[1]);
    assert!(differ, "viewers who joined together fare differently");
}

#[test]
fn squads_split_under_an_overload_fault() {
    let (apart, together) = assert_squads_change_nothing(
        "scenarios/quickstart.toml",
        &[
            GRID,
            &[
                "fault[0].kind=cdn.overload",
                "fault[0].target=edge-1",
                "fault[0].capacity_mbps=150",
            ],
        ]
        .concat(),
    );
    assert!(together < apart, "{together} events against {apart}");
}

#[test]
fn parts_that_re_resolve_at_one_instant_get_the_answers_their_members_would() {
    // Edge-1 and edge-2 die together: the parts of every squad on either re-resolve at
    // the same instant, members of several parts interleaved by id. The rotation
    // answers them in viewer order, as it answers separate viewers.
    let (apart, together) = assert_squads_change_nothing_in(
        "scenarios/round-robin-dns.toml",
        &[
            "viewers.count=400",
            "viewers.join_step=1s",
            "network.edge_viewer.jitter=0s",
        ],
        |s| {
            let mut second = s.faults[0].clone();
            second.id = Some("edge-crash-2".into());
            second.target = "edge-2".into();
            s.faults.push(second);
        },
    );
    assert!(together < apart, "{together} events against {apart}");
}

#[test]
fn shaka_squads_split_into_their_members_when_a_retry_draws_its_jitter() {
    // Shaka retries after 1 s ± 50%, drawn per viewer from its own stream. Edge-1 dies
    // at 5 min: its viewers' requests time out, and each squad there splits into its
    // members, who retry at their own instants and move to their backup edge.
    let base = [
        "scenario.duration=16m",
        "viewers.count=300",
        "viewers.join_step=1s",
        "viewers.player=shaka",
        "network.edge_viewer.jitter=0s",
    ];
    let (apart, out) = squads_compared("scenarios/edge-failover.toml", &base, |_| {});
    let together = out.summary.events;
    assert!(together < apart, "{together} events against {apart}");
    let errors: u64 = out.viewers.iter().map(|v| u64::from(v.request_errors)).sum();
    assert!(errors > 50, "requests time out and are retried: {errors}");
}

/// Multi-stream cut to 16 min with 300 viewers on a 1 s grid: at each instant the
/// joiners of six streams interleave by id, while squads go squad by squad.
const SIX_STREAMS: &[&str] = &[
    "scenario.duration=16m",
    "viewers.count=300",
    "viewers.join_step=1s",
    "network.edge_viewer.jitter=0s",
];

#[test]
fn with_several_streams_same_instant_requests_meet_dns_and_capacity_in_squad_order() {
    // Without squads, viewers who join at one instant are taken stream by stream, as
    // squads take turns; taken by id instead, a round-robin DNS handed out its edges
    // and an edge at capacity its refusals to other members than with squads.
    let dns = [SIX_STREAMS, &["cdn.balancing=round-robin-dns"]].concat();
    let (apart, together) = assert_squads_change_nothing("scenarios/multi-stream.toml", &dns);
    assert!(together < apart, "{together} events against {apart}");
    let capped = [SIX_STREAMS, &["cdn.edge_capacity_mbps=150"]].concat();
    let (apart, together) = assert_squads_change_nothing("scenarios/multi-stream.toml", &capped);
    assert!(together < apart, "{together} events against {apart}");
}

#[test]
fn squads_split_by_the_answers_of_round_robin_dns() {
    // Round-robin DNS answers each member of a squad in turn: a squad of 20 spreads
    // over the 4 edges, one part per edge. Its TTL violators (8.7%) form squads of
    // their own. Edge-1 dies at 5 min for 8; its viewers re-resolve.
    let (apart, together) = assert_squads_change_nothing(
        "scenarios/round-robin-dns.toml",
        &[
            "viewers.count=400",
            "viewers.join_step=1s",
            "network.edge_viewer.jitter=0s",
        ],
    );
    assert!(together < apart, "{together} events against {apart}");
    let s = common::scenario(
        "scenarios/round-robin-dns.toml",
        &["viewers.count=400", "viewers.join_step=1s", "viewers.squads=true"],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    let edges: std::collections::BTreeSet<&str> = out.viewers.iter().map(|v| v.edge.as_str()).collect();
    assert_eq!(edges.len(), 4, "{edges:?}");
    assert!(out.viewers.iter().any(|v| v.ttl_violator));
}

#[test]
fn joins_snap_down_onto_the_grid_from_join_at() {
    let step = SimDuration::from_millis(250);
    let on_grid = |out: &RunOutput| {
        (out.viewers.iter())
            .all(|v| (v.joined_at.unwrap().saturating_since(SimTime::from_secs(10))).as_nanos() % step.as_nanos() == 0)
    };
    let s = common::short_quickstart(&["viewers.join_step=250ms"]);
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(on_grid(&out));
    let instants: std::collections::BTreeSet<_> = out.viewers.iter().map(|v| v.joined_at.unwrap()).collect();
    assert_eq!(instants.len(), 20, "5 s of joins on a 250 ms grid");
    assert!(out
        .viewers
        .iter()
        .all(|v| v.joined_at.unwrap() >= SimTime::from_secs(10)));
    let free = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    assert!(!on_grid(&free), "without a step, joins fall anywhere");
}

/// Behind a load balancer: jitter-free links to the device and from it to the edges.
const BEHIND_LB: &[&str] = &[
    "scenario.duration=16m",
    "viewers.count=300",
    "viewers.join_step=1s",
    "network.edge_viewer.jitter=0s",
    "network.control.jitter=0s",
];

#[test]
fn squads_split_by_the_connections_of_a_hardware_load_balancer() {
    // lb-1 places each member on its own connection (least connections), so every
    // squad spreads over the 4 edges. lb-1 dies at 5 min: lb-2 takes the address and
    // places every member afresh, then lb-1 preempts it at 6 min. The table holds 250
    // connections: the last members of each wave are refused. Viewers leave one by
    // one (4 min sessions, each new session a viewer of its own), freeing entries.
    let base = [BEHIND_LB, &["lb.max_connections=250", "viewers.session.mean=4m"]].concat();
    let (apart, out) = squads_compared("scenarios/hardware-lb.toml", &base, |_| {});
    let together = out.summary.events;
    assert!(together < apart, "{together} events against {apart}");
    let edges: std::collections::BTreeSet<&str> = out.viewers.iter().map(|v| v.edge.as_str()).collect();
    assert_eq!(edges.len(), 4, "{edges:?}");
    let errors: u64 = out.viewers.iter().map(|v| u64::from(v.request_errors)).sum();
    assert!(errors > 50, "the full table refuses requests: {errors}");
}

#[test]
fn squads_split_behind_a_proxy_with_passive_checks() {
    // nginx proxies every answer, times out what edge-2 no longer answers when it dies
    // (504), and takes it out after failures on real traffic.
    let (apart, together) = assert_squads_change_nothing("scenarios/nginx-proxy.toml", BEHIND_LB);
    assert!(together < apart, "{together} events against {apart}");
}

#[test]
fn arrival_curve_joins_snap_onto_the_grid_from_the_start() {
    let s = common::scenario(
        "scenarios/match-day.toml",
        &["viewers.count=300", "scenario.duration=12m", "viewers.join_step=2s"],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    for v in &out.viewers {
        let joined = v.joined_at.unwrap().as_nanos();
        assert_eq!(joined % 2_000_000_000, 0, "{joined}");
        if let Some(left) = v.left_at {
            assert!(left > v.joined_at.unwrap());
        }
    }
}

#[test]
fn squads_split_at_edges_at_capacity_behind_a_proxy_with_outlier_detection() {
    // edge-1's egress drops to 5 Mbit/s for 2 min: it refuses (503) what it cannot
    // serve, the device proxies each refusal to the members it stands for and counts
    // Envoy's consecutive 5xx per member, and ejects edge-1 when it would for
    // separate viewers. Two streams interleave the squads' ids.
    let base = [BEHIND_LB, &["encoders.count=2"]].concat();
    let (apart, out) = squads_compared("scenarios/edge-overload.toml", &base, |_| {});
    let together = out.summary.events;
    assert!(together < apart, "{together} events against {apart}");
    let refused: u64 = out.viewers.iter().map(|v| u64::from(v.request_errors)).sum();
    assert!(refused > 20, "edge-1 refuses requests: {refused}");
    assert!(
        out.faults[0].time_to_detect_s.is_some(),
        "the outlier detection ejects edge-1"
    );
}

#[test]
fn squads_split_at_capped_edges_behind_a_hardware_balancer() {
    // Every edge capped at 200 Mbit/s, lb-1 dying at 5 min: after the takeover the
    // device hands each edge the members of many squads, interleaved otherwise than
    // separate viewers would arrive; each edge serves the members of an instant in
    // viewer order, so the same viewers are served and refused.
    let base = [BEHIND_LB, &["cdn.edge_capacity_mbps=200"]].concat();
    let (apart, together) = assert_squads_change_nothing("scenarios/hardware-lb.toml", &base);
    assert!(together < apart, "{together} events against {apart}");
}

#[test]
fn squads_give_the_same_event_log_in_strict_and_window_dispatch() {
    let s = common::short_quickstart(&["viewers.join_step=1s", "viewers.squads=true"]);
    common::assert_dispatch_modes_agree(&s, 3);
}
