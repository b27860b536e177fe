//! The project's own regression gate: `failcast check` over `scenarios/regression/` on
//! three seeds, every expectation and the stored baseline (10% tolerance, both ways:
//! `--fail-on-improvement`, so a bug that drops stalls or losses to 0 fails too) must hold.
//! A model change that moves these figures must update the baseline on purpose:
//! `failcast check scenarios/regression --seeds 3 --save-baseline scenarios/regression/baseline.json`.

mod common;

use std::process::Command;

#[test]
fn the_regression_scenarios_pass_against_their_baseline() {
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("junit.xml");
    let output = Command::new(common::binary())
        .current_dir(common::repo_path(""))
        .args(["check", "scenarios/regression", "--seeds", "3", "--baseline"])
        .arg("scenarios/regression/baseline.json")
        .arg("--fail-on-improvement")
        .arg("--junit")
        .arg(&junit)
        .arg("--out")
        .arg(out.path().join("check"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{text}");
    // Three scenarios; every baseline metric is checked (none silently skipped).
    assert!(text.contains("over 3 scenario(s) × 3 seed(s)"), "{text}");
    let xml = std::fs::read_to_string(junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let baseline_cases = (doc.descendants())
        .filter(|n| n.has_tag_name("testcase") && n.attribute("name").is_some_and(|a| a.starts_with("baseline ")))
        .count();
    assert!(baseline_cases >= 30, "{baseline_cases} baseline checks");
}
