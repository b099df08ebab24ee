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

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use sidekick_agents::dialect::{
    self, acp_answer, acp_new_session, claude_answer, codex_answer, user_message, Dialect,
};

use crate::jobs::handle::JobHandle;
use crate::jobs::messages::Control;

/// How long the dialog lets a loaded session's replay run before it marks its end (Gemini CLI
/// keeps replaying after its answer to `session/load`; replaying is writing, so it is quick).
const REPLAY_QUIET: Duration = Duration::from_millis(500);

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
