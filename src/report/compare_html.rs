//! `comparison.html`: one self-contained page (inline SVG and CSS, no script) with
//! the setups compared, a table per metric (mean, p50, p95, 95% CI, paired
//! difference to the first setup) and the comparison plots.

use std::fmt::Write;

use super::compare_plots::{self, COMPARISON_PLOTS};
use super::html::{escape, STYLE};
use crate::experiment::batch::Plan;
use crate::experiment::compare::{fmt, Comparison};

pub fn comparison_html(c: &Comparison, plan: &Plan) -> Result<String, String> {
    let mut page = String::new();
    let w = &mut page;
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>failcast: comparison of {n} setups</title><style>{STYLE}</style></head><body>\n\
         <h1>Comparison of {n} setups</h1><p class=\"sub\">{seeds} paired seed(s) each: every setup ran on the same seeds, \
         so workload and fault draws match; differences are to the first setup, seed by seed.</p>\n",
        n = c.setups.len(),
        seeds = c.seeds,
    );
    let _ = writeln!(
        w,
        "<h2>Setups</h2><table><tr><th>setup</th><th>file</th><th>overrides</th><th>seeds</th></tr>"
    );
    for setup in &plan.setups {
        let _ = writeln!(
            w,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} … {}</td></tr>",
            escape(&setup.label),
            escape(&setup.file),
            escape(&setup.overrides.join(" ")),
            setup.first_seed,
            setup.first_seed + plan.seeds.saturating_sub(1)
        );
    }
    let _ = writeln!(w, "</table>");
    if !c.failed_runs.is_empty() {
        let _ = writeln!(
            w,
            "<h2 class=\"fail\">Failed runs</h2><table><tr><th>setup</th><th>seed</th><th>error</th></tr>"
        );
        for (setup, seed, error) in &c.failed_runs {
            let _ = writeln!(
                w,
                "<tr><td>{}</td><td>{seed}</td><td>{}</td></tr>",
                escape(setup),
                escape(error)
            );
        }
        let _ = writeln!(w, "</table>");
    }
    let _ = writeln!(w, "<h2>Plots</h2>");
    for name in COMPARISON_PLOTS {
        let _ = writeln!(w, "<figure>{}</figure>", compare_plots::svg(name, c)?);
    }
    let _ = writeln!(w, "<h2>Metrics</h2>");
    for m in &c.metrics {
        let _ = writeln!(
            w,
            "<h3>{}</h3><table><tr><th>setup</th><th>runs with a value</th><th>mean</th><th>p50</th><th>p95</th>\
             <th>95% CI of the mean</th><th>paired difference to {} (95% CI)</th></tr>",
            escape(&m.metric),
            escape(&c.setups[0])
        );
        for s in &m.setups {
            let ci = match (s.stats.ci_low, s.stats.ci_high) {
                (Some(l), Some(h)) => format!("[{}, {}]", fmt(Some(l)), fmt(Some(h))),
                _ => "–".into(),
            };
            let diff = match &s.diff {
                None => String::new(),
                Some(d) => match (d.mean, d.ci_low, d.ci_high) {
                    (Some(mean), Some(l), Some(h)) => {
                        format!("{} [{}, {}]", fmt(Some(mean)), fmt(Some(l)), fmt(Some(h)))
                    }
                    (Some(mean), _, _) => fmt(Some(mean)),
                    _ => "–".into(),
                },
            };
            let _ = writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.setup),
                s.stats.n,
                fmt(s.stats.mean),
                fmt(s.stats.p50),
                fmt(s.stats.p95),
                ci,
                diff
            );
        }
        let _ = writeln!(w, "</table>");
    }
    let _ = writeln!(w, "</body></html>");
    Ok(page)
}
