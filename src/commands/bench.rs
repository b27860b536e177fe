//! `failcast bench`: kernel figures, and runs measured in their own process.

use failcast::experiment::bench;

use crate::allocator;
use crate::cli::{exit, BenchArgs};

/// Runs one measurement (`day`, `audience=N`) in a fresh failcast process, so that its
/// peak memory is its own.
fn measure_isolated(what: &str) -> Result<bench::MeasuredRun, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the failcast binary: {e}"))?;
    let out = std::process::Command::new(&exe)
        .args(["bench", "--measure", what])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!("the measurement `{what}` failed ({})", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the measurement `{what}` printed no result: {e}"))
}

/// `failcast bench --measure WHAT`: one measurement, printed as JSON.
fn measure_command(what: &str) -> i32 {
    let calls_before = allocator::allocation_calls_on_this_thread();
    let run = match what.split_once('=') {
        None if what == "day" => bench::run_reference_day(&[]),
        Some(("audience", n)) => match n.parse::<u32>() {
            Ok(viewers) if viewers > 0 => bench::run_audience(viewers),
            _ => Err(format!("`{n}` is not a number of viewers")),
        },
        Some(("squads", n)) => match n.parse::<u32>() {
            Ok(viewers) if viewers > 0 => bench::run_squads(viewers),
            _ => Err(format!("`{n}` is not a number of viewers")),
        },
        _ => Err(format!("unknown measurement `{what}` (day, audience=N, squads=N)")),
    };
    match run {
        Ok(run) => {
            let measured = bench::MeasuredRun {
                run,
                peak_rss_bytes: bench::peak_rss_bytes(),
                allocation_calls: Some(allocator::allocation_calls_on_this_thread() - calls_before),
            };
            say!("{}", serde_json::to_string(&measured).expect("plain numbers serialise"));
            exit::OK
        }
        Err(e) => {
            tell!("error: {e}");
            exit::INTERNAL
        }
    }
}

/// `100000` → `100,000`.
fn with_thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `failcast bench`: the figures asked for, as a table or one JSON object.
pub fn bench(args: BenchArgs) -> i32 {
    if let Some(what) = &args.measure {
        return measure_command(what);
    }
    let figures = match measure_all(&args) {
        Ok(figures) => figures,
        Err(e) => {
            tell!("error: {e}");
            return exit::INTERNAL;
        }
    };
    if args.json {
        let value = serde_json::json!({
            "audience": figures.crowd,
            "squads": figures.squad_crowd,
            "kernel": figures.report,
            "reference_day": figures.day_run,
            "jobs_scaling": figures.jobs,
            "scaling": figures.growth,
        });
        say!("{value}");
    } else {
        print_table(&figures);
    }
    exit::OK
}

/// Every figure of one `failcast bench`; `None` where it was not asked for.
struct Figures {
    report: bench::BenchReport,
    day_run: Option<bench::MeasuredRun>,
    jobs: Option<bench::JobsScaling>,
    growth: Option<bench::Scaling>,
    crowd: Option<bench::Audience>,
    squad_crowd: Option<bench::Audience>,
}

fn measure_all(args: &BenchArgs) -> Result<Figures, String> {
    let report = bench::run_bench(args.repeats, &bench::BENCH_SIZES);
    let day_run = args
        .day
        .then(|| measure_isolated("day"))
        .transpose()
        .map_err(|e| format!("reference day: {e}"))?;
    let jobs = args
        .jobs_scaling
        .then(|| bench::run_jobs_scaling(8))
        .transpose()
        .map_err(|e| format!("jobs scaling: {e}"))?;
    let growth = args
        .scaling
        .then(|| bench::run_scaling(30, 2000))
        .transpose()
        .map_err(|e| format!("scaling: {e}"))?;
    let quarter_and_full = |what: &str, viewers: u32| -> Result<bench::Audience, String> {
        let quarter = measure_isolated(&format!("{what}={}", viewers / 4))?;
        let full = measure_isolated(&format!("{what}={viewers}"))?;
        Ok(bench::Audience::from_runs(quarter, full))
    };
    let crowd = args
        .audience
        .map(|viewers| quarter_and_full("audience", viewers))
        .transpose()
        .map_err(|e| format!("audience: {e}"))?;
    let squad_crowd = args
        .squads
        .map(|viewers| quarter_and_full("squads", viewers))
        .transpose()
        .map_err(|e| format!("squads: {e}"))?;
    Ok(Figures {
        report,
        day_run,
        jobs,
        growth,
        crowd,
        squad_crowd,
    })
}

/// The table `failcast bench` prints.
fn print_table(figures: &Figures) {
    let Figures {
        report,
        day_run,
        jobs,
        growth,
        crowd,
        squad_crowd,
    } = figures;
    if cfg!(debug_assertions) {
        say!("note: this is a debug build; measure with `cargo run --release -- bench`");
    }
    let m = |v: f64| format!("{:.2} M", v / 1e6);
    say!(
        "failcast bench: events/s, kernel + actix actors vs bare binary-heap floor (medians of {})",
        report.repeats
    );
    say!("{:>8}  {:>14}  {:>14}  {:>6}", "actors", "kernel", "floor", "ratio");
    for size in &report.sizes {
        say!(
            "{:>8}  {:>14}  {:>14}  {:>6.2}",
            with_thousands(size.actors),
            m(size.events_per_s),
            m(size.floor_events_per_s),
            size.ratio
        );
    }
    say!(
        "strict (one event at a time) dispatch at 1,000 actors: {}",
        m(report.strict_events_per_s_1k)
    );
    let per_event = |measured: &bench::MeasuredRun| {
        (measured.allocations_per_event()).map_or("-".into(), |calls| format!("{calls:.3}"))
    };
    if let Some(day) = &day_run {
        let run = &day.run;
        say!(
            "reference day: {:.0} s simulated in {:.1} s wall ({:.0}× real time), {} events ({}/s), peak RSS {}, {} allocations per event",
            run.simulated_s,
            run.wall_s,
            run.speedup,
            run.events,
            m(run.events_per_s),
            day.peak_rss_bytes.map_or("-".into(), |b| format!("{:.0} MB", b as f64 / 1e6)),
            per_event(day)
        );
    }
    if let Some(j) = &jobs {
        say!(
            "jobs: {} runs of 2 h: {:.2} runs/s with --jobs 1, {:.2} with --jobs 2 ({:.2}×)",
            j.runs,
            j.runs_per_s_1,
            j.runs_per_s_2,
            j.speedup
        );
    }
    if let Some(g) = &growth {
        for (what, runs) in [
            ("simulated time (quickstart, 2,000 viewers)", &g.by_duration),
            ("viewers (quickstart, 30 min)", &g.by_viewers),
        ] {
            let points: Vec<String> = runs
                .iter()
                .map(|r| format!("{:.0} s/{} viewers: {:.2} s", r.simulated_s, r.viewers, r.wall_s))
                .collect();
            say!("scaling in {what}: {}", points.join(", "));
        }
        say!(
            "scaling exponents (wall ∝ x^k): simulated time k = {:.2}, viewers k = {:.2}",
            g.duration_exponent,
            g.viewers_exponent
        );
    }
    let runs = |label: &str, a: &bench::Audience| {
        let mb = |b: Option<u64>| b.map_or("-".into(), |b| format!("{:.0} MB", b as f64 / 1e6));
        for measured in [&a.quarter, &a.full] {
            let run = &measured.run;
            say!(
                "{label}: {} viewers, {:.0} s simulated in {:.1} s wall ({:.2}× real time), {} events ({}/s), peak RSS {}, {} allocations per event",
                with_thousands(run.viewers),
                run.simulated_s,
                run.wall_s,
                run.speedup,
                run.events,
                m(run.events_per_s),
                mb(measured.peak_rss_bytes),
                per_event(measured)
            );
        }
        a.bytes_per_viewer.map_or("-".into(), |b| format!("{b:.0}"))
    };
    if let Some(a) = &squad_crowd {
        say!(
            "squads: {} bytes per viewer (joins on a {} grid, one player per squad)",
            runs("squads", a),
            bench::SQUADS_JOIN_STEP
        );
    }
    if let Some(a) = &crowd {
        say!(
            "audience: {} bytes per viewer; one simulated hour at this pace: {:.0} s wall",
            runs("audience", a),
            a.projected_hour_s
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped_by_commas() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (100_000, "100,000"),
            (1_234_567, "1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(super::with_thousands(n), text);
        }
    }
}
