//! `report.html` is one self-contained page that a browser renders: it is loaded in
//! headless Chromium and its rendered DOM is checked; strings from the scenario are
//! escaped. The test installs nothing: `.ci/run` installs Chromium, and without it the
//! test fails in CI (`FAILCAST_REQUIRE_CHROMIUM`, set by `.ci/run`) and is skipped
//! elsewhere with a line saying how to get it.

mod common;

use std::process::Command;

use failcast::experiment::run_scenario;
use failcast::report::write_run;

/// How to get the browser, for the message when it is missing.
const GET_CHROMIUM: &str = "install it with `.ci/install-chromium` (Debian's chromium package), \
     or point FAILCAST_CHROMIUM at a Chromium binary";

/// The Chromium to render with: `FAILCAST_CHROMIUM`, else `chromium` on the PATH.
/// `None` (after saying so) when there is none and the environment does not require it.
fn chromium() -> Option<std::path::PathBuf> {
    let on_path = || {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    };
    let found = match std::env::var_os("FAILCAST_CHROMIUM") {
        Some(path) => Some(std::path::PathBuf::from(path)).filter(|p| p.is_file()),
        None => on_path(),
    };
    if found.is_none() {
        let required = std::env::var_os("FAILCAST_REQUIRE_CHROMIUM").is_some_and(|v| !v.is_empty());
        assert!(!required, "the report test needs headless Chromium: {GET_CHROMIUM}");
        eprintln!("skipped: no Chromium to render report.html; {GET_CHROMIUM}");
    }
    found
}

#[test]
fn report_renders_in_headless_chromium_with_everything_escaped() {
    let hostile = "scenario.description=\"<script>alert(1)</script> & <b>bold</b>\"";
    // Every string a scenario supplies reaches the page: a fault id and an alert name too.
    let fault_id = "fault[0].id=\"<i>crash</i>&'\"";
    let mut scenario = common::short_quickstart(&["viewers.count=20", hostile, fault_id]);
    for alert in &mut scenario.alerts {
        alert.name = format!("<u>{}</u>", alert.name);
    }
    let out = run_scenario(&scenario, 1, None, false).unwrap();
    assert!(!out.alerts.is_empty(), "an alert fires, so its name reaches the page");
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    write_run(&run, &out).unwrap();
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"));
    assert!(!page.contains("<script"), "no script, escaped or ours");
    // An apostrophe needs no escape: attributes are double-quoted.
    assert!(page.contains("&lt;i&gt;crash&lt;/i&gt;&amp;'") && !page.contains("<i>crash"));
    assert!(page.contains("&lt;u&gt;ingest-down&lt;/u&gt;") && !page.contains("<u>"));
    // Every inline plot is well-formed XML (a browser would forgive a broken one).
    let mut rest = page.as_str();
    let mut svgs = 0;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("every <svg> is closed") + start + "</svg>".len();
        roxmltree::Document::parse(&rest[start..end]).unwrap_or_else(|e| panic!("plot {svgs}: {e}"));
        svgs += 1;
        rest = &rest[end..];
    }
    assert_eq!(svgs, failcast::report::plots::PLOTS.len());
    for link in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(link), "nothing is fetched: found {link}");
    }

    let profile = dir.path().join("profile");
    let Some(browser) = chromium() else { return };
    let output = Command::new(browser)
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
        .args(["--enable-logging=stderr", "--v=0"])
        .arg("--dump-dom")
        .arg(format!("file://{}", run.join("report.html").display()))
        .output()
        .expect("start chromium");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    // Nothing the page asked for failed, and nothing reached the console.
    for complaint in ["CONSOLE", "Failed to load resource", "Uncaught"] {
        assert!(!log.contains(complaint), "{complaint} in chromium's log:\n{log}");
    }
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
