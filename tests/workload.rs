//! The workload: arrival curves, sessions and regions shape who watches when and where.

mod common;

use failcast::experiment::run_scenario;
use failcast::scenario::load_str;
use failcast::time::SimTime;

fn match_day(extra: &[&str]) -> failcast::experiment::RunOutput {
    let mut overrides = vec!["viewers.count=600"];
    overrides.extend_from_slice(extra);
    let s = common::scenario("scenarios/match-day.toml", &overrides);
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

#[test]
fn the_timeline_counts_exactly_the_viewers_between_their_join_and_their_departure() {
    let out = match_day(&[]);
    let left = out.viewers.iter().filter(|v| v.left_at.is_some()).count();
    assert!(
        left > 300,
        "lognormal sessions of 20 min on a 40 min run: most leave ({left})"
    );
    for v in &out.viewers {
        let (joined, left) = (v.joined_at.unwrap(), v.left_at);
        if let Some(left) = left {
            assert!(left > joined);
            assert!(v.play_time + v.stall_time <= left - joined, "{v:?}");
        }
    }
    for row in out.timeline.iter().step_by(7) {
        let end = SimTime::from_secs(row.time_s + 1);
        let watching = (out.viewers.iter())
            .filter(|v| v.joined_at.unwrap() < end && v.left_at.is_none_or(|left| left >= end))
            .count() as i64;
        assert_eq!(
            row.viewers_starting + row.viewers_playing + row.viewers_stalled,
            watching,
            "second {}",
            row.time_s
        );
    }
}

#[test]
fn the_flash_crowd_arrives_in_its_window_and_regions_get_their_share() {
    let out = match_day(&["viewers.count=3000"]);
    // The curve: 0→10 min rate 1→3 (area 1,200 rate·s), 10–13 min rate 45 (8,100),
    // 13→40 min rate 3→1 (3,240): 64.6% of the arrivals fall in the crowd.
    let crowd = (out.viewers.iter())
        .filter(|v| (SimTime::from_secs(600)..SimTime::from_secs(780)).contains(&v.joined_at.unwrap()))
        .count() as f64;
    let expected = 3000.0 * 8_100.0 / 12_540.0;
    let sigma = (3000.0 * 0.646 * 0.354f64).sqrt();
    assert!((crowd - expected).abs() < 4.0 * sigma, "{crowd} vs {expected}");
    // 70% in Europe (edge-1 … edge-3), each placed on an edge of its region.
    let eu = (out.viewers.iter())
        .filter(|v| ["edge-1", "edge-2", "edge-3"].contains(&v.edge.as_str()))
        .count() as f64;
    let sigma = (3000.0 * 0.7 * 0.3f64).sqrt();
    assert!((eu - 2100.0).abs() < 4.0 * sigma, "{eu}");
}

#[test]
fn least_connections_places_each_viewer_on_the_least_loaded_edge_of_its_region_at_its_join() {
    let out = match_day(&[]);
    let regions = [["edge-1", "edge-2", "edge-3"], ["edge-4", "edge-5", "edge-6"]];
    let mut joins: Vec<_> = out.viewers.iter().collect();
    joins.sort_by_key(|v| v.joined_at);
    for v in &joins {
        let at = v.joined_at.unwrap();
        let region = regions.iter().find(|r| r.contains(&v.edge.as_str())).unwrap();
        let load = |edge: &str| {
            (out.viewers.iter())
                .filter(|o| o.edge == edge && o.joined_at.unwrap() < at && o.left_at.is_none_or(|left| left > at))
                .count()
        };
        let least = region.iter().map(|e| load(e)).min().unwrap();
        assert_eq!(load(&v.edge), least, "viewer joining at {at} on {}", v.edge);
    }
}

#[test]
fn sessions_are_deterministic_across_dispatch_modes() {
    let s = common::scenario(
        "scenarios/match-day.toml",
        &["viewers.count=100", "scenario.duration=15m"],
    );
    common::assert_dispatch_modes_agree(&s, 2);
}

#[test]
fn workload_errors_name_the_key_and_the_fix() {
    const MINIMAL: &str = "[scenario]\nname = \"t\"\nduration = \"1h\"\n";
    let refused = |extra: &str| {
        load_str("t.toml", &format!("{MINIMAL}{extra}"), &[])
            .expect_err("must be refused")
            .to_string()
    };
    let text = refused("[viewers]\narrivals = [{ at = \"10m\", rate = 1 }, { at = \"5m\", rate = 2 }]\n");
    assert!(
        text.contains("arrival point at 5m comes before the one above it (10m)"),
        "{text}"
    );
    assert!(text.contains("t.toml:5:46"), "points at the offending value: {text}");
    let text = refused("[viewers]\narrivals = [{ at = \"0s\", rate = 0 }, { at = \"5m\", rate = 0 }]\n");
    assert!(
        text.contains("the arrival curve has no arrivals before the end of the run"),
        "{text}"
    );
    // A rate near f64::MAX would overflow the curve's area (every join at the end).
    let text = refused("[viewers]\narrivals = [{ at = \"0s\", rate = 1e308 }, { at = \"5m\", rate = 1e308 }]\n");
    assert!(
        text.contains("arrival rate 1e308 is not a number in 0 ..= 1e12"),
        "{text}"
    );
    let text =
        refused("[viewers]\njoin_at = \"1m\"\narrivals = [{ at = \"0s\", rate = 1 }, { at = \"5m\", rate = 1 }]\n");
    assert!(text.contains("both say when viewers join"), "{text}");
    // Written at its default, a join key still says something the curve contradicts.
    let text =
        refused("[viewers]\narrivals = [{ at = \"0s\", rate = 1 }, { at = \"5m\", rate = 1 }]\njoin_over = \"5s\"\n");
    assert!(text.contains("both say when viewers join"), "{text}");
    assert!(text.contains("t.toml:6:13"), "points at join_over: {text}");
    let text = refused("[viewers]\nsession = { distribution = \"pareto\", mean = \"10m\" }\n");
    assert!(text.contains("viewers.session.distribution"), "{text}");
    let regions = "[regions]\neurope = [\"edge-1\", \"edge-2\"]\nasia = [\"ingest-1\"]\n";
    let text = refused(&format!("{regions}[viewers]\nregions = {{ eruope = 1.0 }}\n"));
    assert!(text.contains("unknown region `eruope`"), "{text}");
    assert!(text.contains("did you mean `europe`?"), "{text}");
    let text = refused(&format!(
        "{regions}[viewers]\nregions = {{ europe = 0.5, asia = 0.5 }}\n"
    ));
    assert!(text.contains("region `asia` has viewers but no edge"), "{text}");
    let text = refused(&format!(
        "{regions}[cdn]\nbalancing = \"hardware\"\n[viewers]\nregions = {{ europe = 1.0 }}\n"
    ));
    assert!(
        text.contains("only the software balancer places viewers by region"),
        "{text}"
    );
}

#[test]
fn segments_cross_to_another_region_later_by_the_inter_region_latency() {
    let source = "[scenario]\nname = \"t\"\nduration = \"1m\"\n[cdn]\nedges = 4\n\
        [regions]\neu = [\"origin-1\", \"edge-1\", \"edge-2\"]\nus = [\"edge-3\", \"edge-4\"]\n\
        [network]\ninter_region = { latency = \"100ms\" }\norigin_edge = { jitter = \"0s\" }\n[viewers]\ncount = 8\n";
    let s = load_str("t.toml", source, &[]).unwrap();
    let out = run_scenario(&s, 1, None, true).unwrap();
    let id = |name: &str| out.node_names.iter().position(|n| n == name).unwrap() as u32;
    let records = out.records.as_ref().unwrap();
    let arrivals = |edge: u32| -> Vec<SimTime> {
        (records.iter())
            .filter(|r| r.dst == edge && r.kind == "segment")
            .map(|r| r.time)
            .collect()
    };
    let (eu, us) = (arrivals(id("edge-1")), arrivals(id("edge-3")));
    assert_eq!(eu.len(), us.len());
    for (near, far) in eu.iter().zip(&us) {
        assert_eq!(*far - *near, failcast::time::SimDuration::from_millis(100));
    }
    let d = load_str(
        "t.toml",
        "[scenario]\nname = \"t\"\nduration = \"1m\"\n[network]\ninter_region = { latency = \"50ms\" }\n",
        &[],
    )
    .unwrap_err();
    assert!(
        d.to_string().contains("network.inter_region applies between regions"),
        "{d}"
    );
}

#[test]
fn stalls_cut_short_by_a_departure_count_in_windows_as_in_the_whole_run() {
    let mut s = common::scenario("scenarios/match-day.toml", &["viewers.count=600"]);
    let whole = |metric: &str| failcast::scenario::Expect {
        metric: metric.into(),
        op: "ge".into(),
        value: failcast::scenario::Threshold::Number(0.0),
        during: Some("0s..40m".into()),
    };
    s.expects = vec![whole("stall_count"), whole("stall_s_total")];
    let out = run_scenario(&s, 1, None, false).unwrap();
    let measured: Vec<f64> = out.verdicts.iter().map(|v| v.measured.unwrap()).collect();
    assert_eq!(measured[0], out.summary.stall_count as f64);
    assert!((measured[1] - out.summary.stall_s_total).abs() < 1e-6);
    assert_eq!(out.stalls.len() as u64, out.summary.stall_count);
}

#[test]
fn a_departed_viewer_frees_its_load_balancer_connection() {
    // 400 one-minute sessions spread over 9 minutes (about 45 at once) through a
    // device that tracks 100 connections: every viewer gets in.
    let mut s = common::scenario(
        "scenarios/hardware-lb.toml",
        &["viewers.count=400", "viewers.join_over=9m", "lb.max_connections=100"],
    );
    s.viewers.session = Some(failcast::scenario::workload::Session {
        distribution: "fixed".into(),
        mean: failcast::scenario::Dur(failcast::time::SimDuration::from_secs(60)),
        sigma: 1.0,
    });
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    assert_eq!(out.summary.viewers_started, 400);
}

#[test]
fn frames_to_a_floating_ingest_address_cross_regions_by_the_inter_region_latency() {
    // The encoder in Europe, both ingest servers in the US: frames go to the stream's
    // floating address, held by ingest-1.
    let source = |gap: &str| {
        format!(
            "[scenario]\nname = \"t\"\nduration = \"1m\"\n\
             [regions]\neu = [\"encoder-1\"]\nus = [\"ingest-1\", \"ingest-2\", \"manager-1\", \"origin-1\"]\n\
             [network]\ninter_region = {{ latency = \"{gap}\" }}\nencoder_ingest = {{ jitter = \"0s\" }}\n[viewers]\ncount = 4\n"
        )
    };
    let frames = |gap: &str| -> Vec<SimTime> {
        let s = load_str("t.toml", &source(gap), &[]).unwrap();
        let out = run_scenario(&s, 1, None, true).unwrap();
        let ingest = out.node_names.iter().position(|n| n == "ingest-1").unwrap() as u32;
        (out.records.as_ref().unwrap().iter())
            .filter(|r| r.dst == ingest && r.kind == "frames")
            .map(|r| r.time)
            .collect()
    };
    let (near, far) = (frames("1ms"), frames("151ms"));
    assert!(near.len() > 1000);
    // Capture starts once the connection is up (the handshake's two legs, each 150 ms
    // longer), then every frame takes 150 ms longer to arrive: 450 ms in all (150 ms
    // if the address were as near as the encoder).
    let shift = far[0] - near[0];
    for (a, b) in near.iter().zip(&far).take(1000) {
        assert_eq!(*b - *a, shift);
    }
    assert_eq!(shift, failcast::time::SimDuration::from_millis(450), "{shift}");
}

#[test]
fn sessions_can_be_given_from_the_command_line_to_a_scenario_without_them() {
    let s = common::scenario("scenarios/quickstart.toml", &["viewers.session.mean=6m"]);
    let session = s.viewers.session.expect("--set made a session table");
    assert_eq!(session.distribution, "exponential");
    assert_eq!(session.mean.0, failcast::time::SimDuration::from_secs(360));
    let path = common::repo_path("scenarios/quickstart.toml");
    let text = failcast::scenario::load(&path, &["viewers.session.men=6m".to_string()])
        .expect_err("a misspelt session key is refused")
        .to_string();
    assert!(text.contains("did you mean `viewers.session.mean`?"), "{text}");
}
