//! The first screen: unlock a profile, join a box with an invite (pasted or
//! read from a picture of the box's QR code), or import a profile.

use std::path::PathBuf;

use iced::widget::{button, column, container, pick_list, progress_bar, row, text, text_input};
use iced::{Center, Element, Fill, Task};
use zeroize::Zeroizing;

use crate::session::{self, JoinEvent, Opened, Places};
use crate::style;

/// Which form is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Unlock an existing profile.
    Unlock,
    /// Join a box with an invite (creates a profile).
    Join,
    /// Import a profile exported on another computer.
    Import,
}

/// What the screen is doing.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    Idle,
    Working { step: String, tor: Option<u8> },
    Failed(String),
}

/// A profile as the list shows it: "ann @ q6q7szmh….onion".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Its folder.
    pub name: String,
    /// What the list says.
    pub label: String,
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// The start screen's state.
pub struct Start {
    places: Places,
    mode: Mode,
    profiles: Vec<String>,
    choices: Vec<Choice>,
    selected: Option<String>,
    passphrase: Zeroizing<String>,
    invite: String,
    picture: String,
    username: String,
    new_passphrase: Zeroizing<String>,
    new_passphrase_again: Zeroizing<String>,
    import_file: String,
    status: Status,
    /// The join under way, to cancel it.
    joining: Option<iced::task::Handle>,
    /// "Tor is blocked here": the bridges panel, when open.
    bridges: Option<crate::screen::bridges::BridgesPanel>,
}

/// Messages of the start screen.
#[derive(Debug, Clone)]
pub enum Message {
    /// Switch form.
    Show(Mode),
    /// Pick a profile to unlock.
    Select(Choice),
    /// Unlock passphrase typed.
    Passphrase(String),
    /// Unlock pressed.
    Unlock,
    /// Unlocking finished.
    Unlocked(Result<Opened, String>),
    /// Invite link typed or pasted.
    Invite(String),
    /// Picture path typed.
    Picture(String),
    /// Read the invite from the picture.
    ReadPicture,
    /// Username typed.
    Username(String),
    /// New passphrase typed.
    NewPassphrase(String),
    /// New passphrase repeated.
    NewPassphraseAgain(String),
    /// Join pressed.
    Join,
    /// Progress of a join.
    Joining(JoinEvent),
    /// Stop the join under way (Tor stuck, or a change of mind).
    CancelJoin,
    /// A file was dropped on the window: a QR picture (join) or a profile
    /// export (import).
    Dropped(PathBuf),
    /// Choose the QR picture with the system's file dialog.
    PickPicture,
    /// Choose the profile export with the system's file dialog.
    PickImport,
    /// Open the bridges panel ("Tor is blocked here?").
    OpenBridges,
    /// The bridges panel.
    Bridges(crate::screen::bridges::Message),
    /// New bridges reached Tor (or could not).
    BridgesApplied(Result<(), String>),
    /// What the file dialog returned for the picture.
    PicturePicked(Option<PathBuf>),
    /// What the file dialog returned for the export.
    ImportPicked(Option<PathBuf>),
    /// Path of a profile export typed.
    ImportFile(String),
    /// Import pressed.
    Import,
    /// Import finished (the new profile's name).
    Imported(Result<String, String>),
}

/// What the app must do after an update.
pub enum Outcome {
    /// Nothing beyond the task.
    None,
    /// A profile is open: go to the home screen.
    Opened(Opened),
}

impl Start {
    /// The start screen: unlock if there are profiles, else join.
    pub fn new(places: Places) -> Start {
        let profiles = places.profiles();
        Start {
            mode: if profiles.is_empty() {
                Mode::Join
            } else {
                Mode::Unlock
            },
            selected: profiles.first().cloned(),
            choices: choices(&places, &profiles),
            profiles,
            places,
            passphrase: Zeroizing::default(),
            invite: String::new(),
            picture: String::new(),
            username: String::new(),
            new_passphrase: Zeroizing::default(),
            new_passphrase_again: Zeroizing::default(),
            import_file: String::new(),
            status: Status::Idle,
            joining: None,
            bridges: None,
        }
    }

    /// The start screen with `profile` preselected (after locking it).
    pub fn unlocking(places: Places, profile: &str) -> Start {
        let mut s = Start::new(places);
        if s.profiles.iter().any(|p| p == profile) {
            s.selected = Some(profile.to_string());
            s.mode = Mode::Unlock;
        }
        s
    }

    /// What the profile list shows for the selected profile.
    pub fn selected_label(&self) -> Option<&str> {
        let name = self.selected.as_ref()?;
        self.choices
            .iter()
            .find(|c| &c.name == name)
            .map(|c| c.label.as_str())
    }

    /// Which form is up.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn refresh_profiles(&mut self) {
        self.profiles = self.places.profiles();
        self.choices = choices(&self.places, &self.profiles);
    }

    fn busy(&self) -> bool {
        matches!(self.status, Status::Working { .. })
    }

    fn fail(&mut self, why: impl Into<String>) -> (Task<Message>, Outcome) {
        self.status = Status::Failed(why.into());
        (Task::none(), Outcome::None)
    }

    /// Handle a message.
    pub fn update(&mut self, message: Message) -> (Task<Message>, Outcome) {
        match message {
            Message::Show(mode) => {
                if !self.busy() {
                    self.mode = mode;
                    self.status = Status::Idle;
                }
            }
            Message::Select(p) => self.selected = Some(p.name),
            Message::Passphrase(p) => self.passphrase = Zeroizing::new(p),
            Message::Unlock => {
                if self.busy() {
                    return (Task::none(), Outcome::None);
                }
                let Some(name) = self.selected.clone() else {
                    return self.fail("Choose a profile first.");
                };
                if self.passphrase.is_empty() {
                    return self.fail("Enter the passphrase of this profile.");
                }
                self.status = Status::Working {
                    step: "Unlocking your profile…".into(),
                    tor: None,
                };
                let pass = std::mem::take(&mut self.passphrase);
                return (
                    Task::perform(
                        session::unlock(self.places.clone(), name, pass),
                        Message::Unlocked,
                    ),
                    Outcome::None,
                );
            }
            Message::Unlocked(Ok(opened)) => {
                self.status = Status::Idle;
                return (Task::none(), Outcome::Opened(opened));
            }
            Message::Unlocked(Err(e)) => return self.fail(e),
            Message::Invite(s) => self.invite = s,
            Message::Picture(s) => self.picture = s,
            Message::ReadPicture => {
                match crate::invite::from_picture(&PathBuf::from(self.picture.trim())) {
                    Ok(link) => {
                        self.invite = link.to_string();
                        self.status = Status::Idle;
                    }
                    Err(e) => return self.fail(e.to_string()),
                }
            }
            Message::Username(s) => self.username = s,
            Message::NewPassphrase(s) => self.new_passphrase = Zeroizing::new(s),
            Message::NewPassphraseAgain(s) => self.new_passphrase_again = Zeroizing::new(s),
            Message::Join => return self.join(),
            Message::Joining(JoinEvent::Step(step)) => {
                if let Status::Working { step: s, .. } = &mut self.status {
                    *s = step;
                }
            }
            Message::Joining(JoinEvent::Tor(p, what)) => {
                self.status = Status::Working {
                    // "Tor: connecting, 40 % (…)" or "Tor: stuck at 8 % — why
                    // — what to check", said once.
                    step: what,
                    tor: Some(p),
                };
            }
            Message::CancelJoin => {
                if let Some(handle) = self.joining.take() {
                    // Dropping the join's stream stops it; it removes the
                    // profile it was making (see session::join).
                    handle.abort();
                    self.status = Status::Failed(
                        "Joining was cancelled. Nothing was kept; try again when Tor can connect \
                         (another network may help)."
                            .into(),
                    );
                }
            }
            Message::Dropped(path) => match self.mode {
                Mode::Import => self.import_file = path.display().to_string(),
                _ => {
                    self.mode = Mode::Join;
                    return self.update(Message::PicturePicked(Some(path)));
                }
            },
            Message::PickPicture => {
                return (
                    Task::perform(
                        crate::pick::open_file(
                            "The picture of the box's QR code".into(),
                            Some(("Pictures", &["png", "jpg", "jpeg"])),
                        ),
                        Message::PicturePicked,
                    ),
                    Outcome::None,
                );
            }
            Message::PickImport => {
                return (
                    Task::perform(
                        crate::pick::open_file(
                            "The exported profile".into(),
                            Some(("OnionChat profiles", &["onionchat"])),
                        ),
                        Message::ImportPicked,
                    ),
                    Outcome::None,
                );
            }
            Message::PicturePicked(Some(path)) => {
                self.picture = path.display().to_string();
                return self.update(Message::ReadPicture);
            }
            Message::ImportPicked(Some(path)) => self.import_file = path.display().to_string(),
            Message::PicturePicked(None) | Message::ImportPicked(None) => {}
            Message::Joining(JoinEvent::Done(Ok(opened))) => {
                self.joining = None;
                self.status = Status::Idle;
                self.refresh_profiles();
                return (Task::none(), Outcome::Opened(opened));
            }
            Message::Joining(JoinEvent::Done(Err(e))) => {
                self.joining = None;
                self.refresh_profiles();
                return self.fail(e);
            }
            Message::OpenBridges => {
                self.bridges = Some(crate::screen::bridges::BridgesPanel::new(
                    self.places.clone(),
                ));
            }
            Message::Bridges(m) => {
                use crate::screen::bridges::Outcome as B;
                let Some(panel) = &mut self.bridges else {
                    return (Task::none(), Outcome::None);
                };
                match panel.update(m) {
                    B::None => {}
                    B::Closed => self.bridges = None,
                    // A join stuck on a blocked network goes on through
                    // the bridges: the running Tor client takes them.
                    B::Changed(_) => {
                        return (
                            Task::perform(
                                session::apply_bridges(self.places.clone()),
                                Message::BridgesApplied,
                            ),
                            Outcome::None,
                        );
                    }
                }
            }
            // Back to the form (a join under way goes on through the
            // bridges; else Join uses them from the start).
            Message::BridgesApplied(Ok(())) => self.bridges = None,
            Message::BridgesApplied(Err(e)) => return self.fail(e),
            Message::ImportFile(s) => self.import_file = s,
            Message::Import => {
                if self.busy() {
                    return (Task::none(), Outcome::None);
                }
                let file = PathBuf::from(self.import_file.trim());
                if !file.is_file() {
                    return self.fail("Choose the exported profile file (it ends in .onionchat).");
                }
                if self.passphrase.is_empty() {
                    return self.fail("Enter the passphrase the profile was exported with.");
                }
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                let name = session::profile_name(&stem, &self.profiles);
                self.status = Status::Working {
                    step: "Importing the profile…".into(),
                    tor: None,
                };
                let pass = Zeroizing::new(self.passphrase.to_string());
                return (
                    Task::perform(
                        session::import(self.places.clone(), name, file, pass),
                        Message::Imported,
                    ),
                    Outcome::None,
                );
            }
            Message::Imported(Ok(name)) => {
                self.refresh_profiles();
                self.selected = Some(name);
                self.mode = Mode::Unlock;
                // The same passphrase unlocks it: go straight on.
                self.status = Status::Idle;
                return self.update(Message::Unlock);
            }
            Message::Imported(Err(e)) => return self.fail(e),
        }
        (Task::none(), Outcome::None)
    }

    fn join(&mut self) -> (Task<Message>, Outcome) {
        if self.busy() {
            return (Task::none(), Outcome::None);
        }
        let invite = match crate::invite::from_text(&self.invite) {
            Ok(link) => link,
            Err(e) => return self.fail(e.to_string()),
        };
        let username = self.username.trim().to_string();
        if let Err(why) = onionchat_proto::wire::validate_username(&username) {
            return self.fail(format!("Choose another name: {why}."));
        }
        if self.new_passphrase.chars().count() < 8 {
            return self.fail("Choose a passphrase of at least 8 characters.");
        }
        if *self.new_passphrase != *self.new_passphrase_again {
            return self.fail("The two passphrases differ.");
        }
        let name = session::profile_name(&username, &self.profiles);
        self.status = Status::Working {
            step: "Starting…".into(),
            tor: None,
        };
        let pass = Zeroizing::new(self.new_passphrase.to_string());
        let (task, handle) = Task::run(
            session::join(self.places.clone(), name, invite, username, pass),
            Message::Joining,
        )
        .abortable();
        self.joining = Some(handle);
        (task, Outcome::None)
    }

    /// Draw the screen.
    pub fn view(&self) -> Element<'_, Message> {
        let tabs = row![
            tab(
                "Your profiles",
                Mode::Unlock,
                self.mode,
                !self.profiles.is_empty()
            ),
            tab("Join a box", Mode::Join, self.mode, true),
            tab("Import a profile", Mode::Import, self.mode, true),
        ]
        .spacing(8);
        let form = match self.mode {
            Mode::Unlock => self.unlock_form(),
            Mode::Join => self.join_form(),
            Mode::Import => self.import_form(),
        };
        let status: Element<'_, Message> = match &self.status {
            Status::Idle => column![].into(),
            Status::Working { step, tor } => {
                let mut c = column![text(step.clone())].spacing(6);
                if let Some(p) = tor {
                    c = c.push(progress_bar(0.0..=100.0, f32::from(*p)));
                }
                if self.joining.is_some() {
                    let mut buttons = row![
                        button("Cancel")
                            .style(button::secondary)
                            .on_press(Message::CancelJoin)
                    ]
                    .spacing(8);
                    if tor.is_some() && self.bridges.is_none() {
                        buttons = buttons.push(
                            button("Tor is blocked here?")
                                .style(button::secondary)
                                .on_press(Message::OpenBridges),
                        );
                    }
                    c = c.push(buttons);
                }
                container(c)
                    .padding(10)
                    .style(style::panel(style::PENDING))
                    .width(Fill)
                    .into()
            }
            Status::Failed(why) => container(text(why.clone()))
                .padding(10)
                .style(style::panel(style::DANGER))
                .width(Fill)
                .into(),
        };
        // The bridges panel takes the form's place (the join's progress
        // stays in sight below it); closing it brings the form back.
        let middle: Element<'_, Message> = match &self.bridges {
            Some(panel) => panel.view().map(Message::Bridges),
            None => column![tabs, form].spacing(16).into(),
        };
        let content = column![
            text("OnionChat").size(32),
            text("Private chat through your own box at home.").color(style::QUIET),
            middle,
            status,
        ]
        .spacing(16)
        .max_width(520);
        // Top-aligned: an error or a progress line appearing below the form
        // does not move what the user is typing into.
        container(content).center_x(Fill).padding([48, 24]).into()
    }

    fn unlock_form(&self) -> Element<'_, Message> {
        let busy = self.busy();
        column![
            text("Profile"),
            pick_list(
                self.choices.as_slice(),
                self.selected
                    .as_ref()
                    .and_then(|n| self.choices.iter().find(|c| &c.name == n)),
                Message::Select
            ),
            text("Passphrase"),
            text_input("Passphrase", &self.passphrase)
                .id("unlock-passphrase")
                .secure(true)
                .on_input_maybe((!busy).then_some(Message::Passphrase))
                .on_submit(Message::Unlock),
            button("Unlock").on_press_maybe((!busy).then_some(Message::Unlock)),
        ]
        .spacing(8)
        .into()
    }

    fn join_form(&self) -> Element<'_, Message> {
        let busy = self.busy();
        let input =
            |placeholder: &str, id: &'static str, value: &str, on: fn(String) -> Message| {
                text_input(placeholder, value)
                    .id(id)
                    .on_input_maybe((!busy).then_some(on))
                    .on_submit(Message::Join)
            };
        column![
            text("Invite from the box's screen"),
            input("onionchat://…", "invite", &self.invite, Message::Invite),
            row![
                text_input("…or the path of a picture of the QR code", &self.picture)
                    .id("picture")
                    .on_input_maybe((!busy).then_some(Message::Picture))
                    .on_submit(Message::ReadPicture),
                button("Read QR code").on_press_maybe((!busy).then_some(Message::ReadPicture)),
                button("Choose…")
                    .style(button::secondary)
                    .on_press_maybe((!busy).then_some(Message::PickPicture)),
            ]
            .spacing(8)
            .align_y(Center),
            text("Your name (others see it)"),
            input("e.g. ann", "username", &self.username, Message::Username),
            text("A passphrase that locks this profile on this computer"),
            input(
                "at least 8 characters",
                "new-passphrase",
                &self.new_passphrase,
                Message::NewPassphrase
            )
            .secure(true),
            input(
                "the same passphrase again",
                "new-passphrase-again",
                &self.new_passphrase_again,
                Message::NewPassphraseAgain
            )
            .secure(true),
            row![
                button("Join").on_press_maybe((!busy).then_some(Message::Join)),
                button("Bridges to Tor…")
                    .style(button::secondary)
                    .on_press_maybe(self.bridges.is_none().then_some(Message::OpenBridges)),
            ]
            .spacing(8),
        ]
        .spacing(8)
        .into()
    }

    fn import_form(&self) -> Element<'_, Message> {
        let busy = self.busy();
        column![
            text("Use this account on another computer: on the first one, open Settings (bottom of the chat list) and press \"Export profile\"; copy that file here (or drop it on this window)."),
            text("Exported profile file"),
            row![
                text_input("/path/to/ann.onionchat", &self.import_file)
                    .id("import-file")
                    .on_input_maybe((!busy).then_some(Message::ImportFile)),
                button("Choose…")
                    .style(button::secondary)
                    .on_press_maybe((!busy).then_some(Message::PickImport)),
            ]
            .spacing(8)
            .align_y(Center),
            text("Its passphrase"),
            text_input("Passphrase", &self.passphrase)
                .id("import-passphrase")
                .secure(true)
                .on_input_maybe((!busy).then_some(Message::Passphrase))
                .on_submit(Message::Import),
            button("Import").on_press_maybe((!busy).then_some(Message::Import)),
        ]
        .spacing(8)
        .into()
    }
}

/// The profiles as the list shows them.
fn choices(places: &Places, profiles: &[String]) -> Vec<Choice> {
    profiles
        .iter()
        .map(|name| Choice {
            name: name.clone(),
            label: places.label(name),
        })
        .collect()
}

fn tab(label: &str, mode: Mode, current: Mode, enabled: bool) -> Element<'_, Message> {
    // The current tab stays pressable (a no-op) so it reads as selected,
    // not as disabled.
    let b = button(text(label)).on_press_maybe(enabled.then_some(Message::Show(mode)));
    if mode == current {
        b.style(button::primary).into()
    } else {
        b.style(button::secondary).into()
    }
}
