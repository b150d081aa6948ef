//! # onionchat-client
//!
//! Everything a desktop OnionChat client does, with no UI: profiles and the
//! encrypted key store ([`profile`]), the transport seam ([`transport`]),
//! the API ([`api`]), and the [`Client`] with its operations — accounts,
//! friends, rooms and keys ([`social`]), messages ([`messaging`]), files
//! ([`files`]) and the live session ([`live`]) — which reports what happens
//! as [`ClientEvent`]s. End-to-end security lives here: every message is
//! verified before it is returned, contact keys are pinned on first sight,
//! and nothing secret is written unencrypted.

pub mod actions;
pub mod admin;
pub mod api;
pub mod client;
pub mod error;
pub mod events;
pub mod files;
pub mod live;
pub mod logging;
pub mod membership;
pub mod messaging;
pub mod picture;
pub mod profile;
pub mod search;
mod seen;
pub mod social;
pub mod transport;
pub mod trust;
pub mod words;

pub use client::{Client, Contact};
pub use error::{ClientError, Result};
pub use events::{ClientEvent, ConnectionState, Deletion, Incoming, Received};
pub use transport::{Connector, TcpConnector};
