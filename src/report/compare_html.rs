//! `comparison.html`: one self-contained page (inline SVG and CSS, no script) that
//! leads with the verdict (`compare::verdict`), then the setups compared, a table per
//! metric (mean, p50, p95, 95% CI, paired
//! difference to the first setup) and the comparison plots.

use maud::{html, PreEscaped};

use super::compare_plots::{self, COMPARISON_PLOTS};
use super::html::{page, table, NL};
use crate::experiment::batch::Plan;
use crate::experiment::compare::{interval_text, verdict, Comparison, SetupFigures};
use crate::metrics::units::human;

pub fn comparison_html(c: &Comparison, plan: &Plan) -> Result<String, String> {
    let n = c.setups.len();
    let mut svgs = Vec::with_capacity(COMPARISON_PLOTS.len());
    for name in COMPARISON_PLOTS {
        svgs.push(compare_plots::svg(name, c)?);
    }
    let setups = plan.setups.iter().map(|setup| {
        html! { tr {
            td { (setup.label) } td { (setup.file) } td { (setup.overrides.join(" ")) }
            td { (setup.first_seed) " … " (setup.first_seed + plan.seeds.saturating_sub(1)) }
        } }
    });
    let failed = c.failed_runs.iter().map(|(setup, seed, error)| {
        html! { tr { td { (setup) } td { (seed) } td { (error) } } }
    });
    let body = html! {
        h1 { "Comparison of " (n) " setups" }
        p.sub {
            (c.seeds) " paired seed(s) each: every setup ran on the same seeds, so workload and fault draws match; \
             differences are to the first setup, seed by seed."
        }
        (NL)
        h2 { "Verdict" }
        ul.verdict { @for line in verdict(c) { li { (line) } } } (NL)
        h2 { "Setups" } (table(&["setup", "file", "overrides", "seeds"], setups))
        @if !c.failed_runs.is_empty() {
            h2.fail { "Failed runs" } (table(&["setup", "seed", "error"], failed))
        }
        h2 { "Plots" } (NL)
        // Drawn by failcast's plotters: markup already.
        @for svg in svgs { figure { (PreEscaped(svg)) } (NL) }
        h2 { "Metrics" } (NL)
        @for m in &c.metrics {
            h3 { (m.metric) }
            (table(
                &[
                    "setup",
                    "runs with a value",
                    "mean",
                    "p50",
                    "p95",
                    "95% CI of the mean",
                    &format!("paired difference to {} (95% CI)", c.setups[0]),
                ],
                m.setups.iter().enumerate().map(|(k, s)| metric_row(&m.metric, s, c.runs_done(k, s))),
            ))
        }
    };
    Ok(page(&format!("failcast: comparison of {n} setups"), body))
}

/// One setup's figures for `metric`, in the unit a person reads it in, with how many
/// of its `runs` finished runs had a value.
fn metric_row(metric: &str, s: &SetupFigures, runs: usize) -> maud::Markup {
    let diff = (s.diff.as_ref()).map_or(String::new(), |d| interval_text(metric, d, true, "–"));
    html! { tr {
        td { (s.setup) } td { (s.stats.n) " of " (runs) } td { (human(metric, s.stats.mean)) }
        td { (human(metric, s.stats.p50)) } td { (human(metric, s.stats.p95)) }
        td { (interval_text(metric, &s.stats, false, "–")) } td { (diff) }
    } }
}
