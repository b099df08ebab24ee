//! Sidekick's git work, with no knowledge of jobs, the store or the host: the user's repository
//! (validation, the base), a job's worktree (creation, the copied files, commits), diffs,
//! in-memory three-way merges, checked-out working trees, and the review operations (merge and
//! its preview, undo, rebase, discard, restore) on a [`Subject`]: the repository, branch,
//! worktree and commits a job is made of. The engine maps its jobs onto subjects and records
//! what an operation did.

pub mod attributes;
pub mod checkout;
pub mod confine;
pub mod copy;
pub mod diff;
pub mod entries;
mod error;
pub mod files;
mod hooks;
pub mod hunks;
pub mod journal;
pub mod ops;
pub mod populate;
pub mod repo;
mod repos;
mod subject;
pub mod treemerge;
mod tune;
pub mod warm;
pub mod watch;

pub use diff::DiffLimits;
pub use error::{Refusal, ReviewError};
pub use ops::Ctx;
pub use repos::Repos;
pub use subject::{MergeRecord, Phase, Subject};
pub use tune::tune_libgit2;
