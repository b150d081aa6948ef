//! The OLED drivers (SSD1306, SH1106) against a recording I2C double:
//! exact bytes on the bus.

mod common;

use common::{I2cRecorder as Recorder, Write};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use onionchat_hw::display::sh1106::Sh1106Panel;
use onionchat_hw::display::ssd1306::Ssd1306Panel;
use onionchat_hw::{Display, Frame, Picture};

/// A frame touching all four corners and two inner pixels.
fn corners() -> Frame {
    let mut f = Frame::new(128, 64);
    f.draw_iter(
        [(0, 0), (127, 0), (0, 63), (127, 63), (10, 9), (64, 33)]
            .map(|(x, y)| Pixel(Point::new(x, y), BinaryColor::On)),
    )
    .expect("draw");
    f
}

/// The command bytes (control byte 0x00) of some writes, in order.
fn commands(writes: &[Write]) -> Vec<u8> {
    writes
        .iter()
        .filter(|(_, b)| b.first() == Some(&0x00))
        .flat_map(|(_, b)| b[1..].to_vec())
        .collect()
}

#[test]
fn init_and_frame_bytes_are_exact() {
    let rec = Recorder::default();
    let mut panel = Ssd1306Panel::new(rec.clone(), 0x3C, "test".into()).expect("init");
    let init = rec.take();
    assert!(
        init.iter().all(|(a, _)| *a == 0x3C),
        "everything goes to 0x3C"
    );
    let cmds = commands(&init);
    assert_eq!(cmds.first(), Some(&0xAE), "display off first");
    let has = |seq: &[u8]| cmds.windows(seq.len()).any(|w| w == seq);
    assert!(has(&[0x8D, 0x14]), "charge pump on: {cmds:02x?}");
    assert!(has(&[0xA8, 0x3F]), "multiplex ratio 64: {cmds:02x?}");
    assert!(has(&[0x20, 0x00]), "horizontal addressing: {cmds:02x?}");
    assert_eq!(cmds.last(), Some(&0xAF), "display on last: {cmds:02x?}");

    // A frame touching all four corners: the whole 1024-byte buffer is sent.
    let f = corners();
    panel.show(&Picture::Mono(f.clone())).expect("show");
    let writes = rec.take();
    let data: Vec<u8> = writes
        .iter()
        .filter(|(_, b)| b.first() == Some(&0x40))
        .flat_map(|(_, b)| b[1..].to_vec())
        .collect();
    assert_eq!(data.len(), 1024);
    assert_eq!(data, f.to_pages(), "page-ordered frame bytes");
    assert_eq!(data[0], 0b0000_0001, "(0,0) is bit 0 of byte 0");
    assert_eq!(data[127], 0b0000_0001);
    assert_eq!(data[7 * 128], 0b1000_0000, "(0,63) is bit 7 of page 7");
    assert_eq!(data[128 + 10], 0b0000_0010, "(10,9) is bit 1 of page 1");
    // Column/page window commands precede the data.
    let cmds = commands(&writes);
    assert!(
        cmds.windows(3).any(|w| w == [0x21, 0x00, 0x7F]),
        "column range 0..127: {cmds:02x?}"
    );
    assert!(
        cmds.windows(3).any(|w| w == [0x22, 0x00, 0x07]),
        "page range 0..7: {cmds:02x?}"
    );

    // Burn-in care: dim (pre-charge phase 2 = 1 clock, contrast 0), back
    // to normal (phase 2 = 2 clocks, contrast 0x5F), off.
    panel.set_dim(true).expect("dim");
    assert_eq!(commands(&rec.take()), [0xD9, 0x11, 0x81, 0x00]);
    panel.set_dim(false).expect("undim");
    assert_eq!(commands(&rec.take()), [0xD9, 0x21, 0x81, 0x5F]);
    panel.set_on(false).expect("off");
    assert_eq!(rec.take(), vec![(0x3C, vec![0x00, 0xAE])]);
    // A colour picture is refused, not garbled.
    let color = Picture::Color(onionchat_hw::ColorFrame::new(240, 240));
    assert!(panel.show(&color).is_err());
}

#[test]
fn sh1106_init_and_frame_bytes_are_exact() {
    let rec = Recorder::default();
    let mut panel = Sh1106Panel::new(rec.clone(), 0x3D, "test".into()).expect("init");
    let init = rec.take();
    assert!(
        init.iter().all(|(a, _)| *a == 0x3D),
        "everything goes to 0x3D"
    );
    // The SH1106 power-on sequence, from its datasheet: display off, clock,
    // multiplex 64, offset 0, start line 0, DC-DC on (0xAD 0x8B, not the
    // SSD1306's 0x8D 0x14), segment remap + COM scan reversed, alternative
    // COM pins, contrast, pre-charge, VCOMH, resume from RAM, normal, on.
    assert_eq!(
        commands(&init),
        [
            0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0xAD, 0x8B, 0xA1, 0xC8, 0xDA, 0x12,
            0x81, 0x80, 0xD9, 0xF1, 0xDB, 0x40, 0xA4, 0xA6, 0xAF
        ]
    );

    let f = corners();
    panel.show(&Picture::Mono(f.clone())).expect("show");
    let writes = rec.take();
    // Page by page: page address, column 2 (the 132-column RAM is centred),
    // then that page's 128 bytes. The crate's I2C interface repeats the
    // column address before each data write ([0x00, 0x00, 0x02, 0x10]:
    // column low 0, column low 2, column high 0 — no page change).
    let pages = f.to_pages();
    let mut expect: Vec<Write> = Vec::new();
    for page in 0..8u8 {
        for c in [0xB0 | page, 0x02, 0x10] {
            expect.push((0x3D, vec![0x00, c]));
        }
        expect.push((0x3D, vec![0x00, 0x00, 0x02, 0x10]));
        let mut data = vec![0x40];
        data.extend_from_slice(&pages[usize::from(page) * 128..][..128]);
        expect.push((0x3D, data));
    }
    // After the last page the driver points back at page 0.
    for c in [0xB0, 0x02, 0x10] {
        expect.push((0x3D, vec![0x00, c]));
    }
    assert_eq!(writes, expect);

    panel.set_dim(true).expect("dim");
    assert_eq!(rec.take(), vec![(0x3D, vec![0x00, 0x81, 0x08])]);
    panel.set_dim(false).expect("undim");
    assert_eq!(rec.take(), vec![(0x3D, vec![0x00, 0x81, 0x80])]);
    // Off: contrast 0 and a dark frame (nothing stays lit).
    panel.set_on(false).expect("off");
    let off = rec.take();
    assert_eq!(off[0], (0x3D, vec![0x00, 0x81, 0x00]));
    let data: Vec<u8> = off
        .iter()
        .filter(|(_, b)| b.first() == Some(&0x40))
        .flat_map(|(_, b)| b[1..].to_vec())
        .collect();
    assert_eq!(data, vec![0u8; 1024]);
    panel.set_on(true).expect("on");
    assert_eq!(rec.take(), vec![(0x3D, vec![0x00, 0x81, 0x80])]);
}
