//! A job's events: output lines, notices, transcript entries.

use serde::{Deserialize, Serialize};

use crate::{Job, Tokens};

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

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
