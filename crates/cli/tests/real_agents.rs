//! The real Claude Code, Codex CLI, Gemini CLI and Aider, run through Sidekick against a
//! scripted model server of our own on loopback that speaks the Anthropic Messages API, the
//! OpenAI Responses API, Gemini's generateContent API (streaming) and OpenAI chat completions.
//! Its plan: the first turn calls a tool that creates `hello.txt` in the working directory
//! (Claude Code's Write, Codex's exec_command, Gemini's write_file), the second answers with a
//! final message; Aider gets one reply with an edit that creates the file. The file must land on the job's branch, and steps, tokens and the summary
//! must come from each tool's real machine-readable output.
//!
//! `scripts/setup.sh` installs the pinned tools into `~/.cache/sidekick-agents`; nothing here
//! needs the internet.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::{files_under, s, World};

/// The file the model asks to write, and the answer it ends with.
const FILE: &str = "hello.txt";
const CONTENT: &str = "hello from the scripted model\n";
const ANSWER: &str = "I created hello.txt with a greeting.";
/// The file a reply asks for.
const SECOND: &str = "second.txt";

#[derive(Clone, Default)]
struct Seen {
    /// Every Messages request's body, for the assertions.
    requests: Arc<Mutex<Vec<Value>>>,
}

/// Where Claude Code works: its system prompt names the working directory.
fn working_dir(body: &Value) -> Option<String> {
    let system = match &body["system"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let at = system.find("Working directory: ")? + "Working directory: ".len();
    system[at..].split_whitespace().next().map(str::to_string)
}

fn has_tool_result(body: &Value) -> bool {
    body["messages"].as_array().is_some_and(|ms| {
        ms.iter().any(|m| {
            m["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
        })
    })
}

/// What a main agent asks when it delegates through Sidekick's MCP server.
const DELEGATE: &str = "Ask a sidekick to create hello.txt, wait for it, and tell me what it said.";

/// The tool result a conversation got for the tool call `id`, as text.
fn tool_result(body: &Value, id: &str) -> Option<String> {
    body["messages"].as_array()?.iter().find_map(|m| {
        m["content"].as_array()?.iter().find_map(|b| {
            (b["type"] == "tool_result" && b["tool_use_id"] == id).then(|| match &b["content"] {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            })
        })
    })
}

/// The main agent's plan when it delegates: spawn a sidekick through `mcp__sidekick__spawn`,
/// join it with `mcp__sidekick__wait`, then answer with what the wait returned.
fn delegate_plan(body: &Value) -> (Vec<Value>, &'static str) {
    let Some(started) = tool_result(body, "toolu_spawn") else {
        return (
            vec![
                json!({"type": "tool_use", "id": "toolu_spawn", "name": "mcp__sidekick__spawn",
                        "input": {"task": "Create hello.txt with a greeting.", "agent": "claude"}}),
            ],
            "tool_use",
        );
    };
    let Some(joined) = tool_result(body, "toolu_wait") else {
        // The spawn's answer names the sidekick: join it by its codename.
        let codename = serde_json::from_str::<Value>(&started)
            .ok()
            .and_then(|v| v["codename"].as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        return (
            vec![
                json!({"type": "tool_use", "id": "toolu_wait", "name": "mcp__sidekick__wait",
                        "input": {"job": codename, "timeout_s": 150}}),
            ],
            "tool_use",
        );
    };
    let said = if joined.contains(ANSWER) {
        ANSWER
    } else {
        "nothing"
    };
    (
        vec![json!({"type": "text", "text": format!("The sidekick said: {said}")})],
        "end_turn",
    )
}

/// The reply, as content blocks plus a stop reason.
fn plan(body: &Value) -> (Vec<Value>, &'static str) {
    // Only the main agent's conversation holds the user's delegating request (Claude Code may
    // defer MCP tools behind its tool search, so they need not be in `tools`).
    if body["messages"].to_string().contains(DELEGATE) && body["tools"].is_array() {
        return delegate_plan(body);
    }
    if body["messages"].to_string().contains(RICH) && body["tools"].is_array() {
        return rich_plan(body);
    }
    let offers_write = body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "Write"));
    if !offers_write {
        // A side request (titles, summaries): a short text is enough.
        return (vec![json!({"type": "text", "text": "ok"})], "end_turn");
    }
    // The task wants hello.txt; a reply that names second.txt wants that too. Each file is
    // written once (a tool result for its Write is in the conversation); then the answer.
    let history = body["messages"].to_string();
    let written = |f: &str| history.contains(&format!("\"tool_use_id\":\"toolu_scripted_{f}\""));
    let wanted: Vec<&str> = [FILE, SECOND]
        .into_iter()
        .filter(|f| *f == FILE || history.contains(f))
        .collect();
    let Some(file) = wanted.into_iter().find(|f| !written(f)) else {
        return (vec![json!({"type": "text", "text": ANSWER})], "end_turn");
    };
    // An absolute path when the system prompt names the folder; Claude Code also takes a
    // path relative to where it runs.
    let dir = working_dir(body).unwrap_or_else(|| ".".into());
    (
        vec![
            json!({"type": "text", "text": "I'll write the file."}),
            json!({"type": "tool_use", "id": format!("toolu_scripted_{file}"), "name": "Write",
                   "input": {"file_path": format!("{dir}/{file}"), "content": CONTENT}}),
        ],
        "tool_use",
    )
}

/// A task whose plan holds what a transcript must show well: a command printing colours,
/// unicode and 400 lines, a command that fails, and a markdown answer with a code block.
const RICH: &str = "RICH TRANSCRIPT: show the build output, then read missing-file.txt.";
const RICH_ANSWER: &str = "## Done ✓\n\n- The build printed **400** lines, in colour.\n- `missing-file.txt` does not exist: that command failed.\n\n```rust\nfn main() {\n    println!(\"héllo, 世界\");\n}\n```";

fn rich_plan(body: &Value) -> (Vec<Value>, &'static str) {
    let done = |id: &str| tool_result(body, id).is_some();
    let bash = |id: &str, command: &str, description: &str| {
        json!({"type": "tool_use", "id": id, "name": "Bash",
               "input": {"command": command, "description": description}})
    };
    if !done("toolu_rich_1") {
        return (
            vec![
                json!({"type": "text", "text": "I'll look at the build output first."}),
                bash(
                    "toolu_rich_1",
                    "printf '\\033[32mok\\033[0m ünïcødé ✓ 日本\\n'; seq 1 400",
                    "Print the build output",
                ),
            ],
            "tool_use",
        );
    }
    if !done("toolu_rich_2") {
        return (
            vec![
                json!({"type": "text", "text": "Now the file that should not be there:"}),
                bash(
                    "toolu_rich_2",
                    "cat missing-file.txt",
                    "Read missing-file.txt",
                ),
            ],
            "tool_use",
        );
    }
    (
        vec![json!({"type": "text", "text": RICH_ANSWER})],
        "end_turn",
    )
}

fn sse(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

/// The API key the scripted server refuses, as Anthropic's API does a revoked one.
const REFUSED_KEY: &str = "sk-ant-refused";

async fn messages(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("x-api-key").is_some_and(|k| k == REFUSED_KEY) {
        // As the API answers: not worth another try.
        return (
            StatusCode::UNAUTHORIZED,
            [("x-should-retry", "false")],
            Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
        )
            .into_response();
    }
    seen.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(body.clone());
    let (blocks, stop) = plan(&body);
    let model = body["model"]
        .as_str()
        .unwrap_or("claude-scripted")
        .to_string();
    let usage_in = json!({"input_tokens": 1000, "output_tokens": 1, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0});
    if body["stream"] != true {
        let msg = json!({"id": "msg_scripted", "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": 1000, "output_tokens": 40}});
        return Json(msg).into_response();
    }
    let mut events = vec![(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_scripted", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": usage_in}}),
    )];
    for (i, b) in blocks.iter().enumerate() {
        if b["type"] == "text" {
            events.push(("content_block_start", json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})));
            events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": b["text"]}})));
        } else {
            events.push(("content_block_start", json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}})));
            events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": b["input"].to_string()}})));
        }
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        ));
    }
    events.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 40}}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from(sse(&events)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Codex's Responses API: each file the conversation asks for (the task's, and a reply's that
/// names `second.txt`) is written by a shell command through `exec_command`, once (its output,
/// or its refusal, is in the input); then the answer.
async fn responses(State(seen): State<Seen>, Json(body): Json<Value>) -> Response {
    seen.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(body.clone());
    let history = body["input"].to_string();
    let ran = |f: &str| {
        body["input"].as_array().is_some_and(|items| {
            items.iter().any(|i| {
                i["type"] == "function_call_output" && i["call_id"] == format!("call_scripted_{f}")
            })
        })
    };
    let wanted = [FILE, SECOND]
        .into_iter()
        .filter(|f| *f == FILE || history.contains(f));
    let item = match wanted.into_iter().find(|f| !ran(f)) {
        None => {
            json!({"type": "message", "id": "msg_scripted", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": ANSWER, "annotations": []}]})
        }
        Some(file) => {
            let cmd = format!("printf '{}' > {file}", CONTENT.replace('\n', "\\n"));
            json!({"type": "function_call", "id": "fc_scripted", "call_id": format!("call_scripted_{file}"),
                   "name": "exec_command", "status": "completed",
                   "arguments": json!({"cmd": cmd}).to_string()})
        }
    };
    let response = |status: &str, output: Value| {
        json!({"id": "resp_scripted", "object": "response", "status": status, "output": output,
               "usage": {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200},
                         "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 0},
                         "total_tokens": 1040}})
    };
    let events = [
        (
            "response.created",
            json!({"type": "response.created", "response": response("in_progress", json!([]))}),
        ),
        (
            "response.output_item.added",
            json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        ),
        (
            "response.output_item.done",
            json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
        ),
        (
            "response.completed",
            json!({"type": "response.completed", "response": response("completed", json!([item]))}),
        ),
    ];
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(sse(&events)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Gemini's `models/MODEL:streamGenerateContent?alt=sse` (and the plain `:generateContent`):
/// the first turn calls `write_file`, the next (with the function's response in the contents)
/// answers.
async fn gemini(
    State(seen): State<Seen>,
    uri: axum::http::Uri,
    Json(body): Json<Value>,
) -> Response {
    seen.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(body.clone());
    let parts_of = |b: &Value| -> Vec<Value> {
        b["contents"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    let parts = parts_of(&body);
    let answered = parts.iter().any(|p| p.get("functionResponse").is_some());
    let offers_write = body["tools"].as_array().is_some_and(|ts| {
        ts.iter().any(|t| {
            t["functionDeclarations"]
                .as_array()
                .is_some_and(|fs| fs.iter().any(|f| f["name"] == "write_file"))
        })
    });
    let dir = parts
        .iter()
        .filter_map(|p| p["text"].as_str())
        .find_map(|t| {
            let at = t.find("working in the directory: ")? + "working in the directory: ".len();
            t[at..]
                .split_whitespace()
                .next()
                .map(|d| d.trim_end_matches('.').to_string())
        })
        .unwrap_or_else(|| ".".into());
    let part = if !offers_write || answered {
        json!({"text": if offers_write { ANSWER } else { "ok" }})
    } else {
        json!({"functionCall": {"name": "write_file",
                                "args": {"file_path": format!("{dir}/{FILE}"), "content": CONTENT}}})
    };
    let reply = json!({"candidates": [{"content": {"role": "model", "parts": [part]},
                                       "finishReason": "STOP", "index": 0}],
                       "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 40,
                                         "totalTokenCount": 1040},
                       "modelVersion": "gemini-scripted"});
    if !uri.path().ends_with(":streamGenerateContent") {
        return Json(reply).into_response();
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(format!("data: {reply}\n\n")))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Aider through an OpenAI-compatible `chat/completions`: one reply holding a SEARCH/REPLACE
/// edit that creates the file (Aider applies edits from the text; there are no tool calls).
async fn chat_completions(State(seen): State<Seen>, Json(body): Json<Value>) -> Json<Value> {
    seen.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(body.clone());
    let reply = format!(
        "I'll create {FILE}.\n\n{FILE}\n```\n<<<<<<< SEARCH\n=======\n{CONTENT}>>>>>>> REPLACE\n```\n"
    );
    Json(
        json!({"id": "chatcmpl-scripted", "object": "chat.completion", "created": 1,
                "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": 2400, "completion_tokens": 95, "total_tokens": 2495}}),
    )
}

async fn count_tokens() -> Json<Value> {
    Json(json!({"input_tokens": 1000}))
}

/// Anything else Claude Code asks for (there should be nothing with the non-essential traffic
/// switched off) gets an empty success.
async fn other() -> Json<Value> {
    Json(json!({}))
}

/// The scripted server on 127.0.0.1, on a runtime of its own.
struct ModelServer {
    addr: SocketAddr,
    seen: Seen,
    _rt: tokio::runtime::Runtime,
}

impl ModelServer {
    fn start() -> ModelServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let seen = Seen::default();
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .route("/v1/responses", post(responses))
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1beta/models/{call}", post(gemini))
            .fallback(any(other))
            .with_state(seen.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ModelServer {
            addr,
            seen,
            _rt: rt,
        }
    }

    fn requests(&self) -> Vec<Value> {
        self.seen
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Runs `agent` on the scripted task and checks the file it wrote is on the job's branch.
fn writes_the_file(w: &World, agent: &str) -> Value {
    let task = "Create hello.txt with a greeting.";
    let r = w.sk(&[
        "run",
        "--json",
        "--wait",
        "-a",
        agent,
        "--timeout",
        "3m",
        task,
    ]);
    let job: Value = serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stderr()));
    let logs = w.sk(&["logs", &s(&job["id"])]);
    let output = format!("{}\n{}", logs.stdout(), logs.stderr());
    assert_eq!(job["state"], "completed", "{job}\n--- output:\n{output}");
    let files = w.git(&["ls-tree", "--name-only", &s(&job["branch"])]);
    assert!(
        files.lines().any(|f| f == FILE),
        "{FILE} is not on the branch:\n{output}"
    );
    let written = w.git(&["show", &format!("{}:{FILE}", s(&job["branch"]))]);
    assert_eq!(format!("{written}\n"), CONTENT, "{output}");
    job
}

/// With `SIDEKICK_CAPTURE_FIXTURES=1`, saves the job's stdout (the agent's real stream) as
/// the engine's parser fixture `name` (`crates/agents/src/parse/fixtures/`), from which the
/// UI's transcript fixtures are generated.
fn capture(w: &World, job: &str, name: &str) {
    if std::env::var_os("SIDEKICK_CAPTURE_FIXTURES").is_some() {
        let to = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../agents/src/parse/fixtures")
            .join(name);
        std::fs::write(&to, w.sk(&["logs", job]).stdout()).expect("save the fixture");
    }
}

/// The folder of the pinned agents scripts/setup.sh installs, checked to hold `program`.
fn real_agents(program: &str) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let bin = PathBuf::from(home).join(".cache/sidekick-agents/node_modules/.bin");
    assert!(
        bin.join(program).is_file(),
        "{program} is not installed in {}; run scripts/setup.sh with SIDEKICK_SETUP_GUI_TESTS=1",
        bin.display()
    );
    bin
}

#[test]
fn claude_code_runs_a_two_turn_session_through_sidekick() {
    let bin = real_agents("claude");
    let server = ModelServer::start();
    // Print mode (`acceptEdits`): edits go through without asking.
    let mut w = World::with_config(&format!(
        "[agents.claude]\npermission = \"acceptEdits\"\n[agents.claude.env]\nANTHROPIC_BASE_URL = \"http://{}\"\nANTHROPIC_API_KEY = \"sk-ant-scripted\"\n\
         DISABLE_TELEMETRY = \"1\"\nDISABLE_AUTOUPDATER = \"1\"\nDISABLE_ERROR_REPORTING = \"1\"\n\
         CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\"\n",
        server.addr
    ));
    w.bin = Some(bin);
    // The file is on the job's branch, as the model wrote it through the real Write tool.
    let job = writes_the_file(&w, "claude");

    // Steps, tokens and the summary come from Claude Code's own stream-json.
    assert!(job["steps"].as_u64().is_some_and(|n| n >= 2), "{job}");
    assert_eq!(job["summary"], ANSWER, "{job}");
    assert!(
        job["tokens"]["input"].as_u64().is_some_and(|n| n >= 2000),
        "{job}"
    );
    assert!(
        job["tokens"]["output"].as_u64().is_some_and(|n| n >= 80),
        "{job}"
    );
    let parsed = w.ok(&["logs", "--parsed", &s(&job["id"])]);
    assert!(parsed.contains("· Write ·"), "{parsed}");
    // The job's Claude Code had Sidekick's own MCP server, connected.
    let raw = w.ok(&["logs", &s(&job["id"])]);
    assert!(
        raw.contains(r#"{"name":"sidekick","status":"connected""#),
        "{raw}"
    );

    // Two turns reached the server: the tool call, then the answer after its result.
    let turns: Vec<Value> = server
        .requests()
        .into_iter()
        .filter(|b| {
            b["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["name"] == "Write"))
        })
        .collect();
    assert!(turns.len() >= 2, "{} agent requests", turns.len());
    assert!(turns.iter().any(has_tool_result));
}

/// A world whose `codex` talks to the scripted server, with `settings` for `[agents.codex]`.
/// Codex takes its endpoint from a model provider in its own config file, in CODEX_HOME (kept
/// while the returned folder lives). That folder must not be under /tmp: Codex then refuses to
/// set up the helper its Linux sandbox runs commands through.
fn codex_world(server: &ModelServer, settings: &str) -> (World, tempfile::TempDir) {
    let bin = real_agents("codex");
    let home = std::env::var("HOME").unwrap_or_default();
    let codex_home = tempfile::Builder::new()
        .prefix("codex-home-")
        .tempdir_in({
            let d = PathBuf::from(&home).join(".cache/sidekick-agents");
            std::fs::create_dir_all(&d).expect("mkdir cache");
            d
        })
        .expect("codex home");
    std::fs::write(
        codex_home.path().join("config.toml"),
        format!(
            "model = \"gpt-5-codex\"\nmodel_provider = \"scripted\"\n\
             [model_providers.scripted]\nname = \"scripted\"\nbase_url = \"http://{}/v1\"\n\
             env_key = \"OPENAI_API_KEY\"\nwire_api = \"responses\"\n",
            server.addr
        ),
    )
    .expect("codex config");
    let mut w = World::with_config(&format!(
        "[agents.codex]\n{settings}\n[agents.codex.env]\nOPENAI_API_KEY = \"sk-scripted\"\nCODEX_HOME = \"{}\"\n",
        codex_home.path().display()
    ));
    w.bin = Some(bin);
    (w, codex_home)
}

#[test]
fn codex_runs_a_two_turn_session_through_sidekick() {
    let server = ModelServer::start();
    // `codex exec` (a sandbox mode as the permission): it never asks.
    let (w, _codex_home) = codex_world(&server, "permission = \"workspace-write\"");
    let job = writes_the_file(&w, "codex");
    capture(&w, &s(&job["id"]), "codex-real.jsonl");
    assert_eq!(job["summary"], ANSWER, "{job}");
    assert!(job["steps"].as_u64().is_some_and(|n| n >= 2), "{job}");
    assert!(
        job["tokens"]["input"].as_u64().is_some_and(|n| n >= 1000),
        "{job}"
    );
    let before = server.requests().len();
    assert!(before >= 2);

    // A follow-up resumes Codex's session: its first request carries the first conversation.
    let r = w.sk(&[
        "run",
        "--json",
        "--wait",
        "--continue",
        &s(&job["id"]),
        "-a",
        "codex",
        "Now say you are done.",
    ]);
    let next: Value = serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stderr()));
    assert_eq!(next["state"], "completed", "{next}");
    let resumed = &server.requests()[before];
    let text = resumed["input"].to_string();
    assert!(
        text.contains("Create hello.txt with a greeting."),
        "the first task is in the resumed session"
    );
    assert!(text.contains("Now say you are done."));
    assert!(
        text.contains("call_scripted_hello.txt"),
        "and the first job's tool call"
    );
}

#[test]
fn gemini_runs_a_two_turn_session_through_sidekick() {
    let bin = real_agents("gemini");
    let server = ModelServer::start();
    // Headless (an approval mode as the permission): it never asks.
    let mut w = World::with_config(&format!(
        "[agents.gemini]\npermission = \"auto_edit\"\n\
         [agents.gemini.env]\nGEMINI_API_KEY = \"scripted\"\nGOOGLE_GEMINI_BASE_URL = \"http://{}\"\n",
        server.addr
    ));
    // Gemini CLI reads its auth choice and model from its settings; a folder it does not trust
    // would turn --approval-mode back to "default" (see README, agents).
    gemini_settings(&w);
    w.bin = Some(bin);
    let job = writes_the_file(&w, "gemini");
    capture(&w, &s(&job["id"]), "gemini-real.jsonl");
    assert_eq!(job["summary"], ANSWER, "{job}");
    assert!(job["steps"].as_u64().is_some_and(|n| n >= 2), "{job}");
    assert!(
        job["tokens"]["input"].as_u64().is_some_and(|n| n >= 1000),
        "{job}"
    );
}

#[test]
fn aider_applies_an_edit_through_sidekick() {
    let bin = real_agents("aider");
    let server = ModelServer::start();
    let mut w = World::with_config(&format!(
        "[agents.aider.env]\nOPENAI_API_BASE = \"http://{}/v1\"\nOPENAI_API_KEY = \"sk-scripted\"\n\
         AIDER_MODEL = \"openai/scripted\"\nAIDER_EDIT_FORMAT = \"diff\"\nAIDER_ANALYTICS = \"false\"\n\
         LITELLM_LOCAL_MODEL_COST_MAP = \"True\"\n",
        server.addr
    ));
    w.bin = Some(bin);
    let job = writes_the_file(&w, "aider");
    assert_eq!(job["tokens"]["input"], 2400, "{job}");
    assert_eq!(job["tokens"]["output"], 95, "{job}");
    assert!(
        job["steps"].as_u64().is_some_and(|n| n >= 2),
        "an exchange and an edit: {job}"
    );
    let files = w.git(&["show", "--name-only", "--format=", &s(&job["branch"])]);
    assert!(
        !files.contains(".aider"),
        "no chat log or cache on the branch: {files}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// The scripted server and a world whose `claude` asks (`permission = "ask"`, the default).
fn asking_claude() -> (ModelServer, World) {
    let bin = real_agents("claude");
    let server = ModelServer::start();
    // Outside /tmp (a sandbox's /tmp is its own): the user's home is there read-only, as on a
    // real machine, and Claude Code keeps its state only where the sandbox lets it write.
    let mut w = World::with_config_in(&format!(
        "[agents.claude.env]\nANTHROPIC_BASE_URL = \"http://{}\"\nANTHROPIC_API_KEY = \"sk-ant-scripted\"\n\
         DISABLE_TELEMETRY = \"1\"\nDISABLE_AUTOUPDATER = \"1\"\nDISABLE_ERROR_REPORTING = \"1\"\n\
         CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\"\n",
        server.addr
    ), &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("agents"));
    w.bin = Some(bin);
    (server, w)
}

/// Starts the scripted task with `agent` and waits until it asks to write the file.
fn until_agent_asks(w: &World, agent: &str) -> (String, Value) {
    let job = w.spawn(
        &["-a", agent, "--timeout", "3m"],
        "Create hello.txt with a greeting.",
    );
    let id = s(&job["id"]);
    let waiting = w.wait_until(&id, "the agent's request", |j| j["state"] == "waiting");
    (id, waiting)
}

/// Replies to an ended job asking for `second.txt`, allows what the agent then asks, and checks
/// the new turn ran in the same worktree and put both files on the same branch.
fn reply_for_the_second_file(w: &World, id: &str, first: &Value) {
    w.ok(&["reply", id, "Also", "create", SECOND]);
    let again = w.wait_until(id, "the second turn's request", |j| j["state"] == "waiting");
    assert_eq!(again["turns"], 2, "{again}");
    assert_eq!(again["worktree"], first["worktree"], "the same worktree");
    assert!(
        s(&again["requests"][0]["detail"]).ends_with(SECOND),
        "{again}"
    );
    w.ok(&["allow", id]);
    let done = w.wait_until(id, "the second turn's end", |j| j["state"] == "completed");
    assert_eq!(done["branch"], first["branch"]);
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(tree.contains(FILE) && tree.contains(SECOND), "{tree}");
}

/// Replies (asking for `second.txt`) while the job waits for its first answer, then allows
/// that request and the one the reply's turn brings; checks the reply became turn 2 and
/// returns the ended job.
fn reply_while_it_waits_and_allow_both(w: &World, id: &str) -> Value {
    let replied = w.ok(&["reply", id, "Also", "create", SECOND]);
    assert!(replied.contains("turn 2"), "{replied}");
    w.ok(&["allow", id]);
    let second = w.wait_until(id, "the second turn's request", |j| {
        j["requests"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.ends_with(SECOND))
    });
    assert_eq!(second["turns"], 2, "{second}");
    w.ok(&["allow", id]);
    w.wait_until(id, "the end", |j| j["state"] == "completed")
}

fn until_it_asks(w: &World) -> (String, Value) {
    until_agent_asks(w, "claude")
}

#[test]
fn claude_code_asks_and_an_allow_lets_it_write() {
    let (_server, w) = asking_claude();
    let (id, waiting) = until_it_asks(&w);
    let request = &waiting["requests"][0];
    assert_eq!(request["tool"], "Write", "{waiting}");
    assert!(s(&request["detail"]).ends_with(FILE), "{waiting}");
    let wt = PathBuf::from(s(&waiting["worktree"]));
    assert!(!wt.join(FILE).exists(), "written before it was allowed");
    // The human view says it needs the user and how to answer.
    let status = w.ok(&["status", &id]);
    assert!(status.contains("waiting: needs you"), "{status}");
    assert!(status.contains("sidekick allow"), "{status}");

    let answered = w.ok(&["allow", &id]);
    assert!(answered.contains("running again"), "{answered}");
    let done = w.wait_until(&id, "the end", |j| j["state"] == "completed");
    assert_eq!(done["requests"], serde_json::json!([]), "{done}");
    let written = w.git(&["show", &format!("{}:{FILE}", s(&done["branch"]))]);
    assert_eq!(format!("{written}\n"), CONTENT);
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(logs.contains("the agent asks to use Write"), "{logs}");
    assert!(logs.contains("allowed: Write"), "{logs}");
}

/// The real Claude Code's stream for a rich task (colours, unicode, a long output, a failed
/// command, markdown): what the job view's transcript is built from. With
/// `SIDEKICK_CAPTURE_FIXTURES=1` the stream is saved as the engine's fixture
/// (`crates/agents/src/parse/fixtures/claude-real.jsonl`), from which the UI's transcript
/// fixture is generated.
#[test]
fn claude_codes_real_stream_carries_tools_errors_and_unicode() {
    let (server, w) = asking_claude();
    let job = w.spawn(&["-a", "claude", "--timeout", "3m"], RICH);
    let id = s(&job["id"]);
    // Claude Code runs read-only commands (printf, seq, cat) without asking; whatever it does
    // ask for is allowed.
    let done = loop {
        let now = w.wait_until(&id, "the end or a request", |j| {
            j["state"] == "waiting" || j["state"] == "completed"
        });
        if now["state"] == "completed" {
            break now;
        }
        assert_eq!(now["requests"][0]["tool"], "Bash", "{now}");
        w.ok(&["allow", &id]);
        w.wait_until(&id, "the answer taken", |j| {
            j["state"] != "waiting" || j["requests"][0]["id"] != now["requests"][0]["id"]
        });
    };
    assert!(s(&done["summary"]).starts_with("## Done ✓"), "{done}");
    // What the model saw: the command's colours and unicode, and the failure of the second.
    let first = server
        .requests()
        .iter()
        .find_map(|b| tool_result(b, "toolu_rich_1"))
        .expect("the first command's result");
    assert!(
        first.contains("ünïcødé ✓ 日本") && first.contains("\n400"),
        "{first}"
    );
    let second = server
        .requests()
        .iter()
        .find_map(|b| tool_result(b, "toolu_rich_2"))
        .expect("the second command's result");
    assert!(second.contains("No such file"), "{second}");
    let stdout = w.sk(&["logs", &id]).stdout();
    assert!(
        stdout.contains("\"tool_use_id\":\"toolu_rich_2\""),
        "{stdout}"
    );
    capture(&w, &id, "claude-real.jsonl");
}

#[test]
fn claude_code_asks_and_a_deny_keeps_it_from_writing() {
    let (server, w) = asking_claude();
    let (id, _) = until_it_asks(&w);
    w.ok(&["deny", &id, "-m", "not in this repository"]);
    let done = w.wait_until(&id, "the end", |j| j["state"] == "completed");
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(!tree.contains(FILE), "written although denied: {tree}");
    // The model heard why, in the refused tool's result.
    let told = server
        .requests()
        .iter()
        .any(|b| b.to_string().contains("not in this repository"));
    assert!(told, "the deny's message never reached the model");
}

#[test]
fn a_job_waiting_for_an_answer_can_be_cancelled() {
    let (_server, w) = asking_claude();
    let (id, _) = until_it_asks(&w);
    w.ok(&["cancel", &id]);
    let done = w.status(&id);
    assert_eq!(done["state"], "cancelled", "{done}");
    let r = w.sk(&["allow", &id]);
    assert_eq!(r.code(), 1, "nothing is left to answer");
}

#[test]
fn a_reply_resumes_claude_codes_session_in_the_same_worktree() {
    let (server, w) = asking_claude();
    let (id, _) = until_it_asks(&w);
    w.ok(&["allow", &id]);
    let first = w.wait_until(&id, "the first turn's end", |j| j["state"] == "completed");
    let turn_one_requests = server.requests().len();

    reply_for_the_second_file(&w, &id, &first);

    // The model's first request of the new turn carried the earlier conversation: the first
    // turn's Write and its result are there before the reply.
    let resumed = server
        .requests()
        .into_iter()
        .skip(turn_one_requests)
        .find(|b| b["messages"].to_string().contains(SECOND))
        .expect("a request of the second turn");
    let history = resumed["messages"].to_string();
    assert!(history.contains("toolu_scripted_hello.txt"), "{history}");
    assert!(history.contains("tool_result"), "{history}");
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(logs.contains("you: Also create second.txt"), "{logs}");
    // Both turns ran in Sidekick's sandbox, and Claude Code kept its session in its own state
    // folder (writable there) for the second to resume.
    assert_eq!(first["sandbox"]["on"], true, "{first}");
    assert_eq!(w.status(&id)["sandbox"]["on"], true);
    let sessions = files_under(&w.root.join("user/.claude/projects"));
    assert!(
        sessions
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "jsonl")),
        "no session in ~/.claude: {sessions:?}"
    );
}

#[test]
fn a_reply_while_claude_code_works_is_its_next_turn() {
    let (server, w) = asking_claude();
    let (id, _) = until_it_asks(&w);
    // While it waits for the first answer, the user adds to the task.
    let done = reply_while_it_waits_and_allow_both(&w, &id);
    assert_eq!(
        done["turns"], 2,
        "the reply's turn is kept after the end: {done}"
    );
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(tree.contains(FILE) && tree.contains(SECOND), "{tree}");
    // One session: the second turn's request carried the first.
    let later = server
        .requests()
        .into_iter()
        .filter(|b| b["messages"].to_string().contains(SECOND))
        .any(|b| {
            b["messages"]
                .to_string()
                .contains("toolu_scripted_hello.txt")
        });
    assert!(later, "the second turn did not carry the first");
}

#[test]
fn allow_always_lets_claude_code_use_the_tool_again_without_asking() {
    let (_server, w) = asking_claude();
    let job = w.spawn(
        &["-a", "claude", "--timeout", "3m"],
        &format!("Create hello.txt and {SECOND}."),
    );
    let id = s(&job["id"]);
    w.wait_until(&id, "the first request", |j| j["state"] == "waiting");
    w.ok(&["allow", "--always", &id]);
    let done = w.wait_until(&id, "the end", |j| j["state"] == "completed");
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(tree.contains(FILE) && tree.contains(SECOND), "{tree}");
    let logs = w.sk(&["logs", &id]).stderr();
    assert_eq!(
        logs.matches("the agent asks to use Write").count(),
        1,
        "asked again after allow --always: {logs}"
    );
    assert!(logs.contains("allowed for the rest of the job"), "{logs}");
}

/// Gemini CLI's own settings for the tests: the API key as its auth, a model, and no folder
/// trust (a folder it does not trust would turn --approval-mode back to "default").
fn gemini_settings(w: &World) {
    let settings = w.root.join("user/.gemini");
    std::fs::create_dir_all(&settings).expect("mkdir .gemini");
    std::fs::write(
        settings.join("settings.json"),
        r#"{"security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": false}},
            "model": {"name": "gemini-2.5-flash"}}"#,
    )
    .expect("settings");
}

/// The scripted server and a world whose `gemini` asks over ACP (`permission = "ask"`, the
/// default).
fn asking_gemini() -> (ModelServer, World) {
    let bin = real_agents("gemini");
    let server = ModelServer::start();
    let mut w = World::with_config(&format!(
        "[agents.gemini.env]\nGEMINI_API_KEY = \"scripted\"\nGOOGLE_GEMINI_BASE_URL = \"http://{}\"\n",
        server.addr
    ));
    gemini_settings(&w);
    w.bin = Some(bin);
    (server, w)
}

fn until_gemini_asks(w: &World) -> (String, Value) {
    until_agent_asks(w, "gemini")
}

#[test]
fn gemini_cli_asks_over_acp_and_an_allow_lets_it_write() {
    let (_server, w) = asking_gemini();
    let (id, waiting) = until_gemini_asks(&w);
    let wt = PathBuf::from(s(&waiting["worktree"]));
    assert!(!wt.join(FILE).exists(), "written before it was allowed");
    assert!(
        s(&waiting["requests"][0]["detail"]).contains(FILE),
        "{waiting}"
    );
    w.ok(&["allow", &id]);
    let done = w.wait_until(&id, "the end", |j| j["state"] == "completed");
    let written = w.git(&["show", &format!("{}:{FILE}", s(&done["branch"]))]);
    assert_eq!(format!("{written}\n"), CONTENT);
    assert_eq!(done["summary"], ANSWER, "{done}");
}

#[test]
fn gemini_cli_asks_over_acp_and_a_deny_keeps_it_from_writing() {
    let (_server, w) = asking_gemini();
    let (id, _) = until_gemini_asks(&w);
    w.ok(&["deny", &id]);
    let done = w.wait_until(&id, "the end", |j| {
        j["state"]
            .as_str()
            .is_some_and(|s| s != "waiting" && s != "running")
    });
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(
        !tree.contains(FILE),
        "written although denied: {tree}\n{done}"
    );
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(logs.contains("denied: "), "{logs}");
}

#[test]
fn a_reply_to_gemini_cli_loads_its_acp_session_or_falls_back_to_context() {
    let (server, w) = asking_gemini();
    let (id, first) = until_gemini_asks(&w);
    w.ok(&["allow", &id]);
    let first_done = w.wait_until(&id, "the first turn's end", |j| j["state"] == "completed");
    let turn_one_requests = server.requests().len();
    // The job has ended: the reply runs the agent again.
    w.ok(&["reply", &id, "Also", "create", SECOND]);
    // Allow whatever it asks until the turn ends.
    let start = std::time::Instant::now();
    let done = loop {
        let j = w.status(&id);
        match j["state"].as_str() {
            Some("completed") if j["turns"] == 2 => break j,
            Some("waiting") => {
                w.ok(&["allow", &id]);
            }
            _ => {}
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "{j}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(done["worktree"], first["worktree"]);
    assert_eq!(done["branch"], first["branch"]);
    // Sidekick asked Gemini CLI to load its session (`session/load`).
    let raw = w.ok(&["logs", &id]);
    assert!(raw.contains(r#""id":"load:"#), "{raw}");
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(logs.contains("you: Also create second.txt"), "{logs}");
    let second: Vec<String> = server
        .requests()
        .into_iter()
        .skip(turn_one_requests)
        .map(|b| b["contents"].to_string())
        .filter(|c| c.contains("Also create second.txt"))
        .collect();
    assert!(!second.is_empty(), "the reply never reached the model");
    if logs.contains("the agent's earlier session could not be loaded") {
        // Gemini CLI 0.61 does not always find the sessions it records over ACP ("No previous
        // sessions found"): a new session took over, with the earlier task as context.
        assert!(
            second
                .iter()
                .any(|c| c.contains("Earlier in this job you were asked")),
            "{second:?}"
        );
    } else {
        // Loaded: the model's request carries the first turn (its write_file call) and no
        // context block; the replayed history is not counted as new steps or summary.
        assert!(
            second.iter().any(|c| c.contains("write_file")),
            "{second:?}"
        );
        assert!(
            !second
                .iter()
                .any(|c| c.contains("Earlier in this job you were asked")),
            "{second:?}"
        );
        assert_eq!(done["steps"], first_done["steps"], "{done}");
        assert_eq!(done["summary"], ANSWER, "{done}");
    }
}

/// The scripted server and a world whose `codex` asks through its app-server (`permission =
/// "ask"`, the default).
fn asking_codex() -> (ModelServer, World, tempfile::TempDir) {
    let server = ModelServer::start();
    let (w, home) = codex_world(&server, "");
    (server, w, home)
}

#[test]
fn codex_cli_asks_through_its_app_server_and_an_allow_lets_it_write() {
    let (_server, w, _home) = asking_codex();
    let (id, waiting) = until_agent_asks(&w, "codex");
    let request = &waiting["requests"][0];
    assert_eq!(request["tool"], "shell", "{waiting}");
    // The command as the agent will run it, not its shell wrapper.
    let detail = s(&request["detail"]);
    assert!(
        detail.starts_with("printf") && detail.ends_with(&format!("> {FILE}")),
        "{waiting}"
    );
    assert_eq!(
        request["options"],
        serde_json::json!(["allow", "allow_always", "deny"])
    );
    let wt = PathBuf::from(s(&waiting["worktree"]));
    assert!(!wt.join(FILE).exists(), "written before it was allowed");

    w.ok(&["allow", &id]);
    let done = w.wait_until(&id, "the end", |j| j["state"] == "completed");
    let written = w.git(&["show", &format!("{}:{FILE}", s(&done["branch"]))]);
    assert_eq!(format!("{written}\n"), CONTENT);
    // Steps, tokens and the summary come from the app-server's own notifications.
    assert_eq!(done["summary"], ANSWER, "{done}");
    assert!(done["steps"].as_u64().is_some_and(|n| n >= 2), "{done}");
    assert!(
        done["tokens"]["input"].as_u64().is_some_and(|n| n >= 2000),
        "{done}"
    );
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(logs.contains("the agent asks to use shell"), "{logs}");
    assert!(logs.contains("allowed: shell"), "{logs}");
    // The job's Codex had Sidekick's own MCP server, started.
    let raw = w.ok(&["logs", &id]);
    assert!(
        raw.contains(r#""name":"sidekick","status":"ready""#),
        "{raw}"
    );
}

#[test]
fn codex_cli_asks_and_a_deny_keeps_it_from_running_the_command() {
    let (server, w, _home) = asking_codex();
    let (id, _) = until_agent_asks(&w, "codex");
    w.ok(&["deny", &id, "-m", "not in this repository"]);
    let done = w.wait_until(&id, "the end", |j| j["state"] == "completed");
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(!tree.contains(FILE), "written although denied: {tree}");
    let requests = server.requests();
    // The model was told the command was refused, and (the protocol has no reason with a
    // decline) heard why as the user's next message.
    assert!(
        requests
            .iter()
            .any(|b| b["input"].to_string().contains("rejected by user")),
        "the decline never reached the model"
    );
    assert!(
        requests
            .iter()
            .any(|b| b["input"].to_string().contains("not in this repository")),
        "the deny's message never reached the model"
    );
}

#[test]
fn a_reply_resumes_codexs_thread_in_the_same_worktree() {
    let (server, w, _home) = asking_codex();
    let (id, first) = until_agent_asks(&w, "codex");
    w.ok(&["allow", &id]);
    w.wait_until(&id, "the first turn's end", |j| j["state"] == "completed");
    let turn_one_requests = server.requests().len();

    reply_for_the_second_file(&w, &id, &first);
    // The resumed thread's first request carried the earlier conversation: the first turn's
    // command and its output come before the reply.
    let resumed = &server.requests()[turn_one_requests];
    let history = resumed["input"].to_string();
    assert!(history.contains("call_scripted_hello.txt"), "{history}");
    assert!(
        history.contains("Create hello.txt with a greeting."),
        "{history}"
    );
    assert!(history.contains("Also create second.txt"), "{history}");
}

#[test]
fn a_reply_while_codex_works_is_its_next_turn() {
    let (server, w, _home) = asking_codex();
    let (id, _) = until_agent_asks(&w, "codex");
    // While it waits for the first answer, the user adds to the task: it is kept for the next
    // turn of the same thread.
    let done = reply_while_it_waits_and_allow_both(&w, &id);
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(tree.contains(FILE) && tree.contains(SECOND), "{tree}");
    let one_thread = server.requests().iter().any(|b| {
        let t = b["input"].to_string();
        t.contains("Also create second.txt") && t.contains("call_scripted_hello.txt")
    });
    assert!(one_thread, "the second turn did not carry the first");
}

#[test]
fn a_codex_job_waiting_for_an_answer_can_be_cancelled() {
    let (_server, w, _home) = asking_codex();
    let (id, waiting) = until_agent_asks(&w, "codex");
    w.ok(&["cancel", &id]);
    let done = w.status(&id);
    assert_eq!(done["state"], "cancelled", "{done}");
    let wt = PathBuf::from(s(&waiting["worktree"]));
    assert!(!wt.join(FILE).exists(), "ran although never allowed");
}

#[test]
fn a_reply_while_gemini_cli_works_is_its_next_prompt_in_the_same_session() {
    let (server, w) = asking_gemini();
    let (id, _) = until_gemini_asks(&w);
    // ACP runs one prompt at a time: the reply is kept and sent when the first turn ends.
    let replied = w.ok(&["reply", &id, "Also", "create", SECOND]);
    assert!(replied.contains("turn 2"), "{replied}");
    w.ok(&["allow", &id]);
    let done = w.wait_until(&id, "the end", |j| j["state"] == "completed");
    assert_eq!(done["turns"], 2, "{done}");
    // One session: the reply's prompt went in after the first turn's tool call and answer.
    let same_session = server.requests().iter().any(|b| {
        let t = b["contents"].to_string();
        t.contains("Also create second.txt") && t.contains("functionCall")
    });
    assert!(same_session, "the reply did not continue the first session");
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(logs.contains("you: Also create second.txt"), "{logs}");
}

#[test]
fn claude_code_spawns_and_joins_a_sidekick_through_the_mcp_server() {
    let bin = real_agents("claude");
    let server = ModelServer::start();
    let env = format!(
        "ANTHROPIC_BASE_URL = \"http://{}\"\nANTHROPIC_API_KEY = \"sk-ant-scripted\"\n\
         DISABLE_TELEMETRY = \"1\"\nDISABLE_AUTOUPDATER = \"1\"\nDISABLE_ERROR_REPORTING = \"1\"\n\
         CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\"\n",
        server.addr
    );
    // The sidekick is Claude Code too, editing without asking (print mode).
    let mut w = World::with_config(&format!(
        "[agents.claude]\npermission = \"acceptEdits\"\n[agents.claude.env]\n{env}"
    ));
    w.bin = Some(bin.clone());
    let claude = bin.join("claude");
    // Registered the documented way (`sidekick mcp --print-config claude`), for this user.
    let registration = w.ok(&["mcp", "--print-config", "claude"]);
    let add = registration
        .lines()
        .find(|l| l.starts_with("claude mcp add"))
        .expect("the claude command");
    let args: Vec<&str> = add.split_whitespace().skip(1).collect();
    let out = std::process::Command::new(&claude)
        .args(&args)
        .current_dir(&w.repo)
        .envs(w.envs())
        .output()
        .expect("claude mcp add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The main agent, run by the user in the repository (not through Sidekick).
    let main = std::process::Command::new(&claude)
        .args([
            "-p",
            DELEGATE,
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "mcp__sidekick__spawn,mcp__sidekick__wait",
        ])
        .current_dir(&w.repo)
        .envs(w.envs())
        .envs(
            env.lines()
                .filter_map(|l| l.split_once(" = "))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string())),
        )
        .output()
        .expect("claude runs");
    let transcript = String::from_utf8_lossy(&main.stdout).to_string();
    assert!(
        main.status.success(),
        "{transcript}\n{}",
        String::from_utf8_lossy(&main.stderr)
    );
    // The summary came back in the wait tool's result, and the main agent said it.
    assert!(
        transcript.contains(&format!("The sidekick said: {ANSWER}")),
        "{transcript}"
    );

    // The job ran through Sidekick, records Claude Code as its spawner, and its file is on
    // its branch (not in the user's checkout).
    let jobs = w.json(&["ls", "--all", "--json"]);
    let job = jobs
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .expect("one job");
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["agent"], "claude");
    assert!(
        s(&job["spawned_by"]).to_lowercase().contains("claude"),
        "{job}"
    );
    assert_eq!(job["summary"], ANSWER);
    let written = w.git(&["show", &format!("{}:{FILE}", s(&job["branch"]))]);
    assert_eq!(format!("{written}\n"), CONTENT);
    assert!(!w.repo.join(FILE).exists());
}

#[test]
fn doctor_online_asks_claude_code_one_question_and_names_a_refused_key() {
    let bin = real_agents("claude");
    let server = ModelServer::start();
    let config = |key: &str| {
        format!(
            "[agents.claude.env]\nANTHROPIC_BASE_URL = \"http://{}\"\nANTHROPIC_API_KEY = \"{key}\"\n\
             DISABLE_TELEMETRY = \"1\"\nDISABLE_AUTOUPDATER = \"1\"\nDISABLE_ERROR_REPORTING = \"1\"\n\
             CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\"\n",
            server.addr
        )
    };
    let claude_online = |w: &World| -> Value {
        let r = w.sk(&["doctor", "--online", "--json"]);
        let checks: Value = serde_json::from_str(&r.stdout())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stderr()));
        checks
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == "agent claude online"))
            .cloned()
            .unwrap_or_else(|| panic!("no online check for claude: {checks}"))
    };
    // Only Claude Code on PATH: the other pinned agents would ask their real services.
    let only = tempfile::tempdir().expect("tempdir");
    let real = std::fs::canonicalize(bin.join("claude")).expect("claude's script");
    std::os::unix::fs::symlink(&real, only.path().join("claude")).expect("symlink");
    let bin = only.path().to_path_buf();
    let mut w = World::with_config(&config("sk-ant-scripted"));
    w.bin = Some(bin.clone());
    let asked_before = server.requests().len();
    let good = claude_online(&w);
    assert_eq!(good["status"], "ok", "{good}");
    assert!(s(&good["detail"]).starts_with("answered in"), "{good}");
    let asked: Vec<Value> = server.requests().into_iter().skip(asked_before).collect();
    assert!(
        asked.iter().any(|b| b["messages"]
            .to_string()
            .contains("Reply with the single word OK")),
        "the question reached the model: {asked:?}"
    );
    // Without --online nothing is asked.
    let before = server.requests().len();
    w.sk(&["doctor", "--json"]);
    assert_eq!(
        server.requests().len(),
        before,
        "a plain doctor calls no model"
    );

    let mut refused = World::with_config(&config(REFUSED_KEY));
    refused.bin = Some(bin);
    let bad = claude_online(&refused);
    assert_eq!(bad["status"], "fail", "{bad}");
    assert!(s(&bad["fix"]).contains("[agents.claude.env]"), "{bad}");
    assert!(
        s(&bad["detail"]).to_lowercase().contains("api key")
            || s(&bad["detail"]).to_lowercase().contains("x-api-key")
            || s(&bad["detail"]).to_lowercase().contains("auth"),
        "Claude Code's own words: {bad}"
    );
    assert_eq!(
        refused.sk(&["doctor", "--online"]).code(),
        1,
        "a failed online check fails doctor"
    );
}
