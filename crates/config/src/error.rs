//! What can be wrong with a configuration file, in one sentence naming the file.

use std::path::{Path, PathBuf};

use sidekick_protocol::FieldProblem;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    /// Settings changes that are not valid, each with its own sentence; the file is unchanged.
    #[error("{} was not changed: {}", .path.display(), .fields.iter().map(|p| format!("{}: {}", p.key, p.message)).collect::<Vec<_>>().join("; "))]
    Settings {
        path: PathBuf,
        fields: Vec<FieldProblem>,
    },
    /// The repository's configuration runs commands the user has not trusted.
    #[error("{0}")]
    Untrusted(String),
    /// A configuration file could not be written (a full disk, a read-only folder).
    #[error("{0}")]
    Write(#[from] std::io::Error),
}

/// The text of `path`, or `None` when there is no such file.
pub fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A TOML error's sentence on one line.
pub(crate) fn one_line(e: &toml::de::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
