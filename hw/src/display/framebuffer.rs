//! The Linux framebuffer (`/dev/fbN`): HDMI screens and SPI panels with a
//! kernel driver. The 128×64 frame is scaled by the largest whole factor
//! that fits and centred; lit pixels are white. 16-bit (RGB565) and 32-bit
//! (XRGB8888) framebuffers are supported.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use embedded_graphics::prelude::Size;

use super::{Display, DisplayError};
use crate::frame::Frame;

/// Geometry of a framebuffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Visible width in pixels.
    pub width: u32,
    /// Visible height in pixels.
    pub height: u32,
    /// Bits per pixel (16 or 32).
    pub bpp: u32,
    /// Bytes per line.
    pub stride: u32,
}

/// A framebuffer device (or any file laid out like one).
pub struct Framebuffer {
    path: PathBuf,
    geo: Geometry,
    on: bool,
}

fn sys(dev: &Path, attr: &str) -> Result<String, DisplayError> {
    let name = dev
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let p = Path::new("/sys/class/graphics").join(&name).join(attr);
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(|e| DisplayError::Io(format!("{}: {e}", p.display())))
}

impl Framebuffer {
    /// Open `/dev/fbN`, reading its geometry from sysfs.
    pub fn open(dev: &str) -> Result<Self, DisplayError> {
        let path = PathBuf::from(dev);
        let size = sys(&path, "virtual_size")?;
        let (w, h) = size
            .split_once(',')
            .ok_or_else(|| DisplayError::Io(format!("odd virtual_size '{size}'")))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| DisplayError::Io(format!("odd framebuffer value '{s}'")))
        };
        let geo = Geometry {
            width: parse(w)?,
            height: parse(h)?,
            bpp: parse(&sys(&path, "bits_per_pixel")?)?,
            stride: parse(&sys(&path, "stride")?)?,
        };
        Self::with_geometry(path, geo)
    }

    /// A framebuffer at `path` with known geometry.
    pub fn with_geometry(path: impl Into<PathBuf>, geo: Geometry) -> Result<Self, DisplayError> {
        if !matches!(geo.bpp, 16 | 32)
            || geo.width < 128
            || geo.height < 64
            || geo.stride < geo.width * geo.bpp / 8
        {
            return Err(DisplayError::Io(format!("unsupported framebuffer {geo:?}")));
        }
        Ok(Framebuffer {
            path: path.into(),
            geo,
            on: true,
        })
    }

    /// The bytes for a frame (whole screen).
    pub fn encode(&self, frame: &Frame) -> Vec<u8> {
        let g = self.geo;
        let scale = (g.width / 128).min(g.height / 64).max(1);
        let (x0, y0) = ((g.width - 128 * scale) / 2, (g.height - 64 * scale) / 2);
        let bytes_pp = (g.bpp / 8) as usize;
        let mut buf = vec![0u8; (g.stride * g.height) as usize];
        let white: &[u8] = if bytes_pp == 2 {
            &[0xFF, 0xFF]
        } else {
            &[0xFF, 0xFF, 0xFF, 0x00]
        };
        for y in 0..64 {
            for x in 0..128 {
                if !(self.on && frame.get(x, y)) {
                    continue;
                }
                for dy in 0..scale {
                    let row = ((y0 + y * scale + dy) * g.stride) as usize;
                    for dx in 0..scale {
                        let at = row + ((x0 + x * scale + dx) as usize) * bytes_pp;
                        buf[at..at + bytes_pp].copy_from_slice(white);
                    }
                }
            }
        }
        buf
    }
}

impl Display for Framebuffer {
    fn name(&self) -> String {
        format!(
            "framebuffer {} ({}×{}, {} bpp)",
            self.path.display(),
            self.geo.width,
            self.geo.height,
            self.geo.bpp
        )
    }

    fn size(&self) -> Size {
        Size::new(128, 64)
    }

    fn show(&mut self, frame: &Frame) -> Result<(), DisplayError> {
        let bytes = self.encode(frame);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|e| DisplayError::Io(format!("{}: {e}", self.path.display())))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| DisplayError::Io(e.to_string()))?;
        f.write_all(&bytes)
            .map_err(|e| DisplayError::Io(e.to_string()))
    }

    fn set_on(&mut self, on: bool) -> Result<(), DisplayError> {
        self.on = on;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::BinaryColor;
    use embedded_graphics::prelude::*;

    #[test]
    fn scales_centres_and_writes_exact_bytes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("fb0");
        // 300×140 RGB565 with a padded stride: scale 2, centred at (22, 6).
        let geo = Geometry {
            width: 300,
            height: 140,
            bpp: 16,
            stride: 640,
        };
        std::fs::write(&path, vec![0u8; 640 * 140]).expect("fb file");
        let mut fb = Framebuffer::with_geometry(&path, geo).expect("fb");
        let mut f = Frame::new(128, 64);
        f.draw_iter([
            Pixel(Point::new(0, 0), BinaryColor::On),
            Pixel(Point::new(127, 63), BinaryColor::On),
        ])
        .expect("draw");
        fb.show(&f).expect("show");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len(), 640 * 140);
        let px = |x: usize, y: usize| {
            u16::from_le_bytes([bytes[y * 640 + x * 2], bytes[y * 640 + x * 2 + 1]])
        };
        for (x, y) in [
            (22, 6),
            (23, 6),
            (22, 7),
            (23, 7),
            (22 + 254, 6 + 126),
            (22 + 255, 6 + 127),
        ] {
            assert_eq!(px(x, y), 0xFFFF, "({x},{y}) lit");
        }
        for (x, y) in [(21, 6), (24, 6), (22, 8), (0, 0), (299, 139)] {
            assert_eq!(px(x, y), 0, "({x},{y}) dark");
        }
        assert_eq!(
            bytes.iter().filter(|b| **b != 0).count(),
            2 * 4 * 2,
            "exactly 8 pixels lit"
        );
        // Blanked: all dark.
        fb.set_on(false).expect("off");
        fb.show(&f).expect("show");
        assert!(std::fs::read(&path).expect("read").iter().all(|b| *b == 0));
        assert!(
            Framebuffer::with_geometry(
                &path,
                Geometry {
                    width: 100,
                    height: 50,
                    bpp: 16,
                    stride: 200
                }
            )
            .is_err()
        );
    }
}
