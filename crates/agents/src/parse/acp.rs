//! The Agent Client Protocol (JSON-RPC over stdio; Gemini CLI's `--acp`): the responses to our
//! `session/new` or `session/load` (the session) and `session/prompt` (the turn's end), the
//! agent's `session/update` notifications (its text and tool calls) and its
//! `session/request_permission` requests.
//!
//! A loaded session is replayed as `session/update`s, which Gemini CLI goes on sending after
//! its answer to `session/load`; they are history, not this turn's work. The dialog sends a
//! marker request once the replay has gone quiet, and everything before the marker's answer is
//! left out.

use super::*;

/// Our requests' ids (see `jobs/dialog.rs`): `initialize`, `session/new`, then each prompt;
/// `session/load` is `load:SESSION` and the end-of-replay marker `replayed`.
pub(crate) const NEW_SESSION_ID: u64 = 1;
pub const FIRST_PROMPT_ID: u64 = 2;
pub(crate) const LOAD_PREFIX: &str = "load:";
pub(crate) const REPLAYED_ID: &str = "replayed";

#[derive(Default)]
pub(super) struct Acp {
    /// The agent's words in the turn under way (its summary).
    text: String,
    /// Its words since the last tool call (the transcript's next text entry).
    pending: String,
    /// A loaded session's history is being replayed (until the marker's answer).
    replaying: Option<String>,
    /// A session is ready: its updates are this job's (before, there is only a replay).
    live: bool,
}

impl Acp {
    /// The agent's words since the last tool call, as a transcript entry.
    fn flush(&mut self, out: &mut Vec<Parsed>) {
        out.extend(text_entry(&std::mem::take(&mut self.pending)));
    }
}

impl Parser for Acp {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        let Some(v) = json(line) else { return };
        match (v.get("method").and_then(Value::as_str), v.get("id")) {
            (Some("session/update"), _) if !self.live => {}
            (Some("session/update"), _) => {
                let update = &v["params"]["update"];
                match update["sessionUpdate"].as_str() {
                    Some("agent_message_chunk") => {
                        if let Some(t) = update["content"]["text"].as_str() {
                            self.text.push_str(t);
                            self.pending.push_str(t);
                        }
                    }
                    Some("tool_call") => {
                        self.flush(out);
                        let name = text(update, "kind").or_else(|| text(update, "title"));
                        out.push(Parsed::Step {
                            tool: name.clone(),
                            text: text(update, "title")
                                .map(|t| one_line(&t))
                                .unwrap_or_default(),
                        });
                        let input = match update.get("rawInput").filter(|i| !i.is_null()) {
                            Some(raw) => raw.clone(),
                            None => {
                                serde_json::json!({"description": update["title"], "content": update["content"]})
                            }
                        };
                        out.push(tool_entry(
                            text(update, "toolCallId").unwrap_or_default(),
                            name.unwrap_or_default(),
                            &input,
                        ));
                    }
                    Some("tool_call_update") => {
                        if let Some(status @ ("completed" | "failed")) = update["status"].as_str() {
                            out.push(result_entry(
                                text(update, "toolCallId").unwrap_or_default(),
                                &content_text(&update["content"]),
                                status == "failed",
                            ));
                        }
                    }
                    Some("plan") => out.extend(plan_entry(&update["entries"], "content", "status")),
                    _ => {}
                }
            }
            (Some("session/request_permission"), Some(id)) => {
                let call = &v["params"]["toolCall"];
                let tool = text(call, "kind")
                    .or_else(|| text(call, "title"))
                    .unwrap_or_else(|| "tool".into());
                // Its raw input when it gives one; else the call itself, led by the path it
                // touches (so the request reads as that path, not as JSON).
                let input = match call.get("rawInput").filter(|i| !i.is_null()) {
                    Some(raw) => raw.clone(),
                    None => {
                        let mut input = call.clone();
                        let path = call["locations"][0]["path"]
                            .as_str()
                            .or_else(|| call["content"][0]["path"].as_str());
                        if let (Some(path), Some(o)) = (path, input.as_object_mut()) {
                            o.insert("path".into(), Value::String(path.to_string()));
                        }
                        input
                    }
                };
                out.push(Parsed::Ask {
                    // The JSON of the id, so the answer carries it back exactly.
                    id: id.to_string(),
                    tool,
                    input,
                    suggestions: v["params"]["options"].clone(),
                });
            }
            (Some(method), Some(id)) => out.push(Parsed::Unanswerable {
                id: id.to_string(),
                method: method.to_string(),
            }),
            (None, Some(Value::String(id))) => {
                if let Some(session) = id.strip_prefix(LOAD_PREFIX) {
                    match v.get("error") {
                        // Gone (another machine, deleted): a new session takes over.
                        Some(e) => out.push(Parsed::SessionLost(
                            e["message"]
                                .as_str()
                                .unwrap_or("no reason given")
                                .to_string(),
                        )),
                        None => {
                            out.push(Parsed::Session(session.to_string()));
                            out.push(Parsed::Loaded);
                            self.replaying = Some(session.to_string());
                        }
                    }
                } else if id == REPLAYED_ID {
                    if let Some(session) = self.replaying.take() {
                        self.live = true;
                        out.push(Parsed::SessionReady(session));
                    }
                }
            }
            (None, Some(id)) => {
                let id = id.as_u64().unwrap_or(0);
                if id == NEW_SESSION_ID {
                    match v["result"]["sessionId"].as_str() {
                        Some(s) => {
                            self.live = true;
                            out.push(Parsed::Session(s.to_string()));
                            out.push(Parsed::SessionReady(s.to_string()));
                        }
                        // No session: nothing can run; the dialog ends.
                        None => out.push(Parsed::Failed(format!(
                            "the agent could not open a session: {}",
                            v.get("error")
                                .and_then(|e| e["message"].as_str())
                                .unwrap_or("no session in its answer")
                        ))),
                    }
                } else if id >= FIRST_PROMPT_ID {
                    self.flush(out);
                    out.push(turn_entry());
                    let said = std::mem::take(&mut self.text);
                    if !said.trim().is_empty() {
                        out.push(Parsed::Summary(said.trim().to_string()));
                    }
                    out.push(Parsed::TurnEnded);
                }
            }
            _ => {}
        }
    }
}
