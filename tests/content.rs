//! Content faults: an encoder that sends black video, silent audio, or nothing at all
//! keeps its connection and its ingest server answers every probe, so liveness checks
//! never fail over; the ingest's content check (MediaLive-style, 1 s) catches it at the
//! exact instant its threshold is crossed, and the monitor alerts.

mod common;

use failcast::experiment::{run_scenario, RunOutput};
use failcast::time::{SimDuration, SimTime};

const FAULT: SimTime = SimTime::from_secs(600);

fn content_fault(kind: &str) -> RunOutput {
    let kind = format!("fault[0].kind=\"{kind}\"");
    let s = common::short_quickstart(&[&kind, "fault[0].target=encoder-1", "fault[0].duration=1m"]);
    let out = run_scenario(&s, 1, None, false).unwrap();
    assert!(common::balances(&out.summary));
    out
}

fn alert_fired_s(out: &RunOutput, rule: &str) -> Option<f64> {
    out.alerts.iter().find(|a| a.rule == rule).map(|a| a.fired_ms / 1000.0)
}

#[test]
fn black_and_silent_feeds_pass_liveness_but_fail_the_content_check() {
    for (kind, what) in [("encoder.black", "black"), ("encoder.silent", "silence")] {
        let out = content_fault(kind);
        // Liveness sees nothing wrong: no failover, no ingest-down alert, no lost frames.
        assert_eq!(out.summary.failovers, 0, "{kind}");
        assert_eq!(out.summary.frames_dropped.total, 0, "{kind}");
        assert_eq!(alert_fired_s(&out, "ingest-down"), None, "{kind}");
        // The content check fails 1 s after the first bad frame reached ingest-1
        // (captured at 600 s, then 20 ms + jitter on the encoder's link).
        assert_eq!(out.content_failures.len(), 1, "{kind}");
        let failcast::metrics::ContentFailure {
            ingest,
            what: failed,
            at,
            ..
        } = out.content_failures[0].clone();
        assert_eq!((ingest.as_str(), failed), ("ingest-1", what));
        let earliest = FAULT + SimDuration::from_millis(1_020);
        assert!(
            earliest <= at && at <= earliest + SimDuration::from_millis(100),
            "{kind}: {at}"
        );
        // Scrapes every 15 s see it from the 615 s round; the rule's 15 s hold fires
        // it on the 645 s evaluation.
        assert_eq!(alert_fired_s(&out, "input-content"), Some(645.0), "{kind}");
        // faults.csv: detected by the content check, told after the 30 s notify delay.
        let fault = &out.faults[0];
        assert_eq!(fault.time_to_detect_s, Some((at - FAULT).as_secs_f64()), "{kind}");
        assert_eq!(fault.time_to_alert_s, Some(75.0), "{kind}");
        assert_eq!(
            (out.summary.alert_precision, out.summary.alert_recall),
            (Some(1.0), Some(1.0))
        );
    }
}

#[test]
fn a_stalled_encoder_loses_its_input_one_second_after_its_last_frame() {
    let out = content_fault("encoder.stall");
    assert_eq!(out.summary.failovers, 0);
    let failcast::metrics::ContentFailure {
        ingest,
        what: failed,
        at,
        ..
    } = out.content_failures[0].clone();
    assert_eq!((ingest.as_str(), failed), ("ingest-1", "input-loss"));
    // The last frame left before 600 s and arrived ~20 ms later.
    assert!(
        at >= FAULT + SimDuration::from_millis(980) && at <= FAULT + SimDuration::from_millis(1_100),
        "{at}"
    );
    // Every frame captured during the stall is lost at ingest, and a little more while
    // the encoder reconnects to the server that dropped its idle session.
    let stalled = 60 * 30;
    let lost = out.summary.frames_dropped.ingest;
    assert!(lost >= stalled && lost <= stalled + 10 * 30, "{lost}");
    // The stream goes stale as well.
    assert!(alert_fired_s(&out, "stream-stale").is_some());
    assert_eq!(alert_fired_s(&out, "input-content"), Some(645.0));
}

#[test]
fn a_stall_shorter_than_the_probe_interval_is_still_caught() {
    // 1.5 s without frames crosses the 1 s loss threshold between two probes; the
    // frames that end the gap must not hide it.
    for seed in 1..=4 {
        let s = common::short_quickstart(&[
            "fault[0].kind=\"encoder.stall\"",
            "fault[0].target=encoder-1",
            "fault[0].duration=1500ms",
            "viewers.count=10",
        ]);
        let out = run_scenario(&s, seed, None, false).unwrap();
        assert_eq!(out.content_failures.len(), 1, "seed {seed}");
        assert_eq!(out.content_failures[0].what, "input-loss");
    }
}

#[test]
fn content_faults_target_encoders() {
    let d = failcast::scenario::load_str(
        "t.toml",
        "[scenario]\nname = \"t\"\nduration = \"1m\"\n[[fault]]\nat = \"10s\"\nkind = \"encoder.black\"\ntarget = \"ingest-1\"\n",
        &[],
    )
    .expect_err("refused");
    assert_eq!(d.0[0].message, "encoder.black targets an encoder, not `ingest-1`");
}
