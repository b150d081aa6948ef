//! The app's screens. Each keeps its own state, messages, `update` and
//! `view`; [`crate::app`] switches between them.
//!
//! - [`start`]: unlock a profile, join a box from an invite (text or QR
//!   picture), or import a profile from another computer;
//! - [`bridges`]: "Tor is blocked here" — bridge lines for the whole app,
//!   from a stuck connection or the settings page;
//! - [`home`]: the signed-in window — contacts, rooms, the open chat and the
//!   side panels ([`chat`], [`verify`], [`owner`]).

pub mod bridges;
pub mod chat;
pub mod home;
pub mod owner;
pub mod start;
pub mod verify;
