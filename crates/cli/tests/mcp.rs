//! `sidekick mcp` driven by a real MCP client (the official Rust SDK's client side) over stdio:
//! the real binary as a child process, the real host, real git repositories and jobs.
// The end of a job reaches the client as a log message (`notifications/message`), which the
// SDK marks deprecated for protocol versions after the one this server speaks.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    LoggingMessageNotificationParam, ProgressNotificationParam, ReadResourceRequestParams,
    ResourceUpdatedNotificationParam, SubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{json, Value};

use crate::common::{s, World, BIN};

/// What the server sent unasked: log messages, progress, resource updates.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<Value>>>);

impl Heard {
    fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn push(&self, v: Value) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(v);
    }
}

struct Recorder {
    heard: Heard,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.heard
            .push(json!({"progress": params.progress, "message": params.message}));
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.heard.push(json!({"log": params.data}));
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.heard.push(json!({"updated": params.uri}));
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("test-agent", "7.1"),
        )
    }
}

/// A session with `sidekick mcp` run in the world's repository.
pub(crate) struct Mcp {
    client: Option<RunningService<RoleClient, Recorder>>,
    heard: Heard,
    rt: tokio::runtime::Runtime,
}

impl Mcp {
    pub(crate) fn start(w: &World) -> Mcp {
        Mcp::start_with(w, &[])
    }

    fn start_with(w: &World, env: &[(&str, &str)]) -> Mcp {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let heard = Heard::default();
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("mcp")
            .current_dir(&w.repo)
            .envs(w.envs())
            .envs(env.iter().copied());
        let recorder = Recorder {
            heard: heard.clone(),
        };
        let client = rt.block_on(async {
            let transport = TokioChildProcess::new(cmd).expect("sidekick mcp starts");
            recorder.serve(transport).await.expect("initialize")
        });
        Mcp {
            client: Some(client),
            heard,
            rt,
        }
    }

    fn client(&self) -> &RunningService<RoleClient, Recorder> {
        self.client.as_ref().expect("a session")
    }

    pub(crate) fn tools(&self) -> Vec<String> {
        let tools = self
            .rt
            .block_on(self.client().list_all_tools())
            .expect("tools/list");
        tools.iter().map(|t| t.name.to_string()).collect()
    }

    fn call_with(&self, tool: &str, args: Value, progress: Option<&str>) -> CallToolResult {
        let Value::Object(args) = args else {
            panic!("arguments are an object")
        };
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
        if let Some(token) = progress {
            let mut meta = rmcp::model::RequestMetaObject::default();
            meta.set_progress_token(rmcp::model::ProgressToken(
                rmcp::model::NumberOrString::String(token.to_string().into()),
            ));
            params.meta = Some(meta);
        }
        self.rt
            .block_on(self.client().call_tool(params))
            .unwrap_or_else(|e| panic!("tools/call {tool}: {e}"))
    }

    /// A tool call that must succeed: its structured answer and its text.
    pub(crate) fn call(&self, tool: &str, args: Value) -> (Value, String) {
        let r = self.call_with(tool, args, None);
        let text = text_of(&r);
        assert_ne!(r.is_error, Some(true), "{tool} failed: {text}");
        (r.structured_content.unwrap_or(Value::Null), text)
    }

    /// A tool call that must fail: its sentence.
    pub(crate) fn refused(&self, tool: &str, args: Value) -> String {
        let r = self.call_with(tool, args, None);
        assert_eq!(
            r.is_error,
            Some(true),
            "{tool} did not fail: {}",
            text_of(&r)
        );
        text_of(&r)
    }

    fn heard_until(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            if let Some(v) = self.heard.all().into_iter().find(|v| pred(v)) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never heard {what}: {:?}",
                self.heard.all()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.cancel());
        }
    }
}

fn text_of(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_agent_spawns_a_sidekick_joins_it_and_reads_its_work() {
    let w = World::new();
    let mcp = Mcp::start(&w);
    assert_eq!(
        mcp.tools(),
        ["spawn", "wait", "status", "list", "logs", "cancel", "diff", "agents", "tasks", "reply"],
        "merge is offered only when the config allows it"
    );

    let (job, text) = mcp.call(
        "spawn",
        json!({"task": "printf 'hi\\n' > hi.txt && echo wrote it", "agent": "shell"}),
    );
    let id = s(&job["id"]);
    let codename = s(&job["codename"]);
    assert!(text.contains(&codename) && text.contains("wait"), "{text}");
    // Provenance: the client's name and version from `initialize`.
    assert_eq!(job["spawned_by"], "test-agent 7.1");
    let status = w.ok(&["status", &codename]);
    assert!(
        status.contains("spawned by") && status.contains("test-agent 7.1"),
        "{status}"
    );

    let (ended, text) = mcp.call("wait", json!({"job": codename, "timeout_s": 60}));
    assert_eq!(ended["ended"], true, "{ended}");
    assert_eq!(ended["state"], "completed");
    assert_eq!(ended["exit_code"], 0);
    assert!(s(&ended["diff_stat"]).contains("hi.txt"), "{ended}");
    assert!(
        text.contains("completed") && text.contains("hi.txt"),
        "{text}"
    );
    // Passive mode: the end was told to the client too.
    let told = mcp.heard_until("the end of the job", |v| v["log"]["id"] == id.as_str());
    assert_eq!(told["log"]["state"], "completed", "{told}");
    assert_eq!(told["log"]["codename"], codename.as_str());

    let (stat, text) = mcp.call("diff", json!({"job": id}));
    assert_eq!(stat["files_changed"], 1);
    assert!(text.contains("hi.txt | 1 +"), "{text}");
    let (_, patch) = mcp.call("diff", json!({"job": id, "patch": true}));
    assert!(
        patch.contains("+++ b/hi.txt") && patch.contains("\n+hi"),
        "{patch}"
    );

    let (status, _) = mcp.call("status", json!({"job": codename}));
    assert_eq!(status["state"], "completed");
    assert_eq!(status["spawned_by"], "test-agent 7.1");
    let (mine, _) = mcp.call("list", json!({}));
    assert_eq!(mine["jobs"].as_array().map(Vec::len), Some(1), "{mine}");
    // A job started elsewhere is not this client's, but `all` shows it.
    let other = w.spawn(&["-a", "shell"], "true");
    let (mine, _) = mcp.call("list", json!({}));
    assert_eq!(mine["jobs"].as_array().map(Vec::len), Some(1), "{mine}");
    let (all, _) = mcp.call("list", json!({"all": true}));
    let ids: Vec<String> = all["jobs"]
        .as_array()
        .map(|a| a.iter().map(|j| s(&j["id"])).collect())
        .unwrap_or_default();
    assert!(ids.contains(&id) && ids.contains(&s(&other["id"])), "{all}");

    let (raw, _) = mcp.call("logs", json!({"job": id, "raw": true}));
    assert!(
        raw["lines"]
            .as_array()
            .is_some_and(|l| l.contains(&json!("wrote it"))),
        "{raw}"
    );
    let (parsed, _) = mcp.call("logs", json!({"job": id}));
    assert!(
        parsed["lines"]
            .as_array()
            .is_some_and(|l| l.contains(&json!("-- completed"))),
        "{parsed}"
    );
    let (agents, text) = mcp.call("agents", json!({}));
    assert!(agents["agents"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["name"] == "shell")));
    assert!(text.contains("NAME"), "{text}");
    let (_, text) = mcp.call("tasks", json!({}));
    assert!(text.contains("has no task types"), "{text}");
}

#[test]
fn wait_returns_the_state_so_far_when_its_timeout_passes_and_logs_stream_with_a_cursor() {
    let w = World::new();
    let mcp = Mcp::start(&w);
    let (job, _) = mcp.call(
        "spawn",
        json!({"task": "for i in 1 2 3 4 5 6; do echo line$i; sleep 0.4; done", "agent": "shell"}),
    );
    let id = s(&job["id"]);
    let r = mcp.call_with("wait", json!({"job": id, "timeout_s": 0.5}), None);
    let so_far = r.structured_content.clone().unwrap_or(Value::Null);
    assert_eq!(so_far["ended"], false, "{so_far}");
    assert!(
        matches!(so_far["state"].as_str(), Some("running" | "starting")),
        "{so_far}"
    );
    assert!(text_of(&r).contains("Call `wait` again"), "{}", text_of(&r));

    // Streaming: each call from the last cursor returns only what came after it.
    let mut lines: Vec<String> = Vec::new();
    let mut cursor = 0;
    let start = Instant::now();
    loop {
        let (page, _) = mcp.call("logs", json!({"job": id, "since": cursor, "raw": true}));
        let next = page["cursor"].as_u64().expect("cursor");
        assert!(next >= cursor, "the cursor never goes back");
        cursor = next;
        lines.extend(
            page["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        if page["ended"] == true && page["more"] == false {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{lines:?}");
        std::thread::sleep(Duration::from_millis(150));
    }
    // Every output line once, in order; every state change once (where a state change falls
    // among the output lines depends on timing).
    let output: Vec<&String> = lines.iter().filter(|l| l.starts_with("line")).collect();
    let want: Vec<String> = (1..=6).map(|i| format!("line{i}")).collect();
    assert_eq!(output, want.iter().collect::<Vec<_>>(), "{lines:?}");
    for state in ["-- queued", "-- starting", "-- running", "-- completed"] {
        assert_eq!(
            lines.iter().filter(|l| *l == state).count(),
            1,
            "{state}: {lines:?}"
        );
    }
    assert_eq!(lines.last().map(String::as_str), Some("-- completed"));
    // A small page says there is more.
    let (page, _) = mcp.call("logs", json!({"job": id, "raw": true, "max_lines": 2}));
    assert_eq!(page["more"], true, "{page}");
    assert_eq!(page["lines"].as_array().map(Vec::len), Some(2));
}

#[test]
fn wait_reports_progress_and_cancel_stops_a_sidekick() {
    let w = World::new();
    let mcp = Mcp::start(&w);
    let (job, _) = mcp.call("spawn", json!({"task": "sleep 60", "agent": "shell"}));
    let id = s(&job["id"]);
    let r = mcp.call_with("wait", json!({"job": id, "timeout_s": 4.5}), Some("p-1"));
    assert_eq!(
        r.structured_content.as_ref().map(|v| v["ended"].clone()),
        Some(json!(false))
    );
    let progress = mcp.heard_until("progress", |v| v.get("progress").is_some());
    assert!(
        s(&progress["message"]).contains(&s(&job["codename"])),
        "{progress}"
    );
    let (cancelled, text) = mcp.call("cancel", json!({"job": id}));
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert!(text.contains("cancelled"), "{text}");
}

#[test]
fn sidekicks_spawned_inside_a_job_are_its_children_end_with_it_and_nest_only_so_deep() {
    let w = World::with_config("max_running = 4\nmax_depth = 2\n");
    let parent = w.spawn(&["-a", "shell"], "sleep 60");
    let parent_id = s(&parent["id"]);
    w.wait_state(&parent_id, "running");
    // The server as the parent's agent would run it: inside the job.
    let mcp = Mcp::start_with(&w, &[("SIDEKICK_JOB_ID", &parent_id)]);
    let (child, _) = mcp.call("spawn", json!({"task": "sleep 60", "agent": "shell"}));
    assert_eq!(child["parent_id"], parent_id.as_str(), "{child}");
    let tree = w.ok(&["ls", "--tree"]);
    let parent_line = tree
        .lines()
        .position(|l| l.contains(&s(&parent["codename"])))
        .expect("parent listed");
    let child_line = tree
        .lines()
        .position(|l| l.contains(&s(&child["codename"])))
        .expect("child listed");
    assert_eq!(child_line, parent_line + 1, "{tree}");
    assert!(
        tree.lines()
            .nth(child_line)
            .is_some_and(|l| l.contains("└─")),
        "{tree}"
    );

    // A sidekick of the child would be three levels deep: refused with a sentence.
    let deeper = Mcp::start_with(&w, &[("SIDEKICK_JOB_ID", &s(&child["id"]))]);
    let refusal = deeper.refused("spawn", json!({"task": "true", "agent": "shell"}));
    assert!(
        refusal.contains("sidekicks nest at most 2 levels"),
        "{refusal}"
    );

    // Ending the parent ends its sidekick.
    w.ok(&["cancel", &parent_id]);
    let ended = w.wait_state(&s(&child["id"]), "cancelled");
    assert!(
        s(&ended["reason"]).contains(&s(&parent["codename"])),
        "{ended}"
    );
}

#[test]
fn bad_input_is_a_tool_error_with_a_sentence_and_the_server_keeps_answering() {
    let w = World::new();
    let mcp = Mcp::start(&w);
    let not_a_repo = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "wait",
            json!({"job": "no-such-job"}),
            "no job matches 'no-such-job'",
        ),
        ("status", json!({"job": "zzzz"}), "no job matches 'zzzz'"),
        ("cancel", json!({"job": "zzzz"}), "no job matches"),
        ("diff", json!({"job": "zzzz"}), "no job matches"),
        ("logs", json!({"job": "zzzz"}), "no job matches"),
        (
            "reply",
            json!({"job": "zzzz", "text": "hi"}),
            "no job matches",
        ),
        (
            "spawn",
            json!({"task": "x", "agent": "nope"}),
            "unknown agent 'nope'",
        ),
        (
            "spawn",
            json!({"task": "x", "agent": "shell", "repo": not_a_repo.path()}),
            "not",
        ),
        ("spawn", json!({"agent": "shell"}), "task"),
        (
            "spawn",
            json!({"task": "x", "timeout": "soon"}),
            "timeout 'soon'",
        ),
        (
            "spawn",
            json!({"task": "x", "context": "most"}),
            "context must be task_only or full",
        ),
        (
            "spawn",
            json!({"task": "x", "colour": "red"}),
            "bad arguments for spawn: unknown field `colour`",
        ),
        (
            "wait",
            json!({"job": "x", "timeout_s": -1}),
            "timeout_s must be a number of seconds",
        ),
        (
            "wait",
            json!({}),
            "bad arguments for wait: missing field `job`",
        ),
        (
            "logs",
            json!({"job": "x", "max_lines": 0}),
            "max_lines must be from 1",
        ),
        ("merge", json!({"job": "x"}), "merge is not offered"),
        ("frobnicate", json!({}), "there is no tool 'frobnicate'"),
    ];
    for (tool, args, want) in cases {
        let said = mcp.refused(tool, args.clone());
        assert!(said.contains(want), "{tool} {args}: {said}");
        assert!(!said.contains('\n'), "one sentence: {said}");
    }
    // Still answering, and nothing was started.
    assert_eq!(mcp.tools().len(), 10);
    assert_eq!(w.json(&["ls", "--all", "--json"]), json!([]));
}

#[test]
fn the_server_keeps_working_across_a_host_restart() {
    let w = World::new();
    let mcp = Mcp::start(&w);
    let (job, _) = mcp.call("spawn", json!({"task": "true", "agent": "shell"}));
    mcp.call("wait", json!({"job": job["id"], "timeout_s": 30}));
    w.stop_host();
    assert!(w.host_pid().is_none());
    let (status, _) = mcp.call("status", json!({"job": job["id"]}));
    assert_eq!(status["state"], "completed");
    assert!(w.host_pid().is_some(), "a new host was started");
    // And the end of a job spawned after the restart is still told.
    let (next, _) = mcp.call("spawn", json!({"task": "true", "agent": "shell"}));
    mcp.heard_until("the second job's end", |v| v["log"]["id"] == next["id"]);
}

#[test]
fn subscribed_job_resources_are_read_and_updated() {
    let w = World::new();
    let mcp = Mcp::start(&w);
    let (job, _) = mcp.call("spawn", json!({"task": "sleep 1", "agent": "shell"}));
    let uri = format!("sidekick://jobs/{}", s(&job["id"]));
    let listed = mcp
        .rt
        .block_on(mcp.client().list_all_resources())
        .expect("resources/list");
    assert!(listed.iter().any(|r| r.uri == uri), "{listed:?}");
    #[allow(deprecated)]
    mcp.rt
        .block_on(
            mcp.client()
                .subscribe(SubscribeRequestParams::new(uri.clone())),
        )
        .expect("resources/subscribe");
    mcp.heard_until("an update of the subscribed job", |v| {
        v["updated"] == uri.as_str()
    });
    let read = mcp
        .rt
        .block_on(
            mcp.client()
                .read_resource(ReadResourceRequestParams::new(uri.clone())),
        )
        .expect("resources/read");
    let text = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("not text: {other:?}"),
    };
    let v: Value = serde_json::from_str(&text).expect("a job as JSON");
    assert_eq!(v["codename"], job["codename"]);
    let missing = mcp.rt.block_on(
        mcp.client()
            .read_resource(ReadResourceRequestParams::new("sidekick://jobs/zzzz")),
    );
    assert!(missing.is_err(), "an unknown job is not a resource");
}

#[test]
fn the_merge_tool_is_offered_when_the_config_allows_it() {
    let w = World::with_config("[mcp]\nallow_merge = true\n");
    let mcp = Mcp::start(&w);
    assert!(mcp.tools().contains(&"merge".to_string()));
    let (job, _) = mcp.call(
        "spawn",
        json!({"task": "echo merged > m.txt", "agent": "shell"}),
    );
    mcp.call("wait", json!({"job": job["id"]}));
    let (merged, text) = mcp.call("merge", json!({"job": job["id"]}));
    assert_eq!(merged["merged"], true, "{text}");
    assert_eq!(
        std::fs::read_to_string(w.repo.join("m.txt")).expect("merged into the checkout"),
        "merged\n"
    );
    let bad = mcp.refused("merge", json!({"job": job["id"], "strategy": "octopus"}));
    assert!(
        bad.contains("strategy must be squash, merge or rebase"),
        "{bad}"
    );
    // With merge allowed, spawn may ask for a sidekick that lands by itself.
    let (landed, _) = mcp.call(
        "spawn",
        json!({"task": "echo docs > docs.md", "agent": "shell", "auto_merge": true}),
    );
    let (done, text) = mcp.call("wait", json!({"job": landed["id"]}));
    assert_eq!(done["state"], "merged", "{text}");
    assert_eq!(
        std::fs::read_to_string(w.repo.join("docs.md")).expect("landed"),
        "docs\n"
    );
}

#[test]
fn auto_merge_is_not_offered_unless_merge_is() {
    let w = World::new();
    let mcp = Mcp::start(&w);
    let spawn = mcp
        .rt
        .block_on(mcp.client().list_all_tools())
        .expect("tools/list")
        .into_iter()
        .find(|t| t.name == "spawn")
        .expect("spawn");
    let props = spawn.input_schema.get("properties").expect("properties");
    assert!(
        props.get("task").is_some() && props.get("auto_merge").is_none(),
        "{props}"
    );
    let refused = mcp.refused(
        "spawn",
        json!({"task": "echo x > x.md", "agent": "shell", "auto_merge": true}),
    );
    assert!(refused.contains("[mcp] allow_merge"), "{refused}");
    assert_eq!(w.json(&["ls", "--json"]), json!([]), "no job was started");
}

#[test]
fn print_config_shows_how_to_register_the_server_with_each_agent() {
    let w = World::new();
    let claude = w.ok(&["mcp", "--print-config", "claude"]);
    assert!(
        claude.contains("claude mcp add --scope user sidekick -- /")
            && claude.trim_end().ends_with(" mcp"),
        "{claude}"
    );
    let all = w.ok(&["mcp", "--print-config"]);
    assert!(
        all.contains("[mcp_servers.sidekick]") && all.contains("\"mcpServers\""),
        "{all}"
    );
    let bad = w.sk(&["mcp", "--print-config", "emacs"]);
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
}

#[test]
fn cancel_reply_and_merge_act_only_on_this_sessions_jobs_unless_the_user_allows_any() {
    let w = World::with_config("[mcp]\nallow_merge = true\n");
    let users = w.spawn(&["-a", "shell"], "sleep 60");
    let users_id = s(&users["id"]);
    w.wait_state(&users_id, "running");
    let mcp = Mcp::start(&w);
    for (tool, args) in [
        ("cancel", json!({"job": users_id})),
        ("reply", json!({"job": users_id, "text": "stop"})),
        ("merge", json!({"job": users_id})),
    ] {
        let said = mcp.refused(tool, args);
        assert!(
            said.contains("was not started in this session"),
            "{tool}: {said}"
        );
    }
    assert_eq!(w.status(&users_id)["state"], "running");
    // Its own sidekick, and that one's, it may stop.
    let (own, _) = mcp.call("spawn", json!({"task": "sleep 60", "agent": "shell"}));
    let inner = Mcp::start_with(&w, &[("SIDEKICK_JOB_ID", &s(&own["id"]))]);
    let (grandchild, _) = inner.call("spawn", json!({"task": "sleep 60", "agent": "shell"}));
    let (stopped, _) = mcp.call("cancel", json!({"job": s(&grandchild["id"])}));
    assert_eq!(stopped["state"], "cancelled", "{stopped}");
    let (stopped, _) = mcp.call("cancel", json!({"job": s(&own["id"])}));
    assert_eq!(stopped["state"], "cancelled", "{stopped}");
    drop((mcp, inner));

    // The user's config can open it up.
    std::fs::write(w.home.join("config.toml"), "[mcp]\nany_job = true\n").expect("config");
    let mcp = Mcp::start(&w);
    let (stopped, _) = mcp.call("cancel", json!({"job": users_id}));
    assert_eq!(stopped["state"], "cancelled", "{stopped}");
}

#[test]
fn a_message_that_is_not_json_rpc_or_too_long_gets_an_error_and_the_session_goes_on() {
    use std::io::{BufRead, Write};
    let w = World::new();
    let mut child = w
        .command(&["mcp"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sidekick mcp starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let writer = std::thread::spawn(move || {
        let mut send = |line: &[u8]| {
            stdin.write_all(line).expect("write");
            stdin.write_all(b"\n").expect("write");
        };
        send(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#);
        send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        send(b"this is not json");
        let mut huge = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"spawn","arguments":{"task":""#.to_vec();
        huge.extend(std::iter::repeat_n(b'a', 30 << 20));
        huge.extend_from_slice(br#""}}}"#);
        send(&huge);
        send(br#"{"jsonrpc":"2.0","id":4}"#);
        send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#);
        stdin
    });
    // Answers may come in any order (the framing's errors and the server's replies are written
    // by two hands): read until the last request's reply and all three errors are in.
    let mut answers: Vec<Value> = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("a line");
        let v: Value = serde_json::from_str(&line).expect("every answer is JSON");
        answers.push(v);
        let errors = answers.iter().filter(|a| a.get("error").is_some()).count();
        if errors == 3 && answers.iter().any(|a| a["id"] == 5) {
            break;
        }
    }
    drop(writer.join().expect("written"));
    let _ = child.wait();
    let errors: Vec<(Value, Value)> = answers
        .iter()
        .filter(|a| a.get("error").is_some())
        .map(|a| (a["id"].clone(), a["error"]["code"].clone()))
        .collect();
    assert_eq!(
        errors,
        vec![
            (Value::Null, json!(-32700)),
            (Value::Null, json!(-32600)),
            (json!(4), json!(-32600)),
        ],
        "{answers:?}"
    );
    let listed = answers
        .iter()
        .find(|a| a["id"] == 5)
        .expect("tools/list answered");
    assert!(listed["result"]["tools"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
    // The long message never reached the host.
    assert_eq!(w.json(&["ls", "--all", "--json"]), json!([]));
}
