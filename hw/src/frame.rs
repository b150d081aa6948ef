//! A 1-bit frame buffer that screens draw into and panels display.

use embedded_graphics::pixelcolor::{BinaryColor, Rgb565};
use embedded_graphics::prelude::*;

/// A monochrome frame, row-major, one `bool` per pixel.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame {
    width: u32,
    height: u32,
    pixels: Vec<bool>,
}

impl Frame {
    /// A blank frame.
    pub fn new(width: u32, height: u32) -> Self {
        Frame {
            width,
            height,
            pixels: vec![false; (width * height) as usize],
        }
    }

    /// Pixel at (x, y); off outside the frame.
    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.height && self.pixels[(y * self.width + x) as usize]
    }

    /// Number of lit pixels.
    pub fn lit(&self) -> usize {
        self.pixels.iter().filter(|p| **p).count()
    }

    /// The frame in SSD1306 page order: for each 8-row page, for each
    /// column, one byte whose bit n is row `page*8 + n`.
    pub fn to_pages(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity((self.width * self.height.div_ceil(8)) as usize);
        for page in 0..self.height.div_ceil(8) {
            for x in 0..self.width {
                let mut b = 0u8;
                for bit in 0..8 {
                    if self.get(x, page * 8 + bit) {
                        b |= 1 << bit;
                    }
                }
                out.push(b);
            }
        }
        out
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Frame {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && (p.x as u32) < self.width && (p.y as u32) < self.height {
                self.pixels[(p.y as u32 * self.width + p.x as u32) as usize] = c.is_on();
            }
        }
        Ok(())
    }
}

impl Frame {
    /// The frame moved by `(dx, dy)` pixels; what moves off the edge is lost
    /// and what comes in is dark. Used to shift an OLED's picture a pixel
    /// now and then so no pixel stays lit for months (burn-in).
    pub fn shifted(&self, dx: i32, dy: i32) -> Frame {
        let mut out = Frame::new(self.width, self.height);
        for y in 0..self.height {
            for x in 0..self.width {
                let (sx, sy) = (x as i64 - i64::from(dx), y as i64 - i64::from(dy));
                if sx >= 0 && sy >= 0 {
                    out.pixels[(y * self.width + x) as usize] = self.get(sx as u32, sy as u32);
                }
            }
        }
        out
    }
}

/// A colour frame (RGB565, what SPI TFT panels take), row-major.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ColorFrame {
    width: u32,
    height: u32,
    pixels: Vec<Rgb565>,
}

impl ColorFrame {
    /// A black frame.
    pub fn new(width: u32, height: u32) -> Self {
        ColorFrame {
            width,
            height,
            pixels: vec![Rgb565::BLACK; (width * height) as usize],
        }
    }

    /// Pixel at (x, y); black outside the frame.
    pub fn get(&self, x: u32, y: u32) -> Rgb565 {
        if x < self.width && y < self.height {
            self.pixels[(y * self.width + x) as usize]
        } else {
            Rgb565::BLACK
        }
    }

    /// All pixels, row by row.
    pub fn pixels(&self) -> &[Rgb565] {
        &self.pixels
    }

    /// A monochrome frame scaled by the largest whole factor that fits and
    /// centred (how a small-panel layout is shown on a bigger colour panel).
    pub fn from_mono(mono: &Frame, width: u32, height: u32, lit: Rgb565) -> Self {
        let mut out = ColorFrame::new(width, height);
        let m = mono.size();
        let scale = (width / m.width).min(height / m.height).max(1);
        let (ox, oy) = (
            width.saturating_sub(m.width * scale) / 2,
            height.saturating_sub(m.height * scale) / 2,
        );
        for y in 0..height.min(m.height * scale) {
            for x in 0..width.min(m.width * scale) {
                if mono.get(x / scale, y / scale) && x + ox < width && y + oy < height {
                    out.pixels[((y + oy) * width + x + ox) as usize] = lit;
                }
            }
        }
        out
    }
}

impl OriginDimensions for ColorFrame {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for ColorFrame {
    type Color = Rgb565;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb565>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && (p.x as u32) < self.width && (p.y as u32) < self.height {
                self.pixels[(p.y as u32 * self.width + p.x as u32) as usize] = c;
            }
        }
        Ok(())
    }
}

/// What a display is given: a monochrome or a colour frame.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Picture {
    /// For 1-bit panels (OLEDs), 128×64.
    Mono(Frame),
    /// For colour panels, at the panel's size.
    Color(ColorFrame),
}

impl Picture {
    /// Width and height in pixels.
    pub fn size(&self) -> Size {
        match self {
            Picture::Mono(f) => f.size(),
            Picture::Color(f) => f.size(),
        }
    }

    /// The colour of pixel (x, y) (a lit mono pixel is white).
    pub fn rgb(&self, x: u32, y: u32) -> Rgb565 {
        match self {
            Picture::Mono(f) if f.get(x, y) => Rgb565::WHITE,
            Picture::Mono(_) => Rgb565::BLACK,
            Picture::Color(f) => f.get(x, y),
        }
    }
}
