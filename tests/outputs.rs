//! The run folder is an interface: file names, CSV columns and summary keys are stable.

mod common;

use failcast::experiment::run_scenario;
use failcast::report::{
    write_run, ALERT_COLUMNS, EXPECTATION_COLUMNS, FAILOVER_COLUMNS, FAULT_COLUMNS, NODE_COLUMNS, STALL_COLUMNS,
    TIMELINE_COLUMNS, VIEWER_COLUMNS,
};

fn first_line(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn run_folder_has_documented_files_columns_and_keys() {
    let out = run_scenario(&common::short_quickstart(&["viewers.count=20"]), 1, None, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("results/quickstart/seed-1");
    write_run(&run, &out).unwrap();

    assert_eq!(first_line(&run.join("timeline.csv")), TIMELINE_COLUMNS.join(","));
    assert_eq!(first_line(&run.join("failovers.csv")), FAILOVER_COLUMNS.join(","));
    assert_eq!(first_line(&run.join("alerts.csv")), ALERT_COLUMNS.join(","));
    assert_eq!(first_line(&run.join("viewers.csv")), VIEWER_COLUMNS.join(","));
    assert_eq!(first_line(&run.join("nodes.csv")), NODE_COLUMNS.join(","));
    assert_eq!(first_line(&run.join("faults.csv")), FAULT_COLUMNS.join(","));
    assert_eq!(first_line(&run.join("stalls.csv")), STALL_COLUMNS.join(","));
    assert_eq!(first_line(&run.join("expectations.csv")), EXPECTATION_COLUMNS.join(","));
    // A run with no fault, failover, alert, stall or expectation writes the same
    // headers (from the constants rather than from rows).
    let mut calm = common::short_quickstart(&["viewers.count=20", "scenario.duration=2m", "fault[0].at=1m"]);
    calm.faults.clear();
    calm.expects.clear();
    let quiet = run_scenario(&calm, 1, None, false).unwrap();
    assert!(quiet.failovers.is_empty() && quiet.alerts.is_empty() && quiet.stalls.is_empty());
    let empty = dir.path().join("calm");
    write_run(&empty, &quiet).unwrap();
    for file in [
        "timeline.csv",
        "failovers.csv",
        "alerts.csv",
        "viewers.csv",
        "nodes.csv",
        "faults.csv",
        "stalls.csv",
        "expectations.csv",
    ] {
        assert_eq!(first_line(&empty.join(file)), first_line(&run.join(file)), "{file}");
    }
    let viewers = std::fs::read_to_string(run.join("viewers.csv")).unwrap();
    assert_eq!(viewers.lines().count(), 1 + 20, "a header and one row per viewer");
    let nodes = std::fs::read_to_string(run.join("nodes.csv")).unwrap();
    // 2 ingest servers, the origin and 4 edges.
    assert_eq!(
        nodes.lines().count(),
        1 + 72 * 7,
        "a header and a row per node per 10 s"
    );
    let timeline = std::fs::read_to_string(run.join("timeline.csv")).unwrap();
    assert_eq!(
        timeline.lines().count(),
        1 + 720,
        "a header and one row per simulated second"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    for key in [
        "scenario",
        "seed",
        "sim_duration_s",
        "wall_s",
        "events",
        "trace_digest",
        "frames_produced",
        "frames_played",
        "frames_dropped",
        "failover_latency_ms",
        "stall_s_total",
        "rebuffer_ratio",
        "availability",
    ] {
        assert!(summary.get(key).is_some(), "summary.json lacks `{key}`");
    }
    for key in ["ingest", "distribution", "player", "total"] {
        assert!(summary["frames_dropped"][key].is_u64(), "frames_dropped.{key}");
    }
    for key in ["count", "p50", "p95", "p99", "max"] {
        assert!(
            summary["failover_latency_ms"].get(key).is_some(),
            "failover_latency_ms.{key}"
        );
    }
    assert_eq!(summary["trace_digest"].as_str().unwrap().len(), 16);

    // Only the run folder exists: no staging or retired folders are left behind.
    let siblings: Vec<_> = std::fs::read_dir(run.parent().unwrap()).unwrap().collect();
    assert_eq!(siblings.len(), 1);
}

#[test]
fn rewriting_a_run_replaces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("seed-1");
    let mut out = run_scenario(&common::short_quickstart(&["viewers.count=10"]), 2, None, false).unwrap();
    write_run(&run, &out).unwrap();
    std::fs::write(run.join("stale.txt"), "from an older run").unwrap();
    out.failovers.clear();
    write_run(&run, &out).unwrap();
    assert!(!run.join("stale.txt").exists());
    // A folder failcast did not write is never replaced.
    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    assert!(write_run(&foreign, &out).is_err());
    assert_eq!(std::fs::read_to_string(foreign.join("notes.txt")).unwrap(), "mine");
    // An empty failover table still has its header.
    assert_eq!(first_line(&run.join("failovers.csv")), FAILOVER_COLUMNS.join(","));
}

#[test]
fn plots_are_written_as_svg_and_png_and_are_deterministic() {
    let out = run_scenario(&common::short_quickstart(&["viewers.count=20"]), 1, None, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write_run(&a, &out).unwrap();
    write_run(&b, &out).unwrap();
    for name in failcast::report::plots::PLOTS {
        let svg = std::fs::read_to_string(a.join("plots").join(format!("{name}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{name}");
        let png = std::fs::read(a.join("plots").join(format!("{name}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        // IHDR: width and height, big-endian, right after the signature and chunk header.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (1000, 520), "{name}");
        for ext in ["svg", "png"] {
            let file = format!("{name}.{ext}");
            assert_eq!(
                std::fs::read(a.join("plots").join(&file)).unwrap(),
                std::fs::read(b.join("plots").join(&file)).unwrap(),
                "{file} differs between two writes"
            );
        }
    }
    // Axis labels carry units.
    let timeline = std::fs::read_to_string(a.join("plots/timeline.svg")).unwrap();
    assert!(timeline.contains("time (s)") && timeline.contains("viewers"));
    let latency = std::fs::read_to_string(a.join("plots/failover_latency.svg")).unwrap();
    assert!(latency.contains("#1 ingest-1 → ingest-2"), "the episode is labelled");
}

#[test]
fn report_command_redraws_plots_and_page_identically_from_the_files() {
    let out = run_scenario(&common::short_quickstart(&["viewers.count=20"]), 1, None, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_run(&run, &out).unwrap();
    let original_page = std::fs::read(run.join("report.html")).unwrap();
    let original_plot = std::fs::read(run.join("plots/timeline.png")).unwrap();
    std::fs::remove_dir_all(run.join("plots")).unwrap();
    std::fs::remove_file(run.join("report.html")).unwrap();
    let status = std::process::Command::new(common::binary())
        .arg("report")
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(std::fs::read(run.join("report.html")).unwrap(), original_page);
    assert_eq!(std::fs::read(run.join("plots/timeline.png")).unwrap(), original_plot);
    // Nothing but the folder's own files is left behind.
    let mut names: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".failcast-run",
            "alerts.csv",
            "expectations.csv",
            "failovers.csv",
            "faults.csv",
            "nodes.csv",
            "plots",
            "report.html",
            "scenario.toml",
            "stalls.csv",
            "summary.json",
            "timeline.csv",
            "viewers.csv"
        ]
    );

    // A folder that is not a run: exit 2, a clear error, nothing written.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let refused = std::process::Command::new(common::binary())
        .arg("report")
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a run folder failcast wrote"));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn trace_outputs_list_every_event_and_span_the_faults_and_phases() {
    let out = run_scenario(&common::short_quickstart(&["viewers.count=5"]), 1, None, true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_run(&run, &out).unwrap();
    let events = std::fs::read_to_string(run.join("events.csv")).unwrap();
    assert_eq!(events.lines().count() as u64, 1 + out.summary.events);
    assert!(events.starts_with("time_ns,microstep,source,sequence,destination,kind,payload\n"));
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("trace.json")).unwrap()).unwrap();
    let spans: Vec<&serde_json::Value> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    let fault = spans.iter().find(|e| e["cat"] == "fault").expect("the fault is a span");
    // 600 s → 900 s, in microseconds.
    assert_eq!(
        (fault["ts"].as_i64(), fault["dur"].as_i64()),
        (Some(600_000_000), Some(300_000_000))
    );
    let phases: Vec<&str> = spans
        .iter()
        .filter(|e| e["cat"] == "failover")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(phases.len(), 3, "{phases:?}");
    // Stream outages are spans too, exactly the intervals availability misses.
    let outage_us: i64 = spans
        .iter()
        .filter(|e| e["cat"] == "outage")
        .map(|e| e["dur"].as_i64().unwrap())
        .sum();
    let spans_s: f64 = out.outages_s.iter().map(|(_, a, b)| b - a).sum();
    assert!(outage_us > 0 && (outage_us as f64 / 1e6 - spans_s).abs() < 1e-5);
    // Without --trace neither file is written.
    let quiet = run_scenario(&common::short_quickstart(&["viewers.count=5"]), 1, None, false).unwrap();
    let plain = dir.path().join("plain");
    write_run(&plain, &quiet).unwrap();
    assert!(!plain.join("events.csv").exists() && !plain.join("trace.json").exists());
}
