//! Scenario loading: every class of bad input gets a located, fixable error; `--set`
//! overrides any value by its dotted path; the binary exits 2 and writes nothing.

mod common;

use std::process::Command;

use failcast::scenario::{load_str, Diagnostics};

const MINIMAL: &str = "[scenario]\nname = \"t\"\nduration = \"1m\"\n";

fn errors(source: &str, overrides: &[&str]) -> Diagnostics {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    load_str("t.toml", source, &overrides).expect_err("the scenario must be refused")
}

#[test]
fn minimal_scenario_takes_documented_defaults() {
    let s = load_str("t.toml", MINIMAL, &[]).unwrap();
    assert_eq!(s.scenario.seed, 1);
    assert_eq!(s.ingest.redundancy, "active-passive");
    assert_eq!(s.ingest.health.fall, 3);
    assert_eq!(s.viewers.player, "hls.js");
    assert_eq!(s.encoders.reconnect.multiplier, 1.5);
}

#[test]
fn syntax_error_is_located() {
    let d = errors("[scenario\nname = \"t\"\n", &[]);
    assert_eq!(
        (d.0[0].file.as_str(), d.0[0].line, d.0[0].column),
        ("t.toml", Some(1), Some(10))
    );
}

#[test]
fn unknown_key_suggests_the_right_one_with_exact_text() {
    let d = errors(&format!("{MINIMAL}[viewers]\ncoutn = 5\n"), &[]);
    assert_eq!(
        d.to_string(),
        "error: unknown field `coutn`, expected one of `count`, `player`, `join_at`, `join_over`, `downlink_mbps`, `arrivals`, `session`, `regions`, `join_step`, `squads`\n \
         --> t.toml:5:1\n  |\n5 | coutn = 5\n  | ^\n  |\n  = help: did you mean `count`?\n\n1 error in scenario"
    );
}

#[test]
fn wrong_types_and_malformed_durations_are_located() {
    let d = errors(&format!("{MINIMAL}[viewers]\ncount = \"many\"\n"), &[]);
    assert!(d.0[0].message.contains("invalid type"), "{d}");
    assert_eq!(d.0[0].line, Some(5));
    let d = errors("[scenario]\nname = \"t\"\nduration = \"30 parsecs\"\n", &[]);
    assert!(d.0[0].message.contains("unknown unit"), "{d}");
    assert_eq!((d.0[0].line, d.0[0].column), (Some(3), Some(12)));
    assert!(d.0[0].help.as_deref().unwrap().contains("\"500ms\""));
}

#[test]
fn a_missing_key_is_named_with_an_example_for_its_table() {
    const TAIL: &str = "; docs/scenarios.md lists every key with its unit and range";
    let cases = [
        (
            "[viewers.session]\ndistribution = \"fixed\"\n",
            4,
            "add `mean = \"6m\"` to [viewers.session]",
        ),
        (
            "[viewers]\nsession = { distribution = \"fixed\" }\n",
            5,
            "add `mean = \"6m\"` to [viewers.session]",
        ),
        (
            "[viewers]\narrivals = [\n  { at = \"0s\", rate = 1.0 },\n  { at = \"1m\" },\n]\n",
            7,
            "add `rate = 1.0` to each point of viewers.arrivals",
        ),
        (
            "[[fault]]\nat = \"1m\"\nkind = \"node.crash\"\n",
            4,
            "add `target = \"ingest-1\"` to this [[fault]] entry",
        ),
        (
            "[[expect]]\nmetric = \"availability\"\nop = \"gt\"\n",
            4,
            "add `value = 15000` to this [[expect]] entry",
        ),
    ];
    for (tail, line, help) in cases {
        let d = errors(&format!("{MINIMAL}{tail}"), &[]);
        assert_eq!(d.0.len(), 1, "{d}");
        assert!(d.0[0].message.starts_with("missing field"), "{d}");
        assert_eq!(d.0[0].line, Some(line), "{d}");
        assert_eq!(d.0[0].help.as_deref(), Some(format!("{help}{TAIL}").as_str()), "{d}");
    }
    let d = errors("[scenario]\nduration = \"1m\"\n", &[]);
    assert_eq!(
        d.0[0].help.as_deref(),
        Some(format!("add `name = \"my-scenario\"` to [scenario]{TAIL}").as_str())
    );
}

#[test]
fn impossible_topology_has_exact_text() {
    let d = errors(&format!("{MINIMAL}[ingest]\nservers = 1\n"), &[]);
    assert_eq!(
        d.to_string(),
        "error: ingest.redundancy = \"active-passive\" needs at least 2 servers, not 1\n --> t.toml:5:11\n  |\n\
         5 | servers = 1\n  |           ^\n  |\n  = help: set ingest.servers = 2 or more\n\n1 error in scenario"
    );
}

#[test]
fn several_errors_are_reported_at_once() {
    let source = format!(
        "{MINIMAL}[ingest]\nservers = 1\n[[fault]]\nat = \"2m\"\nkind = \"node.crsh\"\ntarget = \"ingest-3\"\n"
    );
    let d = errors(&source, &[]);
    let messages: Vec<&str> = d.0.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(d.0.len(), 4, "{d}");
    assert!(messages[0].contains("needs at least 2 servers"));
    assert!(messages[1].contains("unknown value `node.crsh`"));
    let kinds = failcast::scenario::FaultKind::NAMES;
    assert_eq!(
        d.0[1].help.as_deref(),
        Some(format!("did you mean `node.crash`? (one of: {})", kinds.join(", ")).as_str())
    );
    assert!(messages[2].contains("fault target `ingest-3` is not a node"));
    assert!(messages[3].contains("outside the run"));
    assert_eq!(d.0[2].line, Some(9));
    assert_eq!(d.0[3].line, Some(7));
}

#[test]
fn probabilities_and_rates_are_range_checked() {
    let d = errors(&format!("{MINIMAL}[network.edge_viewer]\nloss = 1.5\n"), &[]);
    assert!(d.0[0].message.contains("is not a probability"), "{d}");
    assert_eq!(d.0[0].line, Some(5));
    let d = errors(&format!("{MINIMAL}[network.edge_viewer]\nloss = nan\n"), &[]);
    assert!(d.0[0].message.contains("is not a finite number"), "{d}");
    assert_eq!(d.0[0].line, Some(5));
    // A large audience is the machine's question, not the file's: `run` estimates
    // its memory before it starts (experiment::memory).
    assert!(load_str("t.toml", &format!("{MINIMAL}[viewers]\ncount = 100000000\n"), &[]).is_ok());
}

#[test]
fn overrides_change_values_by_dotted_path() {
    let s = load_str(
        "t.toml",
        MINIMAL,
        &[
            "viewers.count=50".into(),
            "scenario.duration=5m".into(),
            "ingest.health.interval=2s".into(),
            "viewers.player=exoplayer".into(),
        ],
    )
    .unwrap();
    assert_eq!(s.viewers.count, 50);
    assert_eq!(s.scenario.duration.0.as_secs_f64(), 300.0);
    assert_eq!(s.ingest.health.interval.0.as_secs_f64(), 2.0);
    assert_eq!(s.viewers.player, "exoplayer");
}

#[test]
fn unknown_override_path_and_bad_override_value_are_blamed_on_set() {
    let d = errors(MINIMAL, &["viewers.coutn=5"]);
    assert_eq!(d.0[0].file, "--set");
    assert_eq!(d.0[0].message, "unknown scenario key `viewers.coutn`");
    assert_eq!(d.0[0].help.as_deref(), Some("did you mean `viewers.count`?"));
    let d = errors(MINIMAL, &["viewers.count=lots"]);
    assert_eq!(d.0[0].file, "--set");
    assert_eq!(d.0[0].source_line.as_deref(), Some("--set viewers.count=lots"));
    let d = errors(MINIMAL, &["viewers.count"]);
    assert!(d.0[0].message.contains("has no `=`"));
}

#[test]
fn binary_refuses_bad_input_with_exit_code_2_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, format!("{MINIMAL}[ingest]\nservers = 1\n")).unwrap();
    let out = dir.path().join("out");
    let output = Command::new(common::binary())
        .arg("run")
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:5:11"), "{stderr}");
    assert!(!out.exists(), "no output folder for a refused scenario");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() == 1,
        "nothing else written"
    );

    let output = Command::new(common::binary())
        .args(["validate", "scenarios/quickstart.toml"])
        .current_dir(common::repo_path(""))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn binary_exits_1_when_an_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strict.toml");
    let source = std::fs::read_to_string(common::repo_path("scenarios/quickstart.toml"))
        .unwrap()
        .replace("value = 15000", "value = 1000");
    std::fs::write(&file, source).unwrap();
    let output = Command::new(common::binary())
        .arg("run")
        .arg(&file)
        .args(["--set", "scenario.duration=11m", "--set", "viewers.count=20", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("FAIL: failover_latency_ms.p99 lt 1000"), "{stdout}");
    // The run's files are still written: a failed expectation is a result, not an error.
    assert!(dir.path().join("out/summary.json").exists());
}

#[test]
fn overrides_reach_fault_and_expectation_entries() {
    let source = format!(
        "{MINIMAL}[[fault]]\nat = \"20s\"\nkind = \"node.crash\"\ntarget = \"ingest-1\"\n\
         [[expect]]\nmetric = \"failovers\"\nop = \"eq\"\nvalue = 1\n"
    );
    let set = |args: &[&str]| -> Vec<String> { args.iter().map(|s| s.to_string()).collect() };
    let s = load_str(
        "t.toml",
        &source,
        &set(&[
            "fault[0].at=30s",
            "fault[0].duration=10s",
            "fault[0].target=ingest-2",
            "expect[0].value=2",
        ]),
    )
    .unwrap();
    assert_eq!(s.faults[0].at.0.as_secs_f64(), 30.0);
    assert_eq!(s.faults[0].duration.unwrap().0.as_secs_f64(), 10.0);
    assert_eq!(s.faults[0].target, "ingest-2");
    assert_eq!(s.expects[0].bounds(), Ok((2.0, 2.0)));
    let d = errors(&source, &["fault[1].at=30s"]);
    assert_eq!(d.0[0].message, "unknown scenario key `fault[1].at`");
    assert_eq!(d.0[0].help.as_deref(), Some("did you mean `fault[0].at`?"));
}

#[test]
fn absurd_sizes_are_refused_before_allocating() {
    let d = errors(MINIMAL, &["scenario.duration=5000000h"]);
    assert!(d.0[0].message.contains("scenario.duration"), "{d}");
    let d = errors(MINIMAL, &["ingest.health.interval=1ns", "ingest.health.timeout=1ns"]);
    assert!(d.0[0].message.contains("shorter than 10ms"), "{d}");
    let d = errors(MINIMAL, &["cdn.edges=1000000"]);
    assert!(d.0[0].message.contains("cdn.edges"), "{d}");
}

#[test]
fn every_bundled_scenario_validates_runs_and_meets_its_expectations() {
    let mut files: Vec<_> = std::fs::read_dir(common::repo_path("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2);
    let (mut written, mut judged) = (0, 0);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        written += text.matches("[[expect]]").count();
        assert!(
            text.starts_with('#'),
            "{} must open with a comment on the question it answers",
            file.display()
        );
        let overrides = vec!["scenario.duration=16m".to_string(), "viewers.count=30".to_string()];
        let scenario = failcast::scenario::load(&file, &overrides).unwrap_or_else(|e| panic!("{e}"));
        let out = failcast::experiment::run_scenario(&scenario, scenario.scenario.seed, None, false).unwrap();
        assert!(common::balances(&out.summary), "{}", file.display());
        // Per viewer too: every owed frame was played or skipped. Every bundled
        // workload has all its viewers join and start within 16 minutes, so each one
        // is checked.
        let viewers = scenario.viewers.count as usize;
        assert_eq!(out.viewers.len(), viewers, "{}", file.display());
        let mut checked = 0;
        for (id, v) in out.viewers.iter().enumerate() {
            let (Some(first), Some(frontier)) = (v.first_index, v.frontier) else {
                continue;
            };
            checked += 1;
            let owed: u64 = out
                .published
                .iter()
                .filter(|&&(stream, index, _)| stream == v.stream && index >= first && index < frontier)
                .map(|&(_, _, frames)| u64::from(frames))
                .sum();
            assert_eq!(
                v.frames_played + v.frames_skipped,
                owed,
                "{} viewer {id}",
                file.display()
            );
        }
        assert_eq!(checked, viewers, "{}: viewers with a range to check", file.display());
        let verdicts = failcast::experiment::evaluate(&scenario, &out.summary);
        assert_eq!(verdicts.len(), scenario.expects.len(), "{}", file.display());
        for verdict in verdicts {
            assert!(verdict.passed, "{}: {:?}", file.display(), verdict);
            judged += 1;
        }
    }
    // Each file's own expectations at least (includes may add more) were judged.
    assert!(written > 0 && judged >= written, "{judged} judged, {written} written");
}

#[test]
fn overrides_set_arrays_of_values() {
    let s = load_str(
        "t.toml",
        MINIMAL,
        &["cdn.algorithm=weighted".into(), "cdn.weights=[3, 1, 1, 1]".into()],
    )
    .unwrap();
    assert_eq!(s.cdn.weights, vec![3, 1, 1, 1]);
    let d = errors(MINIMAL, &["cdn.weights=[1, 2]"]);
    assert!(d.0[0].message.contains("2 weights for 4 edges"), "{d}");
}

#[test]
fn every_balancing_algorithm_runs_and_conserves_frames() {
    for algorithm in failcast::control::balance::Algorithm::NAMES {
        let setting = format!("cdn.algorithm={algorithm}");
        let s = common::short_quickstart(&[setting.as_str(), "viewers.count=40"]);
        let out = failcast::experiment::run_scenario(&s, 1, None, false).unwrap();
        assert!(common::balances(&out.summary), "{algorithm}");
        assert_eq!(out.summary.viewers_started, 40, "{algorithm}");
    }
}

#[test]
fn ack_timeout_must_outlive_a_chunk() {
    let d = errors(
        MINIMAL,
        &["encoders.gop=10s", "cdn.segment=10s", "encoders.chunk_frames=300"],
    );
    assert!(d.0[0].message.contains("encoders.ack_timeout"), "{d}");
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("make it at least 11s (SRT's peer idle timeout is \"5s\")")
    );
}

#[test]
fn backup_edges_must_be_other_edges_and_players_must_be_known() {
    let d = errors(MINIMAL, &["cdn.backup_edges=4"]);
    assert_eq!(
        d.0[0].message,
        "cdn.backup_edges = 4 needs more than 4 edges (at most 7 backups)"
    );
    let d = errors(MINIMAL, &["viewers.player=\"vlc\""]);
    assert!(d.0[0].message.contains("vlc"), "{d}");
    assert!(load_str(
        "t.toml",
        MINIMAL,
        &["cdn.backup_edges=3".into(), "viewers.player=shaka".into()]
    )
    .is_ok());
}

#[test]
fn overload_faults_need_a_capacity_and_an_edge() {
    let source = format!("{MINIMAL}[[fault]]\nat = \"10s\"\nkind = \"cdn.overload\"\ntarget = \"origin-1\"\n");
    let d = errors(&source, &[]);
    let messages: Vec<&str> = d.0.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "a cdn.overload fault needs `capacity_mbps`",
            "cdn.overload targets an edge, not `origin-1`"
        ]
    );
    let d = errors(MINIMAL, &["cdn.edge_capacity_mbps=-1"]);
    assert!(d.0[0].message.contains("cdn.edge_capacity_mbps = -1"), "{d}");
    let crash =
        format!("{MINIMAL}[[fault]]\nat = \"10s\"\nkind = \"node.crash\"\ntarget = \"edge-1\"\ncapacity_mbps = 5\n");
    let d = errors(&crash, &[]);
    assert!(d.0[0].message.contains("applies to cdn.overload faults"), "{d}");
}

#[test]
fn stream_counts_are_bounded() {
    let d = errors(&format!("{MINIMAL}[encoders]\ncount = 65\n"), &[]);
    assert!(d.to_string().contains("encoders.count = 65 is out of range"), "{d}");
    assert!(d.to_string().contains("use 1 to 64 encoders (one per stream)"), "{d}");
    load_str(
        "t.toml",
        &format!("{MINIMAL}[encoders]\ncount = 2\n[ingest]\nredundancy = \"dns\"\n"),
        &[],
    )
    .unwrap();
    let s = load_str("t.toml", &format!("{MINIMAL}[encoders]\ncount = 3\n"), &[]).unwrap();
    assert!(failcast::scenario::NodeTable::of(&s)
        .selectable()
        .contains(&"encoder-3".to_string()));
}

#[test]
fn net_degrade_needs_its_settings_and_only_it_takes_them() {
    let fault = |kind: &str, extra: &str| {
        format!("{MINIMAL}[[fault]]\nat = \"30s\"\nkind = \"{kind}\"\ntarget = \"edge-1\"\n{extra}")
    };
    let d = errors(&fault("net.degrade", ""), &[]);
    assert!(
        d.to_string().contains("a net.degrade fault needs at least one of"),
        "{d}"
    );
    let d = errors(&fault("node.crash", "latency = \"200ms\"\n"), &[]);
    assert!(
        d.to_string()
            .contains("`latency` applies to net.degrade faults, not node.crash"),
        "{d}"
    );
    let d = errors(&fault("net.degrade", "loss = 1.0\n"), &[]);
    assert!(d.to_string().contains("loss = 1 is not a probability below 1"), "{d}");
    let d = errors(&fault("net.degrade", "loss = 0.1\nloss_burst = \"0s\"\n"), &[]);
    assert!(d.to_string().contains("loss_burst must be longer than zero"), "{d}");
    let ok = load_str(
        "t.toml",
        &fault("net.degrade", "loss = 0.05\nloss_burst = \"200ms\"\n"),
        &[],
    );
    assert!(ok.is_ok());
}

#[test]
fn ingest_capacity_must_hold_every_stream_and_overload_takes_streams() {
    let d = errors(
        &format!("{MINIMAL}[encoders]\ncount = 5\n[ingest]\nservers = 2\ncapacity = 2\n"),
        &[],
    );
    assert_eq!(d.0.len(), 1, "{d}");
    assert_eq!(
        d.0[0].message,
        "ingest.capacity = 2 on 2 servers cannot package 5 streams"
    );
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("raise ingest.capacity to at least 3 or add servers (0: unlimited)")
    );
    let fault = |target: &str, extra: &str| {
        format!("{MINIMAL}[[fault]]\nat = \"30s\"\nkind = \"ingest.overload\"\ntarget = \"{target}\"\n{extra}")
    };
    let messages = |d: Diagnostics| d.0.into_iter().map(|e| e.message).collect::<Vec<_>>();
    assert_eq!(
        messages(errors(&fault("edge-1", "capacity_mbps = 5\n"), &[])),
        [
            "an ingest.overload fault needs `capacity_streams`",
            "`capacity_mbps` applies to cdn.overload faults, not ingest.overload",
            "ingest.overload targets an ingest, not `edge-1`",
        ]
    );
    assert_eq!(
        messages(errors(&fault("ingest-1", "capacity_streams = 0\n"), &[])),
        ["capacity_streams = 0 would make the server package nothing"]
    );
    assert!(load_str("t.toml", &fault("ingest-2", "capacity_streams = 1\n"), &[]).is_ok());
}

#[test]
fn a_table_written_in_part_keeps_the_defaults_of_where_it_stands() {
    let s = load_str(
        "t.toml",
        &format!("{MINIMAL}[dns]\nhealth = {{ interval = \"10s\" }}\n[network]\nencoder_ingest = {{ loss = 0.01 }}\n"),
        &[],
    )
    .unwrap();
    // Route 53's timeout and thresholds, not the ingest checks' 500 ms and rise 2.
    assert_eq!(s.dns.health.interval.0.to_string(), "10s");
    assert_eq!(s.dns.health.timeout.0.to_string(), "4s");
    assert_eq!((s.dns.health.fall, s.dns.health.rise), (3, 3));
    // The encoder uplink keeps its 20 ms and 2 ms jitter.
    assert_eq!(s.network.encoder_ingest.latency.0.to_string(), "20ms");
    assert_eq!(s.network.encoder_ingest.jitter.0.to_string(), "2ms");
    assert_eq!(s.network.encoder_ingest.loss, 0.01);
    // The same through --set.
    let s = load_str("t.toml", MINIMAL, &["lb.health.fall=5".to_string()]).unwrap();
    assert_eq!(s.lb.health.interval.0.to_string(), "2s");
    assert_eq!(s.lb.health.fall, 5);
}

#[test]
fn triggered_faults_need_a_known_event() {
    let fault =
        |extra: &str| format!("{MINIMAL}[[fault]]\nat = \"0s\"\nkind = \"node.crash\"\ntarget = \"ingest-2\"\n{extra}");
    let d = errors(&fault("on = \"failover.begun\"\n"), &[]);
    assert_eq!(d.0[0].message, "unknown value `failover.begun` for `fault[0].on`");
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("use one of: failure.detected, failover.started, failover.switched, failover.completed, failback.started, alert.fired, leader.elected")
    );
    let d = errors(&fault("after = \"1s\"\n"), &[]);
    assert_eq!(d.0[0].message, "`after` applies to faults started by an event (`on`)");
    assert!(load_str("t.toml", &fault("on = \"alert.fired\"\nafter = \"1s\"\n"), &[]).is_ok());
}

#[test]
fn thresholds_take_units_and_between_takes_two() {
    let expect = |metric: &str, op: &str, value: &str| {
        format!("{MINIMAL}[[expect]]\nmetric = \"{metric}\"\nop = \"{op}\"\nvalue = {value}\n")
    };
    let bounds = |source: String| load_str("t.toml", &source, &[]).unwrap().expects[0].bounds().unwrap();
    assert_eq!(
        bounds(expect("failover_latency_ms.p99", "lt", "\"3s\"")),
        (3_000.0, 3_000.0)
    );
    assert_eq!(bounds(expect("split_brain_s", "le", "\"500ms\"")), (0.5, 0.5));
    assert_eq!(bounds(expect("rebuffer_ratio", "lt", "\"2%\"")), (0.02, 0.02));
    assert_eq!(
        bounds(expect("failover_latency_ms.p50", "between", "[\"1s\", 8000]")),
        (1_000.0, 8_000.0)
    );
    let refused = |source: String| {
        let d = errors(&source, &[]);
        d.0.into_iter().map(|e| e.message).collect::<Vec<_>>()
    };
    assert_eq!(
        refused(expect("stall_count", "lt", "\"3s\"")),
        ["`stall_count` is not a time: give a plain number"]
    );
    assert_eq!(
        refused(expect("stall_count", "between", "5")),
        ["`between` takes two values: `value = [low, high]`"]
    );
    assert_eq!(
        refused(expect("stall_count", "between", "[9, 3]")),
        ["`between` 9 and 3: the low bound is above the high one"]
    );
}

#[test]
fn random_fault_settings_are_range_checked_and_active_active_capacity_holds_every_stream() {
    let source = format!(
        "{MINIMAL}[random_faults]\n[[random_faults.kind]]\nkind = \"net.degrade\"\nmtbf = \"10m\"\nmttr = \"1m\"\nloss = 1.5\n"
    );
    let d = errors(&source, &[]);
    assert_eq!(d.0[0].message, "loss = 1.5 is not a probability below 1");
    let source = format!(
        "{MINIMAL}[random_faults]\n[[random_faults.kind]]\nkind = \"node.crash\"\nmtbf = \"100us\"\nmttr = \"1m\"\n"
    );
    let d = errors(&source, &[]);
    assert!(
        d.0[0].message.contains("random faults in the window; at most 100000"),
        "{d}"
    );
    let d = errors(
        &format!("{MINIMAL}[encoders]\ncount = 3\n[ingest]\nredundancy = \"active-active\"\ncapacity = 2\n"),
        &[],
    );
    assert_eq!(
        d.0[0].message,
        "ingest.capacity = 2 with active-active: every server packages every one of the 3 streams"
    );
}

#[test]
fn every_fault_setting_can_be_set_on_an_entry_that_leaves_it_out() {
    let source = format!("{MINIMAL}[[fault]]\nat = \"30s\"\nkind = \"node.crash\"\ntarget = \"edge-1\"\n");
    let s = load_str(
        "t.toml",
        &source,
        &[
            "fault[0].kind=net.degrade".to_string(),
            "fault[0].latency=300ms".to_string(),
            "fault[0].loss=0.05".to_string(),
        ],
    )
    .unwrap();
    assert_eq!(s.faults[0].latency.unwrap().0.to_string(), "300ms");
    assert_eq!(s.faults[0].loss, Some(0.05));
    let s = load_str("t.toml", &source, &["fault[0].on=alert.fired".to_string()]).unwrap();
    assert_eq!(s.faults[0].on.as_deref(), Some("alert.fired"));
}

#[test]
fn a_playlist_check_must_allow_more_than_one_segment_without_a_new_one() {
    let d = errors(
        &format!("{MINIMAL}[cdn]\nbalancing = \"hardware\"\nsegment = \"6s\"\n[lb]\ncheck = \"playlist\"\n"),
        &[],
    );
    let text = d.to_string();
    assert!(
        text.contains("lb.playlist_stale_after = 6s is not longer than cdn.segment = 6s"),
        "{text}"
    );
    assert!(text.contains("3 × is 18s"), "{text}");
    let d = errors(
        &format!("{MINIMAL}[cdn]\nbalancing = \"hardware\"\n[lb]\ncheck = \"http\"\n"),
        &[],
    );
    assert!(d.to_string().contains("lb.check"), "{d}");
}

#[test]
fn sweep_values_are_checked_where_they_stand_and_cells_cover_every_combination() {
    let sweep = "[sweep]\n\"ingest.health.interval\" = [\"500ms\", \"1s\", \"2s\"]\n\"dns.ttl\" = [\"30s\", \"60s\"]\n";
    let s = load_str("t.toml", &format!("{MINIMAL}{sweep}"), &[]).unwrap();
    let cells = s.sweep_cells();
    assert_eq!(cells.len(), 6);
    assert_eq!(cells[0], ["dns.ttl=30s", "ingest.health.interval=500ms"]);
    assert_eq!(cells[5], ["dns.ttl=60s", "ingest.health.interval=2s"]);
    // Every cell loads.
    for cell in &cells {
        load_str("t.toml", &format!("{MINIMAL}{sweep}"), cell).unwrap();
    }

    let d = errors(
        &format!("{MINIMAL}[sweep]\n\"dns.ttl\" = [\"30s\", \"banana\"]\n\"viewers.count\" = [10, 0]\n"),
        &[],
    );
    let text = d.to_string();
    assert!(
        text.contains("sweep `dns.ttl` = banana: `dns.ttl`: `banana` does not start with a number"),
        "{text}"
    );
    assert!(text.contains("--> t.toml:5:21"), "{text}");
    assert!(
        text.contains("sweep `viewers.count` = 0: viewers.count must be at least 1"),
        "{text}"
    );
    assert!(text.contains("--> t.toml:6:24"), "{text}");

    let d = errors(&format!("{MINIMAL}[sweep]\ningest.health.interval = [\"1s\"]\n"), &[]);
    assert!(d.to_string().contains("[sweep] keys are dotted paths in quotes"), "{d}");
    let d = errors(&format!("{MINIMAL}[sweep]\n\"viewers.cuont\" = [1]\n"), &[]);
    assert!(d.to_string().contains("did you mean `viewers.count`?"), "{d}");
    let d = errors(&format!("{MINIMAL}[sweep]\n\"viewers.count\" = []\n"), &[]);
    assert!(d.to_string().contains("sweep `viewers.count` has no values"), "{d}");
}

#[test]
fn windowed_expectations_measure_their_window_only() {
    let mut s = common::scenario(
        "scenarios/hardware-lb.toml",
        &["viewers.count=60", "scenario.duration=7m"],
    );
    let window = |metric: &str, during: &str| failcast::scenario::Expect {
        metric: metric.into(),
        op: "ge".into(),
        value: failcast::scenario::Threshold::Number(0.0),
        during: Some(during.into()),
    };
    s.expects = vec![
        window("viewer_request_errors", "fault:lb-crash+1m"),
        window("viewer_request_errors", "10s..5m"),
        window("stall_count", "fault:lb-crash+2m"),
        window("stall_count", "10s..5m"),
    ];
    let out = failcast::experiment::run_scenario(&s, 1, None, false).unwrap();
    let measured: Vec<f64> = out.verdicts.iter().map(|v| v.measured.unwrap()).collect();
    let summary = &out.summary;
    // Every request error and stall of the run falls in the takeover's window, none
    // before the crash.
    assert!(summary.viewer_request_errors > 0);
    assert_eq!(measured[0], summary.viewer_request_errors as f64);
    assert_eq!(measured[1], 0.0);
    assert_eq!(measured[2], summary.stall_count as f64);
    assert_eq!(measured[3], 0.0);
}

#[test]
fn windows_are_checked_like_everything_else() {
    let fault = "[[fault]]\nid = \"crash\"\nat = \"30s\"\nkind = \"node.crash\"\ntarget = \"ingest-1\"\n";
    let expect = |metric: &str, during: &str| {
        format!("{MINIMAL}{fault}[[expect]]\nmetric = \"{metric}\"\nop = \"lt\"\nvalue = 1\nduring = \"{during}\"\n")
    };
    let d = errors(&expect("stall_count", "fault:crahs+1m"), &[]);
    assert!(d.to_string().contains("no fault `crahs` to measure during"), "{d}");
    assert!(d.to_string().contains("did you mean `fault:crash`?"), "{d}");
    let d = errors(&expect("rebuffer_ratio", "fault:crash"), &[]);
    assert!(d.to_string().contains("`rebuffer_ratio` is a whole-run figure"), "{d}");
    let d = errors(&expect("stall_count", "10s..2m"), &[]);
    assert!(
        d.to_string().contains("the window ends at 2m, after the run (1m)"),
        "{d}"
    );
    let d = errors(&expect("stall_count", "around the crash"), &[]);
    assert!(d.to_string().contains("`around the crash` is not a window"), "{d}");
    load_str("t.toml", &expect("stall_count", "fault:crash+20s"), &[]).unwrap();
}

#[test]
fn fault_ids_are_unique_and_fit_in_a_window() {
    let fault = |id: &str| format!("[[fault]]\n{id}at = \"30s\"\nkind = \"node.crash\"\ntarget = \"ingest-1\"\n");
    let d = errors(
        &format!("{MINIMAL}{}{}", fault("id = \"crash\"\n"), fault("id = \"crash\"\n")),
        &[],
    );
    assert_eq!(d.0.len(), 1, "{d}");
    assert_eq!(d.0[0].message, "fault id `crash` is also fault[0]'s");
    assert_eq!(d.0[0].line, Some(10), "at the second id: {d}");
    // An id equal to another fault's default name.
    let d = errors(&format!("{MINIMAL}{}{}", fault(""), fault("id = \"fault-1\"\n")), &[]);
    assert_eq!(d.0[0].message, "fault id `fault-1` is also fault[0]'s", "{d}");
    for (id, message) in [
        ("crash+1", "fault id `crash+1` contains `+`"),
        (" crash", "fault id ` crash` starts or ends with blanks"),
        ("", "a fault id is empty"),
        ("random-3", "fault id `random-3` is how random faults are named"),
    ] {
        let d = errors(&format!("{MINIMAL}{}", fault(&format!("id = \"{id}\"\n"))), &[]);
        assert_eq!(d.0.len(), 1, "{d}");
        assert_eq!(d.0[0].message, message);
        assert_eq!((d.0[0].line, d.0[0].column), (Some(5), Some(6)), "{d}");
    }
    load_str(
        "t.toml",
        &format!("{MINIMAL}{}", fault("id = \"edge-2.crash_1\"\n")),
        &[],
    )
    .unwrap();
}

#[test]
fn a_warmup_leaves_its_stalls_and_outages_out_and_nothing_else() {
    // The quickstart's failover is at 10 min; measure from 9 min.
    let plain = common::short_quickstart(&["viewers.count=60"]);
    let mut warm = plain.clone();
    warm.scenario.warmup = failcast::scenario::Dur(failcast::time::SimDuration::from_secs(540));
    let window = |metric: &str| failcast::scenario::Expect {
        metric: metric.into(),
        op: "ge".into(),
        value: failcast::scenario::Threshold::Number(0.0),
        during: Some(format!("9m..{}", plain.scenario.duration.0)),
    };
    let mut measured = plain.clone();
    measured.expects = vec![window("stall_count"), window("stall_s_total"), window("availability")];
    let a = failcast::experiment::run_scenario(&measured, 1, None, false).unwrap();
    let b = failcast::experiment::run_scenario(&warm, 1, None, false).unwrap();
    // Same simulation, other accounting.
    assert_eq!(a.summary.trace_digest, b.summary.trace_digest);
    assert_eq!(a.summary.frames_dropped, b.summary.frames_dropped);
    let windowed: Vec<f64> = a.verdicts.iter().map(|v| v.measured.unwrap()).collect();
    assert_eq!(b.summary.stall_count as f64, windowed[0]);
    assert!(
        (b.summary.stall_s_total - windowed[1]).abs() < 1e-6,
        "{} vs {}",
        b.summary.stall_s_total,
        windowed[1]
    );
    assert!((b.summary.availability - windowed[2]).abs() < 1e-9);
    assert!(windowed[0] > 0.0, "the failover's stalls are measured");
    // The same outage over a shorter span.
    assert!(b.summary.availability < a.summary.availability);

    let d = errors(
        &format!("{MINIMAL}warmup = \"20s\"\n[[fault]]\nat = \"10s\"\nkind = \"node.crash\"\ntarget = \"ingest-1\"\n"),
        &[],
    );
    let text = d.to_string();
    assert!(text.contains("fault at 10s starts inside the warmup (20s)"), "{text}");
    let d = errors(&format!("{MINIMAL}warmup = \"1m\"\n"), &[]);
    assert!(
        d.to_string()
            .contains("scenario.warmup = 1m leaves nothing of the 1m run to measure"),
        "{d}"
    );
}

#[test]
fn a_sweep_cell_runs_even_when_another_value_of_its_key_would_not_fit_it() {
    // join_at 100s + join_over 60s is past a 2 min run; the cell (100s, 5s) is fine.
    let source = format!(
        "{}[sweep]\n\"viewers.join_at\" = [\"10s\", \"100s\"]\n\"viewers.join_over\" = [\"5s\", \"60s\"]\n\"scenario.description\" = ['say \"hi\" \\\\o/']\n",
        MINIMAL.replace("1m", "2m")
    );
    let cell = vec!["viewers.join_at=100s".to_string(), "viewers.join_over=5s".to_string()];
    load_str("t.toml", &source, &cell).unwrap();
    let s = load_str("t.toml", &source, &[]).unwrap();
    // Strings reach --set as written.
    let described = load_str("t.toml", &source, &s.sweep_cells()[0]).unwrap();
    assert_eq!(
        Some(described.scenario.description.as_str()),
        s.sweep["scenario.description"][0].as_str()
    );
    assert!(described.scenario.description.contains("\"hi\""));
}
