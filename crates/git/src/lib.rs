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
pub mod warm;
pub mod watch;

pub use diff::DiffLimits;
pub use error::{Refusal, ReviewError};
pub use ops::Ctx;
pub use repos::Repos;
pub use subject::{MergeRecord, Phase, Subject};

/// libgit2's process-wide settings, set once: like git, objects are not hashed again on every
/// read (libgit2 does by default: a tenth of a large diff's time; `git fsck` is where
/// corruption is looked for), and a tree entry is not looked up in the object store when it is
/// added to a tree (every id Sidekick puts in a tree comes from a tree or was just written: a
/// fifth of a merge preview's time went into reading each object's header again).
pub fn tune_libgit2() {
    static TUNED: std::sync::Once = std::sync::Once::new();
    TUNED.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::strict_object_creation(false);
    });
}
