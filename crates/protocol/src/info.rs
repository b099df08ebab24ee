//! What the host tells about agents, repositories, task types, trust and itself.

use serde::{Deserialize, Serialize};

/// One input of a task type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TaskInput {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub default: Option<String>,
}

/// `GET /v1/tasks?repo=`: a task type, or why its task.toml cannot be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TaskTypeInfo {
    pub name: String,
    /// Its task.toml.
    pub path: String,
    pub description: String,
    pub agent: String,
    pub inputs: Vec<TaskInput>,
    /// The file is broken: this sentence says where and why.
    pub error: Option<String>,
}

/// An agent profile and whether it can run here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AgentInfo {
    pub name: String,
    pub builtin: bool,
    /// The command template (`{task}` is replaced by the task, as one argument).
    pub command: Vec<String>,
    pub installed: bool,
    /// Where the program was found.
    pub path: Option<String>,
    /// Why the agent cannot be used, when it cannot.
    pub problem: Option<String>,
    pub timeout_ms: Option<u64>,
    /// What `PROGRAM --version` printed (first line), when it is installed.
    #[serde(default)]
    pub version: Option<String>,
    /// The output format Sidekick reads steps, tokens and the summary from (`plain`: none).
    #[serde(default)]
    pub format: String,
    /// How to install it (built-in agents).
    #[serde(default)]
    pub install: Option<String>,
}

/// `POST /v1/notifications/test`: whether a desktop notification server answers, and a test
/// notification sent through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NotificationTest {
    /// A notification was shown.
    pub sent: bool,
    /// The server (name, version, whether it shows buttons), or why there is none.
    pub detail: String,
}

/// `GET /v1/repo?path=`: a folder checked the way a job's repository is, and its branches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RepoInfo {
    /// Top level of the working tree.
    pub root: String,
    /// The folder's name, for display.
    pub name: String,
    /// The branch checked out there; `None` on a detached HEAD.
    pub head_branch: Option<String>,
    pub head_commit: String,
    /// Local branches, sorted by name.
    pub branches: Vec<String>,
    /// The agent the repository's `.sidekick/config.toml` names for its jobs, if any.
    #[serde(default)]
    pub agent: Option<String>,
}

/// `GET /v1/trust?repo=`: what a repository's own configuration (`.sidekick/config.toml` and
/// its task types) would run, and whether the user trusts it at its current content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TrustInfo {
    /// Top level of the repository.
    pub repo: String,
    /// The setup command run in each job's worktree before the agent.
    pub setup: Option<String>,
    /// Files copied from the user's checkout into each job's worktree.
    pub copy: Vec<String>,
    /// The configuration's default agent is `shell` or another agent that may run a task's text
    /// as a command (the user's own command profile), not a coding agent.
    pub shell_by_default: bool,
    /// Task types that run a shell command, or whose prompt goes to an agent that may run it as
    /// one.
    pub task_commands: Vec<TaskCommand>,
    /// What may merge into the user's branches without a review: the repository's
    /// `[auto_merge] paths` and task types with `auto_merge = true`, one sentence each.
    #[serde(default)]
    pub auto_merge: Vec<String>,
    /// The submodules `.gitmodules` names (`PATH from URL`), which a job's worktree fetches and
    /// checks out (in its sandbox) only once trusted; untrusted, jobs run without them.
    #[serde(default)]
    pub submodules: Vec<String>,
    /// A hash of every configuration file involved, as read now.
    pub hash: String,
    /// The configuration runs something (else there is nothing to trust).
    pub needed: bool,
    /// The user trusts it at exactly this content.
    pub trusted: bool,
    /// The user trusted an earlier content of it, which has changed since.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TaskCommand {
    pub name: String,
    pub command: String,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Health {
    pub version: String,
    pub pid: u32,
    pub home: String,
    /// The newest event's `seq`: a client that loads the job list and then follows events
    /// `since` this number sees every later change.
    #[serde(default)]
    pub last_seq: u64,
    /// How many jobs may be live at once (`max_running`): a queued job waits for a place.
    #[serde(default)]
    pub max_running: u32,
}
