//! QR codes sized for the panel.
//!
//! A 128×64 panel has 64 rows. An onion invite link in upper case uses
//! QR's alphanumeric mode; with error correction L the 62-character address
//! form fits version 3 (29×29 modules) at 2 px per module (58 px), which a
//! phone reads at close range. Longer payloads (full invites with an access
//! key) need version 6+ (41+ modules): on 64 rows that is 1 px per module,
//! too small to scan, so the Connect screen then shows the address QR and
//! says to use a bigger screen or `onionchat-node invite create`.

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use qrcode::{EcLevel, QrCode};

/// Pixels per module below which phones cannot read the code.
pub const MIN_READABLE_PX: u32 = 2;

/// A QR code placed on the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Modules per side (without quiet zone).
    pub modules: u32,
    /// Pixels per module.
    pub px: u32,
}

/// Encode `text` (upper case, error correction L).
pub fn encode(text: &str) -> Option<QrCode> {
    QrCode::with_error_correction_level(text.to_ascii_uppercase().as_bytes(), EcLevel::L).ok()
}

/// Draw `code` at `origin` as large as fits in `max` pixels (with a
/// one-module quiet zone). Returns the placement.
pub fn draw<D: DrawTarget<Color = BinaryColor>>(
    target: &mut D,
    code: &QrCode,
    origin: Point,
    max: u32,
) -> Result<Placed, D::Error> {
    let modules = code.width() as u32;
    let px = (max / (modules + 2)).max(1);
    let side = (modules + 2) * px;
    Rectangle::new(origin, Size::new(side, side))
        .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
        .draw(target)?;
    let colors = code.to_colors();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = ((i as u32) % modules, (i as u32) / modules);
            Rectangle::new(
                origin + Point::new(((x + 1) * px) as i32, ((y + 1) * px) as i32),
                Size::new(px, px),
            )
            .into_styled(PrimitiveStyle::with_fill(BinaryColor::Off))
            .draw(target)?;
        }
    }
    Ok(Placed { modules, px })
}
