//! Key verification: the safety number to compare in person (and its QR
//! code), "mark as verified", and what to do when a contact's key changed.

use iced::widget::{button, column, container, qr_code, row, text};
use iced::{Element, Fill};
use onionchat_client::Contact;
use onionchat_proto::wire::Fingerprint;

use crate::{format, style};

/// A changed key the user has not looked at yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// Name.
    pub username: String,
    /// What we pinned.
    pub pinned: Fingerprint,
    /// What the box now serves.
    pub seen: Fingerprint,
}

/// The verification panel for one contact.
pub struct Verify {
    /// Who.
    pub contact: Contact,
    /// The safety number.
    pub number: String,
    qr: Option<qr_code::Data>,
    /// Their key changed and the user has not accepted the new one.
    pub change: Option<KeyChange>,
}

/// Messages of the verification panel.
#[derive(Debug, Clone)]
pub enum Message {
    /// "We compared it: mark as verified" (or undo).
    SetVerified(bool),
    /// "I checked the new key with them": pin it.
    AcceptNewKey,
    /// Copy the safety number (to paste into a message on another channel).
    Copy,
    /// Close the panel.
    Close,
}

impl Verify {
    /// The panel for `contact` with their safety number and its QR payload.
    pub fn new(
        contact: Contact,
        number: String,
        qr_payload: &str,
        change: Option<KeyChange>,
    ) -> Verify {
        Verify {
            contact,
            number,
            qr: qr_code::Data::new(qr_payload.as_bytes()).ok(),
            change,
        }
    }

    /// Draw it.
    pub fn view(&self) -> Element<'_, Message> {
        let name = &self.contact.username;
        let mut c = column![text(format!("Verify {name}")).size(20)].spacing(12);
        if let Some(change) = &self.change {
            c = c.push(
                container(
                    column![
                        text(format!("{}'s key changed.", change.username)).size(16),
                        text(format!(
                            "The box now hands out a different key for {} than the one you had. That happens when they reinstalled — or when someone is trying to listen in. Messages to {} are paused.",
                            change.username, change.username
                        )),
                        text(format!("Before: {}", change.pinned)).size(12),
                        text(format!("Now:    {}", change.seen)).size(12),
                        text("Call them or meet them, compare the new safety number, then accept the new key."),
                        button("I checked it with them: accept the new key").style(button::danger).on_press(Message::AcceptNewKey),
                    ]
                    .spacing(6),
                )
                .padding(12)
                .style(style::panel(style::DANGER)),
            );
        } else {
            c = c.push(text(format!(
                "Compare these numbers with {name} in person or on a call. If they match, nobody is between you."
            )));
            let mut digits = column![].spacing(4);
            for line in format::safety_lines(&self.number) {
                digits = digits.push(text(line).size(18).font(iced::Font::MONOSPACE));
            }
            c = c.push(digits);
            c = c.push(
                button("Copy the number")
                    .style(button::secondary)
                    .on_press(Message::Copy),
            );
            if let Some(qr) = &self.qr {
                c = c.push(qr_code(qr).cell_size(4));
            }
            c = c.push(if self.contact.verified {
                row![
                    text("✔ Verified").color(style::GOOD),
                    button("Mark as not verified")
                        .style(button::secondary)
                        .on_press(Message::SetVerified(false)),
                ]
                .spacing(12)
            } else {
                row![button("They match: mark as verified").on_press(Message::SetVerified(true))]
            });
        }
        c = c.push(
            button("Close")
                .style(button::secondary)
                .on_press(Message::Close),
        );
        container(c).padding(16).width(Fill).into()
    }
}
