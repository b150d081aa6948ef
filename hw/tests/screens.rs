//! Golden images of every screen, QR codes that decode, and no overflow.

use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics_simulator::SimulatorDisplay;
use onionchat_hw::display::png;
use onionchat_hw::runner::{Power, Refresh, Runner};
use onionchat_hw::{ColorFrame, DisplayStatus, Frame, Kind, Page, Picture, render, render_color};
use onionchat_proto::wire::{NodeStatus, TransportState, UpdateOutcome, UpdateReport};

const ONION: &str = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion";

fn status(transport: TransportState) -> DisplayStatus {
    DisplayStatus {
        node: NodeStatus {
            version: "0.1.0".into(),
            uptime_secs: 3 * 86_400 + 4 * 3600,
            users: 5,
            online_sessions: 3,
            online_users: 2,
            rooms: 7,
            messages_total: 1234,
            messages_today: 42,
            last_message_at: Some(1_700_000_000_000 - 180_000),
            storage_bytes: 52_428_800,
            disk_free_bytes: Some(12 * 1024 * 1024 * 1024),
            transport,
            onion_address: Some(ONION.into()),
            last_error: None,
            memory_bytes: Some(24 * 1024 * 1024),
            last_update: None,
            bridges: 0,
        },
        cpu_temp_c: Some(48.3),
        load1: Some(0.27),
        invite: None,
        now_ms: 1_700_000_000_000,
    }
}

fn frame(page: Page, s: &DisplayStatus) -> Frame {
    let mut f = Frame::new(128, 64);
    render(&mut f, page, s).expect("render");
    f
}

fn color_frame(page: Page, s: &DisplayStatus, w: u32, h: u32) -> ColorFrame {
    let mut f = ColorFrame::new(w, h);
    render_color(&mut f, page, s).expect("render");
    f
}

const ALL_PAGES: [Page; 5] = [
    Page::Connect,
    Page::Tor,
    Page::People,
    Page::System,
    Page::Attention,
];

fn golden_dir() -> std::path::PathBuf {
    // Cargo sets this when it runs the test; prefer it to the compile-time
    // value, which names another checkout when a shared target dir hands
    // this one a binary built elsewhere.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("tests")
        .join("golden")
}

/// Compare with the committed PNG pixel for pixel; on mismatch write the
/// actual frame and a diff image next to it and fail. `UPDATE_GOLDEN=1`
/// rewrites the goldens (review them before committing).
fn check_golden(name: &str, f: &Frame) {
    compare_golden(name, &Picture::Mono(f.clone()));
}

fn check_golden_color(name: &str, f: &ColorFrame) {
    compare_golden(name, &Picture::Color(f.clone()));
}

fn save(p: &Picture, path: &std::path::Path) {
    match p {
        Picture::Mono(f) => png::save(f, path),
        Picture::Color(f) => png::save_color(f, path),
    }
    .expect("save png")
}

/// Compare with the committed PNG pixel for pixel; on mismatch write the
/// actual picture and a diff image next to it and fail. `UPDATE_GOLDEN=1`
/// rewrites the goldens (review them before committing).
fn compare_golden(name: &str, p: &Picture) {
    let path = golden_dir().join(format!("{name}.png"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        save(p, &path);
        return;
    }
    let missing = |e| -> ! {
        panic!(
            "missing golden {}: {e} (run with UPDATE_GOLDEN=1)",
            path.display()
        )
    };
    let diff = match p {
        Picture::Mono(f) => {
            let expected: SimulatorDisplay<BinaryColor> =
                SimulatorDisplay::load_png(&path).unwrap_or_else(|e| missing(e));
            expected.diff(&png::to_simulator(f))
        }
        Picture::Color(f) => {
            let expected: SimulatorDisplay<Rgb565> =
                SimulatorDisplay::load_png(&path).unwrap_or_else(|e| missing(e));
            expected.diff(&png::color_to_simulator(f))
        }
    };
    if let Some(diff) = diff {
        let out = std::env::temp_dir().join(format!("onionchat-golden-{name}"));
        std::fs::create_dir_all(&out).expect("dir");
        save(p, &out.join("actual.png"));
        diff.to_rgb_output_image(
            &embedded_graphics_simulator::OutputSettingsBuilder::new().build(),
        )
        .save_png(out.join("diff.png"))
        .expect("save diff");
        panic!(
            "screen '{name}' differs from its golden image; see {}",
            out.display()
        );
    }
}

#[test]
fn every_screen_matches_its_golden_image() {
    let ok = status(TransportState::Reachable);
    check_golden("connect", &frame(Page::Connect, &ok));
    check_golden("tor", &frame(Page::Tor, &ok));
    check_golden("people", &frame(Page::People, &ok));
    check_golden("system", &frame(Page::System, &ok));
    let booting = status(TransportState::Bootstrapping {
        percent: 62,
        detail: "handshaking with Tor relays".into(),
    });
    check_golden("tor-bootstrapping", &frame(Page::Tor, &booting));
    let mut full = status(TransportState::Reachable);
    full.node.disk_free_bytes = Some(100 * 1024 * 1024);
    check_golden("attention-disk", &frame(Page::Attention, &full));
    check_golden(
        "attention-rollback",
        &frame(Page::Attention, &rolled_back(3600)),
    );
    check_golden(
        "connect-invite-too-long",
        &frame(Page::Connect, &with_invite()),
    );
}

#[test]
fn the_connect_qr_decodes_back_and_is_big_enough() {
    let f = frame(Page::Connect, &status(TransportState::Reachable));
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(128, 64, |x, y| {
        if f.get(x as u32, y as u32) { 255 } else { 0 }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the screen");
    let (meta, content) = grids[0].decode().expect("decodes");
    assert_eq!(content, format!("onionchat://{ONION}").to_ascii_uppercase());
    assert_eq!(meta.version.0, 3, "alphanumeric upper case fits version 3");
    let code = onionchat_hw::qr::encode(&content).expect("encode");
    assert_eq!(code.width(), 29);
    let mut probe = Frame::new(128, 64);
    let placed = onionchat_hw::qr::draw(
        &mut probe,
        &code,
        embedded_graphics::prelude::Point::zero(),
        64,
    )
    .expect("draw");
    assert_eq!(placed.modules, 29);
    assert!(
        placed.px >= onionchat_hw::qr::MIN_READABLE_PX,
        "{} px per module",
        placed.px
    );
}

#[test]
fn extreme_values_never_run_off_the_screen() {
    for st in [&extreme(), &zeroes()] {
        for page in ALL_PAGES {
            // Draw on a larger canvas: anything beyond 128×64 is overflow.
            let mut big = Frame::new(400, 200);
            render(&mut big, page, st).expect("render");
            for y in 0..200 {
                for x in 0..400 {
                    if x >= 128 || y >= 64 {
                        assert!(!big.get(x, y), "{page:?} drew at ({x},{y})");
                    }
                }
            }
            assert!(big.lit() > 0, "{page:?} drew nothing");
        }
    }
}

fn extreme() -> DisplayStatus {
    let mut s = status(TransportState::Degraded {
        reason: "x".repeat(500),
    });
    s.node.version = "99.99.99-very-long-prerelease+build.metadata.0123456789".into();
    s.node.users = u64::MAX;
    s.node.online_users = u64::MAX;
    s.node.messages_today = u64::MAX;
    s.node.messages_total = u64::MAX;
    s.node.uptime_secs = u64::MAX;
    s.node.storage_bytes = u64::MAX;
    s.node.disk_free_bytes = Some(u64::MAX);
    s.node.last_message_at = Some(0);
    s.cpu_temp_c = Some(-1e30);
    s.load1 = Some(f32::MAX);
    s.node.onion_address = Some("ü".repeat(300));
    // The Tor page's longest title ("Tor via bridge").
    s.node.bridges = u32::MAX;
    s
}

fn zeroes() -> DisplayStatus {
    let mut z = status(TransportState::Starting);
    z.node.users = 0;
    z.node.uptime_secs = 0;
    z.node.disk_free_bytes = Some(0);
    z.node.onion_address = None;
    z.node.last_message_at = None;
    z
}

#[test]
fn a_degraded_service_gets_a_grace_period_before_the_attention_page() {
    use onionchat_hw::runner::DEGRADED_GRACE_SECS;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut r = Runner::new(Box::new(png::PngSink::new(tmp.path().join("s.png"))));
    let ok = status(TransportState::Reachable);
    let degraded = status(TransportState::Degraded {
        reason: "replacing introduction points".into(),
    });
    r.refresh(&ok, 0).expect("refresh");
    // Degraded from t = 10: the usual pages go on for the grace period.
    for t in [10, 100, 10 + DEGRADED_GRACE_SECS - 1] {
        let shown = r.refresh(&degraded, t).expect("refresh");
        assert_ne!(shown, Refresh::Shown(Page::Attention), "at {t}");
        assert_ne!(r.page_at(&degraded, t), Page::Attention, "at {t}");
    }
    // Still degraded when it is over: the attention page takes over.
    assert_eq!(
        r.refresh(&degraded, 10 + DEGRADED_GRACE_SECS)
            .expect("refresh"),
        Refresh::Shown(Page::Attention)
    );
    // Recovering starts the clock again.
    r.refresh(&ok, 400).expect("refresh");
    r.refresh(&degraded, 401).expect("refresh");
    assert_ne!(
        r.page_at(&degraded, 401 + DEGRADED_GRACE_SECS - 1),
        Page::Attention
    );
    // A nearly full disk does not wait, degraded or not.
    let mut full = degraded.clone();
    full.node.disk_free_bytes = Some(1024);
    assert_eq!(
        r.refresh(&full, 402).expect("refresh"),
        Refresh::Shown(Page::Attention)
    );
}

/// A box whose updater rolled 0.4.1 back `ago` seconds before now.
fn rolled_back(ago: u64) -> DisplayStatus {
    let mut s = status(TransportState::Reachable);
    s.node.last_update = Some(UpdateReport {
        outcome: UpdateOutcome::RolledBack,
        from: "0.4.0".into(),
        to: "0.4.1".into(),
        at_secs: s.now_ms / 1000 - ago,
    });
    s
}

#[test]
fn a_rolled_back_update_takes_the_screen_for_three_days() {
    use onionchat_hw::screens::{ROLLBACK_NOTICE_SECS, attention};
    let tmp = tempfile::tempdir().expect("tmp");
    let mut r = Runner::new(Box::new(png::PngSink::new(tmp.path().join("s.png"))));
    let recent = rolled_back(3600);
    assert_eq!(
        attention(&recent).as_deref(),
        Some("Update 0.4.1 failed; 0.4.0 kept")
    );
    assert_eq!(
        r.refresh(&recent, 0).expect("refresh"),
        Refresh::Shown(Page::Attention)
    );
    // Old news, and a successful update, leave the usual pages alone.
    let old = rolled_back(ROLLBACK_NOTICE_SECS + 1);
    assert_eq!(attention(&old), None);
    let mut updated = rolled_back(60);
    if let Some(u) = updated.node.last_update.as_mut() {
        u.outcome = UpdateOutcome::Updated;
    }
    assert_eq!(attention(&updated), None);
    assert_ne!(r.page_at(&updated, 100), Page::Attention);
}

#[test]
fn attention_wins_and_unchanged_frames_are_not_resent() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("screen.png");
    let mut r = Runner::new(Box::new(png::PngSink::new(&out)));
    let ok = status(TransportState::Reachable);
    assert_eq!(
        r.refresh(&ok, 0).expect("refresh"),
        Refresh::Shown(Page::Connect)
    );
    assert!(out.exists());
    assert_eq!(r.refresh(&ok, 1).expect("refresh"), Refresh::Unchanged);
    assert_eq!(
        r.refresh(&ok, 6).expect("refresh"),
        Refresh::Shown(Page::Tor)
    );
    let bad = status(TransportState::Stopped {
        reason: "no network".into(),
    });
    assert_eq!(
        r.refresh(&bad, 7).expect("refresh"),
        Refresh::Shown(Page::Attention)
    );
    // Quiet for ten minutes: blank; new activity wakes it.
    assert_eq!(
        r.refresh(&ok, 8).expect("refresh"),
        Refresh::Shown(Page::Tor)
    );
    assert_eq!(r.refresh(&ok, 8 + 600).expect("refresh"), Refresh::Blank);
    let mut busy = ok.clone();
    busy.node.messages_total += 1;
    assert!(matches!(
        r.refresh(&busy, 8 + 601).expect("refresh"),
        Refresh::Shown(_)
    ));
}

#[test]
fn every_colour_screen_matches_its_golden_image() {
    let ok = status(TransportState::Reachable);
    for (page, name) in [
        (Page::Connect, "connect"),
        (Page::Tor, "tor"),
        (Page::People, "people"),
        (Page::System, "system"),
    ] {
        check_golden_color(
            &format!("color-320x240-{name}"),
            &color_frame(page, &ok, 320, 240),
        );
    }
    let booting = status(TransportState::Bootstrapping {
        percent: 62,
        detail: "handshaking with Tor relays".into(),
    });
    check_golden_color(
        "color-320x240-tor-bootstrapping",
        &color_frame(Page::Tor, &booting, 320, 240),
    );
    let mut full = status(TransportState::Reachable);
    full.node.disk_free_bytes = Some(100 * 1024 * 1024);
    check_golden_color(
        "color-320x240-attention-disk",
        &color_frame(Page::Attention, &full, 320, 240),
    );
    check_golden_color(
        "color-240x240-invite",
        &color_frame(Page::Connect, &with_invite(), 240, 240),
    );
    check_golden_color("color-240x135-tor", &color_frame(Page::Tor, &ok, 240, 135));
}

fn full_invite() -> String {
    format!(
        "onionchat://{ONION}/ABCDEFGHIJKLMNOPQRSTUVWXYZ/{}",
        "A".repeat(52)
    )
}

fn with_invite() -> DisplayStatus {
    let mut s = status(TransportState::Reachable);
    s.invite = Some(full_invite());
    s
}

/// Decode the one QR code in a colour frame.
fn decode_color(f: &ColorFrame) -> (u32, String) {
    let size = f.size();
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(
        size.width as usize,
        size.height as usize,
        |x, y| {
            let p = f.get(x as u32, y as u32);
            (u32::from(p.r()) * 8 + u32::from(p.g()) * 4 + u32::from(p.b()) * 8).min(255) as u8
        },
    );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the screen");
    let (meta, content) = grids[0].decode().expect("decodes");
    (meta.version.0 as u32, content)
}

#[test]
fn colour_panels_show_full_invites_as_readable_qr_codes() {
    // The full invite (address + code + access key) that the 128×64 OLED
    // cannot show decodes from a 240×240 ST7789 and a 320×240 ILI9341,
    // at 3 px per module or more.
    for (w, h) in [(240, 240), (320, 240)] {
        let f = color_frame(Page::Connect, &with_invite(), w, h);
        let (version, content) = decode_color(&f);
        assert_eq!(content, full_invite().to_ascii_uppercase(), "{w}x{h}");
        let modules = 17 + 4 * version;
        let side = (h - 26).min(w);
        assert!(side / (modules + 2) >= 3, "{w}x{h}: v{version} too small");
    }
    // And the plain address on the smallest colour layout.
    let f = color_frame(Page::Connect, &status(TransportState::Reachable), 240, 135);
    assert_eq!(
        decode_color(&f).1,
        format!("onionchat://{ONION}").to_ascii_uppercase()
    );
}

/// A target that reports `size` but records anything drawn outside it.
struct Probe {
    size: Size,
    inner: ColorFrame,
    outside: usize,
}

impl OriginDimensions for Probe {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for Probe {
    type Color = Rgb565;
    type Error = core::convert::Infallible;
    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb565>>>(
        &mut self,
        px: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, c) in px {
            if p.x < 0 || p.y < 0 || p.x as u32 >= self.size.width || p.y as u32 >= self.size.height
            {
                self.outside += 1;
            } else {
                self.inner.draw_iter([Pixel(p, c)])?;
            }
        }
        Ok(())
    }
}

#[test]
fn extreme_values_never_run_off_colour_screens() {
    let mut s = extreme();
    s.invite = Some("x".repeat(2000));
    for st in [s, zeroes()] {
        for (w, h) in [(240, 135), (240, 240), (320, 240), (480, 320)] {
            for page in ALL_PAGES {
                let mut probe = Probe {
                    size: Size::new(w, h),
                    inner: ColorFrame::new(w, h),
                    outside: 0,
                };
                render_color(&mut probe, page, &st).expect("render");
                assert_eq!(probe.outside, 0, "{page:?} at {w}x{h} drew outside");
                assert!(
                    probe.inner.pixels().iter().any(|p| *p != Rgb565::BLACK),
                    "{page:?} drew nothing"
                );
            }
        }
    }
}

#[test]
fn oled_pictures_shift_a_pixel_every_few_minutes() {
    let ok = status(TransportState::Reachable);
    let plain = frame(Page::People, &ok);
    let at = |t| match Runner::picture(Kind::Mono, Page::People, &ok, t) {
        Picture::Mono(f) => f,
        other => panic!("mono expected, got {other:?}"),
    };
    assert_eq!(at(0), plain);
    assert_eq!(at(179), plain);
    assert_eq!(at(180), plain.shifted(1, 0));
    assert_eq!(at(360), plain.shifted(1, 1));
    assert_eq!(at(540), plain.shifted(0, 1));
    assert_eq!(at(720), plain, "back to the start");
    // Shifting moves pixels, it does not invent them.
    assert!(plain.shifted(1, 1).lit() <= plain.lit());
    assert!(plain.shifted(1, 0).get(1, 1) == plain.get(0, 1));
    // Colour LCDs do not burn in: no shift.
    let c = |t| Runner::picture(Kind::Color(Size::new(320, 240)), Page::People, &ok, t);
    assert_eq!(c(0), c(180));
}

#[test]
fn small_colour_panels_get_the_mono_layout_scaled_and_centred() {
    let ok = status(TransportState::Reachable);
    let mono = frame(Page::People, &ok);
    // 258×132 is under the colour layouts' 135 rows; it fits the 128×64
    // layout twice, centred with 1 px / 2 px to spare.
    let Picture::Color(c) = Runner::picture(Kind::Color(Size::new(258, 132)), Page::People, &ok, 0)
    else {
        panic!("colour picture expected");
    };
    assert_eq!(c.size(), Size::new(258, 132));
    for y in 0..132 {
        for x in 0..258 {
            let inside = (1..257).contains(&x) && (2..130).contains(&y);
            let lit = inside && mono.get((x - 1) / 2, (y - 2) / 2);
            let want = if lit { Rgb565::WHITE } else { Rgb565::BLACK };
            assert_eq!(c.get(x, y), want, "({x},{y})");
        }
    }
}

#[test]
fn the_panel_dims_then_blanks_when_quiet_and_wakes_on_activity_or_button() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("screen.png");
    let mut r = Runner::new(Box::new(png::PngSink::new(&out)));
    let ok = status(TransportState::Reachable);
    r.refresh(&ok, 0).expect("refresh");
    assert_eq!(r.power(), Power::On);
    r.refresh(&ok, 59).expect("refresh");
    assert_eq!(r.power(), Power::On);
    r.refresh(&ok, 60).expect("refresh");
    assert_eq!(r.power(), Power::Dim, "dim after a quiet minute");
    assert_eq!(r.refresh(&ok, 600).expect("refresh"), Refresh::Blank);
    assert_eq!(r.power(), Power::Off);
    let blank: SimulatorDisplay<BinaryColor> = SimulatorDisplay::load_png(&out).expect("png");
    assert!(
        blank
            .bounding_box()
            .points()
            .all(|p| blank.get_pixel(p) == BinaryColor::Off),
        "the file went dark"
    );
    // A button wakes it: full brightness and a picture again.
    r.wake(700);
    assert!(matches!(
        r.refresh(&ok, 700).expect("refresh"),
        Refresh::Shown(_)
    ));
    assert_eq!(r.power(), Power::On);
    // So does news (a message).
    r.refresh(&ok, 1400).expect("refresh");
    assert_eq!(r.power(), Power::Off);
    let mut news = ok.clone();
    news.node.messages_total += 1;
    assert!(matches!(
        r.refresh(&news, 1401).expect("refresh"),
        Refresh::Shown(_)
    ));
    assert_eq!(r.power(), Power::On);
}

#[test]
fn the_button_holds_the_next_page_then_cycling_resumes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut r = Runner::new(Box::new(png::PngSink::new(tmp.path().join("s.png"))));
    let ok = status(TransportState::Reachable);
    assert_eq!(
        r.refresh(&ok, 0).expect("refresh"),
        Refresh::Shown(Page::Connect)
    );
    r.next_page(&ok, 1);
    assert_eq!(
        r.refresh(&ok, 1).expect("refresh"),
        Refresh::Shown(Page::Tor)
    );
    r.next_page(&ok, 2);
    assert_eq!(
        r.refresh(&ok, 2).expect("refresh"),
        Refresh::Shown(Page::People)
    );
    // Held while the cycle would have moved on (page 2 of the cycle at 12 s).
    assert_eq!(r.page_at(&ok, 20), Page::People);
    // 30 s later the cycle takes over again.
    assert_eq!(r.page_at(&ok, 32), Page::CYCLE[((32 / 6) % 4) as usize]);
    // Attention still wins over a held page.
    r.next_page(&ok, 40);
    let bad = status(TransportState::Stopped {
        reason: "no network".into(),
    });
    assert_eq!(r.page_at(&bad, 41), Page::Attention);
    // When the panel is dark, a press only wakes it (no page skipped).
    r.refresh(&ok, 1000).expect("refresh");
    assert_eq!(r.power(), Power::Off);
    let before = r.page_at(&ok, 1000);
    r.next_page(&ok, 1000);
    assert_eq!(r.page_at(&ok, 1000), before);
}

#[test]
fn a_colour_png_sink_gets_the_colour_layout() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("tft.png");
    let spec = format!("png:{}@320x240", out.display());
    let d = onionchat_hw::display::open(&spec)
        .expect("open")
        .expect("some");
    assert_eq!(d.kind(), Kind::Color(Size::new(320, 240)));
    let mut r = Runner::new(d);
    let ok = status(TransportState::Reachable);
    r.refresh(&ok, 6).expect("refresh");
    let img: SimulatorDisplay<Rgb565> = SimulatorDisplay::load_png(&out).expect("png");
    assert_eq!(img.size(), Size::new(320, 240));
    assert_eq!(
        img.diff(&png::color_to_simulator(&color_frame(
            Page::Tor,
            &ok,
            320,
            240
        ))),
        None
    );
    for bad in ["png:x.png@10x10", "png:x.png@wide", "png:x.png@99999x240"] {
        assert!(onionchat_hw::display::open(bad).is_err(), "{bad}");
    }
}
