//! Recording doubles for the buses a panel sits on (we cannot have the
//! hardware here): they keep every byte the driver sends so the tests can
//! check them exactly.

#![allow(dead_code)] // each test file uses some of these

use std::sync::{Arc, Mutex};

use embedded_hal::digital::{ErrorType as PinErrorType, OutputPin};
use embedded_hal::i2c::{ErrorType, I2c, Operation};
use embedded_hal::spi::{ErrorType as SpiErrorType, Operation as SpiOp, SpiDevice};

/// One I2C write: (address, bytes).
pub type Write = (u8, Vec<u8>);

/// An I2C bus that records every write.
#[derive(Clone, Default)]
pub struct I2cRecorder(pub Arc<Mutex<Vec<Write>>>);

impl I2cRecorder {
    /// Everything written since the last call.
    pub fn take(&self) -> Vec<Write> {
        self.0.lock().expect("lock").drain(..).collect()
    }
}

impl ErrorType for I2cRecorder {
    type Error = core::convert::Infallible;
}

impl I2c for I2cRecorder {
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

/// What an SPI panel saw: commands (D/C low) and the data after them, and
/// pin changes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// A command byte (D/C was low).
    Cmd(u8),
    /// Data bytes (D/C was high).
    Data(Vec<u8>),
    /// A named pin went high (true) or low (false).
    Pin(&'static str, bool),
}

/// Shared state of an SPI device and the pins around it.
#[derive(Clone, Default)]
pub struct SpiLog {
    pub log: Arc<Mutex<Vec<Bus>>>,
    dc_high: Arc<Mutex<bool>>,
}

impl SpiLog {
    /// Everything since the last call; consecutive data writes are joined.
    pub fn take(&self) -> Vec<Bus> {
        let raw: Vec<Bus> = self.log.lock().expect("lock").drain(..).collect();
        let mut out: Vec<Bus> = Vec::new();
        for b in raw {
            match (out.last_mut(), b) {
                (Some(Bus::Data(prev)), Bus::Data(more)) => prev.extend(more),
                (_, b) => out.push(b),
            }
        }
        out
    }

    /// An SPI device writing into this log.
    pub fn spi(&self) -> SpiRecorder {
        SpiRecorder(self.clone())
    }

    /// A pin named `name` logging into this log (`dc` also steers
    /// whether SPI bytes are commands or data).
    pub fn pin(&self, name: &'static str) -> PinRecorder {
        PinRecorder {
            log: self.clone(),
            name,
        }
    }
}

/// An SPI device that records.
pub struct SpiRecorder(SpiLog);

impl SpiErrorType for SpiRecorder {
    type Error = core::convert::Infallible;
}

impl SpiDevice for SpiRecorder {
    fn transaction(&mut self, operations: &mut [SpiOp<'_, u8>]) -> Result<(), Self::Error> {
        let dc = *self.0.dc_high.lock().expect("lock");
        let mut log = self.0.log.lock().expect("lock");
        for op in operations {
            if let SpiOp::Write(w) = op {
                if w.is_empty() {
                    continue;
                }
                if dc {
                    log.push(Bus::Data(w.to_vec()));
                } else {
                    log.extend(w.iter().map(|b| Bus::Cmd(*b)));
                }
            }
        }
        Ok(())
    }
}

/// A GPIO output that records.
pub struct PinRecorder {
    log: SpiLog,
    name: &'static str,
}

impl PinRecorder {
    fn set(&mut self, high: bool) {
        if self.name == "dc" {
            // D/C flips for every command: not logged, it steers the SPI log.
            *self.log.dc_high.lock().expect("lock") = high;
        } else {
            self.log
                .log
                .lock()
                .expect("lock")
                .push(Bus::Pin(self.name, high));
        }
    }
}

impl PinErrorType for PinRecorder {
    type Error = core::convert::Infallible;
}

impl OutputPin for PinRecorder {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.set(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.set(true);
        Ok(())
    }
}

/// A delay that does not wait (the tests check bytes, not timing) but
/// remembers how long the driver asked to wait in total.
#[derive(Clone, Default)]
pub struct NoDelay(pub Arc<Mutex<u64>>);

impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, ns: u32) {
        *self.0.lock().expect("lock") += u64::from(ns);
    }
}
