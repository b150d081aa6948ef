//! Benchmarks of the desktop app (not tests: numbers, no pass/fail).
//!
//! ```sh
//! cargo bench -p onionchat-desktop --bench desktop            # TCP, history, frames
//! cargo bench -p onionchat-desktop --bench desktop -- tor     # + the private Tor network
//! cargo bench -p onionchat-desktop --bench desktop -- family  # only: photos and search
//! ```
//!
//! - **start**: from a cold app to a usable window (profile unlocked,
//!   friends and rooms loaded, live session connected) over TCP; and over a
//!   private Tor network (first start: Arti bootstraps from nothing; later
//!   start: from its cached directory).
//! - **history**: a chat with 10,000 messages — catching up on them live
//!   (verified + decrypted), then on a later start showing the chat and
//!   loading all of it back page by page; process RSS then.
//! - **family**: a chat of 10,000 messages of which 1,000 are photos (with
//!   their previews): time to open it on a later start, RSS with all of it
//!   loaded, frame times with photos in view, and search (the first one,
//!   which fetches and indexes everything; then as the user types, in the
//!   encrypted index).
//! - **frames**: frame time with those 10,000 messages on the CPU renderer
//!   (tiny-skia, 1000×700): a full rebuild (what any new message or a
//!   scroll event costs: iced rebuilds the view after each update) and a
//!   scroll step drawn without a rebuild.
//!
//! Runs the real node binary (build it first: `cargo build --release
//! --workspace --bins`, or let `scripts/bench` do it).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Ui, options};
use iced::{Size, Theme};
use iced_test::core::renderer::Headless;
use iced_test::core::{Event, Font, Pixels, clipboard, mouse, window};
use iced_test::runtime::UserInterface;
use iced_test::runtime::user_interface::Cache;
use onionchat_desktop::Message;
use onionchat_desktop::screen::{chat, home, start};
use onionchat_tests::{Node, PASS};

const MESSAGES: u64 = 10_000;

fn pass() -> String {
    String::from_utf8(PASS.to_vec()).expect("utf-8")
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

/// `p` in 0..=1.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    onionchat_tests::percentile(sorted, p)
}

/// Unlock the profile and wait for a usable window; returns the time.
fn start_and_unlock(ui: &mut Ui) -> Duration {
    let t = Instant::now();
    ui.send(Message::Start(start::Message::Passphrase(pass())));
    ui.send(Message::Start(start::Message::Unlock));
    ui.wait_until("a usable window", 300, |ui| {
        ui.signed_in() && ui.home().loaded() && *ui.home().link() == home::Link::Connected
    });
    t.elapsed()
}

fn bench_start_tcp(tmp: &std::path::Path, node: &Node) {
    let mut runs = Vec::new();
    for _ in 0..7 {
        let mut ui = Ui::new(options(&tmp.join("ann")));
        runs.push(start_and_unlock(&mut ui).as_secs_f64() * 1000.0);
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "start (TCP): usable window in median {:.0} ms, max {:.0} ms over {} starts (unlock = Argon2id 64 MiB, login, overview, live)",
        percentile(&runs, 0.5),
        runs[runs.len() - 1],
        runs.len()
    );
    let _ = node;
}

fn bench_history(
    tmp: &std::path::Path,
    node: &Node,
    ui: &mut Ui,
    bob: &std::sync::Arc<onionchat_client::Client>,
) {
    let room = ui.block_on(async { bob.direct_room("ann").await.expect("room") });
    // Catch-up: the messages arrive while ann's window is open.
    ui.send(Message::Home(home::Message::OpenRoom(room)));
    let t_send = Instant::now();
    let sender = bob.clone();
    let sending = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("rt");
        rt.block_on(async {
            for i in 1..=MESSAGES {
                sender
                    .send_text(
                        room,
                        &format!("message {i}: the quick brown fox jumps over the lazy dog"),
                    )
                    .await
                    .expect("send");
            }
        });
    });
    ui.wait_until("10,000 messages shown live", 1200, |ui| {
        ui.home()
            .timeline(room)
            .map(chat::Timeline::len)
            .unwrap_or(0) as u64
            >= MESSAGES
    });
    let live = t_send.elapsed();
    sending.join().expect("sender");
    println!(
        "history: {MESSAGES} messages sent one after another and shown live (verified + decrypted) in {:.1} s ({:.0} msgs/s, bounded by the sender); RSS {:.1} MiB",
        live.as_secs_f64(),
        MESSAGES as f64 / live.as_secs_f64(),
        rss_mib()
    );
    frames(ui, "10,000 messages, live");

    // A later start: the chat shows its last page, then all of it is loaded back.
    ui.restart(options(&tmp.join("ann")));
    start_and_unlock(ui);
    let first = open_chat(ui, room);
    let t = Instant::now();
    load_all_back(ui, room);
    let all = t.elapsed();
    println!(
        "history: on a later start the chat shows its last {} messages in {:.0} ms; all {MESSAGES} loaded back (verified + decrypted, {} pages) in {:.1} s; RSS then {:.1} MiB",
        chat::PAGE,
        first.as_secs_f64() * 1000.0,
        MESSAGES / u64::from(chat::PAGE),
        all.as_secs_f64(),
        rss_mib()
    );
    frames(ui, "10,000 messages, loaded back");
    let _ = node;
}

/// Open a chat and wait for its last page; returns the time it took.
fn open_chat(ui: &mut Ui, room: onionchat_proto::wire::RoomId) -> Duration {
    let t = Instant::now();
    ui.send(Message::Home(home::Message::OpenRoom(room)));
    ui.wait_until("the chat's last page", 60, |ui| {
        ui.home()
            .timeline(room)
            .is_some_and(|t| t.loaded && !t.loading)
    });
    t.elapsed()
}

/// Scroll the open chat back to its first message, page by page.
fn load_all_back(ui: &mut Ui, room: onionchat_proto::wire::RoomId) {
    while ui
        .home()
        .timeline(room)
        .map(chat::Timeline::len)
        .unwrap_or(0)
        < MESSAGES as usize
    {
        ui.send(Message::Home(home::Message::Chat(chat::Message::LoadOlder)));
        ui.wait_until("an older page", 60, |ui| {
            ui.home().timeline(room).is_some_and(|t| !t.loading)
        });
    }
}

/// Frame times of the open chat on the CPU renderer.
fn frames(ui: &mut Ui, what: &str) {
    ui.pump();
    let size = Size::new(common::SIZE.0, common::SIZE.1);
    let physical = Size::new(size.width as u32, size.height as u32);
    let mut renderer =
        iced::futures::executor::block_on(<iced_test::renderer::Renderer as Headless>::new(
            Font::with_name("Fira Sans"),
            Pixels(16.0),
            None,
        ))
        .expect("a CPU renderer");
    let theme = Theme::Light;
    let style = iced_test::core::renderer::Style {
        text_color: theme.palette().text,
    };
    let cursor = mouse::Cursor::Available(iced::Point::new(600.0, 300.0));
    let redraw = Event::Window(window::Event::RedrawRequested(Instant::now()));
    let mut messages: Vec<Message> = Vec::new();

    // Full rebuilds: view + layout + draw + raster, reusing the widget cache
    // as the runtime does.
    let mut cache = Cache::default();
    let mut rebuild = Vec::new();
    for _ in 0..31 {
        let t = Instant::now();
        let mut ui_tree = UserInterface::build(ui.app.view(), size, cache, &mut renderer);
        let _ = ui_tree.update(
            std::slice::from_ref(&redraw),
            cursor,
            &mut renderer,
            &mut clipboard::Null,
            &mut messages,
        );
        ui_tree.draw(&mut renderer, &theme, &style, cursor);
        let _ = renderer.screenshot(physical, 1.0, theme.palette().background);
        cache = ui_tree.into_cache();
        rebuild.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    rebuild.remove(0); // the first build shapes every text once
    // Scroll steps without a rebuild: update (wheel) + draw + raster.
    let mut ui_tree = UserInterface::build(ui.app.view(), size, cache, &mut renderer);
    let mut scroll = Vec::new();
    for _ in 0..60 {
        let t = Instant::now();
        let wheel = Event::Mouse(mouse::Event::WheelScrolled {
            delta: mouse::ScrollDelta::Lines { x: 0.0, y: 3.0 },
        });
        let _ = ui_tree.update(
            &[wheel, redraw.clone()],
            cursor,
            &mut renderer,
            &mut clipboard::Null,
            &mut messages,
        );
        ui_tree.draw(&mut renderer, &theme, &style, cursor);
        let _ = renderer.screenshot(physical, 1.0, theme.palette().background);
        scroll.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    rebuild.sort_by(f64::total_cmp);
    scroll.sort_by(f64::total_cmp);
    println!(
        "frames ({what}): full rebuild p50 {:.1} ms / p95 {:.1} ms ({:.0} fps); scroll step without rebuild p50 {:.1} ms / p95 {:.1} ms ({:.0} fps)",
        percentile(&rebuild, 0.5),
        percentile(&rebuild, 0.95),
        1000.0 / percentile(&rebuild, 0.5),
        percentile(&scroll, 0.5),
        percentile(&scroll, 0.95),
        1000.0 / percentile(&scroll, 0.5),
    );
}

/// A chat of [`MESSAGES`] with one photo in ten.
fn bench_family(
    tmp: &std::path::Path,
    ui: &mut Ui,
    bob: &std::sync::Arc<onionchat_client::Client>,
) {
    let room = ui.block_on(async { bob.direct_room("ann").await.expect("room") });
    let photo = tmp.join("photo.jpg");
    onionchat_tests::photo_with_gps(&photo);
    let t = Instant::now();
    let sender = bob.clone();
    let photo_path = photo.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("rt");
        rt.block_on(async {
            for i in 1..=MESSAGES {
                if i % 10 == 0 {
                    sender
                        .send_file(room, &photo_path, Box::new(|_, _| true))
                        .await
                        .expect("photo");
                } else {
                    sender
                        .send_text(
                            room,
                            &format!("message {i}: who brings the cake on Sunday?"),
                        )
                        .await
                        .expect("send");
                }
            }
        });
    })
    .join()
    .expect("sender");
    println!(
        "family: {MESSAGES} messages, {} of them photos (1200 × 900 JPEG, preview made on the sender's side), sent in {:.1} s",
        MESSAGES / 10,
        t.elapsed().as_secs_f64()
    );
    // A later start: open the chat.
    ui.restart(options(&tmp.join("ann")));
    start_and_unlock(ui);
    let rss_before = rss_mib();
    let mut opens = Vec::new();
    for round in 0..5 {
        if round > 0 {
            ui.restart(options(&tmp.join("ann")));
            start_and_unlock(ui);
        }
        opens.push(open_chat(ui, room).as_secs_f64() * 1000.0);
    }
    opens.sort_by(f64::total_cmp);
    println!(
        "family: open the chat (its last {} messages, {} photos among them, verified + decrypted + previews checked) median {:.0} ms, max {:.0} ms over {} starts",
        chat::PAGE,
        chat::PAGE / 10,
        percentile(&opens, 0.5),
        opens[opens.len() - 1],
        opens.len()
    );
    frames(ui, "photos in view, last page");
    let t = Instant::now();
    load_all_back(ui, room);
    println!(
        "family: all {MESSAGES} loaded back in {:.1} s; RSS {:.1} MiB (was {:.1} MiB before the chat opened)",
        t.elapsed().as_secs_f64(),
        rss_mib(),
        rss_before
    );
    frames(ui, "10,000 messages with 1,000 photos");
    // Search: the first one indexes everything; then as the user types.
    let client = ui.home().client().clone();
    let rooms = [room];
    let t = Instant::now();
    let found = ui.block_on(async { client.search(&rooms, "cake", 20_000).await.expect("search") });
    println!(
        "family: first search fetches and indexes the chat, {} found in {:.1} s",
        found.len(),
        t.elapsed().as_secs_f64()
    );
    let mut typed = Vec::new();
    for q in [
        "c",
        "ca",
        "cak",
        "cake",
        "sunday",
        "message 9999",
        "nothing like it",
    ] {
        for _ in 0..5 {
            let t = Instant::now();
            let n = client.search_local(&rooms, q, 200).expect("search").len();
            typed.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(n);
        }
    }
    typed.sort_by(f64::total_cmp);
    // After a restart the index is read back from disk and decrypted once.
    ui.restart(options(&tmp.join("ann")));
    start_and_unlock(ui);
    let client = ui.home().client().clone();
    let t = Instant::now();
    let n = client
        .search_local(&rooms, "cake", 200)
        .expect("search")
        .len();
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    let size = std::fs::metadata(tmp.join("ann/profiles/ann/search.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "family: search as you type over {} indexed messages p50 {:.1} ms / max {:.1} ms; first search after a start (index read + decrypted, {:.1} MiB) {:.0} ms ({n} found)",
        MESSAGES,
        percentile(&typed, 0.5),
        typed[typed.len() - 1],
        size as f64 / 1_048_576.0,
        cold
    );
}

fn bench_tor() {
    use onionchat_tests::tor_net::{TorNet, avoid_rollover};
    let tmp = tempfile::tempdir().expect("tmp");
    let net = TorNet::start(&tmp.path().join("net"));
    avoid_rollover(Duration::from_secs(240));
    let node = Node::start_onion(&tmp.path().join("node"), &net.arti_config, &[]);
    let invite = node.owner_invite.clone().expect("invite");
    let mut opts = options(&tmp.path().join("ann"));
    opts.places.tor_network = Some(net.arti_config.clone());
    // Join through the window, retrying while the young network settles.
    let mut ui = Ui::new(opts.clone());
    let mut joined = false;
    for _ in 0..12 {
        ui.send(Message::Start(start::Message::Invite(invite.clone())));
        ui.send(Message::Start(start::Message::Username("ann".into())));
        ui.send(Message::Start(start::Message::NewPassphrase(pass())));
        ui.send(Message::Start(start::Message::NewPassphraseAgain(pass())));
        ui.send(Message::Start(start::Message::Join));
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline && !ui.signed_in() {
            ui.pump();
            if ui.sees_containing("cannot reach") || ui.sees_containing("refused") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if ui.signed_in() {
            joined = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(10));
        ui.restart(opts.clone());
    }
    assert!(joined, "could not join over the private Tor network");
    drop(ui);
    // First start with an empty Arti state: bootstrap from nothing.
    let _ = std::fs::remove_dir_all(tmp.path().join("ann/tor"));
    let mut ui = Ui::new(opts.clone());
    let first = start_and_unlock(&mut ui);
    drop(ui);
    let mut later = Vec::new();
    for _ in 0..5 {
        let mut ui = Ui::new(opts.clone());
        later.push(start_and_unlock(&mut ui).as_secs_f64());
    }
    later.sort_by(f64::total_cmp);
    println!(
        "start (private Tor network): usable window {:.1} s with an empty Arti state; {:.1} s median ({:.1} s max) with its cached directory, over {} starts",
        first.as_secs_f64(),
        percentile(&later, 0.5),
        later[later.len() - 1],
        later.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tor = args.iter().any(|a| a == "tor");
    let tmp = tempfile::tempdir().expect("tmp");
    // 10,000 messages from one sender as fast as he can: above the default
    // per-user limits (50/s), which are not what is measured here.
    let config = onionchat_tests::config_arg(
        tmp.path(),
        "[rate]\nmessages_per_sec = 100000.0\nmessage_burst = 100000.0\nrequests_per_sec = 100000.0\nrequest_burst = 100000.0\n",
    );
    let node = Node::start(&tmp.path().join("node"), &[&config]);
    // ann (owner) and her friend bob, made through the core.
    let mut ui = Ui::new(options(&tmp.path().join("ann")));
    let bob = ui.block_on(async {
        let ann = onionchat_tests::join_owner(&node, &tmp.path().join("ann/profiles/ann")).await;
        let inv = ann.create_invite(None, None).await.expect("invite");
        let bob = onionchat_tests::join(
            &node,
            &tmp.path().join("bob"),
            "bob",
            &ann.invite_link(&inv.code).to_string(),
        )
        .await;
        let req = ann.send_friend_request("bob").await.expect("request");
        bob.accept_friend_request(&req).await.expect("accept");
        bob
    });
    if args.iter().any(|a| a == "family") {
        bench_family(tmp.path(), &mut ui, &bob);
        return;
    }
    bench_start_tcp(tmp.path(), &node);
    ui.restart(options(&tmp.path().join("ann")));
    start_and_unlock(&mut ui);
    bench_history(tmp.path(), &node, &mut ui, &bob);
    drop(ui);
    if tor {
        bench_tor();
    }
}
