//! The `Display` seam: something that shows a [`Frame`]. Chosen by a spec
//! string (`--display`): `none`, `png:PATH`, `ssd1306:/dev/i2c-1[@0x3d]`,
//! `fb:/dev/fb0`,
//! or `auto` (probe the usual I2C addresses, else none).

pub mod framebuffer;
pub mod png;
pub mod ssd1306;

use embedded_graphics::prelude::Size;

use crate::frame::Frame;

/// Why a display failed. The node logs it and retries later.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisplayError {
    /// The bus (I2C/SPI) or the panel did not answer.
    #[error("display bus error: {0}")]
    Bus(String),
    /// A file could not be written.
    #[error("display output: {0}")]
    Io(String),
    /// The spec does not name a known display.
    #[error("unknown display '{0}' (try none, auto, png:FILE, ssd1306:/dev/i2c-1, fb:/dev/fb0)")]
    Unknown(String),
}

/// A panel (or file) that shows frames.
pub trait Display: Send {
    /// What it is, for logs.
    fn name(&self) -> String;
    /// Its size in pixels.
    fn size(&self) -> Size;
    /// Show a frame.
    fn show(&mut self, frame: &Frame) -> Result<(), DisplayError>;
    /// Turn the panel on or off (burn-in care).
    fn set_on(&mut self, on: bool) -> Result<(), DisplayError>;
}

/// Open the display a spec names; `Ok(None)` means "no display".
pub fn open(spec: &str) -> Result<Option<Box<dyn Display>>, DisplayError> {
    match spec {
        "none" | "" => Ok(None),
        "auto" => Ok(auto()),
        s if s.starts_with("png:") => Ok(Some(Box::new(png::PngSink::new(&s[4..])))),
        s if s.starts_with("fb:") => Ok(Some(Box::new(framebuffer::Framebuffer::open(&s[3..])?))),
        #[cfg(feature = "linux")]
        s if s.starts_with("ssd1306:") => {
            let rest = &s[8..];
            let (dev, addr) = match rest.split_once('@') {
                Some((d, a)) => (
                    d,
                    u8::from_str_radix(a.trim_start_matches("0x"), 16)
                        .map_err(|_| DisplayError::Unknown(s.into()))?,
                ),
                None => (rest, 0x3C),
            };
            let i2c = linux_embedded_hal::I2cdev::new(dev)
                .map_err(|e| DisplayError::Bus(format!("{dev}: {e}")))?;
            Ok(Some(Box::new(ssd1306::Ssd1306Panel::new(
                i2c,
                addr,
                format!("SSD1306 on {dev} at {addr:#04x}"),
            )?)))
        }
        other => Err(DisplayError::Unknown(other.into())),
    }
}

/// Look for a common OLED on the first I2C bus (0x3C, then 0x3D).
fn auto() -> Option<Box<dyn Display>> {
    #[cfg(feature = "linux")]
    for dev in ["/dev/i2c-1", "/dev/i2c-0"] {
        if !std::path::Path::new(dev).exists() {
            continue;
        }
        for addr in [0x3C, 0x3D] {
            let Ok(i2c) = linux_embedded_hal::I2cdev::new(dev) else {
                continue;
            };
            if let Ok(panel) =
                ssd1306::Ssd1306Panel::new(i2c, addr, format!("SSD1306 on {dev} at {addr:#04x}"))
            {
                return Some(Box::new(panel));
            }
        }
    }
    None
}
