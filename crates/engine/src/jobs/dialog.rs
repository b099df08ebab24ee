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

use serde_json::Value;
use sidekick_protocol::{AnswerRequest, Job, JobState, Level, Request};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use sidekick_agents::dialect::{
    self, acp_answer, acp_new_session, claude_answer, codex_answer, user_message, Dialect,
};

use crate::jobs::handle::JobHandle;
use crate::jobs::messages::Control;
use crate::{lock, Engine, EngineError, Inner, Result};
use sidekick_store::ledger;
use sidekick_store::NewEvent;

/// How long the dialog lets a loaded session's replay run before it marks its end (Gemini CLI
/// keeps replaying after its answer to `session/load`; replaying is writing, so it is quick).
const REPLAY_QUIET: Duration = Duration::from_millis(500);

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
    let mut next_turn = sidekick_agents::parse::acp::FIRST_PROMPT_ID;
    debug_assert_eq!(next_turn, sidekick_agents::parse::codex_app::FIRST_TURN_ID);
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
                dialect::replayed_marker()
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
            detail: dialect::detail(&tool, &input),
            preview: sidekick_agents::preview::of(&tool, &input),
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
