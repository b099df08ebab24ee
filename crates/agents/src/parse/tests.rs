//! The parsers on each format's real lines.

use super::*;

fn parse_all(format: Format, lines: &[&str]) -> Vec<Parsed> {
    let mut p = format.parser().expect("a parser");
    let mut out = Vec::new();
    for l in lines {
        p.line(l, &mut out);
    }
    p.finish(&mut out);
    out
}

/// What a parser reports besides the transcript.
fn run(format: Format, lines: &[&str]) -> Vec<Parsed> {
    parse_all(format, lines)
        .into_iter()
        .filter(|p| !matches!(p, Parsed::Entry(_)))
        .collect()
}

/// The transcript a parser reports.
fn transcript(format: Format, lines: &[&str]) -> Vec<Entry> {
    parse_all(format, lines)
        .into_iter()
        .filter_map(|p| match p {
            Parsed::Entry(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn tool(id: &str, name: &str, brief: &str, input: Value) -> Entry {
    Entry::Tool {
        id: id.into(),
        name: name.into(),
        brief: brief.into(),
        input,
    }
}

fn result(id: &str, output: &str, error: bool) -> Entry {
    Entry::Result {
        id: id.into(),
        output: output.into(),
        error,
    }
}

fn said(text: &str) -> Entry {
    Entry::Text { text: text.into() }
}

fn turn() -> Entry {
    Entry::Turn {
        tokens: Default::default(),
        cost_usd: None,
    }
}

#[test]
fn claude_transcript_text_tools_results_errors_and_the_todo_plan() {
    let t = transcript(
        Format::ClaudeStream,
        &[
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Let me **check**."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cargo test","description":"run tests"}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"error: 2 tests failed","is_error":true}]}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t2","name":"TodoWrite","input":{"todos":[{"content":"Fix the parser","status":"in_progress","activeForm":"Fixing"},{"content":"Add a test","status":"pending"}]}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"Todos updated"},{"type":"text","text":"ok ✓"}]}]}}"#,
            r#"{"type":"result","subtype":"success","result":"Fixed.","total_cost_usd":0.01,"usage":{"input_tokens":10,"output_tokens":2}}"#,
        ],
    );
    assert_eq!(
        t,
        [
            said("Let me **check**."),
            tool(
                "t1",
                "Bash",
                "cargo test",
                serde_json::json!({"command": "cargo test", "description": "run tests"})
            ),
            result("t1", "error: 2 tests failed", true),
            Entry::Plan {
                items: vec![
                    PlanItem {
                        text: "Fix the parser".into(),
                        status: "in_progress".into()
                    },
                    PlanItem {
                        text: "Add a test".into(),
                        status: "pending".into()
                    },
                ]
            },
            tool(
                "t2",
                "TodoWrite",
                "2 items",
                serde_json::json!({"todos": [{"content": "Fix the parser", "status": "in_progress", "activeForm": "Fixing"}, {"content": "Add a test", "status": "pending"}]})
            ),
            result("t2", "Todos updated\nok ✓", false),
            turn(),
        ]
    );
}

#[test]
fn long_texts_and_inputs_are_cut_for_the_transcript_on_a_char_boundary() {
    let long = "é".repeat(40_000);
    let line = serde_json::json!({"type": "assistant", "message": {"content": [
        {"type": "text", "text": long},
        {"type": "tool_use", "id": "w", "name": "Write", "input": {"file_path": "a", "content": long}},
    ]}})
    .to_string();
    let t = transcript(Format::ClaudeStream, &[&line]);
    let Entry::Text { text } = &t[0] else {
        panic!("{t:?}")
    };
    assert!(
        text.len() < 33 * 1024 && text.ends_with("more bytes in the raw output]"),
        "{}",
        text.len()
    );
    let Entry::Tool { input, .. } = &t[1] else {
        panic!("{t:?}")
    };
    let content = input["content"].as_str().expect("content");
    assert!(content.len() < 9 * 1024, "{}", content.len());
    assert_eq!(input["file_path"], "a");
}

#[test]
fn codex_and_acp_and_gemini_transcripts() {
    // Codex exec: a command with its output and exit code, an edit, the answer.
    let t = transcript(
        Format::CodexJson,
        &[
            r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"make","aggregated_output":"boom","exit_code":2,"status":"failed"}}"#,
            r#"{"type":"item.completed","item":{"id":"i2","type":"agent_message","text":"It fails."}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":5}}"#,
        ],
    );
    assert_eq!(
        t,
        [
            tool(
                "i1",
                "shell",
                "make",
                serde_json::json!({"command": "make"})
            ),
            result("i1", "boom", true),
            said("It fails."),
            turn(),
        ]
    );
    // Codex's app-server: a declined command, the plan.
    let t = transcript(
        Format::CodexApp,
        &[
            r#"{"method":"turn/plan/updated","params":{"plan":[{"step":"Look","status":"completed"},{"step":"Fix","status":"inProgress"}]}}"#,
            r#"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"c1","command":"rm -rf x","commandActions":[],"status":"declined"}}}"#,
        ],
    );
    assert_eq!(
        t,
        [
            Entry::Plan {
                items: vec![
                    PlanItem {
                        text: "Look".into(),
                        status: "completed".into()
                    },
                    PlanItem {
                        text: "Fix".into(),
                        status: "in_progress".into()
                    },
                ]
            },
            tool(
                "c1",
                "shell",
                "rm -rf x",
                serde_json::json!({"command": "rm -rf x", "cwd": null})
            ),
            result("c1", "declined", true),
        ]
    );
    // ACP: words before a tool call come before it; its update is its result.
    let t = transcript(
        Format::Acp,
        &[
            r#"{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s"}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"Looking."}}}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"tool_call","toolCallId":"r1","title":"ReadFile a.rs","kind":"read","rawInput":{"path":"a.rs"}}}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"tool_call_update","toolCallId":"r1","status":"failed","content":[{"type":"content","content":{"type":"text","text":"no such file"}}]}}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"plan","entries":[{"content":"Read","status":"completed","priority":"high"}]}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"result":{"stopReason":"end_turn"}}"#,
        ],
    );
    assert_eq!(
        t,
        [
            said("Looking."),
            tool("r1", "read", "a.rs", serde_json::json!({"path": "a.rs"})),
            result("r1", "no such file", true),
            Entry::Plan {
                items: vec![PlanItem {
                    text: "Read".into(),
                    status: "completed".into()
                }]
            },
            turn(),
        ]
    );
    // Gemini headless: a tool and its result by id.
    let t = transcript(
        Format::GeminiStream,
        &[
            r#"{"type":"tool_use","tool_name":"run_shell_command","tool_id":"g1","parameters":{"command":"ls"}}"#,
            r#"{"type":"tool_result","tool_id":"g1","status":"error","error":{"message":"denied"}}"#,
        ],
    );
    assert_eq!(
        t,
        [
            tool(
                "g1",
                "run_shell_command",
                "ls",
                serde_json::json!({"command": "ls"})
            ),
            result("g1", "denied", true),
        ]
    );
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
        out[out.len() - 2..],
        [
            Parsed::Summary("Done: wrote hello.txt".into()),
            Parsed::TurnEnded
        ]
    );
}

#[test]
fn acp_sessions_turns_tool_calls_and_permission_requests() {
    let out = run(
        Format::Acp,
        &[
            r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"sessionId":"s-9"}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s-9","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"Writing "}}}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s-9","update":{"sessionUpdate":"tool_call","toolCallId":"t1","title":"WriteFile hello.txt","kind":"edit"}}}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"session/request_permission","params":{"sessionId":"s-9","toolCall":{"toolCallId":"t1","title":"WriteFile","kind":"edit","rawInput":{"file_path":"/w/hello.txt"}},"options":[{"optionId":"a1","name":"Allow","kind":"allow_once"}]}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s-9","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"done."}}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"result":{"stopReason":"end_turn"}}"#,
            // A request without an id, and a notification of another kind: nothing.
            r#"{"jsonrpc":"2.0","method":"session/request_permission","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"plan"}}}"#,
        ],
    );
    assert_eq!(
        out,
        [
            Parsed::Session("s-9".into()),
            Parsed::SessionReady("s-9".into()),
            Parsed::Step {
                tool: Some("edit".into()),
                text: "WriteFile hello.txt".into()
            },
            Parsed::Ask {
                id: "7".into(),
                tool: "edit".into(),
                input: serde_json::json!({"file_path": "/w/hello.txt"}),
                suggestions: serde_json::json!([{"optionId": "a1", "name": "Allow", "kind": "allow_once"}]),
            },
            Parsed::Summary("Writing done.".into()),
            Parsed::TurnEnded,
        ]
    );
    // A session that could not be made ends the dialog, and the job fails with why.
    let out = run(
        Format::Acp,
        &[r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"no auth"}}"#],
    );
    assert_eq!(
        out,
        [Parsed::Failed(
            "the agent could not open a session: no auth".into()
        )]
    );
    // A request Sidekick does not carry is answered with an error, never left hanging.
    let out = run(
        Format::Acp,
        &[
            r#"{"jsonrpc":"2.0","id":"r-4","method":"fs/read_text_file","params":{"path":"/etc/passwd"}}"#,
        ],
    );
    assert_eq!(
        out,
        [Parsed::Unanswerable {
            id: "\"r-4\"".into(),
            method: "fs/read_text_file".into()
        }]
    );
}

#[test]
fn a_loaded_acp_session_leaves_its_replayed_history_out() {
    let out = run(
        Format::Acp,
        &[
            r#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":1}}"#,
            // The replay may start before the answer to session/load...
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"user_message_chunk","content":{"type":"text","text":"old task"}}}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"older answer"}}}}"#,
            r#"{"jsonrpc":"2.0","id":"load:s-9","result":{"modes":{}}}"#,
            // ...and go on after it, until the marker's answer.
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"tool_call","title":"WriteFile old.txt","kind":"edit","status":"completed"}}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"old answer"}}}}"#,
            r#"{"jsonrpc":"2.0","id":"replayed","error":{"code":-32601,"message":"Method not found"}}"#,
            r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"new answer"}}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"result":{"stopReason":"end_turn"}}"#,
        ],
    );
    assert_eq!(
        out,
        [
            Parsed::Session("s-9".into()),
            Parsed::Loaded,
            Parsed::SessionReady("s-9".into()),
            Parsed::Summary("new answer".into()),
            Parsed::TurnEnded,
        ]
    );
    // A session that cannot be loaded says why; a new one takes over.
    let out = run(
        Format::Acp,
        &[
            r#"{"jsonrpc":"2.0","id":"load:s-9","error":{"code":-32603,"message":"session not found"}}"#,
        ],
    );
    assert_eq!(out, [Parsed::SessionLost("session not found".into())]);
}

#[test]
fn codex_app_server_threads_items_usage_turns_and_approvals() {
    let out = run(
        Format::CodexApp,
        &[
            r#"{"id":0,"result":{"userAgent":"codex"}}"#,
            r#"{"method":"remoteControl/status/changed","params":{"status":"disabled"}}"#,
            r#"{"id":1,"result":{"thread":{"id":"th-1","status":{"type":"idle"}}}}"#,
            r#"{"id":2,"result":{"turn":{"id":"tu-1","status":"inProgress"}}}"#,
            r#"{"method":"item/completed","params":{"item":{"type":"userMessage","id":"u1","content":[]}}}"#,
            r#"{"method":"item/started","params":{"item":{"type":"commandExecution","id":"call_1","command":"/bin/bash -lc 'touch a.txt'","commandActions":[{"type":"unknown","command":"touch a.txt"}]}}}"#,
            r#"{"method":"item/commandExecution/requestApproval","id":0,"params":{"kind":"command","itemId":"call_1","command":"/bin/bash -lc 'touch a.txt'","cwd":"/w","commandActions":[{"type":"unknown","command":"touch a.txt"}],"availableDecisions":["accept","cancel"]}}"#,
            r#"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"call_1","command":"/bin/bash -lc 'touch a.txt'","commandActions":[{"type":"unknown","command":"touch a.txt"}],"status":"completed","exitCode":0}}}"#,
            r#"{"method":"item/started","params":{"item":{"type":"fileChange","id":"p1","changes":[{"path":"/w/b.txt","kind":{"type":"add"},"diff":"+b"}]}}}"#,
            r#"{"method":"item/fileChange/requestApproval","id":1,"params":{"itemId":"p1","reason":null}}"#,
            r#"{"method":"item/completed","params":{"item":{"type":"fileChange","id":"p1","changes":[{"path":"/w/b.txt","kind":{"type":"add"},"diff":"+b"}],"status":"completed"}}}"#,
            r#"{"method":"thread/tokenUsage/updated","params":{"tokenUsage":{"total":{"inputTokens":100},"last":{"inputTokens":100,"cachedInputTokens":10,"outputTokens":4}}}}"#,
            r#"{"method":"item/completed","params":{"item":{"type":"agentMessage","id":"m1","text":"Made a.txt and b.txt."}}}"#,
            r#"{"method":"thread/tokenUsage/updated","params":{"tokenUsage":{"total":{"inputTokens":250},"last":{"inputTokens":150,"cachedInputTokens":0,"outputTokens":6}}}}"#,
            r#"{"method":"turn/completed","params":{"turn":{"id":"tu-1","status":"completed","error":null}}}"#,
            // Something Sidekick does not carry gets an error answer.
            r#"{"method":"item/tool/requestUserInput","id":5,"params":{}}"#,
            "not json",
        ],
    );
    assert_eq!(
        out,
        [
            Parsed::Session("th-1".into()),
            Parsed::SessionReady("th-1".into()),
            Parsed::Ask {
                id: "0".into(),
                tool: "shell".into(),
                input: serde_json::json!({"command": "touch a.txt", "cwd": "/w", "reason": null}),
                suggestions: serde_json::json!({"method": "item/commandExecution/requestApproval", "availableDecisions": ["accept", "cancel"]}),
            },
            Parsed::Step {
                tool: Some("shell".into()),
                text: "touch a.txt".into()
            },
            Parsed::Ask {
                id: "1".into(),
                tool: "edit".into(),
                input: serde_json::json!({"path": "/w/b.txt", "changes": [{"path": "/w/b.txt", "kind": {"type": "add"}, "diff": "+b"}], "reason": null}),
                suggestions: serde_json::json!({"method": "item/fileChange/requestApproval", "availableDecisions": null}),
            },
            Parsed::Step {
                tool: Some("edit".into()),
                text: "/w/b.txt".into()
            },
            Parsed::Usage {
                input: 100,
                output: 4,
                cached: 10,
                cost_usd: None
            },
            Parsed::Step {
                tool: None,
                text: "Made a.txt and b.txt.".into()
            },
            Parsed::Usage {
                input: 250,
                output: 10,
                cached: 10,
                cost_usd: None
            },
            Parsed::Summary("Made a.txt and b.txt.".into()),
            Parsed::TurnEnded,
            Parsed::Unanswerable {
                id: "5".into(),
                method: "item/tool/requestUserInput".into()
            },
        ]
    );
}

#[test]
fn codex_app_server_failures_end_the_dialog_with_a_reason() {
    let failed = |lines: &[&str]| {
        run(Format::CodexApp, lines)
            .into_iter()
            .filter_map(|p| match p {
                Parsed::Failed(why) => Some(why),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        failed(&[r#"{"id":1,"error":{"code":-32600,"message":"thread not found: th-0"}}"#]),
        ["Codex could not open its session: thread not found: th-0"]
    );
    assert_eq!(
        failed(&[r#"{"id":1,"result":{}}"#]),
        ["Codex could not open its session: no thread in its answer"]
    );
    assert_eq!(
        failed(&[r#"{"id":3,"error":{"code":-32600,"message":"bad input"}}"#]),
        ["Codex refused the message: bad input"]
    );
    assert_eq!(
        failed(&[
            r#"{"method":"turn/completed","params":{"turn":{"status":"failed","error":{"message":"stream disconnected"}}}}"#
        ]),
        ["Codex's turn failed: stream disconnected"]
    );
    // Malformed or unexpected messages are not events, never a crash.
    for line in [
        r#"{"id":"x"}"#,
        r#"{"method":"item/completed"}"#,
        r#"{"method":"item/completed","params":{"item":7}}"#,
        r#"{"method":"thread/tokenUsage/updated","params":null}"#,
        r#"{"method":"turn/completed","params":{"turn":{"status":"completed"}}}"#,
        r#"[1,2]"#,
    ] {
        let out = run(Format::CodexApp, &[line]);
        assert!(
            out.iter().all(|p| matches!(p, Parsed::TurnEnded)),
            "{line}: {out:?}"
        );
    }
}

#[test]
fn claude_echoes_the_users_messages_but_not_tool_results() {
    let out = run(
        Format::ClaudeStream,
        &[
            r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"also add a test"}]}}"#,
            r#"{"type":"user","message":{"role":"user","content":"plain text"}}"#,
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}}"#,
            r#"{"type":"user","message":"nonsense"}"#,
        ],
    );
    assert_eq!(out, [Parsed::Heard, Parsed::Heard]);
}

#[test]
fn claude_asks_over_its_control_channel_and_odd_requests_are_ignored() {
    let out = run(
        Format::ClaudeStream,
        &[
            r#"{"type":"control_request","request_id":"r-1","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"cargo test"},"permission_suggestions":[{"type":"addRules"}]}}"#,
            // Not a permission, no id, no tool, not even an object: none is a request.
            r#"{"type":"control_request","request_id":"r-2","request":{"subtype":"interrupt"}}"#,
            r#"{"type":"control_request","request":{"subtype":"can_use_tool","tool_name":"Bash"}}"#,
            r#"{"type":"control_request","request_id":"r-3","request":{"subtype":"can_use_tool"}}"#,
            r#"{"type":"control_request","request_id":"r-4","request":"nonsense"}"#,
        ],
    );
    assert_eq!(
        out,
        [Parsed::Ask {
            id: "r-1".into(),
            tool: "Bash".into(),
            input: serde_json::json!({"command": "cargo test"}),
            suggestions: serde_json::json!([{"type": "addRules"}]),
        }]
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

/// The real Claude Code's stream for a rich task (captured by the CLI's
/// `claude_codes_real_stream_carries_tools_errors_and_unicode` with
/// `SIDEKICK_CAPTURE_FIXTURES=1`) read as a transcript; the events the UI gets from it are
/// the UI's own fixture (`ui/src/lib/fixtures/claude-transcript.json`), kept current here.
#[test]
fn the_real_claude_stream_reads_as_a_transcript_with_its_errors_and_unicode() {
    let stream = include_str!("fixtures/claude-real.jsonl");
    let lines: Vec<&str> = stream.lines().collect();
    let entries = transcript(Format::ClaudeStream, &lines);
    let tools: Vec<(&str, &str)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Tool { name, brief, .. } => Some((name.as_str(), brief.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        tools,
        vec![
            (
                "Bash",
                "printf '\\033[32mok\\033[0m ünïcødé ✓ 日本\\n'; seq 1 400"
            ),
            ("Bash", "cat missing-file.txt")
        ]
    );
    let results: Vec<(&str, bool)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Result { output, error, .. } => Some((output.as_str(), *error)),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2, "{entries:?}");
    assert!(results[0]
        .0
        .starts_with("\u{1b}[32mok\u{1b}[0m ünïcødé ✓ 日本\n1\n2"));
    assert!(results[0].0.ends_with("400") && !results[0].1);
    assert!(
        results[1].0.contains("No such file") && results[1].1,
        "the failure is marked"
    );
    assert!(entries.iter().any(
        |e| matches!(e, Entry::Text { text } if text.starts_with("## Done ✓") && text.contains("世界"))
    ));
    assert!(entries.iter().any(|e| matches!(e, Entry::Turn { .. })));

    ui_fixture("claude", entries);
}

/// `entries` as the events the job view streams, kept current as the UI's fixture
/// `ui/src/lib/fixtures/AGENT-transcript.json`.
fn ui_fixture(agent: &str, entries: Vec<Entry>) {
    let events: Vec<sidekick_protocol::Event> = entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| sidekick_protocol::Event {
            seq: i as u64 + 1,
            time: 1_795_000_000_000 + i as u64,
            job_id: format!("01real{agent}"),
            body: sidekick_protocol::EventBody::Transcript { entry },
        })
        .collect();
    let mut fresh = serde_json::to_string_pretty(&events).unwrap_or_default();
    fresh.push('\n');
    sidekick_testkit::check_generated(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../ui/src/lib/fixtures/{agent}-transcript.json")),
        &fresh,
        "SIDEKICK_WRITE_TYPES=1 cargo test --workspace --lib -- real_",
    );
}

/// The real Codex CLI (`exec --json`) and Gemini CLI (`stream-json`) streams of the
/// two-turn task (captured by the CLI's real-agent tests): the command or file write, its
/// result, the answer and the turn's end, each as the transcript shows it.
#[test]
fn the_real_codex_and_gemini_streams_read_as_transcripts() {
    for (agent, format, stream, tool) in [
        (
            "codex",
            Format::CodexJson,
            include_str!("fixtures/codex-real.jsonl"),
            "printf 'hello from the scripted model\\n' > hello.txt",
        ),
        (
            "gemini",
            Format::GeminiStream,
            include_str!("fixtures/gemini-real.jsonl"),
            "hello.txt",
        ),
    ] {
        let lines: Vec<&str> = stream.lines().collect();
        let entries = transcript(format, &lines);
        let call = entries.iter().find_map(|e| match e {
            Entry::Tool { id, brief, .. } => Some((id.clone(), brief.clone())),
            _ => None,
        });
        let (id, brief) = call.unwrap_or_else(|| panic!("{agent}: no tool call in {entries:?}"));
        assert!(brief.contains(tool), "{agent}: {brief}");
        assert!(
            entries
                .iter()
                .any(|e| matches!(e, Entry::Result { id: r, error: false, .. } if *r == id)),
            "{agent}: no result for {id}: {entries:?}"
        );
        assert!(
            entries.iter().any(|e| matches!(e, Entry::Text { text } if text == "I created hello.txt with a greeting.")),
            "{agent}: {entries:?}"
        );
        assert!(
            entries.iter().any(|e| matches!(e, Entry::Turn { .. })),
            "{agent}"
        );
        ui_fixture(agent, entries);
    }
}

#[test]
fn a_shell_wrapper_shows_the_script_it_runs() {
    assert_eq!(
        unwrap_shell(r#"/bin/bash -lc "printf 'hi\\n' > \"a b.txt\"""#),
        r#"printf 'hi\n' > "a b.txt""#
    );
    assert_eq!(unwrap_shell("bash -lc 'it'\\''s here'"), "it's here");
    assert_eq!(unwrap_shell("/usr/bin/zsh -c 'ls -la'"), "ls -la");
    for kept in [
        "ls -la",
        "python -c 'print(1)'",
        "bash -lc 'a' 'b'",
        "bash -x script.sh",
    ] {
        assert_eq!(unwrap_shell(kept), kept);
    }
}
