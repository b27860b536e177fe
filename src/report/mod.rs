//! Output files of a run: `summary.json`, `timeline.csv`, `failovers.csv`,
//! `alerts.csv`, `viewers.csv`, `nodes.csv`, `plots/` and `report.html`, written
//! into a temporary folder that replaces the final one in a single rename, so a reader
//! never sees a half-written run and a failed write leaves no partial output.

pub mod check;
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
use std::path::Path;

use serde::Serialize;

use crate::experiment::RunOutput;
use crate::folders::{self, FolderError};
use crate::metrics::viewer_rows;
use tables::RunTables;

pub use crate::files::*;

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

/// Draws a PNG with `draw` into a temporary file beside `path`, then renames it over
/// `path`: a reader never sees half a picture, and a failure leaves no file behind.
pub(crate) fn write_png_atomic(
    path: &Path,
    draw: impl FnOnce(
        &plotters::drawing::DrawingArea<plotters::prelude::BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), String>,
) -> Result<(), String> {
    use plotters::prelude::IntoDrawingArea;
    // The encoder picks the format by the extension, so the temporary name keeps it.
    let tmp = folders::temporary_beside(path, ".png").map_err(|e| format!("{}: {e}", path.display()))?;
    let root = plotters::prelude::BitMapBackend::new(tmp.path(), plots::SIZE).into_drawing_area();
    draw(&root)?;
    root.present().map_err(|e| format!("{}: {e}", path.display()))?;
    drop(root);
    tmp.persist(path)
        .map_err(|e| format!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// The bytes of `summary.json`: pretty JSON, keys in a fixed order, newline-terminated.
pub fn summary_json(summary: &crate::metrics::Summary) -> String {
    let mut text = serde_json::to_string_pretty(summary).expect("a summary always serialises");
    text.push('\n');
    text
}

/// Redraws `plots/` and `report.html` of the run folder `dir` from its other files,
/// without re-running. Each is replaced in one rename: a reader sees the old or the new.
/// Only a run folder failcast wrote is touched.
pub fn rebuild(dir: &Path) -> Result<(), FolderError> {
    if !folders::is_run_folder(dir) {
        return Err(FolderError::refused(
            dir,
            format!("is not a run folder failcast wrote (it has no {})", folders::RUN_MARKER),
            "give a folder written by `failcast run`",
        ));
    }
    let tables = RunTables::load(dir).map_err(|message| {
        FolderError::refused(
            dir,
            message,
            "give a folder written by `failcast run` (it needs summary.json and the CSVs)",
        )
    })?;
    let page = html::report(&tables).map_err(|e| FolderError::io(dir)(io::Error::other(e)))?;
    let plots_dir = dir.join(PLOTS_DIR);
    folders::clean_leftovers(&plots_dir, false);
    let staging = folders::sibling(&plots_dir, "tmp");
    if let Err(error) = plots::write_all(&staging, &tables.plot_input()) {
        let _ = fs::remove_dir_all(&staging);
        return Err(FolderError::io(&staging)(io::Error::other(error)));
    }
    let retired = folders::sibling(&plots_dir, "old");
    let fail = FolderError::io(dir);
    let swapped = (|| {
        if plots_dir.exists() {
            fs::rename(&plots_dir, &retired)?;
        }
        fs::rename(&staging, &plots_dir)?;
        if retired.exists() {
            fs::remove_dir_all(&retired)?;
        }
        folders::write_atomic(&dir.join(REPORT_FILE), page.as_bytes())
    })();
    swapped.map_err(fail)
}

/// Writes a run's files to `dir`, replacing the run folder that was there, atomically.
/// A folder failcast did not write is refused (see [`folders::check_run_target`]).
pub fn write_run(dir: &Path, run: &RunOutput) -> Result<(), FolderError> {
    folders::write_run_folder(dir, |staging| {
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
        )
    })
}
