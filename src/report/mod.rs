//! Output files of a run: `summary.json`, `timeline.csv`, `failovers.csv`,
//! `alerts.csv`, `viewers.csv`, `nodes.csv`, `plots/` and `report.html`, written
//! into a temporary folder that replaces the final one in a single rename, so a reader
//! never sees a half-written run and a failed write leaves no partial output.

pub mod compare_html;
pub mod compare_plots;
pub mod html;
pub mod plots;
pub mod sweep_plots;
pub mod tables;
pub mod text;
pub mod trace;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::experiment::RunOutput;
use crate::metrics::viewer_rows;
use tables::RunTables;

pub const SUMMARY_FILE: &str = "summary.json";
/// The scenario as it ran, overrides applied (rerun it with `failcast run`).
pub const SCENARIO_FILE: &str = "scenario.toml";
pub const TIMELINE_FILE: &str = "timeline.csv";
pub const FAILOVERS_FILE: &str = "failovers.csv";
pub const ALERTS_FILE: &str = "alerts.csv";
pub const VIEWERS_FILE: &str = "viewers.csv";
pub const NODES_FILE: &str = "nodes.csv";
pub const PLOTS_DIR: &str = "plots";
pub const REPORT_FILE: &str = "report.html";
pub const FAULTS_FILE: &str = "faults.csv";
pub const STALLS_FILE: &str = "stalls.csv";
pub const EXPECTATIONS_FILE: &str = "expectations.csv";
pub const EVENTS_FILE: &str = "events.csv";
pub const TRACE_FILE: &str = "trace.json";

/// The column names of `faults.csv`, `stalls.csv` and `expectations.csv`.
pub const FAULT_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "target",
    "start_s",
    "end_s",
    "time_to_detect_s",
    "detected_by",
    "time_to_alert_s",
    "viewers_affected",
    "viewers_switched",
    "switched_to",
    "players_detect_ms_p50",
    "players_detected_by",
    "switch_ms_p50",
    "viewers_recovered",
    "recovery_ms_p50",
    "recovery_ms_p95",
];
pub const STALL_COLUMNS: &[&str] = &["viewer", "resumed_s", "duration_s"];
pub const EXPECTATION_COLUMNS: &[&str] = &["metric", "op", "value", "measured", "passed", "during"];

/// The column names of `viewers.csv`.
pub const VIEWER_COLUMNS: &[&str] = &[
    "viewer",
    "edge",
    "stream",
    "joined_s",
    "startup_ms",
    "stalls",
    "stall_s",
    "play_s",
    "rebuffer_ratio",
    "frames_played",
    "frames_skipped",
    "live_latency_s_mean",
    "live_latency_s_max",
    "request_errors",
    "edge_switches",
    "ttl_violator",
    "left_s",
];

/// The column names of `nodes.csv`.
pub const NODE_COLUMNS: &[&str] = &["time_s", "node", "connections", "requests", "refused", "egress_mbps"];

/// The column names of `alerts.csv`.
pub const ALERT_COLUMNS: &[&str] = &[
    "alert",
    "rule",
    "condition_since_ms",
    "fired_ms",
    "notified_ms",
    "resolved_ms",
];

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

fn csv_bytes<T: Serialize>(rows: &[T], header: &[&str]) -> io::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        // An empty table still names its columns (serde writes them with the first row).
        writer.write_record(header)?;
    }
    for row in rows {
        writer.serialize(row)?;
    }
    writer.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

/// The column names of `failovers.csv`, also written when there was no failover.
pub const FAILOVER_COLUMNS: &[&str] = &[
    "episode",
    "stream",
    "kind",
    "fault",
    "from",
    "to",
    "onset_ms",
    "detected_ms",
    "detected_by",
    "switched_ms",
    "first_frame_ms",
    "first_segment_ms",
    "time_to_detect_ms",
    "failover_latency_ms",
    "viewers_affected",
    "viewers_recovered",
    "recovery_ms_p50",
    "recovery_ms_p95",
    "edge_requests_per_s_peak",
    "media_gap_ms",
];

/// The column names of `timeline.csv`.
pub const TIMELINE_COLUMNS: &[&str] = &[
    "time_s",
    "frames_produced",
    "frames_ingested",
    "frames_delivered",
    "frames_played",
    "viewers_starting",
    "viewers_playing",
    "viewers_stalled",
    "edge_requests",
];

/// The bytes of `summary.json`: pretty JSON, keys in a fixed order, newline-terminated.
pub fn summary_json(summary: &crate::metrics::Summary) -> String {
    let mut text = serde_json::to_string_pretty(summary).expect("a summary always serialises");
    text.push('\n');
    text
}

/// Redraws `plots/` and `report.html` of the run folder `dir` from its other files,
/// without re-running. Each is replaced in one rename: a reader sees the old or the new.
pub fn rebuild(dir: &Path) -> Result<(), String> {
    let tables = RunTables::load(dir)?;
    let page = html::report(&tables)?;
    let fail = |e: io::Error| format!("{}: {e}", dir.display());
    let staging = sibling(&dir.join(PLOTS_DIR), "tmp");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(fail)?;
    }
    if let Err(error) = plots::write_all(&staging, &tables.plot_input()) {
        let _ = fs::remove_dir_all(&staging);
        return Err(error);
    }
    let plots_dir = dir.join(PLOTS_DIR);
    let retired = sibling(&plots_dir, "old");
    if plots_dir.exists() {
        fs::rename(&plots_dir, &retired).map_err(fail)?;
    }
    fs::rename(&staging, &plots_dir).map_err(fail)?;
    if retired.exists() {
        fs::remove_dir_all(&retired).map_err(fail)?;
    }
    let report_tmp = sibling(&dir.join(REPORT_FILE), "tmp");
    fs::write(&report_tmp, page).map_err(fail)?;
    fs::rename(&report_tmp, dir.join(REPORT_FILE)).map_err(fail)?;
    Ok(())
}

/// Writes a run's files to `dir`, replacing what was there, atomically.
pub fn write_run(dir: &Path, run: &RunOutput) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let staging = sibling(dir, "tmp");
    let result = (|| {
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir(&staging)?;
        let tables = RunTables::of(run);
        let files: [(&str, Vec<u8>); 10] = [
            (SUMMARY_FILE, summary_json(&run.summary).into_bytes()),
            (SCENARIO_FILE, tables.scenario_toml.clone().into_bytes()),
            (TIMELINE_FILE, csv_bytes(&run.timeline, TIMELINE_COLUMNS)?),
            (FAILOVERS_FILE, csv_bytes(&run.failovers, FAILOVER_COLUMNS)?),
            (ALERTS_FILE, csv_bytes(&run.alerts, ALERT_COLUMNS)?),
            (VIEWERS_FILE, csv_bytes(&viewer_rows(&run.viewers), VIEWER_COLUMNS)?),
            (NODES_FILE, csv_bytes(&run.nodes, NODE_COLUMNS)?),
            (FAULTS_FILE, csv_bytes(&tables.faults, FAULT_COLUMNS)?),
            (STALLS_FILE, csv_bytes(&tables.stalls, STALL_COLUMNS)?),
            (EXPECTATIONS_FILE, csv_bytes(&tables.verdicts, EXPECTATION_COLUMNS)?),
        ];
        let mut files = Vec::from(files);
        if let Some(records) = &run.records {
            let rows = trace::event_rows(records, &run.node_names);
            files.push((EVENTS_FILE, csv_bytes(&rows, trace::EVENT_COLUMNS)?));
            files.push((TRACE_FILE, trace::trace_json(run).into_bytes()));
        }
        for (name, bytes) in files {
            let mut file = fs::File::create(staging.join(name))?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        plots::write_all(&staging.join(PLOTS_DIR), &tables.plot_input()).map_err(io::Error::other)?;
        fs::write(
            staging.join(REPORT_FILE),
            html::report(&tables).map_err(io::Error::other)?,
        )?;
        let retired = sibling(dir, "old");
        if dir.exists() {
            fs::rename(dir, &retired)?;
        }
        fs::rename(&staging, dir)?;
        if retired.exists() {
            fs::remove_dir_all(&retired)?;
        }
        Ok(())
    })();
    if result.is_err() && staging.exists() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}
