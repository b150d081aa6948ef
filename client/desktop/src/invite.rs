//! Reading an invite: pasted as text, or from a picture of the box's screen
//! (its QR code, decoded with `rqrr`).

use std::path::Path;

use onionchat_proto::wire::InviteLink;

/// The biggest picture we try to read (a phone photo is well below this).
const MAX_PICTURE_BYTES: u64 = 64 * 1024 * 1024;

/// Why an invite could not be read; shown to the user as is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InviteError {
    /// Nothing was entered.
    #[error("Paste the invite link from the box's screen, or open a picture of its QR code.")]
    Empty,
    /// The text is not an invite link.
    #[error("That is {0}. Copy the whole link from the box's screen.")]
    Malformed(String),
    /// The picture could not be opened or decoded.
    #[error("Cannot open the picture: {0}")]
    Picture(String),
    /// The picture has no readable QR code.
    #[error("No QR code found in that picture. Try a sharper, straighter photo of the screen.")]
    NoQrCode,
}

/// Parse a pasted invite link (surrounding spaces and line breaks ignored).
pub fn from_text(text: &str) -> Result<InviteLink, InviteError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(InviteError::Empty);
    }
    InviteLink::parse(text).map_err(|e| InviteError::Malformed(e.to_string()))
}

/// Find the QR code in a picture (PNG or JPEG) and parse its invite.
pub fn from_picture(path: &Path) -> Result<InviteLink, InviteError> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let len = std::fs::metadata(path)
        .map_err(|e| {
            InviteError::Picture(match e.kind() {
                std::io::ErrorKind::NotFound => format!("there is no file {name}"),
                _ => format!("{name} cannot be read ({e})"),
            })
        })?
        .len();
    if len > MAX_PICTURE_BYTES {
        return Err(InviteError::Picture(
            "the file is too big for a picture".into(),
        ));
    }
    // The decoder's own words ("Format error decoding Jpeg: … Illegal
    // start bytes") help nobody: say what the file is not.
    let not_a_picture = || {
        InviteError::Picture(format!(
            "{name} is not a PNG or JPEG picture, or it is damaged"
        ))
    };
    let picture = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|_| not_a_picture())?
        .decode()
        .map_err(|_| not_a_picture())?
        .into_luma8();
    let (w, h) = (picture.width() as usize, picture.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        picture.get_pixel(x as u32, y as u32)[0]
    });
    for grid in prepared.detect_grids() {
        if let Ok((_, content)) = grid.decode() {
            return from_text(&content);
        }
    }
    Err(InviteError::NoQrCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "onionchat://127.0.0.1:8480/ABCDEFGHIJKLMNOP";

    /// Draw `text` as a QR code, 8 pixels a module with a quiet zone.
    fn qr_png(text: &str, path: &Path) {
        let code = qrcode::QrCode::new(text.as_bytes()).expect("qr");
        let width = code.width();
        let colors = code.to_colors();
        let (scale, quiet) = (8u32, 4u32);
        let side = (width as u32 + 2 * quiet) * scale;
        let img = image::GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= quiet
                && my >= quiet
                && mx < quiet + width as u32
                && my < quiet + width as u32
                && colors[((my - quiet) as usize) * width + (mx - quiet) as usize]
                    == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        img.save(path).expect("save png");
    }

    #[test]
    fn a_pasted_link_is_trimmed_and_parsed() {
        let link = from_text(&format!("  {LINK}\n")).expect("parses");
        assert_eq!(link.address, "127.0.0.1:8480");
        assert_eq!(link.code, "ABCDEFGHIJKLMNOP");
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        assert_eq!(from_text(" \n"), Err(InviteError::Empty));
        let err = from_text("https://example.com/join").expect_err("not an invite");
        assert!(matches!(err, InviteError::Malformed(_)));
        assert!(err.to_string().contains("onionchat://"), "{err}");
    }

    #[test]
    fn the_qr_code_in_a_picture_is_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("screen.png");
        qr_png(LINK, &path);
        let link = from_picture(&path).expect("decoded");
        assert_eq!(link.to_string(), from_text(LINK).expect("link").to_string());
    }

    #[test]
    fn pictures_without_an_invite_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("tmp");
        let blank = dir.path().join("blank.png");
        image::GrayImage::from_pixel(64, 64, image::Luma([255]))
            .save(&blank)
            .expect("save");
        assert_eq!(from_picture(&blank), Err(InviteError::NoQrCode));

        let other = dir.path().join("other.png");
        qr_png("https://example.com", &other);
        assert!(matches!(
            from_picture(&other),
            Err(InviteError::Malformed(_))
        ));

        let not_a_picture = dir.path().join("notes.png");
        std::fs::write(&not_a_picture, b"not a picture at all").expect("write");
        assert!(matches!(
            from_picture(&not_a_picture),
            Err(InviteError::Picture(_))
        ));
        assert!(matches!(
            from_picture(&dir.path().join("missing.png")),
            Err(InviteError::Picture(_))
        ));
    }
}
