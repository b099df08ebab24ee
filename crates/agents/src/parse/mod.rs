//! Reading what an agent reports: each output format's lines turned into steps (one per
//! assistant turn or tool call), token usage, cost and the final summary. A line a parser does
//! not understand is simply not an event: it stays in the job's raw output like every line.
//! One file per format; this one holds the shared shapes and helpers.

use serde_json::Value;
use sidekick_protocol::{Entry, PlanItem};

pub mod acp;
mod aider;
mod claude;
mod codex;
pub mod codex_app;
mod gemini;

use acp::Acp;
use aider::Aider;
use claude::Claude;
use codex::Codex;
use codex_app::CodexApp;
use gemini::Gemini;

/// The output formats Sidekick can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Nothing to parse (the `shell` agent, user commands).
    Plain,
    /// Claude Code `-p --output-format stream-json`.
    ClaudeStream,
    /// Codex CLI `exec --json`.
    CodexJson,
    /// Gemini CLI `--output-format stream-json`.
    GeminiStream,
    /// Aider's plain text (`Tokens: … sent, … received. Cost: …`).
    AiderText,
    /// The Agent Client Protocol (Gemini CLI `--acp`), in a dialog.
    Acp,
    /// Codex CLI's app-server (`codex app-server`), in a dialog.
    CodexApp,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::ClaudeStream => "claude-stream-json",
            Format::CodexJson => "codex-json",
            Format::GeminiStream => "gemini-stream-json",
            Format::AiderText => "aider-text",
            Format::Acp => "acp",
            Format::CodexApp => "codex-app-server",
        }
    }

    /// The format called `name`; unknown names read as plain output.
    pub fn from_name(name: &str) -> Format {
        [
            Format::ClaudeStream,
            Format::CodexJson,
            Format::GeminiStream,
            Format::AiderText,
            Format::Acp,
            Format::CodexApp,
        ]
        .into_iter()
        .find(|f| f.name() == name)
        .unwrap_or(Format::Plain)
    }

    pub fn parser(self) -> Option<Box<dyn Parser>> {
        match self {
            Format::Plain => None,
            Format::ClaudeStream => Some(Box::new(Claude::default())),
            Format::CodexJson => Some(Box::new(Codex::default())),
            Format::GeminiStream => Some(Box::new(Gemini::default())),
            Format::AiderText => Some(Box::new(Aider::default())),
            Format::Acp => Some(Box::new(Acp::default())),
            Format::CodexApp => Some(Box::new(CodexApp::default())),
        }
    }
}

/// One thing an agent reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// An assistant turn or a tool call; `tool` names the tool.
    Step { tool: Option<String>, text: String },
    /// Tokens used so far in total (not a delta), with the cost where the agent gives it.
    Usage {
        input: u64,
        output: u64,
        cached: u64,
        cost_usd: Option<f64>,
    },
    /// The agent's final answer.
    Summary(String),
    /// The agent's session id, for resuming it later.
    Session(String),
    /// The agent asks permission to use a tool and waits for the answer (agents in a dialog).
    Ask {
        /// The agent's id for the request (the answer names it).
        id: String,
        tool: String,
        input: Value,
        /// What the agent proposes to remember when the user allows it for the rest of the job.
        suggestions: Value,
    },
    /// The agent finished answering the last message (agents in a dialog).
    TurnEnded,
    /// The agent took one of the user's messages from its input (agents in a dialog).
    Heard,
    /// The agent's session is ready for the task (ACP: the answer to `session/new`; Codex's
    /// app-server: to `thread/start`).
    SessionReady(String),
    /// The agent reported that it cannot go on (no session, a failed turn): the dialog ends and
    /// the job fails with this reason.
    Failed(String),
    /// The agent asked something Sidekick does not carry to the user; it gets an error answer.
    Unanswerable { id: String, method: String },
    /// The agent loaded the session asked for and replays its history (ACP `session/load`).
    Loaded,
    /// The session asked for could not be loaded, with why: a new one takes over.
    SessionLost(String),
    /// A piece of the conversation for the transcript. A `Turn` entry's figures are filled in
    /// from the job's totals when it is recorded.
    Entry(Entry),
}

/// A stateful reader of one agent run's stdout, a line at a time.
pub trait Parser: Send {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>);
    /// The output has ended (agents that never print a final result still get a summary).
    fn finish(&mut self, _out: &mut Vec<Parsed>) {}
}

fn json(line: &str) -> Option<Value> {
    let t = line.trim();
    if !t.starts_with('{') {
        return None;
    }
    serde_json::from_str(t).ok()
}

fn number(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A short one-line description of a tool call's input.
pub fn brief(input: Option<&Value>) -> String {
    let Some(input) = input else {
        return String::new();
    };
    for key in [
        "file_path",
        "path",
        "command",
        "pattern",
        "url",
        "description",
    ] {
        if let Some(v) = input.get(key).and_then(Value::as_str) {
            return one_line(v);
        }
    }
    one_line(&input.to_string())
}

/// The script a shell wrapper runs (`/bin/bash -lc "printf hi > a.txt"` → `printf hi > a.txt`),
/// or the command as it is when it is not one quoted script for `sh`, `bash` or `zsh`.
pub(crate) fn unwrap_shell(command: &str) -> String {
    let unwrap = || -> Option<String> {
        let (program, rest) = command.trim().split_once(char::is_whitespace)?;
        let name = program.rsplit('/').next()?;
        if !matches!(name, "sh" | "bash" | "zsh") {
            return None;
        }
        let (flag, script) = rest.trim_start().split_once(char::is_whitespace)?;
        if !matches!(flag, "-c" | "-lc") {
            return None;
        }
        let script = script.trim();
        if script.len() >= 2 && script.starts_with('\'') && script.ends_with('\'') {
            let inner = &script[1..script.len() - 1];
            // `'\''` is how a single quote is written inside single quotes.
            let parts: Vec<&str> = inner.split("'\\''").collect();
            if parts.iter().any(|p| p.contains('\'')) {
                return None;
            }
            return Some(parts.join("'"));
        }
        if script.len() >= 2 && script.starts_with('"') && script.ends_with('"') {
            let mut out = String::new();
            let mut chars = script[1..script.len() - 1].chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(n @ ('"' | '\\' | '$' | '`')) => out.push(n),
                        Some(n) => {
                            out.push('\\');
                            out.push(n);
                        }
                        None => out.push('\\'),
                    },
                    '"' => return None,
                    c => out.push(c),
                }
            }
            return Some(out);
        }
        None
    };
    unwrap().unwrap_or_else(|| command.to_string())
}

/// How much of one text a transcript entry keeps (the raw output keeps all of it).
const ENTRY_TEXT: usize = 32 * 1024;
/// How much of each string inside a tool's input an entry keeps.
const ENTRY_INPUT_STRING: usize = 8 * 1024;

/// `text` cut to what an entry keeps, saying so when it was cut.
fn capped(text: &str) -> String {
    cut(text, ENTRY_TEXT)
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… [{} more bytes in the raw output]",
        &text[..end],
        text.len() - end
    )
}

/// A tool's input with every long string cut.
fn capped_input(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(cut(s, ENTRY_INPUT_STRING)),
        Value::Array(a) => Value::Array(a.iter().map(capped_input).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), capped_input(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The entries of a tool call.
fn tool_entry(id: String, name: String, input: &Value) -> Parsed {
    let brief = match input["todos"].as_array() {
        Some(todos) => format!("{} items", todos.len()),
        None => brief(Some(input)),
    };
    Parsed::Entry(Entry::Tool {
        id,
        brief,
        name,
        input: capped_input(input),
    })
}

fn result_entry(id: String, output: &str, error: bool) -> Parsed {
    Parsed::Entry(Entry::Result {
        id,
        output: capped(output),
        error,
    })
}

/// A tool call that has finished: its step, and the transcript's call and result.
fn finished_call(
    out: &mut Vec<Parsed>,
    id: String,
    name: &str,
    step: String,
    input: &Value,
    output: &str,
    error: bool,
) {
    out.push(Parsed::Step {
        tool: Some(name.into()),
        text: step,
    });
    out.push(tool_entry(id.clone(), name.into(), input));
    out.push(result_entry(id, output, error));
}

fn text_entry(text: &str) -> Option<Parsed> {
    (!text.trim().is_empty()).then(|| {
        Parsed::Entry(Entry::Text {
            text: capped(text.trim()),
        })
    })
}

/// The end of a turn; the job's figures are filled in when it is recorded.
fn turn_entry() -> Parsed {
    Parsed::Entry(Entry::Turn {
        tokens: Default::default(),
        cost_usd: None,
    })
}

/// A plan from items with a text and a status under the given keys.
fn plan_entry(items: &Value, text_key: &str, status_key: &str) -> Option<Parsed> {
    let items: Vec<PlanItem> = items
        .as_array()?
        .iter()
        .filter_map(|i| {
            Some(PlanItem {
                text: i[text_key].as_str()?.to_string(),
                status: i[status_key]
                    .as_str()
                    .map(|s| match s {
                        "inProgress" => "in_progress",
                        other => other,
                    })
                    .unwrap_or("pending")
                    .to_string(),
            })
        })
        .collect();
    Some(Parsed::Entry(Entry::Plan { items }))
}

/// The text of a tool result's content: a string, or text blocks.
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str().or_else(|| b["content"]["text"].as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn one_line(text: &str) -> String {
    shorten(text.lines().next().unwrap_or(""), 200)
}

/// `line` trimmed, and cut to `max` characters with an ellipsis when longer.
pub fn shorten(line: &str, max: usize) -> String {
    let line = line.trim();
    if line.chars().count() > max {
        line.chars().take(max - 1).chain(['…']).collect()
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests;
