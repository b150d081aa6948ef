//! Consistency check of a live store (`onionchat-node check`): the facts a
//! crash must never break, read in one snapshot.
//!
//! What is checked, and why each can only fail through a bug or a broken
//! disk (never through normal use):
//! - every room's messages run without gaps up to its sequence counter
//!   (a commit writes the message and the counter together);
//! - every stored message and file record decodes;
//! - every finished file has a blob of exactly its announced length, and
//!   no blob is left without a record (blobs are renamed into place before
//!   the record says complete, and start-up removes the rest);
//! - each member's quota usage equals the sizes of their files (finished
//!   or reserved by an announcement), their message usage the stored size
//!   of their messages, and their room usage the stored size of the
//!   rosters and key grants they uploaded.
//!
//! An upload that is mid-way when the check runs shows up as "in flight",
//! not as a problem.

use std::collections::{HashMap, HashSet};

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::schema::*;
use super::{Store, dec};
use crate::error::Failure;

/// What [`Store::check`] found.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckReport {
    /// Rooms with a sequence counter.
    pub rooms: u64,
    /// Messages stored.
    pub messages: u64,
    /// Finished files.
    pub files: u64,
    /// Announced files whose bytes have not all arrived.
    pub uploads_in_flight: u64,
    /// Bytes of finished files on disk.
    pub file_bytes: u64,
    /// Everything that is wrong, one sentence each; empty when healthy.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// True when nothing is wrong.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Check the database and the blobs against each other (read-only; the
    /// node keeps serving meanwhile).
    pub fn check(&self) -> Result<CheckReport, Failure> {
        let mut report = CheckReport::default();
        let r = self.read()?;
        self.check_messages(&r, &mut report)?;
        self.check_files(&r, &mut report)?;
        let mut problems = Vec::new();
        let room_sizes = super::quota::room_sizes(
            &r.open_table(ROSTERS)?,
            &r.open_table(GRANTS)?,
            &r.open_table(FINGERPRINTS)?,
            |p| problems.push(p),
        )?;
        report.problems.extend(problems);
        usage_matches(
            &r,
            ROOM_USAGE,
            &room_sizes,
            "room quota usage",
            "their rosters and key grants",
            &mut report,
        )?;
        Ok(report)
    }

    fn check_messages(
        &self,
        r: &redb::ReadTransaction,
        report: &mut CheckReport,
    ) -> Result<(), Failure> {
        let mut counters = HashMap::new();
        for entry in r.open_table(ROOM_SEQ)?.iter()? {
            let (room, last) = entry?;
            counters.insert(room.value(), last.value());
        }
        report.rooms = counters.len() as u64;
        // One pass in key order, (room, seq): the room being read and the
        // last seq seen in it. Retention removes a room's oldest messages,
        // so each room's stored ones are a contiguous run ending at its
        // counter.
        let mut run: Option<([u8; 16], u64)> = None;
        let mut msg_sizes: HashMap<u64, u64> = HashMap::new();
        for m in r.open_table(MESSAGES)?.iter()? {
            let (k, v) = m?;
            let (room, seq) = k.value();
            report.messages += 1;
            match run {
                Some((current, prev)) if current == room => {
                    if seq != prev + 1 {
                        report.problems.push(format!(
                            "room {}: message {seq} follows {prev} (gap or repeat)",
                            hex::encode(room)
                        ));
                    }
                }
                _ => {
                    if let Some((done, last)) = run {
                        run_ends(&counters, done, last, report);
                    }
                    if !counters.contains_key(&room) {
                        // Unreachable: nothing says where the room stands.
                        report.problems.push(format!(
                            "room {}: messages stored without a counter",
                            hex::encode(room)
                        ));
                    }
                }
            }
            match super::quota::message_sender(v.value()) {
                Ok(sender) => *msg_sizes.entry(sender).or_default() += v.value().len() as u64,
                Err(e) => report.problems.push(format!(
                    "room {}: message {seq} does not decode: {e}",
                    hex::encode(room)
                )),
            }
            run = Some((room, seq));
        }
        if let Some((done, last)) = run {
            run_ends(&counters, done, last, report);
        }
        usage_matches(
            r,
            MSG_USAGE,
            &msg_sizes,
            "message quota usage",
            "their messages",
            report,
        )
    }

    fn check_files(
        &self,
        r: &redb::ReadTransaction,
        report: &mut CheckReport,
    ) -> Result<(), Failure> {
        let mut recorded = HashSet::new();
        let mut sizes: HashMap<u64, u64> = HashMap::new();
        for entry in r.open_table(FILES)?.iter()? {
            let (id, v) = entry?;
            let id = id.value();
            recorded.insert(hex::encode(id));
            let rec: FileRecord = match dec(v.value()) {
                Ok(rec) => rec,
                Err(e) => {
                    report.problems.push(format!(
                        "file {}: record does not decode: {e}",
                        hex::encode(id)
                    ));
                    continue;
                }
            };
            *sizes.entry(rec.uploader).or_default() += rec.ciphertext_len;
            if !rec.complete {
                report.uploads_in_flight += 1;
                continue;
            }
            report.files += 1;
            let path = self.blob_dir().join(hex::encode(id));
            match std::fs::metadata(&path) {
                Ok(m) if m.len() == rec.ciphertext_len => report.file_bytes += m.len(),
                Ok(m) => report.problems.push(format!(
                    "file {}: blob has {} bytes, the record says {}",
                    hex::encode(id),
                    m.len(),
                    rec.ciphertext_len
                )),
                Err(e) => report.problems.push(format!(
                    "file {}: finished but its blob is unreadable: {e}",
                    hex::encode(id)
                )),
            }
        }
        for entry in std::fs::read_dir(self.blob_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.file_type()?.is_file() && !recorded.contains(&name) {
                report
                    .problems
                    .push(format!("blob {name} has no file record (orphan)"));
            }
        }
        usage_matches(r, USAGE, &sizes, "quota usage", "their files", report)
    }
}

/// Each user's count in `table` must equal the bytes `actual` found for
/// them (a user missing on either side counts 0).
fn usage_matches(
    r: &redb::ReadTransaction,
    table: redb::TableDefinition<'static, u64, u64>,
    actual: &HashMap<u64, u64>,
    counted: &str,
    found: &str,
    report: &mut CheckReport,
) -> Result<(), Failure> {
    let mut usage = HashMap::new();
    for entry in r.open_table(table)?.iter()? {
        let (user, bytes) = entry?;
        usage.insert(user.value(), bytes.value());
    }
    let users: HashSet<u64> = usage.keys().chain(actual.keys()).copied().collect();
    for user in users {
        let used = usage.get(&user).copied().unwrap_or(0);
        let stored = actual.get(&user).copied().unwrap_or(0);
        if used != stored {
            report.problems.push(format!(
                "user {user}: {counted} {used} bytes, {found} {stored} bytes"
            ));
        }
    }
    Ok(())
}

/// A room's stored messages end at `last`: that must be its counter.
fn run_ends(
    counters: &HashMap<[u8; 16], u64>,
    room: [u8; 16],
    last: u64,
    report: &mut CheckReport,
) {
    if let Some(&counter) = counters.get(&room)
        && counter != last
    {
        report.problems.push(format!(
            "room {}: the last stored message is {last} but the counter says {counter}",
            hex::encode(room)
        ));
    }
}
