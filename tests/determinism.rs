//! Determinism: same scenario + seed ⇒ identical event log and outputs, in one process
//! or two, in strict or window dispatch; another seed ⇒ another log.

mod common;

use std::process::Command;

use failcast::experiment::bench::run_kernel;
use failcast::experiment::{check_determinism, run_scenario, RunOutput};
use failcast::sim::Dispatch;
use failcast::time::SimDuration;

fn without_wall_time(mut output: RunOutput) -> RunOutput {
    output.summary.wall_s = 0.0;
    output
}

fn assert_same_results(a: &RunOutput, b: &RunOutput) {
    assert_eq!(a.summary.trace_digest, b.summary.trace_digest);
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.timeline, b.timeline);
    assert_eq!(a.failovers, b.failovers);
}

#[test]
fn same_seed_twice_in_one_process_is_identical() {
    let s = common::short_quickstart(&[]);
    let a = without_wall_time(run_scenario(&s, 7, None, false).unwrap());
    let b = without_wall_time(run_scenario(&s, 7, None, false).unwrap());
    assert_same_results(&a, &b);
    assert_eq!(a.summary.trace_digest.len(), 16);
}

#[test]
fn another_seed_gives_another_digest() {
    let s = common::short_quickstart(&[]);
    let a = run_scenario(&s, 1, None, false).unwrap();
    let b = run_scenario(&s, 2, None, false).unwrap();
    assert_ne!(a.summary.trace_digest, b.summary.trace_digest);
}

#[test]
fn window_dispatch_equals_strict_dispatch_on_the_world() {
    let s = common::short_quickstart(&["viewers.count=60"]);
    let window = Dispatch::Window {
        lookahead: SimDuration::from_millis(1),
    };
    let strict = without_wall_time(run_scenario(&s, 3, Some(Dispatch::Strict), true).unwrap());
    let windowed = without_wall_time(run_scenario(&s, 3, Some(window), true).unwrap());
    assert_same_results(&strict, &windowed);
    assert_eq!(strict.records, windowed.records, "event logs differ");
    assert!(strict.summary.events > 100_000);
}

#[test]
fn window_dispatch_equals_strict_dispatch_on_the_bench_workload() {
    let span = SimDuration::from_millis(500);
    let window = Dispatch::Window {
        lookahead: SimDuration::from_millis(1),
    };
    let strict = run_kernel(300, span, Dispatch::Strict);
    let windowed = run_kernel(300, span, window);
    assert_eq!(strict.trace_digest, windowed.trace_digest);
    assert_eq!(strict.events, windowed.events);
    let (floor_events, _) = failcast::experiment::bench::run_floor(300, span);
    assert_eq!(strict.events, floor_events);
}

#[test]
fn check_determinism_finds_no_difference() {
    let s = common::short_quickstart(&["viewers.count=50"]);
    let report = check_determinism(&s, 11).unwrap();
    assert!(report.deterministic(), "{:?}", report.describe_divergence());
}

fn run_binary(out: &std::path::Path, seed: &str) -> std::process::Output {
    Command::new(common::binary())
        .args(["run", "scenarios/quickstart.toml", "--seed", seed, "--out"])
        .arg(out)
        .args(["--set", "scenario.duration=11m", "--set", "viewers.count=40"])
        .current_dir(common::repo_path(""))
        .output()
        .unwrap()
}

#[test]
fn two_processes_write_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let output = run_binary(out, "5");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    for file in ["timeline.csv", "failovers.csv"] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
    // summary.json is identical but for the wall-clock time it reports.
    let strip = |p: &std::path::Path| -> String {
        std::fs::read_to_string(p.join("summary.json"))
            .unwrap()
            .lines()
            .filter(|l| !l.contains("\"wall_s\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn check_determinism_flag_exits_zero() {
    let output = Command::new(common::binary())
        .args(["run", "--check-determinism", "scenarios/quickstart.toml"])
        .args(["--set", "scenario.duration=11m", "--set", "viewers.count=20"])
        .current_dir(common::repo_path(""))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("deterministic"));
}
