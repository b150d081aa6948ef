//! Pictures: the small preview a photo carries inside its message, the
//! photo itself cleaned of its hidden details, and decoding that is
//! bounded against decompression bombs.
//!
//! Everything here runs on the member's device. A preview is decoded from
//! the original, turned upright (the original's orientation tag), shrunk
//! and re-encoded as a fresh JPEG: none of the original's metadata (GPS
//! position, camera, time) survives into it. The full photo is sent as
//! [`clean`] leaves it: the same pixels, without the metadata.

mod clean;

use std::io::Cursor;

pub use clean::clean;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use onionchat_proto::limits::{MAX_PREVIEW_BYTES, MAX_PREVIEW_SIDE};
use onionchat_proto::wire::Preview;

/// Largest picture file a preview is made from, or the app decodes to
/// show (bytes). Larger files are sent as plain files.
pub const MAX_PICTURE_BYTES: u64 = 40 * 1024 * 1024;
/// Most pixels a picture may have to be decoded (a 48-megapixel phone
/// photo fits; a crafted 100 000 × 100 000 header does not).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Longest side a picture may have to be decoded.
pub const MAX_SIDE: u32 = 20_000;
/// Longest side of the preview we make (receivers accept up to
/// [`MAX_PREVIEW_SIDE`]).
pub const PREVIEW_SIDE: u32 = 320;

/// Why a picture could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// Not a picture this app reads (JPEG or PNG).
    #[error("not a JPEG or PNG picture")]
    NotAPicture,
    /// Over one of the bounds above.
    #[error("the picture is too large to show ({0})")]
    TooLarge(String),
    /// The bytes are damaged.
    #[error("the picture is damaged: {0}")]
    Damaged(String),
}

/// The picture format of `bytes` (from their first bytes), if it is one
/// we make previews of.
pub fn picture_format(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => Some(f),
        _ => None,
    }
}

/// The kind of picture `head` (a file's first bytes) starts, when it is a
/// photo format that can carry where it was taken but that this app does
/// not clean (HEIC/HEIF, AVIF, WebP, TIFF and the camera raw formats built
/// on it): a person sending one should be told it goes as it is.
pub fn uncleaned_kind(head: &[u8]) -> Option<&'static str> {
    if head.get(4..8) == Some(b"ftyp") {
        return match head.get(8..12)? {
            b"avif" | b"avis" => Some("AVIF"),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Some("HEIC")
            }
            _ => None,
        };
    }
    if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return Some("WebP");
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return Some("TIFF or camera raw");
    }
    None
}

/// The MIME type of a picture format.
pub fn mime_of(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "image/png",
        _ => "image/jpeg",
    }
}

/// Decode a picture, upright, refusing bombs: the file size, each side and
/// the pixel count are checked from the header before any pixel is
/// decoded, and the decoder's allocations are capped.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, PictureError> {
    if bytes.len() as u64 > MAX_PICTURE_BYTES {
        return Err(PictureError::TooLarge(format!(
            "{} bytes, over {MAX_PICTURE_BYTES}",
            bytes.len()
        )));
    }
    let format = picture_format(bytes).ok_or(PictureError::NotAPicture)?;
    let reader = || {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        // RGBA8 of the largest allowed picture, and some room for the
        // decoder's own buffers.
        limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
        r.limits(limits);
        r
    };
    let (w, h) = reader().into_dimensions().map_err(bounded)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(PictureError::TooLarge(format!(
            "{w} × {h} pixels, over {MAX_PIXELS}"
        )));
    }
    let mut decoder = reader().into_decoder().map_err(bounded)?;
    let orientation = decoder.orientation().map_err(bounded)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(bounded)?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn bounded(e: image::ImageError) -> PictureError {
    match e {
        image::ImageError::Limits(l) => PictureError::TooLarge(l.to_string()),
        image::ImageError::Unsupported(_) => PictureError::NotAPicture,
        other => PictureError::Damaged(other.to_string()),
    }
}

/// Make the preview a photo's message carries: at most
/// [`PREVIEW_SIDE`] pixels a side, a fresh JPEG under
/// [`MAX_PREVIEW_BYTES`] (quality lowered, then size, until it fits).
pub fn make_preview(bytes: &[u8]) -> Result<Preview, PictureError> {
    let img = decode(bytes)?;
    let (full_width, full_height) = (img.width(), img.height());
    let mut side = PREVIEW_SIDE.min(MAX_PREVIEW_SIDE);
    loop {
        // JPEG has no alpha: flatten onto white rather than black.
        // Never made larger than it is.
        let small = if full_width <= side && full_height <= side {
            flatten(&img)
        } else {
            flatten(&img.thumbnail(side, side))
        };
        for quality in [70u8, 55, 40] {
            let mut out = Vec::new();
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            small
                .write_with_encoder(enc)
                .map_err(|e| PictureError::Damaged(e.to_string()))?;
            if out.len() <= MAX_PREVIEW_BYTES {
                return Ok(Preview {
                    mime: "image/jpeg".into(),
                    width: small.width(),
                    height: small.height(),
                    bytes: out,
                    full_width,
                    full_height,
                });
            }
        }
        if side <= 32 {
            return Err(PictureError::TooLarge(
                "no preview under the size limit".into(),
            ));
        }
        side /= 2;
    }
}

fn flatten(img: &DynamicImage) -> DynamicImage {
    if !img.color().has_alpha() {
        return DynamicImage::ImageRgb8(img.to_rgb8());
    }
    let rgba = img.to_rgba8();
    let rgb = image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    });
    DynamicImage::ImageRgb8(rgb)
}

/// Check a received preview without decoding its pixels: its size, that
/// it is a JPEG or PNG, and the sides its header states (each at most
/// [`MAX_PREVIEW_SIDE`]). A preview that passes cannot be a decompression
/// bomb (24 KiB, at most 480 × 480), so a UI may hand its bytes to a
/// decoder that decodes it when it is drawn. Returns its sides.
pub fn check_preview(p: &Preview) -> Result<(u32, u32), PictureError> {
    if p.bytes.len() > MAX_PREVIEW_BYTES {
        return Err(PictureError::TooLarge("preview over its limit".into()));
    }
    let format = picture_format(&p.bytes).ok_or(PictureError::NotAPicture)?;
    let (w, h) = ImageReader::with_format(Cursor::new(&p.bytes), format)
        .into_dimensions()
        .map_err(bounded)?;
    if w == 0 || h == 0 || w > MAX_PREVIEW_SIDE || h > MAX_PREVIEW_SIDE {
        return Err(PictureError::TooLarge(format!(
            "preview of {w} × {h} pixels"
        )));
    }
    Ok((w, h))
}

/// Decode a preview received in a message (it is small, but it came from
/// another member: the same bounds apply, and the preview's own).
pub fn decode_preview(p: &Preview) -> Result<DynamicImage, PictureError> {
    if p.bytes.len() > MAX_PREVIEW_BYTES {
        return Err(PictureError::TooLarge("preview over its limit".into()));
    }
    let img = decode(&p.bytes)?;
    if img.width() > MAX_PREVIEW_SIDE || img.height() > MAX_PREVIEW_SIDE {
        return Err(PictureError::TooLarge(format!(
            "preview of {} × {} pixels",
            img.width(),
            img.height()
        )));
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG of `w`×`h` with an EXIF block that holds a GPS position.
    fn photo_with_gps(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut jpeg, 90,
            ))
            .expect("encode");
        // APP1 "Exif\0\0" + a little-endian TIFF header whose one IFD entry
        // is a GPS IFD pointer, and a marker string standing for the
        // coordinates: enough for any reader to call it GPS metadata, and
        // for the test to look for.
        let mut exif =
            b"Exif\0\0II*\0\x08\0\0\0\x01\0\x25\x88\x04\0\x01\0\0\0\x1a\0\0\0\0\0\0\0".to_vec();
        exif.extend_from_slice(b"GPS 52.3702N 4.8952E secret-home");
        let mut app1 = vec![0xff, 0xe1];
        app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(&exif);
        let mut out = jpeg[..2].to_vec(); // SOI
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_preview_is_small_decodes_and_carries_no_metadata() {
        let photo = photo_with_gps(1600, 1200);
        assert!(contains(&photo, b"secret-home") && contains(&photo, b"Exif"));
        let p = make_preview(&photo).expect("preview");
        assert_eq!((p.full_width, p.full_height), (1600, 1200));
        assert_eq!((p.width, p.height), (320, 240));
        assert!(
            p.bytes.len() <= MAX_PREVIEW_BYTES,
            "{} bytes",
            p.bytes.len()
        );
        assert!(!contains(&p.bytes, b"secret-home"), "GPS text survived");
        assert!(!contains(&p.bytes, b"Exif"), "an EXIF block survived");
        let back = decode_preview(&p).expect("decodes");
        assert_eq!((back.width(), back.height()), (320, 240));
    }

    #[test]
    fn a_png_with_transparency_gets_a_jpeg_preview() {
        let img = image::RgbaImage::from_pixel(50, 20, image::Rgba([0, 0, 0, 0]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("png");
        let p = make_preview(&png).expect("preview");
        assert_eq!((p.width, p.height, p.mime.as_str()), (50, 20, "image/jpeg"));
        // Transparent becomes white, not black.
        let px = decode_preview(&p)
            .expect("decodes")
            .to_rgb8()
            .get_pixel(10, 10)
            .0;
        assert!(px.iter().all(|&c| c > 240), "{px:?}");
    }

    /// A PNG whose header claims `w`×`h` pixels over a tiny body: what a
    /// decompression bomb looks like before it explodes.
    fn bomb_png(w: u32, h: u32) -> Vec<u8> {
        let mut png = Vec::new();
        DynamicImage::ImageLuma8(image::GrayImage::new(1, 1))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("png");
        // IHDR data starts at 16 (8 signature + 4 length + 4 type).
        png[16..20].copy_from_slice(&w.to_be_bytes());
        png[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        // Sides within bounds, pixel count not (about 225 MP).
        let err = decode(&bomb_png(15_000, 15_000)).expect_err("bomb");
        assert!(matches!(err, PictureError::TooLarge(_)), "{err}");
        // A side over the bound.
        let err = decode(&bomb_png(100_000, 2)).expect_err("bomb");
        assert!(matches!(err, PictureError::TooLarge(_)), "{err}");
        // And the message says why in words.
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn a_preview_is_checked_from_its_header() {
        let p = make_preview(&photo_with_gps(800, 600)).expect("preview");
        assert_eq!(check_preview(&p).expect("fine"), (p.width, p.height));
        // A header claiming more than a preview may be is refused unread.
        let big = Preview {
            bytes: bomb_png(4000, 10),
            ..p.clone()
        };
        assert!(matches!(
            check_preview(&big),
            Err(PictureError::TooLarge(_))
        ));
        let junk = Preview {
            bytes: b"not a picture".to_vec(),
            ..p
        };
        assert!(check_preview(&junk).is_err());
    }

    #[test]
    fn photo_formats_sent_as_they_are_are_recognised() {
        assert_eq!(
            uncleaned_kind(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some("HEIC")
        );
        assert_eq!(uncleaned_kind(b"\0\0\0\x1cftypavif"), Some("AVIF"));
        assert_eq!(uncleaned_kind(b"RIFF\x10\0\0\0WEBPVP8 "), Some("WebP"));
        assert_eq!(
            uncleaned_kind(b"II*\0\x08\0\0\0"),
            Some("TIFF or camera raw")
        );
        // Not pictures, or pictures that are cleaned, or a video.
        for head in [
            &b"\0\0\0\x18ftypmp42"[..],
            b"RIFF\x10\0\0\0WAVEfmt ",
            &photo_with_gps(8, 8)[..16],
            b"%PDF-1.7",
            b"",
        ] {
            assert_eq!(uncleaned_kind(head), None, "{head:?}");
        }
    }

    #[test]
    fn damaged_and_foreign_bytes_are_errors_not_panics() {
        assert!(matches!(
            decode(b"hello, not a picture"),
            Err(PictureError::NotAPicture)
        ));
        let mut photo = photo_with_gps(64, 64);
        photo.truncate(photo.len() / 2);
        assert!(decode(&photo).is_err());
        let p = Preview {
            mime: "image/jpeg".into(),
            width: 10,
            height: 10,
            bytes: vec![0xff, 0xd8, 0xff, 0x00, 0x01],
            full_width: 10,
            full_height: 10,
        };
        assert!(decode_preview(&p).is_err());
    }
}
