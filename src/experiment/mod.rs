//! Experiments: run one scenario, check it for determinism, evaluate its expectations,
//! and benchmark the kernel.

pub mod bench;
pub mod run;

pub use run::{check_determinism, evaluate, run_scenario, RunOutput, Verdict};
