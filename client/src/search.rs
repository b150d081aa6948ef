//! Search, on this computer only: the box has nothing but ciphertext.
//!
//! What verified messages say (texts, replies, file names) is kept in an
//! index beside the profile, `search.bin`, encrypted with AES-256-GCM under
//! a random key that lives in the passphrase-protected vault:
//! `"OCINDEX1" || nonce:12 || AES-256-GCM(key, nonce, AAD = "OCINDEX1",
//! CBOR(index))`. Messages are added as they are opened (history, live)
//! and taken out when deleted; a search first fetches what the index has
//! not seen yet, then scans it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use onionchat_proto::crypto::{aead, random_array};
use onionchat_proto::wire::{MessageContent, MsgId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::{ClientError, Result};
use crate::events::Received;

const MAGIC: &[u8; 8] = b"OCINDEX1";

/// Largest index file read back (a decade of a busy family's texts is a
/// few tens of MiB).
const MAX_INDEX_BYTES: usize = 512 * 1024 * 1024;

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Room.
    pub room_id: RoomId,
    /// Its seq (what `history` numbers it).
    pub seq: u64,
    /// Its id.
    pub msg_id: MsgId,
    /// Sender.
    pub sender: UserId,
    /// Sender's name when it was indexed.
    pub sender_name: String,
    /// Sender's clock (ms).
    pub sent_at: u64,
    /// What it says (a file's name for a file).
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    msg_id: [u8; 16],
    sender: u64,
    sender_name: String,
    sent_at: u64,
    text: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RoomIndex {
    /// Every message up to here was fetched for the index.
    through: u64,
    /// seq → entry.
    entries: BTreeMap<u64, Entry>,
}

/// The index in memory.
#[derive(Debug, Default)]
pub(crate) struct SearchIndex {
    rooms: BTreeMap<[u8; 16], RoomIndex>,
    dirty: bool,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    v: u16,
    rooms: Vec<([u8; 16], RoomIndex)>,
}

/// Where a profile's index lives.
pub(crate) fn index_path(dir: &Path) -> PathBuf {
    dir.join("search.bin")
}

impl SearchIndex {
    /// Read the index at `path` (empty if there is none, or it does not
    /// open: it is only a cache of what the box holds).
    pub(crate) fn load(path: &Path, key: &[u8; 32]) -> SearchIndex {
        let Ok(bytes) = std::fs::read(path) else {
            return SearchIndex::default();
        };
        match Self::decode(&bytes, key) {
            Some(rooms) => SearchIndex {
                rooms,
                dirty: false,
            },
            None => {
                tracing::warn!(
                    "the search index {} does not open; it will be rebuilt",
                    path.display()
                );
                SearchIndex::default()
            }
        }
    }

    fn decode(bytes: &[u8], key: &[u8; 32]) -> Option<BTreeMap<[u8; 16], RoomIndex>> {
        if bytes.len() < 20 || bytes.len() > MAX_INDEX_BYTES || &bytes[..8] != MAGIC {
            return None;
        }
        let nonce: [u8; 12] = bytes[8..20].try_into().ok()?;
        let plain = Zeroizing::new(aead::open(key, &nonce, MAGIC, &bytes[20..])?);
        let d: OnDisk = onionchat_proto::decode_with(
            &plain,
            onionchat_proto::Limits::with_max_len(MAX_INDEX_BYTES),
        )
        .ok()?;
        Some(d.rooms.into_iter().collect())
    }

    /// Write the index if it changed.
    pub(crate) fn save(&mut self, path: &Path, key: &[u8; 32]) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let d = OnDisk {
            v: 1,
            rooms: std::mem::take(&mut self.rooms).into_iter().collect(),
        };
        let plain = onionchat_proto::encode(&d).map(Zeroizing::new);
        self.rooms = d.rooms.into_iter().collect();
        let plain = plain.map_err(|e| ClientError::Protocol(e.to_string()))?;
        let nonce: [u8; 12] = random_array();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&nonce);
        out.extend(aead::seal(key, &nonce, MAGIC, &plain)?);
        onionchat_fs::write_private(path, &out).map_err(ClientError::io(format!(
            "cannot save the search index to {}",
            path.display()
        )))?;
        self.dirty = false;
        Ok(())
    }

    /// Take in what an opened message says (or that it is gone).
    pub(crate) fn note(&mut self, r: &Received) {
        let room = self.rooms.entry(r.room_id.0).or_default();
        let text = match &r.content {
            _ if r.deleted.is_some() => None,
            MessageContent::Text { text } | MessageContent::Reply { text, .. } => {
                Some(text.clone())
            }
            MessageContent::File { name, .. } => Some(name.clone()),
            MessageContent::Delete { to } => {
                let gone: Vec<u64> = room
                    .entries
                    .iter()
                    .filter(|(_, e)| e.msg_id == to.0 && e.sender == r.sender.0)
                    .map(|(s, _)| *s)
                    .collect();
                for s in gone {
                    room.entries.remove(&s);
                    self.dirty = true;
                }
                return;
            }
            _ => return,
        };
        match text {
            Some(text) => {
                let entry = Entry {
                    msg_id: r.msg_id.0,
                    sender: r.sender.0,
                    sender_name: r.sender_name.clone(),
                    sent_at: r.sent_at,
                    text,
                };
                room.entries.insert(r.seq, entry);
            }
            None => {
                room.entries.remove(&r.seq);
            }
        }
        self.dirty = true;
    }

    fn through(&self, room: RoomId) -> u64 {
        self.rooms.get(&room.0).map_or(0, |r| r.through)
    }

    fn fetched_through(&mut self, room: RoomId, seq: u64) {
        let r = self.rooms.entry(room.0).or_default();
        if seq > r.through {
            r.through = seq;
            self.dirty = true;
        }
    }

    /// Entries of `rooms` whose text holds `needle` (already lowercase).
    fn find(&self, rooms: &[RoomId], needle: &str) -> Vec<Found> {
        let mut out = Vec::new();
        for room in rooms {
            let Some(r) = self.rooms.get(&room.0) else {
                continue;
            };
            for (seq, e) in &r.entries {
                if e.text.to_lowercase().contains(needle) {
                    out.push(Found {
                        room_id: *room,
                        seq: *seq,
                        msg_id: MsgId(e.msg_id),
                        sender: UserId(e.sender),
                        sender_name: e.sender_name.clone(),
                        sent_at: e.sent_at,
                        text: e.text.clone(),
                    });
                }
            }
        }
        out
    }
}

impl Client {
    fn index_key(&self) -> Result<Zeroizing<[u8; 32]>> {
        let mut p = self.profile();
        if let Some(k) = p.data.index_key {
            return Ok(Zeroizing::new(k));
        }
        let k: [u8; 32] = random_array();
        p.data.index_key = Some(k);
        p.save()?;
        Ok(Zeroizing::new(k))
    }

    pub(crate) fn search_index(&self) -> std::sync::MutexGuard<'_, Option<SearchIndex>> {
        self.search.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` on the index, loading it first.
    fn with_index<T>(&self, f: impl FnOnce(&mut SearchIndex) -> T) -> Result<T> {
        let key = self.index_key()?;
        let dir = self.profile().dir().to_path_buf();
        let mut guard = self.search_index();
        let index = guard.get_or_insert_with(|| SearchIndex::load(&index_path(&dir), &key));
        Ok(f(index))
    }

    /// Note an opened message in the index (if it is loaded or cheap to
    /// load; errors only cost search results, never a message).
    pub(crate) fn index_message(&self, r: &Received) {
        if let Err(e) = self.with_index(|i| i.note(r)) {
            tracing::warn!("search index: {e}");
        }
    }

    /// Write the search index if it changed.
    pub fn save_search_index(&self) -> Result<()> {
        let key = self.index_key()?;
        let path = index_path(self.profile().dir());
        if let Some(i) = self.search_index().as_mut() {
            i.save(&path, &key)?;
        }
        Ok(())
    }

    /// Messages in `rooms` whose text or file name holds `query` (case does
    /// not matter), oldest first, at most `limit` (the newest). What the
    /// index has not seen yet is fetched first; if the box cannot be
    /// reached, what is here is searched all the same.
    pub async fn search(&self, rooms: &[RoomId], query: &str, limit: usize) -> Result<Vec<Found>> {
        let needle = query.trim().to_lowercase();
        if needle.is_empty() {
            return Err(ClientError::Input(
                "search for what? The query is empty".into(),
            ));
        }
        self.refresh_search_index(rooms).await?;
        self.search_local(rooms, &needle, limit)
    }

    /// Bring the index up to date with what the box holds for `rooms`
    /// (what it cannot give now is left for next time) and save it.
    pub async fn refresh_search_index(&self, rooms: &[RoomId]) -> Result<()> {
        for &room in rooms {
            let after = self.with_index(|i| i.through(room))?;
            match self.history_all(room, after).await {
                Ok(items) => {
                    let last = items.iter().map(|i| i.seq()).max().unwrap_or(after);
                    self.with_index(|i| i.fetched_through(room, last))?;
                }
                Err(e) => tracing::info!("searching {room} without its newest messages: {e}"),
            }
        }
        self.save_search_index()
    }

    /// [`Client::search`] in what this computer already has (no box).
    pub fn search_local(&self, rooms: &[RoomId], query: &str, limit: usize) -> Result<Vec<Found>> {
        let needle = query.trim().to_lowercase();
        let mut found = self.with_index(|i| i.find(rooms, &needle))?;
        found.sort_by_key(|f| (f.sent_at, f.seq));
        let over = found.len().saturating_sub(limit);
        found.drain(..over);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64, text: &str) -> Received {
        Received {
            room_id: RoomId([3; 16]),
            seq,
            server_time: seq,
            sender: UserId(2),
            sender_name: "bob".into(),
            msg_id: MsgId([seq as u8; 16]),
            sent_at: 1000 + seq,
            epoch: 1,
            stream: 1,
            counter: seq,
            void: vec![],
            late: false,
            content: MessageContent::Text { text: text.into() },
            deleted: None,
        }
    }

    #[test]
    fn the_index_is_encrypted_at_rest_and_reads_back() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("search.bin");
        let key = [9u8; 32];
        let mut i = SearchIndex::default();
        i.note(&msg(1, "Grandma's birthday cake recipe"));
        i.note(&msg(2, "see you Sunday"));
        i.save(&path, &key).expect("save");
        let bytes = std::fs::read(&path).expect("read");
        assert!(bytes.starts_with(MAGIC));
        assert!(!bytes.windows(4).any(|w| w == b"cake"), "plaintext on disk");
        let back = SearchIndex::load(&path, &key);
        let room = RoomId([3; 16]);
        assert_eq!(back.find(&[room], "cake").len(), 1);
        // Another key (another profile's, or a damaged file) opens nothing.
        assert!(
            SearchIndex::load(&path, &[1u8; 32])
                .find(&[room], "cake")
                .is_empty()
        );
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 1);
        std::fs::write(&path, cut).expect("write");
        assert!(SearchIndex::load(&path, &key).rooms.is_empty());
    }

    #[test]
    fn deleted_messages_leave_the_index() {
        let mut i = SearchIndex::default();
        let room = RoomId([3; 16]);
        i.note(&msg(1, "door code 4711"));
        i.note(&msg(2, "other 4711"));
        let mut del = msg(3, "");
        del.content = MessageContent::Delete { to: MsgId([1; 16]) };
        i.note(&del);
        assert_eq!(i.find(&[room], "4711").len(), 1);
        let mut tomb = msg(2, "");
        tomb.deleted = Some(crate::events::Deletion::ForMe);
        i.note(&tomb);
        assert!(i.find(&[room], "4711").is_empty());
    }
}
