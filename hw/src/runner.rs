//! Driving a display from the node: page cycling, the attention page,
//! refresh only on change, buttons, and OLED burn-in care — dim after a
//! quiet minute, shift the picture by a pixel every few minutes, blank
//! after ten quiet minutes, wake on a button or on anything new.

use embedded_graphics::pixelcolor::{Rgb565, RgbColor};

use crate::display::{Display, DisplayError, Kind};
use crate::frame::{ColorFrame, Frame, Picture};
use crate::screens::color::{MIN_SIZE, render_color};
use crate::screens::{Page, attention, only_degraded, render};
use crate::status::DisplayStatus;
use onionchat_proto::wire::TransportState;

/// Seconds each page stays up.
pub const PAGE_SECS: u64 = 6;
/// A page picked with the button stays this long before cycling resumes.
pub const HOLD_SECS: u64 = 30;
/// Dim the panel after this long without anything new.
pub const DIM_AFTER_SECS: u64 = 60;
/// Blank the panel after this long without anything new.
pub const BLANK_AFTER_SECS: u64 = 10 * 60;
/// Move a monochrome (OLED) picture by one pixel this often.
pub const SHIFT_EVERY_SECS: u64 = 3 * 60;
/// A degraded onion service takes the screen over only after this long
/// (a stopped one, or a full disk, at once).
pub const DEGRADED_GRACE_SECS: u64 = 5 * 60;
/// The pixel offsets an OLED picture walks through.
pub const SHIFTS: [(i32, i32); 4] = [(0, 0), (1, 0), (1, 1), (0, 1)];

/// How the panel is lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Full brightness.
    On,
    /// Dimmed after a quiet spell.
    Dim,
    /// Blanked after a long quiet spell.
    Off,
}

/// Display state between refreshes.
pub struct Runner {
    display: Box<dyn Display>,
    last: Option<Picture>,
    activity: Option<(u64, u64, u64, String, Option<String>)>,
    last_activity_at: u64,
    power: Power,
    /// A page picked with the button, and until when it stays.
    held: Option<(Page, u64)>,
    /// Since when the onion service has been degraded (seen by `refresh`).
    degraded_since: Option<u64>,
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// A new picture was sent to the panel.
    Shown(Page),
    /// Same picture as before: nothing sent.
    Unchanged,
    /// The panel is blanked (quiet for a while).
    Blank,
}

impl Runner {
    /// Drive `display`.
    pub fn new(display: Box<dyn Display>) -> Self {
        Runner {
            display,
            last: None,
            activity: None,
            last_activity_at: 0,
            power: Power::On,
            held: None,
            degraded_since: None,
        }
    }

    /// The display's name.
    pub fn name(&self) -> String {
        self.display.name()
    }

    /// How the panel is lit now.
    pub fn power(&self) -> Power {
        self.power
    }

    /// Whether `status` needs the attention page at time `now`: at once,
    /// except for a degraded onion service, which gets
    /// [`DEGRADED_GRACE_SECS`] to recover first.
    pub fn urgent(&self, status: &DisplayStatus, now: u64) -> bool {
        attention(status).is_some()
            && (!only_degraded(status)
                || self
                    .degraded_since
                    .is_some_and(|t| now.saturating_sub(t) >= DEGRADED_GRACE_SECS))
    }

    /// The page to show at time `now` (seconds).
    pub fn page_at(&self, status: &DisplayStatus, now: u64) -> Page {
        if self.urgent(status, now) {
            Page::Attention
        } else if status.invite.is_some() {
            Page::Connect
        } else if let Some((page, until)) = self.held
            && now < until
        {
            page
        } else {
            Page::CYCLE[((now / PAGE_SECS) % Page::CYCLE.len() as u64) as usize]
        }
    }

    /// Something happened that a person may look at (a button): light the
    /// panel again.
    pub fn wake(&mut self, now: u64) {
        self.last_activity_at = now;
    }

    /// The "next page" button: wake, and if the panel was already lit,
    /// hold the next page of the cycle for [`HOLD_SECS`].
    pub fn next_page(&mut self, status: &DisplayStatus, now: u64) {
        let was_on = self.power == Power::On;
        self.wake(now);
        if !was_on {
            return;
        }
        let current = self.page_at(status, now);
        let i = Page::CYCLE.iter().position(|p| *p == current).unwrap_or(0);
        let next = Page::CYCLE[(i + 1) % Page::CYCLE.len()];
        self.held = Some((next, now + HOLD_SECS));
    }

    /// The picture for `page`, in the layout the display takes.
    pub fn picture(kind: Kind, page: Page, status: &DisplayStatus, now: u64) -> Picture {
        match kind {
            Kind::Mono => {
                let mut f = Frame::new(128, 64);
                let _ = render(&mut f, page, status);
                let (dx, dy) = SHIFTS[((now / SHIFT_EVERY_SECS) % SHIFTS.len() as u64) as usize];
                Picture::Mono(f.shifted(dx, dy))
            }
            Kind::Color(size) if size.width >= MIN_SIZE.width && size.height >= MIN_SIZE.height => {
                let mut f = ColorFrame::new(size.width, size.height);
                let _ = render_color(&mut f, page, status);
                Picture::Color(f)
            }
            Kind::Color(size) => {
                let mut f = Frame::new(128, 64);
                let _ = render(&mut f, page, status);
                Picture::Color(ColorFrame::from_mono(
                    &f,
                    size.width,
                    size.height,
                    Rgb565::WHITE,
                ))
            }
        }
    }

    fn set_power(&mut self, want: Power) -> Result<(), DisplayError> {
        if want == self.power {
            return Ok(());
        }
        match (self.power, want) {
            (_, Power::Off) => self.display.set_on(false)?,
            (Power::Off, p) => {
                self.display.set_on(true)?;
                self.display.set_dim(p == Power::Dim)?;
                // The panel was dark: draw again even if nothing changed.
                self.last = None;
            }
            (_, p) => self.display.set_dim(p == Power::Dim)?,
        }
        self.power = want;
        Ok(())
    }

    /// Refresh for `status` at time `now` (seconds since some epoch).
    pub fn refresh(&mut self, status: &DisplayStatus, now: u64) -> Result<Refresh, DisplayError> {
        let n = &status.node;
        let key = (
            n.messages_total,
            n.online_users,
            n.users,
            format!("{:?}", n.transport),
            status.invite.clone(),
        );
        if matches!(n.transport, TransportState::Degraded { .. }) {
            self.degraded_since.get_or_insert(now);
        } else {
            self.degraded_since = None;
        }
        let urgent = self.urgent(status, now);
        if self.activity.as_ref() != Some(&key) || urgent {
            self.activity = Some(key);
            self.last_activity_at = now;
        }
        let quiet = now.saturating_sub(self.last_activity_at);
        let want = if quiet >= BLANK_AFTER_SECS {
            Power::Off
        } else if quiet >= DIM_AFTER_SECS {
            Power::Dim
        } else {
            Power::On
        };
        self.set_power(want)?;
        if want == Power::Off {
            return Ok(Refresh::Blank);
        }
        let page = self.page_at(status, now);
        let picture = Self::picture(self.display.kind(), page, status, now);
        if self.last.as_ref() == Some(&picture) {
            return Ok(Refresh::Unchanged);
        }
        self.display.show(&picture)?;
        self.last = Some(picture);
        Ok(Refresh::Shown(page))
    }
}
