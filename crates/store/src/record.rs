//! What the store keeps: a job's record (the job clients see and what only the engine needs),
//! the identity of its process, an event before it has a `seq`.

use sidekick_protocol::{EventBody, Job, JobState, MergeRecord};

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
    /// The repository's `setup_cache` lockfiles (see [`sidekick_config::RepoConfig`]).
    pub setup_cache: Vec<String>,
    pub copy_files: Vec<String>,
    pub process: Option<ProcessIdentity>,
    /// The worktree exists on disk (created and not yet removed).
    pub has_worktree: bool,
    /// How the last merge went, for `undo`.
    pub merge: Option<MergeRecord>,
    /// The ended state before the job was merged or discarded, to return to on undo/restore.
    pub prev_state: Option<JobState>,
    /// How to read the agent's output, and the session it reported.
    pub format: sidekick_agents::parse::Format,
    pub session: Option<String>,
    /// The agent speaks its own protocol on stdin (`permission = "ask"`): this is the task
    /// (with its context), sent as its first message.
    pub dialog: Option<String>,
    /// The user's last reply (`sidekick reply`): the message of the commit its turn makes.
    pub last_reply: Option<String>,
    /// The job's own `sandbox` setting (`sidekick run --sandbox`), over the agent's and the host's.
    pub sandbox: Option<sidekick_protocol::SandboxMode>,
    /// The request the job was made from (its context aside), for `sidekick retry`; `None` for
    /// jobs made before it was kept.
    pub request: Option<sidekick_protocol::SpawnRequest>,
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
