//! A PNG file as the display (development, tests, README pictures):
//! 1 pixel per panel pixel, no simulator theme (which would add scale and gaps).

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics_simulator::{OutputSettingsBuilder, SimulatorDisplay};

use super::{Display, DisplayError};
use crate::frame::Frame;

/// Writes each frame to a PNG (atomically: temp file, then rename).
pub struct PngSink {
    path: std::path::PathBuf,
    on: bool,
}

impl PngSink {
    /// Write frames to `path`.
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        PngSink {
            path: path.into(),
            on: true,
        }
    }
}

/// Render a frame to a simulator display (white = lit).
pub fn to_simulator(frame: &Frame) -> SimulatorDisplay<BinaryColor> {
    let size = frame.size();
    let mut d = SimulatorDisplay::new(size);
    let pixels = (0..size.height).flat_map(|y| (0..size.width).map(move |x| (x, y)));
    let _ = d.draw_iter(pixels.map(|(x, y)| {
        Pixel(
            Point::new(x as i32, y as i32),
            BinaryColor::from(frame.get(x, y)),
        )
    }));
    d
}

/// Save a frame as PNG.
pub fn save(frame: &Frame, path: &std::path::Path) -> Result<(), DisplayError> {
    let tmp = path.with_extension("tmp.png");
    to_simulator(frame)
        .to_rgb_output_image(&OutputSettingsBuilder::new().build())
        .save_png(&tmp)
        .map_err(|e| DisplayError::Io(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| DisplayError::Io(e.to_string()))
}

impl Display for PngSink {
    fn name(&self) -> String {
        format!("PNG file {}", self.path.display())
    }

    fn size(&self) -> Size {
        Size::new(128, 64)
    }

    fn show(&mut self, frame: &Frame) -> Result<(), DisplayError> {
        if self.on {
            save(frame, &self.path)
        } else {
            save(&Frame::new(128, 64), &self.path)
        }
    }

    fn set_on(&mut self, on: bool) -> Result<(), DisplayError> {
        self.on = on;
        Ok(())
    }
}
