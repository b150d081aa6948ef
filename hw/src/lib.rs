//! # onionchat-hw
//!
//! The box's status screen. Screens are pure functions of a status snapshot
//! ([`status::DisplayStatus`]) drawn onto any embedded-graphics target
//! ([`screens`]: 128×64 monochrome, and colour layouts for bigger panels in
//! [`screens::color`]); a [`display::Display`] puts a finished picture on a
//! panel: SSD1306/SH1106 OLEDs over I2C, ST7789/ILI9341 TFTs over SPI, the
//! Linux framebuffer, or a PNG file for development and tests. Optional
//! GPIO [`buttons`] change page and ask for an invite. The node drives it
//! ([`runner`]): at most one refresh a second, only when the picture
//! changed, burn-in care for OLEDs, and a missing or failing panel never
//! slows the chat server.

pub mod buttons;
pub mod display;
pub mod frame;
pub mod qr;
pub mod runner;
pub mod screens;
pub mod status;

pub use display::{Display, DisplayError, Kind};
pub use frame::{ColorFrame, Frame, Picture};
pub use screens::color::render_color;
pub use screens::{Page, render};
pub use status::DisplayStatus;
