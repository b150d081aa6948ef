//! Colour layouts for bigger panels: ST7789 (240×240, 240×135), ILI9341
//! (320×240) and HDMI/SPI screens behind the Linux framebuffer. Same pages
//! and facts as the monochrome screens, laid out for the panel's size with
//! a 10×20 font, a title bar whose colour says how things are (green: fine,
//! amber: on its way, red: needs attention), and a QR code as large as fits
//! — big enough for full invites, which the 128×64 OLED cannot show.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_10X20;
use embedded_graphics::pixelcolor::{Rgb565, Rgb888};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use onionchat_proto::wire::TransportState;

use super::{Page, attention, bytes, count, duration, fit, head, tor_state, wrap};
use crate::qr;
use crate::status::DisplayStatus;

/// The smallest panel these layouts are made for; smaller colour panels
/// show the 128×64 layout scaled up instead.
pub const MIN_SIZE: Size = Size::new(240, 135);

const CHAR_W: u32 = 10;
const TITLE_H: u32 = 24;
const LINE_H: u32 = 22;

fn rgb(r: u8, g: u8, b: u8) -> Rgb565 {
    Rgb565::from(Rgb888::new(r, g, b))
}

/// The palette.
pub mod palette {
    use super::*;
    /// Onion purple: the product's own pages.
    pub fn brand() -> Rgb565 {
        rgb(0x7d, 0x46, 0x98)
    }
    /// All good.
    pub fn good() -> Rgb565 {
        rgb(0x2e, 0xa0, 0x43)
    }
    /// On its way (bootstrapping, publishing).
    pub fn busy() -> Rgb565 {
        rgb(0xe0, 0x9b, 0x00)
    }
    /// Needs attention.
    pub fn alert() -> Rgb565 {
        rgb(0xd0, 0x2b, 0x2b)
    }
    /// Labels and details.
    pub fn dim() -> Rgb565 {
        rgb(0xa0, 0xa0, 0xa0)
    }
    /// The System page.
    pub fn system() -> Rgb565 {
        rgb(0x3a, 0x5f, 0x8f)
    }
}

fn tone(t: &TransportState) -> Rgb565 {
    match t {
        TransportState::Reachable | TransportState::Tcp { .. } => palette::good(),
        TransportState::Degraded { .. } | TransportState::Stopped { .. } => palette::alert(),
        _ => palette::busy(),
    }
}

/// Text placement on a panel of a given size.
struct Layout {
    width: u32,
    height: u32,
}

impl Layout {
    fn cols(&self) -> usize {
        (self.width / CHAR_W) as usize
    }
    /// Body lines below the title bar.
    fn rows(&self) -> usize {
        (self.height.saturating_sub(TITLE_H + 4) / LINE_H) as usize
    }
    fn line_y(line: usize) -> i32 {
        (TITLE_H + 4 + line as u32 * LINE_H) as i32
    }
}

fn text<D: DrawTarget<Color = Rgb565>>(
    d: &mut D,
    s: &str,
    x: i32,
    y: i32,
    color: Rgb565,
) -> Result<(), D::Error> {
    let style = MonoTextStyle::new(&FONT_10X20, color);
    Text::with_baseline(s, Point::new(x, y), style, Baseline::Top).draw(d)?;
    Ok(())
}

fn title<D: DrawTarget<Color = Rgb565>>(
    d: &mut D,
    l: &Layout,
    s: &str,
    bar: Rgb565,
) -> Result<(), D::Error> {
    Rectangle::new(Point::zero(), Size::new(l.width, TITLE_H))
        .into_styled(PrimitiveStyle::with_fill(bar))
        .draw(d)?;
    text(d, &fit(s, l.cols().saturating_sub(1)), 5, 2, Rgb565::WHITE)
}

/// A "label   value" line: the label dim, the value white, both fitted.
fn field<D: DrawTarget<Color = Rgb565>>(
    d: &mut D,
    l: &Layout,
    line: usize,
    label: &str,
    value: &str,
    color: Rgb565,
) -> Result<(), D::Error> {
    if line >= l.rows() {
        return Ok(());
    }
    let label_cols = 11.min(l.cols() / 2);
    let y = Layout::line_y(line);
    text(d, &fit(label, label_cols - 1), 5, y, palette::dim())?;
    let value_cols = l.cols().saturating_sub(label_cols + 1);
    text(
        d,
        &fit(value, value_cols),
        5 + (label_cols as u32 * CHAR_W) as i32,
        y,
        color,
    )
}

/// Wrapped text from body line `first` on, in `color`; returns the next
/// free line.
fn para<D: DrawTarget<Color = Rgb565>>(
    d: &mut D,
    l: &Layout,
    first: usize,
    s: &str,
    color: Rgb565,
) -> Result<usize, D::Error> {
    let room = l.rows().saturating_sub(first);
    let lines = wrap(s, l.cols().saturating_sub(1), room);
    for (i, line) in lines.iter().enumerate() {
        text(d, line, 5, Layout::line_y(first + i), color)?;
    }
    Ok(first + lines.len())
}

/// Draw `page` for `s` onto a colour target of at least [`MIN_SIZE`]
/// (clearing it first).
pub fn render_color<D: DrawTarget<Color = Rgb565> + OriginDimensions>(
    d: &mut D,
    page: Page,
    s: &DisplayStatus,
) -> Result<(), D::Error> {
    d.clear(Rgb565::BLACK)?;
    let size = d.size();
    let l = Layout {
        width: size.width,
        height: size.height,
    };
    let n = &s.node;
    match page {
        Page::Connect => connect(d, &l, s)?,
        Page::Tor => {
            let (state, percent, detail) = tor_state(&n.transport);
            let t = tone(&n.transport);
            title(
                d,
                &l,
                if n.bridges > 0 {
                    "Tor via bridge"
                } else {
                    "Tor"
                },
                t,
            )?;
            let mut line = 0;
            text(d, &fit(&state, l.cols() - 1), 5, Layout::line_y(line), t)?;
            line += 1;
            if let Some(p) = percent {
                let y = Layout::line_y(line) + 2;
                let w = l.width - 10;
                Rectangle::new(Point::new(5, y), Size::new(w, 16))
                    .into_styled(PrimitiveStyle::with_stroke(Rgb565::WHITE, 1))
                    .draw(d)?;
                Rectangle::new(
                    Point::new(7, y + 2),
                    Size::new(u32::from(p.min(100)) * (w - 4) / 100, 12),
                )
                .into_styled(PrimitiveStyle::with_fill(t))
                .draw(d)?;
                line += 1;
            }
            if matches!(n.transport, TransportState::Reachable) {
                if let Some(addr) = &n.onion_address {
                    // The whole address, broken into lines (it has no spaces).
                    let cols = l.cols() - 1;
                    let chunks: Vec<String> = addr
                        .as_bytes()
                        .chunks(cols)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                    let spare = l.rows().saturating_sub(line + 1);
                    line = para(
                        d,
                        &l,
                        line,
                        &chunks[..chunks.len().min(spare)].join(" "),
                        Rgb565::WHITE,
                    )?;
                }
                para(d, &l, line, "Friends can connect.", palette::good())?;
            } else if let Some(det) = detail {
                para(d, &l, line, &det, palette::dim())?;
            }
        }
        Page::People => {
            title(d, &l, "People", palette::brand())?;
            field(d, &l, 0, "Users", &count(n.users), Rgb565::WHITE)?;
            field(
                d,
                &l,
                1,
                "Online now",
                &count(n.online_users),
                palette::good(),
            )?;
            field(
                d,
                &l,
                2,
                "Msgs today",
                &count(n.messages_today),
                Rgb565::WHITE,
            )?;
            let last = match n.last_message_at {
                Some(t) => format!("{} ago", duration(s.now_ms.saturating_sub(t) / 1000)),
                None => "never".into(),
            };
            field(d, &l, 3, "Last msg", &last, Rgb565::WHITE)?;
            field(d, &l, 4, "Rooms", &count(n.rooms), Rgb565::WHITE)?;
        }
        Page::System => {
            title(d, &l, &format!("System v{}", n.version), palette::system())?;
            field(d, &l, 0, "Up", &duration(n.uptime_secs), Rgb565::WHITE)?;
            let (temp, temp_color) = match s.cpu_temp_c {
                Some(t) if t >= 80.0 => (format!("{t:.0} C"), palette::alert()),
                Some(t) if t >= 70.0 => (format!("{t:.0} C"), palette::busy()),
                Some(t) => (format!("{t:.0} C"), Rgb565::WHITE),
                None => ("-".into(), Rgb565::WHITE),
            };
            field(d, &l, 1, "Temp", &temp, temp_color)?;
            let load = s
                .load1
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into());
            field(d, &l, 2, "Load", &load, Rgb565::WHITE)?;
            let free = n.disk_free_bytes.map(bytes).unwrap_or_else(|| "-".into());
            field(d, &l, 3, "Disk free", &free, Rgb565::WHITE)?;
            field(d, &l, 4, "Data", &bytes(n.storage_bytes), Rgb565::WHITE)?;
        }
        Page::Attention => {
            d.clear(palette::alert())?;
            let head = "! ATTENTION !";
            let x = (l.width as i32 - (head.len() as u32 * CHAR_W) as i32) / 2;
            text(d, head, x.max(0), 2, Rgb565::WHITE)?;
            let why = attention(s).unwrap_or_else(|| "All good".into());
            para(d, &l, 0, &why, Rgb565::WHITE)?;
        }
    }
    Ok(())
}

/// The Connect page: the invite (when the owner asked for one) or the
/// address as a QR code, as large as the panel allows, with a few words
/// beside it (landscape) or under it (square and portrait).
fn connect<D: DrawTarget<Color = Rgb565> + OriginDimensions>(
    d: &mut D,
    l: &Layout,
    s: &DisplayStatus,
) -> Result<(), D::Error> {
    let n = &s.node;
    let (payload, label) = match (&s.invite, &n.onion_address) {
        (Some(inv), _) => (inv.clone(), "Invite"),
        (None, Some(addr)) => (format!("onionchat://{addr}"), "Address"),
        (None, None) => (String::new(), ""),
    };
    let heading = if s.invite.is_some() {
        "Join: scan this invite"
    } else {
        "Box address (scan)"
    };
    title(d, l, heading, palette::brand())?;
    let code = if payload.is_empty() {
        None
    } else {
        qr::encode(&payload)
    };
    let Some(code) = code else {
        para(d, l, 0, "No address yet.", Rgb565::WHITE)?;
        para(d, l, 1, &tor_state(&n.transport).0, tone(&n.transport))?;
        return Ok(());
    };
    let body_h = l.height - TITLE_H - 2;
    let landscape = l.width >= body_h + 12 * CHAR_W;
    let side = if landscape {
        body_h
    } else {
        body_h.saturating_sub(LINE_H).min(l.width)
    };
    let modules = code.width() as u32 + 2;
    if side / modules < qr::MIN_READABLE_PX {
        para(
            d,
            l,
            0,
            &format!(
                "{label} too long for this screen. On the box run: onionchat-node invite create"
            ),
            Rgb565::WHITE,
        )?;
        return Ok(());
    }
    let placed_side = (side / modules) * modules;
    let (qx, qy) = if landscape {
        (2, (TITLE_H + 2) as i32)
    } else {
        (((l.width - placed_side) / 2) as i32, (TITLE_H + 2) as i32)
    };
    qr::draw(&mut d.color_converted(), &code, Point::new(qx, qy), side)?;
    let users = format!("{} users", count(n.users));
    let host = n.onion_address.as_deref().unwrap_or("");
    if landscape {
        let x = qx + placed_side as i32 + 8;
        let cols = ((l.width as i32 - x) / CHAR_W as i32).max(0) as usize;
        let mut y = (TITLE_H + 6) as i32;
        for line in [label, &head(host, cols), &users] {
            text(d, &fit(line, cols), x, y, Rgb565::WHITE)?;
            y += LINE_H as i32;
        }
    } else {
        let y = qy + placed_side as i32 + 1;
        let line = format!("{} {}", fit(&head(host, 10), 10), users);
        text(d, &fit(&line, l.cols() - 1), 5, y, palette::dim())?;
    }
    Ok(())
}
