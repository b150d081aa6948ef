//! Sending and saving files: progress, cancelling, and going on after a lost connection.

use super::*;

/// Why a file transfer stopped.
#[derive(Debug, Clone)]
pub struct TransferFailed {
    /// What went wrong, in words.
    pub why: String,
    /// The connection to the box was lost: worth trying again when it is
    /// back.
    pub connection: bool,
}

impl TransferFailed {
    fn from(e: onionchat_client::ClientError) -> TransferFailed {
        TransferFailed {
            connection: matches!(e, onionchat_client::ClientError::Connect(_)),
            why: onionchat_client::words::explain(&e),
        }
    }
}

/// A transfer to start again when the connection is back.
#[derive(Debug, Clone)]
pub(super) enum Transfer {
    /// Saving a received file (resumes where it stopped).
    Download(RoomId, FileId),
    /// Sending a file (starts again: the box keeps no half upload).
    Upload(RoomId, PathBuf),
}

impl Home {
    pub(super) fn send_file(&mut self) -> Task<Message> {
        let Some(room) = self.current_room() else {
            return Task::none();
        };
        if let Some(why) = self.blocked(room) {
            self.note(Err(why));
            return Task::none();
        }
        let path = PathBuf::from(self.file_path.trim());
        if !path.is_file() {
            self.note(Err(format!("There is no file at {}.", path.display())));
            return Task::none();
        }
        self.file_path.clear();
        self.upload(room, path)
    }

    /// Encrypt and send the file at `path` to `room`, with progress.
    pub(super) fn upload(&mut self, room: RoomId, path: PathBuf) -> Task<Message> {
        let c = self.client.clone();
        let cancel = self.cancel.clone();
        self.transfer = Some((0, 0));
        self.current_transfer = Some(Transfer::Upload(room, path.clone()));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let done_tx = tx.clone();
        tokio::spawn(async move {
            let progress_tx = tx.clone();
            let progress: onionchat_client::files::Progress = Box::new(move |done, total| {
                let _ = progress_tx.send(Message::Transfer(done, total));
                !cancel.load(std::sync::atomic::Ordering::SeqCst)
            });
            let r = c
                .send_file(room, &path, progress)
                .await
                .map(|_| {
                    onionchat_client::files::sent_as_is(&path).unwrap_or_else(|| {
                        format!(
                            "Sent {}.",
                            path.file_name()
                                .map(|n| n.to_string_lossy().to_string())
                                .unwrap_or_default()
                        )
                    })
                })
                .map_err(TransferFailed::from);
            let _ = done_tx.send(Message::TransferDone(r));
        });
        Task::run(session::receiver_stream(rx), |m| m)
    }

    pub(super) fn save_file(&mut self, room: RoomId, file_id: FileId) -> Task<Message> {
        let Some((name, sha)) = self.timelines.get(&room).and_then(|t| {
            t.entries().find_map(|e| match e {
                chat::Entry::Message {
                    content:
                        MessageContent::File {
                            file_id: f,
                            name,
                            sha256,
                            ..
                        },
                    ..
                } if *f == file_id => Some((name.clone(), sha256.clone())),
                _ => None,
            })
        }) else {
            return Task::none();
        };
        // The sender chose the name: keep only its last part.
        let safe = std::path::Path::new(&name)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .filter(|n| !n.starts_with('.'))
            .unwrap_or_else(|| "download".into());
        if let Err(e) = std::fs::create_dir_all(&self.downloads_dir) {
            self.note(Err(format!(
                "Cannot create {}: {e}",
                self.downloads_dir.display()
            )));
            return Task::none();
        }
        let dest = self.downloads_dir.join(safe);
        let c = self.client.clone();
        let cancel = self.cancel.clone();
        self.transfer = Some((0, 0));
        self.current_transfer = Some(Transfer::Download(room, file_id));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let progress_tx = tx.clone();
            let progress: onionchat_client::files::Progress = Box::new(move |done, total| {
                let _ = progress_tx.send(Message::Transfer(done, total));
                !cancel.load(std::sync::atomic::Ordering::SeqCst)
            });
            let r = c
                .download_file(file_id, &dest, Some(&sha), progress)
                .await
                .map(|d| {
                    if d.resumed_from > 0 {
                        format!(
                            "Saved to {} (resumed at {}).",
                            dest.display(),
                            crate::format::size(d.resumed_from)
                        )
                    } else {
                        format!("Saved to {}.", dest.display())
                    }
                })
                .map_err(TransferFailed::from);
            let _ = tx.send(Message::TransferDone(r));
        });
        Task::run(session::receiver_stream(rx), |m| m)
    }
}
