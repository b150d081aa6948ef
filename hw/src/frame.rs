//! A 1-bit frame buffer that screens draw into and panels display.

use embedded_graphics::pixelcolor::BinaryColor;
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
