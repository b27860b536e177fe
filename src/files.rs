//! The names of the files failcast writes: what a run folder and an experiment folder
//! hold. Writers, readers and the code that may remove them share these lists, so
//! failcast only ever removes what it wrote.

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

/// The plots `compare` draws into an experiment's `plots/`, each as SVG and PNG.
pub const COMPARISON_PLOTS: &[&str] = &[
    "failover_latency_cdf",
    "failover_latency_box",
    "frames_dropped_box",
    "rebuffering_box",
];

/// The heatmap `sweep` draws into an experiment's `plots/`.
pub const SWEEP_PLOT: &str = "sweep";

/// The plot files `compare` and `sweep` draw into an experiment folder's `plots/`
/// (what starting an experiment over may remove there, and nothing else).
pub fn experiment_plot_files() -> Vec<String> {
    let names = COMPARISON_PLOTS.iter().chain([&SWEEP_PLOT]);
    names
        .flat_map(|name| [format!("{name}.svg"), format!("{name}.png")])
        .collect()
}
