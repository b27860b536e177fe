//! `failcast compare`: setups on the same seeds (paired), per-metric statistics and
//! paired differences, output files that do not depend on --jobs.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use failcast::experiment::compare::{Comparison, COMPARE_METRICS};

fn compare(args: &[&str], out: &Path, jobs: &str) -> Output {
    Command::new(common::binary())
        .current_dir(common::repo_path(""))
        .arg("compare")
        .args(args)
        .args([
            "--set",
            "scenario.duration=11m",
            "--set",
            "viewers.count=20",
            "--jobs",
            jobs,
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn read(out: &Path) -> Comparison {
    serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap()).unwrap()
}

#[test]
fn a_setup_compared_with_itself_differs_by_exactly_nothing_on_every_seed() {
    let tmp = tempfile::tempdir().unwrap();
    // The variant changes nothing the run depends on: same seeds, same results.
    let o = compare(
        &[
            "scenarios/quickstart.toml",
            "--variant",
            "same:viewers.count=20",
            "--seeds",
            "4",
        ],
        tmp.path(),
        "2",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let c = read(tmp.path());
    assert_eq!(c.setups, ["quickstart", "same"]);
    assert_eq!(c.seeds, 4);
    let names: Vec<&str> = c.metrics.iter().map(|m| m.metric.as_str()).collect();
    assert_eq!(names, COMPARE_METRICS);
    let mut zero_diffs = 0;
    for m in &c.metrics {
        let (base, same) = (&m.setups[0], &m.setups[1]);
        assert_eq!(base.values.len(), c.seeds as usize, "{}", m.metric);
        assert_eq!(base.values, same.values, "{}", m.metric);
        // Paired over the seeds where the metric has a value (time_to_alert_s_max has
        // none: the quickstart has no alert rules).
        let d = same.diff.as_ref().unwrap();
        assert_eq!(
            d.n,
            base.values.iter().filter(|(_, v)| v.is_some()).count(),
            "{}",
            m.metric
        );
        if d.n > 0 {
            assert_eq!(
                (d.mean, d.ci_low, d.ci_high),
                (Some(0.0), Some(0.0), Some(0.0)),
                "{}",
                m.metric
            );
            zero_diffs += 1;
        }
    }
    // Every run fails over once, so all but the alert metric have a value on each seed.
    assert_eq!(zero_diffs, COMPARE_METRICS.len() - 1);
}

#[test]
fn active_active_against_active_passive_and_jobs_invariance() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "scenarios/quickstart.toml",
        "scenarios/active-active.toml",
        "--seeds",
        "3",
    ];
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    let o = compare(&args, &one, "1");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(compare(&args, &two, "2").status.code(), Some(0));
    for file in [
        "comparison.csv",
        "comparison.json",
        "comparison.html",
        "plots/failover_latency_cdf.svg",
        "plots/rebuffering_box.png",
    ] {
        assert_eq!(
            std::fs::read(one.join(file)).unwrap(),
            std::fs::read(two.join(file)).unwrap(),
            "{file} differs between --jobs 1 and --jobs 2"
        );
    }
    // Two shards, merged: the same aggregates.
    let mut shards = Vec::new();
    for k in 1..=2 {
        let dir = tmp.path().join(format!("shard-{k}"));
        let mut sharded = args.to_vec();
        let spec = format!("{k}/2");
        sharded.extend(["--shard", spec.as_str()]);
        assert_eq!(compare(&sharded, &dir, "2").status.code(), Some(0));
        shards.push(dir);
    }
    let merged = tmp.path().join("merged");
    let o = common::merge(&shards, Some(&merged));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for file in [
        "comparison.csv",
        "comparison.json",
        "comparison.html",
        "plots/frames_dropped_box.svg",
    ] {
        assert_eq!(
            std::fs::read(one.join(file)).unwrap(),
            std::fs::read(merged.join(file)).unwrap(),
            "{file}"
        );
    }
    let c = read(&one);
    let latency = c
        .metrics
        .iter()
        .find(|m| m.metric == "failover_latency_ms.p50")
        .unwrap();
    let (ap, aa) = (&latency.setups[0], &latency.setups[1]);
    // The paired difference is the mean of the per-seed differences, exactly.
    let per_seed: Vec<f64> = (aa.values.iter().zip(&ap.values))
        .map(|((_, a), (_, p))| a.unwrap() - p.unwrap())
        .collect();
    let d = aa.diff.as_ref().unwrap();
    assert_eq!(d.n, 3);
    assert!((d.mean.unwrap() - per_seed.iter().sum::<f64>() / 3.0).abs() < 1e-9);
    // About five seconds faster, and the interval says so.
    assert!(d.ci_high.unwrap() < -4500.0 && d.ci_low.unwrap() > -5500.0, "{d:?}");
    assert!(ap.diff.is_none());
    // One CSV row per metric and setup, the reference's difference columns empty.
    let csv = std::fs::read_to_string(one.join("comparison.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("metric,setup,n,mean,p50,p95,ci95_low,ci95_high,diff_mean,diff_ci95_low,diff_ci95_high")
    );
    assert_eq!(lines.count(), c.metrics.len() * 2);
    assert!(
        csv.contains("\nfailovers,quickstart,3,1.0,1.0,1.0,1.0,1.0,,,\n"),
        "{csv}"
    );
    let html = std::fs::read_to_string(one.join("comparison.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(
        text(&o).contains("compare   2 setups × 3 paired seed(s)"),
        "{}",
        text(&o)
    );
}

#[test]
fn compare_refuses_a_single_setup_and_bad_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let o = compare(&["scenarios/quickstart.toml"], &tmp.path().join("a"), "1");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("compare needs at least two setups"), "{}", text(&o));
    let o = compare(
        &[
            "scenarios/quickstart.toml",
            "--variant",
            "fast:ingest.health.intervall=1s",
        ],
        &tmp.path().join("b"),
        "1",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("did you mean `ingest.health.interval`?"),
        "{}",
        text(&o)
    );
    assert!(!tmp.path().join("b").exists());
}
