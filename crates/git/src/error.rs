//! How git work fails: the repository or git itself ([`RepoError`]); a review operation's typed
//! refusal (nothing changed, and the kind tells a client the way out: a job in the wrong
//! phase, a conflict, a lock), or a request that cannot be met.

use std::path::PathBuf;

use sidekick_protocol::ErrorCode;

/// Why a review operation refused (each has its own [`ErrorCode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Conflict,
    DirtyOverlap,
    TargetMoved,
    LockHeld,
    OperationInProgress,
    NothingToUndo,
    RepoGone,
    HookFailed,
    NoRoom,
    JobActive,
    AlreadyMerged,
    JobDiscarded,
    BranchGone,
    UnresolvedConflicts,
    NoWorktree,
    NoRebase,
    NothingToRestore,
    RepoStillThere,
    MergeCommits,
    JournalUnwritable,
    RollbackIncomplete,
    /// A git command the operation ran failed (its own words are in the sentence).
    GitFailed,
    /// A folder could not be moved or removed (the file system's words are in the sentence).
    FileSystem,
}

impl Refusal {
    pub fn code(self) -> ErrorCode {
        match self {
            Refusal::Conflict => ErrorCode::Conflict,
            Refusal::DirtyOverlap => ErrorCode::DirtyOverlap,
            Refusal::TargetMoved => ErrorCode::TargetMoved,
            Refusal::LockHeld => ErrorCode::LockHeld,
            Refusal::OperationInProgress => ErrorCode::OperationInProgress,
            Refusal::NothingToUndo => ErrorCode::NothingToUndo,
            Refusal::RepoGone => ErrorCode::RepoGone,
            Refusal::HookFailed => ErrorCode::HookFailed,
            Refusal::NoRoom => ErrorCode::NoRoom,
            Refusal::JobActive => ErrorCode::JobActive,
            Refusal::AlreadyMerged => ErrorCode::AlreadyMerged,
            Refusal::JobDiscarded => ErrorCode::JobDiscarded,
            Refusal::BranchGone => ErrorCode::BranchGone,
            Refusal::UnresolvedConflicts => ErrorCode::UnresolvedConflicts,
            Refusal::NoWorktree => ErrorCode::NoWorktree,
            Refusal::NoRebase => ErrorCode::NoRebase,
            Refusal::NothingToRestore => ErrorCode::NothingToRestore,
            Refusal::RepoStillThere => ErrorCode::RepoStillThere,
            Refusal::MergeCommits => ErrorCode::MergeCommits,
            Refusal::JournalUnwritable => ErrorCode::JournalUnwritable,
            Refusal::RollbackIncomplete => ErrorCode::RollbackIncomplete,
            Refusal::GitFailed => ErrorCode::Git,
            Refusal::FileSystem => ErrorCode::Io,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Refused before anything changed (or after everything was put back).
    #[error("{1}")]
    Refused(Refusal, String),
    /// The request itself cannot be met (an unknown branch, a path the job did not change).
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<git2::Error> for ReviewError {
    fn from(e: git2::Error) -> Self {
        ReviewError::Repo(e.into())
    }
}

pub type Result<T> = std::result::Result<T, ReviewError>;

/// What is wrong with a repository, or what git itself said.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    #[error("{0} is not inside a git repository")]
    NotARepo(PathBuf),
    #[error("{0} is a bare repository; Sidekick needs a repository with a working tree")]
    Bare(PathBuf),
    #[error("{0} has no commits yet; commit something first so a job has a base")]
    Empty(PathBuf),
    #[error("'{rev}' is not a commit in {repo}")]
    BadBase { rev: String, repo: PathBuf },
    #[error("git {what} failed: {detail}")]
    Git { what: String, detail: String },
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<git2::Error> for RepoError {
    fn from(e: git2::Error) -> Self {
        RepoError::Git {
            what: "query".into(),
            detail: e.message().to_string(),
        }
    }
}
