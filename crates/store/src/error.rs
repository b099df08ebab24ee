//! What the database can refuse or find wrong.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database holds a bad value: {0}")]
    Corrupt(String),
    #[error(
        "the database was written by a newer Sidekick (schema {found}, this one knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error(
        "{path} is empty, but {evidence}: the job history was lost (a truncated file?). Sidekick will not start a new history over it; restore the file from a backup, or move it away to start afresh"
    )]
    Emptied {
        path: std::path::PathBuf,
        evidence: String,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    /// Whether SQLite refused because the database's disk is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::DiskFull)
    }
}
