//! A fuzz target for the scenario loader: bundled scenarios mutated at random (values
//! swapped for hostile ones, lines dropped, doubled and swapped, bytes flipped, `--set`s
//! with hostile values). Whatever comes in, loading must not panic, must finish in time
//! and within 100 MB, must refuse with located, printable diagnostics, and what it
//! accepts must write out (`scenario.toml`) as a file that loads back to itself.
//!
//! CI runs a fixed number of inputs (`FAILCAST_FUZZ_CASES`, default 300, seeded, so a
//! failure repeats). A long run: `FAILCAST_FUZZ_SECONDS=1800 cargo test --release
//! --test fuzz -- --nocapture` (inputs and findings are printed at the end).
//!
//! One test only: the allocation peak below is the whole process's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Counts the bytes allocated now and at most, to hold loading to its memory bound.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every block comes from `System` and goes back to it unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(block, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The bounds the loader keeps on any input. Debug code runs about ten times slower
/// than release, which is where the 1 s of the issue is measured.
const TIME_LIMIT: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(10)
} else {
    Duration::from_secs(1)
};
const MEMORY_LIMIT_BYTES: usize = 100 << 20;

/// Values no scenario should hold, and some it may.
const HOSTILE: &[&str] = &[
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "-1",
    "0",
    "1",
    "65",
    "10000",
    "10001",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "true",
    "\"\"",
    "\"1ns\"",
    "\"0s\"",
    "\"30d\"",
    "\"31d\"",
    "\"99999999999d\"",
    "\"1e400s\"",
    "\"nan%\"",
    "\"inf%\"",
    "\"-5%\"",
    "\"\\u001b[2J\"",
    "\"\\u0007bell\"",
    "\"a\\u202eb\"",
    "\"role:edge\"",
    "\"count:4294967295:role:edge\"",
    "\"percent:0:role:edge\"",
    "\"percent:100:role:encoder\"",
    "\"group:loop\"",
    "\"region:nowhere\"",
    "\"fault:none\"",
    "\"5m..1m\"",
    "[]",
    "[1, 2]",
    "[\"1s\", \"2s\"]",
    "{}",
    "{ at = \"1h\", rate = 1e300 }",
    "[{ at = \"0s\", rate = nan }, { at = \"1h\", rate = 1 }]",
];

/// Lines worth inserting whole: tables and keys the seeds may not have.
const LINES: &[&str] = &[
    "[groups]",
    "loop = [\"group:loop\"]",
    "[regions]",
    "eu = [\"role:edge\"]",
    "[random_faults]",
    "mtbf = \"1ns\"",
    "[[random_faults.kind]]",
    "kind = \"node.crash\"",
    "[[fault]]",
    "at = \"1s\"",
    "kind = \"region.outage\"",
    "target = \"count:2:role:edge\"",
    "[[expect]]",
    "metric = \"stall_count\"",
    "op = \"between\"",
    "value = [1, 0]",
    "[sweep]",
    "\"cdn.edges\" = [1, 10000, 4294967295]",
    "\"viewers.count\" = [\"\\u001b\"]",
    "include = [\"/dev/zero\"]",
    "include = [\"../../../etc/passwd.toml\"]",
    "[viewers]",
    "arrivals = [{ at = \"0s\", rate = 1 }, { at = \"30d\", rate = 1e12 }]",
    "[cdn]",
    "edges = 10000",
    "shields = 10000",
    "weights = []",
    "[lb]",
    "devices = 4294967295",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the value of the `line`-th `key = value` line.
    Value {
        line: usize,
        value: usize,
    },
    DropLine {
        line: usize,
    },
    DoubleLine {
        line: usize,
    },
    SwapLines {
        a: usize,
        b: usize,
    },
    InsertLine {
        line: usize,
        text: usize,
    },
    /// Flip, insert or drop a byte (control characters included).
    Byte {
        at: usize,
        byte: u8,
        how: u8,
    },
    Truncate {
        at: usize,
    },
    /// A `--set` of a known key to a hostile value.
    Set {
        key: usize,
        value: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = 0..usize::MAX;
    prop_oneof![
        4 => (index.clone(), 0..HOSTILE.len()).prop_map(|(line, value)| Mutation::Value { line, value }),
        1 => index.clone().prop_map(|line| Mutation::DropLine { line }),
        1 => index.clone().prop_map(|line| Mutation::DoubleLine { line }),
        1 => (index.clone(), index.clone()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        2 => (index.clone(), 0..LINES.len()).prop_map(|(line, text)| Mutation::InsertLine { line, text }),
        1 => (index.clone(), any::<u8>(), 0..3u8).prop_map(|(at, byte, how)| Mutation::Byte { at, byte, how }),
        1 => index.clone().prop_map(|at| Mutation::Truncate { at }),
        2 => (index, 0..HOSTILE.len()).prop_map(|(key, value)| Mutation::Set { key, value }),
    ]
}

/// A mutated input: the file's text and the `--set`s given with it.
#[derive(Clone, Debug)]
struct Input {
    name: String,
    text: String,
    sets: Vec<String>,
}

fn apply(seed: &str, name: &str, mutations: &[Mutation], keys: &[String]) -> Input {
    let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
    let mut sets = Vec::new();
    let mut tail: Option<Vec<u8>> = None;
    for m in mutations {
        let n = lines.len().max(1);
        match *m {
            Mutation::Value { line, value } => {
                let assignments: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
                if let Some(&i) = assignments.get(line % assignments.len().max(1)) {
                    let key = lines[i].split(" = ").next().unwrap_or("").to_string();
                    lines[i] = format!("{key} = {}", HOSTILE[value]);
                }
            }
            Mutation::DropLine { line } if !lines.is_empty() => {
                lines.remove(line % n);
            }
            Mutation::DoubleLine { line } if !lines.is_empty() => {
                let copy = lines[line % n].clone();
                lines.insert(line % n, copy);
            }
            Mutation::SwapLines { a, b } if !lines.is_empty() => lines.swap(a % n, b % n),
            Mutation::InsertLine { line, text } => lines.insert(line % (lines.len() + 1), LINES[text].to_string()),
            Mutation::Byte { at, byte, how } => {
                let mut bytes = tail.take().unwrap_or_else(|| lines.join("\n").into_bytes());
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    match how {
                        0 => bytes[at] = byte,
                        1 => bytes.insert(at, byte),
                        _ => {
                            bytes.remove(at);
                        }
                    }
                }
                tail = Some(bytes);
            }
            Mutation::Truncate { at } => {
                let mut bytes = tail.take().unwrap_or_else(|| lines.join("\n").into_bytes());
                bytes.truncate(at % (bytes.len() + 1));
                tail = Some(bytes);
            }
            Mutation::Set { key, value } => {
                let value = HOSTILE[value].trim_matches('"');
                sets.push(format!("{}={value}", keys[key % keys.len()]));
            }
            _ => {}
        }
        if tail.is_some() {
            // Bytes, once flipped, are what the file holds from here on.
            lines = String::from_utf8_lossy(tail.as_ref().unwrap())
                .lines()
                .map(str::to_string)
                .collect();
            tail = None;
        }
    }
    Input {
        name: name.to_string(),
        text: lines.join("\n") + "\n",
        sets,
    }
}

/// Every dotted key a scenario has, as `--set` names it.
fn leaf_keys(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, child) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_keys(&path, child, out);
            }
        }
        toml::Value::Array(items) if items.iter().all(|i| i.is_table()) && !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                leaf_keys(&format!("{prefix}[{i}]"), item, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// The properties every input must have.
fn check(input: &Input, folder: &Path, inputs: &Cell<u64>) -> Result<(), TestCaseError> {
    inputs.set(inputs.get() + 1);
    // Loaded where the bundled scenarios are, so includes resolve as they would.
    let file = folder.join(&input.name);
    let file = file.to_string_lossy();
    PEAK.store(CURRENT.load(Ordering::Relaxed), Ordering::Relaxed);
    let before = CURRENT.load(Ordering::Relaxed);
    let started = Instant::now();
    let loaded = std::panic::catch_unwind(|| failcast::scenario::load_str(&file, &input.text, &input.sets));
    let elapsed = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    let loaded = loaded.map_err(|_| TestCaseError::fail("loading panicked"))?;
    prop_assert!(elapsed < TIME_LIMIT, "loading took {elapsed:?}");
    prop_assert!(peak < MEMORY_LIMIT_BYTES, "loading allocated {peak} bytes at its peak");
    if std::env::var("FUZZ_DEBUG").is_ok() {
        match &loaded {
            Ok(_) => eprintln!("OK {} {:?}", input.name, input.sets),
            Err(d) => eprintln!("ERR {} {}", input.name, d.0[0].message),
        }
    }
    match loaded {
        Err(diagnostics) => {
            prop_assert!(!diagnostics.0.is_empty(), "a refusal with no diagnostic");
            for d in &diagnostics.0 {
                let located = (d.line.is_some() && d.column.is_some()) || d.file == "--set";
                prop_assert!(located, "not located: {d}");
                prop_assert!(!d.message.trim().is_empty(), "no message: {d:?}");
            }
            let shown = diagnostics.to_string();
            let raw = shown.chars().find(|&c| failcast::text::is_unsafe(c) && c != '\n');
            prop_assert!(raw.is_none(), "a raw control character is printed: {shown:?}");
        }
        Ok(scenario) => {
            let written = scenario.to_toml().map_err(TestCaseError::fail)?;
            let again = failcast::scenario::load_str("scenario.toml", &written, &[]);
            prop_assert!(
                again.as_ref().is_ok_and(|a| a == &scenario),
                "scenario.toml does not replay: {again:?}"
            );
            let estimate = failcast::experiment::memory::estimate(&scenario, true);
            prop_assert!(estimate.bytes() > 0);
        }
    }
    Ok(())
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn the_loader_survives_mutated_scenarios() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut seeds: Vec<(String, String)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    seeds.sort();
    let defaults =
        failcast::scenario::load_str("d.toml", "[scenario]\nname = \"d\"\nduration = \"1h\"\n", &[]).unwrap();
    let mut keys = Vec::new();
    leaf_keys("", &toml::Value::try_from(&defaults).unwrap(), &mut keys);
    keys.extend(["fault[0].target", "fault[0].at", "expect[0].value", "scenario.include"].map(String::from));
    let strategy = (0..seeds.len(), proptest::collection::vec(mutation(), 1..5))
        .prop_map(move |(seed, mutations)| apply(&seeds[seed].1, &seeds[seed].0, &mutations, &keys));
    let budget = env_number("FAILCAST_FUZZ_SECONDS").map(Duration::from_secs);
    let cases = env_number("FAILCAST_FUZZ_CASES").unwrap_or(300) as u32;
    let started = Instant::now();
    let inputs = Cell::new(0u64);
    // Rounds of `cases` inputs, each round seeded by its number: a failure repeats.
    for round in 0u64.. {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&round.to_le_bytes());
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        if let Err(failure) = runner.run(&strategy, |input| check(&input, &folder, &inputs)) {
            panic!("after {} inputs (round {round}): {failure}", inputs.get());
        }
        if budget.is_none_or(|budget| started.elapsed() >= budget) {
            break;
        }
    }
    println!(
        "fuzz: {} inputs in {:.0} s, no finding",
        inputs.get(),
        started.elapsed().as_secs_f64()
    );
}
