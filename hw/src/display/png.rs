//! A PNG file as the display (development, tests, README pictures):
//! 1 pixel per panel pixel, no simulator theme (which would add scale and
//! gaps). `png:FILE` takes the 128×64 monochrome layout, `png:FILE@WxH` the
//! colour layout at that size.

use embedded_graphics::pixelcolor::{BinaryColor, Rgb565};
use embedded_graphics::prelude::*;
use embedded_graphics_simulator::{OutputSettingsBuilder, SimulatorDisplay};

use super::{Display, DisplayError, Kind};
use crate::frame::{ColorFrame, Frame, Picture};

/// Writes each frame to a PNG (atomically: temp file, then rename).
pub struct PngSink {
    path: std::path::PathBuf,
    kind: Kind,
    on: bool,
}

impl PngSink {
    /// Write monochrome 128×64 frames to `path`.
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self::with_kind(path, Kind::Mono)
    }

    /// Write pictures of `kind` to `path`.
    pub fn with_kind(path: impl Into<std::path::PathBuf>, kind: Kind) -> Self {
        PngSink {
            path: path.into(),
            kind,
            on: true,
        }
    }

    /// Parse the part after `png:`: `FILE` or `FILE@WxH`.
    pub fn from_spec(spec: &str) -> Result<Self, DisplayError> {
        match spec.rsplit_once('@') {
            Some((path, size)) => {
                let (w, h) = super::parse_size(size)
                    .ok_or_else(|| DisplayError::Unknown(format!("png:{spec}")))?;
                if w < crate::screens::color::MIN_SIZE.width
                    || h < crate::screens::color::MIN_SIZE.height
                    || w > 4096
                    || h > 4096
                {
                    return Err(DisplayError::Unknown(format!(
                        "png:{spec} (colour size must be 240x135 to 4096x4096)"
                    )));
                }
                Ok(Self::with_kind(path, Kind::Color(Size::new(w, h))))
            }
            None => Ok(Self::new(spec)),
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

/// Render a colour frame to a simulator display.
pub fn color_to_simulator(frame: &ColorFrame) -> SimulatorDisplay<Rgb565> {
    let size = frame.size();
    let mut d = SimulatorDisplay::new(size);
    let pixels = (0..size.height).flat_map(|y| (0..size.width).map(move |x| (x, y)));
    let _ =
        d.draw_iter(pixels.map(|(x, y)| Pixel(Point::new(x as i32, y as i32), frame.get(x, y))));
    d
}

/// Owner-only and atomic: the picture can show an invite.
fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&std::path::Path) -> Result<(), String>,
) -> Result<(), DisplayError> {
    onionchat_fs::replace_private_with(path, |tmp| write(tmp).map_err(std::io::Error::other))
        .map_err(|e| DisplayError::Io(e.to_string()))
}

/// Save a frame as PNG.
pub fn save(frame: &Frame, path: &std::path::Path) -> Result<(), DisplayError> {
    write_atomically(path, |tmp| {
        to_simulator(frame)
            .to_rgb_output_image(&OutputSettingsBuilder::new().build())
            .save_png(tmp)
            .map_err(|e| e.to_string())
    })
}

/// Save a colour frame as PNG.
pub fn save_color(frame: &ColorFrame, path: &std::path::Path) -> Result<(), DisplayError> {
    write_atomically(path, |tmp| {
        color_to_simulator(frame)
            .to_rgb_output_image(&OutputSettingsBuilder::new().build())
            .save_png(tmp)
            .map_err(|e| e.to_string())
    })
}

impl Display for PngSink {
    fn name(&self) -> String {
        format!("PNG file {}", self.path.display())
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    fn show(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        let size = picture.size();
        match (self.on, picture) {
            (true, Picture::Mono(f)) => save(f, &self.path),
            (true, Picture::Color(f)) => save_color(f, &self.path),
            (false, Picture::Mono(_)) => save(&Frame::new(size.width, size.height), &self.path),
            (false, Picture::Color(_)) => {
                save_color(&ColorFrame::new(size.width, size.height), &self.path)
            }
        }
    }

    fn set_on(&mut self, on: bool) -> Result<(), DisplayError> {
        self.on = on;
        if on {
            return Ok(());
        }
        // Like a panel going dark: the file shows black at once.
        match self.kind {
            Kind::Mono => save(&Frame::new(128, 64), &self.path),
            Kind::Color(s) => save_color(&ColorFrame::new(s.width, s.height), &self.path),
        }
    }
}
