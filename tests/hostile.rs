//! Hostile and clumsy input: failcast never loses a user's data, never aborts or hangs
//! on a file, and never prints a control character it was given. Each test drives the
//! binary as a user would and failed on the code before these guards.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scenario that runs in well under a second, even in a debug build.
const TINY: &str = "[scenario]\nname = \"tiny\"\nduration = \"1m\"\nseed = 1\n[viewers]\ncount = 10\n";

/// `failcast ARGS` in `dir`, killed (and the test failed) if it takes longer than
/// `limit`: a hang must fail the test, not stall the suite.
fn failcast_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    failcast_with(dir, args, limit, |_| {})
}

fn failcast_with(dir: &Path, args: &[&str], limit: Duration, adjust: impl FnOnce(&mut Command)) -> Output {
    let mut command = Command::new(common::binary());
    command
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    adjust(&mut command);
    let mut child = command.spawn().expect("failcast starts");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("failcast {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn failcast(dir: &Path, args: &[&str]) -> Output {
    failcast_within(dir, args, Duration::from_secs(120))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// No control character but line breaks reaches the terminal.
fn assert_printable(output: &Output) {
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        let raw = text.chars().find(|&c| failcast::text::is_unsafe(c) && c != '\n');
        assert_eq!(raw, None, "{name} holds a raw control character: {text:?}");
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

fn digest(run_folder: &Path) -> String {
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run_folder.join("summary.json")).unwrap()).unwrap();
    summary["trace_digest"].as_str().unwrap().to_string()
}

// ---- Data loss and wrong verdicts ----

#[test]
fn run_replaces_only_a_run_folder_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    let home = dir.path().join("home");
    write(&home, "thesis.tex", "years of work");
    let output = failcast(dir.path(), &["run", "tiny.toml", "--out", "home"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not a failcast run folder"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_to_string(home.join("thesis.tex")).unwrap(), "years of work");
    write(dir.path(), "a-file", "mine");
    let output = failcast(dir.path(), &["run", "tiny.toml", "--out", "a-file"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(dir.path().join("a-file")).unwrap(), "mine");
    // A folder failcast wrote is replaced; an empty one is taken.
    fs::create_dir(dir.path().join("empty")).unwrap();
    for _ in 0..2 {
        let output = failcast(dir.path(), &["run", "tiny.toml", "--out", "empty"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    assert!(dir.path().join("empty").join(failcast::folders::RUN_MARKER).is_file());
    let output = failcast(dir.path(), &["report", "home"]);
    assert_eq!(output.status.code(), Some(2), "report redraws only a run folder");
    assert!(!home.join("plots").exists());
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 4, "no staging folder is left: {left:?}");
}

#[test]
fn leftovers_of_killed_runs_are_cleaned_up_by_the_next_run_there() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    // A run killed (-9) while staging or swapping: PIDs above the kernel's pid_max.
    let staged = dir.path().join(".out.tmp-4294967");
    write(&staged, failcast::folders::RUN_MARKER, "");
    let retired = dir.path().join(".out.old-4294968");
    write(&retired, failcast::folders::RUN_MARKER, "");
    let user = write(dir.path(), ".out.tmp-mine", "a user's file");
    let output = failcast(dir.path(), &["run", "tiny.toml", "--out", "out"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!staged.exists() && !retired.exists());
    assert!(user.exists());
}

#[test]
fn a_runs_scenario_toml_replays_it_with_its_seed_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = common::repo_path("scenarios/quickstart.toml");
    let quickstart = quickstart.to_str().unwrap();
    let sets = ["--set", "viewers.count=30", "--set", "scenario.duration=11m"];
    let mut args = vec!["run", quickstart, "--seed", "5", "--out", "first"];
    args.extend(sets);
    let output = failcast(dir.path(), &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = fs::read_to_string(dir.path().join("first/scenario.toml")).unwrap();
    assert!(written.contains("seed = 5"), "{written}");
    let output = failcast(dir.path(), &["run", "first/scenario.toml", "--out", "again"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(digest(&dir.path().join("first")), digest(&dir.path().join("again")));
}

#[test]
fn every_bundled_scenario_reads_back_from_its_scenario_toml_as_it_ran() {
    // A run is a function of its scenario and seed: a scenario.toml that reads back
    // equal to what ran, seed included, replays the run (shown end to end above).
    let mut files: Vec<PathBuf> = ["scenarios", "scenarios/regression"]
        .iter()
        .flat_map(|d| fs::read_dir(common::repo_path(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 34, "{files:?}");
    for file in files {
        let overrides = ["scenario.description=replayed".to_string()];
        let ran = failcast::scenario::load(&file, &overrides).unwrap_or_else(|e| panic!("{e}"));
        let mut expected = ran.clone();
        expected.scenario.seed = 5;
        let text = failcast::report::tables::scenario_toml(&expected);
        let again = failcast::scenario::load_str("scenario.toml", &text, &[])
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(again, expected, "{}", file.display());
    }
}

/// A check of one tiny scenario into `out`, with `extra` arguments.
fn check(dir: &Path, scenario: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = vec!["check", scenario, "--seeds", "2", "--jobs", "1", "--out", out];
    args.extend_from_slice(extra);
    failcast(dir, &args)
}

#[test]
fn a_second_batch_into_a_folder_being_written_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    let out = dir.path().join("exp");
    let lock = failcast::folders::lock_experiment(&out).unwrap();
    for command in ["check", "sweep"] {
        let mut args = vec![command, "tiny.toml", "--seeds", "1", "--out", "exp"];
        if command == "sweep" {
            args.extend(["--grid", "viewers.count=5,6"]);
        }
        let output = failcast(dir.path(), &args);
        assert_eq!(output.status.code(), Some(2), "{command}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("another failcast command is writing"),
            "{}",
            stderr(&output)
        );
        assert!(stderr(&output).contains("exp"));
    }
    drop(lock);
    assert_eq!(check(dir.path(), "tiny.toml", "exp", &[]).status.code(), Some(0));
}

#[test]
fn resume_never_adopts_a_record_of_another_setup() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    write(dir.path(), "other.toml", &TINY.replace("count = 10", "count = 3"));
    assert_eq!(check(dir.path(), "tiny.toml", "mine", &[]).status.code(), Some(0));
    assert_eq!(check(dir.path(), "other.toml", "theirs", &[]).status.code(), Some(0));
    let verdict = fs::read(dir.path().join("mine/check.json")).unwrap();
    // Another experiment's record where this one's belongs (same setup and seed index).
    let record = "runs/setup-1/seed-2.json";
    fs::copy(
        dir.path().join("theirs").join(record),
        dir.path().join("mine").join(record),
    )
    .unwrap();
    let output = check(dir.path(), "tiny.toml", "mine", &["--resume"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("ran       1 run(s)"),
        "the foreign record is run again: {}",
        stderr(&output)
    );
    assert_eq!(fs::read(dir.path().join("mine/check.json")).unwrap(), verdict);
}

#[test]
fn starting_over_deletes_only_what_failcast_wrote() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    assert_eq!(check(dir.path(), "tiny.toml", "exp", &[]).status.code(), Some(0));
    let exp = dir.path().join("exp");
    let mine = [
        write(&exp, "runs/notes.txt", "my notes"),
        write(&exp, "runs/setup-1/analysis.json", "{}"),
        write(&exp, "runs/setup-1/seed-99.json", "not of this experiment"),
        write(&exp, "plots/figure.png", "my figure"),
    ];
    // Leftovers of a batch killed on a full disk.
    let empty_record = write(&exp, "runs/setup-1/.seed-1.json.tmp-77", "");
    let output = check(dir.path(), "tiny.toml", "exp", &["--set", "viewers.count=4"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for path in &mine {
        assert!(path.exists(), "{} was deleted", path.display());
    }
    assert!(!empty_record.exists());
    assert!(exp.join("runs/setup-1/seed-1.json").exists() && exp.join("check.json").exists());
}

// ---- Aborts and hangs ----

#[test]
fn node_counts_at_their_largest_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    for key in [
        "ingest.servers",
        "cdn.edges",
        "encoders.count",
        "cdn.origins",
        "cdn.shields",
        "managers.count",
        "lb.devices",
    ] {
        let set = format!("{key}=4294967295");
        let args = [
            "validate",
            "tiny.toml",
            "--set",
            &set,
            "--set",
            "cdn.balancing=hardware",
        ];
        let output = failcast_within(dir.path(), &args, Duration::from_secs(30));
        assert_eq!(output.status.code(), Some(2), "{key}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("--set {set}")),
            "{key}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn timings_that_would_never_end_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "ingest.redundancy=dns",
                "dns.health.interval=1ns",
                "dns.health.timeout=1ns",
            ],
            "dns.health.interval",
        ),
        (
            &[
                "cdn.balancing=round-robin-dns",
                "dns.health.interval=1ns",
                "dns.health.timeout=1ns",
            ],
            "dns.health.interval",
        ),
        (
            &[
                "cdn.balancing=hardware",
                "lb.health.interval=1ns",
                "lb.health.timeout=1ns",
            ],
            "lb.health.interval",
        ),
        (
            &[
                "encoders.reconnect.first_delay=1ms",
                "encoders.reconnect.max_delay=1ms",
                "encoders.reconnect.multiplier=1",
            ],
            "encoders.reconnect.first_delay",
        ),
        (
            &["encoders.reconnect.max_attempts=10000000"],
            "encoders.reconnect.max_attempts",
        ),
    ];
    for (sets, key) in cases {
        let mut args = vec!["validate", "tiny.toml"];
        for set in *sets {
            args.extend(["--set", set]);
        }
        let output = failcast_within(dir.path(), &args, Duration::from_secs(30));
        assert_eq!(output.status.code(), Some(2), "{sets:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(key), "{sets:?}: {}", stderr(&output));
    }
}

#[test]
fn a_sweep_too_large_to_check_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // Each value used to cost a load of the whole file: 9,000 of them, minutes.
    let values: Vec<String> = (1..=9_000).map(|n| n.to_string()).collect();
    let text = format!("{TINY}[sweep]\n\"viewers.count\" = [{}]\n", values.join(", "));
    write(dir.path(), "t.toml", &text);
    let output = failcast_within(dir.path(), &["validate", "t.toml"], Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("t.toml:7:1"),
        "located at [sweep]: {}",
        stderr(&output)
    );
    let cells = format!(
        "{TINY}[sweep]\n\"viewers.count\" = [{}]\n\"viewers.player\" = [\"hls.js\", \"shaka\"]\n",
        values[..6_000].join(", ")
    );
    write(dir.path(), "t.toml", &cells);
    let output = failcast_within(dir.path(), &["validate", "t.toml"], Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("12000 combinations"), "{}", stderr(&output));
}

/// Runs failcast with its address space limited to `bytes` (`ulimit -v`).
#[cfg(target_os = "linux")]
fn with_address_space(bytes: u64) -> impl FnOnce(&mut Command) {
    move |command| {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_run_too_large_for_the_memory_it_has_is_refused_and_a_failed_allocation_is_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    let crowd = ["run", "tiny.toml", "--set", "viewers.count=3000000", "--out", "out"];
    let limit = 512 << 20;
    let output = failcast_with(dir.path(), &crowd, Duration::from_secs(60), with_address_space(limit));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("the run needs about") && text.contains("viewers 7.8 GB"),
        "{text}"
    );
    assert!(text.contains("ulimit") && text.contains("--no-memory-check"), "{text}");
    assert!(!dir.path().join("out").exists());
    // Forced past the estimate, the allocation that fails ends the run with exit 3.
    let mut forced = crowd.to_vec();
    forced.push("--no-memory-check");
    let output = failcast_with(dir.path(), &forced, Duration::from_secs(120), with_address_space(limit));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("error: out of memory"), "{text}");
    assert!(
        text.contains("replay: failcast run tiny.toml --seed 1 --set viewers.count=3000000"),
        "{text}"
    );
    assert!(!dir.path().join("out").exists(), "no partial output");
}

// ---- Input files ----

#[cfg(target_os = "linux")]
#[test]
fn only_small_regular_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.path().join("fifo.toml");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let big = format!("{TINY}{}", "# padding\n".repeat(120_000));
    write(dir.path(), "big.toml", &big);
    for (include, expected) in [
        ("zero.toml", "a device"),
        ("fifo.toml", "a FIFO"),
        ("big.toml", "bytes"),
    ] {
        let main = format!("[scenario]\nname = \"m\"\nduration = \"1m\"\ninclude = [\"{include}\"]\n");
        write(dir.path(), "main.toml", &main);
        // Allowed anywhere: /dev/zero is outside the folder, and must still be refused.
        let args = ["validate", "main.toml", "--allow-includes-anywhere"];
        let output = failcast_within(dir.path(), &args, Duration::from_secs(30));
        assert_eq!(output.status.code(), Some(2), "{include}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{include}: {}", stderr(&output));
        let output = failcast_within(dir.path(), &["validate", include], Duration::from_secs(30));
        assert_eq!(output.status.code(), Some(2), "{include}: {}", stderr(&output));
    }
}

#[test]
fn includes_stay_in_the_scenario_folder_and_no_other_file_is_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let outside = write(dir.path(), "common/topology.toml", "[cdn]\nedges = 6\n");
    let secret = write(dir.path(), "secrets/shadow", "root:TOPSECRET:19000::::::\n");
    let main =
        "[scenario]\nname = \"m\"\nduration = \"1m\"\ninclude = [\"../common/topology.toml\"]\n[viewers]\ncount = 10\n";
    write(dir.path(), "scenarios/main.toml", main);
    let output = failcast(dir.path(), &["validate", "scenarios/main.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("outside the scenario's folder"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("scenarios/main.toml:4:"),
        "located: {}",
        stderr(&output)
    );
    let output = failcast(
        dir.path(),
        &["validate", "scenarios/main.toml", "--allow-includes-anywhere"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(outside.exists());
    // A file that is not a scenario part is neither read nor quoted, even when allowed.
    let leak = main.replace("../common/topology.toml", "../secrets/shadow");
    write(dir.path(), "scenarios/leak.toml", &leak);
    for extra in [None, Some("--allow-includes-anywhere")] {
        let mut args = vec!["validate", "scenarios/leak.toml"];
        args.extend(extra);
        let output = failcast(dir.path(), &args);
        assert_eq!(output.status.code(), Some(2));
        assert!(!stderr(&output).contains("TOPSECRET"), "{}", stderr(&output));
    }
    let output = failcast(dir.path(), &["run", secret.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!stderr(&output).contains("TOPSECRET"), "{}", stderr(&output));
}

#[test]
fn numbers_that_are_not_finite_are_refused_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[[expect]]\nmetric = \"stall_count\"\nop = \"lt\"\nvalue = nan\n", 10),
        (
            "[[expect]]\nmetric = \"rebuffer_ratio\"\nop = \"lt\"\nvalue = \"inf%\"\n",
            10,
        ),
        (
            "[[expect]]\nmetric = \"stall_count\"\nop = \"between\"\nvalue = [0, inf]\n",
            10,
        ),
        (
            "[[alert]]\nname = \"a\"\nmetric = \"stream_stale_s\"\nop = \"gt\"\nthreshold = -inf\n",
            11,
        ),
        ("[cdn]\nhash_balance_factor = inf\n", 8),
    ];
    for (table, line) in cases {
        write(dir.path(), "t.toml", &format!("{TINY}{table}"));
        let output = failcast(dir.path(), &["validate", "t.toml"]);
        assert_eq!(output.status.code(), Some(2), "{table}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("t.toml:{line}:")),
            "{table}: {}",
            stderr(&output)
        );
    }
    // Found by tests/fuzz.rs: a nan inside a [sweep] value, with a --set, panicked.
    let sweep = "[sweep]\n\"cdn.algorithm\" = [{ at = \"0s\", rate = nan }]\n";
    write(dir.path(), "t.toml", &format!("{TINY}{sweep}"));
    let output = failcast(dir.path(), &["validate", "t.toml", "--set", "viewers.count=3"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("t.toml:7:"), "{}", stderr(&output));
}

// ---- Terminal output ----

#[test]
fn control_characters_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let esc = '\u{1b}';
    let cases = [
        // A raw ESC in a comment, and a title-setting sequence in a string.
        format!("# a comment {esc}[2J\n{TINY}"),
        TINY.replace("\"tiny\"", &format!("\"ti{esc}]0;pwned\u{7}ny\"")),
        // Escapes that TOML turns into control characters.
        TINY.replace("\"tiny\"", "\"ti\\u001b[31mny\""),
        format!("{TINY}[groups]\n\"a\\u001b[2J\" = [\"edge-1\"]\n"),
        format!("{TINY}[[fault]]\nid = \"x\\u0007\"\nat = \"10s\"\nkind = \"node.crash\"\ntarget = \"edge-1\"\n"),
    ];
    for text in &cases {
        write(dir.path(), "t.toml", text);
        let output = failcast(dir.path(), &["run", "t.toml"]);
        assert_eq!(output.status.code(), Some(2), "{text:?}: {}", stderr(&output));
        assert_printable(&output);
        let first = stderr(&output).lines().next().unwrap_or_default().to_string();
        assert!(first.len() > "error: ".len(), "an error with a message: {first:?}");
        assert!(stderr(&output).contains("t.toml:"), "located: {}", stderr(&output));
    }
    write(dir.path(), "tiny.toml", TINY);
    let bad_sets = [
        format!("scenario.na{esc}me=x"),
        format!("scenario.description=a{esc}[2Jb"),
    ];
    for set in &bad_sets {
        let output = failcast(dir.path(), &["run", "tiny.toml", "--set", set]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert_printable(&output);
    }
    let file = format!("ti{esc}[2Jny.toml");
    write(dir.path(), &file, TINY);
    let output = failcast(dir.path(), &["run", &file]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_printable(&output);
}

#[test]
fn the_set_that_is_wrong_is_the_one_blamed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    let args = [
        "validate",
        "tiny.toml",
        "--set",
        "viewers.count=5",
        "--set",
        "viewers.count=abc",
    ];
    let output = failcast(dir.path(), &args);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--set viewers.count=abc"),
        "{}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains("--set viewers.count=5"),
        "{}",
        stderr(&output)
    );
    let args = [
        "validate",
        "tiny.toml",
        "--set",
        "scenario.duration=5m",
        "--set",
        "scenario.duration=0s",
    ];
    let output = failcast(dir.path(), &args);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--set scenario.duration=0s"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn logs_carry_no_colour_codes_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let crash = "[[fault]]\nat = \"20s\"\nkind = \"node.crash\"\ntarget = \"ingest-1\"\n";
    write(dir.path(), "tiny.toml", &format!("{TINY}{crash}"));
    let output = failcast(dir.path(), &["-v", "run", "tiny.toml", "--out", "out"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("INFO"),
        "log lines were written: {}",
        stderr(&output)
    );
    assert_printable(&output);
    assert!(stdout(&output).contains("trace "));
}

#[cfg(target_os = "linux")]
#[test]
fn a_baseline_is_read_as_carefully_as_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tiny.toml", TINY);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.json")).unwrap();
    write(
        dir.path(),
        "title.json",
        "{\"scenarios\": {\"\\u001b]0;pwned\\u0007\": {}}}",
    );
    for baseline in ["zero.json", "title.json"] {
        let args = ["check", "tiny.toml", "--baseline", baseline, "--out", "exp"];
        let output = failcast_within(dir.path(), &args, Duration::from_secs(30));
        assert_eq!(output.status.code(), Some(2), "{baseline}: {}", stderr(&output));
        assert!(stderr(&output).contains("error: baseline"), "{}", stderr(&output));
        assert_printable(&output);
    }
    assert!(!dir.path().join("exp").exists(), "nothing ran");
}
