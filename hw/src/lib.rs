//! # onionchat-hw
//!
//! The box's status screen. Screens are pure functions of a status snapshot
//! ([`status::DisplayStatus`]) drawn onto any embedded-graphics target
//! ([`screens`]); a [`display::Display`] puts a finished frame on a panel:
//! an SSD1306 OLED over I2C, or a PNG file for development and tests.
//! The node drives it ([`runner`]): at most one refresh a second, only when
//! the picture changed, and a missing or failing panel never slows the
//! chat server.

pub mod display;
pub mod frame;
pub mod qr;
pub mod runner;
pub mod screens;
pub mod status;

pub use display::{Display, DisplayError};
pub use frame::Frame;
pub use screens::{Page, render};
pub use status::DisplayStatus;
