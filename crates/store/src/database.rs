//! The database file: opened in WAL mode, migrated one version at a time (`PRAGMA
//! user_version`), refused when a newer Sidekick wrote it.

use std::path::Path;

use rusqlite::Connection;
use sidekick_protocol::Level;

use crate::error::{Result, StoreError};

/// Each entry moves the schema one version up. Never edit an entry that has shipped; add one.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: jobs and events.
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        codename TEXT NOT NULL,
        state TEXT NOT NULL,
        agent TEXT NOT NULL,
        task TEXT NOT NULL,
        repo TEXT NOT NULL,
        branch TEXT NOT NULL,
        worktree TEXT NOT NULL,
        base_rev TEXT NOT NULL,
        base_commit TEXT NOT NULL,
        base_branch TEXT,
        head_commit TEXT,
        exit_code INTEGER,
        reason TEXT,
        parent_id TEXT REFERENCES jobs(id),
        timeout_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        files_changed INTEGER,
        insertions INTEGER,
        deletions INTEGER,
        log_path TEXT NOT NULL,
        argv TEXT NOT NULL,
        env TEXT NOT NULL,
        setup TEXT,
        copy_files TEXT NOT NULL,
        pid INTEGER,
        proc_start INTEGER,
        boot_id TEXT,
        has_worktree INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE INDEX jobs_codename ON jobs(codename);
    CREATE INDEX jobs_parent ON jobs(parent_id);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        time INTEGER NOT NULL,
        kind TEXT NOT NULL,
        stream TEXT,
        line TEXT,
        partial INTEGER NOT NULL DEFAULT 0,
        data TEXT
    );
    CREATE INDEX events_job ON events(job_id, seq);",
    // 2: review (merge, snapshots, rebase conflicts).
    "ALTER TABLE jobs ADD COLUMN merged_into TEXT;
    ALTER TABLE jobs ADD COLUMN merge_commit TEXT;
    ALTER TABLE jobs ADD COLUMN merge_record TEXT;
    ALTER TABLE jobs ADD COLUMN snapshot TEXT;
    ALTER TABLE jobs ADD COLUMN conflicts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN prev_state TEXT;",
    // 3: the job's own notification choice (NULL: the configured policy).
    "ALTER TABLE jobs ADD COLUMN notify INTEGER;",
    // 4: what the agent reported (steps, tokens, cost, summary, session) and its limits, as
    // JSON (`AgentState`).
    "ALTER TABLE jobs ADD COLUMN agent_state TEXT;",
    // 5: profile env values (API keys) are no longer stored on job rows; rows written before
    // keep only Sidekick's own variables. (`secure_delete` overwrites the old values.)
    "UPDATE jobs SET env = (
        SELECT json_group_array(json(value)) FROM json_each(jobs.env)
        WHERE json_extract(value, '$[0]') LIKE 'SIDEKICK\\_%' ESCAPE '\\'
    );",
    // 6: output is stored in chunks: one row holds `count` consecutive lines of one stream
    // (joined by newlines; `data` lists the indexes of partial lines) and the seqs from `seq` to
    // `seq + count - 1`. A row per line cost ~14x the log's size.
    "ALTER TABLE events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;",
    // 7: what the agent asked and nobody answered yet (JSON list of `Request`).
    "ALTER TABLE jobs ADD COLUMN requests TEXT NOT NULL DEFAULT '[]';",
    // 8: who started the job when it was not a person (an MCP client).
    "ALTER TABLE jobs ADD COLUMN spawned_by TEXT;",
    // 9: review comments on a job's diff, and the files the user marked viewed (`key` names the
    // file's diff as it was then, so a changed file is no longer viewed).
    "CREATE TABLE comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs(id),
        path TEXT NOT NULL,
        side TEXT NOT NULL,
        line INTEGER NOT NULL,
        end_line INTEGER NOT NULL,
        quote TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        sent_at INTEGER
    );
    CREATE INDEX comments_job ON comments(job_id);
    CREATE TABLE viewed (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        path TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (job_id, path)
    );",
    // 10: jobs the user put away (kept, out of the lists and counts).
    "ALTER TABLE jobs ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;",
];

pub struct Store {
    pub(crate) conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Store::setup(conn)
    }

    /// A database in memory (tests).
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // What is deleted or overwritten (old secrets, trimmed output) is zeroed, not left behind.
        conn.pragma_update(None, "secure_delete", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

pub(crate) fn level_str(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising plain data (strings, vectors, the Job struct) to JSON cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// SQLite's own check of the database at `path`, opened read-only (`ok` when it is sound), for
/// `sidekick doctor`.
pub fn quick_check(path: &Path) -> Result<String> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    Ok(conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))?)
}
