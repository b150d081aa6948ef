//! SSD1306 128×64 OLED over I2C, through the `ssd1306` crate. Generic over
//! any embedded-hal 1.0 `I2c`, so the same code drives `/dev/i2c-1`
//! (linux-embedded-hal) and the recording double in the tests.

use ssd1306::mode::BufferedGraphicsMode;
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};

use super::{Display, DisplayError, Kind};
use crate::frame::Picture;

/// An SSD1306 panel.
pub struct Ssd1306Panel<I: embedded_hal::i2c::I2c> {
    dev: Ssd1306<I2CInterface<I>, DisplaySize128x64, BufferedGraphicsMode<DisplaySize128x64>>,
    name: String,
}

fn bus(e: impl std::fmt::Debug) -> DisplayError {
    DisplayError::Bus(format!("{e:?}"))
}

impl<I: embedded_hal::i2c::I2c> Ssd1306Panel<I> {
    /// Initialize the panel at `addr` (0x3C or 0x3D).
    pub fn new(i2c: I, addr: u8, name: String) -> Result<Self, DisplayError> {
        let iface = I2CDisplayInterface::new_custom_address(i2c, addr);
        let mut dev = Ssd1306::new(iface, DisplaySize128x64, DisplayRotation::Rotate0)
            .into_buffered_graphics_mode();
        dev.init().map_err(bus)?;
        Ok(Ssd1306Panel { dev, name })
    }
}

impl<I: embedded_hal::i2c::I2c + Send> Display for Ssd1306Panel<I> {
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
                self.dev.set_pixel(x, y, frame.get(x, y));
            }
        }
        self.dev.flush().map_err(bus)
    }

    fn set_on(&mut self, on: bool) -> Result<(), DisplayError> {
        self.dev.set_display_on(on).map_err(bus)
    }

    fn set_dim(&mut self, dim: bool) -> Result<(), DisplayError> {
        let level = if dim {
            Brightness::DIMMEST
        } else {
            Brightness::NORMAL
        };
        self.dev.set_brightness(level).map_err(bus)
    }
}
