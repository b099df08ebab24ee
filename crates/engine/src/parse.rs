//! Reading what an agent reports: each output format's lines turned into steps (one per
//! assistant turn or tool call), token usage, cost and the final summary. A line a parser does
//! not understand is simply not an event: it stays in the job's raw output like every line.

use serde_json::Value;

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
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::ClaudeStream => "claude-stream-json",
            Format::CodexJson => "codex-json",
            Format::GeminiStream => "gemini-stream-json",
            Format::AiderText => "aider-text",
        }
    }

    /// The format called `name`; unknown names read as plain output.
    pub fn from_name(name: &str) -> Format {
        [
            Format::ClaudeStream,
            Format::CodexJson,
            Format::GeminiStream,
            Format::AiderText,
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

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A short one-line description of a tool call's input.
fn brief(input: Option<&Value>) -> String {
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

fn one_line(text: &str) -> String {
    shorten(text.lines().next().unwrap_or(""), 200)
}

/// `line` trimmed, and cut to `max` characters with an ellipsis when longer.
pub(crate) fn shorten(line: &str, max: usize) -> String {
    let line = line.trim();
    if line.chars().count() > max {
        line.chars().take(max - 1).chain(['…']).collect()
    } else {
        line.to_string()
    }
}

/// Claude Code: `system/init` (session), `assistant` messages whose content holds text and
/// `tool_use` blocks (with per-message usage), and a final `result` with the answer, total
/// usage and `total_cost_usd`.
#[derive(Default)]
struct Claude {
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
                if let Some(id) = s(&v, "session_id") {
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
                        tool: s(t, "name"),
                        text: brief(t.get("input")),
                    });
                }
                let usage = &msg["usage"];
                if usage.is_object() {
                    self.input +=
                        u(usage, "input_tokens") + u(usage, "cache_creation_input_tokens");
                    self.cached += u(usage, "cache_read_input_tokens");
                    self.output += u(usage, "output_tokens");
                    out.push(self.usage(None));
                }
            }
            Some("result") => {
                let usage = &v["usage"];
                if usage.is_object() {
                    self.input = u(usage, "input_tokens") + u(usage, "cache_creation_input_tokens");
                    self.cached = u(usage, "cache_read_input_tokens");
                    self.output = u(usage, "output_tokens");
                }
                let cost = v
                    .get("total_cost_usd")
                    .or_else(|| v.get("cost_usd"))
                    .and_then(Value::as_f64);
                out.push(self.usage(cost));
                if let Some(text) = s(&v, "result") {
                    out.push(Parsed::Summary(text));
                }
                self.done = true;
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

/// Codex `exec --json`: `thread.started` (session), `item.completed` items (agent messages,
/// command executions, file changes, tool calls), `turn.completed` with the turn's usage.
#[derive(Default)]
struct Codex {
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
                if let Some(id) = s(&v, "thread_id") {
                    out.push(Parsed::Session(id));
                }
            }
            Some("item.completed") => {
                let item = &v["item"];
                let kind = item["type"].as_str().unwrap_or("");
                match kind {
                    "agent_message" => {
                        let text = s(item, "text").unwrap_or_default();
                        out.push(Parsed::Step {
                            tool: None,
                            text: one_line(&text),
                        });
                        self.last_message = Some(text);
                    }
                    "command_execution" => out.push(Parsed::Step {
                        tool: Some("shell".into()),
                        text: one_line(&s(item, "command").unwrap_or_default()),
                    }),
                    "file_change" => {
                        let paths: Vec<String> = item["changes"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|c| s(c, "path")).collect())
                            .unwrap_or_default();
                        out.push(Parsed::Step {
                            tool: Some("edit".into()),
                            text: paths.join(", "),
                        });
                    }
                    "mcp_tool_call" | "web_search" => out.push(Parsed::Step {
                        tool: s(item, "tool").or_else(|| Some(kind.to_string())),
                        text: one_line(
                            &s(item, "query")
                                .or_else(|| s(item, "server"))
                                .unwrap_or_default(),
                        ),
                    }),
                    _ => {}
                }
            }
            Some("turn.completed") => {
                let usage = &v["usage"];
                self.input += u(usage, "input_tokens");
                self.cached += u(usage, "cached_input_tokens");
                self.output += u(usage, "output_tokens");
                out.push(Parsed::Usage {
                    input: self.input,
                    output: self.output,
                    cached: self.cached,
                    cost_usd: None,
                });
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

/// Gemini CLI `stream-json`: `init` (session), assistant `message` chunks, `tool_use`, and a
/// final `result` with `stats`.
#[derive(Default)]
struct Gemini {
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
                if let Some(id) = s(&v, "session_id") {
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
                    tool: s(&v, "tool_name"),
                    text: brief(v.get("parameters")),
                });
            }
            Some("result") => {
                self.close_turn(out);
                let stats = &v["stats"];
                out.push(Parsed::Usage {
                    input: u(stats, "input_tokens"),
                    output: u(stats, "output_tokens"),
                    cached: u(stats, "cached"),
                    cost_usd: None,
                });
                if let Some(text) = self.last_turn.take() {
                    out.push(Parsed::Summary(text));
                }
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

/// Aider prints text: `Applied edit to PATH` for each edit, and after each exchange
/// `Tokens: 2.3k sent, 456 received. Cost: $0.01 message, $0.05 session.`
#[derive(Default)]
struct Aider {
    input: u64,
    output: u64,
    cached: u64,
}

/// `2.3k` → 2300, `1.2M` → 1_200_000, `456` → 456.
fn count(text: &str) -> Option<u64> {
    let t = text.trim().replace(',', "");
    let (num, mult) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1_000.0),
        'm' | 'M' => (&t[..t.len() - 1], 1_000_000.0),
        _ => (t.as_str(), 1.0),
    };
    num.parse::<f64>().ok().map(|n| (n * mult).round() as u64)
}

impl Parser for Aider {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        let line = line.trim();
        if let Some(path) = line.strip_prefix("Applied edit to ") {
            out.push(Parsed::Step {
                tool: Some("edit".into()),
                text: path.to_string(),
            });
            return;
        }
        let Some(rest) = line.strip_prefix("Tokens: ") else {
            return;
        };
        // "2.3k sent, 456 received. Cost: $0.01 message, $0.05 session."
        let mut sent = None;
        let mut received = None;
        let mut cached = 0;
        let (tokens, cost) = rest.split_once("Cost:").unwrap_or((rest, ""));
        for part in tokens.split(',') {
            let part = part.trim().trim_end_matches('.');
            if let Some(n) = part.strip_suffix(" sent") {
                sent = count(n);
            } else if let Some(n) = part.strip_suffix(" received") {
                received = count(n);
            } else if let Some(n) = part.strip_suffix(" cache hit") {
                cached = count(n).unwrap_or(0);
            }
        }
        let session_cost = cost
            .split(',')
            .find(|p| p.contains("session"))
            .and_then(|p| p.trim().trim_start_matches('$').split(' ').next())
            .and_then(|n| n.parse::<f64>().ok());
        if let (Some(input), Some(output)) = (sent, received) {
            // Aider reports each exchange; the session cost is already a running total.
            out.push(Parsed::Step {
                tool: None,
                text: format!("exchange: {input} tokens sent, {output} received"),
            });
            self.input += input;
            self.output += output;
            self.cached += cached;
            out.push(Parsed::Usage {
                input: self.input,
                output: self.output,
                cached: self.cached,
                cost_usd: session_cost,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: Format, lines: &[&str]) -> Vec<Parsed> {
        let mut p = format.parser().expect("a parser");
        let mut out = Vec::new();
        for l in lines {
            p.line(l, &mut out);
        }
        p.finish(&mut out);
        out
    }

    fn steps(out: &[Parsed]) -> Vec<(Option<String>, String)> {
        out.iter()
            .filter_map(|p| match p {
                Parsed::Step { tool, text } => Some((tool.clone(), text.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn claude_steps_usage_cost_and_result() {
        let out = run(
            Format::ClaudeStream,
            &[
                r#"{"type":"system","subtype":"init","session_id":"s-1","tools":["Write"]}"#,
                r#"{"type":"assistant","message":{"content":[{"type":"text","text":"I'll write it."},{"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"/w/hello.txt","content":"hi"}}],"usage":{"input_tokens":100,"cache_read_input_tokens":20,"output_tokens":30}}}"#,
                r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}}"#,
                "not json at all",
                r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done: wrote hello.txt"}],"usage":{"input_tokens":150,"output_tokens":10}}}"#,
                r#"{"type":"result","subtype":"success","result":"Done: wrote hello.txt","total_cost_usd":0.0123,"num_turns":2,"usage":{"input_tokens":250,"cache_read_input_tokens":20,"output_tokens":40}}"#,
            ],
        );
        assert_eq!(out[0], Parsed::Session("s-1".into()));
        assert_eq!(
            steps(&out),
            vec![
                (Some("Write".into()), "/w/hello.txt".into()),
                (None, "Done: wrote hello.txt".into())
            ]
        );
        assert!(out.contains(&Parsed::Usage {
            input: 250,
            output: 40,
            cached: 20,
            cost_usd: Some(0.0123)
        }));
        assert_eq!(
            out.last(),
            Some(&Parsed::Summary("Done: wrote hello.txt".into()))
        );
    }

    #[test]
    fn codex_items_turn_usage_and_last_message() {
        let out = run(
            Format::CodexJson,
            &[
                r#"{"type":"thread.started","thread_id":"th-9"}"#,
                r#"{"type":"turn.started"}"#,
                r#"{"type":"item.completed","item":{"id":"i0","type":"reasoning","text":"thinking"}}"#,
                r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"ls -la","aggregated_output":"","exit_code":0,"status":"completed"}}"#,
                r#"{"type":"item.completed","item":{"id":"i2","type":"file_change","changes":[{"path":"a.txt","kind":"add"}],"status":"completed"}}"#,
                r#"{"type":"item.completed","item":{"id":"i3","type":"agent_message","text":"Created a.txt"}}"#,
                r#"{"type":"turn.completed","usage":{"input_tokens":500,"cached_input_tokens":100,"output_tokens":60}}"#,
            ],
        );
        assert_eq!(out[0], Parsed::Session("th-9".into()));
        assert_eq!(
            steps(&out),
            vec![
                (Some("shell".into()), "ls -la".into()),
                (Some("edit".into()), "a.txt".into()),
                (None, "Created a.txt".into())
            ]
        );
        assert!(out.contains(&Parsed::Usage {
            input: 500,
            output: 60,
            cached: 100,
            cost_usd: None
        }));
        assert_eq!(out.last(), Some(&Parsed::Summary("Created a.txt".into())));
    }

    #[test]
    fn gemini_turns_tools_and_stats() {
        let out = run(
            Format::GeminiStream,
            &[
                r#"{"type":"init","session_id":"g-1","model":"gemini-2.5-pro"}"#,
                r#"{"type":"message","role":"user","content":"do it"}"#,
                r#"{"type":"message","role":"assistant","content":"Writing ","delta":true}"#,
                r#"{"type":"message","role":"assistant","content":"the file.","delta":true}"#,
                r#"{"type":"tool_use","tool_name":"write_file","tool_id":"w1","parameters":{"file_path":"b.txt","content":"x"}}"#,
                r#"{"type":"tool_result","tool_id":"w1","status":"success"}"#,
                r#"{"type":"message","role":"assistant","content":"All done.","delta":true}"#,
                r#"{"type":"result","status":"success","stats":{"total_tokens":900,"input_tokens":800,"output_tokens":100,"tool_calls":1}}"#,
            ],
        );
        assert_eq!(
            steps(&out),
            vec![
                (None, "Writing the file.".into()),
                (Some("write_file".into()), "b.txt".into()),
                (None, "All done.".into())
            ]
        );
        assert!(out.contains(&Parsed::Usage {
            input: 800,
            output: 100,
            cached: 0,
            cost_usd: None
        }));
        assert_eq!(out.last(), Some(&Parsed::Summary("All done.".into())));
    }

    #[test]
    fn aider_edits_and_token_lines() {
        let out = run(
            Format::AiderText,
            &[
                "Aider v0.86.1",
                "Applied edit to src/lib.rs",
                "Tokens: 2.3k sent, 456 received. Cost: $0.01 message, $0.05 session.",
                "Tokens: 1.2k sent, 3.1k cache hit, 10 received.",
            ],
        );
        assert_eq!(steps(&out)[0], (Some("edit".into()), "src/lib.rs".into()));
        assert!(out.contains(&Parsed::Usage {
            input: 2300,
            output: 456,
            cached: 0,
            cost_usd: Some(0.05)
        }));
        assert!(out.contains(&Parsed::Usage {
            input: 3500,
            output: 466,
            cached: 3100,
            cost_usd: None
        }));
    }

    #[test]
    fn a_run_without_a_final_result_still_ends_with_a_summary() {
        let out = run(
            Format::GeminiStream,
            &[r#"{"type":"message","role":"assistant","content":"Half way"}"#],
        );
        assert_eq!(out.last(), Some(&Parsed::Summary("Half way".into())));
        let out = run(
            Format::ClaudeStream,
            &["{\"type\":\"assistant\"", "{}", "[1,2]", ""],
        );
        assert!(out.is_empty(), "malformed lines are not events: {out:?}");
    }
}
