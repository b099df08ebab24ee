//! The wire dialects of agents that ask: what Sidekick writes on an agent's stdin, in its own
//! protocol. Claude Code's stream-json with `--permission-prompt-tool stdio` (`control_response`
//! to a `can_use_tool` request), the Agent Client Protocol (Gemini CLI `--acp`:
//! `session/request_permission`) and Codex CLI's app-server
//! (`item/commandExecution/requestApproval`, `item/fileChange/requestApproval`). What the agent
//! writes back is read by the parsers (`parse/`); the engine's dialog carries the two.

use serde_json::{json, Value};

use crate::parse::{acp, codex_app};

/// The protocol an agent speaks on stdin and stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialect {
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
pub struct Load {
    pub session: String,
    pub fallback: String,
}

/// ACP's `session/new` in `cwd`, offering the MCP server `mcp`.
pub fn acp_new_session(cwd: &str, mcp: Option<&String>) -> Value {
    json!({"jsonrpc": "2.0", "id": acp::NEW_SESSION_ID, "method": "session/new",
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
    pub fn opening(&self, prompt: &str) -> Vec<Value> {
        match self {
            Dialect::Claude => vec![user_message(prompt)],
            Dialect::Acp { cwd, mcp, load } => {
                let session = match load {
                    Some(l) => json!({"jsonrpc": "2.0",
                        "id": format!("{}{}", acp::LOAD_PREFIX, l.session),
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
                        json!({"id": codex_app::THREAD_ID, "method": "thread/resume", "params": params})
                    }
                    None => {
                        json!({"id": codex_app::THREAD_ID, "method": "thread/start", "params": settings})
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
    pub fn turn(&self, session: &str, n: u64, text: &str) -> Value {
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
    pub fn refusal(&self, id: &str, method: &str) -> Value {
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

/// The tool's input shown usefully: the command line, the path, the pattern.
pub fn detail(tool: &str, input: &Value) -> String {
    let brief = crate::parse::brief(Some(input));
    if brief.is_empty() {
        tool.to_string()
    } else {
        brief
    }
}

/// The marker request that ends a loaded session's replay (ACP): its answer comes after the
/// replay, so what the parser leaves out ends there.
pub fn replayed_marker() -> Value {
    json!({"jsonrpc": "2.0", "id": acp::REPLAYED_ID, "method": "sidekick/replayed", "params": {}})
}

/// A user message on the agent's stdin.
pub fn user_message(text: &str) -> Value {
    json!({
        "type": "user",
        "message": {"role": "user", "content": [{"type": "text", "text": text}]},
    })
}

/// An id as it came (the JSON of a number stays a number, of a string a string).
fn json_id(id: &str) -> Value {
    serde_json::from_str(id).unwrap_or_else(|_| Value::String(id.to_string()))
}

/// Claude Code's `control_response` to a `can_use_tool` request.
pub fn claude_answer(
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
pub fn acp_answer(id: &str, allow: bool, always: bool, options: &Value) -> Value {
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
pub fn codex_answer(id: &str, allow: bool, always: bool) -> Value {
    let decision = match (allow, always) {
        (true, true) => "acceptForSession",
        (true, false) => "accept",
        (false, _) => "decline",
    };
    json!({"id": json_id(id), "result": {"decision": decision}})
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
