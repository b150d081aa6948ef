//! Per-user byte counts and the quota they add up to: `USAGE` (files,
//! counted from the moment they are announced) and `MSG_USAGE` (stored
//! messages). Each is changed in the same commit as what it counts, so
//! `onionchat-node check` can hold them to the stored data.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::schema::{MSG_USAGE, USAGE};
use crate::error::Failure;

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

/// Add `bytes` to a user's count.
pub(crate) fn add(
    txn: &WriteTransaction,
    table: TableDefinition<'static, u64, u64>,
    user: u64,
    bytes: u64,
) -> Result<(), Failure> {
    let now = bytes_of(txn, table, user)?;
    txn.open_table(table)?
        .insert(user, now.saturating_add(bytes))?;
    Ok(())
}

/// Take `bytes` from a user's count (never below 0).
pub(crate) fn take(
    txn: &WriteTransaction,
    table: TableDefinition<'static, u64, u64>,
    user: u64,
    bytes: u64,
) -> Result<(), Failure> {
    let now = bytes_of(txn, table, user)?;
    txn.open_table(table)?
        .insert(user, now.saturating_sub(bytes))?;
    Ok(())
}

/// What counts against `user`'s quota: their files and their messages.
pub(crate) fn used(txn: &WriteTransaction, user: u64) -> Result<u64, Failure> {
    Ok(bytes_of(txn, USAGE, user)?.saturating_add(bytes_of(txn, MSG_USAGE, user)?))
}
