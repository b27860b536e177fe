//! Redundancy modes compared on the same topology, fault and seeds.

mod common;

use common::balances;
use failcast::experiment::run_scenario;
use failcast::time::SimDuration;

fn short(file: &str, extra: &[&str]) -> failcast::scenario::Scenario {
    let mut overrides = vec!["scenario.duration=12m", "viewers.count=100"];
    overrides.extend_from_slice(extra);
    common::scenario(file, &overrides)
}

#[test]
fn active_active_fails_over_faster_than_active_passive_on_every_seed() {
    let passive = short("scenarios/quickstart.toml", &[]);
    let active = short("scenarios/active-active.toml", &[]);
    // Seeds 2 and 3 once started ingest-1 a segment late (the encoder began on its
    // first connection), which the origin took for a dead input at 3 s.
    for seed in [1, 2, 3, 7] {
        let p = run_scenario(&passive, seed, None, false).unwrap().summary;
        let out = run_scenario(&active, seed, None, false).unwrap();
        let episodes: Vec<_> = (out.failovers.iter())
            .map(|e| (e.fault.as_str(), e.from.as_str()))
            .collect();
        assert_eq!(episodes, [("primary-crash", "ingest-1")], "seed {seed}");
        let a = out.summary;
        let (p_ms, a_ms) = (p.failover_latency_ms.max.unwrap(), a.failover_latency_ms.max.unwrap());
        assert!(
            a_ms < p_ms,
            "seed {seed}: active-active {a_ms} ms vs active-passive {p_ms} ms"
        );
        // The surviving pipeline had every frame: nothing is lost and nobody stalls.
        assert_eq!(a.frames_dropped.total, 0, "seed {seed}");
        assert_eq!(a.stall_count, 0, "seed {seed}");
        assert!(p.frames_dropped.ingest > 0);
        assert!(balances(&a) && balances(&p));
    }
}

#[test]
fn active_active_latency_is_the_input_loss_threshold_plus_transit() {
    for input_loss_ms in [500u64, 1_000, 2_000] {
        let setting = format!("ingest.input_loss={input_loss_ms}ms");
        let out = run_scenario(&short("scenarios/active-active.toml", &[&setting]), 1, None, false).unwrap();
        let e = &out.failovers[0];
        assert_eq!(e.kind, "failover");
        assert_eq!(e.from, "ingest-1");
        // The crash at 600 s kills ingest-1's copy of the segment completing just after;
        // ingest-2's copy reached the origin within ~60 ms (encoder → ingest → origin),
        // and the origin waited `input_loss` for ingest-1's.
        let latency = e.failover_latency_ms.unwrap();
        let transit = latency - input_loss_ms as f64;
        assert!(
            (0.0..100.0).contains(&transit),
            "{input_loss_ms} ms: latency {latency} ms"
        );
        assert_eq!(e.switched_ms, e.first_frame_ms.unwrap());
    }
}

#[test]
fn active_active_latency_waits_for_the_next_segment_boundary() {
    // Segments end every 2 s from 0: the selector sees ingest-1's copy missing only at
    // the next boundary, waits the 1 s threshold, and publishes ingest-2's copy.
    for (crash_ms, wait_ms) in [(600_500u64, 1_500.0), (601_000, 1_000.0), (601_900, 100.0)] {
        let at = format!("fault[0].at={crash_ms}ms");
        let out = run_scenario(&short("scenarios/active-active.toml", &[&at]), 1, None, false).unwrap();
        let latency = out.failovers[0].failover_latency_ms.unwrap();
        let transit = latency - wait_ms - 1_000.0;
        assert!(
            (0.0..100.0).contains(&transit),
            "crash at {crash_ms} ms: latency {latency} ms"
        );
    }
}

#[test]
fn losing_both_pipelines_is_accounted_and_recovers_when_one_returns() {
    let mut scenario = short("scenarios/active-active.toml", &[]);
    let mut second = scenario.faults[0].clone();
    second.id = Some("second-crash".into());
    second.target = "ingest-2".into();
    second.at = failcast::scenario::Dur(SimDuration::from_secs(610));
    second.duration = Some(failcast::scenario::Dur(SimDuration::from_secs(30)));
    scenario.faults.push(second);
    scenario.expects.clear();
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let s = &out.summary;
    // 610–640 s no pipeline is alive; ingest-2 comes back at 640 s (ingest-1 only at 900 s).
    assert!(s.frames_dropped.ingest >= 30 * 30, "{}", s.frames_dropped.ingest);
    assert!(s.stall_count > 0);
    assert!(balances(s));
    // After its restart, ingest-2 is publishing again before the end of the run.
    let last = out.timeline.iter().rev().find(|r| r.frames_ingested > 0).unwrap();
    assert!(last.time_s >= 700);
}

#[test]
fn active_active_is_deterministic_across_dispatch_modes() {
    let scenario = short("scenarios/active-active.toml", &["viewers.count=30"]);
    common::assert_dispatch_modes_agree(&scenario, 9);
}

#[test]
fn failover_latency_orders_active_active_then_active_passive_then_dns() {
    let modes = [
        "scenarios/active-active.toml",
        "scenarios/quickstart.toml",
        "scenarios/dns-failover.toml",
    ];
    for seed in [1, 2, 3] {
        let latencies: Vec<f64> = modes
            .iter()
            .map(|file| {
                let settings = ["dns.violator_share=0", "scenario.duration=15m"];
                let out = run_scenario(&short(file, &settings), seed, None, false).unwrap();
                assert!(balances(&out.summary), "{file}");
                let by = [
                    "origin-1 input selector",
                    "manager-1 health check",
                    "dns-1 health check",
                ];
                let mode = modes.iter().position(|m| m == file).unwrap();
                assert_eq!(out.failovers[0].detected_by, by[mode], "{file}");
                out.summary.failover_latency_ms.max.expect("every mode recovers")
            })
            .collect();
        assert!(
            latencies[0] < latencies[1] && latencies[1] < latencies[2],
            "seed {seed}: active-active, active-passive, dns = {latencies:?} ms"
        );
    }
}

#[test]
fn dns_detection_is_when_the_seventh_of_eight_route53_checkers_gives_up() {
    use failcast::sim::rng_for;
    use rand::Rng;
    let scenario = short(
        "scenarios/dns-failover.toml",
        &["dns.violator_share=0", "scenario.duration=15m"],
    );
    for seed in [1, 2] {
        let out = run_scenario(&scenario, seed, None, false).unwrap();
        let e = &out.failovers[0];
        // Checker c probes ingest-1 at its phase + k × 30 s; its first probe at or
        // after the crash fails, and its third miss is declared at the 4 s timeout.
        // With 8 checkers and Route 53's 18% rule the record flips when the 7th has.
        let mut down_ms: Vec<f64> = (0..8)
            .map(|c| {
                let stream = match c {
                    0 => "dns-1/health-phase".to_string(),
                    c => format!("dns-1/health-phase/checker-{}", c + 1),
                };
                let phase_ms = rng_for(seed, &stream).gen_range(0..30_000_000_000u64) as f64 / 1e6;
                let first_unanswered = phase_ms + ((600_000.0 - phase_ms) / 30_000.0).ceil() * 30_000.0;
                first_unanswered + 2.0 * 30_000.0 + 4_000.0
            })
            .collect();
        down_ms.sort_by(f64::total_cmp);
        assert_eq!(e.detected_ms, down_ms[6], "seed {seed}");
        // The record flips at detection; the encoder can only follow afterwards.
        assert_eq!(e.detected_by, "dns-1 health check");
        // (The fault itself was seen first by the manager's faster checks.)
        assert_eq!(out.faults[0].detected_by.as_deref(), Some("manager-1 health check"));
        assert_eq!(e.switched_ms, e.detected_ms);
        assert!(e.first_frame_ms.unwrap() > e.switched_ms);
    }
}

#[test]
fn dns_failover_latency_is_bimodal_and_eight_checkers_make_the_slow_mode_likely() {
    // The encoder gives up on the dead server ~4 s after the crash (b), resolves at
    // its first reconnect (b + 2 s, answer cached 60 s), and again only at the first
    // reconnect after that expiry, b + 82.3 s with OBS's backoff (docs/model.md). A
    // record that flipped before then is followed at once (~87 s); otherwise the dead
    // answer is cached again and the next resolution is at b + 173.8 s (~178 s).
    // Detection is 64 s + V: V the 7th of 8 uniform phases on [0, 30 s) with Route 53's
    // checkers, one uniform phase with a single checker. So the slow mode has
    // probability 1 − F₇₋₈((86.4 − 64) / 30) = 0.64 with 8 checkers and 0.25 with one.
    let seeds = 60u64;
    for (checkers, p_slow) in [(8, 0.639), (1, 0.252)] {
        let settings = [
            "dns.violator_share=0",
            "scenario.duration=14m",
            "viewers.count=1",
            "cdn.edges=1",
        ];
        let mut scenario = short("scenarios/dns-failover.toml", &settings);
        scenario.dns.health.checkers = checkers;
        let mut slow = 0;
        for seed in 1..=seeds {
            let out = run_scenario(&scenario, seed, None, false).unwrap();
            let e = &out.failovers[0];
            let detected_s = (e.detected_ms - 600_000.0) / 1e3;
            let latency_s = e.failover_latency_ms.expect("recovers") / 1e3;
            assert!(
                (64.0..=94.0).contains(&detected_s),
                "{checkers} checkers, seed {seed}: {detected_s}"
            );
            if latency_s > 170.0 {
                slow += 1;
                assert!(
                    latency_s < 186.0 && detected_s > 85.0,
                    "seed {seed}: {detected_s} → {latency_s}"
                );
            } else {
                assert!(
                    latency_s > 84.0 && latency_s < 96.0,
                    "seed {seed}: {detected_s} → {latency_s}"
                );
                assert!(detected_s < latency_s, "seed {seed}");
            }
        }
        let share = f64::from(slow) / seeds as f64;
        let se = (p_slow * (1.0 - p_slow) / seeds as f64).sqrt();
        assert!(
            (share - p_slow).abs() < 3.0 * se,
            "{checkers} checkers: {slow} of {seeds} slow, derived {p_slow}"
        );
    }
}

#[test]
fn a_ttl_violating_resolver_adds_its_stretch_to_the_outage() {
    let honest = short(
        "scenarios/dns-failover.toml",
        &["dns.violator_share=0", "scenario.duration=20m"],
    );
    let violator = short(
        "scenarios/dns-failover.toml",
        &["dns.violator_share=1", "dns.stretched_ttl=5m", "scenario.duration=20m"],
    );
    let mut honest = honest;
    let mut violator = violator;
    // A crash that does not end: only DNS can move the encoder.
    honest.faults[0].duration = None;
    violator.faults[0].duration = None;
    let h = run_scenario(&honest, 1, None, false).unwrap();
    let v = run_scenario(&violator, 1, None, false).unwrap();
    let (h_ms, v_ms) = (
        h.summary.failover_latency_ms.max.unwrap(),
        v.summary.failover_latency_ms.max.unwrap(),
    );
    // The violator resolved again just after the crash (its stretched answer from the
    // start had expired) and keeps that stale answer for 5 minutes; the encoder then
    // moves at its next backoff retry (OBS's delays have grown to over a minute).
    assert!(v_ms > 300_000.0 && v_ms < 420_000.0, "violator {v_ms} ms");
    // An honest resolver's failover is one of the two modes (≈ 87 s or ≈ 178 s; seed
    // 1 resolves again just before the record flips and caches the dead answer).
    assert!(h_ms > 170_000.0 && h_ms < 186_000.0, "honest {h_ms} ms");
    assert!(v.summary.frames_dropped.ingest > h.summary.frames_dropped.ingest);
}

#[test]
fn dns_failover_is_deterministic_across_dispatch_modes() {
    let scenario = short("scenarios/dns-failover.toml", &["viewers.count=20"]);
    common::assert_dispatch_modes_agree(&scenario, 5);
}

#[test]
fn dns_answering_the_primary_because_all_are_down_is_not_a_failback() {
    let mut scenario = short(
        "scenarios/dns-failover.toml",
        &["dns.violator_share=0", "scenario.duration=20m"],
    );
    let mut second = scenario.faults[0].clone();
    second.id = Some("standby-crash".into());
    second.target = "ingest-2".into();
    second.at = failcast::scenario::Dur(SimDuration::from_secs(720));
    scenario.faults.push(second);
    scenario.expects.clear();
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    // ingest-2 dies while ingest-1 is still down: the record returns to the primary,
    // which is down too. That is a failover episode of its own (blamed on the standby's
    // crash), not a failback.
    assert_eq!(out.summary.failbacks, 0, "{:?}", out.failovers);
    let second = &out.failovers[1];
    assert_eq!(
        (second.kind.as_str(), second.from.as_str(), second.to.as_str()),
        ("failover", "ingest-2", "ingest-1")
    );
    assert_eq!(second.fault, "standby-crash");
    assert!(balances(&out.summary));
}

#[test]
fn a_switch_to_a_misaligned_pipeline_skips_media_and_an_aligned_one_does_not() {
    let file = "scenarios/misaligned-pipelines.toml";
    let unlocked = run_scenario(&common::scenario(file, &["viewers.count=100"]), 1, None, false).unwrap();
    let locked = run_scenario(
        &common::scenario(file, &["viewers.count=100", "ingest.output_locking=epoch"]),
        1,
        None,
        false,
    )
    .unwrap();
    // ingest-2 came back 4 s into a 6 s segment: its segments start 4 s after
    // ingest-1's. ingest-1 dies at 600 s, right after publishing [594 s, 600 s); the
    // next whole segment of ingest-2 starts at 604 s, complete at 610 s; the origin
    // publishes it `input_loss` (1 s) after it arrives.
    let e = &unlocked.failovers[0];
    assert_eq!((e.from.as_str(), e.to.as_str()), ("ingest-1", "ingest-2"));
    assert_eq!(e.media_gap_ms, Some(4_000.0));
    let latency = e.failover_latency_ms.unwrap();
    assert!((5_000.0..5_100.0).contains(&latency), "{latency}");
    let s = &unlocked.summary;
    assert_eq!(s.discontinuities, 1);
    // The 120 frames of the gap were in ingest-2's straddling copy: lost at the origin.
    assert_eq!(s.frames_dropped.distribution, 120);
    assert_eq!(s.frames_dropped.ingest, 0);
    assert!(balances(s));

    let e = &locked.failovers[0];
    assert_eq!(e.media_gap_ms, Some(0.0));
    let latency = e.failover_latency_ms.unwrap();
    assert!((1_000.0..1_100.0).contains(&latency), "{latency}");
    assert_eq!(locked.summary.discontinuities, 0);
    assert_eq!(locked.summary.frames_dropped.total, 0);
}

#[test]
fn misaligned_pipelines_are_deterministic_across_dispatch_modes() {
    let scenario = common::scenario("scenarios/misaligned-pipelines.toml", &["viewers.count=30"]);
    common::assert_dispatch_modes_agree(&scenario, 3);
}

#[test]
fn dns_failover_keeps_one_record_per_stream() {
    // Six streams on four servers; ingest-1 is the primary of streams 1 and 5.
    let scenario = common::scenario(
        "scenarios/multi-stream.toml",
        &["ingest.redundancy=dns", "dns.health.interval=10s", "viewers.count=120"],
    );
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    let failovers: Vec<_> = (out.failovers.iter())
        .filter(|e| e.kind == "failover")
        .map(|e| (e.stream.as_str(), e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(
        failovers,
        [
            ("stream-1", "ingest-1", "ingest-2"),
            ("stream-5", "ingest-1", "ingest-2")
        ]
    );
    for e in out.failovers.iter().filter(|e| e.kind == "failover") {
        // Route 53 style: each checker's first failed check comes within 10 s of the
        // crash, its third 20 s later and times out after 4 s; then each encoder
        // follows the record once its cached answer (TTL 60 s) expired.
        let detect_s = e.time_to_detect_ms / 1000.0;
        assert!((24.0..34.0).contains(&detect_s), "{detect_s}");
        assert!(e.failover_latency_ms.unwrap() > e.time_to_detect_ms);
    }
    // Streams on other primaries never stopped: only streams 1 and 5 lost media, 90 s
    // each (the gap between their last segment on ingest-1 and the first on ingest-2).
    for e in out.failovers.iter().filter(|e| e.kind == "failover") {
        assert_eq!(e.media_gap_ms, Some(90_000.0));
    }
    let s = &out.summary;
    assert!(balances(s));
    assert_eq!(s.frames_dropped.ingest, 2 * 90 * 30);
}

#[test]
fn an_origin_move_reports_the_media_it_skipped_and_counts_a_discontinuity_each() {
    let out = run_scenario(
        &common::scenario("scenarios/origin-failover.toml", &["viewers.count=60"]),
        1,
        None,
        false,
    )
    .unwrap();
    let moves: Vec<_> = out.failovers.iter().filter(|e| e.kind == "failover").collect();
    assert_eq!(moves.len(), 3);
    // Each stream lost the two segments origin-1 held when it died.
    for e in &moves {
        assert_eq!(e.media_gap_ms, Some(4_000.0), "{e:?}");
    }
    assert_eq!(out.summary.discontinuities, 3);
    assert_eq!(out.summary.frames_dropped.total, 3 * 120);
    assert!(balances(&out.summary));
}

#[test]
fn misaligned_losses_are_settled_alike_whenever_the_run_ends() {
    // Ingest-1 is back 40 s after its crash, cutting at yet another phase; the switch
    // at 600 s lost 120 frames, and nothing else is lost whether the run ends at a
    // segment boundary of either pipeline or between.
    for end_s in [1_200, 1_201, 1_203, 1_205] {
        let duration = format!("scenario.duration={end_s}s");
        let s = common::scenario(
            "scenarios/misaligned-pipelines.toml",
            &["viewers.count=30", "fault[1].duration=40s", &duration],
        );
        let out = run_scenario(&s, 1, None, false).unwrap();
        assert_eq!(out.summary.frames_dropped.total, 120, "ending at {end_s} s");
        assert!(balances(&out.summary));
    }
}

#[test]
fn a_dns_record_catching_up_after_a_stale_spell_flips_once() {
    use failcast::scenario::Dur;
    // Three servers; the zone stops taking health results at 9 min; ingest-1 and
    // ingest-2 die at 10 min; at 12 min the record catches up with both at once.
    let mut s = short(
        "scenarios/dns-failover.toml",
        &["ingest.servers=3", "scenario.duration=15m"],
    );
    s.expects.clear();
    let crash = s.faults[0].clone();
    let mut second = crash.clone();
    second.id = Some("second-crash".into());
    second.target = "ingest-2".into();
    let mut stale = crash.clone();
    stale.id = Some("zone-stale".into());
    stale.kind = "dns.stale".into();
    stale.target = "dns-1".into();
    stale.at = Dur(SimDuration::from_secs(540));
    stale.duration = Some(Dur(SimDuration::from_secs(180)));
    s.faults.push(second);
    s.faults.push(stale);
    let out = run_scenario(&s, 1, None, false).unwrap();
    let flips: Vec<_> = (out.failovers.iter())
        .map(|e| (e.kind.as_str(), e.from.as_str(), e.to.as_str(), e.switched_ms))
        .collect();
    assert_eq!(flips, [("failover", "ingest-1", "ingest-3", 720_000.0)]);
}
