//! `report.html`: one self-contained page per run (inline SVG plots and CSS, no
//! script, nothing fetched from the network) with the scenario and its fault
//! timeline, headline numbers, the `[[expect]]` verdicts, the plots, and the tables
//! of failover episodes and alerts. Every string that comes from a scenario is
//! escaped.

use std::fmt::Write;

use crate::report::plots;
use crate::report::tables::RunTables;
use crate::scenario::settings::Balancing;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt(value: Option<f64>, unit: &str, scale: f64, decimals: usize) -> String {
    value.map_or("–".into(), |v| format!("{:.*} {unit}", decimals, v * scale))
}

pub(super) const STYLE: &str = "
body { font-family: sans-serif; margin: 2em auto; max-width: 1040px; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
th { background: #f3f3f3; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 1em 0 1.5em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card .v { font-size: 22px; font-weight: bold; } .card .k { color: #666; font-size: 13px; }
.pass { color: #2e7d32; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
figure { margin: 0 0 1.5em; } figure svg { max-width: 100%; height: auto; }
";

/// The system the run simulated, in one table, and the whole scenario file folded.
fn setup(w: &mut String, run: &RunTables) {
    let _ = writeln!(w, "<h2>Setup</h2>");
    if let Ok(s) = toml::from_str::<crate::scenario::Scenario>(&run.scenario_toml) {
        let balancing = match s.balancing() {
            Some(Balancing::Software) => format!("software ({})", s.cdn.algorithm),
            Some(Balancing::Hardware) => format!("hardware load balancer × {}", s.lb.devices),
            Some(Balancing::RoundRobinDns) | None => s.cdn.balancing.clone(),
        };
        let rows = [
            (
                "streams",
                format!(
                    "{} (one encoder each, {} kbit/s)",
                    s.encoders.count, s.encoders.bitrate_kbps
                ),
            ),
            (
                "ingest",
                format!("{} × {} servers", s.ingest.redundancy, s.ingest.servers),
            ),
            ("managers", s.managers.count.to_string()),
            (
                "CDN",
                format!("{} origin(s), {} edges, {}", s.cdn.origins, s.cdn.edges, balancing),
            ),
            ("viewers", {
                // Both change the model: a reader must see them next to the figures.
                let step = s.viewers.join_step.0;
                let mut viewers = format!("{} ({})", s.viewers.count, s.viewers.player);
                match (s.viewers.squads, step.is_zero()) {
                    (true, _) => viewers += &format!(", in squads, joins on a {step} grid"),
                    (false, false) => viewers += &format!(", joins on a {step} grid"),
                    (false, true) => {}
                }
                viewers
            }),
            (
                "run",
                format!(
                    "{} simulated, seed {}",
                    String::from(s.scenario.duration),
                    run.summary.seed
                ),
            ),
        ];
        let _ = writeln!(w, "<table>");
        for (key, value) in rows {
            let _ = writeln!(w, "<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(&value));
        }
        let _ = writeln!(w, "</table>");
    }
    let _ = writeln!(
        w,
        "<details><summary>scenario.toml (as run)</summary><pre>{}</pre></details>",
        escape(&run.scenario_toml)
    );
}

/// The page for `run`.
pub fn report(run: &RunTables) -> Result<String, String> {
    let s = &run.summary;
    let mut page = String::new();
    let w = &mut page;
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>failcast: {name} (seed {seed})</title><style>{STYLE}</style></head><body>\n\
         <h1>{name}</h1><p class=\"sub\">seed {seed} · {dur:.0} s simulated · trace {digest}</p>\n",
        name = escape(&s.scenario),
        seed = s.seed,
        dur = s.sim_duration_s,
        digest = escape(&s.trace_digest),
    );
    if !s.description.is_empty() {
        let _ = writeln!(w, "<p>{}</p>", escape(&s.description));
    }

    let cards = [
        ("failover latency (max)", opt(s.failover_latency_ms.max, "s", 1e-3, 2)),
        ("failovers", s.failovers.to_string()),
        ("availability", format!("{:.4} %", s.availability * 100.0)),
        ("edge availability", format!("{:.4} %", s.edge_availability * 100.0)),
        ("frames dropped", s.frames_dropped.total.to_string()),
        ("rebuffering", format!("{:.3} %", s.rebuffer_ratio * 100.0)),
        ("stalls", s.stall_count.to_string()),
        ("startup (p50)", opt(s.startup_ms_p50, "s", 1e-3, 2)),
        ("live latency (p50)", opt(s.live_latency_s_p50, "s", 1.0, 2)),
        ("viewers", format!("{} ({} started)", s.viewers, s.viewers_started)),
        ("alerts fired", s.alerts_fired.to_string()),
    ];
    let _ = writeln!(w, "<div class=\"cards\">");
    for (key, value) in cards {
        let _ = writeln!(
            w,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            escape(&value),
            escape(key)
        );
    }
    let _ = writeln!(w, "</div>");

    setup(w, run);

    let _ = writeln!(w, "<h2>Faults</h2>");
    if run.faults.is_empty() {
        let _ = writeln!(w, "<p>No faults were injected.</p>");
    } else {
        let _ = writeln!(
            w,
            "<table><tr><th>id</th><th>kind</th><th>target</th><th>from (s)</th><th>until (s)</th>\
             <th>detected after (s)</th><th>detected by</th><th>alerted after (s)</th>\
             <th>viewers stalled → moved → playing again</th><th>moved to</th><th>recovery p50 (s)</th></tr>"
        );
        for f in &run.faults {
            let _ = writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{} → {} → {}</td><td>{}</td><td>{}</td></tr>",
                escape(&f.id),
                escape(&f.kind),
                escape(&f.target),
                f.start_s,
                f.end_s.map_or("never ends".into(), |e| format!("{e:.3}")),
                opt(f.time_to_detect_s, "", 1.0, 3),
                f.detected_by.as_deref().map_or("–".into(), escape),
                opt(f.time_to_alert_s, "", 1.0, 1),
                f.viewers_affected,
                f.viewers_switched,
                f.viewers_recovered,
                escape(&f.switched_to),
                opt(f.recovery_ms_p50, "", 1e-3, 1),
            );
        }
        let _ = writeln!(w, "</table>");
    }

    let _ = writeln!(w, "<h2>Expectations</h2>");
    if run.verdicts.is_empty() {
        let _ = writeln!(w, "<p>The scenario states no expectations.</p>");
    } else {
        let _ = writeln!(
            w,
            "<table><tr><th>verdict</th><th>metric</th><th>expected</th><th>measured</th></tr>"
        );
        for v in &run.verdicts {
            let (class, word) = if v.passed { ("pass", "pass") } else { ("fail", "FAIL") };
            let _ = writeln!(
                w,
                "<tr><td class=\"{class}\">{word}</td><td>{}{}</td><td>{} {}</td><td>{}</td></tr>",
                escape(&v.metric),
                if v.during.is_empty() {
                    String::new()
                } else {
                    format!(" during {}", escape(&v.during))
                },
                escape(&v.op),
                escape(&v.value),
                v.measured.map_or("no value".into(), |m| m.to_string()),
            );
        }
        let _ = writeln!(w, "</table>");
    }

    let _ = writeln!(w, "<h2>Plots</h2>");
    let input = run.plot_input();
    for name in plots::PLOTS {
        let svg = plots::svg(name, &input)?;
        // The XML prolog has no place inside an HTML document.
        let svg = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
        let _ = writeln!(w, "<figure id=\"plot-{name}\">{svg}</figure>");
    }

    let _ = writeln!(w, "<h2>Failover episodes</h2>");
    if run.failovers.is_empty() {
        let _ = writeln!(w, "<p>No failover or failback took place.</p>");
    } else {
        let _ = writeln!(
            w,
            "<table><tr><th>#</th><th>kind</th><th>fault</th><th>from → to</th><th>onset (s)</th>\
             <th>detect (s)</th><th>detected by</th><th>switch (s)</th><th>first frame (s)</th>\
             <th>latency (s)</th><th>viewers stalled → playing again</th><th>recovery p50 (s)</th></tr>"
        );
        for e in &run.failovers {
            let _ = writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{:.3}</td><td>+{:.3}</td>\
                 <td>{}</td><td>+{:.3}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
                e.episode,
                if run.summary.streams > 1 {
                    escape(&format!("{} ({})", e.kind, e.stream))
                } else {
                    escape(&e.kind)
                },
                escape(&e.fault),
                escape(&e.from),
                escape(&e.to),
                e.onset_ms / 1e3,
                (e.detected_ms - e.onset_ms) / 1e3,
                escape(&e.detected_by),
                (e.switched_ms - e.onset_ms) / 1e3,
                e.first_frame_ms
                    .map_or("–".into(), |f| format!("+{:.3}", (f - e.onset_ms) / 1e3)),
                opt(e.failover_latency_ms, "", 1e-3, 3),
                e.viewers_affected,
                e.viewers_recovered,
                opt(e.recovery_ms_p50, "", 1e-3, 1),
            );
        }
        let _ = writeln!(w, "</table>");
    }

    let _ = writeln!(w, "<h2>Alerts</h2>");
    if run.alerts.is_empty() {
        let _ = writeln!(w, "<p>No alert fired.</p>");
    } else {
        let _ = writeln!(
            w,
            "<table><tr><th>#</th><th>rule</th><th>condition since (s)</th><th>fired (s)</th>\
             <th>notified (s)</th><th>resolved (s)</th></tr>"
        );
        for a in &run.alerts {
            let _ = writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
                a.alert,
                escape(&a.rule),
                a.condition_since_ms / 1e3,
                a.fired_ms / 1e3,
                opt(a.notified_ms, "", 1e-3, 1),
                opt(a.resolved_ms, "", 1e-3, 1),
            );
        }
        let _ = writeln!(w, "</table>");
    }
    let _ = writeln!(
        w,
        "<p class=\"sub\">Generated by failcast {}. Definitions: docs/metrics.md.</p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
