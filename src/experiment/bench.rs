//! `failcast bench`: the kernel's events per second on a fixed workload, against a bare
//! binary-heap loop doing the same work (the floor), measured in the same process.
//!
//! Workload: N actors each start with one event; every delivered event makes its actor
//! send one new event to a uniformly random actor after a uniformly random 1–50 ms
//! delay, drawn from the actor's own seeded generator. Both loops draw the same numbers
//! in the same order, so they deliver exactly the same events; the bench checks that.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use rand::Rng;
use serde::Serialize;

use crate::sim::{
    rng_for, run_in_system, Behavior, Ctx, Dispatch, Input, Kernel, LinkSpec, Network, NodeId, SimRng, TraceMsg,
};
use crate::time::{SimDuration, SimTime};

const MIN_DELAY_NS: u64 = 1_000_000;
const MAX_DELAY_NS: u64 = 50_000_000;
const BENCH_SEED: u64 = 42;

#[derive(Debug)]
pub struct Ping;

impl TraceMsg for Ping {
    fn kind(&self) -> &'static str {
        "ping"
    }
    fn digest(&self) -> u64 {
        0
    }
}

struct Pinger {
    rng: SimRng,
    actors: u32,
}

fn draw(rng: &mut SimRng, actors: u32) -> (u32, u64) {
    let target = rng.gen_range(0..actors);
    let delay_ns = rng.gen_range(MIN_DELAY_NS..=MAX_DELAY_NS);
    (target, delay_ns)
}

impl Behavior for Pinger {
    type Msg = Ping;
    fn handle(&mut self, input: Input<Ping>, ctx: &mut Ctx<'_, Ping>) {
        if matches!(input, Input::Start | Input::Msg { .. }) {
            let (target, delay_ns) = draw(&mut self.rng, self.actors);
            ctx.schedule(target + 1, SimDuration::from_nanos(delay_ns), Ping);
        }
    }
}

/// One measurement of the real kernel.
#[derive(Debug, Clone, Serialize)]
pub struct KernelRun {
    pub actors: u32,
    pub events: u64,
    pub wall_s: f64,
    pub events_per_s: f64,
    pub trace_digest: String,
}

/// Runs the workload through the kernel and actix actors.
pub fn run_kernel(actors: u32, span: SimDuration, dispatch: Dispatch) -> KernelRun {
    let started = Instant::now();
    let stats = run_in_system(|| async move {
        let net = Network::new(BENCH_SEED, LinkSpec::default());
        let mut kernel: Kernel<Ping> = Kernel::new(net, SimTime::ZERO + span, dispatch, false);
        for i in 0..actors {
            let name = format!("actor-{i}");
            let rng = rng_for(BENCH_SEED, &name);
            kernel.spawn(&name, 0, Pinger { rng, actors });
        }
        kernel.run().await
    })
    .expect("the bench workload cannot panic");
    let wall_s = started.elapsed().as_secs_f64();
    // Start and Finish inputs are bookkeeping, not workload events.
    let events = stats.events - 2 * u64::from(actors);
    KernelRun {
        actors,
        events,
        wall_s,
        events_per_s: events as f64 / wall_s,
        trace_digest: stats.trace_digest,
    }
}

/// The floor: the same workload on a bare binary heap with one method call per event.
pub fn run_floor(actors: u32, span: SimDuration) -> (u64, f64) {
    let started = Instant::now();
    let end = span.as_nanos();
    let mut rngs: Vec<SimRng> = (0..actors)
        .map(|i| rng_for(BENCH_SEED, &format!("actor-{i}")))
        .collect();
    let mut seqs = vec![0u64; actors as usize];
    let mut heap: BinaryHeap<Reverse<(u64, NodeId, u64, NodeId)>> = BinaryHeap::new();
    let mut events = 0u64;
    // Each actor's start event schedules its first ping, exactly as in the kernel.
    for i in 0..actors {
        let (target, delay) = draw(&mut rngs[i as usize], actors);
        heap.push(Reverse((delay, i + 1, 0, target + 1)));
        seqs[i as usize] = 1;
    }
    while let Some(Reverse((time, _src, _seq, dst))) = heap.pop() {
        if time >= end {
            break;
        }
        events += 1;
        let idx = (dst - 1) as usize;
        let (target, delay) = draw(&mut rngs[idx], actors);
        heap.push(Reverse((time + delay, dst, seqs[idx], target + 1)));
        seqs[idx] += 1;
    }
    let wall_s = started.elapsed().as_secs_f64();
    (events, wall_s)
}

/// Every figure `failcast bench` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub events_per_s_1k: f64,
    pub events_per_s_10k: f64,
    pub floor_events_per_s_1k: f64,
    pub floor_events_per_s_10k: f64,
    pub ratio_1k: f64,
    pub ratio_10k: f64,
    pub strict_events_per_s_1k: f64,
    pub repeats: u32,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Measures kernel and floor at 1k and 10k actors; medians over `repeats`.
pub fn run_bench(repeats: u32, span_1k: SimDuration, span_10k: SimDuration) -> BenchReport {
    let window = Dispatch::Window {
        lookahead: SimDuration::from_nanos(MIN_DELAY_NS),
    };
    let measure = |actors: u32, span: SimDuration, dispatch: Dispatch| {
        let mut kernel_rates = Vec::new();
        let mut floor_rates = Vec::new();
        for _ in 0..repeats.max(1) {
            let run = run_kernel(actors, span, dispatch);
            let (floor_events, floor_wall) = run_floor(actors, span);
            assert_eq!(
                run.events, floor_events,
                "kernel and floor must deliver the same events"
            );
            kernel_rates.push(run.events_per_s);
            floor_rates.push(floor_events as f64 / floor_wall);
        }
        (median(&mut kernel_rates), median(&mut floor_rates))
    };
    let (k1, f1) = measure(1_000, span_1k, window);
    let (k10, f10) = measure(10_000, span_10k, window);
    let (strict1, _) = measure(1_000, span_1k, Dispatch::Strict);
    BenchReport {
        events_per_s_1k: k1,
        events_per_s_10k: k10,
        floor_events_per_s_1k: f1,
        floor_events_per_s_10k: f10,
        ratio_1k: k1 / f1,
        ratio_10k: k10 / f10,
        strict_events_per_s_1k: strict1,
        repeats: repeats.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every queued event is as large as the largest kernel input: keep them small,
    /// the 10k-actor figure moves with it.
    #[test]
    fn queued_events_stay_small() {
        let size = std::mem::size_of::<crate::sim::Input<Ping>>();
        assert!(size <= 16, "Input<Ping> is {size} bytes");
    }
}
