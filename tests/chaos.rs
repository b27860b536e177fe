//! Target selectors and seeded random faults: what they draw (exactly reproducible,
//! within their limits, at the analytic rate), and what the world does with them.

mod common;

use failcast::experiment::run_scenario;
use failcast::scenario::chaos::{concrete_faults, ConcreteFault};
use failcast::scenario::{load_str, Diagnostics, Scenario};
use failcast::sim::rng_for;
use failcast::time::SimDuration;

fn drawn(s: &Scenario, seed: u64) -> Vec<ConcreteFault> {
    concrete_faults(s, |stream| rng_for(seed, stream))
}

#[test]
fn random_faults_stay_in_their_window_limits_and_targets() {
    let soak = common::scenario("scenarios/chaos-soak.toml", &[]);
    let (from, end) = (SimDuration::from_secs(300), SimDuration::from_secs(86_400));
    for seed in 1..=20 {
        let faults = drawn(&soak, seed);
        assert_eq!(faults, drawn(&soak, seed), "seed {seed}: the same seed draws the same");
        assert!(!faults.is_empty());
        let mut previous_end = SimDuration::ZERO;
        for (i, f) in faults.iter().enumerate() {
            assert_eq!(f.id, format!("random-{}", i + 1));
            let (at, duration) = (f.fault.at.0, f.fault.duration.unwrap().0);
            assert!(at >= from && at < end, "{f:?}");
            // max_concurrent = 1: each starts after the previous ended.
            assert!(at >= previous_end, "seed {seed}: {f:?} overlaps");
            previous_end = at + duration;
            let target = &f.targets[0];
            match f.fault.kind.as_str() {
                "node.crash" => assert!(target.starts_with("edge-") || target.starts_with("ingest-")),
                "net.degrade" => {
                    assert!(target.starts_with("edge-"));
                    assert_eq!(f.fault.loss, Some(0.02));
                }
                other => panic!("{other}"),
            }
        }
    }
    assert_ne!(drawn(&soak, 1), drawn(&soak, 2));
    // Two at once, but never two nodes of one role: edges never overlap each other.
    let wider = common::scenario("scenarios/chaos-soak.toml", &["random_faults.max_concurrent=2"]);
    let faults = drawn(&wider, 3);
    let mut overlapping = 0;
    for (i, a) in faults.iter().enumerate() {
        for b in &faults[i + 1..] {
            let a_end = a.fault.at.0 + a.fault.duration.unwrap().0;
            if b.fault.at.0 < a_end {
                overlapping += 1;
                let role = |f: &ConcreteFault| f.targets[0].split('-').next().unwrap().to_string();
                assert_ne!(role(a), role(b), "{a:?} and {b:?}");
            }
        }
    }
    assert!(overlapping > 0, "the wider limit lets some overlap");
}

#[test]
fn random_fault_arrivals_have_the_asked_rate() {
    // No limits: arrivals are a Poisson process of rate 1/mtbf over the window, so a
    // day from 5 min on has 23.92 on average (200 seeds: standard error 0.35).
    let free = common::scenario(
        "scenarios/chaos-soak.toml",
        &["random_faults.max_concurrent=1000", "random_faults.blast_radius=0"],
    );
    let counts: Vec<f64> = (1..=200).map(|seed| drawn(&free, seed).len() as f64).collect();
    let mean = counts.iter().sum::<f64>() / counts.len() as f64;
    assert!((mean - 23.92).abs() < 1.2, "mean {mean}");
}

#[test]
fn a_run_injects_the_drawn_faults_and_lists_them() {
    let scenario = common::scenario(
        "scenarios/chaos-soak.toml",
        &["scenario.duration=40m", "viewers.count=30", "random_faults.mtbf=5m"],
    );
    let faults = drawn(&scenario, 2);
    assert!(faults.len() >= 4, "{faults:?}");
    let out = run_scenario(&scenario, 2, None, false).unwrap();
    let listed: Vec<(&str, &str)> = (out.faults.iter())
        .map(|f| (f.id.as_str(), f.target.as_str()))
        .collect();
    let expected: Vec<(&str, &str)> = (faults.iter())
        .map(|f| (f.id.as_str(), f.targets[0].as_str()))
        .collect();
    assert_eq!(listed, expected);
    // A crashed ingest or edge is seen by a check; nothing is lost uncounted.
    for f in out.faults.iter().filter(|f| f.kind == "node.crash") {
        assert!(f.time_to_detect_s.is_some(), "{f:?}");
    }
    assert!(common::balances(&out.summary));
}

#[test]
fn selectors_hit_every_node_they_name_and_draws_show_what_they_drew() {
    let source = |target: &str| {
        format!(
            "[scenario]\nname = \"t\"\nduration = \"12m\"\n[viewers]\ncount = 20\n[groups]\nfront = [\"edge-1\", \"edge-2\"]\n\
             [[fault]]\nid = \"f\"\nat = \"10m\"\nkind = \"node.crash\"\ntarget = \"{target}\"\nduration = \"1m\"\n"
        )
    };
    let run = |target: &str, seed: u64| {
        let s = load_str("t.toml", &source(target), &[]).unwrap();
        run_scenario(&s, seed, None, false).unwrap()
    };
    let all = run("role:edge", 1);
    let ids: Vec<&str> = all.faults.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["f/edge-1", "f/edge-2", "f/edge-3", "f/edge-4"]);
    // Every edge is down: every viewer stalls through the minute.
    assert!(all.viewers.iter().all(|v| v.stall_time.as_secs_f64() > 30.0));
    let group = run("group:front", 1);
    let targets: Vec<&str> = group.faults.iter().map(|f| f.target.as_str()).collect();
    assert_eq!(targets, ["edge-1", "edge-2"]);
    // A draw is the seed's: the same seed the same ingest server.
    let picks: Vec<String> = (1..=6)
        .map(|seed| run("count:1:role:ingest", seed).faults[0].id.clone())
        .collect();
    assert_eq!(picks[0], run("count:1:role:ingest", 1).faults[0].id);
    assert!(picks.iter().all(|p| p == "f/ingest-1" || p == "f/ingest-2"));
    assert!(
        picks.iter().any(|p| p == "f/ingest-1") && picks.iter().any(|p| p == "f/ingest-2"),
        "{picks:?}"
    );
}

#[test]
fn a_partition_between_two_sides_leaves_the_rest_connected() {
    // ingest-1 is cut from the origin only: the manager still reaches it, sees it
    // healthy and never fails over, so the stream stops for the whole minute.
    let base = "[scenario]\nname = \"t\"\nduration = \"12m\"\n[viewers]\ncount = 20\n\
                [[fault]]\nat = \"10m\"\nkind = \"net.partition\"\ntarget = \"ingest-1\"\nother = \"role:origin\"\nduration = \"1m\"\n";
    let s = load_str("t.toml", base, &[]).unwrap();
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(out.failovers.is_empty(), "{:?}", out.failovers);
    assert!(
        out.summary.frames_dropped.total >= 1_500,
        "{:?}",
        out.summary.frames_dropped
    );
    // One way, origin → ingest only: ingest-1's segments still arrive; nothing is lost.
    let one_way = load_str(
        "t.toml",
        &base.replace(
            "target = \"ingest-1\"\nother = \"role:origin\"",
            "target = \"role:origin\"\nother = \"ingest-1\"\none_way = true",
        ),
        &[],
    )
    .unwrap();
    let out = run_scenario(&one_way, 1, None, false).unwrap();
    assert_eq!(out.summary.frames_dropped.total, 0);
}

fn messages(d: Diagnostics) -> Vec<String> {
    d.0.into_iter().map(|e| e.message).collect()
}

#[test]
fn bad_selectors_and_random_fault_tables_are_refused_with_exact_text() {
    let fault = |target: &str, kind: &str| {
        format!("[scenario]\nname = \"t\"\nduration = \"1m\"\n[[fault]]\nat = \"30s\"\nkind = \"{kind}\"\ntarget = \"{target}\"\n")
    };
    let err = |source: String| messages(load_str("t.toml", &source, &[]).unwrap_err());
    assert_eq!(
        err(fault("role:cache", "node.crash")),
        ["unknown role `cache` in target `role:cache`"]
    );
    assert_eq!(
        err(fault("role:shield", "node.crash")),
        ["target `role:shield`: this scenario has no shield node"]
    );
    assert_eq!(
        err(fault("count:9:role:edge", "node.crash")),
        ["target `count:9:role:edge` draws 9 of 4 nodes"]
    );
    assert_eq!(
        err(fault("group:west", "node.crash")),
        ["unknown group `west` in target `group:west`"]
    );
    assert_eq!(
        err(fault("role:edge", "encoder.black")),
        ["encoder.black targets an encoder, not `edge-1` (from `role:edge`)"]
    );
    let random = |body: &str| format!("[scenario]\nname = \"t\"\nduration = \"1h\"\n[random_faults]\n{body}");
    assert_eq!(
        err(random(
            "[[random_faults.kind]]\nkind = \"node.crash\"\nweight = 1\nmttr = \"5m\"\n"
        )),
        ["kinds with a weight share random_faults.mtbf, which is not given"]
    );
    assert_eq!(
        err(random(
            "[[random_faults.kind]]\nkind = \"node.crash\"\nweight = 1\nmtbf = \"1h\"\nmttr = \"5m\"\n"
        )),
        ["random node.crash faults need either a `weight` or their own `mtbf`"]
    );
    assert_eq!(
        err(random("until = \"2h\"\n[[random_faults.kind]]\nkind = \"node.slow\"\nmtbf = \"1h\"\nmttr = \"5m\"\ninterval_distribution = \"poisson\"\n")),
        [
            "random faults window 0s..2h is not inside the run (0s..1h)",
            "unknown value `poisson` for `random_faults.kind[0].interval_distribution`",
            "a node.slow fault needs `delay`",
        ]
    );
}

#[test]
fn a_region_outage_takes_down_the_whole_region_at_once() {
    let s = common::scenario(
        "scenarios/region-outage.toml",
        &["scenario.duration=14m", "viewers.count=40"],
    );
    let out = run_scenario(&s, 1, None, false).unwrap();
    let hit: Vec<(&str, &str)> = (out.faults.iter())
        .map(|f| (f.id.as_str(), f.target.as_str()))
        .collect();
    assert_eq!(
        hit,
        [
            ("eu-down/ingest-1", "ingest-1"),
            ("eu-down/edge-1", "edge-1"),
            ("eu-down/edge-2", "edge-2")
        ]
    );
    assert_eq!(out.failovers.len(), 1);
    assert_eq!(out.failovers[0].from, "ingest-1");
    // Viewers of the dead edges move to us edges; those of us edges never stall.
    for v in &out.viewers {
        let in_eu = v.edge == "edge-1" || v.edge == "edge-2";
        if !in_eu {
            assert!(v.stall_time.as_secs_f64() < 10.0, "{v:?}");
        }
    }
    // Drawn at random: a region outage takes every node of the region it draws.
    let mut random = s.clone();
    random.random_faults = Some(failcast::scenario::chaos::RandomFaults {
        mtbf: Some(failcast::scenario::Dur(SimDuration::from_secs(120))),
        max_concurrent: 1,
        blast_radius: 1,
        kinds: vec![failcast::scenario::chaos::RandomKind {
            kind: "region.outage".into(),
            weight: Some(1.0),
            mttr: failcast::scenario::Dur(SimDuration::from_secs(60)),
            interval_distribution: "exponential".into(),
            duration_distribution: "exponential".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let regions = [
        vec!["ingest-1", "edge-1", "edge-2"],
        vec!["manager-1", "ingest-2", "origin-1", "edge-3", "edge-4", "monitor-1"],
    ];
    let drawn_regions = drawn(&random, 1);
    assert!(drawn_regions.iter().any(|f| f.id.starts_with("random-")));
    for f in drawn_regions.iter().filter(|f| f.id.starts_with("random-")) {
        let mut targets: Vec<&str> = f.targets.iter().map(String::as_str).collect();
        targets.sort();
        assert!(
            regions.iter().any(|r| {
                let mut r = r.clone();
                r.sort();
                r == targets
            }),
            "{f:?}"
        );
    }
}

#[test]
fn regions_are_disjoint_and_region_outages_name_a_region() {
    let base =
        "[scenario]\nname = \"t\"\nduration = \"1m\"\n[regions]\neu = [\"edge-1\", \"edge-2\"]\nus = [\"edge-2\"]\n";
    assert_eq!(
        messages(load_str("t.toml", base, &[]).unwrap_err()),
        ["`edge-2` is in region `eu` and in region `us`"]
    );
    // A region places its nodes for the whole run: a draw, direct or through a group,
    // would leave them to the seed.
    for (groups, region) in [
        ("", "count:1:role:edge"),
        ("[groups]\nsome = [\"percent:50:role:edge\"]\n", "group:some"),
    ] {
        let drawn = format!("[scenario]\nname = \"t\"\nduration = \"1m\"\n{groups}[regions]\neu = [\"{region}\"]\n");
        assert_eq!(
            messages(load_str("t.toml", &drawn, &[]).unwrap_err()),
            [format!("`{region}` in region `eu` draws its nodes (count: or percent:), but a region places nodes for the whole run")]
        );
    }
    let outage = "[scenario]\nname = \"t\"\nduration = \"1m\"\n[[fault]]\nat = \"30s\"\nkind = \"region.outage\"\ntarget = \"edge-1\"\n";
    assert_eq!(
        messages(load_str("t.toml", outage, &[]).unwrap_err()),
        ["region.outage targets a region, not `edge-1`"]
    );
}

#[test]
fn set_reaches_every_random_fault_key_even_those_the_file_leaves_out() {
    let soak = |set: &[&str]| common::scenario("scenarios/chaos-soak.toml", set);
    let base = soak(&[]);
    let r = base.random_faults.as_ref().unwrap();
    assert_eq!((r.until, r.kinds[2].latency, r.kinds[2].jitter), (None, None, None));
    let s = soak(&[
        "random_faults.until=2h",
        "random_faults.kind[0].weight=5",
        "random_faults.kind[2].latency=40ms",
        "random_faults.kind[2].target=role:ingest",
    ]);
    let r = s.random_faults.as_ref().unwrap();
    assert_eq!(r.until.unwrap().0, SimDuration::from_secs(7200));
    assert_eq!(r.kinds[0].weight, Some(5.0));
    assert_eq!(r.kinds[2].latency.unwrap().0, SimDuration::from_millis(40));
    assert_eq!(r.kinds[2].target.as_deref(), Some("role:ingest"));
    // Everything else is as the file has it.
    assert_eq!(r.kinds[1], base.random_faults.as_ref().unwrap().kinds[1]);
    assert_eq!(s.faults, base.faults);

    // A value the kind cannot take is refused where it came from.
    let overrides = vec!["random_faults.kind[1].mttr=soon".to_string()];
    let d = failcast::scenario::load(&common::repo_path("scenarios/chaos-soak.toml"), &overrides).unwrap_err();
    assert_eq!(d.0[0].file, "--set", "{d}");
    assert_eq!(
        d.0[0].source_line.as_deref(),
        Some("--set random_faults.kind[1].mttr=soon"),
        "{d}"
    );
    // An entry the file does not have.
    let overrides = vec!["random_faults.kind[7].mtbf=1h".to_string()];
    let d = failcast::scenario::load(&common::repo_path("scenarios/chaos-soak.toml"), &overrides).unwrap_err();
    assert_eq!(
        d.0[0].message, "unknown scenario key `random_faults.kind[7].mtbf`",
        "{d}"
    );
}

#[test]
fn set_on_random_faults_of_a_scenario_without_them_says_what_to_add() {
    let overrides = vec!["random_faults.mtbf=1h".to_string()];
    let d = load_str("t.toml", "[scenario]\nname = \"t\"\nduration = \"1h\"\n", &overrides).unwrap_err();
    assert_eq!(
        d.to_string(),
        "error: `random_faults.mtbf`: this scenario has no [random_faults]\n--> --set\n |\n | --set random_faults.mtbf=1h\n |\n = help: add a [random_faults] table with at least one [[random_faults.kind]] to the file\n\n1 error in scenario"
    );
}

#[test]
fn set_reaches_a_random_fault_kind_written_inline() {
    let text = "random_faults = { mtbf = \"1h\", kind = [{ kind = \"node.crash\", target = \"role:edge\", weight = 1, mttr = \"5m\" }] }\n\
        [scenario]\nname = \"t\"\nduration = \"2h\"\n";
    let s = load_str("t.toml", text, &["random_faults.kind[0].mttr=9m".to_string()]).unwrap();
    assert_eq!(s.random_faults.unwrap().kinds[0].mttr.0, SimDuration::from_secs(540));
}
