//! The verification and owner panels' messages.

use super::*;

impl Home {
    pub(super) fn on_verify(&mut self, m: verify::Message) -> Task<Message> {
        let Pane::Verify(v) = &mut self.pane else {
            return Task::none();
        };
        match m {
            verify::Message::SetVerified(yes) => {
                match self.client.set_verified(v.contact.user_id, yes) {
                    Ok(()) => v.contact.verified = yes,
                    Err(e) => self.note = Some(Err(e.to_string())),
                }
                Task::none()
            }
            verify::Message::AcceptNewKey => {
                let name = v.contact.username.clone();
                // The key the user was shown and checked, not whatever the
                // box serves by the time the button is pressed.
                let Some(seen) = v.change.as_ref().map(|c| c.seen) else {
                    return Task::none();
                };
                let c = self.client.clone();
                let user = v.contact.user_id;
                let again = c.clone();
                let who = name.clone();
                Task::perform(
                    async move { err(c.accept_new_key(&name, seen).await) },
                    Message::KeyAccepted,
                )
                // Refused or not, ask the box once more: if it serves the key
                // the contact book has again, there is nothing left to look at.
                .chain(Task::perform(
                    async move { again.user(&who).await.is_ok() },
                    move |fine| Message::KeyRechecked(user, fine),
                ))
            }
            verify::Message::Copy => {
                let number = match &self.pane {
                    Pane::Verify(v) => v.number.clone(),
                    _ => return Task::none(),
                };
                self.update(Message::Copy(number, "The safety number")).0
            }
            verify::Message::Close => {
                self.pane = Pane::Welcome;
                Task::none()
            }
        }
    }

    pub(super) fn on_owner(&mut self, m: owner::Message) -> Task<Message> {
        match m {
            owner::Message::MakeInvite => {
                if let Some(o) = &mut self.owner {
                    o.busy = true;
                }
                let c = self.client.clone();
                Task::perform(
                    async move {
                        let inv = err(c.create_invite(None, None).await)?;
                        Ok(c.invite_link(&inv.code).to_string())
                    },
                    Message::InviteMade,
                )
            }
            owner::Message::Revoke(code) => {
                let c = self.client.clone();
                Task::perform(
                    async move {
                        err(c.revoke_invite(&code).await).map(|_| "Invite revoked.".to_string())
                    },
                    Message::Done,
                )
            }
            owner::Message::AskRemove(name) => {
                if let Some(o) = &mut self.owner {
                    o.confirm_remove = Some(name);
                }
                Task::none()
            }
            owner::Message::Keep => {
                if let Some(o) = &mut self.owner {
                    o.confirm_remove = None;
                }
                Task::none()
            }
            owner::Message::Remove(name) => {
                if let Some(o) = &mut self.owner {
                    o.confirm_remove = None;
                }
                let c = self.client.clone();
                Task::perform(
                    async move {
                        err(c.remove_account(&name).await)
                            .map(|_| format!("{name} was removed from the box."))
                    },
                    Message::Done,
                )
            }
            owner::Message::Refresh => self.load(),
            owner::Message::CopyLink(link) => self.update(Message::Copy(link, "The invite link")).0,
            owner::Message::Close => {
                self.pane = Pane::Welcome;
                Task::none()
            }
        }
    }

    /// Open the verification panel for `name`: their safety number, or the
    /// change of their key if it changed.
    pub(super) fn open_verify(&mut self, name: String) -> (Task<Message>, Outcome) {
        // A changed key refuses the safety number: show the change.
        let changed = self
            .key_changes
            .iter()
            .find(|(_, c)| c.username == name)
            .map(|(u, c)| (UserId(*u), c.clone()));
        if let Some((user_id, change)) = changed {
            self.show_key_change(user_id, change);
            return (Task::none(), Outcome::None);
        }
        let c = self.client.clone();
        let task = Task::perform(
            async move {
                c.safety_number(&name).await.map_err(|e| match e {
                    onionchat_client::ClientError::KeyChanged {
                        user,
                        username,
                        pinned,
                        seen,
                    } => VerifyRefused::KeyChanged(
                        user,
                        KeyChange {
                            username,
                            pinned,
                            seen,
                        },
                    ),
                    other => VerifyRefused::Other(onionchat_client::words::explain(&other)),
                })
            },
            Message::VerifyLoaded,
        );
        (task, Outcome::None)
    }

    /// The safety number (or the refusal) for the verification panel.
    pub(super) fn verify_loaded(
        &mut self,
        r: Result<(Contact, String, String), VerifyRefused>,
    ) -> Task<Message> {
        match r {
            Ok((contact, number, qr)) => {
                self.pane = Pane::Verify(Box::new(Verify::new(contact, number, &qr, None)));
                Task::none()
            }
            Err(VerifyRefused::KeyChanged(user_id, change)) => {
                self.key_changes.insert(user_id.0, change.clone());
                self.show_key_change(user_id, change);
                Task::none()
            }
            Err(VerifyRefused::Other(e)) => {
                self.note(Err(e));
                Task::none()
            }
        }
    }

    /// The verification panel showing that `user_id`'s key changed (no
    /// safety number: the new key is not trusted yet).
    fn show_key_change(&mut self, user_id: UserId, change: KeyChange) {
        let contact = Contact {
            user_id,
            username: change.username.clone(),
            fingerprint: change.pinned,
            verified: false,
            known: true,
        };
        self.pane = Pane::Verify(Box::new(Verify::new(
            contact,
            String::new(),
            "",
            Some(change),
        )));
    }
}
