//! The hot path does not allocate per event: a run's allocations past building the
//! world stay far below one per event. Counted by this test binary's own allocator,
//! per thread (a run happens on the thread that starts it; tests run side by side).
//!
//! What is left is mostly per segment, not per event (each edge's playlist snapshot,
//! shared by its replies), so it weighs more the fewer viewers a segment serves; the
//! counts are deterministic. Measured
//! when written: 0.080 on the reference day (1.49 when each host's turn was an actix
//! message), 0.051 with squads (0.132 when an edge listed a squad's members to answer
//! it), 0.003 behind a hardware balancer with capped edges (0.912 when ordering each
//! instant's requests built new lists).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use failcast::experiment::run_scenario;

struct Counting;

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    CALLS.with(|calls| calls.set(calls.get() + 1));
}

// SAFETY: every call goes to `System` unchanged; counting touches only a thread-local
// integer, which needs no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(block, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Events and allocator calls of one run of `file` for `minutes`.
fn counted(file: &str, minutes: u32, overrides: &[&str]) -> (u64, u64) {
    let duration = format!("scenario.duration={minutes}m");
    let mut all = vec![duration.as_str()];
    all.extend_from_slice(overrides);
    let s = common::scenario(file, &all);
    let before = CALLS.with(Cell::get);
    let out = run_scenario(&s, s.scenario.seed, None, false).expect("the run completes");
    (out.summary.events, CALLS.with(Cell::get) - before)
}

/// Allocator calls per event that the longer run adds over the shorter one: building
/// the world and writing the summary cost the same in both, so this is the event loop.
fn per_extra_event(file: &str, minutes: (u32, u32), overrides: &[&str]) -> f64 {
    let (short_events, short_calls) = counted(file, minutes.0, overrides);
    let (long_events, long_calls) = counted(file, minutes.1, overrides);
    assert!(
        long_events > short_events + 50_000,
        "{short_events} → {long_events} events"
    );
    let extra_calls = (long_calls.checked_sub(short_calls)).expect("a longer run allocates no less");
    extra_calls as f64 / (long_events - short_events) as f64
}

/// Eight streams, sparse windows (a host's turn in a window as an actix message cost
/// two allocations), random faults.
#[test]
fn the_reference_day_allocates_almost_nothing_per_event() {
    let per_event = per_extra_event("scenarios/reference-day.toml", (30, 60), &["viewers.count=1000"]);
    assert!(per_event < 0.15, "{per_event:.3} allocations per event");
}

/// Squads of many viewers: an edge answering a whole squad lists no members.
#[test]
fn squads_allocate_almost_nothing_per_event() {
    let per_event = per_extra_event(
        "scenarios/quickstart.toml",
        (12, 24),
        &["viewers.squads=true", "viewers.join_step=1s", "viewers.count=2500"],
    );
    assert!(per_event < 0.08, "{per_event:.3} allocations per event");
}

/// A hardware balancer pair and capped edges behind it: each instant's requests are
/// placed, and served, in viewer order from lists kept between instants.
#[test]
fn hardware_balancing_allocates_almost_nothing_per_event() {
    let per_event = per_extra_event("scenarios/hardware-lb.toml", (7, 14), &["cdn.edge_capacity_mbps=200"]);
    assert!(per_event < 0.05, "{per_event:.3} allocations per event");
}
