//! A `check` report for CI: JUnit XML, a Markdown step summary and terminal lines.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::experiment::batch::Plan;
use crate::experiment::check::{number, CheckReport, ExpectationResult};

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

/// The report as JUnit XML (written by quick-junit, which escapes every string and
/// keeps the counts consistent): a test suite per scenario, a test case per
/// expectation (and per baseline metric), an error per failed run. No timings or
/// timestamps: it is the same whatever machine or `--jobs` produced it.
pub fn junit(report: &CheckReport, plan: &Plan) -> String {
    let failed = |kind: NonSuccessKind, ty: &str, message: String, replay: &str| {
        let mut status = TestCaseStatus::non_success(kind);
        status
            .set_type(ty)
            .set_message(message)
            .set_description(format!("replay: {replay}"));
        status
    };
    let mut junit = Report::new("failcast check");
    for (k, s) in report.scenarios.iter().enumerate() {
        let setup = &plan.setups[k];
        let mut suite = TestSuite::new(s.label.as_str());
        suite.add_property(Property::new("file", s.file.as_str()));
        suite.add_property(Property::new("seeds", s.seeds.len().to_string()));
        let class = format!("failcast.{}", s.label);
        let case = |name: String, status: TestCaseStatus| {
            let mut case = TestCase::new(name, status);
            case.set_classname(class.as_str());
            case
        };
        for e in &s.expectations {
            let name = format!("{} ({} of {} seeds)", e.name, e.statistic, s.seeds.len());
            let status = if e.passed {
                TestCaseStatus::success()
            } else {
                let replay = e.worst_seed.map(|seed| setup.replay(seed)).unwrap_or_default();
                let message = failure_text(e, s.seeds.len());
                failed(NonSuccessKind::Failure, "expectation", message, &replay)
            };
            suite.add_test_case(case(name, status));
        }
        for b in &s.baseline {
            let status = if b.passed {
                TestCaseStatus::success()
            } else {
                let replay = setup.replay(setup.first_seed);
                failed(NonSuccessKind::Failure, "regression", b.describe(), &replay)
            };
            suite.add_test_case(case(format!("baseline {}", b.metric), status));
        }
        for (seed, error, replay) in &s.failed_runs {
            let status = failed(NonSuccessKind::Error, "internal", error.clone(), replay);
            suite.add_test_case(case(format!("run seed {seed}"), status));
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("a report of plain strings serialises")
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
