//! `[[expect]]`: a bound on a metric, over the run or a window, that a run is judged by.

use super::settings::ExpectOp;
use super::*;

/// An assertion on the run's summary, checked after the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A dotted `summary.json` key, e.g. `failover_latency_ms.p99`.
    pub metric: String,
    /// `lt`, `le`, `gt`, `ge`, `eq` or `between` (inclusive).
    pub op: String,
    /// A number in the metric's unit, a duration (`"3s"`) for a metric in `_ms` or
    /// `_s`, a percentage (`"2%"`) for a ratio; for `between`, two of them.
    pub value: Threshold,
    /// Measure over a window only: `fault:ID` (the fault's onset to its end),
    /// `fault:ID+60s` (to 60 s after its end) or `5m..10m`.
    #[serde(default)]
    pub during: Option<String>,
}

/// The window of an expectation (`during`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Window {
    /// From the onset of fault `id` (on any node it hits) to `after` past its end.
    Fault { id: String, after: SimDuration },
    /// A fixed span of the run.
    Span { from: SimDuration, to: SimDuration },
}

impl Window {
    /// Reads `fault:ID`, `fault:ID+DURATION` or `FROM..TO`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("fault:") {
            let (id, after) = match rest.rsplit_once('+') {
                Some((id, after)) => (
                    id,
                    SimDuration::parse(after.trim()).map_err(|e| format!("`{after}`: {e}"))?,
                ),
                None => (rest, SimDuration::ZERO),
            };
            if id.trim().is_empty() {
                return Err("`fault:` names no fault".into());
            }
            return Ok(Window::Fault {
                id: id.trim().to_string(),
                after,
            });
        }
        if let Some((from, to)) = text.split_once("..") {
            let from = SimDuration::parse(from.trim()).map_err(|e| format!("`{from}`: {e}"))?;
            let to = SimDuration::parse(to.trim()).map_err(|e| format!("`{to}`: {e}"))?;
            if to <= from {
                return Err(format!("the window {from}..{to} is empty"));
            }
            return Ok(Window::Span { from, to });
        }
        Err(format!("`{text}` is not a window"))
    }
}

/// An expectation's threshold as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Threshold {
    Number(f64),
    Text(String),
    Range(Vec<Threshold>),
}

impl Threshold {
    /// The threshold in the unit of `metric` (its name says it: `_ms`, `_s`).
    pub fn in_unit_of(&self, metric: &str) -> Result<f64, String> {
        match self {
            // A number that is not finite is refused with every other value of the file.
            Threshold::Number(n) => Ok(*n),
            Threshold::Text(text) => {
                let text = text.trim();
                if let Some(percent) = text.strip_suffix('%') {
                    return (percent.trim().parse::<f64>().ok())
                        .filter(|p| p.is_finite())
                        .map(|p| p / 100.0)
                        .ok_or_else(|| format!("`{text}` is not a percentage"));
                }
                let duration = SimDuration::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
                let unit = metric.split('.').find_map(|part| {
                    if part.ends_with("_ms") || part.contains("_ms_") {
                        Some(1e3)
                    } else if part.ends_with("_s") || part.contains("_s_") {
                        Some(1.0)
                    } else {
                        None
                    }
                });
                match unit {
                    Some(per_second) => Ok(duration.as_secs_f64() * per_second),
                    None => Err(format!("`{metric}` is not a time: give a plain number")),
                }
            }
            Threshold::Range(_) => Err("a pair of values goes with `between` only".into()),
        }
    }
}

impl Expect {
    /// The inclusive bounds the metric must lie in: one value, or `between`'s two.
    pub fn bounds(&self) -> Result<(f64, f64), String> {
        match (&self.value, self.op.as_str()) {
            (Threshold::Range(pair), "between") => match pair.as_slice() {
                [low, high] => Ok((low.in_unit_of(&self.metric)?, high.in_unit_of(&self.metric)?)),
                _ => Err("`between` takes two values: `value = [low, high]`".into()),
            },
            (_, "between") => Err("`between` takes two values: `value = [low, high]`".into()),
            (value, _) => value.in_unit_of(&self.metric).map(|v| (v, v)),
        }
    }

    /// The operator, typed; `None` for one validation refuses.
    pub fn op_kind(&self) -> Option<ExpectOp> {
        ExpectOp::by_name(&self.op)
    }

    /// The threshold as the reports show it.
    pub fn describe(&self) -> String {
        match self.bounds() {
            Ok((low, high)) if self.op_kind() == Some(ExpectOp::Between) => format!("{low} and {high}"),
            Ok((value, _)) => value.to_string(),
            Err(_) => "?".into(),
        }
    }

    /// The key of its measurement: the metric, and its window if it has one (the
    /// key of `summary.json`'s `windowed`).
    pub fn measured_as(&self) -> String {
        match &self.during {
            Some(during) => format!("{} during {}", self.metric, during.trim()),
            None => self.metric.clone(),
        }
    }
}
