//! `failcast run`, `validate` and `report`: one scenario, one run folder.

use std::path::{Path, PathBuf};

use failcast::experiment;
use failcast::scenario::Scenario;
use failcast::{folders, report, scenario};

use super::{folder_error, shown};
use crate::allocator;
use crate::cli::{exit, RunArgs, ValidateArgs};

/// The command that replays a run: its file, seed and overrides, quoted for a shell.
fn replay_line(args: &RunArgs, seed: u64) -> String {
    let quote = |text: &str| failcast::experiment::batch::shell_quote(text);
    let mut line = format!(
        "failcast run {} --seed {seed}",
        quote(&args.scenario.display().to_string())
    );
    for set in &args.set {
        line.push_str(&format!(" --set {}", quote(set)));
    }
    if args.allow_includes_anywhere {
        line.push_str(" --allow-includes-anywhere");
    }
    line
}

fn load_options(includes_anywhere: bool) -> scenario::LoadOptions {
    scenario::LoadOptions { includes_anywhere }
}

/// `failcast report DIR`: redraws a run folder's plots and page from its files.
pub fn rebuild_report(dir: &std::path::Path) -> i32 {
    match report::rebuild(dir) {
        Ok(()) => {
            say!("wrote     {}/{{plots/, report.html}}", shown(dir));
            exit::OK
        }
        Err(error) => folder_error(&error),
    }
}

pub fn validate(args: &ValidateArgs) -> i32 {
    let options = load_options(args.allow_includes_anywhere);
    let mut code = exit::OK;
    for path in &args.scenarios {
        match scenario::load_with(path, &args.set, options) {
            Ok(s) => {
                let memory = experiment::memory::estimate(&s, false).bytes();
                say!(
                    "ok: {} ({}; a run needs about {} of memory)",
                    shown(path),
                    s.scenario.name,
                    experiment::memory::human_bytes(memory)
                );
            }
            Err(diagnostics) => {
                tell!("{diagnostics}");
                code = exit::INVALID;
            }
        }
    }
    code
}

pub fn run(args: RunArgs) -> i32 {
    let s = match scenario::load_with(&args.scenario, &args.set, load_options(args.allow_includes_anywhere)) {
        Ok(s) => s,
        Err(diagnostics) => {
            tell!("{diagnostics}");
            return exit::INVALID;
        }
    };
    let seed = args.seed.unwrap_or(s.scenario.seed);
    let replay = replay_line(&args, seed);
    if !args.no_memory_check {
        // The determinism check holds both runs, event logs included, to compare them.
        let at_once = if args.check_determinism { 2 } else { 1 };
        let estimate = experiment::memory::estimate(&s, args.trace || args.check_determinism);
        if let Some(message) = experiment::memory::refusal(&vec![estimate; at_once], at_once) {
            tell!("error: {message}");
            tell!("  = help: make the run smaller (viewers.count, cdn.edges, scenario.duration), or pass --no-memory-check to run it anyway");
            return exit::INVALID;
        }
    }
    allocator::set_out_of_memory_note(format!("replay: {replay} --no-memory-check"));
    if args.check_determinism {
        return check_determinism(&s, seed, args.out.as_deref());
    }
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("results")
            .join(&s.scenario.name)
            .join(format!("seed-{seed}"))
    });
    // Refused before the run, so a long run is not lost to a folder it may not replace.
    if let Err(error) = folders::check_run_target(&out) {
        return folder_error(&error);
    }
    let output = match experiment::run_scenario(&s, seed, None, args.trace) {
        Ok(output) => output,
        Err(error) => {
            tell!("error: seed {seed}: {error}");
            tell!("replay: {replay}");
            return exit::INTERNAL;
        }
    };
    if let Err(error) = report::write_run(&out, &output) {
        return folder_error(&error);
    }
    say!("{}", report::text::run_summary(&output.summary, &output.failovers));
    say!(
        "wrote     {}/{{summary.json, scenario.toml, report.html, plots/, *.csv}}",
        shown(&out)
    );
    if args.trace {
        say!(
            "trace     {}/{{events.csv, trace.json}} (open trace.json in Perfetto)",
            shown(&out)
        );
    }
    let verdicts = experiment::evaluate(&s, &output.summary);
    let mut code = exit::OK;
    for v in &verdicts {
        let measured = v.measured.map_or("no value".to_string(), |m| m.to_string());
        let mark = if v.passed { "pass" } else { "FAIL" };
        let during = v
            .expect
            .during
            .as_deref()
            .map_or(String::new(), |w| format!(" during {w}"));
        say!(
            "expect    {mark}: {} {} {}{during} (measured {measured})",
            v.expect.metric,
            v.expect.op,
            v.expect.describe()
        );
        if !v.passed {
            code = exit::FAILED;
        }
    }
    code
}

/// `run --check-determinism`: two runs, compared; with `out`, the first run's outputs
/// (event log and trace included) are written there, and the last line says where.
fn check_determinism(s: &Scenario, seed: u64, out: Option<&Path>) -> i32 {
    // Refused before the runs, as a plain run's folder is.
    if let Some(out) = out {
        if let Err(error) = folders::check_run_target(out) {
            return folder_error(&error);
        }
    }
    let (report, first) = match experiment::check_determinism(s, seed) {
        Ok(both) => both,
        Err(error) => {
            tell!("error: {error}");
            return exit::INTERNAL;
        }
    };
    let code = if report.deterministic() {
        say!(
            "seed {seed} · {} · deterministic: both runs gave trace {}",
            s.scenario.name,
            report.digests.0
        );
        exit::OK
    } else {
        tell!(
            "seed {seed} · {} · NOT deterministic: traces {} vs {}",
            s.scenario.name,
            report.digests.0,
            report.digests.1
        );
        if let Some(sentence) = report.describe_divergence() {
            tell!("{sentence}");
        }
        if !report.differing_outputs.is_empty() {
            tell!("outputs that differ: {}", report.differing_outputs.join(", "));
        }
        exit::FAILED
    };
    match out {
        Some(out) => {
            if let Err(error) = report::write_run(out, &first) {
                return folder_error(&error);
            }
            say!(
                "wrote     {}/{{summary.json, scenario.toml, report.html, plots/, *.csv, events.csv, trace.json}} (the first run)",
                shown(out)
            );
        }
        None => say!("wrote     nothing (--out DIR keeps the first run's outputs)"),
    }
    code
}
