//! # onionchat-desktop
//!
//! The OnionChat desktop app: an [iced] GUI on the client core
//! (`onionchat-client`). It adds no protocol logic of its own: every
//! message, key and membership check happens in the core; this crate shows
//! what the core reports and turns clicks into core calls.
//!
//! Layout: [`app`] holds the top-level state machine (which screen is up)
//! and the one `update`/`view` pair iced calls; each screen keeps its own
//! state, messages, `update` and `view` in [`screen`]; [`session`] is the
//! async glue to the core (unlock, join, the live event stream); [`invite`]
//! reads invite links from text or from a picture of the box's QR code;
//! [`pick`] asks the system's file dialogs. Files and QR pictures can also
//! be dropped on the window.
//!
//! Rendering uses iced's CPU renderer (tiny-skia), so the app runs on
//! machines without a GPU.

pub mod app;
pub mod format;
pub mod invite;
pub mod notify;
pub mod pick;
pub mod screen;
pub mod session;
pub mod settings;
pub mod style;

pub use app::{App, Message, Options};
