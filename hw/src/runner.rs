//! Driving a display from the node: page cycling, the attention page,
//! refresh only on change, and blanking after a quiet spell (OLED burn-in).

use crate::display::{Display, DisplayError};
use crate::frame::Frame;
use crate::screens::{Page, attention, render};
use crate::status::DisplayStatus;

/// Seconds each page stays up.
pub const PAGE_SECS: u64 = 6;
/// Blank the panel after this long without anything new to show.
pub const BLANK_AFTER_SECS: u64 = 10 * 60;

/// Display state between refreshes.
pub struct Runner {
    display: Box<dyn Display>,
    last_frame: Option<Frame>,
    activity: Option<(u64, u64, u64, String, Option<String>)>,
    last_activity_at: u64,
    blank: bool,
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// A new frame was sent to the panel.
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
            last_frame: None,
            activity: None,
            last_activity_at: 0,
            blank: false,
        }
    }

    /// The display's name.
    pub fn name(&self) -> String {
        self.display.name()
    }

    /// The page to show at time `now` (seconds).
    pub fn page_at(status: &DisplayStatus, now: u64) -> Page {
        if attention(status).is_some() {
            Page::Attention
        } else if status.invite.is_some() {
            Page::Connect
        } else {
            Page::CYCLE[((now / PAGE_SECS) % Page::CYCLE.len() as u64) as usize]
        }
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
        let urgent = attention(status).is_some();
        if self.activity.as_ref() != Some(&key) || urgent {
            self.activity = Some(key);
            self.last_activity_at = now;
        }
        if now.saturating_sub(self.last_activity_at) >= BLANK_AFTER_SECS {
            if !self.blank {
                self.display.set_on(false)?;
                self.blank = true;
            }
            return Ok(Refresh::Blank);
        }
        if self.blank {
            self.display.set_on(true)?;
            self.blank = false;
            self.last_frame = None;
        }
        let page = Self::page_at(status, now);
        let mut frame = Frame::new(128, 64);
        let _ = render(&mut frame, page, status);
        if self.last_frame.as_ref() == Some(&frame) {
            return Ok(Refresh::Unchanged);
        }
        self.display.show(&frame)?;
        self.last_frame = Some(frame);
        Ok(Refresh::Shown(page))
    }
}
