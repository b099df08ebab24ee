//! Codex CLI's app-server (`codex app-server`: JSON-RPC without the `jsonrpc` member, one
//! message a line): the responses to our `thread/start` or `thread/resume` (the thread, which
//! is the session) and `turn/start`, its notifications (`item/completed` items,
//! `thread/tokenUsage/updated`, `turn/completed`) and its requests to the client: approvals of
//! a command (`item/commandExecution/requestApproval`) or a file change
//! (`item/fileChange/requestApproval`) become requests on the job; any other request is
//! answered with an error (Sidekick does not carry it), so the agent never hangs on it.

use std::collections::HashMap;

use serde_json::json;

use super::*;

/// Our requests' ids (see `jobs/dialog.rs`): `initialize`, the thread, then each turn.
pub(crate) const THREAD_ID: u64 = 1;
pub const FIRST_TURN_ID: u64 = 2;

#[derive(Default)]
pub(super) struct CodexApp {
    input: u64,
    output: u64,
    cached: u64,
    /// The agent's last message in the turn under way.
    last_message: Option<String>,
    /// File changes the agent has started, by item id: what a file-change approval is about.
    changes: HashMap<String, Value>,
}

/// The message of a JSON-RPC error or a turn's error, or the whole value.
fn error_text(e: &Value) -> String {
    e.get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string())
}

/// The command an approval is about, as the agent parsed it (`touch a.txt` rather than
/// `/bin/bash -lc 'touch a.txt'`) when it is one command.
fn command_of(params: &Value) -> String {
    let actions: Vec<&str> = params["commandActions"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["command"].as_str()).collect())
        .unwrap_or_default();
    match actions.as_slice() {
        [one] => one.to_string(),
        _ => text(params, "command").unwrap_or_default(),
    }
}

/// A file change's paths and diffs.
fn paths_of(changes: &Value) -> Vec<String> {
    changes
        .as_array()
        .map(|a| a.iter().filter_map(|c| text(c, "path")).collect())
        .unwrap_or_default()
}

impl CodexApp {
    fn item(&mut self, item: &Value, out: &mut Vec<Parsed>) {
        let id = text(item, "id").unwrap_or_default();
        match item["type"].as_str().unwrap_or("") {
            "agentMessage" => {
                let said = text(item, "text").unwrap_or_default();
                if !said.trim().is_empty() {
                    out.push(Parsed::Step {
                        tool: None,
                        text: one_line(&said),
                    });
                    out.extend(text_entry(&said));
                    self.last_message = Some(said);
                }
            }
            "commandExecution" => {
                let command = command_of(item);
                let failed = item["exitCode"].as_i64().is_some_and(|c| c != 0)
                    || matches!(item["status"].as_str(), Some("failed" | "declined"));
                let output = match item["status"].as_str() {
                    Some("declined") => "declined",
                    _ => item["aggregatedOutput"].as_str().unwrap_or(""),
                };
                finished_call(
                    out,
                    id,
                    "shell",
                    one_line(&command),
                    &json!({"command": command, "cwd": item["cwd"]}),
                    output,
                    failed,
                );
            }
            "fileChange" => {
                let paths = paths_of(&item["changes"]).join(", ");
                let status = item["status"].as_str().unwrap_or("");
                finished_call(
                    out,
                    id,
                    "edit",
                    paths.clone(),
                    &json!({"path": paths, "changes": item["changes"]}),
                    status,
                    matches!(status, "failed" | "declined"),
                );
            }
            "mcpToolCall" | "dynamicToolCall" => {
                out.push(Parsed::Step {
                    tool: text(item, "tool"),
                    text: one_line(&text(item, "server").unwrap_or_default()),
                });
                out.push(tool_entry(
                    id.clone(),
                    text(item, "tool").unwrap_or_default(),
                    &item["arguments"],
                ));
                let error = !item["error"].is_null();
                let output = if error {
                    item["error"].to_string()
                } else {
                    content_text(&item["result"]["content"])
                };
                out.push(result_entry(id, &output, error));
            }
            "webSearch" => out.push(Parsed::Step {
                tool: Some("webSearch".into()),
                text: one_line(&text(item, "query").unwrap_or_default()),
            }),
            _ => {}
        }
    }

    fn request(&mut self, id: &Value, method: &str, params: &Value, out: &mut Vec<Parsed>) {
        let (tool, input) = match method {
            "item/commandExecution/requestApproval" => (
                "shell",
                json!({
                    "command": command_of(params),
                    "cwd": params["cwd"],
                    "reason": params["reason"],
                }),
            ),
            "item/fileChange/requestApproval" => {
                let changes = params["itemId"]
                    .as_str()
                    .and_then(|item| self.changes.get(item))
                    .cloned()
                    .unwrap_or(Value::Null);
                (
                    "edit",
                    json!({
                        "path": paths_of(&changes).join(", "),
                        "changes": changes,
                        "reason": params["reason"],
                    }),
                )
            }
            _ => {
                out.push(Parsed::Unanswerable {
                    id: id.to_string(),
                    method: method.to_string(),
                });
                return;
            }
        };
        out.push(Parsed::Ask {
            // The JSON of the id, so the answer carries it back exactly.
            id: id.to_string(),
            tool: tool.into(),
            input,
            // What the agent lets the user choose, when it says (commands).
            suggestions: json!({
                "method": method,
                "availableDecisions": params.get("availableDecisions").cloned().unwrap_or(Value::Null),
            }),
        });
    }
}

impl Parser for CodexApp {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        let Some(v) = json(line) else { return };
        let method = v.get("method").and_then(Value::as_str);
        match (method, v.get("id")) {
            // A request to us.
            (Some(method), Some(id)) => {
                let params = v.get("params").cloned().unwrap_or(Value::Null);
                self.request(id, method, &params, out);
            }
            // The answer to one of ours.
            (None, Some(id)) => {
                let id = id.as_u64().unwrap_or(0);
                let error = v.get("error").map(error_text);
                if id == THREAD_ID {
                    match (v["result"]["thread"]["id"].as_str(), error) {
                        (Some(thread), None) => {
                            out.push(Parsed::Session(thread.to_string()));
                            out.push(Parsed::SessionReady(thread.to_string()));
                        }
                        (_, e) => out.push(Parsed::Failed(format!(
                            "Codex could not open its session: {}",
                            e.unwrap_or_else(|| "no thread in its answer".into())
                        ))),
                    }
                } else if id >= FIRST_TURN_ID {
                    if let Some(e) = error {
                        out.push(Parsed::Failed(format!("Codex refused the message: {e}")));
                    }
                }
            }
            (Some("item/started"), None) => {
                let item = &v["params"]["item"];
                if item["type"] == "fileChange" {
                    if let Some(id) = item["id"].as_str() {
                        self.changes.insert(id.to_string(), item["changes"].clone());
                    }
                }
            }
            (Some("item/completed"), None) => {
                let item = v["params"]["item"].clone();
                if let Some(id) = item["id"].as_str() {
                    self.changes.remove(id);
                }
                self.item(&item, out);
            }
            (Some("thread/tokenUsage/updated"), None) => {
                // `last` is one model call's usage; `total` would count earlier runs of a
                // resumed thread again.
                let last = &v["params"]["tokenUsage"]["last"];
                if !last.is_object() {
                    return;
                }
                self.input = self.input.saturating_add(number(last, "inputTokens"));
                self.cached = self
                    .cached
                    .saturating_add(number(last, "cachedInputTokens"));
                self.output = self.output.saturating_add(number(last, "outputTokens"));
                out.push(Parsed::Usage {
                    input: self.input,
                    output: self.output,
                    cached: self.cached,
                    cost_usd: None,
                });
            }
            (Some("turn/plan/updated"), None) => {
                out.extend(plan_entry(&v["params"]["plan"], "step", "status"));
            }
            (Some("turn/completed"), None) => {
                let turn = &v["params"]["turn"];
                if let Some(said) = self.last_message.take() {
                    out.push(Parsed::Summary(said.trim().to_string()));
                }
                out.push(turn_entry());
                match turn["status"].as_str() {
                    Some("failed") => out.push(Parsed::Failed(format!(
                        "Codex's turn failed: {}",
                        turn.get("error")
                            .filter(|e| !e.is_null())
                            .map(error_text)
                            .unwrap_or_else(|| "no reason given".into())
                    ))),
                    Some("interrupted") => {
                        out.push(Parsed::Failed("Codex's turn was interrupted".into()))
                    }
                    _ => out.push(Parsed::TurnEnded),
                }
            }
            _ => {}
        }
    }
}
