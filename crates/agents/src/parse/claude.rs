//! Claude Code's `--output-format stream-json`: assistant messages with text and tool uses,
//! usage per message, and a final `result` with the cost.

use super::*;

/// Claude Code: `system/init` (session), `assistant` messages whose content holds text and
/// `tool_use` blocks (with per-message usage), and a final `result` with the answer, total
/// usage and `total_cost_usd`.
#[derive(Default)]
pub(super) struct Claude {
    input: u64,
    output: u64,
    cached: u64,
    done: bool,
}

impl Parser for Claude {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        let Some(v) = json(line) else { return };
        match v.get("type").and_then(Value::as_str) {
            Some("system") => {
                if let Some(id) = text(&v, "session_id") {
                    out.push(Parsed::Session(id));
                }
            }
            Some("assistant") => {
                let msg = &v["message"];
                let content = msg["content"].as_array().cloned().unwrap_or_default();
                let tools: Vec<&Value> =
                    content.iter().filter(|c| c["type"] == "tool_use").collect();
                if tools.is_empty() {
                    let text: Vec<&str> = content
                        .iter()
                        .filter(|c| c["type"] == "text")
                        .filter_map(|c| c["text"].as_str())
                        .collect();
                    if !text.is_empty() {
                        out.push(Parsed::Step {
                            tool: None,
                            text: one_line(&text.join(" ")),
                        });
                    }
                }
                for t in tools {
                    out.push(Parsed::Step {
                        tool: text(t, "name"),
                        text: brief(t.get("input")),
                    });
                }
                // The transcript: the message's blocks in order; a todo list is the plan.
                for block in &content {
                    match block["type"].as_str() {
                        Some("text") => {
                            out.extend(text_entry(block["text"].as_str().unwrap_or("")))
                        }
                        Some("tool_use") => {
                            let name = text(block, "name").unwrap_or_default();
                            let input = block.get("input").cloned().unwrap_or(Value::Null);
                            if name == "TodoWrite" {
                                out.extend(plan_entry(&input["todos"], "content", "status"));
                            }
                            out.push(tool_entry(
                                text(block, "id").unwrap_or_default(),
                                name,
                                &input,
                            ));
                        }
                        _ => {}
                    }
                }
                let usage = &msg["usage"];
                if usage.is_object() {
                    self.input = self.input.saturating_add(
                        number(usage, "input_tokens")
                            .saturating_add(number(usage, "cache_creation_input_tokens")),
                    );
                    self.cached = self
                        .cached
                        .saturating_add(number(usage, "cache_read_input_tokens"));
                    self.output = self.output.saturating_add(number(usage, "output_tokens"));
                    out.push(self.usage(None));
                }
            }
            Some("result") => {
                let usage = &v["usage"];
                if usage.is_object() {
                    self.input = number(usage, "input_tokens")
                        .saturating_add(number(usage, "cache_creation_input_tokens"));
                    self.cached = number(usage, "cache_read_input_tokens");
                    self.output = number(usage, "output_tokens");
                }
                let cost = v
                    .get("total_cost_usd")
                    .or_else(|| v.get("cost_usd"))
                    .and_then(Value::as_f64);
                out.push(self.usage(cost));
                if let Some(text) = text(&v, "result") {
                    out.push(Parsed::Summary(text));
                }
                out.push(turn_entry());
                out.push(Parsed::TurnEnded);
                self.done = true;
            }
            // `--replay-user-messages`: a message of the user's, taken from stdin (a tool's
            // result comes as a user message too, but holds no text block).
            Some("user") => {
                for block in v["message"]["content"].as_array().into_iter().flatten() {
                    if block["type"] == "tool_result" {
                        out.push(result_entry(
                            text(block, "tool_use_id").unwrap_or_default(),
                            &content_text(&block["content"]),
                            block["is_error"] == true,
                        ));
                    }
                }
                let heard = match &v["message"]["content"] {
                    Value::String(_) => true,
                    Value::Array(blocks) => blocks.iter().any(|b| b["type"] == "text"),
                    _ => false,
                };
                if heard {
                    out.push(Parsed::Heard);
                }
            }
            // `--permission-prompt-tool stdio`: a tool that needs approval waits for ours.
            Some("control_request") => {
                let request = &v["request"];
                if request["subtype"] != "can_use_tool" {
                    return;
                }
                let (Some(id), Some(tool)) = (text(&v, "request_id"), text(request, "tool_name"))
                else {
                    return;
                };
                out.push(Parsed::Ask {
                    id,
                    tool,
                    input: request.get("input").cloned().unwrap_or(Value::Null),
                    suggestions: request
                        .get("permission_suggestions")
                        .cloned()
                        .unwrap_or(Value::Null),
                });
            }
            _ => {}
        }
    }
}

impl Claude {
    fn usage(&self, cost_usd: Option<f64>) -> Parsed {
        Parsed::Usage {
            input: self.input,
            output: self.output,
            cached: self.cached,
            cost_usd,
        }
    }
}
