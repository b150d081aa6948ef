//! The Linux framebuffer (`/dev/fbN`): HDMI screens and SPI panels with a
//! kernel driver. Screens of 240×135 and up get the colour layout (see
//! [`Framebuffer::layout_kind`]), smaller ones the 128×64 one (lit pixels
//! white); either is scaled by the largest whole factor that fits and
//! centred. 16-bit (RGB565) and 32-bit (XRGB8888) framebuffers are supported.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;

use super::{Display, DisplayError, Kind};
use crate::frame::Picture;

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

    /// The picture size this framebuffer takes: the colour layout at the
    /// screen's size divided by a whole factor that keeps text readable from
    /// across a room (a 1920×1080 HDMI screen gets a 480×270 layout drawn
    /// 4× large); screens under 240×135 get the 128×64 layout.
    pub fn layout_kind(&self) -> Kind {
        let g = self.geo;
        let min = crate::screens::color::MIN_SIZE;
        if g.width < min.width || g.height < min.height {
            return Kind::Mono;
        }
        let scale = (g.width / 320).min(g.height / 240).max(1);
        Kind::Color(Size::new(g.width / scale, g.height / scale))
    }

    /// The bytes for a picture (whole screen): scaled by the largest whole
    /// factor that fits, centred, black around it.
    pub fn encode(&self, picture: &Picture) -> Vec<u8> {
        let g = self.geo;
        let p = picture.size();
        let scale = (g.width / p.width).min(g.height / p.height).max(1);
        let (w, h) = (
            (p.width * scale).min(g.width),
            (p.height * scale).min(g.height),
        );
        let (x0, y0) = ((g.width - w) / 2, (g.height - h) / 2);
        let bytes_pp = (g.bpp / 8) as usize;
        let mut buf = vec![0u8; (g.stride * g.height) as usize];
        if !self.on {
            return buf;
        }
        for y in 0..h {
            let row = ((y0 + y) * g.stride) as usize;
            for x in 0..w {
                let c = picture.rgb(x / scale, y / scale);
                let at = row + ((x0 + x) as usize) * bytes_pp;
                if bytes_pp == 2 {
                    buf[at..at + 2].copy_from_slice(&c.into_storage().to_le_bytes());
                } else {
                    let c = Rgb888::from(c);
                    buf[at..at + 4].copy_from_slice(&[c.b(), c.g(), c.r(), 0]);
                }
            }
        }
        buf
    }

    fn write(&self, bytes: &[u8]) -> Result<(), DisplayError> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|e| DisplayError::Io(format!("{}: {e}", self.path.display())))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| DisplayError::Io(e.to_string()))?;
        f.write_all(bytes)
            .map_err(|e| DisplayError::Io(e.to_string()))
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

    fn kind(&self) -> Kind {
        self.layout_kind()
    }

    fn show(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        self.write(&self.encode(picture))
    }

    fn set_on(&mut self, on: bool) -> Result<(), DisplayError> {
        self.on = on;
        if !on {
            // Dark at once, not at the next picture.
            self.write(&vec![0u8; (self.geo.stride * self.geo.height) as usize])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ColorFrame, Frame};
    use embedded_graphics::pixelcolor::BinaryColor;
    use embedded_graphics::pixelcolor::Rgb565;

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
        fb.show(&Picture::Mono(f.clone())).expect("show");
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
        // Blanked: all dark at once, and while off.
        fb.set_on(false).expect("off");
        assert!(std::fs::read(&path).expect("read").iter().all(|b| *b == 0));
        fb.show(&Picture::Mono(f)).expect("show");
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

    #[test]
    fn big_screens_get_the_colour_layout_scaled_up() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("fb1");
        // 1920×1080 XRGB8888: colour layout at 480×270, drawn 4× large.
        let geo = Geometry {
            width: 1920,
            height: 1080,
            bpp: 32,
            stride: 1920 * 4,
        };
        std::fs::write(&path, vec![0u8; 1920 * 4 * 1080]).expect("fb file");
        let mut fb = Framebuffer::with_geometry(&path, geo).expect("fb");
        assert_eq!(fb.kind(), Kind::Color(Size::new(480, 270)));
        let mut c = ColorFrame::new(480, 270);
        c.draw_iter([
            Pixel(Point::new(0, 0), Rgb565::RED),
            Pixel(Point::new(479, 269), Rgb565::new(0, 63, 0)),
        ])
        .expect("draw");
        fb.show(&Picture::Color(c)).expect("show");
        let bytes = std::fs::read(&path).expect("read");
        let px = |x: usize, y: usize| &bytes[y * 1920 * 4 + x * 4..][..4];
        for (x, y) in [(0, 0), (3, 3)] {
            assert_eq!(px(x, y), [0, 0, 0xFF, 0], "({x},{y}) red, as B G R X");
        }
        for (x, y) in [(1916, 1076), (1919, 1079)] {
            assert_eq!(px(x, y), [0, 0xFF, 0, 0], "({x},{y}) green");
        }
        assert_eq!(px(4, 0), [0, 0, 0, 0]);
        assert_eq!(
            bytes.chunks(4).filter(|p| *p != [0, 0, 0, 0]).count(),
            2 * 16,
            "two pixels, 4×4 each"
        );
        // A 160×128 SPI screen is too small for the colour layout.
        let small = Framebuffer::with_geometry(
            &path,
            Geometry {
                width: 160,
                height: 128,
                bpp: 16,
                stride: 320,
            },
        )
        .expect("fb");
        assert_eq!(small.kind(), Kind::Mono);
    }
}
