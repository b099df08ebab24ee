//! The engine's errors: one enum, with the refusals of review operations typed so that every
//! front end branches on a code, never on a sentence.

use sidekick_protocol::{ApiError, ErrorCode};

use sidekick_config::{tasks, ConfigError};

use crate::repo::RepoError;
use crate::{jobs, Refusal};
use sidekick_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Task(#[from] tasks::TaskError),
    #[error("unknown agent '{name}'; the agents are: {known}")]
    UnknownAgent { name: String, known: String },
    #[error("no job matches '{0}'")]
    UnknownJob(String),
    #[error("'{reference}' matches several jobs ({candidates}); give more of the id")]
    AmbiguousJob {
        reference: String,
        candidates: String,
    },
    #[error("{0}")]
    InvalidState(String),
    #[error(transparent)]
    Transition(#[from] jobs::IllegalTransition),
    /// A review operation refused, nothing changed; the kind tells a client the way out.
    #[error("{1}")]
    Refused(Refusal, String),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Forge(#[from] sidekick_forge::ForgeError),
    #[error("the host is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The edge shape: a stable code and the sentence.
    pub fn to_api(&self) -> ApiError {
        let code = match self {
            EngineError::Repo(r) => match r {
                RepoError::Missing(_) => ErrorCode::PathNotFound,
                RepoError::NotAFolder(_) | RepoError::NotARepo(_) => ErrorCode::NotARepo,
                RepoError::Bare(_) => ErrorCode::BareRepo,
                RepoError::Empty(_) => ErrorCode::EmptyRepo,
                RepoError::BadBase { .. } => ErrorCode::BadBase,
                RepoError::Git { .. } | RepoError::Spawn(_) => ErrorCode::Git,
                RepoError::Io(_) => ErrorCode::Io,
            },
            EngineError::Config(ConfigError::Untrusted(_)) => ErrorCode::Untrusted,
            EngineError::Config(ConfigError::Write(_)) => ErrorCode::Io,
            EngineError::Config(_) => ErrorCode::Config,
            EngineError::Task(tasks::TaskError::Unknown { .. }) => ErrorCode::UnknownTaskType,
            EngineError::Task(_) => ErrorCode::BadRequest,
            EngineError::Store(_) => ErrorCode::Internal,
            EngineError::UnknownAgent { .. } => ErrorCode::UnknownAgent,
            EngineError::UnknownJob(_) => ErrorCode::UnknownJob,
            EngineError::AmbiguousJob { .. } => ErrorCode::AmbiguousJob,
            EngineError::InvalidState(_) | EngineError::Transition(_) => ErrorCode::InvalidState,
            EngineError::Refused(r, _) => *r,
            EngineError::BadRequest(_) => ErrorCode::BadRequest,
            EngineError::Forge(f) => {
                use sidekick_forge::ForgeError as F;
                match f {
                    F::NoToken { .. } | F::Unauthorized { .. } => ErrorCode::ForgeAuth,
                    F::RateLimited { .. } => ErrorCode::RateLimited,
                    F::Unreachable { .. } => ErrorCode::ForgeUnreachable,
                    F::NotFound { .. } | F::Refused { .. } | F::Unreadable { .. } => {
                        ErrorCode::ForgeRefused
                    }
                }
            }
            EngineError::ShuttingDown => ErrorCode::ShuttingDown,
            EngineError::Io(_) => ErrorCode::Io,
            EngineError::Internal(_) => ErrorCode::Internal,
        };
        let mut api = ApiError::new(code, self.to_string());
        if let EngineError::Config(ConfigError::Settings { fields, .. }) = self {
            api.fields = fields.clone();
        }
        api
    }
}

impl From<sidekick_git::ReviewError> for EngineError {
    fn from(e: sidekick_git::ReviewError) -> Self {
        use sidekick_git::ReviewError as R;
        match e {
            R::Refused(why, message) => EngineError::Refused(why, message),
            R::BadRequest(message) => EngineError::BadRequest(message),
            R::Repo(e) => EngineError::Repo(e),
            R::Io(e) => EngineError::Io(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configs_refusals_keep_their_codes_and_fields_at_the_edge() {
        let untrusted = EngineError::from(ConfigError::Untrusted("not trusted".into())).to_api();
        assert_eq!(untrusted.code, ErrorCode::Untrusted);
        assert_eq!(untrusted.message, "not trusted");
        let settings = EngineError::from(ConfigError::Settings {
            path: "/c.toml".into(),
            fields: vec![sidekick_protocol::FieldProblem {
                key: "max_running".into(),
                message: "'lots' is not a whole number".into(),
            }],
        })
        .to_api();
        assert_eq!(settings.code, ErrorCode::Config);
        assert_eq!(settings.fields.len(), 1);
        assert_eq!(settings.fields[0].key, "max_running");
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(
            EngineError::from(ConfigError::Write(full)).to_api().code,
            ErrorCode::Io
        );
    }
}
