//! How much memory a run will need, estimated from its scenario before anything is
//! built, and how much this machine (or its container, or the process's limits) can
//! give: a run that would not fit is refused with the estimate instead of aborting
//! halfway through.
//!
//! The per-item figures are measured (`failcast run` under `/usr/bin/time -v`, release
//! build; see docs/performance.md) and rounded up, so the estimate errs high: a
//! refusal means the run would likely not fit, and `--no-memory-check` runs it anyway.

use crate::scenario::Scenario;

/// The process itself: the runtime, the plot fonts and the report being rendered
/// (the smallest bundled scenarios peak at 12 to 14 MB).
const BASE_BYTES: u64 = 16 << 20;
/// A viewer with a player of its own (its player, timers, events, record and CSV row).
const BYTES_PER_VIEWER: u64 = 2_600;
/// A viewer in a squad (`viewers.squads` with joins on a grid): squads share a player.
const BYTES_PER_SQUAD_VIEWER: u64 = 1_200;
/// An edge's actor, its caches, its viewers' lists and its rows in the tables.
const BYTES_PER_EDGE: u64 = 64 << 10;
/// One node's load in one 10 s bin of `nodes.csv`: the recorder's counters and the row.
const BYTES_PER_NODE_BIN: u64 = 200;
/// One simulated second in the per-second tables (timeline, requests, viewer states),
/// and in the plots of them the report inlines as SVG (a day of them is megabytes; the
/// report is written after the run, so it can be the peak of a long one).
const BYTES_PER_SECOND: u64 = 400;
/// One segment of one stream in the frame ledger (published, packaged, its ranges).
const BYTES_PER_SEGMENT: u64 = 320;
/// One event of the log `--trace` keeps, with its `events.csv` row and trace entry.
const BYTES_PER_TRACED_EVENT: u64 = 200;
/// Events per viewer and simulated second (players' requests, timers, answers): the
/// quickstart's 4.6 M events of 1,000 viewers over 30 minutes, rounded up.
const EVENTS_PER_VIEWER_SECOND: f64 = 3.0;

/// A run's estimated peak memory, by what needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    pub parts: Vec<(&'static str, u64)>,
}

impl MemoryEstimate {
    pub fn bytes(&self) -> u64 {
        self.parts.iter().fold(0u64, |sum, &(_, b)| sum.saturating_add(b))
    }

    /// The parts that weigh most, for a message: `viewers 2.6 GB, edges 640 MB`.
    pub fn largest_parts(&self) -> String {
        let mut parts = self.parts.clone();
        parts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = (parts.iter().take(3))
            .filter(|(_, b)| *b > 0)
            .map(|(what, b)| format!("{what} {}", human_bytes(*b)))
            .collect();
        shown.join(", ")
    }
}

/// `1536` → `1.5 KB`; powers of 1000, as `ls -h --si` and the bench print them.
pub fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// Estimates the peak memory of running `s` (with `trace`: keeping the event log).
pub fn estimate(s: &Scenario, trace: bool) -> MemoryEstimate {
    let seconds = s.scenario.duration.0.as_secs_f64().ceil().max(1.0);
    let viewers = u64::from(s.viewers.count);
    let squads = s.viewers.squads && !s.viewers.join_step.0.is_zero();
    let per_viewer = if squads {
        BYTES_PER_SQUAD_VIEWER
    } else {
        BYTES_PER_VIEWER
    };
    let edges = u64::from(s.cdn.edges);
    let lb_devices = if s.balancing() == Some(crate::scenario::settings::Balancing::Hardware) {
        u64::from(s.lb.devices)
    } else {
        0
    };
    let loaded_nodes =
        edges + u64::from(s.cdn.origins) + u64::from(s.cdn.shields) + u64::from(s.ingest.servers) + lb_devices;
    let bins = (seconds / crate::metrics::NODE_BIN_S as f64).ceil();
    let segment_s = s.cdn.segment.0.as_secs_f64().max(1e-3);
    let segments = (seconds / segment_s).ceil() * f64::from(s.encoders.count);
    let bytes = |count: f64, each: u64| (count * each as f64).min(u64::MAX as f64) as u64;
    let mut parts = vec![
        ("runtime", BASE_BYTES),
        ("viewers", viewers.saturating_mul(per_viewer)),
        ("edges", edges.saturating_mul(BYTES_PER_EDGE)),
        ("node load table", bytes(loaded_nodes as f64 * bins, BYTES_PER_NODE_BIN)),
        ("per-second tables", bytes(seconds, BYTES_PER_SECOND)),
        ("segments", bytes(segments, BYTES_PER_SEGMENT)),
    ];
    if trace {
        let events = seconds * (viewers as f64 * EVENTS_PER_VIEWER_SECOND + loaded_nodes as f64 * 10.0);
        parts.push(("event log (--trace)", bytes(events, BYTES_PER_TRACED_EVENT)));
    }
    MemoryEstimate { parts }
}

/// What this process may still allocate, and what limits it: the least of the memory
/// the kernel calls available, the cgroup's (a container's) limit less its usage, and
/// the address-space and data limits (`ulimit -v`, `ulimit -d`) less what is mapped.
/// `None` where none of these can be read.
pub fn available() -> Option<(u64, &'static str)> {
    let mut best: Option<(u64, &'static str)> = None;
    let mut offer = |bytes: Option<u64>, what: &'static str| {
        if let Some(bytes) = bytes {
            if best.is_none_or(|(b, _)| bytes < b) {
                best = Some((bytes, what));
            }
        }
    };
    offer(meminfo_available(), "available memory (MemAvailable)");
    offer(cgroup_available(), "the container's memory limit (cgroup)");
    offer(rlimit_available(), "the process's memory limit (ulimit)");
    best
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A `Key:   123 kB` line of /proc/meminfo or /proc/self/status, in bytes.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

fn meminfo_available() -> Option<u64> {
    kb_field(&read("/proc/meminfo")?, "MemAvailable:")
}

/// cgroup v2 (`memory.max` of this process's group) or v1 (`memory.limit_in_bytes`).
fn cgroup_available() -> Option<u64> {
    let groups = read("/proc/self/cgroup")?;
    let number = |path: String| read(&path)?.trim().parse::<u64>().ok();
    for line in groups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if controllers.is_empty() {
            let base = format!("/sys/fs/cgroup{path}");
            if let Some(max) = number(format!("{base}/memory.max")) {
                let used = number(format!("{base}/memory.current")).unwrap_or(0);
                return Some(max.saturating_sub(used));
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            let base = format!("/sys/fs/cgroup/memory{path}");
            if let Some(max) = number(format!("{base}/memory.limit_in_bytes")) {
                let used = number(format!("{base}/memory.usage_in_bytes")).unwrap_or(0);
                return Some(max.saturating_sub(used));
            }
        }
    }
    None
}

#[cfg(target_os = "linux")]
fn rlimit_available() -> Option<u64> {
    let status = read("/proc/self/status")?;
    let limit = |resource| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into the struct it is given.
        let ok = unsafe { libc::getrlimit(resource, &mut limit) } == 0;
        (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
    };
    let address_space = limit(libc::RLIMIT_AS).map(|max| max.saturating_sub(kb_field(&status, "VmSize:").unwrap_or(0)));
    let data = limit(libc::RLIMIT_DATA).map(|max| max.saturating_sub(kb_field(&status, "VmData:").unwrap_or(0)));
    match (address_space, data) {
        (Some(a), Some(d)) => Some(a.min(d)),
        (a, d) => a.or(d),
    }
}

#[cfg(not(target_os = "linux"))]
fn rlimit_available() -> Option<u64> {
    None
}

/// Why runs of these `estimates`, `at_once` of them together, will not be started: they
/// need more than the machine can give. `None`: they fit, or nothing says how much
/// there is.
pub fn refusal(estimates: &[MemoryEstimate], at_once: usize) -> Option<String> {
    let (available, what) = available()?;
    refusal_against(estimates, at_once, available, what)
}

fn refusal_against(estimates: &[MemoryEstimate], at_once: usize, available: u64, what: &str) -> Option<String> {
    let largest = estimates.iter().max_by_key(|e| e.bytes())?;
    let at_once = at_once.max(1) as u64;
    // The largest runs may run together; each worker's run is at most the largest.
    let needed = largest.bytes().saturating_mul(at_once);
    if needed <= available {
        return None;
    }
    let runs = if at_once > 1 {
        format!(
            "{at_once} runs at once need about {} (each up to {})",
            human_bytes(needed),
            human_bytes(largest.bytes())
        )
    } else {
        format!("the run needs about {}", human_bytes(needed))
    };
    Some(format!(
        "{runs}: {}; more than {what} allows ({})",
        largest.largest_parts(),
        human_bytes(available)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quickstart(overrides: &[&str]) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        crate::scenario::load(&path, &overrides).unwrap()
    }

    #[test]
    fn the_estimate_grows_with_what_the_run_keeps() {
        let base = estimate(&quickstart(&[]), false).bytes();
        let crowd = estimate(&quickstart(&["viewers.count=100000"]), false).bytes();
        assert_eq!(crowd - base, 99_000 * BYTES_PER_VIEWER);
        let long = estimate(&quickstart(&["scenario.duration=30d"]), false).bytes();
        assert!(long > base + (30 * 86_400 - 1_800) * BYTES_PER_SECOND);
        let traced = estimate(&quickstart(&[]), true).bytes();
        assert!(traced > base);
        let squads = estimate(&quickstart(&["viewers.squads=true", "viewers.join_step=10ms"]), false).bytes();
        assert!(squads < base);
        let huge = estimate(
            &quickstart(&["viewers.count=4294967295", "scenario.duration=30d"]),
            true,
        );
        assert!(huge.bytes() > 10u64.pow(13), "no overflow: {}", huge.bytes());
    }

    #[test]
    fn a_run_that_does_not_fit_is_refused_with_its_figures() {
        let big = estimate(&quickstart(&["viewers.count=10000000"]), false);
        let message = refusal_against(std::slice::from_ref(&big), 1, 4 << 30, "a test limit").unwrap();
        assert!(
            message.starts_with("the run needs about 26.0 GB: viewers 26.0 GB"),
            "{message}"
        );
        assert!(message.ends_with("more than a test limit allows (4.3 GB)"), "{message}");
        let small = estimate(&quickstart(&[]), false);
        assert_eq!(refusal_against(std::slice::from_ref(&small), 1, 4 << 30, "x"), None);
        // Two workers each hold a run.
        let half = MemoryEstimate {
            parts: vec![("viewers", 3 << 30)],
        };
        assert!(refusal_against(&[half.clone(), half.clone()], 2, 4 << 30, "x").is_some());
        assert_eq!(refusal_against(&[half.clone(), half], 1, 4 << 30, "x"), None);
    }

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.5 KB");
        assert_eq!(human_bytes(26_000_000_000), "26.0 GB");
    }
}
