//! The screens, as pure functions of a [`DisplayStatus`] onto any
//! monochrome embedded-graphics target (colour layouts for bigger panels
//! are in [`color`]). Laid out for 128×64 with a 6×10
//! font (21 characters × 6 lines); every value is fitted so nothing runs
//! off the screen, whatever its length.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use onionchat_proto::wire::{TransportState, UpdateOutcome, UpdateReport};

use crate::qr;
use crate::status::DisplayStatus;

pub mod color;

/// Characters per line at 128 px.
const COLS: usize = 21;

/// The pages the screen cycles through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The address (or an invite) as a QR code.
    Connect,
    /// Tor bootstrap / onion service state.
    Tor,
    /// Users, online, messages today.
    People,
    /// Uptime, temperature, load, disk, version.
    System,
    /// Something needs attention (wins over cycling).
    Attention,
}

impl Page {
    /// The regular cycle.
    pub const CYCLE: [Page; 4] = [Page::Connect, Page::Tor, Page::People, Page::System];
}

/// Fit `s` into `n` characters (ASCII; longer text ends in "..").
pub fn fit(s: &str, n: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if s.len() <= n {
        s
    } else {
        format!("{}..", &s[..n.saturating_sub(2)])
    }
}

/// The first `n` characters of `s` (never splits a character).
pub fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// 1234 → "1234", 12345 → "12.3k", 1.2 million → "1.2M".
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// Bytes in B/K/M/G/T.
pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", U[i])
    }
}

/// Seconds as "3d 4h", "5h 12m", "7m".
pub fn duration(s: u64) -> String {
    match s {
        0..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Why the screen must show the attention page, if it must.
pub fn attention(s: &DisplayStatus) -> Option<String> {
    if let Some(free) = disk_low(s) {
        return Some(format!("Disk nearly full: {} free", bytes(free)));
    }
    if let Some(u) = rolled_back(s) {
        return Some(format!("Update {} failed; {} kept", u.to, u.from));
    }
    match &s.node.transport {
        TransportState::Degraded { reason } => Some(format!("Tor degraded: {reason}")),
        TransportState::Stopped { reason } => Some(format!("Tor stopped: {reason}")),
        _ => None,
    }
}

/// How long the screen points out an update that was rolled back: long
/// enough for the owner to walk past the box and see it.
pub const ROLLBACK_NOTICE_SECS: u64 = 3 * 24 * 3600;

/// The last update, when it was rolled back recently.
fn rolled_back(s: &DisplayStatus) -> Option<&UpdateReport> {
    s.node.last_update.as_ref().filter(|u| {
        u.outcome == UpdateOutcome::RolledBack
            && (s.now_ms / 1000).saturating_sub(u.at_secs) < ROLLBACK_NOTICE_SECS
    })
}

/// Free bytes, when the disk is nearly full.
fn disk_low(s: &DisplayStatus) -> Option<u64> {
    s.node
        .disk_free_bytes
        .filter(|free| *free < 512 * 1024 * 1024)
}

/// Whether the only thing wrong is a degraded onion service. Arti reports
/// that for minutes at a time while it replaces introduction points or
/// after a network change, and it usually heals by itself, so the runner
/// waits before it takes the screen over for it.
pub fn only_degraded(s: &DisplayStatus) -> bool {
    matches!(s.node.transport, TransportState::Degraded { .. }) && disk_low(s).is_none()
}

fn text<D: DrawTarget<Color = BinaryColor>>(
    d: &mut D,
    s: &str,
    x: i32,
    line: i32,
    color: BinaryColor,
) -> Result<(), D::Error> {
    let style = MonoTextStyle::new(&FONT_6X10, color);
    Text::with_baseline(s, Point::new(x, line * 10 + 3), style, Baseline::Top).draw(d)?;
    Ok(())
}

fn title<D: DrawTarget<Color = BinaryColor>>(d: &mut D, s: &str) -> Result<(), D::Error> {
    Rectangle::new(Point::zero(), Size::new(128, 12))
        .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
        .draw(d)?;
    let style = MonoTextStyle::new(&FONT_6X10, BinaryColor::Off);
    Text::with_baseline(&fit(s, COLS), Point::new(1, 1), style, Baseline::Top).draw(d)?;
    Ok(())
}

/// Wrap `s` onto at most `lines` lines of `width` characters.
pub(crate) fn wrap(s: &str, width: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let word = fit(word, width);
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if out.len() > lines {
        out.truncate(lines);
        if let Some(last) = out.last_mut() {
            *last = fit(&format!("{last} ..."), width);
        }
    }
    out
}

pub(crate) fn tor_state(t: &TransportState) -> (String, Option<u8>, Option<String>) {
    match t {
        TransportState::Starting => ("Starting".into(), None, None),
        TransportState::Tcp { addr } => ("TCP (dev)".into(), None, Some(addr.clone())),
        TransportState::Bootstrapping { percent, detail } => (
            format!("Bootstrapping {percent}%"),
            Some(*percent),
            Some(detail.clone()),
        ),
        TransportState::Publishing => (
            "Publishing".into(),
            None,
            Some("announcing the onion service".into()),
        ),
        TransportState::Reachable => ("Reachable".into(), None, None),
        TransportState::Degraded { reason } => ("DEGRADED".into(), None, Some(reason.clone())),
        TransportState::Stopped { reason } => ("STOPPED".into(), None, Some(reason.clone())),
    }
}

/// Draw `page` for `s` onto `d` (clearing it first).
pub fn render<D: DrawTarget<Color = BinaryColor> + OriginDimensions>(
    d: &mut D,
    page: Page,
    s: &DisplayStatus,
) -> Result<(), D::Error> {
    d.clear(BinaryColor::Off)?;
    let n = &s.node;
    match page {
        Page::Connect => {
            let (payload, label) = match (&s.invite, &n.onion_address) {
                (Some(inv), _) => (inv.clone(), "Invite"),
                (None, Some(addr)) => (format!("onionchat://{addr}"), "Address"),
                (None, None) => (String::new(), ""),
            };
            let code = if payload.is_empty() {
                None
            } else {
                qr::encode(&payload)
            };
            match code {
                Some(code) if (64 / (code.width() as u32 + 2)) >= qr::MIN_READABLE_PX => {
                    qr::draw(d, &code, Point::new(0, 0), 64)?;
                    let host = n.onion_address.as_deref().unwrap_or("");
                    text(d, "Scan with", 66, 0, BinaryColor::On)?;
                    text(d, "OnionChat", 66, 1, BinaryColor::On)?;
                    text(d, &fit(label, 10), 66, 2, BinaryColor::On)?;
                    text(d, &fit(&head(host, 10), 10), 66, 4, BinaryColor::On)?;
                    let users = format!("{} users", count(n.users));
                    text(d, &fit(&users, 10), 66, 5, BinaryColor::On)?;
                }
                Some(_) => {
                    title(d, "Connect")?;
                    for (i, l) in wrap(&format!("{label} too long for this screen. On the box run: onionchat-node invite create"), COLS, 5).iter().enumerate() {
                        text(d, l, 0, i as i32 + 1, BinaryColor::On)?;
                    }
                }
                None => {
                    title(d, "Connect")?;
                    text(d, "No address yet", 0, 2, BinaryColor::On)?;
                    text(
                        d,
                        &fit(&tor_state(&n.transport).0, COLS),
                        0,
                        3,
                        BinaryColor::On,
                    )?;
                }
            }
        }
        Page::Tor => {
            title(
                d,
                if n.bridges > 0 {
                    "Tor via bridge"
                } else {
                    "Tor"
                },
            )?;
            let (state, percent, detail) = tor_state(&n.transport);
            text(d, &fit(&state, COLS), 0, 1, BinaryColor::On)?;
            let mut line = 2;
            if matches!(n.transport, TransportState::Reachable)
                && let Some(addr) = &n.onion_address
            {
                text(d, &fit(addr, COLS), 0, 2, BinaryColor::On)?;
                text(d, "Friends can connect.", 0, 4, BinaryColor::On)?;
            }
            if let Some(p) = percent {
                Rectangle::new(Point::new(0, 25), Size::new(128, 8))
                    .into_styled(PrimitiveStyle::with_stroke(BinaryColor::On, 1))
                    .draw(d)?;
                let w = (u32::from(p.min(100)) * 124) / 100;
                Rectangle::new(Point::new(2, 27), Size::new(w, 4))
                    .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
                    .draw(d)?;
                line = 3;
            }
            if let Some(det) = detail {
                for (i, l) in wrap(&det, COLS, (6 - line) as usize).iter().enumerate() {
                    text(d, l, 0, line + i as i32, BinaryColor::On)?;
                }
            }
        }
        Page::People => {
            title(d, "People")?;
            text(
                d,
                &fit(&format!("Users      {}", count(n.users)), COLS),
                0,
                1,
                BinaryColor::On,
            )?;
            text(
                d,
                &fit(&format!("Online now {}", count(n.online_users)), COLS),
                0,
                2,
                BinaryColor::On,
            )?;
            text(
                d,
                &fit(&format!("Msgs today {}", count(n.messages_today)), COLS),
                0,
                3,
                BinaryColor::On,
            )?;
            let last = match n.last_message_at {
                Some(t) => {
                    let ago = s.now_ms.saturating_sub(t) / 1000;
                    format!("Last msg   {} ago", duration(ago))
                }
                None => "Last msg   never".into(),
            };
            text(d, &fit(&last, COLS), 0, 4, BinaryColor::On)?;
        }
        Page::System => {
            title(d, &format!("System v{}", n.version))?;
            text(
                d,
                &fit(&format!("Up   {}", duration(n.uptime_secs)), COLS),
                0,
                1,
                BinaryColor::On,
            )?;
            let temp = s
                .cpu_temp_c
                .map(|t| format!("{t:.0}C"))
                .unwrap_or_else(|| "-".into());
            let load = s
                .load1
                .map(|l| format!("{l:.2}"))
                .unwrap_or_else(|| "-".into());
            text(
                d,
                &fit(&format!("Temp {temp}  Load {load}"), COLS),
                0,
                2,
                BinaryColor::On,
            )?;
            let free = n.disk_free_bytes.map(bytes).unwrap_or_else(|| "-".into());
            text(
                d,
                &fit(&format!("Disk {free} free"), COLS),
                0,
                3,
                BinaryColor::On,
            )?;
            text(
                d,
                &fit(&format!("Data {}", bytes(n.storage_bytes)), COLS),
                0,
                4,
                BinaryColor::On,
            )?;
        }
        Page::Attention => {
            Rectangle::new(Point::zero(), Size::new(128, 64))
                .into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
                .draw(d)?;
            text(d, "! ATTENTION !", 25, 0, BinaryColor::Off)?;
            let why = attention(s).unwrap_or_else(|| "All good".into());
            for (i, l) in wrap(&why, COLS, 5).iter().enumerate() {
                text(d, l, 0, i as i32 + 1, BinaryColor::Off)?;
            }
        }
    }
    Ok(())
}
