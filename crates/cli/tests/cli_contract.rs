//! The command line as scripts see it: output shapes, JSON keys, exit codes, error sentences.

use crate::common::{s, World};

fn one_error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error sentence, got: {stderr}");
    assert!(lines[0].starts_with("sidekick: "), "{stderr}");
    lines[0].to_string()
}

#[test]
fn run_prints_id_and_codename_and_returns_at_once() {
    let w = World::new();
    let out = w.ok(&["run", "sleep 30"]);
    let parts: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(parts.len(), 2, "{out}");
    assert_eq!(parts[0].len(), 26);
    assert!(parts[1].contains('-'));
    let st = w.status(parts[1]);
    assert_eq!(s(&st["id"]), parts[0]);
    let state = s(&st["state"]);
    assert!(
        ["queued", "starting", "running"].contains(&state.as_str()),
        "{state}"
    );
    w.ok(&["cancel", parts[0]]);
}

#[test]
fn json_output_has_the_contract_keys() {
    let w = World::new();
    let job = w.spawn(&["--wait"], "echo changed >> README.md");
    for key in [
        "id",
        "codename",
        "state",
        "agent",
        "repo",
        "branch",
        "worktree",
        "base_commit",
        "head_commit",
        "exit_code",
    ] {
        assert!(job.get(key).is_some(), "missing {key} in {job}");
    }
    assert_eq!(job["state"], "completed");
    assert_eq!(job["exit_code"], 0);
    assert_eq!(job["agent"], "shell");
    assert_eq!(job["insertions"], 1);
    assert_eq!(
        s(&job["repo"]),
        w.repo.canonicalize().expect("canon").display().to_string()
    );
    let id = s(&job["id"]);
    let listed = w.json(&["ls", "--json"]);
    assert_eq!(listed.as_array().map(|a| a.len()), Some(1));
    assert_eq!(listed[0]["id"], job["id"]);
    let status = w.status(&id);
    assert_eq!(status["head_commit"], job["head_commit"]);
    assert_eq!(
        w.git(&["rev-parse", &s(&job["branch"])]),
        s(&job["head_commit"])
    );
    // Plain `ls` is a table with the job in it.
    let table = w.ok(&["ls"]);
    assert!(
        table.starts_with("ID") && table.contains(&id) && table.contains("completed"),
        "{table}"
    );
    let details = w.ok(&["status", &id]);
    assert!(
        details.contains("branch") && details.contains(&s(&job["branch"])),
        "{details}"
    );
}

#[test]
fn wait_exits_zero_only_for_completed() {
    let w = World::new();
    let ok = w.spawn(&[], "true");
    let bad = w.spawn(&[], "exit 7");
    let slow = w.spawn(&[], "sleep 30");
    assert_eq!(w.sk(&["wait", &s(&ok["id"])]).code(), 0);
    let r = w.sk(&["wait", &s(&bad["codename"])]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("failed"), "{}", r.stderr());
    let r = w.sk(&["wait", "--timeout", "300ms", &s(&slow["id"])]);
    assert_eq!(r.code(), 124, "{}", r.stderr());
    w.ok(&["cancel", &s(&slow["id"])]);
    assert_eq!(
        w.sk(&["wait", &s(&slow["id"])]).code(),
        1,
        "cancelled is not completed"
    );
    assert_eq!(w.sk(&["run", "--wait", "exit 2"]).code(), 1);
    assert_eq!(w.sk(&["run", "--wait", "true"]).code(), 0);
}

#[test]
fn follow_streams_both_streams_and_ends_with_the_job() {
    let w = World::new();
    let r = w.sk(&[
        "run",
        "--follow",
        "echo out-1; echo err-1 >&2; sleep 0.2; echo out-2; exit 5",
    ]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.stdout(), "out-1\nout-2\n");
    let err = r.stderr();
    assert!(err.contains("err-1"), "{err}");
    assert!(err.contains("failed") && err.contains("code 5"), "{err}");
}

#[test]
fn logs_prints_output_and_follows() {
    let w = World::new();
    let job = w.spawn(
        &[],
        "for i in 1 2 3 4 5; do echo line-$i; sleep 0.1; done; echo oops >&2",
    );
    let id = s(&job["id"]);
    let r = w.sk(&["logs", "-f", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.stdout(), "line-1\nline-2\nline-3\nline-4\nline-5\n");
    assert!(r.stderr().contains("oops"));
    let again = w.sk(&["logs", &s(&job["codename"])]);
    assert_eq!(again.stdout(), r.stdout());
}

#[test]
fn usage_errors_exit_2() {
    let w = World::new();
    for args in [
        vec!["run"],
        vec!["run", "--bogus", "x"],
        vec!["run", "--timeout", "5x", "x"],
        vec!["run", "--timeout", "10", "x"],
        vec!["run", "--wait", "--follow", "x"],
        vec!["wait"],
        vec!["wait", "--timeout", "soon", "job"],
        vec!["status"],
        vec!["logs"],
        vec!["cancel"],
        vec!["frobnicate"],
    ] {
        let r = w.sk(&args);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr());
        assert!(!r.stderr().is_empty());
    }
    assert!(
        !w.home.join("run/sidekick.sock").exists(),
        "usage errors start no host"
    );
}

#[test]
fn bad_input_gets_one_sentence_and_changes_nothing() {
    let w = World::new();
    let plain = w.root.join("plain");
    std::fs::create_dir(&plain).expect("mkdir");
    let bare = w.root.join("bare.git");
    std::fs::create_dir(&bare).expect("mkdir");
    let empty = w.root.join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    for (dir, args) in [
        (&bare, vec!["init", "-q", "--bare"]),
        (&empty, vec!["init", "-q"]),
    ] {
        let st = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(&args)
            .envs(w.envs())
            .status()
            .expect("git");
        assert!(st.success());
    }
    let missing = w.root.join("missing");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "-r", missing.to_str().expect("utf8"), "x"],
            "does not exist",
        ),
        (
            vec!["run", "-r", plain.to_str().expect("utf8"), "x"],
            "not inside a git repository",
        ),
        (
            vec!["run", "-r", bare.to_str().expect("utf8"), "x"],
            "bare repository",
        ),
        (
            vec!["run", "-r", empty.to_str().expect("utf8"), "x"],
            "no commits yet",
        ),
        (vec!["run", "-a", "nobody", "x"], "unknown agent 'nobody'"),
        (
            vec!["run", "-b", "no-such-branch", "x"],
            "'no-such-branch' is not a commit",
        ),
        (
            vec!["run", "--parent", "ghost", "x"],
            "no job matches 'ghost'",
        ),
        (vec!["run", "  "], "the task is empty"),
        (vec!["status", "ghost"], "no job matches 'ghost'"),
        (vec!["logs", "ghost"], "no job matches 'ghost'"),
        (vec!["wait", "ghost"], "no job matches 'ghost'"),
        (vec!["cancel", "ghost"], "no job matches 'ghost'"),
    ];
    let before = w.git(&["for-each-ref"]);
    for (args, needle) in cases {
        let r = w.sk(&args);
        assert_eq!(r.code(), 1, "{args:?}: {}", r.stderr());
        let line = one_error_line(&r.stderr());
        assert!(line.contains(needle), "{args:?}: {line}");
        assert!(r.stdout().is_empty());
    }
    assert_eq!(w.json(&["ls", "--json", "--all"]), serde_json::json!([]));
    assert_eq!(w.git(&["for-each-ref"]), before, "no branch was created");
    assert!(!w
        .home
        .join("worktrees")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false));

    // Cancelling a job that has ended is refused too.
    let done = w.spawn(&["--wait"], "true");
    let r = w.sk(&["cancel", &s(&done["id"])]);
    assert_eq!(r.code(), 1);
    assert!(one_error_line(&r.stderr()).contains("has already ended (completed)"));
}

#[test]
fn a_command_profile_gets_the_task_as_one_argument() {
    let w = World::with_config(
        r#"
[agents.recorder]
command = ["sh", "-c", "printf '%s' \"$1\" > task.txt; printf '%s' \"$RECORDER_MODE\" > mode.txt", "recorder", "{task}"]
env = { RECORDER_MODE = "careful" }
timeout = "2m"

[agents.ghost]
command = ["definitely-not-installed-agent", "{task}"]
"#,
    );
    let task = "fix it; touch pwned && $(touch pwned2) `touch pwned3` | tee pwned4 > pwned5 \"q\" 'x' \\ \n second line";
    let job = w.spawn(&["--wait", "-a", "recorder"], task);
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["timeout_ms"], 120_000);
    let branch = s(&job["branch"]);
    assert_eq!(w.git(&["show", &format!("{branch}:task.txt")]), task);
    assert_eq!(w.git(&["show", &format!("{branch}:mode.txt")]), "careful");
    let files = w.git(&["ls-tree", "-r", "--name-only", &branch]);
    assert!(!files.contains("pwned"), "{files}");
    assert!(!std::fs::read_dir(&w.repo).expect("ls").any(|e| e
        .map(|e| e.file_name().to_string_lossy().contains("pwned"))
        .unwrap_or(false)));

    let agents = w.json(&["agents", "--json"]);
    let by_name = |n: &str| {
        agents
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == n).cloned())
            .unwrap_or_else(|| panic!("no agent {n} in {agents}"))
    };
    assert_eq!(by_name("shell")["installed"], true);
    assert_eq!(by_name("recorder")["installed"], true);
    let ghost = by_name("ghost");
    assert_eq!(ghost["installed"], false);
    assert!(s(&ghost["problem"]).contains("not found on PATH"));
    let table = w.ok(&["agents"]);
    assert!(table.contains("ghost") && table.contains("no"), "{table}");

    // A missing program is refused before a job is made, with a sentence and its code.
    let before = w.json(&["ls", "--all", "--json"]);
    let r = w.sk(&["run", "--json", "--wait", "-a", "ghost", "anything"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains(
            "agent 'ghost' cannot start: definitely-not-installed-agent was not found on PATH"
        ),
        "{}",
        r.stderr()
    );
    let refused: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(refused["error"]["code"], "invalid_state", "{refused}");
    assert_eq!(
        w.json(&["ls", "--all", "--json"]),
        before,
        "no job was made"
    );
}
