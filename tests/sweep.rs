//! `failcast sweep`: every cell of a grid on the same seeds, a tidy CSV and a heatmap;
//! the scenario's own [sweep] table; the same files whatever --jobs or shards.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use failcast::experiment::sweep::Sweep;

fn sweep(args: &[&str], out: &Path) -> Output {
    Command::new(common::binary())
        .current_dir(common::repo_path(""))
        .arg("sweep")
        .args(args)
        .args(["--set", "scenario.duration=11m", "--set", "viewers.count=10", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn detection_grows_with_interval_times_fall_across_the_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "scenarios/quickstart.toml",
        "--grid",
        "ingest.health.interval=1s,4s",
        "--grid",
        "ingest.health.fall=2,5",
        "--metric",
        "time_to_detect_s_max",
        "--seeds",
        "2",
    ];
    let one = tmp.path().join("one");
    let o = sweep(&[&args[..], &["--jobs", "1"]].concat(), &one);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s: Sweep = serde_json::from_str(&std::fs::read_to_string(one.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(s.axes, ["ingest.health.interval", "ingest.health.fall"]);
    let cells: Vec<(Vec<String>, f64)> = s.cells.iter().map(|c| (c.values.clone(), c.heat.unwrap())).collect();
    assert_eq!(
        cells.iter().map(|(v, _)| v.join(" ")).collect::<Vec<_>>(),
        ["1s 2", "1s 5", "4s 2", "4s 5"],
        "the last axis varies fastest"
    );
    // The manager's checks detect a crash after `fall` failed probes: at most fall
    // intervals after it (plus the 500 ms timeout), whatever the probe phase. (The
    // monitor's 15 s scrape can be first when that is longer.)
    for (values, detect) in &cells {
        let interval: f64 = values[0].trim_end_matches('s').parse().unwrap();
        let fall: f64 = values[1].parse().unwrap();
        assert!(
            *detect <= (fall * interval + 0.5).min(15.0 + 0.5),
            "{values:?}: {detect}"
        );
    }
    // Pinned on seeds 1 and 2: the fastest checks detect first.
    assert!(cells[0].1 < cells[3].1);
    let csv = std::fs::read_to_string(one.join("sweep.csv")).unwrap();
    assert!(csv.starts_with("ingest.health.interval,ingest.health.fall,metric,n,mean,p50,p95,ci95_low,ci95_high\n"));
    assert_eq!(csv.lines().count(), 1 + 4 * s.cells[0].metrics.len());
    assert!(one.join("plots/sweep.svg").exists() && one.join("plots/sweep.png").exists());

    // --jobs 2 and two shards merged write the same files.
    let two = tmp.path().join("two");
    assert_eq!(
        sweep(&[&args[..], &["--jobs", "2"]].concat(), &two).status.code(),
        Some(0)
    );
    let shards: Vec<_> = (1..=2).map(|k| tmp.path().join(format!("s{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        let spec = format!("{}/2", k + 1);
        assert_eq!(
            sweep(&[&args[..], &["--shard", &spec]].concat(), dir).status.code(),
            Some(0)
        );
    }
    let merged = tmp.path().join("merged");
    let o = common::merge(&shards, Some(&merged));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for file in ["sweep.csv", "sweep.json", "plots/sweep.svg", "plots/sweep.png"] {
        let reference = std::fs::read(one.join(file)).unwrap();
        assert_eq!(
            reference,
            std::fs::read(two.join(file)).unwrap(),
            "{file} with --jobs 2"
        );
        assert_eq!(reference, std::fs::read(merged.join(file)).unwrap(), "{file} merged");
    }
}

#[test]
fn the_scenarios_own_sweep_table_and_bad_grids() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("swept.toml");
    let text_of = std::fs::read_to_string(common::repo_path("scenarios/quickstart.toml")).unwrap();
    std::fs::write(
        &file,
        format!("{text_of}\n[sweep]\n\"ingest.health.fall\" = [2, 3, 4]\n"),
    )
    .unwrap();
    let o = sweep(&[file.to_str().unwrap(), "--seeds", "1"], &tmp.path().join("own"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("sweep     3 cell(s) × 1 seed(s)"), "{}", text(&o));
    let o = sweep(
        &["scenarios/quickstart.toml", "--grid", "ingest.health.fal=2,3"],
        &tmp.path().join("bad"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("did you mean `ingest.health.fall`?"), "{}", text(&o));
    assert!(!tmp.path().join("bad").exists());
    let o = sweep(
        &[
            "scenarios/quickstart.toml",
            "--grid",
            "ingest.health.fall=2,3",
            "--grid",
            "ingest.health.fall=4",
        ],
        &tmp.path().join("twice"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("--grid ingest.health.fall is given twice"),
        "{}",
        text(&o)
    );
    // A bad key is reported once, not once per cell.
    let o = sweep(
        &["scenarios/quickstart.toml", "--grid", "nosuch=1,2,3"],
        &tmp.path().join("once"),
    );
    assert_eq!(
        text(&o).matches("unknown scenario key `nosuch`").count(),
        1,
        "{}",
        text(&o)
    );
    // The heatmap's metric is tabulated even when it is not a compared one.
    let live = tmp.path().join("live");
    let o = sweep(
        &[file.to_str().unwrap(), "--seeds", "1", "--metric", "live_latency_s_p95"],
        &live,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let csv = std::fs::read_to_string(live.join("sweep.csv")).unwrap();
    assert_eq!(csv.matches(",live_latency_s_p95,").count(), 3, "{csv}");
    let o = sweep(&["scenarios/quickstart.toml"], &tmp.path().join("none"));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("nothing to sweep"), "{}", text(&o));
    let o = sweep(
        &[
            "scenarios/quickstart.toml",
            "--grid",
            "ingest.health.fall=2",
            "--metric",
            "latency",
        ],
        &tmp.path().join("m"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown --metric `latency`"), "{}", text(&o));
}
