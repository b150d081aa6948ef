//! Drives the real app headless: its `view` in an `iced_test` simulator
//! (clicks, typing, finding text, snapshots), its `update` here, and the
//! tasks `update` returns on a real tokio runtime — so every click ends in
//! real client-core calls against the real node binary on loopback.

#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use iced::futures::StreamExt;
use iced::widget;
use iced::{Settings, Task, Theme};
use iced_test::Simulator;
use iced_test::runtime::Action;
use iced_test::selector::Candidate;
use onionchat_desktop::app::Screen;
use onionchat_desktop::session::Places;
use onionchat_desktop::{App, Message, Options};
use tokio::sync::mpsc;

/// The window size the tests draw at.
pub const SIZE: (f32, f32) = (1000.0, 700.0);

/// Options for an app keeping its profiles in `dir`.
pub fn options(dir: &Path) -> Options {
    Options {
        places: Places {
            profiles_dir: dir.join("profiles"),
            tor_state_dir: Some(dir.join("tor")),
            tor_network: None,
        },
        downloads_dir: dir.join("downloads"),
        notifications: false,
    }
}

/// A key press event with `modifiers` held.
pub fn key_press(
    key: iced::keyboard::Key,
    modifiers: iced::keyboard::Modifiers,
    text: Option<&str>,
) -> iced::Event {
    use iced::keyboard;
    iced::Event::Keyboard(keyboard::Event::KeyPressed {
        modified_key: key.clone(),
        key,
        physical_key: keyboard::key::Physical::Unidentified(
            keyboard::key::NativeCode::Unidentified,
        ),
        location: keyboard::Location::Standard,
        modifiers,
        text: text.map(Into::into),
        repeat: false,
    })
}

/// One app instance under test.
pub struct Ui {
    pub app: App,
    rt: tokio::runtime::Runtime,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Every file-transfer progress report the window got (done, total).
    pub progress: Vec<(u64, u64)>,
}

impl Ui {
    pub fn new(options: Options) -> Ui {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, rx) = mpsc::unbounded_channel();
        let (app, task) = {
            let _g = rt.enter();
            App::new(options)
        };
        let mut ui = Ui {
            app,
            rt,
            tx,
            rx,
            tasks: Vec::new(),
            progress: Vec::new(),
        };
        ui.run(task);
        ui
    }

    /// Start the app again (as after quitting it) on the same runtime, so
    /// core clients made with [`Ui::block_on`] live on.
    pub fn restart(&mut self, options: Options) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        while self.rx.try_recv().is_ok() {}
        let (app, task) = {
            let _g = self.rt.enter();
            App::new(options)
        };
        self.app = app;
        self.run(task);
    }

    /// Run async set-up (core clients, proxies) on this app's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Run a task the way iced would: its outputs come back as messages.
    fn run(&mut self, task: Task<Message>) {
        let Some(mut stream) = iced_test::runtime::task::into_stream(task) else {
            return;
        };
        let tx = self.tx.clone();
        self.tasks.push(self.rt.spawn(async move {
            while let Some(action) = stream.next().await {
                if let Action::Output(m) = action {
                    let _ = tx.send(m);
                }
                // Widget operations (focus) and window actions have no
                // window to act on here; the tests click instead.
            }
        }));
    }

    /// Feed a message to `update` and run what it returns.
    pub fn send(&mut self, m: Message) {
        if let Message::Home(onionchat_desktop::screen::home::Message::Transfer(done, total)) = &m {
            self.progress.push((*done, *total));
        }
        let task = {
            let _g = self.rt.enter();
            self.app.update(m)
        };
        self.run(task);
    }

    /// Deliver every message that has arrived.
    pub fn pump(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            self.send(m);
        }
    }

    /// Interact with the current view, then apply what it produced.
    pub fn interact<R>(&mut self, f: impl FnOnce(&mut Simulator<'_, Message>) -> R) -> R {
        self.pump();
        let (r, messages) = {
            let mut sim = Simulator::with_size(Settings::default(), SIZE, self.app.view());
            let r = f(&mut sim);
            (r, sim.into_messages().collect::<Vec<_>>())
        };
        for m in messages {
            self.send(m);
        }
        r
    }

    /// Click the widget showing exactly `label`, waiting up to 20 s for it
    /// to appear (as a person waits for a button to show up): what a
    /// screen shows can follow a moment after what a test waited for
    /// (connected first, then the owner's "Your box").
    pub fn click(&mut self, label: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.sees(label) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(25));
        }
        let r = self.interact(|s| s.click(label).map(|_| ()));
        if let Err(e) = r {
            panic!(
                "cannot click {label:?}: {e}; the window shows: {:?}",
                self.texts()
            );
        }
    }

    /// Click the widget with `id` (a picture, which has no text).
    pub fn click_id(&mut self, id: String) {
        let r = self.interact(|s| s.click(widget::Id::from(id.clone())).map(|_| ()));
        if let Err(e) = r {
            panic!("cannot click {id:?}: {e}");
        }
    }

    /// Click the first text containing `part`.
    pub fn click_containing(&mut self, part: &str) {
        let part_owned = part.to_string();
        let r = self.interact(move |s| {
            s.click(move |c: Candidate<'_>| match c {
                Candidate::Text {
                    content,
                    bounds,
                    visible_bounds,
                    id,
                } if content.contains(part_owned.as_str()) => {
                    Some(iced_test::selector::Text::Raw {
                        id: id.cloned(),
                        bounds,
                        visible_bounds,
                    })
                }
                _ => None,
            })
            .map(|_| ())
        });
        if let Err(e) = r {
            panic!(
                "cannot click a text containing {part:?}: {e}; the window shows: {:?}",
                self.texts()
            );
        }
    }

    /// Click the input with `id` and type `text` into it.
    pub fn type_into(&mut self, id: &'static str, text: &str) {
        self.type_in(id, text, false);
    }

    /// Click the input with `id`, select all it holds and type `text` over it.
    pub fn replace_in(&mut self, id: &'static str, text: &str) {
        self.type_in(id, text, true);
    }

    fn type_in(&mut self, id: &'static str, text: &str, over: bool) {
        use iced::keyboard::{self, Modifiers};
        let r = self.interact(|s| {
            s.click(widget::Id::new(id))?;
            if over {
                s.simulate([
                    iced::Event::Keyboard(keyboard::Event::ModifiersChanged(Modifiers::CTRL)),
                    key_press(keyboard::Key::Character("a".into()), Modifiers::CTRL, None),
                    iced::Event::Keyboard(keyboard::Event::ModifiersChanged(Modifiers::empty())),
                ]);
            }
            s.typewrite(text);
            Ok::<_, iced_test::Error>(())
        });
        if let Err(e) = r {
            panic!(
                "cannot type into {id:?}: {e}; the window shows: {:?}",
                self.texts()
            );
        }
    }

    /// Click the input with `id` and press Enter in it.
    pub fn enter_in(&mut self, id: &'static str) {
        let r = self.interact(|s| {
            s.click(widget::Id::new(id))?;
            s.tap_key(iced::keyboard::key::Named::Enter);
            Ok::<_, iced_test::Error>(())
        });
        if let Err(e) = r {
            panic!("cannot press Enter in {id:?}: {e}");
        }
    }

    /// Whether the window shows exactly `text` somewhere.
    pub fn sees(&mut self, text: &str) -> bool {
        self.interact(|s| s.find(text).is_ok())
    }

    /// Every text the window shows.
    pub fn texts(&mut self) -> Vec<String> {
        self.pump();
        let collected = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = collected.clone();
        {
            let mut sim = Simulator::with_size(Settings::default(), SIZE, self.app.view());
            // A selector that never selects visits every widget.
            let _ = sim.find(move |c: Candidate<'_>| {
                match c {
                    Candidate::Text { content, .. } => {
                        sink.lock().expect("lock").push(content.to_string())
                    }
                    Candidate::TextInput { state, .. } => {
                        sink.lock().expect("lock").push(state.text().to_string())
                    }
                    _ => {}
                }
                None::<()>
            });
        }
        collected.lock().expect("lock").clone()
    }

    /// Whether some text of the window contains `part`.
    pub fn sees_containing(&mut self, part: &str) -> bool {
        self.texts().iter().any(|t| t.contains(part))
    }

    /// Keep delivering messages until `done` holds (or fail after `secs`).
    pub fn wait_until(&mut self, what: &str, secs: u64, mut done: impl FnMut(&mut Ui) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.pump();
            if done(self) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; the window shows: {:?}",
                    self.texts()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Wait until the window shows a text containing `part`.
    pub fn wait_for_text(&mut self, part: &str, secs: u64) {
        let p = part.to_string();
        self.wait_until(&format!("a text containing {part:?}"), secs, move |ui| {
            ui.sees_containing(&p)
        });
    }

    /// Whether the signed-in screen is up.
    pub fn signed_in(&self) -> bool {
        matches!(self.app.screen(), Screen::Home(_))
    }

    /// The home screen (panics if not signed in).
    pub fn home(&self) -> &onionchat_desktop::screen::home::Home {
        match self.app.screen() {
            Screen::Home(h) => h,
            Screen::Start(_) => panic!("not signed in"),
        }
    }

    /// Draw the window (CPU renderer, as on screen) and, when
    /// `$ONIONCHAT_SCREENSHOTS` names a folder, save the picture there as
    /// `<name>.png` at window size. A picture for the README, not a check:
    /// it fails only if drawing or saving does.
    pub fn screenshot(&mut self, name: &str) {
        self.pump();
        let mut sim = Simulator::with_size(Settings::default(), SIZE, self.app.view());
        let snapshot = sim.snapshot(&Theme::Light).expect("snapshot");
        let Some(dir) = std::env::var_os("ONIONCHAT_SCREENSHOTS").map(PathBuf::from) else {
            return;
        };
        // iced_test writes `<stem>-<renderer>.png` at twice the size.
        let tmp = tempfile::tempdir().expect("tmp");
        let raw = tmp.path().join(name);
        snapshot.matches_image(&raw).expect("write snapshot");
        let written = std::fs::read_dir(tmp.path())
            .expect("read tmp")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "png"))
            .expect("snapshot file");
        let img = image::open(&written).expect("snapshot png");
        let small = img.resize_exact(
            SIZE.0 as u32,
            SIZE.1 as u32,
            image::imageops::FilterType::Lanczos3,
        );
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        small
            .save(dir.join(format!("{name}.png")))
            .expect("save screenshot");
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The passphrase every test profile uses.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// Wait until the window is signed in, connected and loaded.
pub fn wait_connected(ui: &mut Ui) {
    ui.wait_until("signed in and connected", 60, |ui| {
        ui.signed_in() && ui.sees("● Connected") && ui.home().loaded()
    });
}

/// Unlock the only profile.
pub fn unlock(ui: &mut Ui, pass: &str) {
    ui.type_into("unlock-passphrase", pass);
    ui.click("Unlock");
}

/// ann (owner) in a window, with friends made through the core: each name
/// in `friends` joins with an invite from ann and befriends her.
pub fn owner_with_friends(
    tmp: &std::path::Path,
    node: &onionchat_tests::Node,
    friends: &[&str],
) -> (Ui, Vec<std::sync::Arc<onionchat_client::Client>>) {
    let setup = Ui::new(options(&tmp.join("ann")));
    let clients = setup.block_on(async {
        let ann = onionchat_tests::join_owner(node, &tmp.join("ann/profiles/ann")).await;
        let mut out = Vec::new();
        for name in friends {
            let inv = ann.create_invite(None, None).await.expect("invite");
            let c = onionchat_tests::join(
                node,
                &tmp.join(name),
                name,
                &ann.invite_link(&inv.code).to_string(),
            )
            .await;
            let req = ann.send_friend_request(name).await.expect("request");
            c.accept_friend_request(&req).await.expect("accept");
            out.push(c);
        }
        out
    });
    // The core clients live on this runtime: keep it (and them) alive.
    let mut ui = setup;
    ui.restart(options(&tmp.join("ann")));
    unlock(&mut ui, PASSPHRASE);
    wait_connected(&mut ui);
    (ui, clients)
}
