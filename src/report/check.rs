//! A `check` report for CI: JUnit XML, a Markdown step summary and terminal lines.

use crate::experiment::batch::Plan;
use crate::experiment::check::{number, CheckReport, ExpectationResult};

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// Why an expectation failed, for a JUnit failure message.
fn failure_text(e: &ExpectationResult, seeds: usize) -> String {
    let worst = e.worst_seed.map_or("-".into(), |s| s.to_string());
    match e.statistic.as_str() {
        "all" => format!(
            "measured {} on seed {worst}, expected {} (every one of {seeds} seed(s) must pass)",
            number(e.measured),
            e.name
        ),
        stat => format!(
            "{stat} over {seeds} seed(s) measured {}, expected {} (worst seed {worst})",
            number(e.measured),
            e.name
        ),
    }
}

/// The report as JUnit XML: a test suite per scenario, a test case per expectation
/// (and per baseline metric), an error per failed run. No timings: it is the same
/// whatever machine or `--jobs` produced it.
pub fn junit(report: &CheckReport, plan: &Plan) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = report.expectations() + report.failed_runs();
    xml.push_str(&format!(
        "<testsuites name=\"failcast check\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\">\n",
        report.failures(),
        report.failed_runs()
    ));
    for (k, s) in report.scenarios.iter().enumerate() {
        let setup = &plan.setups[k];
        let failures =
            s.expectations.iter().filter(|e| !e.passed).count() + s.baseline.iter().filter(|b| !b.passed).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">\n",
            xml_escape(&s.label),
            s.expectations.len() + s.baseline.len() + s.failed_runs.len(),
            s.failed_runs.len()
        ));
        xml.push_str(&format!(
            "    <properties><property name=\"file\" value=\"{}\"/><property name=\"seeds\" value=\"{}\"/></properties>\n",
            xml_escape(&s.file),
            s.seeds.len()
        ));
        let class = xml_escape(&format!("failcast.{}", s.label));
        for e in &s.expectations {
            let name = xml_escape(&format!("{} ({} of {} seeds)", e.name, e.statistic, s.seeds.len()));
            if e.passed {
                xml.push_str(&format!("    <testcase classname=\"{class}\" name=\"{name}\"/>\n"));
            } else {
                let replay = e.worst_seed.map(|seed| setup.replay(seed)).unwrap_or_default();
                xml.push_str(&format!(
                    "    <testcase classname=\"{class}\" name=\"{name}\">\n      <failure message=\"{}\" type=\"expectation\">replay: {}</failure>\n    </testcase>\n",
                    xml_escape(&failure_text(e, s.seeds.len())),
                    xml_escape(&replay)
                ));
            }
        }
        for b in &s.baseline {
            let name = xml_escape(&format!("baseline {}", b.metric));
            if b.passed {
                xml.push_str(&format!("    <testcase classname=\"{class}\" name=\"{name}\"/>\n"));
            } else {
                xml.push_str(&format!(
                    "    <testcase classname=\"{class}\" name=\"{name}\">\n      <failure message=\"{}\" type=\"regression\">replay: {}</failure>\n    </testcase>\n",
                    xml_escape(&b.describe()),
                    xml_escape(&setup.replay(setup.first_seed))
                ));
            }
        }
        for (seed, error, replay) in &s.failed_runs {
            xml.push_str(&format!(
                "    <testcase classname=\"{class}\" name=\"run seed {seed}\">\n      <error message=\"{}\" type=\"internal\">replay: {}</error>\n    </testcase>\n",
                xml_escape(error),
                xml_escape(replay)
            ));
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown, fit for a CI step summary (`$GITHUB_STEP_SUMMARY`).
pub fn markdown(report: &CheckReport, plan: &Plan) -> String {
    let failed = report.failures();
    let errors = report.failed_runs();
    let mut md = String::new();
    let verdict = match (failed, errors) {
        (0, 0) => "all passed".to_string(),
        (f, 0) => format!("{f} failed"),
        (0, e) => format!("{e} run(s) failed"),
        (f, e) => format!("{f} failed, {e} run(s) failed"),
    };
    md.push_str(&format!(
        "## failcast check: {} of {} checks passed ({verdict})\n\n",
        report.expectations() - failed,
        report.expectations()
    ));
    md.push_str(&format!(
        "{} scenario(s); expectations judged by `{}` over each scenario's seeds.\n\n",
        report.scenarios.len(),
        report.statistic
    ));
    md.push_str("| | scenario | check | measured | replay |\n|---|---|---|---|---|\n");
    for (k, s) in report.scenarios.iter().enumerate() {
        let setup = &plan.setups[k];
        for e in &s.expectations {
            let mark = if e.passed { "✅" } else { "❌" };
            let replay = match (e.passed, e.worst_seed) {
                (false, Some(seed)) => format!("`{}`", setup.replay(seed)),
                _ => String::new(),
            };
            md.push_str(&format!(
                "| {mark} | {} | {} | {} | {} |\n",
                md_cell(&s.label),
                md_cell(&e.name),
                number(e.measured),
                md_cell(&replay)
            ));
        }
        for b in &s.baseline {
            let mark = if b.passed { "✅" } else { "❌" };
            if b.note.is_some() {
                md.push_str(&format!(
                    "| {mark} | {} | baseline: {} | | |\n",
                    md_cell(&s.label),
                    md_cell(&b.describe())
                ));
                continue;
            }
            let improved = if b.improved {
                " (improved beyond it: update the baseline)"
            } else {
                ""
            };
            md.push_str(&format!(
                "| {mark} | {} | baseline `{}` ≤ {:.1}% worse than {}{improved} | {} | |\n",
                md_cell(&s.label),
                b.metric,
                b.tolerance * 100.0,
                b.baseline,
                number(b.measured)
            ));
        }
        for (seed, error, replay) in &s.failed_runs {
            md.push_str(&format!(
                "| 💥 | {} | run seed {seed}: {} | | `{}` |\n",
                md_cell(&s.label),
                md_cell(error),
                md_cell(replay)
            ));
        }
    }
    md
}

/// One line per check, for the terminal.
pub fn text_lines(report: &CheckReport, plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    for (k, s) in report.scenarios.iter().enumerate() {
        let setup = &plan.setups[k];
        for e in &s.expectations {
            let mark = if e.passed { "pass" } else { "FAIL" };
            lines.push(format!(
                "{mark}  {}: {} ({} of {} seeds: {})",
                s.label,
                e.name,
                e.statistic,
                s.seeds.len(),
                number(e.measured)
            ));
            if let (false, Some(seed)) = (e.passed, e.worst_seed) {
                lines.push(format!("      replay: {}", setup.replay(seed)));
            }
        }
        for b in &s.baseline {
            let mark = if b.passed { "pass" } else { "FAIL" };
            lines.push(format!("{mark}  {}: baseline {}", s.label, b.describe()));
        }
        for (seed, error, replay) in &s.failed_runs {
            lines.push(format!("ERROR {}: run seed {seed}: {error}", s.label));
            lines.push(format!("      replay: {replay}"));
        }
    }
    lines
}
