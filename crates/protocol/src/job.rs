//! A job: its state, what it asks of the user, its facts, tokens and sandbox.

use serde::{Deserialize, Serialize};

use crate::Request;

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
    /// The pull request the job's branch was pushed to (`sidekick pr`), as last seen.
    #[serde(default)]
    pub pr: Option<crate::PullRequest>,
    /// The job opens a pull request by itself when it completes with changes (`--pr`,
    /// `[pr] open`); it is then never merged locally by itself.
    #[serde(default)]
    pub open_pr: Option<crate::PrOpenMode>,
    /// The issue the job was made from (`--issue N`).
    #[serde(default)]
    pub issue: Option<crate::IssueRef>,
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
