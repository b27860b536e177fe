//! The simulated world's machinery: virtual clock and event queue ([`kernel`]), network
//! ([`net`]), seeded randomness ([`seed`]) and the event log ([`trace`]).
//! Policy decisions live in `control/`, never here.

pub mod kernel;
pub mod net;
pub mod places;
pub mod prefetch;
pub mod seed;
pub mod trace;

pub use kernel::{
    current_time, panic_text, run_in_system, Behavior, Ctx, Dispatch, Input, Kernel, KernelAction, RunStats, Scheduled,
    SimError, WindowHook, KERNEL,
};
pub use net::{Degradation, Dest, LinkSpec, Network, NodeId, Partition};
pub use places::Places;
pub use prefetch::{prefetch, prefetch_all};
pub use seed::{derive_key, rng_for, SimRng};
pub use trace::{TraceDigest, TraceMsg, TraceRecord};
