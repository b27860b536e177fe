//! Experiments: run one scenario, check it for determinism, evaluate its expectations,
//! run batches of (setup, seed) runs for `check`, `compare` and `sweep`, and benchmark
//! the kernel.

pub mod batch;
pub mod bench;
pub mod check;
pub mod compare;
pub mod memory;
pub mod run;
pub mod sweep;

pub use run::{check_determinism, evaluate, run_scenario, DeterminismReport, RunOutput, Verdict};
