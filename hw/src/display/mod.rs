//! The `Display` seam: something that shows a [`Picture`]. Chosen by a
//! spec string (`--display`):
//!
//! - `none`; `auto` (probe the usual I2C addresses for an OLED, else none)
//! - `png:FILE` (128×64 mono) or `png:FILE@WxH` (colour layout) for development
//! - `ssd1306:/dev/i2c-1[@0x3d]`, `sh1106:/dev/i2c-1[@0x3c]` (I2C OLEDs)
//! - `st7789:/dev/spidev0.0,dc=25,rst=27[,bl=18,…]`, `ili9341:…` (SPI TFTs, see [`tft`])
//! - `fb:/dev/fb0` (HDMI or SPI screens with a kernel driver)

pub mod framebuffer;
pub mod png;
pub mod sh1106;
pub mod ssd1306;
pub mod tft;

use embedded_graphics::prelude::Size;

use crate::frame::Picture;

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
    #[error(
        "unknown display '{0}' (try none, auto, png:FILE, ssd1306:/dev/i2c-1, sh1106:/dev/i2c-1, st7789:/dev/spidev0.0,dc=25,rst=27, ili9341:…, fb:/dev/fb0)"
    )]
    Unknown(String),
}

/// What kind of picture a display takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 1-bit 128×64 frame (OLEDs); these panels burn in, so the runner
    /// shifts the picture now and then.
    Mono,
    /// A colour frame of this size (TFTs, framebuffers).
    Color(Size),
}

/// A panel (or file) that shows frames.
pub trait Display: Send {
    /// What it is, for logs.
    fn name(&self) -> String;
    /// What it takes.
    fn kind(&self) -> Kind;
    /// Show a picture (of the kind it takes; the runner makes sure).
    fn show(&mut self, picture: &Picture) -> Result<(), DisplayError>;
    /// Turn the panel on or off (burn-in care, power).
    fn set_on(&mut self, on: bool) -> Result<(), DisplayError>;
    /// Dim the panel (after a quiet spell) or bring it back to full
    /// brightness. Panels without brightness control ignore it.
    fn set_dim(&mut self, dim: bool) -> Result<(), DisplayError> {
        let _ = dim;
        Ok(())
    }
}

/// Open the display a spec names; `Ok(None)` means "no display".
pub fn open(spec: &str) -> Result<Option<Box<dyn Display>>, DisplayError> {
    let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "none" | "" => Ok(None),
        "auto" => Ok(auto()),
        "png" => Ok(Some(Box::new(png::PngSink::from_spec(rest)?))),
        "fb" => Ok(Some(Box::new(framebuffer::Framebuffer::open(rest)?))),
        "st7789" | "ili9341" => {
            let model = if kind == "st7789" {
                tft::Model::St7789
            } else {
                tft::Model::Ili9341
            };
            let parsed = tft::TftSpec::parse(model, rest)?;
            #[cfg(feature = "linux")]
            return tft::open(&parsed).map(Some);
            #[cfg(not(feature = "linux"))]
            return Err(DisplayError::Unknown(format!(
                "{spec} (built without Linux drivers)"
            )));
        }
        "ssd1306" | "sh1106" => {
            let (dev, addr) = parse_i2c(rest).ok_or_else(|| DisplayError::Unknown(spec.into()))?;
            #[cfg(feature = "linux")]
            return open_oled(kind, dev, addr).map(Some);
            #[cfg(not(feature = "linux"))]
            return Err(DisplayError::Unknown(format!(
                "{spec} (built without Linux drivers)"
            )));
        }
        _ => Err(DisplayError::Unknown(spec.into())),
    }
}

/// `/dev/i2c-1` or `/dev/i2c-1@0x3d` → device and address (default 0x3C).
fn parse_i2c(rest: &str) -> Option<(&str, u8)> {
    match rest.split_once('@') {
        Some((d, a)) => Some((d, u8::from_str_radix(a.trim_start_matches("0x"), 16).ok()?)),
        None if !rest.is_empty() => Some((rest, 0x3C)),
        None => None,
    }
}

/// `240x135` → (240, 135).
pub(crate) fn parse_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X'])?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

/// The mono frame of a picture, for 1-bit panels.
pub(crate) fn mono(picture: &Picture) -> Result<&crate::frame::Frame, DisplayError> {
    match picture {
        Picture::Mono(f) => Ok(f),
        Picture::Color(_) => Err(DisplayError::Io(
            "a monochrome panel was given a colour frame".into(),
        )),
    }
}

#[cfg(feature = "linux")]
fn open_oled(kind: &str, dev: &str, addr: u8) -> Result<Box<dyn Display>, DisplayError> {
    let i2c = linux_embedded_hal::I2cdev::new(dev)
        .map_err(|e| DisplayError::Bus(format!("{dev}: {e}")))?;
    let name = format!("{} on {dev} at {addr:#04x}", kind.to_uppercase());
    Ok(if kind == "sh1106" {
        Box::new(sh1106::Sh1106Panel::new(i2c, addr, name)?)
    } else {
        Box::new(ssd1306::Ssd1306Panel::new(i2c, addr, name)?)
    })
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
