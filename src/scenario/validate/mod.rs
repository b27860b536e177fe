//! Semantic checks of a parsed scenario. Every problem is collected (not just the
//! first), each pointing at the offending key with a fix. One file per part of the
//! scenario; [`validate`] runs them in the order their problems are reported.

mod components;
mod expects;
mod faults;
mod values;
mod workload;

use std::collections::BTreeMap;

use super::chaos::RandomFaults;
use super::diag::{did_you_mean, Diagnostic, Diagnostics};
use super::include::Sources;
use super::select::Universe;
use super::settings::{
    AlertOp, Balancing, DispatchMode, Distribution, ExpectOp, FailbackSetting, InputLossAction, LbCheck, OutputLocking,
    PassiveChecks, PlayerPreset, Redundancy, SessionDistribution,
};
use super::{Fault, FaultKind, NodeTable, Scenario};
use crate::control::alert::MonitorMetric;
use crate::control::balance::Algorithm;
use crate::control::lease::LeaseConfig;
use crate::metrics::summary::{METRICS, WINDOWED_METRICS};
use crate::metrics::Milestone;
use crate::time::SimDuration;

/// Most random-fault arrivals a scenario may draw (each is kept in memory).
const MAX_RANDOM_ARRIVALS: f64 = 100_000.0;
/// Longest run (the timeline keeps a row per simulated second).
const MAX_DURATION: SimDuration = SimDuration::from_secs(30 * 86_400);
/// Most edges: a 30-minute run with this many (and 20 viewers) took 19 s and 544 MB
/// where docs/performance.md ("Many edges") measured it; memory and work grow
/// linearly with edges.
const MAX_EDGES: u32 = 10_000;
const MAX_INGEST_SERVERS: u32 = 64;
/// Highest relative arrival rate: the curve's area over a 30-day run stays far inside
/// an f64's exact range (rates are relative, so this limits nothing real).
const MAX_ARRIVAL_RATE: f64 = 1e12;
/// Shortest `cdn.shield_fallback_after`: edges probe their shield 4 times in it.
const MIN_SHIELD_FALLBACK: SimDuration = SimDuration::from_secs(1);
/// Shortest health-check interval: faster probing is not a real deployment.
const MIN_HEALTH_INTERVAL: SimDuration = SimDuration::from_millis(10);
/// Shortest DNS health-check interval: Route 53's fast health checks (Route 53 API
/// Reference, `HealthCheckConfig.RequestInterval`: 10 or 30 s, 30 by default).
const MIN_DNS_HEALTH_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// Route 53 has 8 checker regions; more than this many checkers is a typo.
const MAX_DNS_CHECKERS: u32 = 64;
/// Shortest first reconnect delay, and most attempts: OBS Studio's settings allow a
/// retry delay of 1 to 30 s and 1 to 10000 retries (obs-studio
/// `frontend/forms/OBSBasicSettings.ui`, `reconnectRetryDelay`, `reconnectMaxRetries`).
const MIN_RECONNECT_DELAY: SimDuration = SimDuration::from_secs(1);
const MAX_RECONNECT_ATTEMPTS: u32 = 10_000;
/// Shortest lease: a Kubernetes Lease keeps its duration in whole seconds
/// (`LeaseSpec.leaseDurationSeconds`, k8s.io/api/coordination/v1).
const MIN_LEASE: SimDuration = SimDuration::from_secs(1);

/// Most problems reported for one scenario: past these, the rest are counted, not
/// located (locating each costs a pass over the file, and nobody reads thousands).
const MAX_DIAGNOSTICS: usize = 50;

struct Checker<'a> {
    sources: &'a Sources,
    errors: Vec<Diagnostic>,
    /// Problems found past [`MAX_DIAGNOSTICS`].
    unreported: usize,
}

impl Checker<'_> {
    /// An error at the value of a dotted path such as `fault[1].target`, in the file
    /// that wrote it (or the nearest enclosing table the scenario file spells out).
    fn error(&mut self, path: &str, message: impl Into<String>, help: impl Into<String>) {
        if self.errors.len() >= MAX_DIAGNOSTICS {
            self.unreported += 1;
            return;
        }
        self.errors.push(self.sources.error_at(path, message).with_help(help));
    }

    /// The problems found, the last one saying how many more there were.
    fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.errors.is_empty() {
            return Ok(value);
        }
        if self.unreported > 0 {
            let last = self.errors.last().expect("some errors").clone();
            self.errors.push(Diagnostic {
                message: format!("{} more problems like these are not shown", self.unreported),
                help: Some("fix the ones above first".into()),
                ..last
            });
        }
        Err(Diagnostics(self.errors))
    }

    fn one_of(&mut self, path: &str, value: &str, allowed: &[&str], planned: &[&str]) {
        if allowed.contains(&value) {
            return;
        }
        if planned.contains(&value) {
            self.error(
                path,
                format!("`{path} = \"{value}\"` is not available in this version"),
                format!("use one of: {}", allowed.join(", ")),
            );
            return;
        }
        let help = match did_you_mean(value, allowed.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? (one of: {})", allowed.join(", ")),
            None => format!("use one of: {}", allowed.join(", ")),
        };
        self.error(path, format!("unknown value `{value}` for `{path}`"), help);
    }
}

pub(super) fn validate(sources: &Sources, s: Scenario) -> Result<Scenario, Diagnostics> {
    let mut c = Checker {
        sources,
        errors: Vec::new(),
        unreported: 0,
    };
    // Nothing is built from a count out of range: what names nodes is checked only
    // when every count is in range.
    values::check_values(&mut c, &s);
    let counts_ok = values::check_counts(&mut c, &s);
    components::check_run(&mut c, &s);
    components::check_encoders(&mut c, &s);
    components::check_ingest(&mut c, &s);
    components::check_managers(&mut c, &s);
    components::check_cdn(&mut c, &s, counts_ok);
    workload::check_viewers(&mut c, &s);
    workload::check_workload(&mut c, &s, s.scenario.duration.0, counts_ok);
    workload::check_timing(&mut c, &s);
    workload::check_links(&mut c, &s);
    let nodes = if counts_ok {
        NodeTable::of(&s).selectable()
    } else {
        Vec::new()
    };
    let universe = s.selectors(&nodes);
    faults::check_placement(&mut c, &s, &universe, counts_ok);
    faults::check_faults(&mut c, &s, &universe, counts_ok);
    expects::check_alerts(&mut c, &s);
    expects::check_expects(&mut c, &s);
    c.into_result(s)
}
