//! Push buttons on GPIO lines: the first changes page (a short press) or
//! asks for an invite QR (held for [`LONG_PRESS_MS`]); an optional second
//! one asks for the invite with a short press.
//!
//! Buttons are wired from the GPIO line to ground with the pull-up enabled
//! (`gpio=17=ip,pu` in the Pi's config.txt), so pressed reads low. Presses
//! are debounced here ([`Debouncer`], a pure state machine fed with
//! timestamps) so the same logic runs on the Pi and in the tests.

use embedded_hal::digital::InputPin;

use crate::display::DisplayError;

/// A level must hold this long before it counts (contact bounce).
pub const DEBOUNCE_MS: u64 = 30;
/// Held at least this long, a press is a long press.
pub const LONG_PRESS_MS: u64 = 2_000;

/// What a press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonEvent {
    /// Wake the screen / show the next page.
    Next,
    /// Show an invite as a QR code (or hide the one showing).
    ShowInvite,
}

/// A debounced press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Pressed and let go before [`LONG_PRESS_MS`].
    Short,
    /// Held for [`LONG_PRESS_MS`] (reported once, while still held).
    Long,
}

/// Turns raw pin samples into presses.
#[derive(Debug, Default, Clone)]
pub struct Debouncer {
    /// The accepted (debounced) state.
    down: bool,
    /// When the accepted state became "down".
    down_since: u64,
    /// The raw level and since when it has held.
    raw: bool,
    raw_since: u64,
    long_sent: bool,
}

impl Debouncer {
    /// Feed one sample (`pressed` at `now_ms`); returns a press when one
    /// completes.
    pub fn sample(&mut self, pressed: bool, now_ms: u64) -> Option<Press> {
        if pressed != self.raw {
            self.raw = pressed;
            self.raw_since = now_ms;
        }
        if self.raw != self.down && now_ms.saturating_sub(self.raw_since) >= DEBOUNCE_MS {
            self.down = self.raw;
            if self.down {
                self.down_since = self.raw_since;
                self.long_sent = false;
            } else if !self.long_sent {
                return Some(Press::Short);
            }
        }
        if self.down && !self.long_sent && now_ms.saturating_sub(self.down_since) >= LONG_PRESS_MS {
            self.long_sent = true;
            return Some(Press::Long);
        }
        None
    }
}

/// One or two buttons on input pins (pressed = low).
pub struct Buttons<P: InputPin> {
    pins: Vec<(P, Debouncer)>,
}

impl<P: InputPin> Buttons<P> {
    /// The first pin is page/invite, the optional second one invite.
    pub fn new(pins: Vec<P>) -> Self {
        Buttons {
            pins: pins
                .into_iter()
                .take(2)
                .map(|p| (p, Debouncer::default()))
                .collect(),
        }
    }

    /// Sample every pin at `now_ms`; the events of completed presses.
    pub fn poll(&mut self, now_ms: u64) -> Result<Vec<ButtonEvent>, DisplayError> {
        let mut events = Vec::new();
        for (i, (pin, deb)) in self.pins.iter_mut().enumerate() {
            let pressed = pin
                .is_low()
                .map_err(|e| DisplayError::Bus(format!("button: {e:?}")))?;
            match (i, deb.sample(pressed, now_ms)) {
                (0, Some(Press::Short)) => events.push(ButtonEvent::Next),
                (_, Some(Press::Long)) | (1, Some(Press::Short)) => {
                    events.push(ButtonEvent::ShowInvite)
                }
                _ => {}
            }
        }
        Ok(events)
    }
}

/// Buttons of any pin type, for callers that hold them boxed.
pub trait ButtonSource: Send {
    /// Sample every button at `now_ms`; the events of completed presses.
    fn poll(&mut self, now_ms: u64) -> Result<Vec<ButtonEvent>, DisplayError>;
}

impl<P: InputPin + Send> ButtonSource for Buttons<P> {
    fn poll(&mut self, now_ms: u64) -> Result<Vec<ButtonEvent>, DisplayError> {
        Buttons::poll(self, now_ms)
    }
}

/// Parse `/dev/gpiochip0:17[,27]` → chip and lines.
pub fn parse_spec(spec: &str) -> Result<(String, Vec<u32>), DisplayError> {
    let bad = || {
        DisplayError::Unknown(format!(
            "buttons '{spec}' (try /dev/gpiochip0:17 or /dev/gpiochip0:17,27)"
        ))
    };
    let (chip, lines) = spec.rsplit_once(':').ok_or_else(bad)?;
    let lines = lines
        .split(',')
        .map(|l| l.trim().parse::<u32>().map_err(|_| bad()))
        .collect::<Result<Vec<_>, _>>()?;
    if chip.is_empty() || lines.is_empty() || lines.len() > 2 {
        return Err(bad());
    }
    Ok((chip.to_string(), lines))
}

/// Open the buttons a spec names on real hardware.
#[cfg(not(feature = "linux"))]
pub fn open(spec: &str) -> Result<Box<dyn ButtonSource>, DisplayError> {
    parse_spec(spec)?;
    Err(DisplayError::Unknown(format!(
        "buttons {spec} (built without Linux drivers)"
    )))
}

/// Open the buttons a spec names on real hardware.
#[cfg(feature = "linux")]
pub fn open(spec: &str) -> Result<Box<dyn ButtonSource>, DisplayError> {
    use linux_embedded_hal::CdevPin;
    use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
    let (chip_path, lines) = parse_spec(spec)?;
    let mut chip =
        Chip::new(&chip_path).map_err(|e| DisplayError::Bus(format!("{chip_path}: {e}")))?;
    let pins = lines
        .iter()
        .map(|&l| {
            let h = chip
                .get_line(l)
                .and_then(|line| line.request(LineRequestFlags::INPUT, 0, "onionchat-button"))
                .map_err(|e| DisplayError::Bus(format!("{chip_path} line {l}: {e}")))?;
            CdevPin::new(h).map_err(|e| DisplayError::Bus(format!("{chip_path} line {l}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(Buttons::new(pins)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `(level, from_ms)` steps, sampling every 5 ms up to `end`.
    fn run(steps: &[(bool, u64)], end: u64) -> Vec<(u64, Press)> {
        let mut d = Debouncer::default();
        let mut out = Vec::new();
        let mut t = 0;
        while t <= end {
            let level = steps
                .iter()
                .rev()
                .find(|(_, from)| *from <= t)
                .is_some_and(|(l, _)| *l);
            if let Some(p) = d.sample(level, t) {
                out.push((t, p));
            }
            t += 5;
        }
        out
    }

    #[test]
    fn a_clean_short_press_counts_once_on_release() {
        let got = run(&[(true, 100), (false, 400)], 1000);
        assert_eq!(got, vec![(430, Press::Short)]);
    }

    #[test]
    fn bounce_shorter_than_the_debounce_time_is_ignored() {
        // 10 ms blips, then a real press with bouncy contacts.
        let got = run(
            &[
                (true, 100),
                (false, 110),
                (true, 300),
                (false, 305),
                (true, 310),
                (false, 600),
                (true, 605),
                (false, 612),
            ],
            1000,
        );
        assert_eq!(got, vec![(645, Press::Short)]);
    }

    #[test]
    fn holding_gives_one_long_press_and_no_short_one() {
        let got = run(&[(true, 100), (false, 5000)], 6000);
        assert_eq!(got, vec![(2100, Press::Long)]);
    }

    #[test]
    fn spec_parsing() {
        assert_eq!(
            parse_spec("/dev/gpiochip0:17").expect("one"),
            ("/dev/gpiochip0".into(), vec![17])
        );
        assert_eq!(
            parse_spec("/dev/gpiochip0:17,27").expect("two").1,
            vec![17, 27]
        );
        for bad in [
            "",
            "17",
            "/dev/gpiochip0:",
            "/dev/gpiochip0:x",
            ":17",
            "/dev/gpiochip0:1,2,3",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad:?} should be refused");
        }
    }

    /// A pin whose level the test sets (true = pressed = low).
    #[derive(Clone, Default)]
    struct Scripted(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl embedded_hal::digital::ErrorType for Scripted {
        type Error = core::convert::Infallible;
    }

    impl InputPin for Scripted {
        fn is_high(&mut self) -> Result<bool, Self::Error> {
            Ok(!self.0.load(std::sync::atomic::Ordering::SeqCst))
        }
        fn is_low(&mut self) -> Result<bool, Self::Error> {
            Ok(self.0.load(std::sync::atomic::Ordering::SeqCst))
        }
    }

    #[test]
    fn first_button_pages_and_invites_second_button_invites() {
        let (a, b) = (Scripted::default(), Scripted::default());
        let mut buttons = Buttons::new(vec![a.clone(), b.clone()]);
        let mut events = Vec::new();
        let mut press = |pin: &Scripted, from: u64, ms: u64, events: &mut Vec<_>| {
            use std::sync::atomic::Ordering::SeqCst;
            for t in (from..from + ms + 100).step_by(10) {
                pin.0.store(t < from + ms, SeqCst);
                events.extend(ButtonSource::poll(&mut buttons, t).expect("poll"));
            }
        };
        press(&a, 0, 200, &mut events);
        assert_eq!(events, [ButtonEvent::Next]);
        press(&a, 1000, 2500, &mut events);
        assert_eq!(events, [ButtonEvent::Next, ButtonEvent::ShowInvite]);
        press(&b, 5000, 100, &mut events);
        assert_eq!(
            events,
            [
                ButtonEvent::Next,
                ButtonEvent::ShowInvite,
                ButtonEvent::ShowInvite
            ]
        );
    }
}
