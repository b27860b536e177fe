//! `report.html` is one self-contained page that a browser renders: it is loaded in
//! headless Chromium (installed by `.ci/install-chromium` when missing) and its
//! rendered DOM is checked; strings from the scenario are escaped.

mod common;

use std::process::Command;

use failcast::experiment::run_scenario;
use failcast::report::write_run;

fn chromium() -> String {
    let found = |path: &str| std::path::Path::new(path).exists();
    if !found("/usr/bin/chromium") {
        let status = Command::new(common::repo_path(".ci/install-chromium"))
            .status()
            .expect("run .ci/install-chromium");
        assert!(
            status.success(),
            ".ci/install-chromium failed: the report test needs Debian's chromium"
        );
    }
    "/usr/bin/chromium".into()
}

#[test]
fn report_renders_in_headless_chromium_with_everything_escaped() {
    let hostile = "scenario.description=\"<script>alert(1)</script> & <b>bold</b>\"";
    let out = run_scenario(
        &common::short_quickstart(&["viewers.count=20", hostile]),
        1,
        None,
        false,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_run(&run, &out).unwrap();
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"));
    assert!(!page.contains("<script"), "no script, escaped or ours");
    for link in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(link), "nothing is fetched: found {link}");
    }

    let profile = dir.path().join("profile");
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", run.join("report.html").display()))
        .output()
        .expect("start chromium");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let dom = String::from_utf8_lossy(&output.stdout);
    // The rendered document has the page's structure: title, tables, every plot.
    assert!(dom.contains("<h1>quickstart</h1>"), "{}", &dom[..dom.len().min(500)]);
    for plot in failcast::report::plots::PLOTS {
        assert!(dom.contains(&format!("id=\"plot-{plot}\"")), "{plot}");
    }
    assert_eq!(dom.matches("<svg").count(), failcast::report::plots::PLOTS.len());
    assert!(dom.contains("#1 ingest-1 → ingest-2") || dom.contains("ingest-1 → ingest-2"));
    assert!(dom.contains("class=\"pass\""));
    // The hostile description stayed text.
    assert!(!dom.contains("<b>bold</b>"));
}
