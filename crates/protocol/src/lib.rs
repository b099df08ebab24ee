//! Wire types shared by the Sidekick host, its clients (CLI, desktop app) and the UI.
//!
//! Everything here is plain data with serde derives. JSON uses snake_case keys; times are
//! milliseconds since the Unix epoch; durations are milliseconds.

mod duration;
mod paths;
pub mod private;
mod review;
pub mod text;
#[cfg(test)]
mod typescript;

pub use duration::{format_duration, parse_duration, DurationError};
pub use paths::{sibling_program, Home};
pub use review::{
    ActionResult, CheckedOut, Comment, Conflict, Diff, DiffLine, DiscardRequest, FileDiff,
    FileLines, FileStatus, GcItem, GcReport, GcRequest, Hunk, HunkPick, HunkRange, LineKind,
    MergePreview, MergeRequest, MergeResult, MergeStrategy, NewComment, Pool, RebaseRequest, Side,
    Span, UndoRequest, Viewed, WarmWorktree,
};

use serde::{Deserialize, Serialize};

/// Where a job is in its life. See DESIGN.md "Job states".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Starting,
    Running,
    /// The agent asked for something (a permission) and is blocked on the user.
    Waiting,
    Stopping,
    Completed,
    Failed,
    Timeout,
    Cancelled,
    Interrupted,
    Merged,
    Discarded,
}

impl JobState {
    pub const ALL: [JobState; 12] = [
        JobState::Queued,
        JobState::Starting,
        JobState::Running,
        JobState::Waiting,
        JobState::Stopping,
        JobState::Completed,
        JobState::Failed,
        JobState::Timeout,
        JobState::Cancelled,
        JobState::Interrupted,
        JobState::Merged,
        JobState::Discarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Starting => "starting",
            JobState::Running => "running",
            JobState::Waiting => "waiting",
            JobState::Stopping => "stopping",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Timeout => "timeout",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
            JobState::Merged => "merged",
            JobState::Discarded => "discarded",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The agent has not ended yet: the job is queued or holds (or is about to hold) a process.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobState::Queued
                | JobState::Starting
                | JobState::Running
                | JobState::Waiting
                | JobState::Stopping
        )
    }

    /// The states of a job that owns a live process or is setting one up.
    pub const LIVE: [JobState; 4] = [
        JobState::Starting,
        JobState::Running,
        JobState::Waiting,
        JobState::Stopping,
    ];

    /// The job owns a live process or is setting one up (counts against `max_running`).
    pub fn is_live(self) -> bool {
        JobState::LIVE.contains(&self)
    }

    /// The agent's run is over (including review outcomes).
    pub fn has_ended(self) -> bool {
        !self.is_active()
    }

    /// Where a job in this state sits in the status bar's and the tray's words. The one place
    /// that decides it: the UI gets this table generated (`ATTENTION` in `protocol.ts`).
    pub fn attention(self) -> Attention {
        match self {
            JobState::Queued => Attention::Queued,
            JobState::Starting | JobState::Running | JobState::Stopping => Attention::Running,
            JobState::Waiting => Attention::Waiting,
            JobState::Merged | JobState::Discarded => Attention::Closed,
            JobState::Completed
            | JobState::Failed
            | JobState::Timeout
            | JobState::Cancelled
            | JobState::Interrupted => Attention::Review,
        }
    }
}

/// What a job asks of the user: nothing yet (queued), nothing while it works (running), an
/// answer now (waiting: the agent is blocked on the user), a look (review: ended, neither merged
/// nor discarded), or nothing any more (closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    Queued,
    Running,
    Waiting,
    Review,
    Closed,
}

/// The status bar's and the tray's numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Counts {
    /// Blocked on the user ("needs you").
    #[serde(default)]
    pub waiting: u32,
    pub running: u32,
    pub queued: u32,
    /// Ended and neither merged nor discarded: waiting for the user.
    pub review: u32,
}

impl Counts {
    /// Counts jobs by their [`Job::attention`].
    pub fn of<'a>(jobs: impl IntoIterator<Item = &'a Job>) -> Counts {
        let mut c = Counts::default();
        for job in jobs {
            match job.attention() {
                Attention::Queued => c.queued += 1,
                Attention::Running => c.running += 1,
                Attention::Waiting => c.waiting += 1,
                Attention::Review => c.review += 1,
                Attention::Closed => {}
            }
        }
        c
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Job {
    /// Time-sortable unique id (ULID, lowercase).
    pub id: String,
    /// `adjective-animal`, unique among jobs that still have a worktree.
    pub codename: String,
    pub state: JobState,
    pub agent: String,
    pub task: String,
    /// Top level of the user's repository.
    pub repo: String,
    /// The job's branch, `sidekick/<codename>`.
    pub branch: String,
    /// The job's shadow worktree (exists once the job has started).
    pub worktree: String,
    /// The revision the user asked for (`HEAD` by default).
    pub base_rev: String,
    /// The commit the job started from.
    pub base_commit: String,
    /// The branch the job will merge back into, when the base was a branch.
    pub base_branch: Option<String>,
    /// The job branch's tip after the agent's leftovers were committed.
    pub head_commit: Option<String>,
    pub exit_code: Option<i32>,
    /// Why the job ended the way it did, in one sentence (failures, timeouts, interruptions).
    pub reason: Option<String>,
    pub parent_id: Option<String>,
    pub timeout_ms: u64,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub ended_at: Option<u64>,
    /// Run time of the whole job so far (live jobs) or in total (ended jobs): every turn's,
    /// the one under way included. `started_at`/`ended_at` are the last turn's.
    pub duration_ms: Option<u64>,
    /// Run time of the turns before the last one (replies start new turns).
    #[serde(default)]
    pub earlier_ms: u64,
    /// 1-based position in the FIFO queue while queued.
    pub queue_position: Option<u32>,
    pub files_changed: Option<u64>,
    pub insertions: Option<u64>,
    pub deletions: Option<u64>,
    /// The raw output of the job (both streams, as written).
    pub log_path: String,
    /// Set once merged: the branch it went into and the commit that did it.
    #[serde(default)]
    pub merged_into: Option<String>,
    #[serde(default)]
    pub merge_commit: Option<String>,
    /// The commit kept at `refs/sidekick/snapshots/<id>` when the job's worktree or branch was
    /// removed (merge, discard, gc); `sidekick restore` brings it back.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Files left with conflict markers by `sidekick rebase`; the job cannot be merged until
    /// they are resolved and committed in its worktree.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// The job's own notification choice: `Some(false)` never (`--quiet`), `Some(true)` always
    /// (`--notify`, except when cancelled), `None` the configured policy.
    #[serde(default)]
    pub notify: Option<bool>,
    /// Steps the agent reported so far: assistant turns and tool calls.
    #[serde(default)]
    pub steps: u64,
    /// Tokens the agent reported so far.
    #[serde(default)]
    pub tokens: Tokens,
    /// What the agent says the run cost, where it says.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// The agent's final answer, once it gave one.
    #[serde(default)]
    pub summary: Option<String>,
    /// The job was stopped at its step cap (`--max-steps`): it ends `completed` with the work
    /// done so far.
    #[serde(default)]
    pub capped: bool,
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Input + output tokens the job may use; a warning at 80 %, stopped (`failed`) at 100 %.
    #[serde(default)]
    pub token_budget: Option<u64>,
    /// What the agent asked and nobody answered yet, oldest first (the job is `waiting`).
    #[serde(default)]
    pub requests: Vec<Request>,
    /// The user's messages so far: the task, then each reply (`sidekick reply`).
    #[serde(default)]
    pub turns: u32,
    /// Who started the job when it was not a person at the CLI or the app: the MCP client's
    /// name and version (`Claude Code 2.1.330`).
    #[serde(default)]
    pub spawned_by: Option<String>,
    /// Put away by the user (`sidekick archive`): kept, but out of the lists and counts.
    #[serde(default)]
    pub archived: bool,
    /// How the job's processes were confined, once they ran.
    #[serde(default)]
    pub sandbox: Option<Sandbox>,
    /// The job may merge by itself when it completes cleanly (`--auto-merge`, a task type's or
    /// the repository's `auto_merge`), and how that went.
    #[serde(default)]
    pub auto_merge: Option<AutoMerge>,
    /// The job this one retries (`sidekick retry`): same task, agent, inputs and limits.
    #[serde(default)]
    pub retry_of: Option<String>,
}

/// `auto_merge`: a job that may land by itself (see [`Job::auto_merge`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AutoMerge {
    /// Who asked: `the job` (`--auto-merge`, the app, an MCP client), `task type NAME`, or
    /// `the repository's [auto_merge] paths`.
    pub by: String,
    /// Every path the job changes must match one of these (the repository's
    /// `[auto_merge] paths`); empty: any path.
    pub paths: Vec<String>,
    pub outcome: AutoMergeOutcome,
    /// Why it stays for review (`held`), in one sentence.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AutoMergeOutcome {
    /// The job has not ended yet, or the host is deciding right now.
    Pending,
    /// It merged by itself (undo it like any merge).
    Merged,
    /// A condition failed: it stays for review (`reason`).
    Held,
}

/// `GET /v1/settings`: the host-wide settings the app edits, as the config file makes them now
/// (defaults where it says nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Settings {
    /// The config file they live in.
    pub file: String,
    pub max_running: u64,
    /// The default timeout of a job (`timeout`), as a duration (`30m00s`).
    pub timeout: String,
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
    pub warm_worktrees: u32,
    pub sandbox: SandboxMode,
    pub sandbox_network: bool,
    pub notifications: NotificationSettings,
    /// Every agent profile, with what the file sets for it.
    pub agents: Vec<AgentSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NotificationSettings {
    pub enabled: bool,
    pub quiet_under: String,
    pub prominent_over: String,
    pub burst_window: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AgentSettings {
    pub name: String,
    pub builtin: bool,
    /// A built-in agent's own permission modes (`ask` first where Sidekick carries its
    /// approvals); empty where any value goes (a user's own command) or none does.
    #[serde(default)]
    pub modes: Vec<String>,
    /// `[agents.NAME] permission`; `None`: the agent's default.
    pub permission: Option<String>,
    pub timeout: Option<String>,
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
}

/// `PUT /v1/settings`: keys of the config file to set (`max_running`,
/// `notifications.quiet_under`, `agents.claude.permission`, ...), each to a value as the file
/// would spell it, or back to the default (`value: None`). Checked by the same code that reads
/// the file; everything else in the file (comments, other keys) stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsChange {
    pub changes: Vec<SettingValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingValue {
    pub key: String,
    pub value: Option<String>,
}

/// `POST /v1/jobs/JOB/retry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RetryRequest {
    /// Start from the commit the job started from, not from its base branch's tip now.
    #[serde(default)]
    pub same_base: bool,
}

/// `sandbox`: how a job's processes are confined (Linux: bubblewrap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// The agent writes only its worktree (and what git needs to commit on its branch); the job
    /// fails when the sandbox cannot be set up.
    Worktree,
    /// `worktree` where it can be set up; otherwise the job runs unconfined and says why.
    #[default]
    Auto,
    /// No sandbox: the agent has all of the user's rights.
    Off,
}

impl SandboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Worktree => "worktree",
            SandboxMode::Auto => "auto",
            SandboxMode::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<SandboxMode> {
        match s {
            "worktree" => Some(SandboxMode::Worktree),
            "auto" => Some(SandboxMode::Auto),
            "off" => Some(SandboxMode::Off),
            _ => None,
        }
    }
}

/// How a job's processes ran (`status --json` `sandbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Sandbox {
    /// What was asked for (the job's, its agent's, the host's setting, else `auto`).
    pub mode: SandboxMode,
    /// Its processes ran in the sandbox.
    pub on: bool,
    /// They could reach the network (`sandbox_network`).
    pub network: bool,
    /// Why they ran unconfined (`auto` where the sandbox could not be set up).
    pub reason: Option<String>,
}

impl Job {
    /// The job has ended and nothing more happens to it by itself: an auto-merge is decided.
    /// What `wait` waits for.
    pub fn settled(&self) -> bool {
        self.state.has_ended()
            && !self
                .auto_merge
                .as_ref()
                .is_some_and(|a| a.outcome == AutoMergeOutcome::Pending)
    }

    /// Where the job sits for the user: its state's [`JobState::attention`], except that an
    /// ended job with nothing to review (it changed no file) or one the user archived is
    /// closed, not "to review".
    pub fn attention(&self) -> Attention {
        match self.state.attention() {
            Attention::Review if self.archived || self.files_changed == Some(0) => {
                Attention::Closed
            }
            a => a,
        }
    }
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

/// Token usage as the agent reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    /// Input tokens served from the provider's cache (counted apart from `input`).
    #[serde(default)]
    pub cached: u64,
}

impl Tokens {
    /// What a token budget counts.
    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

/// Output stream of a job's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One entry of the append-only event log. `seq` is global and strictly increasing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Event {
    pub seq: u64,
    pub time: u64,
    pub job_id: String,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// The job changed (created, state, stats): a full snapshot.
    Job { job: Box<Job> },
    /// One line of output, without its newline. `partial` marks a piece of an over-long line
    /// that continues in the next output event of the same stream.
    Output {
        stream: Stream,
        line: String,
        #[serde(default, skip_serializing_if = "is_false")]
        partial: bool,
    },
    /// Something the engine wants the user to know about a job (setup started, a copy skipped).
    Notice { level: Level, message: String },
    /// The agent took a step (an assistant turn or a tool call), parsed from its output.
    Step {
        /// 1-based.
        n: u64,
        tool: Option<String>,
        text: String,
    },
    /// The agent's final answer.
    Summary { text: String },
    /// A piece of the agent's conversation, parsed from its output (the app's transcript).
    Transcript { entry: Entry },
}

/// One piece of an agent's conversation, as the transcript shows it. Long texts are cut (the
/// raw output keeps everything).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    /// The agent's words (markdown).
    Text { text: String },
    /// A tool call: `brief` is its key input (the command, the path, the pattern); `input` all
    /// of it.
    Tool {
        id: String,
        name: String,
        brief: String,
        #[cfg_attr(test, ts(type = "unknown"))]
        input: serde_json::Value,
    },
    /// The result of the tool call `id`; `error` when it failed.
    Result {
        id: String,
        output: String,
        error: bool,
    },
    /// The agent's plan or todo list, as it stands now.
    Plan { items: Vec<PlanItem> },
    /// The agent finished a turn; the job's tokens and cost so far.
    Turn {
        tokens: Tokens,
        cost_usd: Option<f64>,
    },
}

/// One item of an agent's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PlanItem {
    pub text: String,
    /// `pending`, `in_progress` or `completed`.
    pub status: String,
}

fn is_false(b: &bool) -> bool {
    !*b
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
}

/// What a job's agent is told besides its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ContextMode {
    TaskOnly,
    Full,
}

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

/// `POST /v1/trust`: trust `repo` at the content whose `hash` the user was shown (refused when
/// it changed since). `DELETE /v1/trust?repo=` takes trust back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TrustRequest {
    pub repo: String,
    pub hash: String,
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

/// The one error shape at every edge: a machine-readable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For a change of several settings: each field's own problem, to show beside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

/// What is wrong with one field of a request (a settings key), in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FieldProblem {
    pub key: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    PathNotFound,
    NotARepo,
    BareRepo,
    EmptyRepo,
    BadBase,
    UnknownAgent,
    UnknownTaskType,
    UnknownJob,
    AmbiguousJob,
    /// The job is in a state that does not allow this (still running, already merged...).
    InvalidState,
    /// Merge refusals, each its own code so a client can offer the way out:
    /// the job's changes conflict with the target (rebase the job).
    Conflict,
    /// The user's uncommitted changes in the target's checkout are on files the merge changes
    /// (commit or stash them, or autostash).
    DirtyOverlap,
    /// The target branch moved in a way that forbids this (undo after new commits, a ref that
    /// moved during the merge).
    TargetMoved,
    /// A git lock (`index.lock`, a ref lock) is held in the repository or a checkout.
    LockHeld,
    /// A rebase, merge, cherry-pick, revert, am or bisect is in progress in the target's
    /// checkout, or an interrupted merge could not be repaired yet.
    OperationInProgress,
    /// Undo of a job that has no merge to undo.
    NothingToUndo,
    /// The job's repository was moved or deleted.
    RepoGone,
    /// The repository's configuration runs commands the user has not trusted (`sidekick trust`).
    Untrusted,
    /// A process inside a job's sandbox asked for something only the user may do (merge, trust,
    /// answer, discard, ...).
    Confined,
    /// The repository's commit hook refused the merge commit (`[merge] hooks`).
    HookFailed,
    /// The disk holding a checkout has too little room for what the merge writes there.
    NoRoom,
    /// The host holds as many connections or event streams of this kind as it takes; try again
    /// once some have closed.
    Busy,
    Config,
    Git,
    Io,
    ShuttingDown,
    Internal,
}

impl ErrorCode {
    /// The HTTP status the host answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::UnknownJob => 404,
            ErrorCode::InvalidState
            | ErrorCode::Conflict
            | ErrorCode::DirtyOverlap
            | ErrorCode::TargetMoved
            | ErrorCode::LockHeld
            | ErrorCode::OperationInProgress
            | ErrorCode::NothingToUndo
            | ErrorCode::RepoGone
            | ErrorCode::HookFailed => 409,
            ErrorCode::NoRoom => 507,
            ErrorCode::Untrusted | ErrorCode::Confined => 403,
            ErrorCode::ShuttingDown | ErrorCode::Busy => 503,
            ErrorCode::Config | ErrorCode::Git | ErrorCode::Io | ErrorCode::Internal => 500,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_in(state: JobState) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": "01a", "codename": "a-b", "state": state, "agent": "shell", "task": "t",
            "repo": "/r", "branch": "sidekick/a-b", "worktree": "/w", "base_rev": "HEAD",
            "base_commit": "c", "base_branch": null, "head_commit": null, "exit_code": null,
            "reason": null, "parent_id": null, "timeout_ms": 1, "created_at": 1,
            "started_at": null, "ended_at": null, "duration_ms": null, "queue_position": null,
            "files_changed": null, "insertions": null, "deletions": null, "log_path": "/l",
        }))
        .expect("a job")
    }

    #[test]
    fn counts_split_running_queued_and_waiting_for_review() {
        use JobState::*;
        let jobs: Vec<Job> = [
            Running,
            Starting,
            Queued,
            Completed,
            Failed,
            Merged,
            Discarded,
            Interrupted,
            Waiting,
        ]
        .into_iter()
        .map(job_in)
        .collect();
        assert_eq!(
            Counts::of(&jobs),
            Counts {
                waiting: 1,
                running: 2,
                queued: 1,
                review: 3
            }
        );
        assert_eq!(Counts::of(&[]), Counts::default());
        // Nothing to review: a job that changed no file, or one the user put away.
        let mut empty = job_in(Completed);
        empty.files_changed = Some(0);
        let mut archived = job_in(Failed);
        archived.archived = true;
        let mut changed = job_in(Failed);
        changed.files_changed = Some(2);
        assert_eq!(empty.attention(), Attention::Closed);
        assert_eq!(archived.attention(), Attention::Closed);
        assert_eq!(changed.attention(), Attention::Review);
        assert_eq!(Counts::of(&[empty, archived, changed]).review, 1);
        assert_eq!(Stopping.attention(), Attention::Running);
        assert_eq!(Timeout.attention(), Attention::Review);
        assert_eq!(Cancelled.attention(), Attention::Review);
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for st in JobState::ALL {
            assert_eq!(JobState::parse(st.as_str()), Some(st));
            let json = serde_json::to_string(&st).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert_eq!(JobState::parse("nope"), None);
    }

    #[test]
    fn active_and_ended_partition_the_states() {
        for st in JobState::ALL {
            assert_ne!(st.is_active(), st.has_ended(), "{st}");
            if st.is_live() {
                assert!(st.is_active());
            }
        }
    }

    #[test]
    fn output_event_json_is_flat_and_tagged() {
        let ev = Event {
            seq: 7,
            time: 1,
            job_id: "j".into(),
            body: EventBody::Output {
                stream: Stream::Stderr,
                line: "hi".into(),
                partial: false,
            },
        };
        let json = serde_json::to_value(&ev).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"seq":7,"time":1,"job_id":"j","kind":"output","stream":"stderr","line":"hi"})
        );
        let back: Event = serde_json::from_value(json).expect("event parses back");
        assert_eq!(back, ev);
    }

    #[test]
    fn error_codes_map_to_http_statuses() {
        assert_eq!(ErrorCode::UnknownJob.http_status(), 404);
        assert_eq!(ErrorCode::BareRepo.http_status(), 400);
        assert_eq!(ErrorCode::Internal.http_status(), 500);
        let e = ApiError::new(ErrorCode::AmbiguousJob, "x");
        let json = serde_json::to_string(&e).unwrap_or_default();
        assert_eq!(json, r#"{"code":"ambiguous_job","message":"x"}"#);
    }
}
