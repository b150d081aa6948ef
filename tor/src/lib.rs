//! # onionchat-tor
//!
//! The Arti glue the node (onion service) and the client (onion client)
//! share, so both ends talk to Tor the same way:
//!
//! - [`runtime`]: the tokio runtime Arti runs on. It differs from Arti's
//!   stock one in one respect — its TCP connections to Tor relays disable
//!   Nagle's algorithm, which otherwise holds small cells back for a delayed
//!   ACK (≈40 ms on Linux) whenever two writes follow each other closely.
//! - [`config`]: Arti's configuration for one state directory, optionally
//!   pointed at a private Tor network (how the tests and the demo run).
//! - [`progress`]: what Tor is doing while it connects, in one plain line,
//!   and when to say it.
//! - [`bridges`]: bridge lines and the obfs4 program, for networks that
//!   block Tor.
//! - [`shared`]: one Arti client per state directory in a process (Arti
//!   locks the directory; with bridges a second client cannot start).

pub mod bridges;
pub mod config;
pub mod progress;
pub mod runtime;
pub mod shared;

pub use bridges::Bridges;
pub use config::{ConfigError, arti_config};
pub use runtime::{Runtime, RuntimeError};
pub use shared::SharedError;
