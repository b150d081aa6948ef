//! SH1106 128×64 OLED over I2C (the 1.3" modules sold next to SSD1306
//! ones; same addresses, different controller with 132-column RAM).
//!
//! The `sh1106` crate still speaks embedded-hal 0.2, so an embedded-hal 1.0
//! `I2c` (linux-embedded-hal's `I2cdev`, or the recording double in the
//! tests) is adapted with `embedded-hal-compat`. The controller has no
//! "display off" in that crate's API, so blanking writes a dark frame and
//! drops the contrast to zero: an unlit OLED pixel does not age.

use embedded_hal_compat::{Reverse, ReverseCompat};
use sh1106::Builder;
use sh1106::prelude::*;

use super::{Display, DisplayError, Kind};
use crate::frame::Picture;

/// Contrast in normal use (the controller's reset value).
pub const CONTRAST_NORMAL: u8 = 0x80;
/// Contrast when dimmed after a quiet spell.
pub const CONTRAST_DIM: u8 = 0x08;

/// An SH1106 panel.
pub struct Sh1106Panel<I: embedded_hal::i2c::I2c> {
    dev: GraphicsMode<I2cInterface<Reverse<I>>>,
    name: String,
    dim: bool,
}

fn bus(e: impl std::fmt::Debug) -> DisplayError {
    DisplayError::Bus(format!("{e:?}"))
}

impl<I: embedded_hal::i2c::I2c> Sh1106Panel<I> {
    /// Initialize the panel at `addr` (0x3C or 0x3D).
    pub fn new(i2c: I, addr: u8, name: String) -> Result<Self, DisplayError> {
        let mut dev: GraphicsMode<_> = Builder::new()
            .with_size(DisplaySize::Display128x64)
            .with_i2c_addr(addr)
            .connect_i2c(i2c.reverse())
            .into();
        dev.init().map_err(bus)?;
        Ok(Sh1106Panel {
            dev,
            name,
            dim: false,
        })
    }

    fn contrast(&self) -> u8 {
        if self.dim {
            CONTRAST_DIM
        } else {
            CONTRAST_NORMAL
        }
    }
}

impl<I: embedded_hal::i2c::I2c + Send> Display for Sh1106Panel<I> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn kind(&self) -> Kind {
        Kind::Mono
    }

    fn show(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        let frame = super::mono(picture)?;
        for y in 0..64 {
            for x in 0..128 {
                self.dev.set_pixel(x, y, u8::from(frame.get(x, y)));
            }
        }
        self.dev.flush().map_err(bus)
    }

    fn set_on(&mut self, on: bool) -> Result<(), DisplayError> {
        if on {
            // The next `show` draws the picture again.
            self.dev.set_contrast(self.contrast()).map_err(bus)
        } else {
            self.dev.set_contrast(0).map_err(bus)?;
            self.dev.clear();
            self.dev.flush().map_err(bus)
        }
    }

    fn set_dim(&mut self, dim: bool) -> Result<(), DisplayError> {
        self.dim = dim;
        self.dev.set_contrast(self.contrast()).map_err(bus)
    }
}
