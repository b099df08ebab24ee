//! Errors at the edge: a stable code and one sentence.

use serde::{Deserialize, Serialize};

/// The one error shape at every edge: a machine-readable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For a change of several settings: each field's own problem, to show beside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

/// What is wrong with one field of a request (a settings key), in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FieldProblem {
    pub key: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    PathNotFound,
    NotARepo,
    BareRepo,
    EmptyRepo,
    BadBase,
    UnknownAgent,
    UnknownTaskType,
    UnknownJob,
    AmbiguousJob,
    /// The job is in a state that does not allow this (still running, already merged...).
    InvalidState,
    /// The job is still queued or running: wait for it to end, or cancel it.
    JobActive,
    /// The job is merged already (undo reverts the merge).
    AlreadyMerged,
    /// The job was discarded (restore brings it back).
    JobDiscarded,
    /// The job's branch, or the branch it was merged into, no longer exists.
    BranchGone,
    /// A rebase of the job stopped at conflicts that are not resolved and committed yet.
    UnresolvedConflicts,
    /// The job's worktree is gone (restore brings it back).
    NoWorktree,
    /// No rebase of the job is under way to abort.
    NoRebase,
    /// Nothing of the job is missing, or nothing is kept to bring it back from.
    NothingToRestore,
    /// Forgetting a job whose repository is gone was asked while the repository is there.
    RepoStillThere,
    /// The rebase strategy cannot replay a branch with merge commits.
    MergeCommits,
    /// The merge journal could not be written, so nothing was changed.
    JournalUnwritable,
    /// A failed merge could not be rolled back completely; the journal keeps what is left.
    RollbackIncomplete,
    /// Merge refusals, each its own code so a client can offer the way out:
    /// the job's changes conflict with the target (rebase the job).
    Conflict,
    /// The user's uncommitted changes in the target's checkout are on files the merge changes
    /// (commit or stash them, or autostash).
    DirtyOverlap,
    /// The target branch moved in a way that forbids this (undo after new commits, a ref that
    /// moved during the merge).
    TargetMoved,
    /// A git lock (`index.lock`, a ref lock) is held in the repository or a checkout.
    LockHeld,
    /// A rebase, merge, cherry-pick, revert, am or bisect is in progress in the target's
    /// checkout, or an interrupted merge could not be repaired yet.
    OperationInProgress,
    /// Undo of a job that has no merge to undo.
    NothingToUndo,
    /// The job's repository was moved or deleted.
    RepoGone,
    /// The repository's configuration runs commands the user has not trusted (`sidekick trust`).
    Untrusted,
    /// A process inside a job's sandbox asked for something only the user may do (merge, trust,
    /// answer, discard, ...).
    Confined,
    /// The repository's commit hook refused the merge commit (`[merge] hooks`).
    HookFailed,
    /// The disk holding a checkout has too little room for what the merge writes there.
    NoRoom,
    /// The host holds as many connections or event streams of this kind as it takes; try again
    /// once some have closed.
    Busy,
    /// The repository has no remote `origin`, or it is on no forge Sidekick knows.
    NoForge,
    /// The forge refused the token (or there is none): log in (`gh auth login`) or set one.
    ForgeAuth,
    /// The forge refused the request (its own reason in the sentence).
    ForgeRefused,
    /// The forge cannot be reached right now.
    ForgeUnreachable,
    /// The forge's rate limit is spent until the time in the sentence.
    RateLimited,
    /// The remote rejected the push of the job's branch (git's reason in the sentence).
    PushRejected,
    Config,
    Git,
    Io,
    ShuttingDown,
    Internal,
}

impl ErrorCode {
    /// The HTTP status the host answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::UnknownJob => 404,
            ErrorCode::InvalidState
            | ErrorCode::JobActive
            | ErrorCode::AlreadyMerged
            | ErrorCode::JobDiscarded
            | ErrorCode::BranchGone
            | ErrorCode::UnresolvedConflicts
            | ErrorCode::NoWorktree
            | ErrorCode::NoRebase
            | ErrorCode::NothingToRestore
            | ErrorCode::RepoStillThere
            | ErrorCode::MergeCommits
            | ErrorCode::Conflict
            | ErrorCode::DirtyOverlap
            | ErrorCode::TargetMoved
            | ErrorCode::LockHeld
            | ErrorCode::OperationInProgress
            | ErrorCode::NothingToUndo
            | ErrorCode::RepoGone
            | ErrorCode::HookFailed => 409,
            ErrorCode::NoRoom => 507,
            ErrorCode::PushRejected => 409,
            ErrorCode::RateLimited => 429,
            ErrorCode::ForgeAuth | ErrorCode::ForgeRefused => 502,
            ErrorCode::ForgeUnreachable => 504,
            ErrorCode::Untrusted | ErrorCode::Confined => 403,
            ErrorCode::ShuttingDown | ErrorCode::Busy => 503,
            ErrorCode::Config
            | ErrorCode::Git
            | ErrorCode::Io
            | ErrorCode::Internal
            | ErrorCode::JournalUnwritable
            | ErrorCode::RollbackIncomplete => 500,
            _ => 400,
        }
    }
}
