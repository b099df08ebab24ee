//! A job whose agent can ask (`permission = "ask"`): the agent speaks its own protocol on stdin
//! and stdout. The task is its first message; a permission it asks for becomes a [`Request`] on
//! the job, which goes `waiting` until the user answers (`sidekick allow` / `deny`, the app),
//! and the answer goes back on stdin. When the agent has finished its answer, stdin is closed
//! and it exits. Time spent waiting does not count toward the job's timeout.
//!
//! The dialects: Claude Code's stream-json with `--permission-prompt-tool stdio`
//! (`control_request` / `can_use_tool` out, `control_response` in), the Agent Client Protocol
//! (Gemini CLI `--acp`: `session/request_permission`) and Codex CLI's app-server
//! (`item/commandExecution/requestApproval`, `item/fileChange/requestApproval`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sidekick_protocol::{AnswerRequest, Job, JobState, Level, Request};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::jobs::handle::JobHandle;
use crate::jobs::ledger;
use crate::store::NewEvent;
use crate::{lock, Engine, EngineError, Inner, Result};

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

/// The protocol an agent speaks on stdin and stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Claude Code's stream-json with `--permission-prompt-tool stdio`.
    Claude,
    /// The Agent Client Protocol (Gemini CLI `--acp`): a session in `cwd` (or the earlier one
    /// to `load`: a reply), with the MCP server `mcp` (the `sidekick` program) when jobs get
    /// one.
    Acp {
        cwd: String,
        mcp: Option<String>,
        load: Option<Load>,
    },
    /// Codex CLI's app-server: a thread in `cwd`, or the thread `resume` (a reply, a
    /// follow-up), with the MCP server `mcp` when jobs get one.
    Codex {
        cwd: String,
        resume: Option<String>,
        mcp: Option<String>,
    },
}

/// An ACP session to load, and the prompt that takes over when it cannot be loaded (the reply
/// with the earlier task as context, in a new session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Load {
    pub session: String,
    pub fallback: String,
}

/// How long the dialog lets a loaded session's replay run before it marks its end (Gemini CLI
/// keeps replaying after its answer to `session/load`; replaying is writing, so it is quick).
const REPLAY_QUIET: Duration = Duration::from_millis(500);

/// ACP's `session/new` in `cwd`, offering the MCP server `mcp`.
fn acp_new_session(cwd: &str, mcp: Option<&String>) -> Value {
    json!({"jsonrpc": "2.0", "id": crate::parse::acp::NEW_SESSION_ID, "method": "session/new",
           "params": {"cwd": cwd, "mcpServers": acp_servers(mcp)}})
}

fn acp_servers(mcp: Option<&String>) -> Vec<Value> {
    mcp.iter()
        .map(|exe| json!({"name": "sidekick", "command": exe, "args": ["mcp"], "env": []}))
        .collect()
}

impl Dialect {
    /// What opens the dialog: Claude Code takes the task at once; the others first open a
    /// session, and the task waits for it (`SessionReady`).
    fn opening(&self, prompt: &str) -> Vec<Value> {
        match self {
            Dialect::Claude => vec![user_message(prompt)],
            Dialect::Acp { cwd, mcp, load } => {
                let session = match load {
                    Some(l) => json!({"jsonrpc": "2.0",
                        "id": format!("{}{}", crate::parse::acp::LOAD_PREFIX, l.session),
                        "method": "session/load",
                        "params": {"sessionId": l.session, "cwd": cwd, "mcpServers": acp_servers(mcp.as_ref())}}),
                    None => acp_new_session(cwd, mcp.as_ref()),
                };
                vec![
                    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                        "protocolVersion": 1,
                        "clientCapabilities": {"fs": {"readTextFile": false, "writeTextFile": false}, "terminal": false},
                    }}),
                    session,
                ]
            }
            Dialect::Codex { cwd, resume, mcp } => {
                // What the agent does on its own: edits and commands inside its worktree's
                // sandbox that Codex knows to be safe; anything else is asked.
                let mut settings = json!({"cwd": cwd, "approvalPolicy": "untrusted", "sandbox": "workspace-write"});
                if let Some(exe) = mcp {
                    settings["config"] =
                        json!({"mcp_servers": {"sidekick": {"command": exe, "args": ["mcp"]}}});
                }
                let thread = match resume {
                    Some(thread) => {
                        let mut params = settings;
                        params["threadId"] = json!(thread);
                        json!({"id": crate::parse::codex_app::THREAD_ID, "method": "thread/resume", "params": params})
                    }
                    None => {
                        json!({"id": crate::parse::codex_app::THREAD_ID, "method": "thread/start", "params": settings})
                    }
                };
                vec![
                    json!({"id": 0, "method": "initialize", "params": {
                        "clientInfo": {"name": "sidekick", "title": "Sidekick", "version": env!("CARGO_PKG_VERSION")},
                        "capabilities": null,
                    }}),
                    json!({"method": "initialized"}),
                    thread,
                ]
            }
        }
    }

    /// A message of the user's as a new turn in `session` (the `n`th request of ours).
    fn turn(&self, session: &str, n: u64, text: &str) -> Value {
        match self {
            Dialect::Claude => user_message(text),
            Dialect::Acp { .. } => json!({
                "jsonrpc": "2.0", "id": n, "method": "session/prompt",
                "params": {"sessionId": session, "prompt": [{"type": "text", "text": text}]},
            }),
            Dialect::Codex { .. } => json!({
                "id": n, "method": "turn/start",
                "params": {"threadId": session, "input": [{"type": "text", "text": text, "text_elements": []}]},
            }),
        }
    }

    /// The error answer to a request Sidekick does not carry.
    fn refusal(&self, id: &str, method: &str) -> Value {
        let mut v = json!({"id": json_id(id), "error": {
            "code": -32601,
            "message": format!("Sidekick does not answer {method}"),
        }});
        if matches!(self, Dialect::Acp { .. }) {
            v["jsonrpc"] = json!("2.0");
        }
        v
    }
}

/// A live dialog: where answers go, what the agent proposed to remember per request, and the
/// time spent waiting for the user.
pub(crate) struct Dialog {
    tx: mpsc::UnboundedSender<Control>,
    /// Replies go to the agent while it works; false once its last turn has ended.
    accepting: bool,
    suggestions: HashMap<String, Value>,
    waiting_since: Option<Instant>,
    waited: Duration,
}

impl Dialog {
    pub(crate) fn new(tx: mpsc::UnboundedSender<Control>) -> Dialog {
        Dialog {
            tx,
            accepting: true,
            suggestions: HashMap::new(),
            waiting_since: None,
            waited: Duration::ZERO,
        }
    }
}

/// The tool's input shown usefully: the command line, the path, the pattern.
pub(crate) fn detail(tool: &str, input: &Value) -> String {
    let brief = crate::parse::brief(Some(input));
    if brief.is_empty() {
        tool.to_string()
    } else {
        brief
    }
}

/// A user message on the agent's stdin.
fn user_message(text: &str) -> Value {
    json!({
        "type": "user",
        "message": {"role": "user", "content": [{"type": "text", "text": text}]},
    })
}

/// An id as it came (the JSON of a number stays a number, of a string a string).
fn json_id(id: &str) -> Value {
    serde_json::from_str(id).unwrap_or_else(|_| Value::String(id.to_string()))
}

/// Writes the task, then each answer and each reply sent while the agent works, to the agent's
/// stdin. When the agent ends a turn and has taken every reply written so far, stdin is closed
/// and the agent exits, unless a reply is waiting: the dialog stops taking replies under the
/// dialogs' lock first, so a reply is either written or refused, never lost.
///
/// Claude Code takes a reply at once (it may fold it into the turn under way, or answer it in a
/// turn of its own; it echoes what it takes, and stdin stays open until it has). ACP and Codex
/// run one turn at a time: replies sent meanwhile are kept and go in together as the next turn.
pub(crate) async fn speak(
    handle: JobHandle,
    dialect: Dialect,
    mut stdin: tokio::process::ChildStdin,
    prompt: String,
    mut rx: mpsc::UnboundedReceiver<Control>,
) {
    let mut prompt = prompt;
    for line in dialect.opening(&prompt) {
        if write_line(&mut stdin, &line).await.is_err() {
            return;
        }
    }
    // Replies written that Claude Code has not echoed yet (the task's own echo is not counted).
    let mut unheard: u32 = 0;
    // ACP and Codex: the session, the id of our next turn, and replies kept for it.
    let mut session = String::new();
    let mut next_turn = crate::parse::acp::FIRST_PROMPT_ID;
    debug_assert_eq!(next_turn, crate::parse::codex_app::FIRST_TURN_ID);
    let mut kept: Vec<String> = Vec::new();
    while let Some(control) = rx.recv().await {
        let turn = |text: &str, session: &str, next_turn: &mut u64| {
            *next_turn += 1;
            dialect.turn(session, *next_turn - 1, text)
        };
        let line = match control {
            Control::SessionReady(s) => {
                session = s;
                turn(&prompt, &session, &mut next_turn)
            }
            Control::Heard => {
                unheard = unheard.saturating_sub(1);
                continue;
            }
            Control::End => break,
            Control::Loaded => {
                // The replay has had time to end: a marker request, whose answer comes after
                // it, ends what the parser leaves out.
                tokio::time::sleep(REPLAY_QUIET).await;
                json!({"jsonrpc": "2.0", "id": crate::parse::acp::REPLAYED_ID,
                       "method": "sidekick/replayed", "params": {}})
            }
            Control::SessionLost => match &dialect {
                Dialect::Acp {
                    cwd,
                    mcp,
                    load: Some(load),
                } => {
                    prompt = load.fallback.clone();
                    acp_new_session(cwd, mcp.as_ref())
                }
                _ => break,
            },
            Control::TurnEnded => {
                if unheard > 0 {
                    continue;
                }
                // The last turn is over: replies that got in meanwhile start the next one;
                // otherwise no more replies are taken and stdin closes.
                let next = if kept.is_empty() {
                    handle.stop_taking_replies(&mut rx)
                } else {
                    Some(std::mem::take(&mut kept).join("\n\n"))
                };
                match next {
                    Some(text) => {
                        if dialect == Dialect::Claude {
                            unheard += 1;
                        }
                        turn(&text, &session, &mut next_turn)
                    }
                    None => break,
                }
            }
            Control::Say(text) => {
                if dialect != Dialect::Claude {
                    kept.push(text);
                    continue;
                }
                unheard += 1;
                user_message(&text)
            }
            Control::Refuse { id, method } => dialect.refusal(&id, &method),
            Control::Answer {
                id,
                allow,
                always,
                input,
                offered,
                message,
            } => match &dialect {
                Dialect::Claude => {
                    claude_answer(id, allow, input, always.then_some(offered), message)
                }
                Dialect::Acp { .. } | Dialect::Codex { .. } => {
                    // These protocols carry no reason with a denial: it reaches the agent as
                    // the user's next message.
                    if let Some(m) = message.filter(|_| !allow) {
                        kept.push(format!("I denied that: {m}"));
                    }
                    if matches!(dialect, Dialect::Acp { .. }) {
                        acp_answer(&id, allow, always, &offered)
                    } else {
                        codex_answer(&id, allow, always)
                    }
                }
            },
        };
        if write_line(&mut stdin, &line).await.is_err() {
            break;
        }
    }
    let _ = stdin.shutdown().await;
}

/// Claude Code's `control_response` to a `can_use_tool` request.
fn claude_answer(
    id: String,
    allow: bool,
    input: Value,
    remember: Option<Value>,
    message: Option<String>,
) -> Value {
    let response = if allow {
        let mut r = json!({"behavior": "allow", "updatedInput": input});
        if let Some(rules) = remember.filter(|r| !r.is_null()) {
            r["updatedPermissions"] = rules;
        }
        r
    } else {
        json!({
            "behavior": "deny",
            "message": message.unwrap_or_else(|| "The user denied this.".into()),
        })
    };
    json!({
        "type": "control_response",
        "response": {"subtype": "success", "request_id": id, "response": response},
    })
}

/// The JSON-RPC answer to an ACP `session/request_permission`: the option the agent offered
/// that matches (allow once or always, reject once), or a cancel when it offered none.
fn acp_answer(id: &str, allow: bool, always: bool, options: &Value) -> Value {
    let wanted: &[&str] = match (allow, always) {
        (true, true) => &["allow_always", "allow_once"],
        (true, false) => &["allow_once", "allow_always"],
        (false, _) => &["reject_once", "reject_always"],
    };
    let chosen = wanted.iter().find_map(|kind| {
        options.as_array()?.iter().find(|o| o["kind"] == *kind)?["optionId"]
            .as_str()
            .map(str::to_string)
    });
    let outcome = match chosen {
        Some(option) => json!({"outcome": "selected", "optionId": option}),
        None => json!({"outcome": "cancelled"}),
    };
    json!({"jsonrpc": "2.0", "id": json_id(id), "result": {"outcome": outcome}})
}

/// The answer to a Codex approval: `acceptForSession` (the same command or file change goes
/// through for the rest of the session), `accept`, or `decline` (the agent goes on without it).
fn codex_answer(id: &str, allow: bool, always: bool) -> Value {
    let decision = match (allow, always) {
        (true, true) => "acceptForSession",
        (true, false) => "accept",
        (false, _) => "decline",
    };
    json!({"id": json_id(id), "result": {"decision": decision}})
}

async fn write_line(stdin: &mut tokio::process::ChildStdin, v: &Value) -> std::io::Result<()> {
    let mut line = v.to_string();
    line.push('\n');
    let written = async {
        stdin.write_all(line.as_bytes()).await?;
        stdin.flush().await
    }
    .await;
    if let Err(e) = &written {
        // The agent is gone (it exited, or was stopped): nothing more to say.
        tracing::debug!(error = %e, "the agent's stdin is closed");
    }
    written
}

impl Inner {
    pub(crate) fn open_dialog(&self, job_id: &str, tx: mpsc::UnboundedSender<Control>) {
        lock(&self.dialogs).insert(job_id.to_string(), Dialog::new(tx));
    }

    /// Ends the dialog `tx` belongs to; a newer dialog of the same job (a reply's turn that
    /// started meanwhile) is left alone.
    pub(crate) fn close_dialog(&self, job_id: &str, tx: &mpsc::UnboundedSender<Control>) {
        let mut dialogs = lock(&self.dialogs);
        if dialogs.get(job_id).is_some_and(|d| d.tx.same_channel(tx)) {
            dialogs.remove(job_id);
        }
    }

    /// Time the job has spent waiting for the user so far (a wait under way included).
    pub(crate) fn waited(&self, job_id: &str) -> Duration {
        lock(&self.dialogs)
            .get(job_id)
            .map(|d| d.waited + d.waiting_since.map_or(Duration::ZERO, |t| t.elapsed()))
            .unwrap_or_default()
    }

    /// Passes what the agent said (a turn's end, its session, a request it cannot have
    /// answered...) to the job's dialog, if it still has one.
    pub(crate) fn tell_dialog(&self, job_id: &str, control: Control) {
        if let Some(d) = lock(&self.dialogs).get(job_id) {
            let _ = d.tx.send(control);
        }
    }

    /// The dialog takes no more replies; returns one that got in before (it starts a turn, and
    /// replies are taken again).
    pub(crate) fn stop_taking_replies(
        &self,
        job_id: &str,
        rx: &mut mpsc::UnboundedReceiver<Control>,
    ) -> Option<String> {
        let mut dialogs = lock(&self.dialogs);
        let d = dialogs.get_mut(job_id)?;
        // Under the lock no reply can be sent: whatever is queued is all there is.
        let mut reply = None;
        let mut rest = Vec::new();
        while let Ok(c) = rx.try_recv() {
            match c {
                Control::Say(text) if reply.is_none() => reply = Some(text),
                other => rest.push(other),
            }
        }
        for c in rest {
            let _ = d.tx.send(c);
        }
        d.accepting = reply.is_some();
        reply
    }

    /// A reply to an agent at work: sent as its next message when its dialog still takes
    /// replies. False when it does not (the agent is finishing its last turn).
    pub(crate) fn say(&self, job_id: &str, text: &str) -> bool {
        let dialogs = lock(&self.dialogs);
        match dialogs.get(job_id) {
            Some(d) if d.accepting => d.tx.send(Control::Say(text.to_string())).is_ok(),
            _ => false,
        }
    }

    /// The agent asks the user: the request goes on the job, which waits.
    pub(crate) fn open_request(
        &self,
        job_id: &str,
        id: String,
        tool: String,
        input: Value,
        suggestions: Value,
    ) -> Result<()> {
        // "Allow for the rest of the job" only where the agent proposes what to remember.
        let can_remember = match &suggestions {
            // ACP's options, each of a kind: "always" only when one is offered.
            Value::Array(a) if a.iter().any(|o| o.get("kind").is_some()) => {
                a.iter().any(|o| o["kind"] == "allow_always")
            }
            Value::Array(a) => !a.is_empty(),
            Value::Null => false,
            _ => true,
        };
        let options = if can_remember {
            vec!["allow".into(), "allow_always".into(), "deny".into()]
        } else {
            vec!["allow".into(), "deny".into()]
        };
        let request = Request {
            detail: detail(&tool, &input),
            preview: super::preview::of(&tool, &input),
            id: id.clone(),
            tool,
            input,
            options,
            opened_at: self.now(),
        };
        {
            let mut dialogs = lock(&self.dialogs);
            if let Some(d) = dialogs.get_mut(job_id) {
                d.suggestions.insert(id, suggestions);
                d.waiting_since.get_or_insert_with(Instant::now);
            }
        }
        let now = self.now();
        self.modify(job_id, |rec| {
            if rec.job.requests.iter().any(|r| r.id == request.id) {
                return Ok(((), Vec::new()));
            }
            let notice = format!("the agent asks to use {}: {}", request.tool, request.detail);
            rec.job.requests.push(request);
            if matches!(rec.job.state, JobState::Starting | JobState::Running) {
                ledger::move_to(rec, JobState::Waiting)?;
            }
            let event = NewEvent {
                job_id: rec.job.id.clone(),
                time: now,
                body: sidekick_protocol::EventBody::Notice {
                    level: Level::Warn,
                    message: notice,
                },
            };
            Ok(((), vec![event]))
        })?;
        Ok(())
    }
}

impl Engine {
    /// Answers a request of a job that is waiting: the answer goes to the agent, the request
    /// closes, and the job works again once nothing is left open.
    pub async fn answer(&self, reference: &str, req: AnswerRequest) -> Result<Job> {
        let inner = self.inner.clone();
        let reference = reference.to_string();
        crate::blocking(move || {
            let id = inner.resolve(&reference)?.job.id;
            let now = inner.now();
            let (_, rec) = inner.modify(&id, |rec| {
                let codename = rec.job.codename.clone();
                let position = match &req.request {
                    Some(wanted) => rec.job.requests.iter().position(|r| &r.id == wanted),
                    None => (!rec.job.requests.is_empty()).then_some(0),
                };
                let Some(position) = position else {
                    return Err(EngineError::InvalidState(match &req.request {
                        Some(wanted) => format!("job {codename} has no open request {wanted}"),
                        None => format!("job {codename} has asked nothing that is still open"),
                    }));
                };
                let request = rec.job.requests.remove(position);
                {
                    let gone = || {
                        EngineError::InvalidState(format!(
                            "job {codename}'s agent is no longer there to take an answer"
                        ))
                    };
                    let mut dialogs = lock(&inner.dialogs);
                    let d = dialogs.get_mut(&rec.job.id).ok_or_else(gone)?;
                    let offered = d.suggestions.remove(&request.id).unwrap_or(Value::Null);
                    d.tx.send(Control::Answer {
                        id: request.id.clone(),
                        allow: req.allow,
                        always: req.always,
                        input: request.input.clone(),
                        offered,
                        message: req.message.clone(),
                    })
                    .map_err(|_| gone())?;
                    if rec.job.requests.is_empty() {
                        if let Some(since) = d.waiting_since.take() {
                            d.waited += since.elapsed();
                        }
                    }
                }
                if rec.job.requests.is_empty() && rec.job.state == JobState::Waiting {
                    ledger::move_to(rec, JobState::Running)?;
                }
                let what = match (req.allow, req.always) {
                    (true, true) => "allowed for the rest of the job",
                    (true, false) => "allowed",
                    (false, _) => "denied",
                };
                let mut message = format!("{what}: {} {}", request.tool, request.detail);
                if let Some(m) = req.message.as_deref().filter(|_| !req.allow) {
                    message.push_str(&format!(" ({m})"));
                }
                let event = NewEvent {
                    job_id: rec.job.id.clone(),
                    time: now,
                    body: sidekick_protocol::EventBody::Notice {
                        level: Level::Info,
                        message,
                    },
                };
                Ok(((), vec![event]))
            })?;
            Ok(inner.decorate(rec.job))
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codex_answer_is_its_decision_and_keeps_the_id() {
        assert_eq!(
            codex_answer("0", true, false),
            json!({"id": 0, "result": {"decision": "accept"}})
        );
        assert_eq!(
            codex_answer("\"a-1\"", true, true),
            json!({"id": "a-1", "result": {"decision": "acceptForSession"}})
        );
        // A denial is never an allow, whatever "always" says.
        assert_eq!(
            codex_answer("3", false, true)["result"]["decision"],
            "decline"
        );
    }

    #[test]
    fn each_dialect_opens_its_session_and_starts_turns_in_it() {
        let codex = Dialect::Codex {
            cwd: "/w".into(),
            resume: None,
            mcp: Some("/bin/sidekick".into()),
        };
        let open = codex.opening("task");
        assert_eq!(open[0]["method"], "initialize");
        assert_eq!(open[1], json!({"method": "initialized"}));
        assert_eq!(open[2]["method"], "thread/start");
        assert_eq!(open[2]["params"]["cwd"], "/w");
        assert_eq!(open[2]["params"]["approvalPolicy"], "untrusted");
        // The job's agent gets Sidekick's MCP server in its thread's config.
        assert_eq!(
            open[2]["params"]["config"]["mcp_servers"]["sidekick"],
            json!({"command": "/bin/sidekick", "args": ["mcp"]})
        );
        // Codex's wire has no "jsonrpc" member.
        assert!(open.iter().all(|m| m.get("jsonrpc").is_none()));
        let resumed = Dialect::Codex {
            cwd: "/w".into(),
            resume: Some("th-1".into()),
            mcp: None,
        }
        .opening("task");
        assert_eq!(resumed[2]["method"], "thread/resume");
        assert_eq!(resumed[2]["params"]["threadId"], "th-1");
        assert_eq!(
            codex.turn("th-1", 4, "go on"),
            json!({"id": 4, "method": "turn/start", "params": {"threadId": "th-1",
                   "input": [{"type": "text", "text": "go on", "text_elements": []}]}})
        );
        assert!(resumed[2]["params"].get("config").is_none());
        let acp = Dialect::Acp {
            cwd: "/w".into(),
            mcp: Some("/bin/sidekick".into()),
            load: None,
        };
        assert_eq!(acp.opening("task")[1]["method"], "session/new");
        assert_eq!(
            acp.opening("task")[1]["params"]["mcpServers"],
            json!([{"name": "sidekick", "command": "/bin/sidekick", "args": ["mcp"], "env": []}])
        );
        assert_eq!(acp.turn("s", 2, "x")["params"]["sessionId"], "s");
        // A reply loads the earlier session (its id in the request's, to find it back).
        let loading = Dialect::Acp {
            cwd: "/w".into(),
            mcp: None,
            load: Some(Load {
                session: "s-9".into(),
                fallback: "context + reply".into(),
            }),
        }
        .opening("reply");
        assert_eq!(loading[1]["method"], "session/load");
        assert_eq!(loading[1]["id"], "load:s-9");
        assert_eq!(loading[1]["params"]["sessionId"], "s-9");
        assert_eq!(acp.refusal("\"r\"", "fs/read_text_file")["id"], "r");
        assert_eq!(acp.refusal("1", "m")["jsonrpc"], "2.0");
        assert_eq!(codex.refusal("9", "m")["error"]["code"], -32601);
        // Claude Code takes the task as its first message.
        assert_eq!(Dialect::Claude.opening("task"), [user_message("task")]);
    }

    #[test]
    fn an_acp_answer_picks_the_option_the_agent_offered() {
        let options = json!([
            {"optionId": "once", "kind": "allow_once"},
            {"optionId": "always", "kind": "allow_always"},
            {"optionId": "no", "kind": "reject_once"},
        ]);
        let pick =
            |allow, always| acp_answer("7", allow, always, &options)["result"]["outcome"].clone();
        assert_eq!(
            pick(true, false),
            json!({"outcome": "selected", "optionId": "once"})
        );
        assert_eq!(
            pick(true, true),
            json!({"outcome": "selected", "optionId": "always"})
        );
        assert_eq!(
            pick(false, false),
            json!({"outcome": "selected", "optionId": "no"})
        );
        // The id goes back as it came (a number stays a number, a string a string).
        assert_eq!(acp_answer("7", true, false, &options)["id"], json!(7));
        assert_eq!(
            acp_answer("\"r-1\"", true, false, &options)["id"],
            json!("r-1")
        );
        // Nothing offered that fits: the request is cancelled, never allowed by accident.
        let only_allow = json!([{"optionId": "once", "kind": "allow_once"}]);
        assert_eq!(
            acp_answer("1", false, false, &only_allow)["result"]["outcome"],
            json!({"outcome": "cancelled"})
        );
    }
}
