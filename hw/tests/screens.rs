//! Golden images of every screen, QR codes that decode, and no overflow.

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics_simulator::SimulatorDisplay;
use onionchat_hw::display::png;
use onionchat_hw::{DisplayStatus, Frame, Page, render};
use onionchat_proto::wire::{NodeStatus, TransportState};

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

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

/// Compare with the committed PNG pixel for pixel; on mismatch write the
/// actual frame and a diff image next to it and fail. `UPDATE_GOLDEN=1`
/// rewrites the goldens (review them before committing).
fn check_golden(name: &str, f: &Frame) {
    let path = golden_dir().join(format!("{name}.png"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        png::save(f, &path).expect("save golden");
        return;
    }
    let expected: SimulatorDisplay<BinaryColor> =
        SimulatorDisplay::load_png(&path).unwrap_or_else(|e| {
            panic!(
                "missing golden {}: {e} (run with UPDATE_GOLDEN=1)",
                path.display()
            )
        });
    let actual = png::to_simulator(f);
    if let Some(diff) = expected.diff(&actual) {
        let out = std::env::temp_dir().join(format!("onionchat-golden-{name}"));
        std::fs::create_dir_all(&out).expect("dir");
        png::save(f, &out.join("actual.png")).expect("save actual");
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
    let mut invite = status(TransportState::Reachable);
    invite.invite = Some(format!(
        "onionchat://{ONION}/ABCDEFGHIJKLMNOPQRSTUVWXYZ/{}",
        "A".repeat(52)
    ));
    check_golden("connect-invite-too-long", &frame(Page::Connect, &invite));
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
    let zeroes = {
        let mut z = status(TransportState::Starting);
        z.node.users = 0;
        z.node.uptime_secs = 0;
        z.node.disk_free_bytes = Some(0);
        z.node.onion_address = None;
        z.node.last_message_at = None;
        z
    };
    for st in [&s, &zeroes] {
        for page in [
            Page::Connect,
            Page::Tor,
            Page::People,
            Page::System,
            Page::Attention,
        ] {
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

#[test]
fn attention_wins_and_unchanged_frames_are_not_resent() {
    use onionchat_hw::runner::{Refresh, Runner};
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
