//! Per-user byte counts and the quota they add up to: `USAGE` (files,
//! counted from the moment they are announced), `MSG_USAGE` (stored
//! messages) and `ROOM_USAGE` (rosters and key grants). Each is changed in
//! the same commit as what it counts, so `onionchat-node check` can hold
//! them to the stored data.

use std::collections::HashMap;

use onionchat_proto::wire::{ErrorCode, KeyGrantBody, Signed, StoredMessage};
use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::dec;
use super::schema::{MSG_USAGE, ROOM_USAGE, USAGE};
use crate::error::{Failure, reject};

/// A per-user byte count (0 if the user has none yet).
pub(crate) fn bytes_of(
    txn: &WriteTransaction,
    table: TableDefinition<'static, u64, u64>,
    user: u64,
) -> Result<u64, Failure> {
    Ok(txn
        .open_table(table)?
        .get(user)?
        .map(|g| g.value())
        .unwrap_or(0))
}

/// Set a user's count to `change(count)`.
fn adjust(
    txn: &WriteTransaction,
    table: TableDefinition<'static, u64, u64>,
    user: u64,
    change: impl FnOnce(u64) -> u64,
) -> Result<(), Failure> {
    let now = bytes_of(txn, table, user)?;
    txn.open_table(table)?.insert(user, change(now))?;
    Ok(())
}

/// Take `bytes` from a user's count (never below 0).
pub(crate) fn take(
    txn: &WriteTransaction,
    table: TableDefinition<'static, u64, u64>,
    user: u64,
    bytes: u64,
) -> Result<(), Failure> {
    adjust(txn, table, user, |n| n.saturating_sub(bytes))
}

/// What counts against `user`'s quota: their files, their messages, and
/// the rosters and key grants they uploaded.
pub(crate) fn used(txn: &WriteTransaction, user: u64) -> Result<u64, Failure> {
    Ok(bytes_of(txn, USAGE, user)?
        .saturating_add(bytes_of(txn, MSG_USAGE, user)?)
        .saturating_add(bytes_of(txn, ROOM_USAGE, user)?))
}

/// Add `bytes` to `user`'s count in `table` if their quota has room for
/// them; `413 quota_exceeded` (nothing written) if not. Every write that
/// counts (a file announced, a message, a roster or key grant) goes
/// through here.
pub(crate) fn charge(
    txn: &WriteTransaction,
    table: TableDefinition<'static, u64, u64>,
    user: u64,
    bytes: u64,
    quota: u64,
) -> Result<(), Failure> {
    if used(txn, user)?.saturating_add(bytes) > quota {
        return reject(
            ErrorCode::QuotaExceeded,
            format!("your storage quota of {quota} bytes is used up"),
        );
    }
    adjust(txn, table, user, |n| n.saturating_add(bytes))
}

/// Who sent a stored message (its bytes count against their quota).
pub(crate) fn message_sender(stored: &[u8]) -> Result<u64, Failure> {
    Ok(dec::<StoredMessage>(stored)?.sender.0)
}

/// Stored bytes per sender in the `MESSAGES` table (what `MSG_USAGE`
/// must say), for an upgrade; any record that does not decode stops it.
pub(crate) fn message_sizes(
    messages: &impl ReadableTable<([u8; 16], u64), &'static [u8]>,
) -> Result<HashMap<u64, u64>, Failure> {
    let mut sizes: HashMap<u64, u64> = HashMap::new();
    for entry in messages.iter()? {
        let (_, v) = entry?;
        *sizes.entry(message_sender(v.value())?).or_default() += v.value().len() as u64;
    }
    Ok(sizes)
}

/// Stored bytes per uploader of rosters (their signer: the node takes only
/// rosters whose actor is the caller) and key grants (their signing key's
/// account: the node takes only grants signed with the caller's key) —
/// what `ROOM_USAGE` must say. Records that do not decode, or grants
/// signed by no account's key, are passed to `bad`.
pub(crate) fn room_sizes(
    rosters: &impl ReadableTable<([u8; 16], u64), &'static [u8]>,
    grants: &impl ReadableTable<([u8; 16], u32, u64), &'static [u8]>,
    fingerprints: &impl ReadableTable<[u8; 32], u64>,
    mut bad: impl FnMut(String),
) -> Result<HashMap<u64, u64>, Failure> {
    let mut sizes: HashMap<u64, u64> = HashMap::new();
    for entry in rosters.iter()? {
        let (k, v) = entry?;
        let (room, version) = k.value();
        let author = dec::<Signed>(v.value()).and_then(|s| {
            onionchat_proto::crypto::roster::decode_roster(&s)
                .map_err(|e| Failure::Internal(e.to_string()))
        });
        match author {
            Ok(body) => *sizes.entry(body.actor.0).or_default() += v.value().len() as u64,
            Err(e) => bad(format!(
                "room {}: roster {version} does not decode: {e}",
                hex::encode(room)
            )),
        }
    }
    for entry in grants.iter()? {
        let (k, v) = entry?;
        let (room, epoch, recipient) = k.value();
        let what = || {
            format!(
                "room {}: the epoch {epoch} key grant for user {recipient}",
                hex::encode(room)
            )
        };
        let signer = dec::<Signed>(v.value()).and_then(|s| dec::<KeyGrantBody>(&s.body));
        match signer {
            Ok(body) => match fingerprints.get(body.granter_fp.0)? {
                Some(user) => *sizes.entry(user.value()).or_default() += v.value().len() as u64,
                None => bad(format!("{} was signed by no account's key", what())),
            },
            Err(e) => bad(format!("{} does not decode: {e}", what())),
        }
    }
    Ok(sizes)
}
