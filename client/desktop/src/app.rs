//! The top level: which screen is up, the one `update`/`view` pair iced
//! calls, keyboard shortcuts and desktop notifications.

use std::path::PathBuf;

use iced::{Element, Subscription, Task, Theme};

use crate::screen::home::{self, Home};
use crate::screen::start::{self, Start};
use crate::session::Places;

/// How the app was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Profiles, Tor state and network.
    pub places: Places,
    /// Where received files are saved.
    pub downloads_dir: PathBuf,
    /// Show desktop notifications for new messages while unfocused.
    pub notifications: bool,
}

impl Options {
    /// The user's standard places.
    pub fn standard() -> Options {
        let downloads_dir = directories::UserDirs::new()
            .and_then(|d| d.download_dir().map(PathBuf::from))
            .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("."));
        Options {
            places: Places::standard(),
            downloads_dir,
            notifications: true,
        }
    }
}

/// The screen that is up.
pub enum Screen {
    /// Unlock, join or import.
    Start(Box<Start>),
    /// Signed in.
    Home(Box<Home>),
}

/// The app's messages.
#[derive(Debug, Clone)]
pub enum Message {
    /// The start screen.
    Start(start::Message),
    /// The home screen.
    Home(home::Message),
    /// Ctrl+K.
    Jump,
    /// Ctrl+F.
    Search,
    /// The window gained or lost focus.
    Focus(bool),
    /// A file was dropped on the window.
    Dropped(PathBuf),
}

/// The desktop app.
pub struct App {
    options: Options,
    screen: Screen,
    focused: bool,
    settings: crate::settings::Settings,
}

impl App {
    /// Boot: the start screen.
    pub fn new(options: Options) -> (App, Task<Message>) {
        let screen = Screen::Start(Box::new(Start::new(options.places.clone())));
        let settings = crate::settings::Settings::load(&options.places.profiles_dir);
        (
            App {
                options,
                screen,
                focused: true,
                settings,
            },
            Task::none(),
        )
    }

    /// The window title.
    pub fn title(&self) -> String {
        match &self.screen {
            Screen::Start(_) => "OnionChat".into(),
            Screen::Home(h) => format!("OnionChat — {}", h.profile()),
        }
    }

    /// The screen that is up.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// Handle a message.
    pub fn update(&mut self, message: Message) -> Task<Message> {
        match (message, &mut self.screen) {
            (Message::Start(m), Screen::Start(s)) => {
                let (task, outcome) = s.update(m);
                let task = task.map(Message::Start);
                match outcome {
                    start::Outcome::None => task,
                    start::Outcome::Opened(opened) => {
                        let (home, t) = Home::start(
                            opened,
                            self.options.places.clone(),
                            self.options.downloads_dir.clone(),
                            self.settings,
                        );
                        self.screen = Screen::Home(Box::new(home));
                        Task::batch([task, t.map(Message::Home)])
                    }
                }
            }
            (Message::Home(m), Screen::Home(h)) => {
                let (task, outcome) = h.update(m);
                let task = task.map(Message::Home);
                match outcome {
                    home::Outcome::None => task,
                    home::Outcome::Lock => {
                        let profile = h.profile().to_string();
                        self.screen = Screen::Start(Box::new(Start::unlocking(
                            self.options.places.clone(),
                            &profile,
                        )));
                        // The old session's tasks end with it.
                        Task::none()
                    }
                    home::Outcome::Settings(s) => {
                        self.settings = s;
                        if let Err(e) = s.save(&self.options.places.profiles_dir) {
                            tracing::warn!(error = %e, "cannot save the settings");
                        }
                        task
                    }
                    home::Outcome::Notify(who, body) => {
                        if self.options.notifications
                            && self.settings.notifications
                            && !self.focused
                        {
                            crate::notify::show(&who, &body);
                        }
                        task
                    }
                }
            }
            (Message::Jump, Screen::Home(h)) => {
                h.update(home::Message::OpenJump).0.map(Message::Home)
            }
            (Message::Search, Screen::Home(h)) => {
                h.update(home::Message::OpenSearch).0.map(Message::Home)
            }
            (Message::Focus(f), _) => {
                self.focused = f;
                Task::none()
            }
            (Message::Dropped(path), Screen::Start(_)) => {
                self.update(Message::Start(start::Message::Dropped(path)))
            }
            (Message::Dropped(path), Screen::Home(_)) => {
                self.update(Message::Home(home::Message::Dropped(path)))
            }
            // A message for a screen that is gone (a late answer after
            // locking): nothing to do.
            _ => Task::none(),
        }
    }

    /// Draw the window.
    pub fn view(&self) -> Element<'_, Message> {
        match &self.screen {
            Screen::Start(s) => s.view().map(Message::Start),
            Screen::Home(h) => h.view().map(Message::Home),
        }
    }

    /// Keyboard shortcuts and window focus.
    pub fn subscription(&self) -> Subscription<Message> {
        let keys = iced::keyboard::listen().filter_map(shortcut);
        let focus = iced::event::listen_with(|event, _status, _window| match event {
            iced::Event::Window(iced::window::Event::Focused) => Some(Message::Focus(true)),
            iced::Event::Window(iced::window::Event::Unfocused) => Some(Message::Focus(false)),
            iced::Event::Window(iced::window::Event::FileDropped(path)) => {
                Some(Message::Dropped(path))
            }
            _ => None,
        });
        Subscription::batch([keys, focus])
    }

    /// The light theme (the screenshots and tests draw with it), or the
    /// dark one when the settings say so.
    pub fn theme(&self) -> Theme {
        if self.settings.dark {
            Theme::Dark
        } else {
            Theme::Light
        }
    }
}

/// The app's keyboard shortcuts (keys no widget took): Ctrl+K (⌘K on a
/// Mac) jumps to a chat, Ctrl+F searches the chats.
pub fn shortcut(event: iced::keyboard::Event) -> Option<Message> {
    use iced::keyboard::{Event, Key};
    match event {
        Event::KeyPressed { key, modifiers, .. }
            if modifiers.command() && key.as_ref() == Key::Character("k") =>
        {
            Some(Message::Jump)
        }
        Event::KeyPressed { key, modifiers, .. }
            if modifiers.command() && key.as_ref() == Key::Character("f") =>
        {
            Some(Message::Search)
        }
        _ => None,
    }
}

/// After the window has drawn, save a screenshot of it as PNG at `path`
/// and exit (`--screenshot`, for the smoke test under Xvfb).
pub fn screenshot_then_exit(path: PathBuf) -> Task<Message> {
    Task::future(tokio::time::sleep(std::time::Duration::from_millis(1500)))
        .then(|()| iced::window::latest())
        .then(|id| match id {
            Some(id) => iced::window::screenshot(id),
            None => {
                eprintln!("no window to take a screenshot of");
                Task::none()
            }
        })
        .then(move |shot| {
            let saved =
                image::RgbaImage::from_raw(shot.size.width, shot.size.height, shot.rgba.to_vec())
                    .ok_or_else(|| "the screenshot has the wrong size".to_string())
                    .and_then(|img| img.save(&path).map_err(|e| e.to_string()));
            if let Err(e) = saved {
                eprintln!("cannot save the screenshot to {}: {e}", path.display());
            }
            iced::exit()
        })
}

#[cfg(test)]
mod tests {
    use iced::keyboard::{self, Key, Modifiers};

    fn press(key: &str, modifiers: Modifiers) -> keyboard::Event {
        keyboard::Event::KeyPressed {
            key: Key::Character(key.into()),
            modified_key: Key::Character(key.into()),
            physical_key: keyboard::key::Physical::Unidentified(
                keyboard::key::NativeCode::Unidentified,
            ),
            location: keyboard::Location::Standard,
            modifiers,
            text: None,
            repeat: false,
        }
    }

    #[test]
    fn ctrl_k_jumps_and_plain_k_does_not() {
        assert!(matches!(
            super::shortcut(press("k", Modifiers::CTRL)),
            Some(super::Message::Jump)
        ));
        assert!(super::shortcut(press("k", Modifiers::empty())).is_none());
        assert!(super::shortcut(press("j", Modifiers::CTRL)).is_none());
    }
}
