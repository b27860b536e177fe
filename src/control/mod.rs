//! The control plane as pure, reusable state machines (sans-IO): health checking,
//! failover policy, publisher reconnects, load balancing and the player.
//!
//! Nothing here imports actix, tokio, the simulator, a wall clock or a global RNG: time
//! comes in as `now`, outputs leave through `poll_*` methods. A production service could
//! embed these modules unchanged; failcast's actors only wrap them.

pub mod admission;
pub mod alert;
pub mod balance;
pub mod clock;
pub mod content;
pub mod dns;
pub mod failover;
pub mod health;
pub mod lease;
pub mod passive;
pub mod placement;
pub mod player;
pub mod quorum;
pub mod reconnect;
pub mod vrrp;
