//! The built-in agent profiles against fake agent programs under the real names (`claude`,
//! `codex`, `gemini`, `aider`) first on PATH. Each fake records the argv it was given, writes a
//! file in the worktree like an agent would, and replays a stream fixture written from the
//! tool's documented output format (malformed lines, a 5 MB line and a run without a final
//! result included), or prints steps forever for the budget tests.

use std::path::{Path, PathBuf};

use crate::common::{s, World};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agents");

/// Installs the fake agents in `<root>/bin` and puts that first on the world's PATH.
fn fake_agents(w: &mut World, mode: &str) -> PathBuf {
    // The fakes keep what they got beside themselves, outside any sandbox's reach.
    let config = w.home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("sandbox = \"off\"\n{text}")).expect("config");
    let bin = w.root.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let script = format!(
        r#"#!/bin/sh
name=$(basename "$0")
here=$(cd "$(dirname "$0")" && pwd)
if [ "$1" = "--version" ]; then echo "$name 9.9.9 (fake)"; exit 0; fi
: > "$here/$name.argv"
if [ -n "$SIDEKICK_CONTEXT_FILE" ]; then cp "$SIDEKICK_CONTEXT_FILE" "$here/$name.context"; fi
for a in "$@"; do printf '%s\0' "$a" >> "$here/$name.argv"; done
# An agent in a dialog gets its task on stdin: keep its first message.
case " $* " in
  *" --input-format stream-json "*) head -n 1 > "$here/$name.stdin" ;;
  *" app-server "*) head -n 3 > "$here/$name.stdin" ;;
  *" --acp "*) head -n 2 > "$here/$name.stdin" ;;
esac
case "{mode}" in
  replay)
    echo "edited by $name" > "agent-$name.txt"
    if [ "$name" = aider ]; then mkdir -p .aider.tags.cache.v4; echo x > .aider.tags.cache.v4/cache.db; echo log > .aider.chat.history.md; fi
    cat "{FIXTURES}/$name.out"
    if [ "$name" = claude ]; then head -c 5000000 /dev/zero | tr '\0' x; echo; fi
    ;;
  forever)
    i=0
    while :; do
      i=$((i+1))
      echo "$i" > "step-$i.txt"
      echo '{{"type":"assistant","message":{{"content":[{{"type":"tool_use","name":"Write","input":{{"file_path":"step.txt"}}}}],"usage":{{"input_tokens":1000,"output_tokens":0}}}}}}'
      sleep 0.05
    done
    ;;
esac
"#
    );
    for name in ["claude", "codex", "gemini", "aider"] {
        let p = bin.join(name);
        std::fs::write(&p, &script).expect("write fake agent");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }
    w.bin = Some(bin.clone());
    bin
}

/// The text of the first message an agent in a dialog got on stdin.
fn prompt_sent(bin: &Path, name: &str) -> String {
    let line = std::fs::read_to_string(bin.join(format!("{name}.stdin"))).expect("stdin kept");
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON message");
    assert_eq!(v["type"], "user", "{v}");
    s(&v["message"]["content"][0]["text"])
}

/// Codex CLI and Gemini CLI in their headless modes (they ask by default, over protocols the
/// replaying fakes do not speak).
const HEADLESS: &str = "[agents.codex]\npermission = \"workspace-write\"\n[agents.gemini]\npermission = \"auto_edit\"\n";

fn argv(bin: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(bin.join(format!("{name}.argv")))
        .expect("the fake agent ran")
        .split_terminator('\0')
        .map(str::to_string)
        .collect()
}

#[test]
fn each_agent_gets_its_documented_headless_argv() {
    let mut w = World::with_config(HEADLESS);
    let bin = fake_agents(&mut w, "replay");
    let task = "Write hello.txt; don't `rm` anything $(whoami)";
    for name in ["claude", "codex", "gemini", "aider"] {
        let job = w.run_json(&["run", "--json", "--wait", "-a", name, "--", task]);
        assert_eq!(job["state"], "completed", "{name}: {job}");
    }
    // Every built-in agent that can gets Sidekick's own MCP server (`[mcp] expose_to_jobs`).
    let mcp_config = serde_json::json!({
        "mcpServers": {"sidekick": {"type": "stdio", "command": crate::common::BIN, "args": ["mcp"]}}
    })
    .to_string();
    // Claude Code asks (`permission = "ask"`, the default): the task goes in on stdin.
    assert_eq!(
        argv(&bin, "claude"),
        [
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-prompt-tool",
            "stdio",
            "--permission-mode",
            "default",
            "--replay-user-messages",
            "--mcp-config",
            &mcp_config,
            "--allowedTools",
            "mcp__sidekick",
        ]
    );
    assert_eq!(prompt_sent(&bin, "claude"), task);
    assert_eq!(
        argv(&bin, "codex"),
        [
            "exec",
            "-c",
            &format!("mcp_servers.sidekick.command=\"{}\"", crate::common::BIN),
            "-c",
            "mcp_servers.sidekick.args=[\"mcp\"]",
            "--json",
            "--skip-git-repo-check",
            "--sandbox",
            "workspace-write",
            task
        ]
    );
    assert_eq!(
        argv(&bin, "gemini"),
        [
            "--prompt",
            task,
            "--output-format",
            "stream-json",
            "--approval-mode",
            "auto_edit"
        ]
    );
    let aider = argv(&bin, "aider");
    assert_eq!(aider[..2], ["--message".to_string(), task.to_string()]);
    for flag in [
        "--yes-always",
        "--no-auto-commits",
        "--no-suggest-shell-commands",
    ] {
        assert!(
            aider.iter().any(|a| a == flag),
            "aider lacks {flag}: {aider:?}"
        );
    }
}

#[test]
fn codex_and_gemini_ask_by_default_over_their_own_protocols() {
    let mut w = World::new();
    let bin = fake_agents(&mut w, "replay");
    for name in ["codex", "gemini"] {
        let r = w.sk(&["run", "--json", "--wait", "-a", name, "write hello"]);
        let job: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
        // The fakes print their headless stream and never open a session: the job fails
        // with a sentence, not as a success that did nothing it was asked.
        assert_eq!(job["state"], "failed", "{name}: {job}");
        assert_eq!(
            job["reason"],
            "the agent ended before it opened a session; its output is in the job's log",
            "{name}"
        );
    }
    assert_eq!(argv(&bin, "codex"), ["app-server"]);
    assert_eq!(argv(&bin, "gemini"), ["--acp"]);
    let said = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(bin.join(format!("{name}.stdin")))
            .expect("stdin kept")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON message"))
            .collect()
    };
    // Codex: initialize, initialized, then a thread in the job's worktree that asks for
    // what is not known to be safe.
    let codex = said("codex");
    assert_eq!(codex[0]["method"], "initialize", "{codex:?}");
    assert_eq!(codex[0]["params"]["clientInfo"]["name"], "sidekick");
    assert_eq!(codex[1]["method"], "initialized");
    assert_eq!(codex[2]["method"], "thread/start");
    assert_eq!(codex[2]["params"]["approvalPolicy"], "untrusted");
    assert_eq!(codex[2]["params"]["sandbox"], "workspace-write");
    let cwd = s(&codex[2]["params"]["cwd"]);
    assert!(cwd.contains("/worktrees/"), "{cwd}");
    // Gemini: ACP's initialize, then a session in the worktree.
    let gemini = said("gemini");
    assert_eq!(gemini[0]["method"], "initialize", "{gemini:?}");
    assert_eq!(gemini[1]["method"], "session/new");
    assert!(s(&gemini[1]["params"]["cwd"]).contains("/worktrees/"));
}

#[test]
fn steps_tokens_cost_and_summary_come_from_each_format() {
    let mut w = World::with_config(HEADLESS);
    fake_agents(&mut w, "replay");
    let claude = w.run_json(&["run", "--json", "--wait", "-a", "claude", "write hello"]);
    assert_eq!(claude["steps"], 2, "{claude}");
    assert_eq!(claude["tokens"]["input"], 2550);
    assert_eq!(claude["tokens"]["output"], 100);
    assert_eq!(claude["tokens"]["cached"], 600);
    assert_eq!(claude["cost_usd"], 0.0185);
    assert_eq!(claude["summary"], "Created hello.txt with a greeting.");
    // The agent's edit is on the job's branch.
    let id = s(&claude["id"]);
    let files = w.git(&[
        "show",
        "--name-only",
        "--format=",
        &format!("sidekick/{}", s(&claude["codename"])),
    ]);
    assert!(files.contains("agent-claude.txt"), "{files}");

    let codex = w.run_json(&["run", "--json", "--wait", "-a", "codex", "write hello"]);
    assert_eq!(codex["steps"], 3, "{codex}");
    assert_eq!(codex["tokens"]["input"], 5400);
    assert_eq!(codex["tokens"]["cached"], 4000);
    assert_eq!(codex["summary"], "Created hello.txt.");
    assert!(codex["cost_usd"].is_null());

    let gemini = w.run_json(&["run", "--json", "--wait", "-a", "gemini", "write hello"]);
    assert_eq!(gemini["steps"], 3, "{gemini}");
    assert_eq!(
        gemini["summary"], "Wrote hello.txt.",
        "no final result line: the last turn"
    );

    let aider = w.run_json(&["run", "--json", "--wait", "-a", "aider", "write hello"]);
    let files = w.git(&["show", "--name-only", "--format=", &s(&aider["branch"])]);
    assert!(files.contains("agent-aider.txt"), "{files}");
    assert!(
        !files.contains(".aider"),
        "Aider's own cache and chat log stay off the branch: {files}"
    );
    assert_eq!(aider["tokens"]["input"], 2400, "{aider}");
    assert_eq!(aider["tokens"]["output"], 95);
    assert_eq!(aider["cost_usd"], 0.0087);
    assert_eq!(aider["steps"], 2);

    // The parsed view and the raw one.
    let parsed = w.ok(&["logs", "--parsed", &id]);
    assert!(parsed.contains("step 1 · Write · /w/hello.txt"), "{parsed}");
    assert!(
        parsed.contains("summary: Created hello.txt with a greeting."),
        "{parsed}"
    );
    assert!(
        parsed.contains("this line is not JSON"),
        "kept as raw output: {parsed}"
    );
    assert!(!parsed.contains("\"type\":\"assistant\""), "{parsed}");
    let raw = w.ok(&["logs", &id]);
    assert!(raw.contains("\"type\":\"result\""));
    assert!(
        raw.contains(&"x".repeat(5_000_000)),
        "the 5 MB line is kept whole"
    );
    let status = w.ok(&["status", &id]);
    assert!(status.contains("2550 in, 100 out, 600 cached"), "{status}");
}

#[test]
fn agents_shows_where_and_which_version() {
    let mut w = World::new();
    fake_agents(&mut w, "replay");
    let agents: serde_json::Value =
        serde_json::from_str(&w.ok(&["agents", "--json"])).expect("json");
    let claude = agents
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "claude"))
        .expect("claude listed");
    assert_eq!(claude["installed"], true);
    assert_eq!(claude["version"], "claude 9.9.9 (fake)");
    assert_eq!(claude["format"], "claude-stream-json");
    let table = w.ok(&["agents"]);
    assert!(table.contains("codex 9.9.9 (fake)"), "{table}");
}

#[test]
fn a_step_cap_stops_the_agent_and_completes_the_job() {
    let mut w = World::new();
    fake_agents(&mut w, "forever");
    let job = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "-a",
        "claude",
        "--max-steps",
        "3",
        "loop",
    ]);
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["capped"], true);
    assert!(job["steps"].as_u64().is_some_and(|n| n >= 3), "{job}");
    assert!(s(&job["reason"]).contains("step cap"), "{job}");
    let files = w.git(&["show", "--name-only", "--format=", &s(&job["branch"])]);
    assert!(
        files.contains("step-1.txt"),
        "the work so far is committed: {files}"
    );
}

#[test]
fn a_token_budget_warns_then_stops_the_job() {
    let mut w = World::new();
    fake_agents(&mut w, "forever");
    let r = w.sk(&[
        "run",
        "--json",
        "--wait",
        "-a",
        "claude",
        "--token-budget",
        "5000",
        "loop",
    ]);
    assert_eq!(r.code(), 1, "a failed job");
    let job: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(job["state"], "failed", "{job}");
    assert!(s(&job["reason"]).starts_with("budget:"), "{job}");
    assert!(job["tokens"]["input"].as_u64().is_some_and(|n| n >= 5000));
    let logs = w.sk(&["logs", &s(&job["id"])]);
    assert!(
        logs.stderr().contains("of its 5000-token budget (80 %)"),
        "{}",
        logs.stderr()
    );
}

#[test]
fn a_builtin_agent_takes_its_permission_setting_from_the_config() {
    let mut w = World::with_config("[agents.claude]\npermission = \"bypassPermissions\"\n");
    let bin = fake_agents(&mut w, "replay");
    w.ok(&["run", "--wait", "-a", "claude", "go"]);
    assert_eq!(argv(&bin, "claude")[6], "bypassPermissions");
}

fn task_type(w: &World, name: &str, toml: &str) {
    let dir = w.repo.join(".sidekick/tasks").join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("task.toml"), toml).expect("task.toml");
    // The user trusts the repository's task types as they are now.
    w.ok(&["trust", "--yes"]);
}

#[test]
fn task_types_run_with_their_inputs_quoted_and_checked() {
    let w = World::new();
    task_type(
        &w,
        "greet",
        "description = \"Write a greeting\"\ncommand = \"printf '%s\\\\n' {inputs.name} > greeting.txt\"\ntimeout = \"2m\"\n\
         [[inputs]]\nname = \"name\"\nrequired = true\n[[inputs]]\nname = \"unused\"\ndefault = \"x\"\n",
    );
    task_type(
        &w,
        "broken",
        "agent = \"claude\"\nprompt = \"fix {inputs.what}\"\n",
    );

    let listed: serde_json::Value =
        serde_json::from_str(&w.ok(&["tasks", "--json"])).expect("json");
    let list = listed.as_array().expect("array");
    assert_eq!(list.len(), 2);
    let broken = list
        .iter()
        .find(|t| t["name"] == "broken")
        .expect("broken listed");
    assert!(s(&broken["error"]).contains("broken/task.toml"), "{broken}");
    assert!(
        s(&broken["error"]).contains("no input 'what' is declared"),
        "{broken}"
    );
    let greet = list
        .iter()
        .find(|t| t["name"] == "greet")
        .expect("greet listed");
    assert_eq!(greet["agent"], "shell");
    assert!(w.ok(&["tasks"]).contains("name*"));

    let value = "Ada; rm -rf / $(id) 'quoted'";
    let job = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "--type",
        "greet",
        "--input",
        &format!("name={value}"),
    ]);
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["timeout_ms"], 120_000);
    let written = w.git(&["show", &format!("{}:greeting.txt", s(&job["branch"]))]);
    assert_eq!(written, value, "the input arrived as one word, not as code");

    for (args, needle) in [
        (vec!["run", "--type", "greet"], "needs the input 'name'"),
        (
            vec![
                "run",
                "--type",
                "greet",
                "--input",
                "name=a",
                "--input",
                "colour=red",
            ],
            "has no input 'colour'",
        ),
        (
            vec!["run", "--type", "nope"],
            "there is no task type 'nope'",
        ),
        (vec!["run", "--type", "broken"], "broken/task.toml"),
    ] {
        let r = w.sk(&args);
        assert_eq!(r.code(), 1, "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains(needle), "{args:?}: {}", r.stderr());
        assert_eq!(
            r.stderr().trim().lines().count(),
            1,
            "one sentence: {}",
            r.stderr()
        );
    }
    let stray = w.sk(&["run", "--input", "a=b", "task"]);
    assert_eq!(stray.code(), 1);
    assert!(
        stray.stderr().contains("inputs are given but no task type"),
        "{}",
        stray.stderr()
    );
}

#[test]
fn a_prompt_task_type_and_the_repository_default_agent() {
    let mut w = World::with_config(HEADLESS);
    let bin = fake_agents(&mut w, "replay");
    task_type(
        &w,
        "lint",
        "agent = \"claude\"\nprompt = \"Fix the {inputs.linter} warnings in {inputs.path}.\"\nmax_steps = 7\n\
         [[inputs]]\nname = \"path\"\nrequired = true\n[[inputs]]\nname = \"linter\"\ndefault = \"clippy\"\n",
    );
    let job = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "--type",
        "lint",
        "--input",
        "path=crates/x",
    ]);
    assert_eq!(job["agent"], "claude");
    assert_eq!(job["max_steps"], 7);
    assert_eq!(
        prompt_sent(&bin, "claude"),
        "Fix the clippy warnings in crates/x."
    );

    std::fs::write(w.repo.join(".sidekick/config.toml"), "agent = \"codex\"\n")
        .expect("repo config");
    let job = w.run_json(&["run", "--json", "--wait", "plain task"]);
    assert_eq!(job["agent"], "codex", "the repository's default agent");
    assert_eq!(
        argv(&bin, "codex").last().map(String::as_str),
        Some("plain task")
    );
    let job = w.run_json(&["run", "--json", "--wait", "-a", "shell", "true"]);
    assert_eq!(job["agent"], "shell", "-a still wins");
}

#[test]
fn a_job_that_names_no_agent_gets_the_default_the_app_shows() {
    let w = World::new();
    // A user with no `agent` of their own (the test worlds default to shell).
    std::fs::write(w.home.join("config.toml"), "").expect("config");
    // No coding agent installed: a sentence, and nothing starts (the text is never run as a
    // command by default).
    let r = w.sk(&["run", "Update the docs"]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr()
            .contains("no agent was named and none is installed to default to"),
        "{}",
        r.stderr()
    );
    assert!(r.stderr().contains("-a shell"), "{}", r.stderr());
    assert_eq!(
        w.run_json(&["ls", "--all", "--json"]),
        serde_json::json!([])
    );
    // Coding agents installed (a host that finds them on its PATH): the first of them, as the
    // app's composer picks it.
    let mut w = World::new();
    std::fs::write(w.home.join("config.toml"), "").expect("config");
    fake_agents(&mut w, "replay");
    let job = w.run_json(&["run", "--json", "--wait", "Update the docs"]);
    assert_eq!(job["agent"], "claude", "{job}");
    // The user's own default comes next after the repository's.
    let config = w.home.join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("agent = \"aider\"\n{text}")).expect("config");
    let job = w.run_json(&["run", "--json", "--wait", "Update the docs"]);
    assert_eq!(job["agent"], "aider", "{job}");
}

#[test]
fn context_reaches_the_agent_as_a_file_and_a_delimited_block() {
    let mut w = World::new();
    let bin = fake_agents(&mut w, "replay");
    let first = w.run_json(&["run", "--json", "--wait", "echo one > one.txt"]);
    let notes = w.root.join("notes.md");
    std::fs::write(&notes, "Prefer small commits.\n").expect("notes");
    let job = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "-a",
        "claude",
        "--context-from",
        &s(&first["codename"]),
        "--context-file",
        notes.to_str().expect("utf-8"),
        "--",
        "the task",
    ]);
    assert_eq!(job["task"], "the task", "the job's task is the user's own");
    let prompt = &prompt_sent(&bin, "claude");
    assert!(
        prompt.starts_with("<sidekick-context>\n# Context"),
        "{prompt}"
    );
    assert!(
        prompt.ends_with("</sidekick-context>\n\nthe task"),
        "{prompt}"
    );
    for part in [
        format!("## Job {}", s(&first["codename"])),
        "Task:\necho one > one.txt".to_string(),
        "one.txt | 1 +".to_string(),
        format!("## From {}", notes.display()),
        "Prefer small commits.".to_string(),
    ] {
        assert!(prompt.contains(&part), "{part:?} missing from {prompt}");
    }
    let file = std::fs::read_to_string(bin.join("claude.context")).expect("SIDEKICK_CONTEXT_FILE");
    assert!(
        prompt.contains(file.trim_end()),
        "the file holds the same context"
    );

    // A shell job gets the file only; its task stays the command.
    let shell = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "--context-from",
        &s(&first["id"]),
        "cp \"$SIDEKICK_CONTEXT_FILE\" ctx.md",
    ]);
    let ctx = w.git(&["show", &format!("{}:ctx.md", s(&shell["branch"]))]);
    assert!(ctx.contains("echo one > one.txt"), "{ctx}");

    let first_id = s(&first["id"]);
    for (args, needle) in [
        (
            vec!["run", "--context", "full", "x"],
            "--context full needs",
        ),
        (
            vec![
                "run",
                "--context",
                "task_only",
                "--context-from",
                first_id.as_str(),
                "y",
            ],
            "takes no context",
        ),
        (
            vec!["run", "--context-file", "/no/such/file", "x"],
            "cannot read the context file",
        ),
    ] {
        let r = w.sk(&args);
        assert_eq!(r.code(), 1, "{args:?}");
        assert!(r.stderr().contains(needle), "{args:?}: {}", r.stderr());
    }
}

#[test]
fn a_follow_up_continues_from_the_jobs_branch() {
    let w = World::new();
    let first = w.run_json(&["run", "--json", "--wait", "echo a > a.txt"]);
    let next = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "--continue",
        &s(&first["codename"]),
        "cat a.txt > b.txt",
    ]);
    assert_eq!(next["state"], "completed", "{next}");
    assert_eq!(
        next["base_commit"], first["head_commit"],
        "it starts where the first ended"
    );
    assert_eq!(
        next["base_branch"], "main",
        "and merges back where the first would"
    );
    assert_eq!(
        w.git(&["show", &format!("{}:b.txt", s(&next["branch"]))]),
        "a",
        "the first job's change is there"
    );
    w.ok(&["merge", &s(&next["id"])]);
    assert_eq!(w.git(&["show", "main:a.txt"]), "a");
    assert_eq!(w.git(&["show", "main:b.txt"]), "a");

    let running = w.spawn(&[], "sleep 30");
    let r = w.sk(&["run", "--continue", &s(&running["id"]), "more"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("continue it once it has ended"),
        "{}",
        r.stderr()
    );
    w.ok(&["cancel", &s(&running["id"])]);
}

#[test]
fn budgets_come_from_the_profile_and_the_config_too() {
    let mut w = World::with_config("token_budget = 900000\n[agents.claude]\nmax_steps = 2\n");
    fake_agents(&mut w, "forever");
    let job = w.run_json(&["run", "--json", "--wait", "-a", "claude", "loop"]);
    assert_eq!(
        (job["max_steps"].as_u64(), job["token_budget"].as_u64()),
        (Some(2), Some(900_000)),
        "{job}"
    );
    assert_eq!(job["capped"], true, "{job}");
    let own = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "-a",
        "claude",
        "--max-steps",
        "4",
        "loop",
    ]);
    assert_eq!(own["max_steps"], 4, "the job's own comes first");
    assert!(own["steps"].as_u64().is_some_and(|n| n >= 4), "{own}");
}

#[test]
fn a_stream_with_huge_token_counts_is_recorded_whole_and_its_counts_saturate() {
    let w = World::with_config(
        "[agents.huge]\ncommand = [\"sh\", \"-c\", \"{task}\"]\nformat = \"claude-stream-json\"\n",
    );
    let max = u64::MAX;
    let mut lines = String::new();
    for i in 1..=10 {
        lines.push_str(&format!(
            r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"line {i}"}}],"usage":{{"input_tokens":{max},"cache_creation_input_tokens":{max},"cache_read_input_tokens":{max},"output_tokens":{max}}}}}}}"#
        ));
        lines.push('\n');
    }
    lines.push_str(&format!(
        r#"{{"type":"result","subtype":"success","result":"done","usage":{{"input_tokens":{max},"cache_creation_input_tokens":{max},"output_tokens":{max}}},"total_cost_usd":1e308}}"#
    ));
    lines.push('\n');
    std::fs::write(w.repo.join("stream.jsonl"), &lines).expect("write");
    w.git(&["add", "stream.jsonl"]);
    w.git(&["commit", "-q", "-m", "stream"]);
    let job = w.spawn(&["--wait", "-a", "huge"], "cat stream.jsonl");
    assert_eq!(job["state"], "completed", "{job}");
    let log = w.ok(&["logs", &s(&job["id"])]);
    assert_eq!(log.lines().count(), 11, "every line is in the log:\n{log}");
    assert_eq!(job["tokens"]["input"], serde_json::json!(u64::MAX), "{job}");
    assert_eq!(
        job["tokens"]["output"],
        serde_json::json!(u64::MAX),
        "{job}"
    );
    assert_eq!(job["summary"], "done", "{job}");
}

#[test]
fn the_shell_agents_env_and_timeout_apply_and_what_it_cannot_use_is_refused() {
    let w = World::with_config(
        "[agents.shell]\nenv = { GREETING = \"hello from the config\" }\ntimeout = \"2s\"\n",
    );
    let job = w.run_json(&["run", "--json", "--wait", "--", "echo $GREETING; sleep 30"]);
    assert_eq!(job["state"], "timeout", "{job}");
    assert!(
        w.ok(&["logs", &s(&job["id"])])
            .contains("hello from the config"),
        "{job}"
    );
    std::fs::write(
        w.home.join("config.toml"),
        "[agents.shell]\npermission = \"ask\"\nmax_steps = 3\n",
    )
    .expect("config");
    let r = w.sk(&["run", "echo hi"]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr()
            .contains("agents.shell.permission, agents.shell.max_steps does not apply"),
        "{}",
        r.stderr()
    );
}
