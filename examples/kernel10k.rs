//! Profiling aid: the bench workload at 10,000 actors, kernel only.
fn main() {
    let run = failcast::experiment::bench::run_kernel(
        10_000,
        failcast::time::SimDuration::from_secs(6),
        failcast::sim::Dispatch::Window {
            lookahead: failcast::time::SimDuration::from_millis(1),
        },
    );
    println!("{:.2} M events/s", run.events_per_s / 1e6);
}
