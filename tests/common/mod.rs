//! Helpers shared by the integration tests: loading bundled scenarios with overrides.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use failcast::metrics::Summary;
use failcast::scenario::{self, Scenario};

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A bundled scenario with `--set` style overrides.
pub fn scenario(file: &str, overrides: &[&str]) -> Scenario {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    scenario::load(&repo_path(file), &overrides).unwrap_or_else(|e| panic!("{e}"))
}

/// The quickstart, shortened so that a debug build runs it in about a second.
pub fn short_quickstart(extra: &[&str]) -> Scenario {
    let mut overrides = vec!["scenario.duration=12m", "viewers.count=200"];
    overrides.extend_from_slice(extra);
    scenario("scenarios/quickstart.toml", &overrides)
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_failcast"))
}

/// `failcast merge SHARDS… [--out OUT]`, its output.
#[allow(dead_code)] // not every test binary merges
pub fn merge(shards: &[PathBuf], out: Option<&Path>) -> std::process::Output {
    let mut command = std::process::Command::new(binary());
    command.arg("merge").args(shards);
    if let Some(out) = out {
        command.arg("--out").arg(out);
    }
    command.output().expect("failcast runs")
}

/// The frame ledger: every produced frame is played, dropped, in flight or unwatched.
pub fn balances(s: &Summary) -> bool {
    s.frames_produced == s.frames_played + s.frames_dropped.total + s.frames_in_flight + s.frames_unwatched
}

/// Runs `scenario` with `seed` in strict and in window dispatch and asserts the results
/// (wall time aside) and the full event logs are identical.
pub fn assert_dispatch_modes_agree(scenario: &Scenario, seed: u64) {
    use failcast::experiment::run_scenario;
    use failcast::sim::Dispatch;
    let window = Dispatch::Window {
        lookahead: failcast::time::SimDuration::from_millis(1),
    };
    let mut a = run_scenario(scenario, seed, Some(Dispatch::Strict), true).unwrap();
    let mut b = run_scenario(scenario, seed, Some(window), true).unwrap();
    a.summary.wall_s = 0.0;
    b.summary.wall_s = 0.0;
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.failovers, b.failovers);
    assert_eq!(a.records, b.records);
}
