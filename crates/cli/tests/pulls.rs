//! Pull requests end to end: the real `sidekick`, a real `git push` (the origin says github.com
//! or gitlab.com; `pushInsteadOf` sends pushes to a bare repository here), and the scripted
//! GitHub and GitLab REST servers on loopback.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sidekick_testkit::forge::{ScriptedCheck, ScriptedForge};

use crate::common::{notices, s, World};

const TOKEN: &str = "good-token";

/// A world whose origin is on a forge, the bare repository pushes go to, and the forge.
struct Forged {
    w: World,
    bare: PathBuf,
    forge: ScriptedForge,
    _bare_dir: tempfile::TempDir,
}

/// `gitlab`: the origin is on gitlab.com; else github.com. `extra` is more config.
fn forged(gitlab: bool, extra: &str) -> Forged {
    let bare_dir = tempfile::tempdir().expect("tmp");
    let bare = bare_dir.path().join("origin.git");
    let init = std::process::Command::new("git")
        .args(["init", "-q", "--bare", "-b", "main"])
        .arg(&bare)
        .envs(sidekick_testkit::HERMETIC_GIT.iter().copied())
        .status()
        .expect("git init");
    assert!(init.success());
    let forge = ScriptedForge::start(&bare, TOKEN).expect("forge");
    let config = format!(
        "[github]\napi_url = \"{}\"\npoll_interval = \"5s\"\n[gitlab]\napi_url = \"{}\"\n{extra}",
        forge.github_api(),
        forge.gitlab_api()
    );
    let mut w = World::with_config(&config);
    let (origin, var) = if gitlab {
        ("git@gitlab.com:acme/tools/widgets.git", "GITLAB_TOKEN")
    } else {
        ("https://github.com/acme/widgets.git", "GH_TOKEN")
    };
    w.git(&["remote", "add", "origin", origin]);
    let bare_url = bare.display().to_string();
    w.git(&["config", &format!("url.{bare_url}.pushInsteadOf"), origin]);
    w.git(&["push", "-q", "origin", "main"]);
    w.env.push((var, TOKEN.into()));
    Forged {
        w,
        bare,
        forge,
        _bare_dir: bare_dir,
    }
}

/// The commit `branch` points at in the bare repository, if it is there.
fn pushed(bare: &Path, branch: &str) -> Option<String> {
    let out = sidekick_testkit::git_command(bare)
        .args([
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .expect("git");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Waits (up to 60 s: a round is every 5 s) until the job's `pr` satisfies `pred`.
fn wait_pr(w: &World, job: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let st = w.status(job);
        if pred(&st["pr"]) {
            return st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the pull request never became {what}: {}",
            st["pr"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A completed shell job that writes a file (and says whether it saw a forge token).
fn finished_job(w: &World) -> Value {
    let job = w.json(&[
        "run",
        "--json",
        "--wait",
        "--",
        "echo hi > a.txt; printenv GH_TOKEN GITLAB_TOKEN > leaked.txt; true\n# And a second line",
    ]);
    assert_eq!(job["state"], "completed", "{job}");
    job
}

#[test]
fn a_pull_request_is_opened_found_again_and_updated_never_twice() {
    let f = forged(false, "");
    let w = &f.w;
    f.forge.state().check_script = vec![vec![
        ScriptedCheck::passed("lint"),
        ScriptedCheck::passed("test"),
    ]];
    let job = finished_job(w);
    let id = s(&job["id"]);
    let branch = s(&job["branch"]);
    // The agent never saw the user's token.
    let leaked = w.git(&["show", &format!("{branch}:leaked.txt")]);
    assert_eq!(leaked, "", "a forge token reached the agent");

    let pr = w.json(&["pr", &id, "--json"]);
    assert_eq!(pr["number"], 1, "{pr}");
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["url"], "https://github.com/acme/widgets/pull/1");
    assert_eq!(pr["base"], "main");
    let tip = w.git(&["rev-parse", &branch]);
    assert_eq!(pushed(&f.bare, &branch).as_deref(), Some(tip.as_str()));
    {
        let st = f.forge.state();
        assert_eq!(st.pulls.len(), 1);
        let p = &st.pulls[0];
        assert_eq!(
            p.title,
            "echo hi > a.txt; printenv GH_TOKEN GITLAB_TOKEN > leaked.txt; true"
        );
        assert!(p.body.contains("> # And a second line"), "{}", p.body);
        assert!(!p.draft);
    }
    // The host looks at its checks by itself.
    let st = wait_pr(w, &id, "checked", |p| p["checks"]["state"] == "success");
    assert_eq!(st["pr"]["checks"]["runs"].as_array().map(Vec::len), Some(2));

    // Again: the open one is found and updated, not a second one.
    let url = w.ok(&["pr", &id, "--title", "A better title"]);
    assert_eq!(url.trim(), "https://github.com/acme/widgets/pull/1");
    {
        let st = f.forge.state();
        assert_eq!(st.pulls.len(), 1, "a second pull request was opened");
        assert_eq!(st.pulls[0].title, "A better title");
    }
    let ls = w.ok(&["ls"]);
    assert!(ls.contains("PR") && ls.contains("#1 open ✓"), "{ls}");
    let text = w.ok(&["status", &id]);
    assert!(
        text.contains("pull request  #1 open into main: https://github.com/acme/widgets/pull/1"),
        "{text}"
    );
    assert!(text.contains("checks        passed (2)"), "{text}");
    assert!(notices(w, &id).contains("pull request #1: https://github.com/acme/widgets/pull/1"));
}

#[test]
fn a_draft_merge_request_opens_on_gitlab() {
    let f = forged(true, "");
    let w = &f.w;
    f.forge.state().check_script = vec![vec![ScriptedCheck::failed("build", "cc: error: x.c")]];
    let job = finished_job(w);
    let id = s(&job["id"]);
    let pr = w.json(&["pr", &id, "--draft", "--json"]);
    assert_eq!(pr["forge"], "gitlab", "{pr}");
    assert_eq!(pr["state"], "draft");
    assert_eq!(
        pr["url"],
        "https://gitlab.com/acme/tools/widgets/-/merge_requests/1"
    );
    assert!(pushed(&f.bare, &s(&job["branch"])).is_some());
    let st = wait_pr(w, &id, "failing", |p| p["checks"]["state"] == "failure");
    let run = &st["pr"]["checks"]["runs"][0];
    assert_eq!(run["name"], "build");
    assert!(s(&run["output"]).contains("cc: error: x.c"), "{run}");
    // A shell job would run a reply as a command: its checks are not handed to it.
    let r = w.sk(&["pr", &id, "--fix"]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr()
            .contains("runs the shell agent, which would run a reply as a command"),
        "{}",
        r.stderr()
    );
    assert_eq!(w.status(&id)["turns"], 1);
}

#[test]
fn failing_checks_go_back_to_the_agent_and_its_fix_is_pushed() {
    let agent = "[agents.fixer]\ncommand = [\"sh\", \"-c\", \"printf '%s\\n---\\n' \\\"$1\\\" >> prompts.txt; date +%s%N >> fix.txt\", \"fixer\", \"{task}\"]\n";
    let mut f = forged(false, &format!("[pr]\nfix_ci = 1\n{agent}"));
    let dir = tempfile::tempdir().expect("tmp");
    let bus = crate::notify_server::Bus::start(dir.path(), &["body"]);
    f.w.bus = bus.address.clone();
    let w = &f.w;
    f.forge.state().check_script = vec![
        vec![ScriptedCheck::failed(
            "test",
            "expected 2, got 3 at tests/sum.rs:9",
        )],
        vec![ScriptedCheck::passed("test")],
    ];
    let job = w.json(&[
        "run",
        "--json",
        "--wait",
        "-a",
        "fixer",
        "--",
        "Make the sums right",
    ]);
    assert_eq!(job["state"], "completed", "{job}");
    let id = s(&job["id"]);
    let branch = s(&job["branch"]);
    let first = w.git(&["rev-parse", &branch]);
    w.ok(&["pr", &id]);
    // Failing, handed back once, fixed, pushed, passing.
    let st = wait_pr(w, &id, "fixed and passing", |p| {
        p["checks"]["state"] == "success" && p["fixes"] == 1 && p["fixing"] == false
    });
    let second = w.git(&["rev-parse", &branch]);
    assert_ne!(first, second, "the fix turn committed nothing");
    assert_eq!(s(&st["pr"]["head_sha"]), second);
    assert_eq!(pushed(&f.bare, &branch).as_deref(), Some(second.as_str()));
    assert_eq!(st["turns"], 2, "{st}");
    let prompts = w.git(&["show", &format!("{branch}:prompts.txt")]);
    assert!(prompts.contains("## test"), "{prompts}");
    assert!(
        prompts.contains("expected 2, got 3 at tests/sum.rs:9"),
        "{prompts}"
    );
    let log = notices(w, &id);
    assert!(
        log.contains("pull request #1: checks failed: test"),
        "{log}"
    );
    assert!(log.contains("was pushed to pull request #1"), "{log}");
    assert!(log.contains("pull request #1: checks passed"), "{log}");
    // The desktop was told when the checks failed and when they passed.
    let notes = bus.wait_notes(2);
    let summaries: Vec<&str> = notes.iter().map(|n| n.summary.as_str()).collect();
    let name = s(&job["codename"]);
    assert!(
        summaries.contains(&format!("{name}: checks failed on #1").as_str())
            && summaries.contains(&format!("{name}: checks passed on #1").as_str()),
        "{summaries:?}"
    );
    let failed = notes
        .iter()
        .find(|n| n.summary.contains("failed"))
        .map(|n| n.body.clone())
        .unwrap_or_default();
    assert!(failed.starts_with("test\n"), "{failed}");
    // Asked again by hand: nothing is failing now.
    let again = w.sk(&["pr", &id, "--fix"]);
    assert_ne!(again.code(), 0);
    assert!(
        again
            .stderr()
            .contains("has no failing checks to fix (its checks: success)"),
        "{}",
        again.stderr()
    );
}

#[test]
fn a_refused_token_a_rejected_push_and_no_forge_each_say_why_and_open_nothing() {
    let mut f = forged(false, "");
    let job = finished_job(&f.w);
    let id = s(&job["id"]);
    let branch = s(&job["branch"]);

    // A token the forge refuses: nothing pushed, nothing opened.
    f.w.env.retain(|(k, _)| *k != "GH_TOKEN");
    f.w.env.push(("GH_TOKEN", "stale-token".into()));
    let r = f.w.sk(&["pr", &id, "--json"]);
    assert_ne!(r.code(), 0);
    assert_eq!(
        r.stderr().trim(),
        "sidekick: GitHub refused the token (401): set GH_TOKEN or run `gh auth login`"
    );
    let err: Value = serde_json::from_str(r.stdout().trim()).expect("json error");
    assert_eq!(err["error"]["code"], "forge_auth");
    assert_eq!(
        pushed(&f.bare, &branch),
        None,
        "pushed with a refused token"
    );
    assert!(f.forge.state().pulls.is_empty());

    // A push the remote's hook rejects: git's reason, and no pull request.
    f.w.env.retain(|(k, _)| *k != "GH_TOKEN");
    f.w.env.push(("GH_TOKEN", TOKEN.into()));
    let hook = f.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'branch policy: sidekick/* needs review' >&2\nexit 1\n",
    )
    .expect("hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let r = f.w.sk(&["pr", &id]);
    assert_ne!(r.code(), 0);
    let said = r.stderr();
    assert!(
        said.contains("was rejected, so no pull request was opened"),
        "{said}"
    );
    assert!(said.contains("pre-receive hook declined"), "{said}");
    assert!(
        said.contains("branch policy: sidekick/* needs review"),
        "{said}"
    );
    assert!(f.forge.state().pulls.is_empty());
    std::fs::remove_file(&hook).expect("rm hook");

    // An origin on no known forge, then none at all.
    f.w.git(&[
        "remote",
        "set-url",
        "origin",
        "https://git.example.org/acme/widgets.git",
    ]);
    let r = f.w.sk(&["pr", &id]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr().contains("the remote 'https://git.example.org/acme/widgets.git' is on git.example.org, which is not a forge Sidekick knows"),
        "{}",
        r.stderr()
    );
    f.w.git(&["remote", "remove", "origin"]);
    let r = f.w.sk(&["pr", &id]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr()
            .contains("has no remote 'origin' to open a pull request on"),
        "{}",
        r.stderr()
    );
    assert_eq!(pushed(&f.bare, &branch), None);
    // An unknown job: one sentence.
    let r = f.w.sk(&["pr", "no-such-job"]);
    assert_ne!(r.code(), 0);
    assert_eq!(r.stderr().trim(), "sidekick: no job matches 'no-such-job'");
}

#[test]
fn a_spent_rate_limit_rests_the_forge_and_a_merge_on_the_forge_shows_on_the_job() {
    let f = forged(false, "");
    let w = &f.w;
    f.forge.state().check_script = vec![vec![ScriptedCheck::running("test")]];
    let job = finished_job(w);
    let id = s(&job["id"]);
    w.ok(&["pr", &id]);
    wait_pr(w, &id, "looked at", |p| p["polled_at"].is_u64());
    // A round on an unchanged pull request is a conditional request, answered 304.
    let start = Instant::now();
    while !f
        .forge
        .seen()
        .iter()
        .any(|r| r.conditional && r.status == 304 && r.path.ends_with("/pulls/1"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            f.forge.seen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The next rounds are refused until a reset a few seconds away.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    f.forge.state().rate_limited = (1, now + 8);
    let st = wait_pr(w, &id, "rate limited", |p| {
        p["problem"]
            .as_str()
            .is_some_and(|t| t.contains("rate limited until"))
    });
    let asked = f.forge.seen().len();
    // While resting, the host does not ask; merged on the forge meanwhile.
    f.forge.state().pulls[0].state = "merged".into();
    let st2 = wait_pr(w, &id, "merged", |p| p["state"] == "merged");
    assert!(st2["pr"]["problem"].is_null(), "{}", st2["pr"]);
    let seen = f.forge.seen();
    let refused = seen.iter().filter(|r| r.status == 403).count();
    assert_eq!(refused, 1, "asked during the rest: {seen:?}");
    assert!(seen.len() > asked);
    assert!(s(&st["pr"]["problem"]).starts_with("GitHub's rate limit is spent"));
    let log = notices(w, &id);
    assert!(
        log.contains("pull request #1 is merged on the forge"),
        "{log}"
    );
    // A merged pull request is no longer watched.
    let n = f.forge.seen().len();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        f.forge.seen().len(),
        n,
        "a merged pull request was still asked about"
    );
}

#[test]
fn the_mcp_pr_tool_is_offered_only_when_the_config_allows_it() {
    let f = forged(false, "[mcp]\nallow_pr = true\n");
    let mcp = crate::mcp::Mcp::start(&f.w);
    assert!(mcp.tools().contains(&"pr".to_string()));
    let (job, _) = mcp.call(
        "spawn",
        serde_json::json!({"task": "echo x > x.txt", "agent": "shell"}),
    );
    let (done, text) = mcp.call("wait", serde_json::json!({"job": job["id"]}));
    assert_eq!(done["state"], "completed", "{text}");
    let (pr, text) = mcp.call("pr", serde_json::json!({"job": job["id"], "draft": true}));
    assert_eq!(pr["number"], 1, "{text}");
    assert_eq!(pr["state"], "draft", "{text}");
    assert!(
        text.contains("https://github.com/acme/widgets/pull/1"),
        "{text}"
    );
    assert!(f.forge.state().pulls[0].draft);

    let plain = forged(false, "");
    let mcp = crate::mcp::Mcp::start(&plain.w);
    assert!(!mcp.tools().contains(&"pr".to_string()));
    let refused = mcp.refused("pr", serde_json::json!({"job": "x"}));
    assert!(refused.contains("[mcp] allow_pr = true"), "{refused}");
}

/// An agent that records its task and its context file in the worktree.
const RECORDER: &str = "[agents.rec]\ncommand = [\"sh\", \"-c\", \"printf '%s' \\\"$1\\\" > task.txt; cat \\\"$SIDEKICK_CONTEXT_FILE\\\" > context.txt\", \"rec\", \"{task}\"]\n";

#[test]
fn a_job_from_an_issue_opens_its_pull_request_by_itself_and_closes_the_issue() {
    let f = forged(false, RECORDER);
    let w = &f.w;
    f.forge.state().issues.insert(
        7,
        (
            "Crash on empty input".into(),
            "Run it with no input: it panics.".into(),
        ),
    );
    let job = w.json(&[
        "run",
        "--json",
        "--wait",
        "-a",
        "rec",
        "--issue",
        "7",
        "--pr=draft",
    ]);
    assert_eq!(job["state"], "completed", "{job}");
    let id = s(&job["id"]);
    let branch = s(&job["branch"]);
    assert_eq!(job["issue"]["number"], 7, "{job}");
    assert_eq!(job["open_pr"], "draft");
    let task = w.git(&["show", &format!("{branch}:task.txt")]);
    assert!(
        task.ends_with(
            "\n\nResolve issue #7: Crash on empty input\n\nRun it with no input: it panics."
        ),
        "{task}"
    );
    let context = w.git(&["show", &format!("{branch}:context.txt")]);
    assert!(
        context
            .contains("Issue #7: Crash on empty input\nhttps://github.com/acme/widgets/issues/7"),
        "{context}"
    );
    // It opened by itself, as a draft, closing the issue.
    let st = wait_pr(w, &id, "opened", |p| p["number"] == 1);
    assert_eq!(st["pr"]["state"], "draft");
    {
        let forge = f.forge.state();
        assert_eq!(forge.pulls.len(), 1);
        assert!(forge.pulls[0].draft);
        assert!(
            forge.pulls[0].body.contains("Closes #7"),
            "{}",
            forge.pulls[0].body
        );
        assert_eq!(
            forge.pulls[0].title,
            "Resolve issue #7: Crash on empty input"
        );
    }
    let text = w.ok(&["status", &id]);
    assert!(
        text.contains(
            "issue         #7 Crash on empty input: https://github.com/acme/widgets/issues/7"
        ),
        "{text}"
    );
    // The token that read the issue and opened the pull request is in no file of the home
    // (database, its WAL, logs, contexts).
    for file in crate::common::files_under(&w.home) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes
                .windows(TOKEN.len())
                .any(|win| win == TOKEN.as_bytes()),
            "the token was written to {}",
            file.display()
        );
    }
    // An issue the forge does not have: one sentence, no job.
    let before = w.json(&["ls", "--json"]).as_array().map(Vec::len);
    let r = w.sk(&["run", "-a", "rec", "--issue", "8"]);
    assert_ne!(r.code(), 0);
    assert_eq!(r.stderr().trim(), "sidekick: GitHub has no issue #8");
    assert_eq!(w.json(&["ls", "--json"]).as_array().map(Vec::len), before);
}

#[test]
fn with_pr_open_a_job_is_never_merged_here_by_itself() {
    // `--pr` before a task takes no value of it.
    let plain = forged(false, "");
    let job = plain.w.json(&["run", "--json", "--pr", "echo y > y.txt"]);
    assert_eq!(job["open_pr"], "ready", "{job}");
    assert_eq!(job["task"], "echo y > y.txt");
    let f = forged(false, "[pr]\nopen = \"ready\"\n");
    let w = &f.w;
    let job = w.json(&[
        "run",
        "--json",
        "--wait",
        "--auto-merge",
        "--",
        "echo x > x.txt",
    ]);
    let id = s(&job["id"]);
    let st = w.wait_until(&id, "held", |s| s["auto_merge"]["outcome"] == "held");
    assert_eq!(st["state"], "completed", "{st}");
    assert!(
        s(&st["auto_merge"]["reason"]).contains("goes to a pull request instead"),
        "{st}"
    );
    assert!(!w.repo.join("x.txt").exists(), "merged here by itself");
    let st = wait_pr(w, &id, "opened", |p| p["state"] == "open");
    assert_eq!(st["pr"]["number"], 1);
    // A job with no changes opens nothing.
    let empty = w.json(&["run", "--json", "--wait", "--", "true"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(w.status(&s(&empty["id"]))["pr"].is_null());
    assert_eq!(f.forge.state().pulls.len(), 1);
}
