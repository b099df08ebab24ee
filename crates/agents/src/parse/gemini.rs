//! Gemini CLI's `--output-format stream-json`: messages and tool calls in turns, stats at
//! the end.

use super::*;

/// Gemini CLI `stream-json`: `init` (session), assistant `message` chunks, `tool_use`, and a
/// final `result` with `stats`.
#[derive(Default)]
pub(super) struct Gemini {
    /// The assistant text of the current turn (chunks arrive as deltas).
    turn: String,
    in_turn: bool,
    last_turn: Option<String>,
}

impl Gemini {
    fn close_turn(&mut self, out: &mut Vec<Parsed>) {
        if self.in_turn {
            let text = std::mem::take(&mut self.turn);
            out.push(Parsed::Step {
                tool: None,
                text: one_line(&text),
            });
            out.extend(text_entry(&text));
            self.last_turn = Some(text);
            self.in_turn = false;
        }
    }
}

impl Parser for Gemini {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        let Some(v) = json(line) else { return };
        match v.get("type").and_then(Value::as_str) {
            Some("init") => {
                if let Some(id) = text(&v, "session_id") {
                    out.push(Parsed::Session(id));
                }
            }
            Some("message") if v["role"] == "assistant" => {
                let chunk = v["content"].as_str().unwrap_or("");
                self.turn.push_str(chunk);
                self.in_turn = true;
            }
            Some("tool_use") => {
                self.close_turn(out);
                out.push(Parsed::Step {
                    tool: text(&v, "tool_name"),
                    text: brief(v.get("parameters")),
                });
                out.push(tool_entry(
                    text(&v, "tool_id").unwrap_or_default(),
                    text(&v, "tool_name").unwrap_or_default(),
                    &v["parameters"],
                ));
            }
            Some("tool_result") => {
                let output = match &v["output"] {
                    Value::Null => content_text(&v["error"]["message"]),
                    o => content_text(o),
                };
                out.push(result_entry(
                    text(&v, "tool_id").unwrap_or_default(),
                    &output,
                    v["status"] == "error",
                ));
            }
            Some("result") => {
                self.close_turn(out);
                let stats = &v["stats"];
                out.push(Parsed::Usage {
                    input: number(stats, "input_tokens"),
                    output: number(stats, "output_tokens"),
                    cached: number(stats, "cached"),
                    cost_usd: None,
                });
                if let Some(text) = self.last_turn.take() {
                    out.push(Parsed::Summary(text));
                }
                out.push(turn_entry());
            }
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Parsed>) {
        self.close_turn(out);
        if let Some(text) = self.last_turn.take() {
            out.push(Parsed::Summary(text));
        }
    }
}
