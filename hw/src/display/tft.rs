//! SPI colour TFTs through `mipidsi`: ST7789 (240×240 and 240×135 boards,
//! Pimoroni/Adafruit/Waveshare hats) and ILI9341 (2.4"/2.8" 320×240).
//!
//! Spec: `st7789:/dev/spidev0.0,dc=25,rst=27[,bl=18][,size=240x240]
//! [,offset=0x0][,rotate=0][,invert=1][,bgr=0][,hz=32000000]
//! [,chip=/dev/gpiochip0]` (`ili9341:` likewise). `dc`, `rst` and `bl` are
//! GPIO line numbers on `chip`; `size` is the panel's native (portrait) size
//! and `rotate` turns it.
//!
//! Generic over embedded-hal 1.0 `SpiDevice` + `OutputPin` + `DelayNs`, so
//! the same code drives `/dev/spidev*` with GPIO character-device pins and
//! the recording doubles in the tests. LCDs do not burn in: dimming is a
//! no-op; blanking sleeps the controller and turns the backlight off.

use embedded_graphics::prelude::*;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiDevice;
use mipidsi::interface::{Interface, InterfaceKind};
use mipidsi::models::{ILI9341Rgb565, ST7789};
use mipidsi::options::{ColorInversion, ColorOrder, Orientation, Rotation};

use super::{Display, DisplayError, Kind};
use crate::frame::Picture;

/// Which controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Sitronix ST7789.
    St7789,
    /// Ilitek ILI9341.
    Ili9341,
}

/// A parsed TFT spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftSpec {
    /// The controller.
    pub model: Model,
    /// SPI device, e.g. `/dev/spidev0.0`.
    pub spi: String,
    /// GPIO chip for the pins.
    pub chip: String,
    /// Data/command line.
    pub dc: u32,
    /// Reset line (none: software reset).
    pub rst: Option<u32>,
    /// Backlight line, if wired to a GPIO.
    pub backlight: Option<u32>,
    /// Native (portrait) width and height.
    pub size: (u16, u16),
    /// Offset of the visible area in the controller's memory.
    pub offset: (u16, u16),
    /// Rotation in degrees (0, 90, 180, 270).
    pub rotate: u16,
    /// Invert colours (most ST7789 boards need it).
    pub invert: bool,
    /// BGR sub-pixel order (most ILI9341 boards).
    pub bgr: bool,
    /// SPI clock.
    pub hz: u32,
}

impl TftSpec {
    /// Parse the part after `st7789:` / `ili9341:`.
    pub fn parse(model: Model, rest: &str) -> Result<Self, DisplayError> {
        let bad = |why: &str| DisplayError::Unknown(format!("{rest}: {why}"));
        let mut parts = rest.split(',');
        let spi = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("name the SPI device, e.g. /dev/spidev0.0"))?;
        let mut spec = TftSpec {
            model,
            spi: spi.to_string(),
            chip: "/dev/gpiochip0".into(),
            dc: u32::MAX,
            rst: None,
            backlight: None,
            size: match model {
                Model::St7789 => (240, 240),
                Model::Ili9341 => (240, 320),
            },
            offset: (0, 0),
            rotate: match model {
                Model::St7789 => 0,
                Model::Ili9341 => 90,
            },
            invert: model == Model::St7789,
            bgr: model == Model::Ili9341,
            hz: 32_000_000,
        };
        let num = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| bad(&format!("'{v}' is not a number")))
        };
        let flag = |v: &str| match v {
            "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" => Ok(false),
            _ => Err(bad(&format!("'{v}' is not 0 or 1"))),
        };
        for part in parts {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(&format!("'{part}' is not key=value")))?;
            match k {
                "dc" => spec.dc = num(v)?,
                "rst" => spec.rst = Some(num(v)?),
                "bl" => spec.backlight = Some(num(v)?),
                "chip" => spec.chip = v.to_string(),
                "size" => {
                    let (w, h) = super::parse_size(v).ok_or_else(|| bad("size is WxH"))?;
                    spec.size = (
                        u16::try_from(w).map_err(|_| bad("size too big"))?,
                        u16::try_from(h).map_err(|_| bad("size too big"))?,
                    );
                }
                "offset" => {
                    let (x, y) = super::parse_size(v).ok_or_else(|| bad("offset is XxY"))?;
                    spec.offset = (
                        u16::try_from(x).map_err(|_| bad("offset too big"))?,
                        u16::try_from(y).map_err(|_| bad("offset too big"))?,
                    );
                }
                "rotate" => {
                    spec.rotate = match v {
                        "0" => 0,
                        "90" => 90,
                        "180" => 180,
                        "270" => 270,
                        _ => return Err(bad("rotate is 0, 90, 180 or 270")),
                    }
                }
                "invert" => spec.invert = flag(v)?,
                "bgr" => spec.bgr = flag(v)?,
                "hz" => spec.hz = num(v)?,
                _ => return Err(bad(&format!("unknown setting '{k}'"))),
            }
        }
        if spec.dc == u32::MAX {
            return Err(bad("the dc=N GPIO line is required"));
        }
        if u32::from(spec.size.0.max(spec.size.1)) < crate::screens::color::MIN_SIZE.width {
            return Err(bad(
                "panels under 240 pixels on both sides are not supported",
            ));
        }
        Ok(spec)
    }

    fn orientation(&self) -> Orientation {
        let r = match self.rotate {
            90 => Rotation::Deg90,
            180 => Rotation::Deg180,
            270 => Rotation::Deg270,
            _ => Rotation::Deg0,
        };
        Orientation::new().rotate(r)
    }
}

/// mipidsi's SPI interface borrows its pixel buffer; the panel lives in a
/// boxed `dyn Display` that may be reopened after a failure, so it needs
/// to own everything. This is that interface with an owned buffer:
/// D/C low for a command byte, high for its parameters and for pixels.
pub struct OwnedSpi<SPI, DC> {
    spi: SPI,
    dc: DC,
    buf: Vec<u8>,
}

/// An SPI or D/C pin failure.
#[derive(Debug)]
pub enum SpiError<S, P> {
    /// The SPI transfer failed.
    Spi(S),
    /// The D/C pin could not be set.
    Dc(P),
}

impl<SPI: SpiDevice, DC: OutputPin> OwnedSpi<SPI, DC> {
    /// Wrap a SPI device and its D/C pin (with a 4 KiB pixel buffer).
    pub fn new(spi: SPI, dc: DC) -> Self {
        OwnedSpi {
            spi,
            dc,
            buf: vec![0; 4096],
        }
    }

    fn flush(&mut self, len: usize) -> Result<(), SpiError<SPI::Error, DC::Error>> {
        self.spi.write(&self.buf[..len]).map_err(SpiError::Spi)
    }
}

impl<SPI: SpiDevice, DC: OutputPin> Interface for OwnedSpi<SPI, DC> {
    type Word = u8;
    type Error = SpiError<SPI::Error, DC::Error>;
    const KIND: InterfaceKind = InterfaceKind::Serial4Line;

    fn send_command(&mut self, command: u8, args: &[u8]) -> Result<(), Self::Error> {
        self.dc.set_low().map_err(SpiError::Dc)?;
        self.spi.write(&[command]).map_err(SpiError::Spi)?;
        self.dc.set_high().map_err(SpiError::Dc)?;
        self.spi.write(args).map_err(SpiError::Spi)
    }

    fn send_pixels<const N: usize>(
        &mut self,
        pixels: impl IntoIterator<Item = [u8; N]>,
    ) -> Result<(), Self::Error> {
        let mut len = 0;
        for px in pixels {
            if len + N > self.buf.len() {
                self.flush(len)?;
                len = 0;
            }
            self.buf[len..len + N].copy_from_slice(&px);
            len += N;
        }
        if len > 0 {
            self.flush(len)?;
        }
        Ok(())
    }

    fn send_repeated_pixel<const N: usize>(
        &mut self,
        pixel: [u8; N],
        count: u32,
    ) -> Result<(), Self::Error> {
        self.send_pixels((0..count).map(|_| pixel))
    }
}

type Dev<SPI, DC, RST, M> = mipidsi::Display<OwnedSpi<SPI, DC>, M, MaybePin<RST>>;

enum Inner<SPI: SpiDevice, DC: OutputPin, RST: OutputPin> {
    St7789(Dev<SPI, DC, RST, ST7789>),
    Ili9341(Dev<SPI, DC, RST, ILI9341Rgb565>),
}

/// A colour TFT panel.
pub struct TftPanel<SPI: SpiDevice, DC: OutputPin, RST: OutputPin, BL: OutputPin, D: DelayNs> {
    dev: Inner<SPI, DC, RST>,
    backlight: Option<BL>,
    delay: D,
    size: Size,
    name: String,
}

fn bus(e: impl std::fmt::Debug) -> DisplayError {
    DisplayError::Bus(format!("{e:?}"))
}

impl<SPI, DC, RST, BL, D> TftPanel<SPI, DC, RST, BL, D>
where
    SPI: SpiDevice,
    DC: OutputPin,
    RST: OutputPin,
    BL: OutputPin,
    D: DelayNs,
{
    /// Reset and initialize the panel, then turn the backlight on.
    pub fn new(
        spec: &TftSpec,
        spi: SPI,
        dc: DC,
        rst: Option<RST>,
        backlight: Option<BL>,
        mut delay: D,
        name: String,
    ) -> Result<Self, DisplayError> {
        let mut di = OwnedSpi::new(spi, dc);
        if rst.is_none() {
            // No reset line: a software reset, then the 120 ms the
            // controllers ask for before the next command.
            di.send_command(0x01, &[]).map_err(bus)?;
            delay.delay_ms(120);
        }
        let invert = if spec.invert {
            ColorInversion::Inverted
        } else {
            ColorInversion::Normal
        };
        let order = if spec.bgr {
            ColorOrder::Bgr
        } else {
            ColorOrder::Rgb
        };
        macro_rules! build {
            ($model:expr) => {
                mipidsi::Builder::new($model, di)
                    .display_size(spec.size.0, spec.size.1)
                    .display_offset(spec.offset.0, spec.offset.1)
                    .orientation(spec.orientation())
                    .invert_colors(invert)
                    .color_order(order)
                    .reset_pin(MaybePin(rst))
                    .init(&mut delay)
                    .map_err(bus)?
            };
        }
        let (dev, size) = match spec.model {
            Model::St7789 => {
                let d = build!(ST7789);
                let size = d.bounding_box().size;
                (Inner::St7789(d), size)
            }
            Model::Ili9341 => {
                let d = build!(ILI9341Rgb565);
                let size = d.bounding_box().size;
                (Inner::Ili9341(d), size)
            }
        };
        let mut panel = TftPanel {
            dev,
            backlight,
            delay,
            size,
            name,
        };
        panel.backlight(true)?;
        Ok(panel)
    }

    fn backlight(&mut self, on: bool) -> Result<(), DisplayError> {
        if let Some(bl) = self.backlight.as_mut() {
            if on { bl.set_high() } else { bl.set_low() }.map_err(bus)?;
        }
        Ok(())
    }
}

impl<SPI, DC, RST, BL, D> Display for TftPanel<SPI, DC, RST, BL, D>
where
    SPI: SpiDevice + Send,
    DC: OutputPin + Send,
    RST: OutputPin + Send,
    BL: OutputPin + Send,
    D: DelayNs + Send,
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn kind(&self) -> Kind {
        Kind::Color(self.size)
    }

    fn show(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        let Picture::Color(frame) = picture else {
            return Err(DisplayError::Io(
                "a colour panel was given a mono frame".into(),
            ));
        };
        if frame.size() != self.size {
            return Err(DisplayError::Io(format!(
                "frame is {:?}, panel is {:?}",
                frame.size(),
                self.size
            )));
        }
        let (ex, ey) = (self.size.width as u16 - 1, self.size.height as u16 - 1);
        let px = frame.pixels().iter().copied();
        match &mut self.dev {
            Inner::St7789(d) => d.set_pixels(0, 0, ex, ey, px).map_err(bus),
            Inner::Ili9341(d) => d.set_pixels(0, 0, ex, ey, px).map_err(bus),
        }
    }

    fn set_on(&mut self, on: bool) -> Result<(), DisplayError> {
        if !on {
            self.backlight(false)?;
        }
        let delay = &mut self.delay;
        match (&mut self.dev, on) {
            (Inner::St7789(d), true) => d.wake(delay).map_err(bus)?,
            (Inner::St7789(d), false) => d.sleep(delay).map_err(bus)?,
            (Inner::Ili9341(d), true) => d.wake(delay).map_err(bus)?,
            (Inner::Ili9341(d), false) => d.sleep(delay).map_err(bus)?,
        }
        if on {
            self.backlight(true)?;
        }
        Ok(())
    }
}

/// Open the panel a spec names on real hardware.
#[cfg(feature = "linux")]
pub fn open(spec: &TftSpec) -> Result<Box<dyn Display>, DisplayError> {
    use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
    use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
    use linux_embedded_hal::{CdevPin, Delay, SpidevDevice};

    let mut spi = SpidevDevice::open(&spec.spi).map_err(|e| bus(format!("{}: {e}", spec.spi)))?;
    spi.configure(
        &SpidevOptions::new()
            .bits_per_word(8)
            .max_speed_hz(spec.hz)
            .mode(SpiModeFlags::SPI_MODE_0)
            .build(),
    )
    .map_err(|e| bus(format!("{}: {e}", spec.spi)))?;
    let mut chip = Chip::new(&spec.chip).map_err(|e| bus(format!("{}: {e}", spec.chip)))?;
    let mut out = |line: u32, high: u8| -> Result<CdevPin, DisplayError> {
        let handle = chip
            .get_line(line)
            .and_then(|l| l.request(LineRequestFlags::OUTPUT, high, "onionchat-display"))
            .map_err(|e| bus(format!("{} line {line}: {e}", spec.chip)))?;
        CdevPin::new(handle).map_err(bus)
    };
    let dc = out(spec.dc, 0)?;
    let rst = match spec.rst {
        Some(l) => Some(out(l, 1)?),
        None => None,
    };
    let bl = match spec.backlight {
        Some(l) => Some(out(l, 0)?),
        None => None,
    };
    let name = format!(
        "{:?} {}x{} on {}",
        spec.model, spec.size.0, spec.size.1, spec.spi
    );
    Ok(Box::new(TftPanel::new(
        spec, spi, dc, rst, bl, Delay, name,
    )?))
}

/// An optional pin: without one, setting it does nothing.
pub struct MaybePin<P>(Option<P>);

impl<P: OutputPin> embedded_hal::digital::ErrorType for MaybePin<P> {
    type Error = P::Error;
}

impl<P: OutputPin> OutputPin for MaybePin<P> {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.as_mut().map_or(Ok(()), |p| p.set_low())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.as_mut().map_or(Ok(()), |p| p.set_high())
    }
}
