//! `report.html`: one self-contained page per run (inline SVG plots and CSS, no
//! script, nothing fetched from the network) with the scenario and its fault
//! timeline, headline numbers, the `[[expect]]` verdicts, the plots, and the tables
//! of failover episodes and alerts. Pages are `maud` templates: every spliced string
//! is escaped unless it is marked as markup (`PreEscaped`), which only failcast's own
//! CSS and plots are.

use std::cell::RefCell;

use maud::{html, Markup, PreEscaped, Render, DOCTYPE};

use crate::report::plots;
use crate::report::tables::RunTables;
use crate::scenario::settings::Balancing;

/// A line break between elements: the pages keep one element per line, for diffs.
pub(super) const NL: &str = "\n";

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

/// A whole page: `title` in the head, `body` after a line break (rendered straight
/// into the page: a report's plots are megabytes, not worth a copy).
pub(super) fn page(title: &str, body: impl Render) -> String {
    html! {
        (DOCTYPE) (NL)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } style { (PreEscaped(STYLE)) } }
            body { (NL) (body) }
        }
        (NL)
    }
    .into_string()
}

/// A table: its header row, then `rows`, one per line.
pub(super) fn table(header: &[&str], rows: impl IntoIterator<Item = Markup>) -> Markup {
    html! {
        table {
            tr { @for h in header { th { (h) } } } (NL)
            @for row in rows { (row) (NL) }
        }
        (NL)
    }
}

/// The system the run simulated, in one table, and the whole scenario file folded.
fn setup(run: &RunTables) -> Markup {
    let rows = toml::from_str::<crate::scenario::Scenario>(&run.scenario_toml)
        .ok()
        .map(|s| setup_rows(&s, run.summary.seed));
    html! {
        h2 { "Setup" } (NL)
        @if let Some(rows) = rows {
            table { (NL)
                @for (key, value) in rows { tr { th { (key) } td { (value) } } (NL) }
            }
            (NL)
        }
        details { summary { "scenario.toml (as run)" } pre { (run.scenario_toml) } } (NL)
    }
}

fn setup_rows(s: &crate::scenario::Scenario, seed: u64) -> [(&'static str, String); 6] {
    let balancing = match s.balancing() {
        Some(Balancing::Software) => format!("software ({})", s.cdn.algorithm),
        Some(Balancing::Hardware) => format!("hardware load balancer × {}", s.lb.devices),
        Some(Balancing::RoundRobinDns) | None => s.cdn.balancing.clone(),
    };
    // Both change the model: a reader must see them next to the figures.
    let step = s.viewers.join_step.0;
    let mut viewers = format!("{} ({})", s.viewers.count, s.viewers.player);
    match (s.viewers.squads, step.is_zero()) {
        (true, _) => viewers += &format!(", in squads, joins on a {step} grid"),
        (false, false) => viewers += &format!(", joins on a {step} grid"),
        (false, true) => {}
    }
    [
        (
            "streams",
            format!(
                "{} (one encoder each, {} kbit/s)",
                s.encoders.count, s.encoders.bitrate_kbps
            ),
        ),
        (
            "ingest",
            format!(
                "{} × {} servers; lost input: {}",
                s.ingest.redundancy, s.ingest.servers, s.ingest.input_loss_action
            ),
        ),
        ("managers", s.managers.count.to_string()),
        (
            "CDN",
            format!("{} origin(s), {} edges, {}", s.cdn.origins, s.cdn.edges, balancing),
        ),
        ("viewers", viewers),
        (
            "run",
            format!("{} simulated, seed {seed}", String::from(s.scenario.duration)),
        ),
    ]
}

/// The page for `run`.
pub fn report(run: &RunTables) -> Result<String, String> {
    let s = &run.summary;
    let failed = RefCell::new(None);
    let page = page(
        &format!("failcast: {} (seed {})", s.scenario, s.seed),
        RunPage { run, failed: &failed },
    );
    failed.into_inner().map_or(Ok(page), Err)
}

/// The body of a run's page; a plot that cannot be drawn ends it, and says why in
/// `failed`.
struct RunPage<'a> {
    run: &'a RunTables,
    failed: &'a RefCell<Option<String>>,
}

impl Render for RunPage<'_> {
    fn render_to(&self, buffer: &mut String) {
        let run = self.run;
        for section in [title_and_cards(run), setup(run), faults(run), expectations(run)] {
            section.render_to(buffer);
        }
        if let Err(e) = plot_figures(run, buffer) {
            *self.failed.borrow_mut() = Some(e);
            return;
        }
        for section in [failover_episodes(run), alerts(run)] {
            section.render_to(buffer);
        }
        html! {
            p.sub { "Generated by failcast " (env!("CARGO_PKG_VERSION")) ". Definitions: docs/metrics.md." }
        }
        .render_to(buffer);
    }
}

/// The title, the scenario's description and the headline figures as cards.
fn title_and_cards(run: &RunTables) -> Markup {
    let s = &run.summary;
    let stalls = format!("stalls: {}", super::text::stall_bands(&s.stall_count_by_duration));
    let mut cards = vec![
        ("failover latency (max)", opt(s.failover_latency_ms.max, "s", 1e-3, 2)),
        ("failovers", s.failovers.to_string()),
        ("availability", format!("{:.4} %", s.availability * 100.0)),
        ("edge availability", format!("{:.4} %", s.edge_availability * 100.0)),
        ("frames dropped", s.frames_dropped.total.to_string()),
        ("rebuffering", format!("{:.3} %", s.rebuffer_ratio * 100.0)),
        (stalls.as_str(), s.stall_count.to_string()),
        ("startup (p50)", opt(s.startup_ms_p50, "s", 1e-3, 2)),
        ("live latency (p50)", opt(s.live_latency_s_p50, "s", 1.0, 2)),
        ("viewers", format!("{} ({} started)", s.viewers, s.viewers_started)),
        ("alerts fired", s.alerts_fired.to_string()),
    ];
    // Only where they happened: most runs have none.
    if s.viewer_slate_s > 0.0 {
        cards.push(("slate watched (viewer-seconds)", format!("{:.0} s", s.viewer_slate_s)));
    }
    if s.viewer_fatal_errors > 0 {
        cards.push(("player fatal errors", s.viewer_fatal_errors.to_string()));
    }
    if s.viewers_stranded > 0 {
        cards.push(("viewers stranded for good", s.viewers_stranded.to_string()));
    }
    html! {
        h1 { (s.scenario) }
        p.sub { "seed " (s.seed) " · " (format!("{:.0}", s.sim_duration_s)) " s simulated · trace " (s.trace_digest) } (NL)
        @if !s.description.is_empty() { p { (s.description) } (NL) }
        div.cards { (NL)
            @for (key, value) in cards { div.card { div.v { (value) } div.k { (key) } } (NL) }
        }
        (NL)
    }
}

/// Every fault with its detection, alert and what viewers saw of it.
fn faults(run: &RunTables) -> Markup {
    const HEADER: &[&str] = &[
        "id",
        "kind",
        "target",
        "from (s)",
        "until (s)",
        "detected after (s)",
        "detected by",
        "alerted after (s)",
        "viewers stalled → moved → playing again",
        "moved to",
        "recovery p50 (s)",
    ];
    let rows = run.faults.iter().map(|f| {
        html! { tr {
            td { (f.id) } td { (f.kind) } td { (f.target) }
            td { (format!("{:.3}", f.start_s)) }
            td { (f.end_s.map_or("never ends".into(), |e| format!("{e:.3}"))) }
            td { (opt(f.time_to_detect_s, "", 1.0, 3)) }
            td { (f.detected_by.as_deref().unwrap_or("–")) }
            td { (opt(f.time_to_alert_s, "", 1.0, 1)) }
            td { (f.viewers_affected) " → " (f.viewers_switched) " → " (f.viewers_recovered) }
            td { (f.switched_to) }
            td { (opt(f.recovery_ms_p50, "", 1e-3, 1)) }
        } }
    });
    html! {
        h2 { "Faults" } (NL)
        @if run.faults.is_empty() { p { "No faults were injected." } (NL) } @else { (table(HEADER, rows)) }
    }
}

/// Every `[[expect]]` and its verdict.
fn expectations(run: &RunTables) -> Markup {
    let rows = run.verdicts.iter().map(|v| {
        let (class, word) = if v.passed { ("pass", "pass") } else { ("fail", "FAIL") };
        html! { tr {
            td class=(class) { (word) }
            td { (v.metric) @if !v.during.is_empty() { " during " (v.during) } }
            td { (v.op) " " (v.value) }
            td { (v.measured.map_or("no value".into(), |m| m.to_string())) }
        } }
    });
    html! {
        h2 { "Expectations" } (NL)
        @if run.verdicts.is_empty() {
            p { "The scenario states no expectations." } (NL)
        } @else {
            (table(&["verdict", "metric", "expected", "measured"], rows))
        }
    }
}

/// Every plot, inline, drawn one at a time into `buffer`.
fn plot_figures(run: &RunTables, buffer: &mut String) -> Result<(), String> {
    html! { h2 { "Plots" } (NL) }.render_to(buffer);
    let input = run.plot_input();
    for name in plots::PLOTS {
        let svg = plots::svg(name, &input)?;
        // The XML prolog has no place inside an HTML document.
        let svg = &svg[svg.find("<svg").unwrap_or(0)..];
        // Drawn by failcast's plotters: markup already, with the scenario's text escaped
        // by the SVG backend.
        html! { figure id={ "plot-" (name) } { (PreEscaped(svg)) } (NL) }.render_to(buffer);
    }
    Ok(())
}

/// Every failover and failback, step by step.
fn failover_episodes(run: &RunTables) -> Markup {
    const HEADER: &[&str] = &[
        "#",
        "kind",
        "fault",
        "from → to",
        "onset (s)",
        "detect (s)",
        "detected by",
        "switch (s)",
        "first frame (s)",
        "latency (s)",
        "viewers stalled → playing again",
        "recovery p50 (s)",
    ];
    let rows = run.failovers.iter().map(|e| {
        let since_onset = |ms: f64| format!("+{:.3}", (ms - e.onset_ms) / 1e3);
        html! { tr {
            td { (e.episode) }
            td { (e.kind) @if run.summary.streams > 1 { " (" (e.stream) ")" } }
            td { (e.fault) }
            td { (e.from) " → " (e.to) }
            td { (format!("{:.3}", e.onset_ms / 1e3)) }
            td { (since_onset(e.detected_ms)) }
            td { (e.detected_by) }
            td { (since_onset(e.switched_ms)) }
            td { (e.first_frame_ms.map_or("–".into(), since_onset)) }
            td { (opt(e.failover_latency_ms, "", 1e-3, 3)) }
            td { (e.viewers_affected) " → " (e.viewers_recovered) }
            td { (opt(e.recovery_ms_p50, "", 1e-3, 1)) }
        } }
    });
    html! {
        h2 { "Failover episodes" } (NL)
        @if run.failovers.is_empty() { p { "No failover or failback took place." } (NL) } @else { (table(HEADER, rows)) }
    }
}

/// Every alert that fired.
fn alerts(run: &RunTables) -> Markup {
    const HEADER: &[&str] = &[
        "#",
        "rule",
        "condition since (s)",
        "fired (s)",
        "notified (s)",
        "resolved (s)",
    ];
    let rows = run.alerts.iter().map(|a| {
        html! { tr {
            td { (a.alert) } td { (a.rule) }
            td { (format!("{:.1}", a.condition_since_ms / 1e3)) }
            td { (format!("{:.1}", a.fired_ms / 1e3)) }
            td { (opt(a.notified_ms, "", 1e-3, 1)) }
            td { (opt(a.resolved_ms, "", 1e-3, 1)) }
        } }
    });
    html! {
        h2 { "Alerts" } (NL)
        @if run.alerts.is_empty() { p { "No alert fired." } (NL) } @else { (table(HEADER, rows)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_text_is_escaped_and_markup_is_not() {
        let text = r#"<script>alert("x")</script> & 'y'"#;
        let page = page(text, html! { p { (text) } (PreEscaped("<b>ok</b>")) });
        let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'";
        assert_eq!(
            page,
            format!(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escaped}</title>\
                 <style>{STYLE}</style></head><body>\n<p>{escaped}</p><b>ok</b></body></html>\n"
            )
        );
    }
}
