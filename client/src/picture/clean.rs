//! Taking a photo's hidden details out before it leaves the device.
//!
//! A phone's JPEG carries where it was taken (GPS), when, with which
//! camera, often a thumbnail of the uncropped original, and sometimes a
//! second picture or a short video after the image itself (multi-picture
//! and "motion photo" trailers). Members who receive the photo should get
//! the picture, not that. Cleaning here is lossless: the compressed image
//! data is copied as it is, only the containers' side segments are
//! dropped, so the picture's pixels are exactly the original's.
//!
//! What stays is what is needed to show the picture right: the JPEG
//! frame, tables and scans, the JFIF header (without its thumbnail), the
//! ICC colour profile, Adobe's colour-transform segment, and the
//! orientation, re-written as an EXIF block that holds nothing else. A PNG
//! keeps its image data and the chunks that change how it looks
//! (transparency, gamma, colour profile, animation), and loses text,
//! time and EXIF chunks.
//!
//! Why not a library: the crates that edit these containers keep
//! everything after a JPEG's first scan as one opaque block (later scans,
//! and any trailer after the end of the image), which is exactly where a
//! motion photo's video or a second picture's own GPS block sits.

use image::ImageFormat;
use image::metadata::Orientation;

use super::{PictureError, picture_format};

/// `bytes` (a JPEG or PNG) without its metadata: the same pixels, the same
/// orientation, nothing else. Anything that is not a JPEG or PNG is
/// [`PictureError::NotAPicture`]; a container too damaged to walk is
/// [`PictureError::Damaged`] (never a panic).
pub fn clean(bytes: &[u8]) -> Result<Vec<u8>, PictureError> {
    match picture_format(bytes) {
        Some(ImageFormat::Jpeg) => clean_jpeg(bytes),
        Some(ImageFormat::Png) => clean_png(bytes),
        _ => Err(PictureError::NotAPicture),
    }
}

fn damaged(what: &str) -> PictureError {
    PictureError::Damaged(what.to_string())
}

/// The EXIF (TIFF) block of a picture that says only `orientation`:
/// a big-endian header, one IFD with the Orientation tag (0x0112, SHORT),
/// no next IFD.
fn orientation_exif(orientation: Orientation) -> Vec<u8> {
    let mut t = Vec::with_capacity(26);
    t.extend_from_slice(b"MM\0*");
    t.extend_from_slice(&8u32.to_be_bytes()); // the IFD right after the header
    t.extend_from_slice(&1u16.to_be_bytes()); // one entry
    t.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    t.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    t.extend_from_slice(&1u32.to_be_bytes()); // one value
    t.extend_from_slice(&u16::from(orientation.to_exif()).to_be_bytes());
    t.extend_from_slice(&[0, 0]); // the value field's padding
    t.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    t
}

/// The orientation an EXIF (TIFF) block states, when it says anything
/// other than "as stored".
fn turned(tiff: &[u8]) -> Option<Orientation> {
    Orientation::from_exif_chunk(tiff).filter(|o| *o != Orientation::NoTransforms)
}

// JPEG markers (ITU T.81, table B.1).
const SOI: u8 = 0xd8;
const EOI: u8 = 0xd9;
const SOS: u8 = 0xda;
const APP0: u8 = 0xe0;
const APP1: u8 = 0xe1;
const APP2: u8 = 0xe2;
const APP14: u8 = 0xee;
const COM: u8 = 0xfe;
const TEM: u8 = 0x01;

fn is_rst(m: u8) -> bool {
    (0xd0..=0xd7).contains(&m)
}

/// What to do with one marker segment before or between scans.
enum Keep {
    /// Copy it as it is.
    As,
    /// Copy these contents instead (the JFIF header without thumbnail).
    Instead(Vec<u8>),
    /// Leave it out.
    Drop,
}

fn judge_segment(marker: u8, contents: &[u8], orientation: &mut Option<Orientation>) -> Keep {
    match marker {
        APP0 if contents.starts_with(b"JFIF\0") && contents.len() >= 14 => {
            // Version, units and density stay; the thumbnail (a small
            // copy of the picture, perhaps before it was cropped) goes.
            let mut c = contents[..12].to_vec();
            c.extend_from_slice(&[0, 0]);
            Keep::Instead(c)
        }
        APP1 => {
            if let Some(tiff) = contents.strip_prefix(b"Exif\0\0")
                && orientation.is_none()
            {
                *orientation = turned(tiff);
            }
            Keep::Drop
        }
        APP2 if contents.starts_with(b"ICC_PROFILE\0") => Keep::As,
        APP14 if contents.starts_with(b"Adobe") => Keep::As,
        0xe0..=0xef | COM => Keep::Drop,
        _ => Keep::As,
    }
}

fn push_segment(out: &mut Vec<u8>, marker: u8, contents: &[u8]) {
    out.extend_from_slice(&[0xff, marker]);
    // Contents came from a 16-bit length or are shorter than 65,533 bytes.
    let len = (contents.len() + 2) as u16;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(contents);
}

/// Walk a JPEG marker by marker: segments are judged, the entropy-coded
/// data after each start-of-scan is copied through (up to the next real
/// marker), and the walk ends at the end-of-image marker — what follows it
/// is not part of the picture and is left behind.
fn clean_jpeg(b: &[u8]) -> Result<Vec<u8>, PictureError> {
    if b.len() < 4 || b[0] != 0xff || b[1] != SOI {
        return Err(damaged("no JPEG start marker"));
    }
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&[0xff, SOI]);
    let mut orientation = None;
    // Where to put the orientation block: after SOI and a JFIF header.
    let mut exif_at = out.len();
    let mut pos = 2;
    let mut scans = 0usize;
    loop {
        // A marker: 0xFF, any number of 0xFF fill bytes, then its code.
        if b.get(pos) != Some(&0xff) {
            return Err(damaged("a segment does not start with a marker"));
        }
        while b.get(pos) == Some(&0xff) {
            pos += 1;
        }
        let marker = *b.get(pos).ok_or_else(|| damaged("cut off at a marker"))?;
        pos += 1;
        match marker {
            EOI => {
                if scans == 0 {
                    return Err(damaged("no image data"));
                }
                out.extend_from_slice(&[0xff, EOI]);
                break;
            }
            0x00 => return Err(damaged("a stuffed byte outside the image data")),
            m if m == TEM || is_rst(m) || m == SOI => {
                // Stand-alone markers carry no length; nothing to judge.
                out.extend_from_slice(&[0xff, m]);
                continue;
            }
            _ => {}
        }
        let len_bytes = b
            .get(pos..pos + 2)
            .ok_or_else(|| damaged("cut off in a segment length"))?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return Err(damaged("a segment length under 2"));
        }
        let contents = b
            .get(pos + 2..pos + len)
            .ok_or_else(|| damaged("cut off inside a segment"))?;
        pos += len;
        let before = out.len();
        match judge_segment(marker, contents, &mut orientation) {
            Keep::As => push_segment(&mut out, marker, contents),
            Keep::Instead(c) => push_segment(&mut out, marker, &c),
            Keep::Drop => {}
        }
        if marker == APP0 && before == 2 {
            exif_at = out.len();
        }
        if marker == SOS {
            scans += 1;
            // The scan's entropy-coded data runs to the next marker that
            // is not a stuffed 0xFF00 or a restart marker.
            let start = pos;
            loop {
                match b.get(pos) {
                    None => {
                        // A photo cut short still shows what arrived
                        // (viewers draw the part they have): keep it, and
                        // end the image properly.
                        out.extend_from_slice(&b[start..]);
                        out.extend_from_slice(&[0xff, EOI]);
                        return Ok(with_orientation(out, exif_at, orientation));
                    }
                    Some(0xff) => match b.get(pos + 1) {
                        Some(&x) if x == 0x00 || is_rst(x) => pos += 2,
                        Some(0xff) => pos += 1,
                        _ => break,
                    },
                    Some(_) => pos += 1,
                }
            }
            out.extend_from_slice(&b[start..pos]);
        }
    }
    Ok(with_orientation(out, exif_at, orientation))
}

fn with_orientation(mut out: Vec<u8>, at: usize, orientation: Option<Orientation>) -> Vec<u8> {
    if let Some(o) = orientation {
        let mut contents = b"Exif\0\0".to_vec();
        contents.extend_from_slice(&orientation_exif(o));
        let mut seg = Vec::with_capacity(contents.len() + 4);
        push_segment(&mut seg, APP1, &contents);
        out.splice(at..at, seg);
    }
    out
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Chunks that decide what a PNG looks like; every other chunk (text,
/// time, EXIF, private chunks) is left out.
const PNG_KEPT: [&[u8; 4]; 18] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"cLLI", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

/// Walk a PNG chunk by chunk, keeping [`PNG_KEPT`] (CRCs checked), up to
/// and including IEND; what follows IEND is left behind.
fn clean_png(b: &[u8]) -> Result<Vec<u8>, PictureError> {
    let mut rest = b
        .strip_prefix(PNG_SIGNATURE)
        .ok_or_else(|| damaged("no PNG signature"))?;
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut orientation = None;
    let mut exif_at = None;
    loop {
        let head = rest
            .get(..8)
            .ok_or_else(|| damaged("cut off before the end chunk"))?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        // (Checked: on a 32-bit board a length near 4 GiB would wrap.)
        let whole = len
            .checked_add(12)
            .and_then(|end| rest.get(..end))
            .ok_or_else(|| damaged("cut off inside a chunk"))?;
        let data = &whole[8..8 + len];
        let crc = u32::from_be_bytes([
            whole[8 + len],
            whole[9 + len],
            whole[10 + len],
            whole[11 + len],
        ]);
        if crc32fast::hash(&whole[4..8 + len]) != crc {
            return Err(damaged("a chunk's checksum is wrong"));
        }
        rest = &rest[12 + len..];
        if &kind == b"eXIf" && orientation.is_none() {
            orientation = turned(data);
        }
        if &kind == b"IHDR" {
            exif_at = Some(out.len() + whole.len());
        }
        if PNG_KEPT.contains(&&kind) {
            out.extend_from_slice(whole);
        }
        if &kind == b"IEND" {
            break;
        }
    }
    let at = exif_at.ok_or_else(|| damaged("no header chunk"))?;
    if let Some(o) = orientation {
        let data = orientation_exif(o);
        let mut chunk = Vec::with_capacity(data.len() + 12);
        chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
        chunk.extend_from_slice(b"eXIf");
        chunk.extend_from_slice(&data);
        let crc = crc32fast::hash(&chunk[4..]);
        chunk.extend_from_slice(&crc.to_be_bytes());
        out.splice(at..at, chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, ImageDecoder, ImageReader};

    use super::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn gradient(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 90])
        }))
    }

    fn jpeg(img: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out, 90,
        ))
        .expect("encode");
        out
    }

    fn segment(marker: u8, contents: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        push_segment(&mut s, marker, contents);
        s
    }

    /// An EXIF block as a phone writes it: orientation `o`, a GPS IFD
    /// pointer and a marker text standing for the coordinates.
    fn phone_exif(o: u16) -> Vec<u8> {
        let mut t = b"Exif\0\0II*\0\x08\0\0\0\x02\0".to_vec();
        t.extend_from_slice(&0x0112u16.to_le_bytes());
        t.extend_from_slice(&3u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&o.to_le_bytes());
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&38u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        t.extend_from_slice(b"GPS 52.3702N 4.8952E secret-home");
        t
    }

    /// A JPEG with everything a phone and an editor leave in one: EXIF
    /// with GPS and an orientation, XMP, a JFIF thumbnail, a comment, a
    /// maker segment, and a second picture after the end of the image.
    fn phone_jpeg(img: &DynamicImage, o: u16) -> Vec<u8> {
        let plain = jpeg(img);
        let mut out = plain[..2].to_vec();
        let mut jfif = b"JFIF\0\x01\x01\0\0\x01\0\x01\x02\x02".to_vec();
        jfif.extend_from_slice(&[0xaa; 12]); // a 2 × 2 RGB thumbnail
        out.extend(segment(APP0, &jfif));
        out.extend(segment(APP1, &phone_exif(o)));
        out.extend(segment(
            APP1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>secret-xmp</x:xmpmeta>",
        ));
        out.extend(segment(APP2, b"MPF\0secret-mpf"));
        out.extend(segment(0xeb, b"secret-maker"));
        out.extend(segment(COM, b"secret-comment"));
        // The encoder's own segments (its JFIF header included) follow.
        out.extend_from_slice(&plain[2..]);
        // A motion photo's trailer: another JPEG with its own GPS.
        out.extend_from_slice(&[0xff, SOI]);
        out.extend(segment(APP1, &phone_exif(1)));
        out.extend_from_slice(b"secret-trailer");
        out
    }

    fn pixels(bytes: &[u8]) -> image::RgbImage {
        super::super::decode(bytes).expect("decodes").to_rgb8()
    }

    fn orientation_of(bytes: &[u8]) -> Orientation {
        let format = picture_format(bytes).expect("picture");
        ImageReader::with_format(Cursor::new(bytes), format)
            .into_decoder()
            .expect("decoder")
            .orientation()
            .expect("orientation")
    }

    #[test]
    fn a_phone_jpeg_loses_every_hidden_detail_and_keeps_its_pixels() {
        let img = gradient(96, 64);
        let photo = phone_jpeg(&img, 1);
        let secrets: [&[u8]; 8] = [
            b"secret-home",
            b"secret-xmp",
            b"secret-mpf",
            b"secret-maker",
            b"secret-comment",
            b"secret-trailer",
            b"Exif",
            &[0xaa; 12], // the JFIF thumbnail
        ];
        for secret in secrets {
            assert!(contains(&photo, secret), "{secret:?} not in the original");
        }
        let clean = clean(&photo).expect("clean");
        for secret in secrets {
            assert!(!contains(&clean, secret), "{secret:?} survived");
        }
        // Lossless: the same pixels as the original decodes to.
        assert_eq!(pixels(&clean), pixels(&photo));
        assert_eq!(clean.last(), Some(&EOI));
        // Cleaning again changes nothing.
        assert_eq!(super::clean(&clean).expect("again"), clean);
    }

    #[test]
    fn a_turned_photo_stays_turned_and_says_nothing_else() {
        let img = gradient(96, 64);
        for o in 2..=8u16 {
            let photo = phone_jpeg(&img, o);
            let clean = clean(&photo).expect("clean");
            assert!(!contains(&clean, b"secret-home"));
            let want = Orientation::from_exif(o as u8).expect("orientation");
            assert_eq!(orientation_of(&clean), want, "orientation {o}");
            // Upright, the same picture as the original shows.
            assert_eq!(pixels(&clean), pixels(&photo), "orientation {o}");
        }
        // Upright photos get no EXIF block at all.
        let clean = clean(&phone_jpeg(&img, 1)).expect("clean");
        assert_eq!(orientation_of(&clean), Orientation::NoTransforms);
    }

    #[test]
    fn a_progressive_jpeg_keeps_every_scan() {
        // Two scans, with a comment between them, as some editors write.
        let plain = jpeg(&gradient(40, 30));
        let sos = plain
            .windows(2)
            .position(|w| w == [0xff, SOS])
            .expect("a scan");
        let mut two = plain[..sos].to_vec();
        let scan = &plain[sos..plain.len() - 2];
        two.extend_from_slice(scan);
        two.extend(segment(COM, b"secret-between"));
        two.extend_from_slice(scan);
        two.extend_from_slice(&[0xff, EOI]);
        let clean = clean(&two).expect("clean");
        assert!(!contains(&clean, b"secret-between"));
        assert_eq!(clean.len(), two.len() - (4 + b"secret-between".len()));
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let crc = crc32fast::hash(&c[4..]);
        c.extend_from_slice(&crc.to_be_bytes());
        c
    }

    fn png_with_text(img: &DynamicImage, o: u16) -> Vec<u8> {
        let mut plain = Vec::new();
        img.write_to(&mut Cursor::new(&mut plain), ImageFormat::Png)
            .expect("png");
        // After the signature and IHDR (8 + 25 bytes).
        let mut out = plain[..33].to_vec();
        out.extend(png_chunk(b"tEXt", b"Comment\0secret-text"));
        out.extend(png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0secret-xmp"));
        out.extend(png_chunk(b"tIME", &[7, 234, 12, 6, 12, 0, 0]));
        out.extend(png_chunk(b"eXIf", &phone_exif(o)[6..]));
        out.extend_from_slice(&plain[33..]);
        out.extend_from_slice(b"secret-trailer");
        out
    }

    #[test]
    fn a_png_loses_its_text_time_and_exif_and_keeps_its_pixels() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(30, 20, |x, y| {
            image::Rgba([x as u8 * 8, y as u8 * 12, 200, (x * y) as u8])
        }));
        let png = png_with_text(&img, 1);
        let clean = clean(&png).expect("clean");
        for secret in [
            &b"secret-text"[..],
            b"secret-xmp",
            b"secret-home",
            b"secret-trailer",
            b"tIME",
            b"eXIf",
        ] {
            assert!(!contains(&clean, secret), "{secret:?} survived");
        }
        let decoded = |b: &[u8]| super::super::decode(b).expect("decodes").to_rgba8();
        assert_eq!(decoded(&clean), decoded(&png));
        // A turned PNG stays turned.
        let turned = clean_png(&png_with_text(&img, 6)).expect("clean");
        assert_eq!(orientation_of(&turned), Orientation::Rotate90);
        assert!(!contains(&turned, b"secret-home"));
        assert_eq!(decoded(&turned), decoded(&png_with_text(&img, 6)));
    }

    #[test]
    fn damaged_containers_are_errors_and_a_cut_photo_still_shows() {
        assert!(matches!(
            clean(b"not a picture"),
            Err(PictureError::NotAPicture)
        ));
        let photo = phone_jpeg(&gradient(64, 48), 1);
        // Cut inside the header segments: an error, not a panic.
        for cut in [3, 5, 20, 40] {
            assert!(clean(&photo[..cut]).is_err(), "cut at {cut}");
        }
        // Cut inside the image data: what arrived is kept and closed.
        let sos = photo
            .windows(2)
            .position(|w| w == [0xff, SOS])
            .expect("scan");
        let cut = clean(&photo[..sos + 200]).expect("a cut photo");
        assert!(cut.ends_with(&[0xff, EOI]));
        assert!(!contains(&cut, b"secret-home"));
        // A PNG with a wrong checksum is refused, not passed through.
        let mut png = png_with_text(&gradient(8, 8), 1);
        png[40] ^= 0x55;
        assert!(matches!(clean(&png), Err(PictureError::Damaged(_))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// Whatever the bytes after a picture's signature, cleaning
        /// returns (an error or a picture), never panics, and never
        /// returns more than it was given plus an orientation block.
        #[test]
        fn cleaning_never_panics(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600), png in proptest::bool::ANY) {
            let mut b = if png { PNG_SIGNATURE.to_vec() } else { vec![0xff, SOI, 0xff] };
            b.extend_from_slice(&tail);
            if let Ok(out) = clean(&b) {
                proptest::prop_assert!(out.len() <= b.len() + 64);
            }
        }

        /// Damage anywhere in a real photo: still never a panic.
        #[test]
        fn a_damaged_photo_never_panics(at in 0usize..2_000, byte in proptest::num::u8::ANY, cut in 0usize..2_000) {
            let mut photo = phone_jpeg(&gradient(24, 16), 6);
            let n = photo.len();
            photo[at % n] = byte;
            photo.truncate(n - cut % n);
            let _ = clean(&photo);
        }
    }
}
