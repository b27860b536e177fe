//! Checks of what a run is judged by: alerts on the monitor's metrics, and expectations
//! on the summary's.

use super::*;

/// The monitor's scrape interval and every alert's metric and operator.
pub(super) fn check_alerts(c: &mut Checker<'_>, s: &Scenario) {
    if s.monitor.scrape_interval.0 < SimDuration::from_secs(1) {
        c.error(
            "monitor.scrape_interval",
            "monitor.scrape_interval must be at least 1s",
            "Prometheus setups scrape every 15 s to 1 m",
        );
    }
    for (n, alert) in s.alerts.iter().enumerate() {
        if MonitorMetric::by_name(&alert.metric).is_none() {
            let help = match did_you_mean(&alert.metric, MonitorMetric::NAMES.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("metrics: {}", MonitorMetric::NAMES.join(", ")),
            };
            c.error(
                &format!("alert[{n}].metric"),
                format!("unknown monitor metric `{}`", alert.metric),
                help,
            );
        }
        c.one_of(&format!("alert[{n}].op"), &alert.op, AlertOp::NAMES, &[]);
    }
}

/// Every expectation's metric, operator, value and window.
pub(super) fn check_expects(c: &mut Checker<'_>, s: &Scenario) {
    let duration = s.scenario.duration.0;
    for (n, expect) in s.expects.iter().enumerate() {
        if !METRICS.contains(&expect.metric.as_str()) {
            let help = match did_you_mean(&expect.metric, METRICS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("metrics: {}", METRICS.join(", ")),
            };
            c.error(
                &format!("expect[{n}].metric"),
                format!("unknown metric `{}`", expect.metric),
                help,
            );
        }
        c.one_of(&format!("expect[{n}].op"), &expect.op, ExpectOp::NAMES, &[]);
        match expect.bounds() {
            Err(message) => c.error(
                &format!("expect[{n}].value"),
                message,
                "a number, a duration such as \"3s\" for a metric in _ms or _s, or a percentage such as \"2%\"",
            ),
            Ok((low, high)) if low > high => c.error(
                &format!("expect[{n}].value"),
                format!("`between` {low} and {high}: the low bound is above the high one"),
                "write `value = [low, high]`",
            ),
            Ok(_) => {}
        }
        if let Some(during) = &expect.during {
            let at = format!("expect[{n}].during");
            match crate::scenario::Window::parse(during) {
                Err(message) => c.error(
                    &at,
                    message,
                    "write `fault:ID` (the fault's window), `fault:ID+60s` (to 60 s after its end) or `5m..10m`",
                ),
                Ok(crate::scenario::Window::Fault { id, .. }) => {
                    let ids: Vec<String> = (0..s.faults.len()).map(|i| s.fault_id(i)).collect();
                    if !ids.contains(&id) {
                        let help = match did_you_mean(&id, ids.iter().map(String::as_str)) {
                            Some(near) => format!("did you mean `fault:{near}`?"),
                            None => "name the `id` of a [[fault]] in this file".to_string(),
                        };
                        c.error(&at, format!("no fault `{id}` to measure during"), help);
                    }
                }
                Ok(crate::scenario::Window::Span { to, .. }) if to > duration => c.error(
                    &at,
                    format!("the window ends at {to}, after the run ({duration})"),
                    "end the window within scenario.duration",
                ),
                Ok(_) => {}
            }
            if !WINDOWED_METRICS.contains(&expect.metric.as_str()) && METRICS.contains(&expect.metric.as_str()) {
                c.error(
                    &format!("expect[{n}].metric"),
                    format!(
                        "`{}` is a whole-run figure and cannot be measured during a window",
                        expect.metric
                    ),
                    format!("metrics with a window: {}", WINDOWED_METRICS.join(", ")),
                );
            }
        }
    }
}
