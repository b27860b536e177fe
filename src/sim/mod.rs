//! The simulated world's machinery: virtual clock and event queue ([`kernel`]), network
//! ([`net`]), seeded randomness ([`seed`]) and the event log ([`trace`]).
//! Policy decisions live in `control/`, never here.

mod event;
mod host;
pub mod kernel;
pub mod net;
pub mod places;
pub mod prefetch;
mod queue;
pub mod seed;
pub mod trace;

pub use event::{current_time, panic_text, Input, KernelAction, KERNEL, MAX_MICROSTEPS};
pub use host::{Behavior, Ctx};
pub use kernel::{run_in_system, Dispatch, Kernel, RunStats, Scheduled, SimError, WindowHook};
pub use net::{Degradation, Dest, LinkSpec, Network, NodeId, Partition};
pub use places::Places;
pub use prefetch::{prefetch, prefetch_all};
pub use seed::{derive_key, rng_for, SimRng};
pub use trace::{TraceDigest, TraceMsg, TraceRecord};
