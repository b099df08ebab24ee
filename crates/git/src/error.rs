//! How a review operation fails: a typed refusal (nothing changed, and the kind tells a client
//! the way out), a job in the wrong phase or a request that cannot be met, or git itself.

use sidekick_protocol::ErrorCode;

use crate::repo::RepoError;

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
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Refused before anything changed (or after everything was put back).
    #[error("{1}")]
    Refused(Refusal, String),
    /// The job is in a phase that does not allow this, or what happened leaves it so.
    #[error("{0}")]
    Invalid(String),
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

impl From<crate::hunks::HunkError> for ReviewError {
    fn from(e: crate::hunks::HunkError) -> Self {
        match e {
            crate::hunks::HunkError::Repo(r) => ReviewError::Repo(r),
            other => ReviewError::BadRequest(other.to_string()),
        }
    }
}
