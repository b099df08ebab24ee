//! Jobs in the database: insert, update, look up by id, prefix or codename, and read a row back
//! into a [`JobRecord`].

use rusqlite::{params, OptionalExtension, Row};
use sidekick_protocol::{Job, JobState};

use super::*;

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
    /// The agent speaks its protocol on stdin (`permission = "ask"`); `prompt` is its first
    /// message.
    #[serde(default)]
    dialog: Option<String>,
    #[serde(default)]
    turns: u32,
    /// Run time of the turns before the last one.
    #[serde(default)]
    earlier_ms: u64,
    #[serde(default)]
    last_reply: Option<String>,
    /// The job's own `sandbox` setting (`--sandbox`), and how its processes ran.
    #[serde(default)]
    sandbox_asked: Option<sidekick_protocol::SandboxMode>,
    #[serde(default)]
    sandbox: Option<sidekick_protocol::Sandbox>,
    #[serde(default)]
    auto_merge: Option<sidekick_protocol::AutoMerge>,
    #[serde(default)]
    retry_of: Option<String>,
    /// The job's pull request as last seen (no token: that is never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pr: Option<sidekick_protocol::PullRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    open_pr: Option<sidekick_protocol::PrOpenMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issue: Option<sidekick_protocol::IssueRef>,
    /// The request the job was made from, for `sidekick retry`.
    #[serde(default)]
    request: Option<sidekick_protocol::SpawnRequest>,
    /// The repository's `setup_cache` lockfiles when the job was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    setup_cache: Vec<String>,
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
        dialog: rec.dialog.clone(),
        turns: j.turns,
        earlier_ms: j.earlier_ms,
        last_reply: rec.last_reply.clone(),
        sandbox_asked: rec.sandbox,
        sandbox: j.sandbox.clone(),
        auto_merge: j.auto_merge.clone(),
        retry_of: j.retry_of.clone(),
        pr: j.pr.clone(),
        open_pr: j.open_pr,
        issue: j.issue.clone(),
        request: rec.request.clone(),
        setup_cache: rec.setup_cache.clone(),
    })
}

impl Store {
    pub fn insert_job(&mut self, rec: &JobRecord) -> Result<()> {
        let j = &rec.job;
        self.conn.execute(
            "INSERT INTO jobs (id, codename, state, agent, task, repo, branch, worktree, base_rev,
                base_commit, base_branch, parent_id, timeout_ms, created_at, log_path, argv, env,
                setup, copy_files, has_worktree, notify, agent_state, spawned_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, ?21, ?22, ?23)",
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
                j.spawned_by,
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
                conflicts = ?19, prev_state = ?20, base_commit = ?21, agent_state = ?22,
                requests = ?23, argv = ?24, archived = ?25
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
                to_json(&j.requests),
                to_json(&rec.argv),
                j.archived,
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
}

const JOB_COLUMNS: &str = "id, codename, state, agent, task, repo, branch, worktree, base_rev,
    base_commit, base_branch, head_commit, exit_code, reason, parent_id, timeout_ms, created_at,
    started_at, ended_at, files_changed, insertions, deletions, log_path, argv, env, setup,
    copy_files, pid, proc_start, boot_id, has_worktree, merged_into, merge_commit, merge_record,
    snapshot, conflicts, prev_state, notify, agent_state, requests, spawned_by, archived";

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
        requests: Vec::new(),
        turns: agent.turns.max(1),
        earlier_ms: agent.earlier_ms,
        spawned_by: r.get(40)?,
        archived: r.get::<_, i64>(41)? != 0,
        sandbox: agent.sandbox.clone(),
        auto_merge: agent.auto_merge.clone(),
        retry_of: agent.retry_of.clone(),
        pr: agent.pr.clone(),
        open_pr: agent.open_pr,
        issue: agent.issue.clone(),
    };
    let requests_json: String = r.get(39)?;
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
        job.requests = from_json(&requests_json)?;
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
            format: sidekick_agents::parse::Format::from_name(&agent.format),
            session: agent.session,
            dialog: agent.dialog,
            last_reply: agent.last_reply,
            sandbox: agent.sandbox_asked,
            request: agent.request,
            setup_cache: agent.setup_cache,
        })
    })();
    Ok(parsed)
}
