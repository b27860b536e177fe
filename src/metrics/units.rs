//! How a person reads a metric: one unit per metric in every table, verdict and plot
//! made for reading (seconds for times, percent for shares, plain counts), whatever
//! unit its key names. Machine outputs (CSV, JSON, expectations) keep the key's unit.

/// The unit a metric is read in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    /// A time, stored in its key's unit: `raw × to_seconds` seconds.
    Seconds {
        to_seconds: f64,
    },
    /// A share stored as a fraction, read ×100.
    Percent,
    Count,
}

/// Shares stored as fractions.
const SHARES: &[&str] = &[
    "availability",
    "edge_availability",
    "rebuffer_ratio",
    "alert_precision",
    "alert_recall",
];

/// The unit `metric` (a dotted summary path) is read in: `_ms` times in seconds,
/// `_s` times as they are, shares in percent, the rest as counts.
pub fn unit_of(metric: &str) -> Unit {
    let key = metric.split('.').next().unwrap_or(metric);
    let named = |suffix: &str| key.ends_with(suffix) || key.contains(&format!("{suffix}_"));
    if SHARES.contains(&key) {
        Unit::Percent
    } else if key.contains("_per_s") {
        // A rate (`edge_requests_per_s_peak`), not a time.
        Unit::Count
    } else if named("_ms") {
        Unit::Seconds { to_seconds: 1e-3 }
    } else if named("_s") {
        Unit::Seconds { to_seconds: 1.0 }
    } else {
        Unit::Count
    }
}

/// `value` with about four significant digits (whole numbers as they are, and from
/// 1000 on).
fn digits(value: f64) -> String {
    match value {
        0.0 => "0".into(),
        v if v.abs() >= 1000.0 || v.fract() == 0.0 => format!("{v:.0}"),
        v => {
            let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
            format!("{v:.decimals$}")
        }
    }
}

/// `value` of `metric` as a person reads it: `6.064 s`, `99.61 %`, `240`; `-` for none.
pub fn human(metric: &str, value: Option<f64>) -> String {
    let Some(value) = value else {
        return "-".into();
    };
    match unit_of(metric) {
        Unit::Seconds { to_seconds } => format!("{} s", digits(value * to_seconds)),
        Unit::Percent => format!("{} %", digits(value * 100.0)),
        Unit::Count => digits(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_metric_reads_in_one_unit() {
        assert_eq!(human("failover_latency_ms.p50", Some(6_063.848774)), "6.064 s");
        assert_eq!(human("failover_latency_ms.max", Some(178_065.5)), "178.1 s");
        assert_eq!(human("startup_ms_p50", Some(511.0)), "0.5110 s");
        assert_eq!(human("time_to_detect_s_max", Some(2.803)), "2.803 s");
        assert_eq!(human("stall_s_total", Some(3_668.0)), "3668 s");
        assert_eq!(human("availability", Some(0.996107)), "99.61 %");
        assert_eq!(human("rebuffer_ratio", Some(0.00205)), "0.2050 %");
        assert_eq!(human("frames_dropped.total", Some(240.0)), "240");
        assert_eq!(human("stall_count_by_duration.1s_and_over", Some(1001.0)), "1001");
        assert_eq!(human("failovers", Some(0.0)), "0");
        assert_eq!(human("stall_count", None), "-");
        assert_eq!(unit_of("live_latency_s_p95"), Unit::Seconds { to_seconds: 1.0 });
        assert_eq!(unit_of("events"), Unit::Count);
        assert_eq!(unit_of("edge_requests_per_s_peak"), Unit::Count);
        assert_eq!(unit_of("viewers_started"), Unit::Count);
    }
}
