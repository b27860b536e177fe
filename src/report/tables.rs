//! The tables of a run folder as one value: what the plots and `report.html` are drawn
//! from, built from a finished run or read back from a folder's files (`failcast
//! report DIR` redraws without re-running).

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::experiment::RunOutput;
use crate::metrics::{AlertRow, FailoverRow, NodeRow, Summary, TimelineRow};
use crate::scenario::Scenario;

use super::plots::{FaultWindow, PlotInput};
use super::{
    ALERTS_FILE, EXPECTATIONS_FILE, FAILOVERS_FILE, FAULTS_FILE, NODES_FILE, SCENARIO_FILE, STALLS_FILE, SUMMARY_FILE,
    TIMELINE_FILE,
};

pub use crate::metrics::StallRow;

/// One row of `expectations.csv`: an `[[expect]]` and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerdictRow {
    pub metric: String,
    pub op: String,
    /// The threshold in the metric's unit (`between`: "low and high").
    pub value: String,
    pub measured: Option<f64>,
    pub passed: bool,
    /// The window it was measured over (`during`); empty: the whole run.
    pub during: String,
}

/// Everything the plots and the report show.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTables {
    pub summary: Summary,
    /// `scenario.toml`: the scenario as it ran.
    pub scenario_toml: String,
    pub timeline: Vec<TimelineRow>,
    pub failovers: Vec<FailoverRow>,
    pub alerts: Vec<AlertRow>,
    pub nodes: Vec<NodeRow>,
    pub faults: Vec<FaultWindow>,
    pub stalls: Vec<StallRow>,
    pub verdicts: Vec<VerdictRow>,
}

fn read_csv<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<Vec<T>, String> {
    let path = dir.join(name);
    let mut reader = csv::Reader::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    reader
        .deserialize()
        .enumerate()
        .map(|(row, record)| record.map_err(|e| format!("{}: row {}: {e}", path.display(), row + 1)))
        .collect()
}

/// The scenario as a TOML file that `failcast run` accepts, headed by a comment.
pub fn scenario_toml(scenario: &Scenario) -> String {
    let body = scenario
        .to_toml()
        .unwrap_or_else(|e| format!("# not representable as TOML: {e}\n"));
    format!("# The scenario as this run used it (defaults filled in, overrides applied).\n{body}")
}

impl RunTables {
    /// The tables of a finished run.
    pub fn of(run: &RunOutput) -> RunTables {
        RunTables {
            summary: run.summary.clone(),
            scenario_toml: scenario_toml(&run.scenario),
            timeline: run.timeline.clone(),
            failovers: run.failovers.clone(),
            alerts: run.alerts.clone(),
            nodes: run.nodes.clone(),
            faults: run.faults.clone(),
            stalls: run.stalls.clone(),
            verdicts: run
                .verdicts
                .iter()
                .map(|v| VerdictRow {
                    metric: v.expect.metric.clone(),
                    op: v.expect.op.clone(),
                    value: v.expect.describe(),
                    measured: v.measured,
                    passed: v.passed,
                    during: v.expect.during.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Reads a run folder's files back.
    pub fn load(dir: &Path) -> Result<RunTables, String> {
        let summary_path = dir.join(SUMMARY_FILE);
        let summary_text =
            std::fs::read_to_string(&summary_path).map_err(|e| format!("{}: {e}", summary_path.display()))?;
        let summary: Summary =
            serde_json::from_str(&summary_text).map_err(|e| format!("{}: {e}", summary_path.display()))?;
        let scenario_path = dir.join(SCENARIO_FILE);
        let scenario_toml =
            std::fs::read_to_string(&scenario_path).map_err(|e| format!("{}: {e}", scenario_path.display()))?;
        Ok(RunTables {
            summary,
            scenario_toml,
            timeline: read_csv(dir, TIMELINE_FILE)?,
            failovers: read_csv(dir, FAILOVERS_FILE)?,
            alerts: read_csv(dir, ALERTS_FILE)?,
            nodes: read_csv(dir, NODES_FILE)?,
            faults: read_csv(dir, FAULTS_FILE)?,
            stalls: read_csv(dir, STALLS_FILE)?,
            verdicts: read_csv(dir, EXPECTATIONS_FILE)?,
        })
    }

    /// What the plots are drawn from.
    pub fn plot_input(&self) -> PlotInput<'_> {
        let d = &self.summary.frames_dropped;
        let v = &self.summary.viewer_frames_dropped;
        PlotInput {
            timeline: &self.timeline,
            failovers: &self.failovers,
            faults: &self.faults,
            dropped: [d.ingest, d.distribution, d.player],
            viewer_dropped: [v.ingest, v.distribution, v.player],
            nodes: &self.nodes,
            stalls_s: self.stalls.iter().map(|s| s.duration_s).collect(),
        }
    }
}
