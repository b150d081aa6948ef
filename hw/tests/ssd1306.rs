//! The SSD1306 driver against a recording I2C double: exact bytes on the bus.

use std::sync::{Arc, Mutex};

use embedded_hal::i2c::{ErrorType, I2c, Operation};
use onionchat_hw::display::ssd1306::Ssd1306Panel;
use onionchat_hw::{Display, Frame};

/// One I2C write: (address, bytes).
type Write = (u8, Vec<u8>);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Write>>>);

impl ErrorType for Recorder {
    type Error = core::convert::Infallible;
}

impl I2c for Recorder {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        let mut bytes = Vec::new();
        for op in operations {
            if let Operation::Write(w) = op {
                bytes.extend_from_slice(w);
            }
        }
        self.0.lock().expect("lock").push((address, bytes));
        Ok(())
    }
}

#[test]
fn init_and_frame_bytes_are_exact() {
    let rec = Recorder::default();
    let mut panel = Ssd1306Panel::new(rec.clone(), 0x3C, "test".into()).expect("init");
    let init: Vec<Write> = rec.0.lock().expect("lock").drain(..).collect();
    assert!(
        init.iter().all(|(a, _)| *a == 0x3C),
        "everything goes to 0x3C"
    );
    let cmds: Vec<u8> = init
        .iter()
        .filter(|(_, b)| b.first() == Some(&0x00))
        .flat_map(|(_, b)| b[1..].to_vec())
        .collect();
    assert_eq!(cmds.first(), Some(&0xAE), "display off first");
    let has = |seq: &[u8]| cmds.windows(seq.len()).any(|w| w == seq);
    assert!(has(&[0x8D, 0x14]), "charge pump on: {cmds:02x?}");
    assert!(has(&[0xA8, 0x3F]), "multiplex ratio 64: {cmds:02x?}");
    assert!(has(&[0x20, 0x00]), "horizontal addressing: {cmds:02x?}");
    assert_eq!(cmds.last(), Some(&0xAF), "display on last: {cmds:02x?}");

    // A frame touching all four corners: the whole 1024-byte buffer is sent.
    let mut f = Frame::new(128, 64);
    use embedded_graphics::pixelcolor::BinaryColor;
    use embedded_graphics::prelude::*;
    f.draw_iter(
        [(0, 0), (127, 0), (0, 63), (127, 63), (10, 9), (64, 33)]
            .map(|(x, y)| Pixel(Point::new(x, y), BinaryColor::On)),
    )
    .expect("draw");
    panel.show(&f).expect("show");
    let writes: Vec<Write> = rec.0.lock().expect("lock").drain(..).collect();
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
    let cmds: Vec<u8> = writes
        .iter()
        .filter(|(_, b)| b.first() == Some(&0x00))
        .flat_map(|(_, b)| b[1..].to_vec())
        .collect();
    assert!(
        cmds.windows(3).any(|w| w == [0x21, 0x00, 0x7F]),
        "column range 0..127: {cmds:02x?}"
    );
    assert!(
        cmds.windows(3).any(|w| w == [0x22, 0x00, 0x07]),
        "page range 0..7: {cmds:02x?}"
    );

    // Off/on for burn-in care.
    panel.set_on(false).expect("off");
    let off: Vec<Write> = rec.0.lock().expect("lock").drain(..).collect();
    assert_eq!(off, vec![(0x3C, vec![0x00, 0xAE])]);
}
