//! failcast: a deterministic, actor-based simulation and chaos testbed for the control
//! plane of a 24/7 live-streaming system.
//!
//! Module map (dependencies point down the list only where the layer allows):
//! - [`time`]: virtual time, shared by every layer; [`text`]: safe printing of any text;
//!   `names`: enums spelled as scenario files spell them.
//! - [`control`]: the control plane as pure sans-IO state machines.
//! - [`sim`]: kernel (virtual clock, event queue, dispatch), network, seeds, event log.
//! - [`actors`]: one actix actor per component kind, wrapping `control`.
//! - [`scenario`]: the TOML schema, `--set` overrides, validation.
//! - [`metrics`]: the frame ledger, failover episodes, per-viewer QoE, timeline.
//! - [`report`]: writes summary.json and the CSVs, atomically.
//! - [`folders`]: what failcast may replace or delete: markers, locks, atomic writes.
//! - [`experiment`]: run one scenario, check determinism, benchmark the kernel.
//! - `cli`/`main` (binary): argument parsing and exit codes only.

#[macro_use]
mod names;

pub mod actors;
pub mod control;
pub mod experiment;
pub mod files;
pub mod folders;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod text;
pub mod time;
