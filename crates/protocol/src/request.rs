//! What clients ask of the host about jobs, and what an agent asks of the user.

use serde::{Deserialize, Serialize};

use crate::SandboxMode;

/// `POST /v1/jobs/JOB/retry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RetryRequest {
    /// Start from the commit the job started from, not from its base branch's tip now.
    #[serde(default)]
    pub same_base: bool,
}

/// `POST /v1/jobs/JOB/archive`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ArchiveRequest {
    /// `false` brings an archived job back.
    pub archived: bool,
}

/// `POST /v1/jobs/JOB/reply`: the user's next message to an ended job's agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ReplyRequest {
    /// The message; may be empty when `comments` is set.
    #[serde(default)]
    pub text: String,
    /// Send the job's unsent review comments with the message (file, line, the quoted lines,
    /// the comment), and mark them sent.
    #[serde(default)]
    pub comments: bool,
}

/// Something the agent asked the user (today: permission to use a tool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Request {
    /// Unique within the job (the agent's own id for it).
    pub id: String,
    /// The tool it wants to use (`Bash`, `Write`, ...).
    pub tool: String,
    /// The tool's input shown usefully: the command line, the path, the pattern.
    pub detail: String,
    /// The tool's whole input, as the agent sent it.
    #[cfg_attr(test, ts(type = "unknown"))]
    pub input: serde_json::Value,
    /// What the user can answer: `allow`, `allow_always` (for the rest of this job, as the agent
    /// defines it), `deny`.
    pub options: Vec<String>,
    pub opened_at: u64,
    /// What allowing it would do, to judge it by: the command in full, or the change to files.
    #[serde(default)]
    pub preview: Preview,
}

/// What a request would do, read from the agent's own words for it (never from the files it
/// names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Preview {
    /// Nothing more to show than the tool's input.
    #[default]
    None,
    /// A command to run, in full, with what the agent says it is for.
    Command {
        command: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
    },
    /// Changes to files, each as unified-diff lines.
    Change { files: Vec<PreviewFile> },
}

/// One file of a [`Preview::Change`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PreviewFile {
    pub path: String,
    /// `added` (a new file's content), `deleted`, or `modified`.
    pub kind: String,
    /// Unified-diff lines: `@@ -a,b +c,d @@` heads, then lines led by ` `, `-` or `+`.
    pub lines: Vec<String>,
    /// Lines left out past the preview's cap.
    #[serde(default)]
    pub more: u32,
}

/// `POST /v1/jobs/JOB/answer`: allow or deny the agent's request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AnswerRequest {
    /// The request to answer; the oldest open one when absent.
    #[serde(default)]
    pub request: Option<String>,
    pub allow: bool,
    /// Allow this kind of use for the rest of the job, as the agent defines it.
    #[serde(default)]
    pub always: bool,
    /// Why, for the agent (with a deny).
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST /v1/jobs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SpawnRequest {
    /// A folder inside the repository (absolute).
    pub repo: String,
    pub task: String,
    pub agent: Option<String>,
    /// Any revision; `HEAD` when absent.
    pub base: Option<String>,
    pub timeout_ms: Option<u64>,
    /// Id, id prefix or codename of the parent job.
    pub parent: Option<String>,
    /// Overrides the notification policy for this job (see [`Job::notify`]).
    #[serde(default)]
    pub notify: Option<bool>,
    /// Stop the agent gracefully after this many steps (the job still completes).
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Stop the agent when input + output tokens reach this (the job fails: `budget`).
    #[serde(default)]
    pub token_budget: Option<u64>,
    /// Run the repository's task type of this name (`.sidekick/tasks/NAME/task.toml`); `task`
    /// may then be empty, and the type's agent, timeout and budgets apply unless given here.
    #[serde(default)]
    pub task_type: Option<String>,
    /// The task type's input values.
    #[serde(default)]
    pub inputs: std::collections::BTreeMap<String, String>,
    /// `task_only` (the default) or `full`: the context below reaches the agent as a file named
    /// in `SIDEKICK_CONTEXT_FILE`, and agents that take a prompt get it first, in a delimited
    /// block.
    #[serde(default)]
    pub context: Option<ContextMode>,
    /// A file (absolute path) whose text goes into the context.
    #[serde(default)]
    pub context_file: Option<String>,
    /// A job (id, prefix or codename) whose task, summary and diff stat go into the context.
    #[serde(default)]
    pub context_from: Option<String>,
    /// Continue this ended job: start from its branch (its changes included), merge back where
    /// it would have, with its task, summary and diff stat as context.
    #[serde(default)]
    pub continue_from: Option<String>,
    /// Text that goes into the context, like a context file's.
    #[serde(default)]
    pub context_text: Option<String>,
    /// Who asks for the job, when it is not a person (an MCP client's name and version).
    #[serde(default)]
    pub spawned_by: Option<String>,
    /// Overrides the agent's and the host's `sandbox` setting for this job.
    #[serde(default)]
    pub sandbox: Option<SandboxMode>,
    /// `true`: merge by itself when it completes and the merge is clean; `false`: never, even
    /// where the task type or the repository says so.
    #[serde(default)]
    pub auto_merge: Option<bool>,
    /// Open a pull request when the job completes with changes (`--pr`); the `[pr] open`
    /// setting when absent.
    #[serde(default)]
    pub open_pr: Option<crate::PrOpenMode>,
    /// Make the job from this issue of the repository's origin (`--issue N`): its title and
    /// body become the task (or its context, when a task is given too), and the job's pull
    /// request closes it.
    #[serde(default)]
    pub issue: Option<u64>,
    /// The client's forge tokens, for `issue`; never kept with the job.
    #[serde(default, skip_serializing_if = "crate::ForgeTokens::is_empty")]
    pub tokens: crate::ForgeTokens,
}

/// What a job's agent is told besides its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ContextMode {
    TaskOnly,
    Full,
}

/// `POST /v1/trust`: trust `repo` at the content whose `hash` the user was shown (refused when
/// it changed since). `DELETE /v1/trust?repo=` takes trust back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TrustRequest {
    pub repo: String,
    pub hash: String,
}
