//! What passes between a job's output pump, its handle, its dialog and the scheduler, with no
//! part of the engine behind it: the agent's progress, what it said that its dialog acts on,
//! what the dialog writes back, why a job stops, what a handle may ask of the scheduler
//! ([`Slots`]), and the words a reply goes to an agent in. Kept apart so that each of them
//! imports this and none imports another in a circle.

use std::time::Duration;

use serde_json::Value;
use sidekick_store::JobRecord;
use tokio::sync::watch;

use crate::Result;

/// What the agent has reported so far (parsed from its stdout).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Progress {
    pub steps: u64,
    pub tokens: sidekick_protocol::Tokens,
    pub cost_usd: Option<f64>,
    pub summary: Option<String>,
    pub session: Option<String>,
    /// What earlier turns of the job used (the agent reports each run's own totals).
    pub earlier_tokens: sidekick_protocol::Tokens,
    pub earlier_cost_usd: Option<f64>,
    /// Why the agent said it cannot go on (agents in a dialog); the job fails with it.
    pub failure: Option<String>,
    /// The agent named its session in this run.
    pub opened: bool,
}

impl Progress {
    /// Progress that goes on from what the job's earlier turns reported: steps, tokens and
    /// cost add up across turns (so do the job's budgets).
    pub fn continuing(rec: &sidekick_store::JobRecord) -> Progress {
        Progress {
            steps: rec.job.steps,
            tokens: rec.job.tokens,
            cost_usd: rec.job.cost_usd,
            summary: rec.job.summary.clone(),
            session: rec.session.clone(),
            earlier_tokens: rec.job.tokens,
            earlier_cost_usd: rec.job.cost_usd,
            failure: None,
            opened: false,
        }
    }

    /// Copies the figures into a job record (before the runner saves it).
    pub fn apply(&self, rec: &mut sidekick_store::JobRecord) {
        rec.job.steps = self.steps;
        rec.job.tokens = self.tokens;
        rec.job.cost_usd = self.cost_usd;
        rec.job.summary = self.summary.clone();
        if self.session.is_some() {
            rec.session = self.session.clone();
        }
    }
}

/// What the agent said that its dialog acts on (agents in a dialog): a request for the user,
/// or the end of its answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Said {
    Ask {
        id: String,
        tool: String,
        input: serde_json::Value,
        suggestions: serde_json::Value,
    },
    TurnEnded,
    Heard,
    SessionReady(String),
    /// The agent cannot go on: the dialog ends.
    Failed,
    /// A request of the agent's that gets an error answer.
    Unanswerable {
        id: String,
        method: String,
    },
    /// The session was loaded; its history is being replayed.
    Loaded,
    /// The session could not be loaded.
    SessionLost(String),
}

/// What the runner's dialog task writes to the agent.
#[derive(Debug)]
pub(crate) enum Control {
    /// The user's answer to request `id`.
    Answer {
        id: String,
        allow: bool,
        /// For the rest of the job, as the agent defines it.
        always: bool,
        /// The tool's input, unchanged (Claude Code requires it with an allow).
        input: Value,
        /// What the agent offered with the request: Claude Code's rules to remember, ACP's
        /// options.
        offered: Value,
        message: Option<String>,
    },
    /// A reply while the agent works: its next turn.
    Say(String),
    /// The agent finished answering a message.
    TurnEnded,
    /// The agent took a message of the user's from its input.
    Heard,
    /// The agent's session is ready for the task (ACP, Codex).
    SessionReady(String),
    /// The session asked for was loaded and replays its history (ACP).
    Loaded,
    /// The session asked for could not be loaded: a new one takes over (ACP).
    SessionLost,
    /// The agent cannot go on: stdin closes.
    End,
    /// A request of the agent's that Sidekick does not carry: it gets an error answer.
    Refuse { id: String, method: String },
}

/// Why the engine stops a live job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    Cancel,
    ParentEnded(String),
    Shutdown,
    /// The agent reached the job's `max_steps`.
    StepCap(u64),
    /// Writing the job's output hit a full disk (what, where).
    DiskFull(String),
    /// The agent used the job's whole token budget.
    TokenBudget {
        used: u64,
        budget: u64,
    },
}

/// What a job's handle may ask of the scheduler that runs it: stop its job, end its children,
/// give its place to the next queued job, and release its slot when it is done. A trait, so the
/// handle does not name the scheduler that starts the runner holding it.
pub(crate) trait Slots: Send + Sync {
    /// Asks the job to stop (a queued one is cancelled on the spot).
    fn stop(&self, job_id: &str, reason: StopReason) -> Result<()>;
    /// The job has ended: its still-active children end too.
    fn end_children(&self, parent: &JobRecord);
    /// Starts queued jobs where there is room (a job waiting for an answer holds none).
    fn schedule(&self);
    /// The runner is done with the job: its stop handle goes and the next queued job may
    /// start; a job that may merge by itself is then merged, or held with the reason.
    fn release(&self, job_id: &str, stop: &watch::Receiver<Option<StopReason>>);
    /// Writing the job's output hit a full disk: the reserve goes and the job stops.
    fn disk_full(&self, job_id: &str, what: String);
    /// How long a stopped process gets between SIGTERM and SIGKILL.
    fn grace(&self) -> Duration;
}

/// A reply for an agent that does not remember the job: the earlier task as context first.
pub(crate) fn with_earlier_task(task: &str, text: &str) -> String {
    format!(
        "<sidekick-context>\nEarlier in this job you were asked:\n{task}\nYour work so far is in this folder and on its branch.\n</sidekick-context>\n\n{text}"
    )
}
