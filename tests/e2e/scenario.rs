//! What a new user does: open a repository, run a job, watch the status bar, review the diff,
//! merge with one click; then a merge the host refuses, and a second launch that opens a job.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::notify_server::Bus;
use crate::support::World;
use crate::webdriver::Session;
use sidekick_testkit::forge::ScriptedForge;

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// Types a shell command as the task, the `shell` agent picked (the composer's own choice is
/// a coding agent).
fn type_shell_task(s: &mut Session, task: &str) -> Result<(), String> {
    s.execute(
        "const e = document.querySelector('[data-testid=agent-select]'); \
         e.value = 'shell'; e.dispatchEvent(new Event('change', { bubbles: true }));",
        serde_json::json!([]),
    )?;
    let input = s.find("[data-testid=task-input]")?;
    s.type_text(&input, task)
}

/// Types a shell command as the task, runs it, and returns the new job's codename (the app
/// opens it at once).
fn run_task(s: &mut Session, task: &str) -> Result<String, String> {
    type_shell_task(s, task)?;
    let submit = s.find("[data-testid=task-submit]")?;
    s.click(&submit)?;
    let sent = s.wait_text("[data-testid=composer-sent]", "Started")?;
    let codename = sent
        .trim_start_matches("Started ")
        .trim_end_matches('.')
        .to_string();
    check(!codename.is_empty(), || format!("no codename in {sent:?}"))?;
    Ok(codename)
}

/// Presses Run with a task type chosen; the new job's codename.
fn run_typed(s: &mut Session) -> Result<String, String> {
    s.press("[data-testid=task-submit]")?;
    let sent = s.wait_text("[data-testid=composer-sent]", "Started")?;
    Ok(sent
        .trim_start_matches("Started ")
        .trim_end_matches('.')
        .to_string())
}

/// Waits until the open job is `codename` in `state`.
/// `sidekick ARGS` with the world's environment; its stdout, or why it failed.
fn sidekick(cli: &Path, w: &World, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new(cli)
        .args(args)
        .envs(w.env())
        .output()
        .map_err(|e| format!("cannot run sidekick: {e}"))?;
    check(out.status.success(), || {
        String::from_utf8_lossy(&out.stderr).into_owned()
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The codename `sidekick run` printed (`<id> <codename>`).
fn started_codename(out: &str) -> String {
    out.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn wait_job_state(s: &mut Session, codename: &str, state: &str) -> Result<(), String> {
    let css = format!("[data-testid=job-view][data-codename='{codename}'][data-state='{state}']");
    s.find(&css).map(|_| ())
}

pub fn run(
    mut s: Session,
    w: &World,
    app: &Path,
    bus: &Bus,
    forge: &ScriptedForge,
) -> Result<(), String> {
    let result = steps(&mut s, w, app, bus, forge);
    if result.is_err() {
        s.screenshot("failure");
        // The host's own account of what happened, for whoever reads the failure.
        let log = std::fs::read_to_string(w.home.join("host.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        eprintln!("--- host.log (last lines) ---");
        for line in tail.into_iter().rev() {
            eprintln!("{line}");
        }
    }
    s.close();
    result
}

fn steps(
    s: &mut Session,
    w: &World,
    app: &Path,
    bus: &Bus,
    forge: &ScriptedForge,
) -> Result<(), String> {
    // The app started a host and follows it.
    s.wait_text("[data-testid=host-state]", "host")?;
    s.wait_text(
        "[data-testid=status-summary]",
        "0 running · 0 queued · 0 to review",
    )?;
    s.screenshot("started");

    // The first screen, before any repository: the agents found (the stand-in claude, with its
    // version), a test notification that reaches the desktop, the CLI's path.
    s.wait_text("[data-testid=welcome-agents]", "2.1.0 (fake)")?;
    s.press("[data-testid=welcome-test-notification]")?;
    s.wait_text("[data-testid=welcome-notification-result]", "Sent")?;
    let test_note = bus.wait_notes(1);
    check(
        test_note
            .iter()
            .any(|n| n.summary == "Sidekick can tap you on the shoulder"),
        || format!("no test notification: {test_note:?}"),
    )?;
    s.wait_text("[data-testid=welcome-cli]", "sidekick")?;
    s.screenshot("welcome");

    // A folder that is not a repository gets the host's own sentence.
    let path = s.find("[data-testid=repo-path]")?;
    s.type_text(&path, &w.root.display().to_string())?;
    s.press("[data-testid=repo-open]")?;
    let err = s.wait_text("[data-testid=repo-error]", "not inside a git repository")?;
    println!("e2e: not a repository -> {err}");

    // Open the real one.
    s.execute("document.querySelector('[data-testid=repo-path]').value = ''; document.querySelector('[data-testid=repo-path]').dispatchEvent(new Event('input'));", serde_json::json!([]))?;
    s.type_text(&path, &w.repo.display().to_string())?;
    s.press("[data-testid=repo-open]")?;
    s.wait_text("[data-testid=repo-current]", "project")?;
    s.screenshot("repo-opened");
    // An English task goes to a coding agent by default, never to `shell`.
    let agent = s.execute(
        "return document.querySelector('[data-testid=agent-select]').value",
        serde_json::json!([]),
    )?;
    check(agent == serde_json::json!("claude"), || {
        format!("the composer's default agent is {agent}")
    })?;

    // The repository's own task type runs a command: until the user trusts it, the composer
    // shows what it runs and a job there is refused before anything runs.
    let panel = s.wait_text("[data-testid=trust-commands]", "task type greet")?;
    check(panel.contains("printf 'hello %s"), || {
        format!("the trust panel does not show the command: {panel:?}")
    })?;
    s.screenshot("trust-asked");
    type_shell_task(s, "touch refused.txt")?;
    s.press("[data-testid=task-submit]")?;
    let refused = s.wait_text("[data-testid=composer-error]", "sidekick trust")?;
    println!("e2e: untrusted -> {refused}");
    let branches = w.git(&["branch", "--list", "sidekick/*"])?;
    check(branches.trim().is_empty(), || {
        format!("a refused job left branches: {branches}")
    })?;
    s.press("[data-testid=trust-button]")?;
    s.wait("the trust panel to go", |s| {
        Ok(s.all("[data-testid=trust-panel]")?.is_empty().then_some(()))
    })?;
    let record = std::fs::read_to_string(w.home.join("trusted.toml")).unwrap_or_default();
    check(record.contains(&w.repo.display().to_string()), || {
        format!("no trust record: {record:?}")
    })?;
    s.execute(
        "const e = document.querySelector('[data-testid=task-input]'); \
         e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true }));",
        serde_json::json!([]),
    )?;

    // The user's own uncommitted work, which nothing may touch.
    w.write("notes.txt", "my notes\nmore notes, not committed\n")?;
    w.write("scratch.txt", "untracked scratch\n")?;

    // Run a job; the status bar counts it while it runs and when it is ready.
    let first = run_task(s, "sleep 3; echo 'made by the job' > job.txt")?;
    s.wait_text("[data-testid=status-summary]", "1 running")?;
    s.screenshot("job-running");
    s.wait_text(
        "[data-testid=status-summary]",
        "0 running · 0 queued · 1 to review",
    )?;
    wait_job_state(s, &first, "completed")?;
    // It ran in the sandbox (bubblewrap is installed with the test tools), and the view says so.
    s.wait_text("[data-testid=job-sandbox]", "worktree only (network on)")?;
    s.screenshot("job-finished");
    // The output keeps to the window: its foot (the line count) is on screen, under the lines,
    // with the reply box below it.
    let inside = s.execute(
        "const f = document.querySelector('[data-testid=output-count]'); \
         const r = document.querySelector('[data-testid=reply-text]'); \
         return !!f && !!r && f.getBoundingClientRect().bottom <= r.getBoundingClientRect().top \
           && r.getBoundingClientRect().bottom <= window.innerHeight;",
        serde_json::json!([]),
    )?;
    check(inside == serde_json::json!(true), || {
        "the output view overflows the window (its foot or the reply box is off screen)".into()
    })?;

    // Its diff.
    s.press("[data-testid=pane-diff]")?;
    s.wait_text("[data-testid=diff-file]", "job.txt")?;
    s.wait_text("[data-testid=diff-rows]", "made by the job")?;
    s.screenshot("diff");
    // Its rows stack without gaps or overlaps: the line rows, which are not measured (one line
    // high), and the file and hunk rows, which are.
    let stacking = s.execute(
        "const rows = [...document.querySelectorAll('[data-testid=diff-rows] .row')]            .map((r) => r.getBoundingClientRect()).sort((a, b) => a.top - b.top);          const bad = rows.slice(1).flatMap((r, i) => Math.abs(r.top - rows[i].bottom) > 0.5 ? [`row ${i + 1} starts at ${r.top}, the one above ends at ${rows[i].bottom}`] : []);          return rows.length < 3 ? `only ${rows.length} rows` : bad.join('; ');",
        serde_json::json!([]),
    )?;
    check(stacking == serde_json::json!(""), || {
        format!("the diff's rows do not stack: {stacking}")
    })?;

    // Merge with one click, after the preview.
    s.press("[data-testid=job-merge]")?;
    s.wait_text("[data-testid=merge-clean]", "Clean")?;
    s.screenshot("merge-preview");
    s.press("[data-testid=merge-confirm]")?;
    let done = s.wait("the merge result", |s| {
        let t = s.text_of("[data-testid=merge-done]")?;
        Ok((!t.is_empty()).then_some(t))
    })?;
    println!("e2e: merged -> {done}");
    wait_job_state(s, &first, "merged")?;
    s.screenshot("merged");

    // git agrees: the change is on main, the user's files are as they were.
    let on_main = w.git(&["show", "main:job.txt"])?;
    check(on_main == "made by the job", || {
        format!("main:job.txt is {on_main:?}")
    })?;
    check(w.read("job.txt") == "made by the job\n", || {
        "job.txt not checked out".into()
    })?;
    let notes = w.read("notes.txt");
    check(notes == "my notes\nmore notes, not committed\n", || {
        format!("notes.txt changed: {notes:?}")
    })?;
    check(w.read("scratch.txt") == "untracked scratch\n", || {
        "scratch.txt changed".into()
    })?;
    let status = w.git(&["status", "--porcelain"])?;
    check(status == " M notes.txt\n?? scratch.txt", || {
        format!("git status is {status:?}")
    })?;
    s.press("[data-testid=merge-close]")?;

    // A job that failed is retried from its view: a new job with the same task, which links
    // back to the first (and the first to it).
    let failing = run_task(s, "echo attempt >> attempts.txt; exit 3")?;
    wait_job_state(s, &failing, "failed")?;
    s.press("[data-testid=job-retry]")?;
    let retried = s.wait("the retry to open", |s| {
        let name = s.execute(
            "const v = document.querySelector('[data-testid=job-view]'); return v ? v.dataset.codename : null",
            serde_json::json!([]),
        )?;
        Ok(name.as_str().filter(|n| *n != failing).map(str::to_string))
    })?;
    s.wait_text("[data-testid=job-retry-of]", &failing)?;
    wait_job_state(s, &retried, "failed")?;
    let task = s.text_of("[data-testid=job-task]")?;
    check(task == "echo attempt >> attempts.txt; exit 3", || {
        format!("the retry's task is {task:?}")
    })?;
    s.screenshot("retried");
    s.press("[data-testid=job-retry-of] button")?;
    wait_job_state(s, &failing, "failed")?;
    s.wait_text("[data-testid=job-retried-as]", &retried)?;
    let shown = sidekick(&app.with_file_name("sidekick"), w, &["status", &retried])?;
    check(shown.contains("retry of"), || format!("status: {shown}"))?;

    // Settings, through the host: a value it refuses gets its sentence and changes nothing; a
    // good one is written with the file's comments kept, and the next job has it.
    let config = w.home.join("config.toml");
    let mine = std::fs::read_to_string(&config).unwrap_or_default();
    std::fs::write(&config, format!("# the user's own note\n\n{mine}"))
        .map_err(|e| format!("config: {e}"))?;
    let before = std::fs::read_to_string(&config).map_err(|e| format!("config: {e}"))?;
    s.press("[data-testid=open-settings]")?;
    s.wait_text("[data-testid=settings]", "Settings")?;
    let set = |s: &mut Session, key: &str, value: &str| {
        s.execute(
            "const e = document.querySelector(`[data-testid='set-${arguments[0]}']`); \
             e.value = arguments[1]; e.dispatchEvent(new Event('input', { bubbles: true }));",
            serde_json::json!([key, value]),
        )
        .map(|_| ())
    };
    set(s, "max_running", "0")?;
    set(s, "timeout", "soon")?;
    s.press("[data-testid=settings-save]")?;
    // Every refused field says why, beside itself, all at once.
    s.wait_text(
        "[data-testid=field-error][data-key=max_running]",
        "must be at least 1",
    )?;
    s.wait_text("[data-testid=field-error][data-key=timeout]", "soon")?;
    s.wait_text(
        "[data-testid=settings-error]",
        "2 fields need another value",
    )?;
    // An agent's permission is a choice of its own modes (claude has no `yolo`).
    let modes = s.execute(
        "return [...document.querySelector('[aria-label=\"claude permission\"]').options].map(o => o.value)",
        serde_json::json!([]),
    )?;
    check(
        modes.as_array().is_some_and(|m| {
            m.contains(&serde_json::json!("acceptEdits")) && !m.contains(&serde_json::json!("yolo"))
        }),
        || format!("claude's permission choices: {modes}"),
    )?;
    s.screenshot("settings-refused");
    let now = std::fs::read_to_string(&config).map_err(|e| format!("config: {e}"))?;
    check(now == before, || format!("a refused change wrote {now:?}"))?;
    set(s, "max_running", "4")?;
    set(s, "timeout", "7m")?;
    s.press("[data-testid=settings-save]")?;
    s.wait_text("[data-testid=settings-saved]", "It applies now")?;
    s.screenshot("settings-saved");
    let now = std::fs::read_to_string(&config).map_err(|e| format!("config: {e}"))?;
    check(
        now.starts_with("# the user's own note\n")
            && now.contains("max_running = 4")
            && now.contains("timeout = \"7m\""),
        || format!("config.toml is now {now:?}"),
    )?;
    let cli = app.with_file_name("sidekick");
    let repo_arg = w.repo.display().to_string();
    let timed: serde_json::Value = serde_json::from_str(&sidekick(
        &cli,
        w,
        &[
            "run", "--json", "-r", &repo_arg, "-a", "shell", "--", "true",
        ],
    )?)
    .map_err(|e| format!("run --json: {e}"))?;
    check(timed["timeout_ms"] == 7 * 60 * 1000, || {
        format!("the next job's timeout is {}", timed["timeout_ms"])
    })?;
    s.press("[data-testid=settings-close]")?;

    // A merge the host refuses: the user edits a file the job changed after the preview.
    let second = run_task(s, "echo 'changed by the job' > shared.txt")?;
    wait_job_state(s, &second, "completed")?;
    s.press("[data-testid=job-merge]")?;
    s.wait_text("[data-testid=merge-clean]", "Clean")?;
    let tip = w.git(&["rev-parse", "main"])?;
    w.write("shared.txt", "the user's edit\n")?;
    s.press("[data-testid=merge-confirm]")?;
    let refusal = s.wait_text("[data-testid=merge-error]", "shared.txt")?;
    println!("e2e: refused -> {refusal}");
    // The refusal carries its code, and the dialog points at its own way out.
    let code = s.execute(
        "return document.querySelector('[data-testid=merge-error]').dataset.code",
        serde_json::json!([]),
    )?;
    check(code == serde_json::json!("dirty_overlap"), || {
        format!("the refusal's code is {code}")
    })?;
    s.wait_text(
        "[data-testid=merge-way-out]",
        "Set my uncommitted changes aside",
    )?;
    s.screenshot("merge-refused");
    check(w.git(&["rev-parse", "main"])? == tip, || {
        "main moved on a refused merge".into()
    })?;
    check(w.read("shared.txt") == "the user's edit\n", || {
        "shared.txt was overwritten".into()
    })?;
    // The preview runs again and now names the file, and the button stays off.
    s.wait_text("[data-testid=merge-dirty]", "Uncommitted changes")?;
    s.wait_text("[data-testid=merge-blocked]", "Uncommitted changes")?;
    let disabled = s.execute(
        "return document.querySelector('[data-testid=merge-confirm]').disabled",
        serde_json::json!([]),
    )?;
    check(disabled == serde_json::Value::Bool(true), || {
        "merge stayed enabled over dirty files".into()
    })?;
    s.screenshot("merge-dirty-preview");
    // The dialog is modal: a click meant for the page behind it does not get there.
    let behind = s.find("[data-testid=job-discard]")?;
    check(s.click(&behind).is_err(), || {
        "a click passed through the merge dialog to the page behind".into()
    })?;
    check(s.all("[data-testid=confirm]")?.is_empty(), || {
        "the page behind the dialog took a click".into()
    })?;

    // The user commits their own shared.txt while the dialog is open: now the job conflicts
    // with main, and the dialog sees it by itself. Its every line stays true: the edit is
    // committed, so nothing uncommitted is in the way.
    w.git(&["add", "shared.txt"])?;
    w.git(&["commit", "-q", "-m", "the user's shared.txt"])?;
    s.wait_text("[data-testid=merge-conflicts]", "shared.txt")?;
    check(s.all("[data-testid=merge-dirty]")?.is_empty(), || {
        "the dialog still names uncommitted changes".into()
    })?;
    // The earlier refusal (uncommitted changes in the way) is no longer true: it goes.
    s.wait_gone("[data-testid=merge-error]")?;
    s.screenshot("merge-dialog");
    // Escape closes it.
    let dialog = s.find("[data-testid=merge-dialog]")?;
    s.type_text(&dialog, "\u{E00C}")?;
    s.wait_gone("[data-testid=merge-dialog]")?;
    // The list says so before the dialog is opened again.
    s.wait_text(
        &format!("[data-testid=job-row][data-codename='{second}'] [data-testid=job-fresh]"),
        "conflicts",
    )?;
    s.press("[data-testid=job-merge]")?;
    s.wait_text("[data-testid=merge-conflicts]", "shared.txt")?;
    s.press("[data-testid=merge-rebase]")?;
    // The rebase stops at the conflict: the dialog gives way to the job view, which shows the
    // conflict with its ways out; Merge waits, Discard stays.
    s.wait_text("[data-testid=job-conflict]", "shared.txt")?;
    s.screenshot("conflict");
    let shared = w
        .home
        .join("worktrees")
        .read_dir()
        .map_err(|e| format!("worktrees: {e}"))?
        .flatten()
        .map(|d| d.path().join(&second).join("shared.txt"))
        .find(|p| p.exists())
        .ok_or("the job's worktree has no shared.txt")?;
    let worktree = shared.parent().ok_or("no worktree")?.to_path_buf();
    let marked = std::fs::read_to_string(&shared).map_err(|e| format!("read: {e}"))?;
    check(marked.contains("<<<<<<<"), || {
        format!("no conflict markers in the worktree: {marked:?}")
    })?;
    let buttons = s.execute(
        "return ['job-merge', 'job-discard', 'conflict-abort', 'conflict-open-editor']\
           .map(t => !!document.querySelector(`[data-testid=${t}]`));",
        serde_json::json!([]),
    )?;
    check(
        buttons == serde_json::json!([false, true, true, true]),
        || format!("merge, discard, abort, editor shown: {buttons}"),
    )?;
    // Abort: the branch is back as it was, the markers gone, Merge back.
    s.press("[data-testid=conflict-abort]")?;
    s.wait_text("[data-testid=job-notice]", "aborted the rebase")?;
    s.find("[data-testid=job-merge]")?;
    let back = std::fs::read_to_string(&shared).map_err(|e| format!("read: {e}"))?;
    check(!back.contains("<<<<<<<"), || {
        format!("markers after the abort: {back:?}")
    })?;
    // Again, and this time the person resolves it by hand in the worktree: the app notices
    // without being told, and the job can merge.
    s.press("[data-testid=job-merge]")?;
    s.wait_text("[data-testid=merge-conflicts]", "shared.txt")?;
    s.press("[data-testid=merge-rebase]")?;
    s.wait_text("[data-testid=job-conflict]", "shared.txt")?;
    std::fs::write(&shared, "both sides\n").map_err(|e| format!("write: {e}"))?;
    let wt = worktree.display().to_string();
    w.git(&["-C", &wt, "add", "shared.txt"])?;
    w.git(&["-C", &wt, "-c", "core.editor=true", "rebase", "--continue"])?;
    s.wait_gone("[data-testid=job-conflict]")?;
    s.find("[data-testid=job-merge]")?;
    s.screenshot("conflict-resolved");

    // Launching again with --job focuses the running window at that job.
    let mut again = Command::new(app)
        .args(["--job", &first])
        .envs(w.env())
        .spawn()
        .map_err(|e| format!("cannot launch the app again: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = again.try_wait() {
            check(status.success(), || {
                format!("the second launch ended with {status}")
            })?;
            break;
        }
        if Instant::now() > deadline {
            let _ = again.kill();
            return Err("the second launch did not hand over to the running app".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_job_state(s, &first, "merged")?;
    s.screenshot("opened-by-second-launch");

    // The first job ran over a second: the host told the desktop. Its "Review" action opens
    // that job in the running window, whatever the window shows now.
    // (The first is the first screen's test notification.)
    let notes = bus.wait_notes(2);
    let note = notes
        .iter()
        .find(|n| n.summary == format!("{first} completed"))
        .ok_or_else(|| format!("no notification for {first}: {notes:?}"))?;
    check(note.actions.iter().any(|a| a == "review"), || {
        format!("no Review action: {note:?}")
    })?;
    s.press(&format!("[data-testid=job-row][data-codename='{second}']"))?;
    wait_job_state(s, &second, "completed")?;
    bus.invoke(note.id, "review");
    wait_job_state(s, &first, "merged")?;
    s.screenshot("opened-from-notification");

    // A task type from the repository, picked in the composer, its input filled in.
    // Choosing an option the way a user does: WebDriver selects it and fires change.
    s.press("[data-testid=type-select] option[value=greet]")?;
    let field = s.find("[data-testid=type-input][data-name=name]")?;
    s.type_text(&field, "Ada; rm -rf ~")?;
    s.screenshot("task-type");
    let typed = run_typed(s)?;
    wait_job_state(s, &typed, "completed")?;
    let branch = format!("sidekick/{typed}");
    let greeting = w.git(&["show", &format!("{branch}:greeting.txt")])?;
    check(greeting == "hello Ada; rm -rf ~", || {
        format!("greeting.txt is {greeting:?}")
    })?;

    // An agent that asks: the job waits, the status bar says it needs the user, and the job
    // view's Allow answers it; the agent goes on and its file is on the branch.
    let cli = app.with_file_name("sidekick");
    let repo = w.repo.display().to_string();
    let asking = started_codename(&sidekick(
        &cli,
        w,
        &["run", "-r", &repo, "-a", "claude", "write asked.txt"],
    )?);
    s.wait_text("[data-testid=status-summary]", "1 needs you")?;
    s.press(&format!("[data-testid=job-row][data-codename='{asking}']"))?;
    s.wait_text("[data-testid=request-title]", "wants to write asked.txt")?;
    // Not blind: the change itself is shown, the file and what it would hold.
    s.wait_text("[data-testid=request-file]", "+allowed")?;
    let shown = s.execute(
        "const p = document.querySelector('[data-testid=request-preview] pre').getBoundingClientRect();\
         return [p.width, p.height];",
        serde_json::json!([]),
    )?;
    check(
        shown[0].as_f64().unwrap_or(0.0) > 300.0 && shown[1].as_f64().unwrap_or(0.0) > 10.0,
        || format!("the request's change is not readable: {shown}"),
    )?;
    s.screenshot("agent-asks");
    s.press("[data-testid=request-allow]")?;
    wait_job_state(s, &asking, "completed")?;
    // The agent's summary is drawn as markdown, not shown as its marks.
    s.wait_text("[data-testid=job-summary] strong", "asked.txt")?;
    let summary = s.text_of("[data-testid=job-summary]")?;
    check(!summary.contains("##") && !summary.contains("**"), || {
        format!("the summary shows markdown's marks: {summary:?}")
    })?;
    // A compact header: the transcript or diff gets at least half the window.
    let room = s.execute(
        "const pane = document.querySelector('.jobview .pane').getBoundingClientRect();\
         const head = document.querySelector('.jobview header').getBoundingClientRect();\
         return [pane.height, head.height, window.innerHeight];",
        serde_json::json!([]),
    )?;
    let at = |i: usize| room[i].as_f64().unwrap_or(0.0);
    check(at(0) >= 0.5 * at(2), || {
        format!("the pane gets {} of {} px (header {})", at(0), at(2), at(1))
    })?;
    s.screenshot("compact-header");
    let asked = w.git(&["show", &format!("sidekick/{asking}:asked.txt")])?;
    check(asked == "allowed", || format!("asked.txt is {asked:?}"))?;

    // A reply from the job view: the same job takes another turn in its worktree (the agent
    // asks again, and is allowed again).
    let field = s.find("[data-testid=reply-text]")?;
    s.type_text(&field, "once more, please")?;
    s.press("[data-testid=reply-send]")?;
    s.wait_text("[data-testid=request-title]", "asked.txt")?;
    s.screenshot("reply-asks-again");
    s.press("[data-testid=request-allow]")?;
    wait_job_state(s, &asking, "completed")?;
    // The job view reads as a conversation: the agent's words (markdown rendered), its tool
    // call by name with its path, the user's reply, and no JSON on screen.
    s.press("[data-testid=pane-transcript]")?;
    s.wait_text("[data-testid=transcript]", "once more, please")?;
    let transcript = s.text_of("[data-testid=transcript]")?;
    check(transcript.contains("I will write asked.txt now."), || {
        format!("the agent's words are missing: {transcript}")
    })?;
    check(
        transcript.contains("Write") && transcript.contains("asked.txt"),
        || format!("the tool call is missing: {transcript}"),
    )?;
    check(!transcript.contains("{\""), || {
        format!("JSON on screen: {transcript}")
    })?;
    s.screenshot("transcript");
    // An opened tool card shows its input and result full width under its line (the diff's row
    // style once laid it out as a narrow column to the right).
    s.press("[data-testid=transcript-tool]")?;
    s.wait_text("[data-testid=transcript-tool-detail]", "asked.txt")?;
    let layout = s.execute(
        "const line = document.querySelector('[data-testid=transcript-tool]').getBoundingClientRect();\
         const detail = document.querySelector('[data-testid=transcript-tool-detail]').getBoundingClientRect();\
         const row = document.querySelector('[data-testid=transcript-tool]').closest('[data-testid=transcript-row]').getBoundingClientRect();\
         return {line: [line.left, line.bottom, line.width], detail: [detail.left, detail.top, detail.width], row: row.width};",
        serde_json::json!([]),
    )?;
    let n = |v: &serde_json::Value| v.as_f64().unwrap_or(-1.0);
    let (line, detail, row) = (&layout["line"], &layout["detail"], n(&layout["row"]));
    check(
        (n(&detail[0]) - n(&line[0])).abs() < 2.0
            && n(&detail[1]) >= n(&line[1]) - 1.0
            && n(&detail[2]) >= 0.9 * n(&line[2])
            && n(&line[2]) >= 0.8 * row,
        || format!("the tool card's detail is not full width under its line: {layout}"),
    )?;
    s.screenshot("tool-card");
    s.press("[data-testid=transcript-tool]")?;
    let job: serde_json::Value =
        serde_json::from_str(&sidekick(&cli, w, &["status", "--json", &asking])?)
            .map_err(|e| format!("status --json: {e}"))?;
    check(job["turns"] == 2, || format!("turns: {}", job["turns"]))?;

    // A review comment on a line of the diff goes to the agent as its next message.
    s.press("[data-testid=pane-diff]")?;
    s.wait_text("[data-testid=diff-file]", "asked.txt")?;
    s.press("[data-testid=line-number]")?;
    let field = s.find("[data-testid=comment-text]")?;
    s.type_text(&field, "Say why this file exists.")?;
    s.press("[data-testid=comment-save]")?;
    s.wait_text("[data-testid=comment-body]", "Say why this file exists.")?;
    s.screenshot("diff-comment");
    s.press("[data-testid=comments-send]")?;
    s.wait_text("[data-testid=diff-notice]", "Sent 1 comment to claude")?;
    s.wait_text("[data-testid=request-title]", "asked.txt")?;
    s.press("[data-testid=request-allow]")?;
    wait_job_state(s, &asking, "completed")?;
    let inputs = std::fs::read_to_string(w.root.join("claude-state/inputs.jsonl"))
        .map_err(|e| format!("the agent's inputs: {e}"))?;
    let third = inputs.lines().nth(2).unwrap_or_default();
    check(
        third.contains("asked.txt, line 1:") && third.contains("Say why this file exists."),
        || format!("the third turn's message lacks the comment: {inputs}"),
    )?;
    s.wait_text("[data-testid=comment-count]", "1 comment")?;
    let sent = s.text_of("[data-testid=comment]")?;
    check(sent.contains("sent") && !sent.contains("not sent"), || {
        format!("the comment is not marked sent: {sent}")
    })?;

    // Open in editor: the user's $VISUAL gets the job's worktree.
    s.press("[data-testid=open-editor]")?;
    s.wait_text(
        "[data-testid=job-notice]",
        "Opened the worktree in your editor",
    )?;
    let opened = s.wait("the editor to start", |_| {
        Ok(std::fs::read_to_string(w.root.join("opened.txt"))
            .ok()
            .filter(|t| !t.is_empty()))
    })?;
    let worktree = job["worktree"].as_str().unwrap_or_default().to_string();
    check(
        opened.trim() == format!("{worktree}|--new-window {worktree}"),
        || format!("the editor was started as {opened:?}, not in {worktree}"),
    )?;

    pull_request(s, w, &cli, &repo, forge)?;

    // Merge one of two hunks: untick the first in the diff, merge, and git has only the second.
    let long: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    w.write("long.txt", &long)?;
    w.git(&["add", "long.txt"])?;
    w.git(&["commit", "-q", "-m", "forty lines"])?;
    let hunky = started_codename(&sidekick(
        &cli,
        w,
        &[
            "run",
            "-r",
            &repo,
            "-a",
            "shell",
            &format!(
                "sed -i -e 's/^line 2$/LINE 2/' -e 's/^line 35$/LINE 35 {}/' long.txt",
                "and a long tail ".repeat(25)
            ),
        ],
    )?);
    s.press(&format!("[data-testid=job-row][data-codename='{hunky}']"))?;
    wait_job_state(s, &hunky, "completed")?;
    s.press("[data-testid=pane-diff]")?;
    s.wait_text("[data-testid=diff-file]", "long.txt")?;
    s.wait("two hunk boxes", |s| {
        Ok((s.all("[data-testid=hunk-include]")?.len() == 2).then_some(()))
    })?;
    // Side by side, a long line wraps within its half and rows never overlap, also after the
    // unchanged lines between the hunks are shown.
    s.press("[data-testid=layout-split]")?;
    let overlaps = |s: &Session| -> Result<serde_json::Value, String> {
        s.execute(
            "const rows = [...document.querySelectorAll('[data-testid=diff-rows] .row')]\
               .map(r => r.getBoundingClientRect()).sort((a, b) => a.top - b.top);\
             const stacked = rows.slice(1).filter((r, i) => r.top < rows[i].bottom - 1).length;\
             const els = [...document.querySelectorAll('[data-testid=diff-rows] .row')].sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);\
             const bad = els.slice(1).map((e, i) => [els[i], e]).filter(([a, b]) => b.getBoundingClientRect().top < a.getBoundingClientRect().bottom - 1)\
               .map(([a, b]) => [a.dataset.index, a.className, a.getBoundingClientRect().top, a.getBoundingClientRect().bottom, a.textContent.slice(0, 40), b.dataset.index, b.className, b.getBoundingClientRect().top, b.textContent.slice(0, 40)]);\
             const halves = [...document.querySelectorAll('[data-testid=diff-rows] .row.pair')].filter(p => {\
               const [l, r] = [...p.querySelectorAll('.code.half')].map(h => h.getBoundingClientRect());\
               return l && r && l.right > r.left + 1;\
             }).length;\
             return [stacked, halves, rows.length, bad];",
            serde_json::json!([]),
        )
    };
    let before = overlaps(s)?;
    check(before[0] == 0 && before[1] == 0, || {
        format!("split rows overlap (stacked, halves, rows): {before}")
    })?;
    s.press("[data-testid=diff-expand]")?;
    // Rows are measured as they are drawn: the layout settles within moments.
    let mut last = serde_json::Value::Null;
    let settled = s.wait("the split rows to settle after expanding", |s| {
        last = overlaps(s)?;
        Ok((last[0] == 0 && last[1] == 0 && last[2].as_u64() > before[2].as_u64()).then_some(()))
    });
    settled.map_err(|e| {
        format!("{e}; split rows overlap after expanding (stacked, halves, rows): {last}")
    })?;
    s.screenshot("split-diff");
    s.press("[data-testid=layout-unified]")?;
    s.wait("two hunk boxes", |s| {
        Ok((s.all("[data-testid=hunk-include]")?.len() == 2).then_some(()))
    })?;
    s.press("[data-testid=hunk-include]")?;
    // The file tree says the file goes in part.
    let closed = s.all("[data-testid=file-include]")?.is_empty();
    if closed {
        s.press("[data-testid=toggle-files]")?;
    }
    let taken = s.execute(
        "const b = document.querySelector('[data-testid=file-include]'); return [b.dataset.taken, b.indeterminate];",
        serde_json::json!([]),
    )?;
    check(taken == serde_json::json!(["some", true]), || {
        format!("the file tree's box for a file merged in part: {taken}")
    })?;
    if closed {
        s.press("[data-testid=toggle-files]")?;
    }
    s.press("[data-testid=job-merge]")?;
    s.wait_text("[data-testid=merge-partial]", "1 chosen hunk of 1 file")?;
    s.wait_text("[data-testid=merge-clean]", "Clean")?;
    s.screenshot("merge-one-hunk");
    s.press("[data-testid=merge-confirm]")?;
    s.wait_text("[data-testid=merge-done]", "hunks into main")?;
    s.press("[data-testid=merge-close]")?;
    let merged = w.git(&["show", "main:long.txt"])?;
    check(
        merged.contains("LINE 35") && merged.contains("\nline 2\n") && !merged.contains("LINE 2"),
        || format!("main:long.txt after merging one hunk: {merged}"),
    )?;
    wait_job_state(s, &hunky, "completed")?;

    // A job that changed nothing offers Retry, Discard and Archive, and no Merge.
    let empty = timed["codename"].as_str().unwrap_or_default().to_string();
    s.press(&format!("[data-testid=job-row][data-codename='{empty}']"))?;
    s.find("[data-testid=job-retry]")?;
    s.find("[data-testid=job-discard]")?;
    check(s.all("[data-testid=job-merge]")?.is_empty(), || {
        format!("{empty} changed nothing and offers Merge")
    })?;
    // One "to review": the status popover lists as many as the bar counts.
    let bar = s.text_of("[data-testid=status-summary]")?;
    let n = bar
        .split(" to review")
        .next()
        .and_then(|b| b.rsplit(' ').next())
        .unwrap_or("?")
        .to_string();
    s.press("[data-testid=status-summary]")?;
    s.wait_text("[data-testid=status-popover]", &format!("To review ({n})"))?;
    let dialog = s.find("[data-testid=status-summary]")?;
    s.type_text(&dialog, "\u{E00C}")?;
    s.wait_gone("[data-testid=status-popover]")?;

    // A small window: nothing scrolls sideways.
    s.resize(900, 700)?;
    s.wait("the window at 900 px", |s| {
        let w = s.execute("return window.innerWidth", serde_json::json!([]))?;
        Ok((w.as_u64().unwrap_or(0) <= 900).then_some(()))
    })?;
    for (job, pane) in [
        (&hunky, "diff"),
        (&hunky, "output"),
        (&asking, "transcript"),
    ] {
        s.press(&format!("[data-testid=job-row][data-codename='{job}']"))?;
        s.press(&format!("[data-testid=pane-{pane}]"))?;
        std::thread::sleep(Duration::from_millis(300));
        let wide = s.execute(
            "return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]",
            serde_json::json!([]),
        )?;
        let n = |i: usize| wide[i].as_u64().unwrap_or(u64::MAX);
        check(n(0) <= n(2) && n(1) <= n(2), || {
            format!("the {pane} pane scrolls sideways at 900x700: {wide}")
        })?;
    }
    s.screenshot("small-window");

    // The host dies (kill -9). The app starts a new one, follows it from where it was, and a
    // job started meanwhile from the CLI shows up in the window.
    let pid = crate::support::host_pid(w).ok_or("no host pid")?;
    crate::support::nix_kill(pid, "KILL")?;
    let after = started_codename(&sidekick(
        &cli,
        w,
        &["run", "-r", &repo, "-a", "shell", "echo after the crash"],
    )?);
    s.find(&format!("[data-testid=job-row][data-codename='{after}']"))?;
    s.wait_text("[data-testid=host-state]", "host")?;
    s.screenshot("after-host-restart");
    check(!notes.iter().any(|n| n.summary.contains(&second)), || {
        format!("the quick job notified: {notes:?}")
    })?;

    // The native folder picker opens another repository: GTK's chooser, driven with the
    // keyboard as a user would (Ctrl+L, the path, Enter).
    let other = w.root.join("other");
    std::fs::create_dir_all(&other).map_err(|e| e.to_string())?;
    w.git(&[
        "-C",
        &other.display().to_string(),
        "init",
        "-q",
        "-b",
        "main",
    ])?;
    w.git(&[
        "-C",
        &other.display().to_string(),
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "first",
    ])?;
    s.press("[data-testid=repo-browse]")?;
    let chooser = s.wait("the folder picker", |_| {
        let out = Command::new("xdotool")
            .args(["search", "--name", "Open a repository"])
            .output()
            .map_err(|e| format!("xdotool: {e}"))?;
        let id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_string);
        Ok(id.filter(|i| !i.is_empty()))
    })?;
    let xdo = |args: &[&str]| -> Result<(), String> {
        let st = Command::new("xdotool")
            .args(args)
            .status()
            .map_err(|e| format!("xdotool: {e}"))?;
        check(st.success(), || format!("xdotool {args:?} failed"))
    };
    // The chooser may be listed a moment before it can take the focus.
    s.wait("the folder picker to take the focus", |_| {
        Ok(Command::new("xdotool")
            .args(["windowfocus", "--sync", &chooser])
            .status()
            .is_ok_and(|st| st.success())
            .then_some(()))
    })?;
    xdo(&["key", "ctrl+l"])?;
    std::thread::sleep(Duration::from_millis(300));
    xdo(&["type", &format!("{}/", other.display())])?;
    std::thread::sleep(Duration::from_millis(300));
    // GTK completes the path inline (`.git/`, selected): drop the completion first.
    xdo(&["key", "Delete"])?;
    std::thread::sleep(Duration::from_millis(200));
    xdo(&["key", "Return"])?;
    // In a folder chooser the first Enter may only enter the folder; a second one picks it.
    std::thread::sleep(Duration::from_millis(700));
    let still = Command::new("xdotool")
        .args(["search", "--name", "Open a repository"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if still {
        xdo(&["key", "Return"])?;
    }
    s.wait_text("[data-testid=repo-current]", "other")?;
    s.screenshot("picked-folder");
    Ok(())
}

/// A finished job goes to a pull request from the job view: the branch is pushed, the pull
/// request opened on the scripted GitHub; its failing check shows in the panel with the first
/// lines of its output, the list's badge says it, and Open in browser opens its page.
fn pull_request(
    s: &mut Session,
    w: &World,
    cli: &Path,
    repo: &str,
    forge: &ScriptedForge,
) -> Result<(), String> {
    let job = started_codename(&sidekick(
        cli,
        w,
        &[
            "run",
            "-r",
            repo,
            "-a",
            "shell",
            "echo 'for review' > pr.txt",
        ],
    )?);
    s.press(&format!("[data-testid=job-row][data-codename='{job}']"))?;
    wait_job_state(s, &job, "completed")?;
    s.press("[data-testid=job-open-pr]")?;
    s.wait_text("[data-testid=job-notice]", "opened #1")?;
    s.wait_text("[data-testid=pr-checks]", "failed: test")?;
    let output = s.wait_text("[data-testid=pr-check-output]", "expected 2, got 3")?;
    check(output.contains("test sum::adds ... FAILED"), || {
        format!("the failing check's output is not shown: {output:?}")
    })?;
    let badge = s.text_of(&format!(
        "[data-testid=job-row][data-codename='{job}'] [data-testid=job-pr-badge]"
    ))?;
    check(badge == "PR #1 ✗", || {
        format!("the list's badge says {badge:?}")
    })?;
    {
        let st = forge.state();
        check(
            st.pulls.len() == 1 && st.pulls[0].head == format!("sidekick/{job}"),
            || format!("the forge holds {:?}", st.pulls),
        )?;
    }
    s.screenshot("pull-request");
    s.press("[data-testid=pr-open]")?;
    let opened = s.wait("the browser to open the pull request", |_| {
        Ok(std::fs::read_to_string(w.root.join("opened-urls.txt"))
            .ok()
            .filter(|t| !t.is_empty()))
    })?;
    check(
        opened.trim() == "https://github.com/acme/project/pull/1",
        || format!("the browser was asked for {opened:?}"),
    )
}
