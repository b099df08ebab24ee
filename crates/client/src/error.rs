//! How a call to the host fails: the host is not there, it refused (its code and sentence),
//! or what came back is not what was asked.

use std::path::PathBuf;

use sidekick_protocol::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host refused the request; the message is for the user.
    #[error("{0}")]
    Api(ApiError),
    #[error("no Sidekick host is running for {0}")]
    NoHost(PathBuf),
    #[error("could not start a Sidekick host: {0}")]
    StartFailed(String),
    #[error("lost the connection to the Sidekick host: {0}")]
    Connection(String),
    #[error("the Sidekick host sent something unexpected: {0}")]
    Protocol(String),
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

impl ClientError {
    /// The edge shape, for callers that pass errors on (the desktop app).
    pub fn to_api(&self) -> ApiError {
        match self {
            ClientError::Api(e) => e.clone(),
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;
