//! "Tor is blocked here": the bridges panel, reached from a Tor connection
//! that is stuck (joining, or an open profile) and from the settings page.
//!
//! The user pastes bridge lines — from bridges.torproject.org, an e-mail,
//! or a friend — and the app checks them (a line that is not one, a kind
//! we cannot run, a missing obfs4 program: said in words) before keeping
//! them for every profile on this computer (`bridges.txt` beside the
//! profiles: a blocked network blocks all of them alike). Nothing here
//! talks to Tor; the screen that owns the panel reconnects with what it
//! returns.

use iced::widget::{button, column, container, row, text, text_editor};
use iced::{Element, Fill};

use crate::session::Places;
use crate::style;

/// Where people get bridge lines, in the words the panel uses.
pub const WHERE_TO_GET_THEM: &str = "Some networks block Tor: at work, in a hotel or school, or in a \
whole country. A bridge is an entrance to Tor that is not on the public list, and an obfs4 bridge \
also hides that you use Tor. Get bridge lines (choose obfs4) at https://bridges.torproject.org, \
by e-mail to bridges@torproject.org (from a Gmail or Riseup address), or from a friend whose Tor \
works, and paste them here, one per line.";

/// The panel's state.
pub struct BridgesPanel {
    places: Places,
    lines: text_editor::Content,
    /// How many bridges are kept now (what Tor goes through).
    in_use: usize,
    /// What is wrong with the lines, or what was done.
    note: Option<(bool, String)>,
}

/// Messages of the panel.
#[derive(Debug, Clone)]
pub enum Message {
    /// Typing or pasting into the lines.
    Edit(text_editor::Action),
    /// Check the lines and use them.
    Use,
    /// Connect to Tor directly again (forget the bridges).
    Direct,
    /// Close the panel without changing anything.
    Close,
}

/// What the owner of the panel must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing.
    None,
    /// The bridges changed (empty: directly): connect again with them.
    Changed(Vec<String>),
    /// The panel was closed.
    Closed,
}

impl BridgesPanel {
    /// The panel, showing the bridges in use now.
    pub fn new(places: Places) -> BridgesPanel {
        let current = places.bridges();
        BridgesPanel {
            places,
            lines: text_editor::Content::with_text(&current.join("\n")),
            in_use: current.len(),
            note: None,
        }
    }

    /// "Tor is reached through 2 bridges." (what is kept, not what is
    /// typed).
    pub fn in_use(&self) -> String {
        bridges_in_use(self.in_use)
    }

    /// Handle a message.
    pub fn update(&mut self, message: Message) -> Outcome {
        match message {
            Message::Edit(action) => {
                self.lines.perform(action);
                Outcome::None
            }
            Message::Use => {
                let lines = onionchat_tor::Bridges::lines_from_text(&self.lines.text());
                if lines.is_empty() {
                    self.note = Some((
                        false,
                        "Paste at least one bridge line first (or choose \"Connect directly\")."
                            .into(),
                    ));
                    return Outcome::None;
                }
                let check = onionchat_tor::Bridges {
                    lines: lines.clone(),
                    transport_program: None,
                }
                .check();
                if let Err(e) = check {
                    self.note = Some((false, capitalised(&e.to_string())));
                    return Outcome::None;
                }
                match self.places.save_bridges(&lines) {
                    Ok(()) => {
                        self.in_use = lines.len();
                        self.note = Some((true, self.in_use()));
                        Outcome::Changed(lines)
                    }
                    Err(e) => {
                        self.note = Some((false, format!("The bridges could not be kept: {e}")));
                        Outcome::None
                    }
                }
            }
            Message::Direct => match self.places.save_bridges(&[]) {
                Ok(()) => {
                    self.lines = text_editor::Content::new();
                    self.in_use = 0;
                    self.note = Some((true, self.in_use()));
                    Outcome::Changed(Vec::new())
                }
                Err(e) => {
                    self.note = Some((false, format!("The bridges could not be removed: {e}")));
                    Outcome::None
                }
            },
            Message::Close => Outcome::Closed,
        }
    }

    /// Draw the panel.
    pub fn view(&self) -> Element<'_, Message> {
        let mut c = column![
            text("Tor is blocked here?").size(20),
            text(WHERE_TO_GET_THEM),
            text_editor(&self.lines)
                .id("bridge-lines")
                .placeholder("obfs4 192.0.2.1:443 FINGERPRINT cert=… iat-mode=0")
                .height(120)
                .on_action(Message::Edit),
            row![
                button("Use these bridges").on_press(Message::Use),
                button("Connect directly")
                    .style(button::secondary)
                    .on_press(Message::Direct),
                button("Close")
                    .style(button::secondary)
                    .on_press(Message::Close),
            ]
            .spacing(8),
        ]
        .spacing(10);
        if let Some((good, note)) = &self.note {
            let tint = if *good { style::GOOD } else { style::DANGER };
            c = c.push(
                container(text(note.clone()))
                    .padding(8)
                    .style(style::panel(tint))
                    .width(Fill),
            );
        }
        container(c)
            .padding(12)
            .style(style::panel(style::QUIET))
            .width(Fill)
            .into()
    }
}

/// "Tor is reached through 2 bridges."
fn bridges_in_use(n: usize) -> String {
    match n {
        0 => "Tor is reached directly, without bridges.".into(),
        1 => "Tor is reached through 1 bridge.".into(),
        n => format!("Tor is reached through {n} bridges."),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "192.0.2.66:443 316E643333645F6D79216558614D3931657A5F5F";

    fn panel(dir: &std::path::Path) -> BridgesPanel {
        BridgesPanel::new(Places {
            profiles_dir: dir.to_path_buf(),
            tor_state_dir: None,
            tor_network: None,
        })
    }

    fn paste(p: &mut BridgesPanel, text: &str) {
        p.update(Message::Edit(text_editor::Action::Edit(
            text_editor::Edit::Paste(std::sync::Arc::new(text.to_string())),
        )));
    }

    #[test]
    fn good_lines_are_kept_for_the_next_start_and_bad_ones_explained() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut p = panel(tmp.path());
        assert_eq!(p.update(Message::Use), Outcome::None);
        assert!(
            p.note
                .as_ref()
                .is_some_and(|(ok, n)| !ok && n.contains("Paste at least one"))
        );
        paste(
            &mut p,
            "snowflake 192.0.2.3:1 2B280B23E1107BB62ABFC40DDCC8824814F80A72",
        );
        assert_eq!(p.update(Message::Use), Outcome::None);
        let (ok, note) = p.note.clone().expect("a note");
        assert!(
            !ok && note.starts_with("Bridges of the 'snowflake' kind"),
            "{note}"
        );
        assert!(!tmp.path().join("bridges.txt").exists(), "nothing kept");

        let mut p = panel(tmp.path());
        paste(&mut p, &format!("# from a friend\nBridge {LINE}\n"));
        assert_eq!(
            p.update(Message::Use),
            Outcome::Changed(vec![format!("Bridge {LINE}")])
        );
        // The next start shows them, and connects through them.
        let places = Places {
            profiles_dir: tmp.path().to_path_buf(),
            tor_state_dir: None,
            tor_network: None,
        };
        assert_eq!(places.bridges(), [format!("Bridge {LINE}")]);
        let again = panel(tmp.path());
        assert_eq!(again.lines.text().trim(), format!("Bridge {LINE}"));

        let mut p = panel(tmp.path());
        assert_eq!(p.update(Message::Direct), Outcome::Changed(Vec::new()));
        assert!(places.bridges().is_empty());
    }
}
