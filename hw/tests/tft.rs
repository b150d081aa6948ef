//! The SPI TFT drivers (ST7789, ILI9341 through mipidsi) against a
//! recording SPI device and recording pins: exact command and pixel bytes.

mod common;

use common::{Bus, NoDelay, PinRecorder, SpiLog, SpiRecorder};
use embedded_graphics::pixelcolor::{Rgb565, RgbColor};
use embedded_graphics::prelude::*;
use onionchat_hw::display::tft::{Model, TftPanel, TftSpec};
use onionchat_hw::{ColorFrame, Display, Kind, Picture};

use Bus::{Cmd, Data, Pin};

type Panel = TftPanel<SpiRecorder, PinRecorder, PinRecorder, PinRecorder, NoDelay>;

fn panel(spec: &str, model: Model, with_reset: bool) -> (Panel, SpiLog) {
    let spec = TftSpec::parse(model, spec).expect("spec");
    let log = SpiLog::default();
    let rst = with_reset.then(|| log.pin("rst"));
    let p = TftPanel::new(
        &spec,
        log.spi(),
        log.pin("dc"),
        rst,
        Some(log.pin("bl")),
        NoDelay::default(),
        "test".into(),
    )
    .expect("init");
    (p, log)
}

/// A frame with a marked first and last pixel.
fn marked(w: u32, h: u32) -> ColorFrame {
    let mut f = ColorFrame::new(w, h);
    f.draw_iter([
        Pixel(Point::new(0, 0), Rgb565::RED),
        Pixel(Point::new(w as i32 - 1, h as i32 - 1), Rgb565::BLUE),
    ])
    .expect("draw");
    f
}

/// The pixel bytes a frame should become: RGB565, big-endian, row by row.
fn wire_bytes(f: &ColorFrame) -> Vec<u8> {
    f.pixels()
        .iter()
        .flat_map(|p| p.into_storage().to_be_bytes())
        .collect()
}

#[test]
fn st7789_init_frame_and_sleep_bytes_are_exact() {
    let (mut p, log) = panel("/dev/spidev0.0,dc=25,rst=27,bl=18", Model::St7789, true);
    assert_eq!(p.kind(), Kind::Color(Size::new(240, 240)));
    assert_eq!(
        log.take(),
        vec![
            // Hardware reset pulse.
            Pin("rst", false),
            Pin("rst", true),
            Cmd(0x11), // sleep out
            Cmd(0x36), // memory access control: rotation 0, RGB
            Data(vec![0x00]),
            Cmd(0x21), // inversion on (these panels are wired inverted)
            Cmd(0x3A), // pixel format: 16 bits
            Data(vec![0x55]),
            Cmd(0x13), // normal display mode
            Cmd(0x29), // display on
            Pin("bl", true),
        ]
    );

    let f = marked(240, 240);
    p.show(&Picture::Color(f.clone())).expect("show");
    let got = log.take();
    assert_eq!(
        got[..5],
        [
            Cmd(0x2A), // columns 0..=239
            Data(vec![0, 0, 0, 239]),
            Cmd(0x2B), // rows 0..=239
            Data(vec![0, 0, 0, 239]),
            Cmd(0x2C), // memory write
        ]
    );
    let Data(pixels) = &got[5] else {
        panic!("pixel data expected, got {:?}", got[5]);
    };
    assert_eq!(got.len(), 6);
    assert_eq!(pixels.len(), 240 * 240 * 2);
    assert_eq!(pixels[..2], [0xF8, 0x00], "red first");
    assert_eq!(pixels[pixels.len() - 2..], [0x00, 0x1F], "blue last");
    assert_eq!(*pixels, wire_bytes(&f));

    // Blank: backlight off, then sleep in; wake: sleep out, backlight on.
    p.set_on(false).expect("off");
    assert_eq!(log.take(), vec![Pin("bl", false), Cmd(0x10)]);
    p.set_on(true).expect("on");
    assert_eq!(log.take(), vec![Cmd(0x11), Pin("bl", true)]);
    // LCDs do not burn in: dimming sends nothing.
    p.set_dim(true).expect("dim");
    assert_eq!(log.take(), vec![]);

    // Wrong pictures are refused, not drawn.
    assert!(p.show(&Picture::Color(ColorFrame::new(320, 240))).is_err());
    assert!(
        p.show(&Picture::Mono(onionchat_hw::Frame::new(128, 64)))
            .is_err()
    );
    assert_eq!(log.take(), vec![]);
}

#[test]
fn st7789_without_a_reset_line_gets_a_software_reset_and_an_offset_window() {
    // A 240×135 board (offset 52,40 in the controller's 240×320 memory),
    // turned to landscape.
    let (mut p, log) = panel(
        "/dev/spidev0.0,dc=25,size=135x240,offset=52x40,rotate=90",
        Model::St7789,
        false,
    );
    assert_eq!(p.kind(), Kind::Color(Size::new(240, 135)));
    let init = log.take();
    assert_eq!(init[0], Cmd(0x01), "software reset first: {init:?}");
    assert!(!init.iter().any(|b| matches!(b, Pin("rst", _))));
    // Landscape: row/column exchange (MV) and column mirror (MX).
    let madctl = init
        .iter()
        .position(|b| *b == Cmd(0x36))
        .map(|i| init[i + 1].clone());
    assert_eq!(madctl, Some(Data(vec![0x60])));

    p.show(&Picture::Color(marked(240, 135))).expect("show");
    let got = log.take();
    // In landscape the offsets swap and the mirrored axis counts from the
    // other end: columns start at 40, rows at 240 - 135 - 52 = 53 (the
    // well-known 40/53 landscape window of these boards).
    assert_eq!(
        got[..4],
        [
            Cmd(0x2A),
            Data(vec![0, 40, 0x01, 0x17]), // 40..=279
            Cmd(0x2B),
            Data(vec![0, 53, 0, 187]), // 53..=187
        ]
    );
}

#[test]
fn ili9341_landscape_bgr_init_and_frame_window_are_exact() {
    let (mut p, log) = panel("/dev/spidev0.0,dc=24,rst=25,bl=18", Model::Ili9341, true);
    assert_eq!(p.kind(), Kind::Color(Size::new(320, 240)));
    assert_eq!(
        log.take(),
        vec![
            Pin("rst", false),
            Pin("rst", true),
            Cmd(0x36), // memory access control: MX | MV | BGR = landscape
            Data(vec![0x68]),
            Cmd(0xB4), // display inversion control: line inversion
            Data(vec![0x00]),
            Cmd(0x20), // inversion off
            Cmd(0x3A), // 16 bits per pixel
            Data(vec![0x55]),
            Cmd(0x13), // normal mode
            Cmd(0x11), // sleep out
            Cmd(0x29), // display on
            Pin("bl", true),
        ]
    );
    let f = marked(320, 240);
    p.show(&Picture::Color(f.clone())).expect("show");
    let got = log.take();
    assert_eq!(
        got,
        vec![
            Cmd(0x2A),
            Data(vec![0, 0, 0x01, 0x3F]),
            Cmd(0x2B),
            Data(vec![0, 0, 0, 0xEF]),
            Cmd(0x2C),
            Data(wire_bytes(&f)),
        ]
    );
}

#[test]
fn tft_specs_are_parsed_with_clear_errors() {
    let s = TftSpec::parse(
        Model::St7789,
        "/dev/spidev0.1,dc=9,rst=10,bl=11,chip=/dev/gpiochip4,size=240x320,offset=0x0,rotate=180,invert=0,bgr=1,hz=16000000",
    )
    .expect("full spec");
    assert_eq!(s.spi, "/dev/spidev0.1");
    assert_eq!(s.chip, "/dev/gpiochip4");
    assert_eq!((s.dc, s.rst, s.backlight), (9, Some(10), Some(11)));
    assert_eq!(
        (s.size, s.rotate, s.invert, s.bgr, s.hz),
        ((240, 320), 180, false, true, 16_000_000)
    );
    for (bad, why) in [
        ("", "SPI device"),
        ("/dev/spidev0.0", "dc=N"),
        ("/dev/spidev0.0,dc=x", "not a number"),
        ("/dev/spidev0.0,dc=1,rotate=45", "rotate is"),
        ("/dev/spidev0.0,dc=1,size=big", "size is"),
        ("/dev/spidev0.0,dc=1,colour=red", "unknown setting"),
        ("/dev/spidev0.0,dc=1,invert=maybe", "0 or 1"),
        ("/dev/spidev0.0,dc=1,size=128x160", "under 240"),
    ] {
        let e = TftSpec::parse(Model::St7789, bad)
            .expect_err(bad)
            .to_string();
        assert!(e.contains(why), "{bad:?}: {e}");
    }
}

#[test]
fn opening_a_missing_spi_device_is_an_error_not_a_panic() {
    let e = onionchat_hw::display::open("st7789:/nonexistent/spidev9.9,dc=25")
        .err()
        .expect("must fail")
        .to_string();
    assert!(e.contains("/nonexistent/spidev9.9"), "{e}");
    assert!(onionchat_hw::display::open("ili9341:").is_err());
}
