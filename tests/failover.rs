//! The first vertical slice, end to end: a primary ingest crash under active-passive
//! redundancy, measured exactly in virtual time.

mod common;

use common::balances;

use failcast::actors::world::HEALTH_PHASE_STREAM;
use failcast::experiment::run_scenario;
use failcast::scenario::LinkCfg;
use failcast::sim::rng_for;
use failcast::time::SimDuration;
use rand::Rng;

/// ingest-1's probe instants (ms) under `seed`: the manager draws each server's phase
/// from a published seed stream, ingest-1 first.
fn probe_phase_ms(seed: u64, interval_ms: u64) -> f64 {
    let mut rng = rng_for(seed, HEALTH_PHASE_STREAM);
    rng.gen_range(0..interval_ms * 1_000_000) as f64 / 1e6
}

#[test]
fn detection_time_is_exact_in_virtual_time() {
    // Probes of ingest-1 go out at phase + k × 1 s. The first probe after the crash at
    // 600 s goes unanswered; with fall 3 the third miss is declared at its timeout:
    // detected = first unanswered probe + (fall − 1) × interval + timeout.
    let out = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    let phase = probe_phase_ms(1, 1_000);
    let first_unanswered = 600_000.0 + phase;
    let episode = &out.failovers[0];
    assert_eq!(episode.onset_ms, 600_000.0);
    assert_eq!(episode.detected_ms, first_unanswered + 2.0 * 1_000.0 + 500.0);
    // The promotion crosses the control link (1 ms + jitter capped at 10 × 100 µs) and
    // the address moves ingest.switch_delay (100 ms) later.
    let switch_ms = episode.switched_ms - episode.detected_ms;
    assert!((101.0..=102.0).contains(&switch_ms), "{switch_ms}");

    // HAProxy's defaults (inter 2 s, fall 3, timeout 2 s), another seed: detection −
    // last answered probe = interval × fall + timeout.
    let haproxy = common::short_quickstart(&[
        "ingest.health.interval=2s",
        "ingest.health.timeout=2s",
        "ingest.health.fall=3",
    ]);
    for seed in [2, 3, 4] {
        let out = run_scenario(&haproxy, seed, None, false).unwrap();
        let phase = probe_phase_ms(seed, 2_000);
        // Probes at phase + 2k s; the last one before the crash at 600 s was answered.
        let last_answered = phase + ((600_000.0 - phase) / 2_000.0).ceil() * 2_000.0 - 2_000.0;
        assert_eq!(
            out.failovers[0].detected_ms - last_answered,
            2_000.0 * 3.0 + 2_000.0,
            "seed {seed}"
        );
    }
}

#[test]
fn quickstart_failover_is_detect_switch_reconnect_and_keyframe() {
    let out = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    let s = &out.summary;
    assert_eq!(out.failovers.len(), 1);
    let e = &out.failovers[0];
    assert_eq!(
        (e.from.as_str(), e.to.as_str(), e.fault.as_str()),
        ("ingest-1", "ingest-2", "primary-crash")
    );
    let latency = e.failover_latency_ms.expect("the standby delivers");
    let first_segment = e.first_segment_ms.expect("the standby publishes") - e.onset_ms;
    // Detection (2.5–3.5 s) + switch 0.1 s + reconnect backoff 2 s + handshake, then up
    // to a GOP (2 s) for the next keyframe; the first segment is complete 2 s later.
    assert!((4_600.0..=7_700.0).contains(&latency), "latency {latency} ms");
    assert!(
        (first_segment - latency - 1_980.0).abs() < 40.0,
        "first segment {first_segment} ms"
    );
    // Frames are lost where they were lost: at ingest, never at distribution or player.
    assert!(s.frames_dropped.ingest > 0);
    assert_eq!(s.frames_dropped.distribution, 0);
    assert_eq!(s.frames_dropped.player, 0);
    // Everything from the crash to the new session's first keyframe: whole segments.
    assert_eq!(s.frames_dropped.ingest % 60, 0);
    assert!(balances(s));
    // The outage outlasts a 3-segment buffer: every viewer stalled.
    assert!(s.stall_count >= s.viewers);
    assert!(s.availability < 1.0 && s.availability > 0.99);
}

#[test]
fn stalls_are_counted_by_duration_band_and_the_bands_add_up() {
    let out = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    let s = &out.summary;
    let bands = s.stall_count_by_duration;
    assert_eq!(bands.total(), s.stall_count);
    // Recounted from stalls.csv and the stalls still under way at the end.
    let mut expected = [0u64; 3];
    let unfinished = (out.viewers.iter())
        .filter_map(|v| v.stalled_at_end)
        .map(|at| s.sim_duration_s - at.as_secs_f64());
    for duration_s in out.stalls.iter().map(|r| r.duration_s).chain(unfinished) {
        expected[usize::from(duration_s >= 0.1) + usize::from(duration_s >= 1.0)] += 1;
    }
    assert_eq!([bands.under_100ms, bands.from_100ms_to_1s, bands.from_1s], expected);
    // The crash outlasts every viewer's buffer: each has a long stall.
    assert!(bands.from_1s >= s.viewers, "{bands:?}");
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(json["stall_count_by_duration"]["1s_and_over"], bands.from_1s);
    assert_eq!(
        s.metric("stall_count_by_duration.under_100ms"),
        Some(bands.under_100ms as f64)
    );
}

#[test]
fn no_fault_means_no_loss_no_stall_and_full_availability() {
    let mut scenario = common::short_quickstart(&[]);
    scenario.faults.clear();
    scenario.expects.clear();
    let out = run_scenario(&scenario, 4, None, false).unwrap();
    let s = &out.summary;
    assert_eq!(s.frames_dropped.total, 0);
    assert_eq!(s.failovers, 0);
    assert_eq!(s.stall_count, 0);
    assert_eq!(s.availability, 1.0);
    assert_eq!(s.viewers_started, s.viewers);
    assert!(balances(s));
}

#[test]
fn frames_are_conserved_under_every_supported_fault() {
    let variants: [&[&str]; 3] = [
        &[],
        // A crash that never ends.
        &["viewers.count=30"],
        // The same node cut off by a partition instead.
        &["viewers.count=30"],
    ];
    for (i, overrides) in variants.iter().enumerate() {
        let mut scenario = common::short_quickstart(overrides);
        match i {
            1 => scenario.faults[0].duration = None,
            2 => scenario.faults[0].kind = "net.partition".into(),
            _ => {}
        }
        for seed in [1, 2, 3] {
            let out = run_scenario(&scenario, seed, None, false).unwrap();
            assert!(balances(&out.summary), "variant {i} seed {seed}: {:?}", out.summary);
        }
    }
}

#[test]
fn losing_both_ingest_servers_loses_everything_after_the_crash() {
    let mut scenario = common::short_quickstart(&["viewers.count=20"]);
    let mut second = scenario.faults[0].clone();
    second.id = Some("standby-crash".into());
    second.target = "ingest-2".into();
    scenario.faults[0].duration = None;
    second.duration = None;
    scenario.faults.push(second);
    for seed in 1..=4 {
        let out = run_scenario(&scenario, seed, None, false).unwrap();
        let s = &out.summary;
        // Whether the manager sees ingest-1 or ingest-2 fail first, the address never
        // moves: a dead standby cannot take it.
        assert_eq!(s.failovers, 0, "seed {seed}");
        assert_eq!(s.failover_latency_ms.count, 0);
        // Nothing produced after 600 s is ever published.
        assert!(s.frames_dropped.ingest >= (720 - 600) * 30);
        assert!(balances(s));
    }
}

/// A link's one-way delay in nanoseconds, fastest and slowest: its latency, plus jitter
/// drawn exponentially and capped at 10 × its mean (src/sim/net.rs).
fn trip(link: &LinkCfg) -> (u64, u64) {
    let latency = link.latency.0.as_nanos();
    (latency, latency + 10 * link.jitter.0.as_nanos())
}

/// Pinned regression seed: the short quickstart on seed 1. The digest, the event
/// count, the viewers' stalls and the frames they had not yet shown fingerprint the
/// whole run and have no closed form: a change to any of them is a change to the model
/// and must be explained in its commit. Every other value is computed from the
/// scenario and the few network draws it depends on, read from the event log.
#[test]
fn pinned_regression_seed() {
    let scenario = common::short_quickstart(&[]);
    let out = run_scenario(&scenario, 1, None, true).unwrap();
    let s = &out.summary;
    let pinned = (s.trace_digest.as_str(), s.events, s.stall_count);
    assert_eq!(pinned, PINNED);
    assert_eq!(
        s.stall_s_total.to_bits(),
        PINNED_STALL_S.to_bits(),
        "{}",
        s.stall_s_total
    );

    let records = out.records.as_ref().expect("kept");
    let node = |name: &str| out.node_names.iter().position(|n| n == name).unwrap() as u32;
    let arrivals = |kind: &'static str, to: &str| {
        let to = node(to);
        (records.iter())
            .filter(move |r| r.kind == kind && r.dst == to)
            .map(|r| r.time.as_nanos())
    };
    let fps = u64::from(scenario.encoders.fps);
    let frame = 1_000_000_000 / fps;
    let gop = scenario.encoders.gop.0.as_nanos();
    let gop_frames = gop * fps / 1_000_000_000;
    let segment = scenario.cdn.segment.0.as_nanos();
    let end = scenario.scenario.duration.0.as_nanos();
    let onset = scenario.faults[0].at.0.as_nanos();
    let uplink = trip(&scenario.network.encoder_ingest);
    let control = trip(&scenario.network.control);

    // The encoder starts its stream clock when its first connection is accepted, a
    // handshake (two trips) after the start, and captures a frame every 1/fps from
    // then until the end, connected or not.
    let t0 = arrivals("accepted", "encoder-1").next().unwrap();
    assert!((2 * uplink.0..=2 * uplink.1).contains(&t0), "{t0}");
    let produced = (end - t0) * fps / 1_000_000_000 + 1;
    assert_eq!(s.frames_produced, produced);

    // ingest-2 accepts the encoder's new connection within [earliest, latest]: the first
    // unanswered probe goes out within an interval after the onset (or just before it,
    // its answer due after), the failure is declared (fall − 1) × interval + timeout
    // later, the promotion crosses the control link and the address moves switch_delay
    // later; the encoder's next frame (within 1/fps) reaches ingest-2 and is reset, it
    // retries after its first backoff delay and shakes hands again.
    let health = &scenario.ingest.health;
    let interval = health.interval.0.as_nanos();
    let declared = u64::from(health.fall - 1) * interval + health.timeout.0.as_nanos();
    let switch = scenario.ingest.switch_delay.0.as_nanos();
    let backoff = scenario.encoders.reconnect.first_delay.0.as_nanos();
    let earliest = onset - 2 * control.1 + declared + control.0 + switch + 2 * uplink.0 + backoff + 2 * uplink.0;
    let latest = onset + interval + declared + control.1 + switch + frame + 2 * uplink.1 + backoff + 2 * uplink.1;
    // ingest-2 packages from the first keyframe it gets, and both bounds wait for the
    // same one on the stream clock (t0 + 606 s): the loss is the same for any phase.
    let keyframe_after = |t: u64| t0 + (t - t0).div_ceil(gop) * gop;
    let restart = keyframe_after(latest);
    assert_eq!(keyframe_after(earliest), restart);
    // Lost at ingest: the GOP open at the crash (ingest-1 died before its closing
    // keyframe came) and every frame until that keyframe: 8 s of frames.
    let open_at_crash = t0 + (onset - t0) / gop * gop;
    let lost = (restart - open_at_crash) / gop * gop_frames;
    assert_eq!((s.frames_dropped.ingest, s.frames_dropped.total), (lost, lost));

    // The failover's first frame is that keyframe reaching ingest-2, one trip later; the
    // frame sent 1/fps before it arrives earlier than any trip could bring the keyframe,
    // as long as the jitter span is shorter than a frame.
    assert!(uplink.1 - uplink.0 < frame);
    let first_frame = (arrivals("frames", "ingest-2"))
        .find(|&at| at >= restart + uplink.0)
        .unwrap();
    assert!(first_frame <= restart + uplink.1);
    let latency_ms = SimDuration::from_nanos(first_frame - onset).as_millis_f64();
    assert_eq!(out.failovers[0].failover_latency_ms, Some(latency_ms));
    assert_eq!(s.failover_latency_ms.max, Some(latency_ms));

    // Unwatched: the segments before the earliest start position (each viewer starts 3
    // segments behind the newest when it joins, 10–15 s in).
    let first_start = out.viewers.iter().filter_map(|v| v.first_index).min().unwrap();
    let unwatched: u64 = (out.published.iter())
        .filter(|&&(_, index, _)| index < first_start)
        .map(|&(_, _, frames)| u64::from(frames))
        .sum();
    assert_eq!(s.frames_unwatched, unwatched);
    // In flight: the segment still open at ingest-2 (frames captured since the last
    // keyframe), and published frames no viewer had shown yet when the run stopped:
    // where 200 players stood at that instant, pinned.
    let open_at_end = (produced - 1) % gop_frames + 1;
    assert_eq!(s.frames_in_flight, open_at_end + PINNED_UNSHOWN);
    // Played: the rest, frame by frame.
    assert_eq!(s.frames_played, produced - lost - unwatched - s.frames_in_flight);

    // Availability: the origin's live edge is stale from 1.5 segments after the last
    // segment ingest-1 published until ingest-2's first, over the time since the first.
    let published: Vec<u64> = arrivals("segment", "origin-1").collect();
    let before = *published.iter().filter(|&&at| at < onset).max().unwrap();
    let after = *published.iter().find(|&&at| at > onset).unwrap();
    let stale = SimDuration::from_nanos(after - (before + segment * 3 / 2));
    let span = SimDuration::from_nanos(end - published[0]);
    assert_eq!(s.availability, 1.0 - stale.as_secs_f64() / span.as_secs_f64());
}

type Pinned = (&'static str, u64, u64);
// Digest and events moved (550,295 before) when players stopped being woken at every
// segment end and load; every other value stayed.
const PINNED: Pinned = ("7621a130b648f26c", 410_597, 891);
const PINNED_STALL_S: f64 = 730.420441459;
const PINNED_UNSHOWN: u64 = 17;

#[test]
fn every_viewer_the_failover_stalled_plays_again_after_the_new_paths_first_segment() {
    let out = run_scenario(&common::short_quickstart(&[]), 1, None, false).unwrap();
    let e = &out.failovers[0];
    // 6 s of buffer cannot cover the 8 s until the first segment: everyone stalls.
    assert_eq!((e.viewers_affected, e.viewers_recovered), (200, 200));
    let first_segment = e.first_segment_ms.unwrap() - e.onset_ms;
    let (p50, p95) = (e.recovery_ms_p50.unwrap(), e.recovery_ms_p95.unwrap());
    // Nobody plays again before the new path's first segment exists; each then needs
    // a playlist reload (≤ 2 s) and a download.
    assert!(
        p50 >= first_segment && p95 <= first_segment + 2_500.0,
        "{first_segment} {p50} {p95}"
    );
}
