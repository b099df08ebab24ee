//! Codex CLI's `exec --json`: items (messages, commands, file changes), turns with usage,
//! and the last agent message as the summary.

use super::*;

/// Codex `exec --json`: `thread.started` (session), `item.completed` items (agent messages,
/// command executions, file changes, tool calls), `turn.completed` with the turn's usage.
#[derive(Default)]
pub(super) struct Codex {
    input: u64,
    output: u64,
    cached: u64,
    last_message: Option<String>,
}

impl Parser for Codex {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        let Some(v) = json(line) else { return };
        match v.get("type").and_then(Value::as_str) {
            Some("thread.started") => {
                if let Some(id) = text(&v, "thread_id") {
                    out.push(Parsed::Session(id));
                }
            }
            Some("item.completed") => {
                let item = &v["item"];
                let kind = item["type"].as_str().unwrap_or("");
                let id = text(item, "id").unwrap_or_default();
                match kind {
                    "agent_message" => {
                        let text = text(item, "text").unwrap_or_default();
                        out.push(Parsed::Step {
                            tool: None,
                            text: one_line(&text),
                        });
                        out.extend(text_entry(&text));
                        self.last_message = Some(text);
                    }
                    "command_execution" => {
                        let command = text(item, "command").unwrap_or_default();
                        let failed = item["exit_code"].as_i64().is_some_and(|c| c != 0)
                            || item["status"] == "failed";
                        // The script, not its `/bin/bash -lc "…"` wrapper (kept as `run`).
                        let script = super::unwrap_shell(&command);
                        let input = if script == command {
                            serde_json::json!({ "command": command })
                        } else {
                            serde_json::json!({ "command": script, "run": command })
                        };
                        finished_call(
                            out,
                            id,
                            "shell",
                            one_line(&script),
                            &input,
                            item["aggregated_output"].as_str().unwrap_or(""),
                            failed,
                        );
                    }
                    "file_change" => {
                        let paths: Vec<String> = item["changes"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|c| text(c, "path")).collect())
                            .unwrap_or_default();
                        let paths = paths.join(", ");
                        finished_call(
                            out,
                            id,
                            "edit",
                            paths.clone(),
                            &serde_json::json!({ "path": paths, "changes": item["changes"] }),
                            item["status"].as_str().unwrap_or(""),
                            item["status"] == "failed",
                        );
                    }
                    "mcp_tool_call" | "web_search" => out.push(Parsed::Step {
                        tool: text(item, "tool").or_else(|| Some(kind.to_string())),
                        text: one_line(
                            &text(item, "query")
                                .or_else(|| text(item, "server"))
                                .unwrap_or_default(),
                        ),
                    }),
                    _ => {}
                }
            }
            Some("turn.completed") => {
                let usage = &v["usage"];
                self.input = self.input.saturating_add(number(usage, "input_tokens"));
                self.cached = self
                    .cached
                    .saturating_add(number(usage, "cached_input_tokens"));
                self.output = self.output.saturating_add(number(usage, "output_tokens"));
                out.push(Parsed::Usage {
                    input: self.input,
                    output: self.output,
                    cached: self.cached,
                    cost_usd: None,
                });
                out.push(turn_entry());
            }
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) {
        if let Some(text) = self.last_message.take() {
            out.push(Parsed::Summary(text));
        }
    }
}
