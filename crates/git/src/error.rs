//! How git work fails: the repository or git itself ([`RepoError`]); a review operation's typed
//! refusal (nothing changed, and the kind tells a client the way out: a job in the wrong
//! phase, a conflict, a lock), or a request that cannot be met.

use std::path::PathBuf;

/// Why a review operation refused: its protocol code itself (`conflict`, `job_active`, …, and
/// `git` or `io` for a git command or a folder that failed), so the host, the CLI and the app
/// branch on one list, never on sentences.
pub use sidekick_protocol::ErrorCode as Refusal;

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
