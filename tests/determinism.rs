//! Determinism: same scenario + seed ⇒ identical event log and outputs, in one process
//! or two, in strict or window dispatch; another seed ⇒ another log.

mod common;

use std::process::Command;

use failcast::experiment::bench::run_kernel;
use failcast::experiment::{check_determinism, run_scenario, DeterminismReport, RunOutput};
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
    let (report, _) = check_determinism(&s, 11).unwrap();
    assert!(report.deterministic(), "{:?}", report.describe_divergence());
}

#[test]
fn check_determinism_names_the_first_event_where_a_planted_difference_begins() {
    let out = run_scenario(&common::short_quickstart(&["viewers.count=20"]), 1, None, true).unwrap();
    let same = DeterminismReport::between(&out, &out.clone());
    assert!(same.deterministic(), "{:?}", same.describe_divergence());
    assert_eq!(same.describe_divergence(), None);

    let records = out.records.as_ref().expect("kept");
    let id = |name: &str| out.node_names.iter().position(|n| n == name).unwrap() as u32;
    let name = |id: u32| out.node_names[id as usize].as_str();
    // The failover's promotion and the event after it, delivered the other way round:
    // what iterating a HashMap or racing two threads would do to a run. A second,
    // later difference must not hide the first.
    let at = (records.iter())
        .position(|r| r.kind == "promote" && r.src == id("manager-1") && r.dst == id("ingest-2"))
        .expect("manager-1 promotes ingest-2");
    let later = at + 1_000;
    assert!(later < records.len(), "{} events", records.len());
    let mut planted = out.clone();
    let log = planted.records.as_mut().unwrap();
    log.swap(at, at + 1);
    log[later].payload ^= 1;
    let report = DeterminismReport::between(&out, &planted);
    assert!(!report.deterministic());
    let d = report.divergence.as_ref().expect("the logs differ");
    assert_eq!(
        (d.index, d.first, d.second),
        (at, Some(records[at]), Some(records[at + 1]))
    );
    let (promote, next) = (&records[at], &records[at + 1]);
    assert_eq!(
        report.describe_divergence().unwrap(),
        format!(
            "first diverging event is #{at}: run 1 had t={} promote from manager-1 to ingest-2 (seq {}); \
             run 2 had t={} {} from {} to {} (seq {})",
            promote.time,
            promote.seq,
            next.time,
            next.kind,
            name(next.src),
            name(next.dst),
            next.seq
        )
    );
    // The digests agree (they were computed by the runs); only the logs tell.
    assert_eq!(report.digests.0, report.digests.1);
    assert!(report.differing_outputs.is_empty());

    // A run that stopped one event short: the divergence is where its log ended.
    let mut short = out.clone();
    short.records.as_mut().unwrap().pop();
    let report = DeterminismReport::between(&out, &short);
    let last = records.len() - 1;
    assert_eq!(report.divergence.as_ref().unwrap().index, last);
    assert!(
        report
            .describe_divergence()
            .unwrap()
            .ends_with("; run 2 had no event (the log ended)"),
        "{:?}",
        report.describe_divergence()
    );

    // Outputs that differ are named, each by its file, and the digests are compared.
    let mut other = out.clone();
    other.summary.trace_digest = "0000000000000000".into();
    other.failovers[0].switched_ms += 1.0;
    let report = DeterminismReport::between(&out, &other);
    assert!(!report.deterministic());
    assert_eq!(report.divergence, None);
    assert_eq!(report.differing_outputs, ["summary.json", "failovers.csv"]);
    assert_ne!(report.digests.0, report.digests.1);
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("deterministic"), "{stdout}");
    assert!(stdout.contains("wrote     nothing"), "{stdout}");
}

#[test]
fn check_determinism_with_out_writes_the_first_run_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("checked");
    let output = Command::new(common::binary())
        .args(["run", "--check-determinism", "scenarios/quickstart.toml"])
        .args(["--set", "scenario.duration=11m", "--set", "viewers.count=20", "--out"])
        .arg(&out)
        .current_dir(common::repo_path(""))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let wrote = stdout.lines().last().unwrap_or_default();
    assert!(
        wrote.starts_with("wrote") && wrote.contains("checked/{summary.json"),
        "{stdout}"
    );
    for file in ["summary.json", "report.html", "events.csv", "trace.json"] {
        assert!(out.join(file).is_file(), "{file} missing: {stdout}");
    }
}
