//! Sidekick's database: jobs and an append-only event log with a global, strictly increasing
//! `seq`, review comments and viewed marks, and the table of legal state moves. SQLite in WAL
//! mode. No engine, no git.
//!
//! - [`database`]: the file opened, migrated, refused when a newer Sidekick wrote it.
//! - [`record`]: a job's record, its process's identity, an event before its `seq`.
//! - `jobs`, `events`, `comments`: reads and writes of each table, as methods of [`Store`].
//! - [`ledger`]: every legal change of a job's state, and the only code that makes one.

mod comments;
pub mod database;
mod error;
mod events;
mod jobs;
pub mod ledger;
pub mod record;

pub use database::Store;
pub use error::{Result, StoreError};
pub use ledger::IllegalTransition;
pub use record::{JobRecord, NewEvent, ProcessIdentity};
pub use sidekick_protocol::MergeRecord;

use database::{from_json, level_str, to_json};

#[cfg(test)]
mod tests;
