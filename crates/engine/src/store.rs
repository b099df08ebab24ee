//! The database: jobs and an append-only event log with a global, strictly increasing `seq`.
//! SQLite in WAL mode; the schema is versioned with `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row};
use sidekick_protocol::{Event, EventBody, Job, JobState, Level, Stream};

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

type Result<T> = std::result::Result<T, StoreError>;

/// Each entry moves the schema one version up. Never edit an entry that has shipped; add one.
const MIGRATIONS: &[&str] = &[
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
];

/// At most this many lines, and about this many bytes, go into one stored output chunk.
const CHUNK_LINES: usize = 1024;
const CHUNK_BYTES: usize = 256 * 1024;

/// What the engine keeps about a job beyond what clients see.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub job: Job,
    /// The agent's argv, already resolved from its profile (`{task}` substituted).
    pub argv: Vec<String>,
    /// Sidekick's own variables for the job's processes. The profile's env (API keys) is not
    /// stored: the runner reads it from the config when the job starts.
    pub env: Vec<(String, String)>,
    pub setup: Option<String>,
    pub copy_files: Vec<String>,
    pub process: Option<ProcessIdentity>,
    /// The worktree exists on disk (created and not yet removed).
    pub has_worktree: bool,
    /// How the last merge went, for `undo`.
    pub merge: Option<MergeRecord>,
    /// The ended state before the job was merged or discarded, to return to on undo/restore.
    pub prev_state: Option<JobState>,
    /// How to read the agent's output, and the session it reported.
    pub format: crate::parse::Format,
    pub session: Option<String>,
}

/// The `agent_state` column: the job's agent-reported figures and limits, plus what only the engine
/// needs (format, session).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct AgentState {
    #[serde(default)]
    format: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    steps: u64,
    #[serde(default)]
    tokens: sidekick_protocol::Tokens,
    #[serde(default)]
    cost_usd: Option<f64>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    capped: bool,
    #[serde(default)]
    max_steps: Option<u64>,
    #[serde(default)]
    token_budget: Option<u64>,
}

fn agent_state(rec: &JobRecord) -> String {
    let j = &rec.job;
    to_json(&AgentState {
        format: rec.format.name().to_string(),
        session: rec.session.clone(),
        steps: j.steps,
        tokens: j.tokens,
        cost_usd: j.cost_usd,
        summary: j.summary.clone(),
        capped: j.capped,
        max_steps: j.max_steps,
        token_budget: j.token_budget,
    })
}

/// What `undo` needs to revert a merge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MergeRecord {
    pub target: String,
    /// The target's tip before the merge.
    pub previous_tip: String,
    /// The target's tip the merge made.
    pub commit: String,
    pub strategy: String,
    /// Only these paths were merged (the job stayed in review).
    #[serde(default)]
    pub paths: Vec<String>,
}

/// Enough to recognise the agent process again after a host restart, even if its pid was reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
    pub boot_id: String,
}

/// An event before it has a `seq`.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub job_id: String,
    pub time: u64,
    pub body: EventBody,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Store::setup(conn)
    }

    #[cfg(test)]
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

    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub fn insert_job(&mut self, rec: &JobRecord) -> Result<()> {
        let j = &rec.job;
        self.conn.execute(
            "INSERT INTO jobs (id, codename, state, agent, task, repo, branch, worktree, base_rev,
                base_commit, base_branch, parent_id, timeout_ms, created_at, log_path, argv, env,
                setup, copy_files, has_worktree, notify, agent_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, ?21, ?22)",
            params![
                j.id,
                j.codename,
                j.state.as_str(),
                j.agent,
                j.task,
                j.repo,
                j.branch,
                j.worktree,
                j.base_rev,
                j.base_commit,
                j.base_branch,
                j.parent_id,
                j.timeout_ms as i64,
                j.created_at as i64,
                j.log_path,
                to_json(&rec.argv),
                to_json(&rec.env),
                rec.setup,
                to_json(&rec.copy_files),
                rec.has_worktree,
                j.notify,
                agent_state(rec),
            ],
        )?;
        Ok(())
    }

    /// Writes the mutable fields of a job back.
    pub fn update_job(&mut self, rec: &JobRecord) -> Result<()> {
        let j = &rec.job;
        let (pid, start, boot) = match &rec.process {
            Some(p) => (
                Some(p.pid),
                Some(p.start_ticks as i64),
                Some(p.boot_id.clone()),
            ),
            None => (None, None, None),
        };
        self.conn.execute(
            "UPDATE jobs SET state = ?2, head_commit = ?3, exit_code = ?4, reason = ?5,
                started_at = ?6, ended_at = ?7, files_changed = ?8, insertions = ?9,
                deletions = ?10, pid = ?11, proc_start = ?12, boot_id = ?13, has_worktree = ?14,
                merged_into = ?15, merge_commit = ?16, merge_record = ?17, snapshot = ?18,
                conflicts = ?19, prev_state = ?20, base_commit = ?21, agent_state = ?22
             WHERE id = ?1",
            params![
                j.id,
                j.state.as_str(),
                j.head_commit,
                j.exit_code,
                j.reason,
                j.started_at.map(|v| v as i64),
                j.ended_at.map(|v| v as i64),
                j.files_changed.map(|v| v as i64),
                j.insertions.map(|v| v as i64),
                j.deletions.map(|v| v as i64),
                pid,
                start,
                boot,
                rec.has_worktree,
                j.merged_into,
                j.merge_commit,
                rec.merge.as_ref().map(to_json),
                j.snapshot,
                to_json(&j.conflicts),
                rec.prev_state.map(|s| s.as_str()),
                j.base_commit,
                agent_state(rec),
            ],
        )?;
        Ok(())
    }

    /// The stored state of job `id`, if there is such a job.
    pub fn job_state(&self, id: &str) -> Result<Option<JobState>> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        match text {
            None => Ok(None),
            Some(t) => JobState::parse(&t)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("job state '{t}'"))),
        }
    }

    pub fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?;
        let rec = stmt.query_row([id], read_job).optional()?;
        rec.transpose()
    }

    /// Jobs, newest first. `active_only` keeps queued and live ones.
    pub fn jobs(&self, states: Option<&[JobState]>) -> Result<Vec<JobRecord>> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs");
        if let Some(states) = states {
            let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            sql.push_str(&format!(" WHERE state IN ({})", list.join(",")));
        }
        sql.push_str(" ORDER BY id DESC");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], read_job)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// Ids of jobs whose id starts with `prefix` (at most `limit`).
    pub fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM jobs WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![prefix, limit as i64], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Ids of jobs with this codename, those still holding a worktree first, then newest first.
    pub fn ids_with_codename(&self, codename: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM jobs WHERE codename = ?1 ORDER BY has_worktree DESC, id DESC",
        )?;
        let rows = stmt.query_map([codename], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// A codename is taken while a job that has (or will have) a worktree carries it.
    pub fn codename_taken(&self, codename: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM jobs WHERE codename = ?1
               AND (has_worktree = 1 OR state IN ('queued', 'starting')) LIMIT 1",
        )?;
        Ok(stmt.exists([codename])?)
    }

    pub fn children(&self, parent_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM jobs WHERE parent_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([parent_id], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Appends events in one transaction and returns them with their `seq`. Runs of output
    /// lines (one job, one stream, one instant) are stored as chunks, each line keeping its own
    /// seq.
    pub fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.conn.transaction()?;
        // The last seq ever handed out (AUTOINCREMENT's record; chunks move it by hand).
        let last: Option<i64> = tx
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let mut next = last.unwrap_or(0) + 1;
        let mut out = Vec::with_capacity(events.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (seq, job_id, time, kind, stream, line, partial, data, count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut events = events.into_iter().peekable();
            while let Some(ev) = events.next() {
                let seq = next;
                let (kind, stream, line, partial, data, count): (
                    &str,
                    Option<&str>,
                    Option<String>,
                    bool,
                    Option<String>,
                    usize,
                ) = match &ev.body {
                    EventBody::Output {
                        stream,
                        line,
                        partial,
                    } => {
                        let mut text = line.clone();
                        let mut partials = Vec::new();
                        if *partial {
                            partials.push(0);
                        }
                        let mut rest = Vec::new();
                        while let Some(more) = events.peek() {
                            let same = more.job_id == ev.job_id
                                && more.time == ev.time
                                && rest.len() + 1 < CHUNK_LINES
                                && text.len() < CHUNK_BYTES
                                && matches!(&more.body, EventBody::Output { stream: s, .. } if s == stream);
                            if !same {
                                break;
                            }
                            let Some(more) = events.next() else { break };
                            if let EventBody::Output { line, partial, .. } = &more.body {
                                text.push('\n');
                                text.push_str(line);
                                if *partial {
                                    partials.push(rest.len() + 1);
                                }
                            }
                            rest.push(more);
                        }
                        let count = rest.len() + 1;
                        let data = (!partials.is_empty()).then(|| to_json(&partials));
                        let seq0 = seq;
                        out.push(Event {
                            seq: seq0 as u64,
                            time: ev.time,
                            job_id: ev.job_id.clone(),
                            body: ev.body.clone(),
                        });
                        for (i, e) in rest.into_iter().enumerate() {
                            out.push(Event {
                                seq: (seq0 + 1 + i as i64) as u64,
                                time: e.time,
                                job_id: e.job_id,
                                body: e.body,
                            });
                        }
                        stmt.execute(params![
                            seq,
                            ev.job_id,
                            ev.time as i64,
                            "output",
                            stream.as_str(),
                            text,
                            *partial && count == 1,
                            data,
                            count as i64
                        ])?;
                        next += count as i64;
                        continue;
                    }
                    EventBody::Job { job } => ("job", None, None, false, Some(to_json(job)), 1),
                    EventBody::Step { .. } => {
                        ("step", None, None, false, Some(to_json(&ev.body)), 1)
                    }
                    EventBody::Summary { .. } => {
                        ("summary", None, None, false, Some(to_json(&ev.body)), 1)
                    }
                    EventBody::Notice { level, message } => (
                        "notice",
                        Some(level_str(*level)),
                        Some(message.clone()),
                        false,
                        None,
                        1,
                    ),
                };
                stmt.execute(params![
                    seq,
                    ev.job_id,
                    ev.time as i64,
                    kind,
                    stream,
                    line,
                    partial,
                    data,
                    count as i64
                ])?;
                next += 1;
                out.push(Event {
                    seq: seq as u64,
                    time: ev.time,
                    job_id: ev.job_id,
                    body: ev.body,
                });
            }
        }
        // Seqs inside the last chunk are handed out too: never again.
        tx.execute(
            "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'events'",
            [next - 1],
        )?;
        tx.commit()?;
        Ok(out)
    }

    /// Events with `seq > since`, oldest first, at most `limit`.
    pub fn events_after(
        &self,
        since: u64,
        job_id: Option<&str>,
        include_output: bool,
        limit: usize,
    ) -> Result<Vec<Event>> {
        // A chunk that starts at or before `since` may still hold later lines; it starts at
        // most CHUNK_LINES before them, which keeps the lookup on the index.
        let mut sql = String::from(
            "SELECT seq, job_id, time, kind, stream, line, partial, data, count FROM events
             WHERE seq > ?4 AND seq + count - 1 > ?1",
        );
        if job_id.is_some() {
            sql.push_str(" AND job_id = ?3");
        }
        if !include_output {
            sql.push_str(" AND kind != 'output'");
        }
        sql.push_str(" ORDER BY seq LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        // Beyond i64 there are no events (a cast would wrap around to "everything").
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let lower = since.saturating_sub(CHUNK_LINES as i64);
        let rows_wanted = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = match job_id {
            Some(j) => stmt.query(params![since, rows_wanted, j, lower])?,
            None => stmt.query(params![since, rows_wanted, Option::<String>::None, lower])?,
        };
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            read_events(row, since as u64, &mut out)?;
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }

    /// The last seq handed out (0 when there was never an event).
    pub fn last_seq(&self) -> Result<u64> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(seq.unwrap_or(0).max(0) as u64)
    }
}

const JOB_COLUMNS: &str = "id, codename, state, agent, task, repo, branch, worktree, base_rev,
    base_commit, base_branch, head_commit, exit_code, reason, parent_id, timeout_ms, created_at,
    started_at, ended_at, files_changed, insertions, deletions, log_path, argv, env, setup,
    copy_files, pid, proc_start, boot_id, has_worktree, merged_into, merge_commit, merge_record,
    snapshot, conflicts, prev_state, notify, agent_state";

fn read_job(r: &Row<'_>) -> rusqlite::Result<Result<JobRecord>> {
    let state_text: String = r.get(2)?;
    let Some(state) = JobState::parse(&state_text) else {
        return Ok(Err(StoreError::Corrupt(format!(
            "job state '{state_text}'"
        ))));
    };
    let opt_u64 = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|v| v.max(0) as u64))
    };
    let agent: AgentState = match r.get::<_, Option<String>>(38)? {
        Some(a) => match from_json(&a) {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        },
        None => AgentState::default(),
    };
    let job = Job {
        id: r.get(0)?,
        codename: r.get(1)?,
        state,
        agent: r.get(3)?,
        task: r.get(4)?,
        repo: r.get(5)?,
        branch: r.get(6)?,
        worktree: r.get(7)?,
        base_rev: r.get(8)?,
        base_commit: r.get(9)?,
        base_branch: r.get(10)?,
        head_commit: r.get(11)?,
        exit_code: r.get(12)?,
        reason: r.get(13)?,
        parent_id: r.get(14)?,
        timeout_ms: r.get::<_, i64>(15)?.max(0) as u64,
        created_at: r.get::<_, i64>(16)?.max(0) as u64,
        started_at: opt_u64(17)?,
        ended_at: opt_u64(18)?,
        duration_ms: None,
        queue_position: None,
        files_changed: opt_u64(19)?,
        insertions: opt_u64(20)?,
        deletions: opt_u64(21)?,
        log_path: r.get(22)?,
        merged_into: r.get(31)?,
        merge_commit: r.get(32)?,
        snapshot: r.get(34)?,
        conflicts: Vec::new(),
        notify: r.get(37)?,
        steps: agent.steps,
        tokens: agent.tokens,
        cost_usd: agent.cost_usd,
        summary: agent.summary,
        capped: agent.capped,
        max_steps: agent.max_steps,
        token_budget: agent.token_budget,
    };
    let merge_json: Option<String> = r.get(33)?;
    let conflicts_json: String = r.get(35)?;
    let prev_state: Option<String> = r.get(36)?;
    let argv: String = r.get(23)?;
    let env: String = r.get(24)?;
    let copy: String = r.get(26)?;
    let pid: Option<i32> = r.get(27)?;
    let start: Option<i64> = r.get(28)?;
    let boot: Option<String> = r.get(29)?;
    let process = match (pid, start, boot) {
        (Some(pid), Some(start), Some(boot_id)) => Some(ProcessIdentity {
            pid,
            start_ticks: start.max(0) as u64,
            boot_id,
        }),
        _ => None,
    };
    let parsed = (|| -> Result<JobRecord> {
        let mut job = job;
        job.conflicts = from_json(&conflicts_json)?;
        Ok(JobRecord {
            job,
            argv: from_json(&argv)?,
            env: from_json(&env)?,
            setup: r.get(25).map_err(StoreError::from)?,
            copy_files: from_json(&copy)?,
            process,
            has_worktree: r.get(30).map_err(StoreError::from)?,
            merge: match merge_json {
                Some(m) => Some(from_json(&m)?),
                None => None,
            },
            prev_state: prev_state.as_deref().and_then(JobState::parse),
            format: crate::parse::Format::from_name(&agent.format),
            session: agent.session,
        })
    })();
    Ok(parsed)
}

/// Adds the events of one stored row with a seq after `since` to `out` (a chunk of output
/// lines gives one event per line).
fn read_events(r: &Row<'_>, since: u64, out: &mut Vec<Event>) -> Result<()> {
    let seq = r.get::<_, i64>(0)?.max(0) as u64;
    let kind: String = r.get(3)?;
    if kind != "output" {
        if seq > since {
            out.push(read_event(r)?);
        }
        return Ok(());
    }
    let job_id: String = r.get(1)?;
    let time = r.get::<_, i64>(2)?.max(0) as u64;
    let stream = match r.get::<_, Option<String>>(4)?.as_deref() {
        Some("stderr") => Stream::Stderr,
        _ => Stream::Stdout,
    };
    let text = r.get::<_, Option<String>>(5)?.unwrap_or_default();
    let count = r.get::<_, i64>(8)?.max(1) as u64;
    let partials: Vec<u64> = match r.get::<_, Option<String>>(7)? {
        Some(d) => from_json(&d)?,
        // Rows written before chunks: one line, its own flag.
        None if r.get::<_, bool>(6)? => vec![0],
        None => Vec::new(),
    };
    let mut lines = 0;
    for (i, line) in text.split('\n').enumerate() {
        lines += 1;
        let at = seq + i as u64;
        if at <= since {
            continue;
        }
        out.push(Event {
            seq: at,
            time,
            job_id: job_id.clone(),
            body: EventBody::Output {
                stream,
                line: line.to_string(),
                partial: partials.contains(&(i as u64)),
            },
        });
    }
    if lines != count {
        return Err(StoreError::Corrupt(format!(
            "output chunk at seq {seq} holds {lines} lines, not {count}"
        )));
    }
    Ok(())
}

fn read_event(r: &Row<'_>) -> Result<Event> {
    let seq: i64 = r.get(0)?;
    let job_id: String = r.get(1)?;
    let time: i64 = r.get(2)?;
    let kind: String = r.get(3)?;
    let body = match kind.as_str() {
        "job" => {
            let data: Option<String> = r.get(7)?;
            EventBody::Job {
                job: from_json(data.as_deref().unwrap_or("null"))?,
            }
        }
        "notice" => {
            let level: Option<String> = r.get(4)?;
            EventBody::Notice {
                level: match level.as_deref() {
                    Some("error") => Level::Error,
                    Some("warn") => Level::Warn,
                    _ => Level::Info,
                },
                message: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            }
        }
        "step" | "summary" => {
            let data: Option<String> = r.get(7)?;
            from_json(data.as_deref().unwrap_or("null"))?
        }
        other => return Err(StoreError::Corrupt(format!("event kind '{other}'"))),
    };
    Ok(Event {
        seq: seq.max(0) as u64,
        time: time.max(0) as u64,
        job_id,
        body,
    })
}

fn level_str(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising plain data (strings, vectors, the Job struct) to JSON cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(id: &str, state: JobState) -> JobRecord {
        JobRecord {
            job: Job {
                id: id.into(),
                codename: format!("c-{id}"),
                state,
                agent: "shell".into(),
                task: "echo hi".into(),
                repo: "/r".into(),
                branch: format!("sidekick/c-{id}"),
                worktree: "/w".into(),
                base_rev: "HEAD".into(),
                base_commit: "abc".into(),
                base_branch: Some("main".into()),
                head_commit: None,
                exit_code: None,
                reason: None,
                parent_id: None,
                timeout_ms: 1000,
                created_at: 5,
                started_at: None,
                ended_at: None,
                duration_ms: None,
                queue_position: None,
                files_changed: None,
                insertions: None,
                deletions: None,
                log_path: "/l".into(),
                merged_into: None,
                merge_commit: None,
                snapshot: None,
                conflicts: vec![],
                notify: None,
                steps: 0,
                tokens: Default::default(),
                cost_usd: None,
                summary: None,
                capped: false,
                max_steps: None,
                token_budget: None,
            },
            argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec![("A".into(), "b".into())],
            setup: None,
            copy_files: vec![],
            process: None,
            has_worktree: false,
            merge: None,
            prev_state: None,
            format: crate::parse::Format::Plain,
            session: None,
        }
    }

    #[test]
    fn jobs_round_trip_and_update() {
        let mut s = Store::open_in_memory().expect("store");
        assert_eq!(s.schema_version().expect("v"), MIGRATIONS.len() as i64);
        let mut rec = sample("01a", JobState::Queued);
        s.insert_job(&rec).expect("insert");
        assert_eq!(s.job("01a").expect("get"), Some(rec.clone()));
        rec.job.state = JobState::Completed;
        rec.job.exit_code = Some(0);
        rec.job.head_commit = Some("def".into());
        rec.process = Some(ProcessIdentity {
            pid: 42,
            start_ticks: 99,
            boot_id: "b".into(),
        });
        rec.has_worktree = true;
        rec.job.merged_into = Some("main".into());
        rec.job.merge_commit = Some("m".into());
        rec.job.snapshot = Some("snap".into());
        rec.job.conflicts = vec!["a.txt".into()];
        rec.merge = Some(MergeRecord {
            target: "main".into(),
            previous_tip: "p".into(),
            commit: "m".into(),
            strategy: "squash".into(),
            paths: vec![],
        });
        rec.prev_state = Some(JobState::Completed);
        s.update_job(&rec).expect("update");
        assert_eq!(s.job("01a").expect("get"), Some(rec));
        assert_eq!(s.job("nope").expect("get"), None);
    }

    #[test]
    fn prefixes_codenames_and_children() {
        let mut s = Store::open_in_memory().expect("store");
        for id in ["01aa", "01ab", "02cc"] {
            s.insert_job(&sample(id, JobState::Queued)).expect("insert");
        }
        let mut child = sample("03dd", JobState::Queued);
        child.job.parent_id = Some("01aa".into());
        s.insert_job(&child).expect("insert");
        assert_eq!(
            s.ids_with_prefix("01a", 10).expect("q"),
            vec!["01aa", "01ab"]
        );
        assert_eq!(s.ids_with_prefix("02", 10).expect("q"), vec!["02cc"]);
        assert!(s.ids_with_prefix("9", 10).expect("q").is_empty());
        assert_eq!(s.ids_with_codename("c-02cc").expect("q"), vec!["02cc"]);
        assert!(s.codename_taken("c-02cc").expect("q"));
        assert!(!s.codename_taken("c-zz").expect("q"));
        assert_eq!(s.children("01aa").expect("q"), vec!["03dd"]);
        let active = s.jobs(Some(&[JobState::Queued])).expect("q");
        assert_eq!(active.len(), 4);
        assert_eq!(active[0].job.id, "03dd", "newest first");
    }

    fn out(job: &str, time: u64, stream: Stream, line: &str, partial: bool) -> NewEvent {
        NewEvent {
            job_id: job.into(),
            time,
            body: EventBody::Output {
                stream,
                line: line.into(),
                partial,
            },
        }
    }

    #[test]
    fn output_is_stored_in_chunks_and_read_back_line_by_line() {
        let mut s = Store::open_in_memory().expect("open");
        let mut batch = Vec::new();
        for i in 0..3000 {
            batch.push(out("01a", 7, Stream::Stdout, &format!("line {i}"), false));
        }
        // Empty lines, a cut line, the other stream, another job, a notice: all in between.
        batch.push(out("01a", 7, Stream::Stdout, "", false));
        batch.push(out("01a", 7, Stream::Stdout, "cut", true));
        batch.push(out("01a", 7, Stream::Stdout, "", false));
        batch.push(out("01a", 7, Stream::Stderr, "warning", false));
        batch.push(out("01b", 7, Stream::Stdout, "other job", false));
        batch.push(NewEvent {
            job_id: "01a".into(),
            time: 7,
            body: EventBody::Notice {
                level: Level::Info,
                message: "n".into(),
            },
        });
        batch.push(out("01a", 8, Stream::Stdout, "later", true));
        let written = s.append(batch.clone()).expect("append");
        let seqs: Vec<u64> = written.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=batch.len() as u64).collect::<Vec<_>>());
        let rows: i64 = s
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .expect("count");
        // 3003 stdout lines in 3 chunks (1024 lines each at most), then one row each.
        assert_eq!(rows, 3 + 4, "rows");
        assert_eq!(s.events_after(0, None, true, 100_000).expect("q"), written);
        assert_eq!(s.last_seq().expect("seq"), batch.len() as u64);
        // From the middle of a chunk, with a limit that ends inside another.
        let page = s.events_after(1500, None, true, 1000).expect("q");
        assert_eq!(page, written[1500..2500].to_vec());
        let page = s.events_after(3001, Some("01a"), true, 10).expect("q");
        assert_eq!(page.len(), 5);
        assert!(page.iter().all(|e| e.job_id == "01a"));
        assert_eq!(
            page[0].body,
            EventBody::Output {
                stream: Stream::Stdout,
                line: "cut".into(),
                partial: true
            }
        );
        let no_output = s.events_after(0, None, false, 100).expect("q");
        assert_eq!(no_output.len(), 1);
        // The next append goes on after the whole chunk's seqs.
        let more = s
            .append(vec![out("01a", 9, Stream::Stdout, "next", false)])
            .expect("append");
        assert_eq!(more[0].seq, batch.len() as u64 + 1);
        assert_eq!(s.last_seq().expect("seq"), batch.len() as u64 + 1);
    }

    #[test]
    fn rows_of_one_line_from_before_chunks_read_as_they_were() {
        let mut s = Store::open_in_memory().expect("open");
        s.conn
            .execute_batch(
                "INSERT INTO events (job_id, time, kind, stream, line, partial, data)
                 VALUES ('01a', 1, 'output', 'stderr', 'old cut', 1, NULL),
                        ('01a', 1, 'output', 'stdout', 'old whole', 0, NULL);",
            )
            .expect("insert old rows");
        let written = s
            .append(vec![out("01a", 2, Stream::Stdout, "new", false)])
            .expect("append");
        assert_eq!(written[0].seq, 3);
        let all = s.events_after(0, None, true, 10).expect("q");
        let lines: Vec<(u64, String, bool)> = all
            .iter()
            .map(|e| match &e.body {
                EventBody::Output { line, partial, .. } => (e.seq, line.clone(), *partial),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            lines,
            [
                (1, "old cut".to_string(), true),
                (2, "old whole".to_string(), false),
                (3, "new".to_string(), false)
            ]
        );
    }

    #[test]
    fn stored_output_costs_little_more_than_the_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut s = Store::open(&path).expect("open");
        let mut text = 0;
        // `seq 1 200000`, as a job prints it: batches of a few thousand lines.
        for chunk in (1..=200_000u64).collect::<Vec<_>>().chunks(4096) {
            let batch: Vec<NewEvent> = chunk
                .iter()
                .map(|i| {
                    text += i.to_string().len() + 1;
                    out(
                        "01m8gpyq8xsrbypt4eewqxvgy0",
                        *i / 4096,
                        Stream::Stdout,
                        &i.to_string(),
                        false,
                    )
                })
                .collect();
            s.append(batch).expect("append");
        }
        s.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
        let size = std::fs::metadata(&path).expect("stat").len() as usize;
        // A row per line took ~14x; chunks stay under 2x.
        assert!(
            size < 2 * text,
            "{size} bytes of database for {text} bytes of output"
        );
    }

    #[test]
    fn events_get_increasing_seqs_and_filter() {
        let mut s = Store::open_in_memory().expect("store");
        let rec = sample("01a", JobState::Queued);
        let mk = |job: &str, body: EventBody| NewEvent {
            job_id: job.into(),
            time: 1,
            body,
        };
        let out = s
            .append(vec![
                mk(
                    "01a",
                    EventBody::Job {
                        job: Box::new(rec.job.clone()),
                    },
                ),
                mk(
                    "01a",
                    EventBody::Output {
                        stream: Stream::Stdout,
                        line: "one".into(),
                        partial: false,
                    },
                ),
                mk(
                    "02b",
                    EventBody::Notice {
                        level: Level::Warn,
                        message: "careful".into(),
                    },
                ),
                mk(
                    "01a",
                    EventBody::Output {
                        stream: Stream::Stderr,
                        line: "two".into(),
                        partial: true,
                    },
                ),
            ])
            .expect("append");
        let seqs: Vec<u64> = out.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert_eq!(s.last_seq().expect("q"), 4);
        assert_eq!(s.events_after(0, None, true, 100).expect("q"), out);
        let job_only = s.events_after(0, Some("01a"), true, 100).expect("q");
        assert_eq!(job_only.len(), 3);
        let no_output = s.events_after(0, None, false, 100).expect("q");
        assert_eq!(no_output.len(), 2);
        assert_eq!(
            s.events_after(2, None, true, 1).expect("q"),
            vec![out[2].clone()]
        );
    }

    #[test]
    fn state_survives_reopening_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        {
            let mut s = Store::open(&path).expect("open");
            s.insert_job(&sample("01a", JobState::Running))
                .expect("insert");
        }
        let s = Store::open(&path).expect("reopen");
        assert_eq!(
            s.job("01a").expect("q").map(|r| r.job.state),
            Some(JobState::Running)
        );
        drop(s);
        let conn = Connection::open(&path).expect("raw");
        conn.pragma_update(None, "user_version", 99).expect("bump");
        drop(conn);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn a_since_beyond_every_event_returns_none_not_all() {
        let mut s = Store::open_in_memory().expect("store");
        let rec = sample("01a", JobState::Queued);
        s.insert_job(&rec).expect("insert");
        s.append(vec![NewEvent {
            job_id: "01a".into(),
            time: 1,
            body: EventBody::Notice {
                level: Level::Info,
                message: "x".into(),
            },
        }])
        .expect("append");
        assert_eq!(s.events_after(0, None, true, 10).expect("q").len(), 1);
        for since in [u64::MAX, i64::MAX as u64 + 1, i64::MAX as u64] {
            assert!(s.events_after(since, None, true, 10).expect("q").is_empty());
        }
    }

    #[test]
    fn rows_from_before_version_5_lose_their_profile_env_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        {
            let mut s = Store::open(&path).expect("open");
            let mut rec = sample("01a", JobState::Completed);
            rec.env = vec![
                ("API_KEY".into(), "sk-secret".into()),
                ("SIDEKICK_JOB_ID".into(), "01a".into()),
            ];
            s.insert_job(&rec).expect("insert");
            s.conn
                .execute_batch("ALTER TABLE events DROP COLUMN count; PRAGMA user_version = 4;")
                .expect("pretend an older schema");
        }
        let s = Store::open(&path).expect("migrate");
        let rec = s.job("01a").expect("q").expect("row");
        assert_eq!(
            rec.env,
            vec![("SIDEKICK_JOB_ID".to_string(), "01a".to_string())]
        );
        drop(s);
        let bytes = std::fs::read(&path).expect("read");
        let wal = std::fs::read(dir.path().join("db.sqlite-wal")).unwrap_or_default();
        for b in [bytes, wal] {
            assert!(!String::from_utf8_lossy(&b).contains("sk-secret"));
        }
    }
}
