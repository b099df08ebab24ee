//! What a review operation works on: the repository, branch, worktree and commits a job is made
//! of, and where it is in its review. The engine maps its jobs onto a [`Subject`] and back; the
//! operations never see the job model, the store or the job's state machine.

/// Where the subject is in its review (the engine's job states, as review sees them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The agent has not ended (the engine's state, by name, for sentences).
    Active(String),
    /// Ended and waiting for review.
    Ended,
    /// Merged in full.
    Merged,
    Discarded,
}

pub use sidekick_protocol::MergeRecord;

/// A job as review sees it. Operations read it and update what they change (head, stats,
/// conflicts, snapshot, worktree, merge record, phase); the engine records the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Names the snapshot ref, the journal entry and the trash folder.
    pub id: String,
    /// The job's name in sentences.
    pub codename: String,
    /// The task: the squash commit's message.
    pub task: String,
    /// Top level of the user's repository.
    pub repo: String,
    pub branch: String,
    pub worktree: String,
    /// The worktree exists on disk.
    pub has_worktree: bool,
    /// The worktree is known to hold nothing uncommitted (checked after the job ended and
    /// watched since): a merge has no edits to save first.
    pub settled: bool,
    pub base_commit: String,
    /// The branch the job merges back into by default.
    pub base_branch: Option<String>,
    pub head_commit: Option<String>,
    pub files_changed: Option<u64>,
    pub insertions: Option<u64>,
    pub deletions: Option<u64>,
    /// Files `rebase` left with conflict markers.
    pub conflicts: Vec<String>,
    pub snapshot: Option<String>,
    pub merged_into: Option<String>,
    pub merge_commit: Option<String>,
    /// The files copied into the worktree (never committed; left out of merges).
    pub copy_files: Vec<String>,
    /// How the last merge went, for `undo`.
    pub merge: Option<MergeRecord>,
    pub phase: Phase,
}
