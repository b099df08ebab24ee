//! The safety promises under attack and accident (issue 10): symlinked copies, secrets in
//! commits and in the database, private files, and more. Each test builds the fault for real.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::{files_under, notices, s, World};

/// Writes the repository's own configuration and trusts it, as its user would.
fn repo_config(w: &World, text: &str) {
    std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(w.repo.join(".sidekick/config.toml"), text).expect("config");
    w.ok(&["trust", "--yes"]);
}

#[test]
fn a_repositorys_own_commands_run_only_once_trusted_at_that_content() {
    // (Unconfined, so the setup can leave its mark outside the worktree; see `sandbox.rs`.)
    let w = World::with_config("sandbox = \"off\"\n");
    let pwned = w.root.join("PWNED");
    std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
    let config = format!("setup = \"id > {}\"\n", pwned.display());
    std::fs::write(w.repo.join(".sidekick/config.toml"), &config).expect("config");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "a cloned repository with a setup"]);
    let jobs_before = w.json(&["ls", "--json"]);

    // Untrusted: refused before anything runs, with a sentence naming `sidekick trust`, for a
    // shell job and a claude job alike; no job, no worktree, no branch.
    for agent in ["shell", "claude"] {
        let r = w.sk(&["run", "--agent", agent, "echo hi"]);
        assert_eq!(r.code(), 1, "{agent}: {}", r.stderr());
        assert!(r.stderr().contains("sidekick trust"), "{}", r.stderr());
        assert!(
            r.stderr().contains(&format!("id > {}", pwned.display())),
            "{}",
            r.stderr()
        );
    }
    assert!(!pwned.exists(), "the setup never ran");
    assert_eq!(w.json(&["ls", "--json"]), jobs_before);
    assert_eq!(w.git(&["branch", "--list", "sidekick/*"]), "");

    // `trust --show` shows exactly what runs and records nothing; without a terminal, trust
    // needs --yes.
    let shown = w.ok(&["trust", "--show"]);
    assert!(
        shown.contains(&format!("setup command:  id > {}", pwned.display())),
        "{shown}"
    );
    assert!(shown.contains("not trusted"), "{shown}");
    let r = w.sk(&["trust"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("--yes"), "{}", r.stderr());
    let info = w.json(&["trust", "--show", "--json"]);
    assert_eq!(info["trusted"], false);
    assert_eq!(info["needed"], true);
    // Trust lives in the user's config folder, never in the repository.
    assert_eq!(w.git(&["status", "--porcelain"]), "");

    let trusted = w.json(&["trust", "--yes", "--json"]);
    assert_eq!(trusted["trusted"], true, "{trusted}");
    let record = std::fs::read_to_string(w.home.join("trusted.toml")).expect("record");
    assert!(record.contains(&w.repo.display().to_string()), "{record}");
    let job = w.spawn(&["--wait"], "echo hi");
    assert_eq!(job["state"], "completed", "{job}");
    assert!(pwned.exists(), "trusted: the setup ran");
    std::fs::remove_file(&pwned).expect("rm");

    // An edited configuration (or a new task type with a command) needs trust again.
    std::fs::write(
        w.repo.join(".sidekick/config.toml"),
        format!("{config}copy = [\".env\"]\n"),
    )
    .expect("edit");
    let r = w.sk(&["run", "echo hi"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("since it changed"), "{}", r.stderr());
    assert!(!pwned.exists());
    w.ok(&["trust", "--yes"]);
    let dir = w.repo.join(".sidekick/tasks/lint");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("task.toml"), "command = \"touch linted\"\n").expect("task");
    let r = w.sk(&["run", "--type", "lint"]);
    assert_eq!(r.code(), 1, "{}", r.stdout());
    let shown = w.ok(&["trust", "--show"]);
    assert!(shown.contains("task type lint: touch linted"), "{shown}");

    // A default agent of shell turns the user's words into a command: it needs trust too.
    std::fs::write(w.repo.join(".sidekick/config.toml"), "agent = \"shell\"\n").expect("edit");
    std::fs::remove_dir_all(w.repo.join(".sidekick/tasks")).expect("rm");
    let r = w.sk(&["run", "touch shell-ran"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("shell"), "{}", r.stderr());

    // Untrust: the commands stop running.
    w.ok(&["trust", "--yes"]);
    w.spawn(&["--wait"], "echo ok");
    w.ok(&["untrust"]);
    let r = w.sk(&["run", "echo again"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("sidekick trust"), "{}", r.stderr());
    // Nothing to trust in a configuration that runs nothing.
    std::fs::write(w.repo.join(".sidekick/config.toml"), "warm_worktrees = 1\n").expect("edit");
    assert!(w.ok(&["trust"]).contains("nothing to trust"));
    w.spawn(&["--wait"], "echo fine");
}

#[test]
fn copy_never_follows_a_symlink_out_of_the_repository() {
    let w = World::new();
    let outside = w.root.join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    std::fs::write(outside.join("notes.txt"), "precious\n").expect("write");
    std::fs::write(outside.join("secret"), "TOKEN=outside\n").expect("write");
    // A tracked link to a folder outside (so the worktree has it too) and an untracked .env
    // that is a link to a file outside.
    symlink(&outside, w.repo.join("lnk")).expect("link");
    w.git(&["add", "lnk"]);
    w.git(&["commit", "-q", "-m", "link"]);
    symlink(outside.join("secret"), w.repo.join(".env")).expect("link");
    repo_config(
        &w,
        "copy = [\"lnk/notes.txt\", \"lnk/newdir/created.txt\", \".env\"]\n",
    );
    let job = w.spawn(&["--wait"], "true");
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(
        std::fs::read_to_string(outside.join("notes.txt")).expect("read"),
        "precious\n",
        "a file outside the repository was written through a link"
    );
    assert!(
        !outside.join("newdir").exists(),
        "a folder was made outside"
    );
    let wt = PathBuf::from(s(&job["worktree"]));
    assert!(
        std::fs::symlink_metadata(wt.join(".env")).is_err(),
        "a secret from outside the repository was copied in"
    );
    let log = notices(&w, &s(&job["id"]));
    assert!(log.contains("lnk/notes.txt was not copied"), "{log}");
    assert!(log.contains(".env was not copied"), "{log}");
    assert!(log.contains("leads out of the repository"), "{log}");
}

#[test]
fn copied_files_never_reach_the_branch_or_main() {
    let w = World::new();
    std::fs::write(w.repo.join(".gitignore"), "").expect("write");
    std::fs::create_dir(w.repo.join("config")).expect("mkdir");
    std::fs::write(w.repo.join("config/local.toml"), "password = \"hunter2\"\n").expect("write");
    // A tracked file with the user's local edit, copied too.
    std::fs::write(w.repo.join("settings.ini"), "template\n").expect("write");
    w.git(&["add", "settings.ini", ".gitignore"]);
    w.git(&["commit", "-q", "-m", "settings"]);
    std::fs::write(w.repo.join("settings.ini"), "local secret edit\n").expect("write");
    repo_config(&w, "copy = [\"config/local.toml\", \"settings.ini\"]\n");
    // The agent even stages them itself.
    let job = w.spawn(
        &["--wait"],
        "grep -q 'hunt.r2' config/local.toml && grep -q local settings.ini && \
         git add config/local.toml settings.ini && echo work > work.txt",
    );
    assert_eq!(job["state"], "completed", "{job}");
    let branch = s(&job["branch"]);
    let tree = w.git(&["ls-tree", "-r", "--name-only", &branch]);
    assert!(tree.contains("work.txt"), "{tree}");
    assert!(
        !tree.contains("config/local.toml"),
        "copied file committed: {tree}"
    );
    assert_eq!(
        w.git(&["show", &format!("{branch}:settings.ini")]),
        "template"
    );
    let diff = w.ok(&["diff", "--stat", &s(&job["id"])]);
    assert!(
        !diff.contains("local.toml") && !diff.contains("settings.ini"),
        "{diff}"
    );

    std::fs::write(w.repo.join("settings.ini"), "template\n").expect("write");
    w.ok(&["merge", &s(&job["id"])]);
    let history = w.git(&["log", "--all", "-p"]);
    assert!(
        !history.contains("hunter2"),
        "the password reached git: {history}"
    );
    assert!(!history.contains("local secret edit"), "{history}");
    assert_eq!(w.git(&["show", "main:work.txt"]), "work");
}

#[test]
fn a_copied_file_the_agent_commits_itself_is_left_out_of_the_merge_unless_asked() {
    let w = World::new();
    std::fs::write(w.repo.join(".gitignore"), "").expect("write");
    w.git(&["add", ".gitignore"]);
    w.git(&["commit", "-q", "-m", "ignore"]);
    std::fs::write(w.repo.join(".env"), "TOKEN=hunter2\n").expect("write");
    repo_config(&w, "copy = [\".env\"]\n");
    let task = "echo TOKEN=changed-on-purpose > .env && echo work > work.txt && \
                git add -f .env work.txt && git -c user.name=a -c user.email=a@b commit -qm agent";
    let job = w.spawn(&["--wait"], task);
    let id = s(&job["id"]);
    assert_eq!(job["state"], "completed", "{job}");
    // The agent's own commit has the copied file on the branch.
    assert!(w
        .git(&["ls-tree", "-r", "--name-only", &s(&job["branch"])])
        .contains(".env"));

    let preview = w.run_json(&["merge", "--dry-run", "--json", &id]);
    assert_eq!(preview["preview"]["left_out"][0], ".env", "{preview}");
    assert!(
        !preview["preview"]["changed_paths"]
            .to_string()
            .contains(".env"),
        "{preview}"
    );
    // A strategy that keeps the job's commits would carry it: refused, nothing changes.
    let head = w.git(&["rev-parse", "main"]);
    let r = w.sk(&["merge", "--strategy", "merge", &id]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("--include-copied"), "{}", r.stderr());
    assert_eq!(w.git(&["rev-parse", "main"]), head);
    // Squash leaves it out and says so.
    let out = w.ok(&["merge", &id]);
    assert!(out.contains("left out .env"), "{out}");
    assert_eq!(w.git(&["show", "main:work.txt"]), "work");
    let history = w.git(&["log", "main", "-p"]);
    // (The task text, in the squash commit's message, names the new value; no diff adds it.)
    assert!(
        !history.contains("hunter2") && !history.contains("+TOKEN"),
        "{history}"
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join(".env")).expect("read"),
        "TOKEN=hunter2\n"
    );

    // The user says so: the same work merged with --include-copied takes the agent's version.
    let job = w.spawn(&["--wait"], task);
    // (The user's own untracked .env would be in the merge's way; they moved it aside.)
    std::fs::remove_file(w.repo.join(".env")).expect("rm");
    let out = w.ok(&["merge", "--include-copied", &s(&job["id"])]);
    assert!(!out.contains("left out"), "{out}");
    assert_eq!(w.git(&["show", "main:.env"]), "TOKEN=changed-on-purpose");
}

#[test]
fn merge_hooks_run_on_the_merge_commit_when_the_config_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::with_config("[merge]\nhooks = true\n");
    let hooks = w.repo.join(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    // A secret scanner: looks at what is staged, as such hooks do.
    let pre_commit = hooks.join("pre-commit");
    std::fs::write(
        &pre_commit,
        "#!/bin/sh\nif git diff --cached | grep -q hunter2; then echo 'secret found in staged changes' >&2; exit 1; fi\n",
    )
    .expect("write");
    // commit-msg sees the message the merge commit will have.
    let commit_msg = hooks.join("commit-msg");
    let seen = w.root.join("message-seen");
    std::fs::write(
        &commit_msg,
        format!("#!/bin/sh\ncat \"$1\" > {}\n", seen.display()),
    )
    .expect("write");
    for h in [&pre_commit, &commit_msg] {
        std::fs::set_permissions(h, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // The user's own uncommitted edit, which the hooks must never see or touch.
    std::fs::write(w.repo.join("README.md"), "my local edit\n").expect("write");

    let bad = w.spawn(&["--wait"], "echo password=hunter2 > leak.txt");
    let head = w.git(&["rev-parse", "main"]);
    let r = w.sk(&["merge", &s(&bad["id"])]);
    assert_eq!(r.code(), 1);
    let err = r.stderr();
    assert!(err.contains("pre-commit hook refused the merge"), "{err}");
    assert!(err.contains("secret found in staged changes"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let r = w.sk(&["merge", "--json", &s(&bad["id"])]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json error");
    assert_eq!(v["error"]["code"], "hook_failed", "{v}");
    assert_eq!(w.git(&["rev-parse", "main"]), head);
    assert!(!w.repo.join("leak.txt").exists());
    assert_eq!(
        std::fs::read_to_string(w.repo.join("README.md")).expect("read"),
        "my local edit\n"
    );
    assert_eq!(s(&w.status(&s(&bad["id"]))["state"]), "completed");
    // No scratch checkout is left registered.
    let worktrees = w.git(&["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("hooks-"), "{worktrees}");

    let good = w.spawn(&["--wait"], "echo fine > ok.txt");
    let out = w.ok(&["merge", &s(&good["id"])]);
    assert!(
        out.contains("pre-commit and commit-msg hook passed"),
        "{out}"
    );
    assert_eq!(w.git(&["show", "main:ok.txt"]), "fine");
    let message = std::fs::read_to_string(&seen).expect("commit-msg ran");
    assert!(message.contains("Sidekick-Job: "), "{message}");
    assert_eq!(
        std::fs::read_to_string(w.repo.join("README.md")).expect("read"),
        "my local edit\n"
    );
    let worktrees = w.git(&["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("hooks-"), "{worktrees}");
}

#[test]
fn merge_hooks_are_off_by_default() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let hook = w.repo.join(".git/hooks/pre-commit");
    std::fs::create_dir_all(hook.parent().expect("parent")).expect("mkdir");
    std::fs::write(&hook, "#!/bin/sh\nexit 1\n").expect("write");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let job = w.spawn(&["--wait"], "echo x > x.txt");
    let out = w.ok(&["merge", &s(&job["id"])]);
    assert!(!out.contains("hook"), "{out}");
}

#[test]
fn a_running_jobs_diff_leaves_out_the_copied_files() {
    let w = World::new();
    std::fs::write(w.repo.join(".env"), "SECRET=1\n").expect("write");
    repo_config(&w, "copy = [\".env\"]\n");
    let job = w.spawn(&[], "echo hi > new.txt; sleep 30");
    let id = s(&job["id"]);
    let wt = PathBuf::from(s(&job["worktree"]));
    w.wait_until(&id, "running with its file", |_| {
        wt.join("new.txt").exists()
    });
    let diff = w.ok(&["diff", "--stat", &id]);
    assert!(diff.contains("new.txt"), "{diff}");
    assert!(!diff.contains(".env"), "{diff}");
    w.ok(&["cancel", &id]);
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn sidekicks_files_are_private_and_profile_secrets_stay_out_of_the_database() {
    let w = World::with_config(
        "[agents.keyed]\ncommand = [\"sh\", \"-c\", \"echo key=$API_KEY > key.txt\"]\n\
         [agents.keyed.env]\nAPI_KEY = \"sk-very-secret-42\"\n",
    );
    // A home that an older version (or a loose umask) left open.
    std::fs::set_permissions(&w.home, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut run = w.command(&["run", "--json", "--wait", "-a", "keyed", "do it"]);
    unsafe_umask_022(&mut run);
    let out = run.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        w.git(&["show", &format!("{}:key.txt", s(&job["branch"]))]),
        "key=sk-very-secret-42",
        "the agent gets its profile's env"
    );
    let wt = PathBuf::from(s(&job["worktree"]));
    for dir in [
        w.home.clone(),
        w.home.join("logs"),
        w.home.join("worktrees"),
        wt.parent().expect("group").to_path_buf(),
        wt.clone(),
        w.home.join("run"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        w.home.join("sidekick.db"),
        w.home.join("sidekick.db-wal"),
        w.home.join("host.log"),
        PathBuf::from(s(&job["log_path"])),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    w.stop_host();
    for name in ["sidekick.db", "sidekick.db-wal"] {
        let bytes = std::fs::read(w.home.join(name)).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("sk-very-secret-42"),
            "{name} holds the API key"
        );
    }
}

/// Runs the command (and the host it starts) under umask 022, as most users have.
fn unsafe_umask_022(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: umask is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
            Ok(())
        });
    }
}

#[test]
fn the_merge_preview_lists_changes_in_subfolders_and_agrees_with_the_merge() {
    let w = World::new();
    std::fs::create_dir_all(w.repo.join("src/deep")).expect("mkdir");
    for f in [
        "src/deep/a.rs",
        "src/deep/gone.rs",
        "src/run.sh",
        "src/other.rs",
    ] {
        std::fs::write(w.repo.join(f), format!("{f}\n")).expect("write");
    }
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "tree"]);
    // Only subfolders change: an edit, a deletion, a mode change, a new symlink, a new folder.
    let job = w.spawn(
        &["--wait"],
        "echo more >> src/deep/a.rs && rm src/deep/gone.rs && chmod +x src/run.sh && \
         ln -s deep/a.rs src/link && mkdir -p src/new/x && echo n > src/new/x/n.rs",
    );
    let id = s(&job["id"]);
    // Main moved meanwhile, in another subfolder, so the merge is not a fast-forward.
    std::fs::write(w.repo.join("src/other.rs"), "moved on\n").expect("write");
    w.git(&["commit", "-q", "-am", "main moves"]);
    // The user's uncommitted edit on a file the job changed.
    std::fs::write(w.repo.join("src/deep/a.rs"), "mine\n").expect("write");

    let preview = w.run_json(&["merge", "--dry-run", "--json", &id]);
    assert!(preview["job"]["duration_ms"].is_u64(), "{preview}");
    let p = &preview["preview"];
    assert_eq!(
        p["changed_paths"],
        serde_json::json!([
            "src/deep/a.rs",
            "src/deep/gone.rs",
            "src/link",
            "src/new/x/n.rs",
            "src/run.sh"
        ]),
        "{preview}"
    );
    assert_eq!(
        p["checked_out"][0]["dirty_overlap"],
        serde_json::json!(["src/deep/a.rs"])
    );
    let refused = w.sk(&["merge", &id]);
    assert_eq!(refused.code(), 1);
    assert!(
        refused.stderr().contains("src/deep/a.rs"),
        "{}",
        refused.stderr()
    );

    // Without the user's edit, preview and merge agree on every path.
    w.git(&["checkout", "--", "src/deep/a.rs"]);
    let preview = w.run_json(&["merge", "--dry-run", "--json", &id]);
    let before = w.git(&["rev-parse", "main"]);
    w.ok(&["merge", &id]);
    let merged = w.git(&["diff", "--name-only", &before, "main"]);
    let listed: Vec<String> = preview["preview"]["changed_paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(s)
        .collect();
    assert_eq!(merged.lines().collect::<Vec<_>>(), listed);
    assert_eq!(w.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_checkout_with_stale_stat_data_can_be_merged_into() {
    let w = World::new();
    std::fs::create_dir(w.repo.join("d0")).expect("mkdir");
    for i in 0..20 {
        std::fs::write(w.repo.join(format!("d0/f{i}.txt")), format!("{i}\n")).expect("write");
    }
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "files"]);
    let job = w.spawn(&["--wait"], "echo changed > d0/f0.txt");
    // Build tools touch files without changing them; `cp -a` of a checkout does the same to
    // the index's stat data. A second later the times surely differ.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for i in 0..20 {
        let f = std::fs::File::options()
            .append(true)
            .open(w.repo.join(format!("d0/f{i}.txt")))
            .expect("open");
        f.set_modified(std::time::SystemTime::now()).expect("touch");
    }
    let out = w.sk(&["merge", &s(&job["id"])]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(w.git(&["show", "main:d0/f0.txt"]), "changed");
    assert_eq!(
        std::fs::read_to_string(w.repo.join("d0/f0.txt")).expect("read"),
        "changed\n"
    );
    assert_eq!(w.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_merge_waits_for_a_rebase_or_merge_in_progress_on_its_target() {
    let w = World::new();
    std::fs::write(w.repo.join("a.txt"), "a\n").expect("write");
    w.git(&["add", "a.txt"]);
    w.git(&["commit", "-q", "-m", "a"]);
    let job = w.spawn(&["--wait"], "echo job > job.txt");
    let id = s(&job["id"]);
    // The user is editing main's last commit in an interactive rebase (HEAD is detached).
    let rebase = std::process::Command::new("git")
        .args([
            "-C",
            &w.repo.display().to_string(),
            "rebase",
            "-q",
            "-i",
            "HEAD~1",
        ])
        .envs(w.envs())
        .env("GIT_SEQUENCE_EDITOR", "sed -i 1s/^pick/edit/")
        .output()
        .expect("git rebase");
    assert!(
        rebase.status.success(),
        "{}",
        String::from_utf8_lossy(&rebase.stderr)
    );
    let main_before = w.git(&["rev-parse", "main"]);

    let preview = w.sk(&["merge", "--dry-run", "--json", &id]);
    assert_eq!(preview.code(), 1, "the preview says it would be refused");
    let p: serde_json::Value = serde_json::from_str(&preview.stdout()).expect("json");
    let blocked = s(&p["preview"]["blocked_by"]);
    assert!(blocked.contains("a rebase of main"), "{blocked}");
    let refused = w.sk(&["merge", "--json", &id]);
    assert_eq!(refused.code(), 1);
    let v: serde_json::Value = serde_json::from_str(&refused.stdout()).expect("json error");
    assert_eq!(v["error"]["code"], "operation_in_progress", "{v}");
    assert!(
        refused.stderr().contains("a rebase of main is in progress")
            && refused.stderr().contains("nothing was changed"),
        "{}",
        refused.stderr()
    );
    assert_eq!(w.git(&["rev-parse", "main"]), main_before);
    // The user's rebase goes on as if nothing happened.
    w.git(&["rebase", "--continue"]);
    assert_eq!(w.git(&["rev-parse", "main"]), main_before);
    assert_eq!(w.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "main");

    // A merge stopped on a conflict in the checkout of main blocks it too.
    w.git(&["checkout", "-q", "-b", "other", "HEAD~1"]);
    std::fs::write(w.repo.join("a.txt"), "other\n").expect("write");
    w.git(&["add", "a.txt"]);
    w.git(&["commit", "-q", "-m", "other"]);
    w.git(&["checkout", "-q", "main"]);
    let conflict = std::process::Command::new("git")
        .args(["-C", &w.repo.display().to_string(), "merge", "-q", "other"])
        .envs(w.envs())
        .output()
        .expect("git merge");
    assert!(
        !conflict.status.success(),
        "the user's merge stops on a conflict"
    );
    let refused = w.sk(&["merge", &id]);
    assert_eq!(refused.code(), 1);
    assert!(
        refused.stderr().contains("a merge is in progress"),
        "{}",
        refused.stderr()
    );
    w.git(&["merge", "--abort"]);
    w.ok(&["merge", &id]);
    assert_eq!(w.git(&["show", "main:job.txt"]), "job");
}

#[test]
fn sixty_jobs_started_at_once_in_one_repository_all_get_their_worktree() {
    let w = World::with_config("max_running = 30\n");
    w.ok(&["ls"]); // the host is up before the crowd arrives
    let children: Vec<_> = (0..60)
        .map(|i| {
            w.command(&["run", "--json", "--wait", &format!("echo {i} > n.txt")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut failed = Vec::new();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        if !out.status.success() {
            failed.push(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 60 failed: {failed:?}",
        failed.len()
    );
    let jobs = w.json(&["ls", "--all", "--json"]);
    let done = jobs
        .as_array()
        .expect("list")
        .iter()
        .filter(|j| j["state"] == "completed")
        .count();
    assert_eq!(done, 60);
}

/// `n` files `d<i>/f<j>.txt` committed on main.
fn many_files(w: &World, n: usize) {
    for i in 0..n {
        let dir = w.repo.join(format!("d{}", i / 500));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("f{i}.txt")), format!("line {i}\n")).expect("write");
    }
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "many files"]);
}

#[test]
fn a_host_killed_during_a_merge_is_repaired_by_the_next_one() {
    let w = World::new();
    many_files(&w, 6000);
    let job = w.spawn(
        &["--wait"],
        "find . -path './d*' -name '*.txt' -print0 | xargs -0 sed -i 's/$/ (job)/'",
    );
    assert_eq!(job["state"], "completed", "{job}");
    let id = s(&job["id"]);
    let old_tip = w.git(&["rev-parse", "main"]);
    // The user's uncommitted edit on a file the job changed: set aside by --autostash.
    std::fs::write(w.repo.join("d0/f0.txt"), "line 0\nmine\n").expect("write");
    let host = w.host_pid().expect("host");
    let mut merge = w
        .command(&["merge", "--autostash", &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("merge");
    let journal = w.home.join("journal");
    let start = std::time::Instant::now();
    let written = |d: &Path| {
        std::fs::read_dir(d)
            .map(|l| {
                l.flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .unwrap_or(false)
    };
    while !written(&journal) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the merge never wrote its journal"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    crate::common::signal(host, nix::sys::signal::Signal::SIGKILL);
    crate::common::wait_gone(host, std::time::Duration::from_secs(10));
    let _ = merge.wait();

    // Any command starts the next host, which repairs the merge before it serves.
    let status = w.status(&id);
    let log = w.sk(&["logs", &id]).stderr();
    assert!(
        !written(&journal),
        "the journal entry is still there: {log}"
    );
    assert_eq!(
        w.git(&["stash", "list"]),
        "",
        "the user's edit is left in a stash: {log}"
    );
    assert_eq!(w.git(&["status", "--porcelain"]), " M d0/f0.txt", "{log}");
    let tip = w.git(&["rev-parse", "main"]);
    let mine = std::fs::read_to_string(w.repo.join("d0/f0.txt")).expect("read");
    if tip == old_tip {
        assert_eq!(mine, "line 0\nmine\n");
        assert_eq!(w.git(&["diff", "--stat", "HEAD", "--", "d1"]), "");
        assert!(log.contains("was rolled back"), "{log}");
        assert_ne!(status["state"], "merged");
    } else {
        assert_eq!(mine, "line 0 (job)\nmine\n");
        assert_eq!(w.git(&["show", "main:d1/f500.txt"]), "line 500 (job)");
        assert!(log.contains("it is complete"), "{log}");
        assert_eq!(status["state"], "merged");
    }
}

/// A tmpfs of `size` mounted at `dir` (tests run as root, as CI does), unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).expect("mkdir");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs")
            .success();
        assert!(
            ok,
            "mounting a tmpfs failed; these tests need root (as CI has)"
        );
        SmallDisk(dir.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_merge_that_would_fill_the_disk_is_refused_before_it_writes_in_one_short_sentence() {
    let w = World::new();
    let disk = SmallDisk::mount(&w.root.join("small"), "6m");
    let repo = disk.0.join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    let git = |args: &[&str]| w.git_in(&repo, args);
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("small.txt"), "one\n").expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "first"]);
    // 30 files of 500 KB each: tiny in git's object store, 15 MB in a checkout.
    let repo_arg = repo.display().to_string();
    let job = w.spawn(
        &["--wait", "-r", &repo_arg],
        "echo two >> small.txt; for i in $(seq 10 39); do head -c 500000 /dev/zero | tr '\\0' a > big$i.txt; done",
    );
    assert_eq!(job["state"], "completed", "{job}");
    let tip = git(&["rev-parse", "main"]);
    let out = w.sk(&["merge", "--json", &s(&job["id"])]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    let err = out.stderr();
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(
        err.contains("free and the merge writes about 16.0 MB") && err.contains("Make room"),
        "{err}"
    );
    assert!(err.lines().next().is_some_and(|l| l.len() < 300), "{err}");
    assert!(out.stdout().contains("\"no_room\""), "{}", out.stdout());
    assert_eq!(git(&["rev-parse", "main"]), tip);
    assert_eq!(git(&["status", "--porcelain", "--untracked-files=all"]), "");
    assert_eq!(
        std::fs::read_to_string(repo.join("small.txt")).expect("read"),
        "one\n"
    );
    assert!(
        !std::fs::read_dir(&repo)
            .expect("ls")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("big")),
        "files of the failed merge were left behind"
    );
    assert!(
        !std::fs::read_dir(w.home.join("journal"))
            .map(|l| l.flatten().any(|_| true))
            .unwrap_or(false),
        "the journal still holds the rolled-back merge"
    );
    w.stop_host();
}

#[test]
fn a_full_disk_under_the_home_fails_the_job_and_the_host_keeps_serving() {
    let w = World::new();
    let _disk = SmallDisk::mount(&w.home, "30m");
    std::fs::write(w.home.join("config.toml"), "agent = \"shell\"\n").expect("config");
    // Someone else's 10 MB on the same disk, freed later.
    let ballast = w.home.join("ballast");
    std::fs::write(&ballast, vec![1u8; 10 << 20]).expect("ballast");
    let flood = w.run_json(&[
        "run",
        "--wait",
        "--json",
        "--timeout",
        "2m",
        "seq 1 100000000",
    ]);
    assert_eq!(flood["state"], "failed", "{flood}");
    let reason = s(&flood["reason"]);
    assert!(reason.starts_with("disk full: no space left"), "{reason}");
    let host = w.host_pid().expect("the host is alive");
    // It still serves, and a job can still end and say so.
    let next = w.run_json(&["run", "--wait", "--json", "echo still here > f.txt"]);
    assert!(
        next["state"] == "completed" || s(&next["reason"]).contains("No space left"),
        "{next}"
    );
    // With room again, jobs run as before, on the same host.
    std::fs::remove_file(&ballast).expect("free the space");
    let after = w.run_json(&["run", "--wait", "--json", "echo after > f.txt"]);
    assert_eq!(after["state"], "completed", "{after}");
    assert_eq!(
        w.git(&["show", &format!("{}:f.txt", s(&after["branch"]))]),
        "after"
    );
    assert_eq!(w.host_pid(), Some(host), "the same host served throughout");
    w.stop_host();
}

#[test]
fn a_checkout_that_does_not_fit_on_the_disk_fails_the_job_and_leaves_nothing_behind() {
    let w = World::new();
    // 16 files of 500 KB: tiny in git's object store, 8 MB in a checkout; the home (and so
    // the job's worktree) has 4 MB.
    for i in 0..16 {
        std::fs::write(w.repo.join(format!("big{i}.txt")), vec![b'a'; 500_000]).expect("write");
    }
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "big files"]);
    let _disk = SmallDisk::mount(&w.home, "4m");
    std::fs::write(w.home.join("config.toml"), "agent = \"shell\"\n").expect("config");
    let job = w.run_json(&["run", "--wait", "--json", "echo never > f.txt"]);
    assert_eq!(job["state"], "failed", "{job}");
    let reason = s(&job["reason"]);
    assert!(
        reason.contains("cannot create the job's worktree"),
        "{reason}"
    );
    assert!(reason.contains("No space left"), "{reason}");
    // No worktree, no admin folder, no branch, no half-written files.
    assert_eq!(
        w.git(&["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1
    );
    assert!(
        !w.repo.join(".git/worktrees").exists()
            || std::fs::read_dir(w.repo.join(".git/worktrees"))
                .expect("ls")
                .next()
                .is_none()
    );
    assert_eq!(w.git(&["branch", "--list", "sidekick/*"]), "");
    let left = files_under(&w.home.join("worktrees"));
    assert!(left.is_empty(), "left behind: {left:?}");
    w.stop_host();
}

#[test]
fn a_task_types_inputs_never_run_as_code_in_any_quoting() {
    let w = World::new();
    let dir = w.repo.join(".sidekick/tasks/fix");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("task.toml"),
        "command = \"echo \\\"fixing {inputs.path}\\\" > out.txt; echo '{inputs.path}' >> out.txt\"\n\
         [[inputs]]\nname = \"path\"\nrequired = true\n",
    )
    .expect("task type");
    w.ok(&["trust", "--yes"]);
    let marker = w.root.join("pwned");
    let value = format!(
        "$(touch {}) `touch {}` \"; touch {}",
        marker.display(),
        marker.display(),
        marker.display()
    );
    let job = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "--type",
        "fix",
        "--input",
        &format!("path={value}"),
    ]);
    assert_eq!(job["state"], "completed", "{job}");
    assert!(!marker.exists(), "an input ran as code");
    let out = w.git(&["show", &format!("{}:out.txt", s(&job["branch"]))]);
    assert_eq!(out, format!("fixing {value}\n{value}"));
    assert!(
        s(&job["task"]).contains("fixing '$(touch"),
        "the task shows the value: {job}"
    );
}

/// `git daemon` serving the repositories in `base` on a free loopback port; killed on drop.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    fn serve(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("git")
            .args([
                "daemon",
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon does not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        GitDaemon { child, port }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn submodules_are_fetched_only_once_trusted_in_the_sandbox_and_never_from_a_local_path() {
    // Outside /tmp (the sandbox's own): the local repository is visible there, so what refuses
    // it is git's rule for submodules, not the sandbox.
    let w = World::with_config_in(
        "",
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("submodules"),
    );
    // One submodule served over git:// on loopback, one a local folder the user keeps private.
    let served = w.root.join("served");
    let sub = served.join("sub");
    std::fs::create_dir_all(&sub).expect("mkdir");
    w.git_in(&sub, &["init", "-q", "-b", "main"]);
    std::fs::write(sub.join("lib.txt"), "from the submodule\n").expect("write");
    w.git_in(&sub, &["add", "lib.txt"]);
    w.git_in(&sub, &["commit", "-q", "-m", "sub"]);
    let secret = w.root.join("user/secret-repo");
    std::fs::create_dir_all(&secret).expect("mkdir");
    w.git_in(&secret, &["init", "-q", "-b", "main"]);
    std::fs::write(secret.join("key.txt"), "PRIVATE\n").expect("write");
    w.git_in(&secret, &["add", "key.txt"]);
    w.git_in(&secret, &["commit", "-q", "-m", "secret"]);
    let daemon = GitDaemon::serve(&served);
    let url = format!("git://127.0.0.1:{}/sub", daemon.port);
    w.git(&["submodule", "add", "-q", &url, "vendor/sub"]);
    w.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &secret.display().to_string(),
        "vendor/secret",
    ]);
    w.git(&["commit", "-q", "-m", "add submodules"]);

    // Untrusted: `trust` lists them; a job runs without them and says why.
    let shown = w.ok(&["trust", "--show"]);
    assert!(
        shown.contains(&format!("submodule:      vendor/sub from {url}")),
        "{shown}"
    );
    assert!(shown.contains("vendor/secret from"), "{shown}");
    let job = w.spawn(&["--wait"], "ls vendor/sub vendor/secret > seen.txt");
    assert_eq!(job["state"], "completed", "{job}");
    let said = notices(&w, &s(&job["id"]));
    assert!(said.contains("fetched only once you trust it"), "{said}");
    let seen = w.git(&["show", &format!("{}:seen.txt", s(&job["branch"]))]);
    assert!(
        !seen.contains("lib.txt") && !seen.contains("key.txt"),
        "{seen}"
    );

    // Trusted: the served one is fetched (in the sandbox), the local path is refused by git.
    w.ok(&["trust", "--yes"]);
    let job = w.spawn(
        &["--wait"],
        "cat vendor/sub/lib.txt > seen.txt; ls vendor/secret > secret.txt",
    );
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["sandbox"]["on"], true, "{job}");
    let branch = s(&job["branch"]);
    let said = notices(&w, &s(&job["id"]));
    assert_eq!(
        w.git(&["show", &format!("{branch}:seen.txt")]),
        "from the submodule",
        "{said}"
    );
    assert_eq!(w.git(&["show", &format!("{branch}:secret.txt")]), "");
    assert!(
        said.contains("git could not fetch vendor/secret: transport 'file' not allowed")
            && !said.contains("vendor/sub:"),
        "{said}"
    );
    // A worktree holding submodules can still be discarded (git refuses to `worktree remove`).
    w.ok(&["discard", &s(&job["id"])]);
    assert!(!PathBuf::from(s(&job["worktree"])).exists());

    // With the network off, the sandbox cannot reach even loopback.
    std::fs::write(
        w.home.join("config.toml"),
        "agent = \"shell\"\nsandbox_network = false\n",
    )
    .expect("config");
    let job = w.spawn(&["--wait"], "ls vendor/sub > seen.txt");
    let seen = w.git(&["show", &format!("{}:seen.txt", s(&job["branch"]))]);
    assert!(!seen.contains("lib.txt"), "{seen}");
    assert!(
        notices(&w, &s(&job["id"])).contains("the submodules were not set up"),
        "{job}"
    );
    drop(daemon);
}

#[test]
fn an_emptied_database_is_refused_not_silently_replaced() {
    let w = World::new();
    w.spawn(&["--wait"], "echo hi");
    w.stop_host();
    let db = w.home.join("sidekick.db");
    std::fs::write(&db, b"").expect("truncate");
    for side in ["sidekick.db-wal", "sidekick.db-shm"] {
        let _ = std::fs::remove_file(w.home.join(side));
    }
    let r = w.sk(&["ls"]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr().contains("is empty, but") && r.stderr().contains("job log"),
        "{}",
        r.stderr()
    );
    assert_eq!(
        std::fs::metadata(&db).expect("db").len(),
        0,
        "nothing was written over it"
    );
}

#[test]
fn restore_brings_back_a_worktree_deleted_by_hand() {
    let w = World::new();
    let job = w.spawn(&["--wait"], "echo work > w.txt");
    let wt = PathBuf::from(s(&job["worktree"]));
    std::fs::remove_dir_all(&wt).expect("the user deletes it");
    let out = w.ok(&["restore", &s(&job["id"])]);
    assert!(out.contains("restored"), "{out}");
    assert_eq!(
        std::fs::read_to_string(wt.join("w.txt")).expect("read"),
        "work\n"
    );
}

#[test]
fn in_a_sparse_checkout_work_outside_the_sparse_set_is_committed() {
    let w = World::new();
    for d in ["d1", "d2"] {
        std::fs::create_dir(w.repo.join(d)).expect("mkdir");
        std::fs::write(w.repo.join(d).join("f.txt"), d).expect("write");
    }
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "two folders"]);
    w.git(&["sparse-checkout", "set", "d1"]);
    let job = w.spawn(&["--wait"], "mkdir -p d2 && echo new > d2/new.txt");
    assert_eq!(job["state"], "completed", "{job}");
    assert!(job["reason"].is_null(), "{job}");
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&job["branch"])]);
    assert_eq!(
        tree.lines().collect::<Vec<_>>(),
        ["README.md", "d1/f.txt", "d2/f.txt", "d2/new.txt"]
    );
    w.ok(&["discard", &s(&job["id"])]);
}

#[test]
fn a_moved_repository_gets_one_clear_sentence_not_git_internals() {
    let w = World::new();
    let job = w.spawn(&["--wait"], "echo work > w.txt");
    let id = s(&job["id"]);
    std::fs::rename(&w.repo, w.root.join("moved")).expect("move the repository");
    for args in [vec!["diff", &id], vec!["merge", &id], vec!["discard", &id]] {
        let out = w
            .command(&args)
            .current_dir(&w.root)
            .output()
            .expect("runs");
        let r = crate::common::Run(out);
        assert_eq!(r.code(), 1, "{args:?}");
        let err = r.stderr();
        assert!(
            err.contains("is no longer there (moved or deleted?)"),
            "{args:?}: {err}"
        );
        assert!(err.contains(&s(&job["worktree"])), "{err}");
        assert!(
            !err.contains("revspec") && !err.contains(".git/worktrees"),
            "{err}"
        );
    }
    // Put back, everything works again.
    std::fs::rename(w.root.join("moved"), &w.repo).expect("move it back");
    w.ok(&["merge", &id]);
}

#[test]
fn a_job_whose_repository_is_moved_while_it_runs_fails_saying_where_its_work_is() {
    let w = World::new();
    let job = w.spawn(
        &[],
        "echo work > w.txt; while [ ! -e go ]; do sleep 0.05; done",
    );
    let id = s(&job["id"]);
    let running = w.wait_state(&id, "running");
    let wt = PathBuf::from(s(&running["worktree"]));
    // The job has done its work when the repository goes.
    crate::common::wait_for_file(&wt.join("w.txt"));
    std::fs::rename(&w.repo, w.root.join("moved")).expect("move the repository");
    std::fs::write(wt.join("go"), "").expect("go");
    let out = w
        .command(&["wait", "--json", &id])
        .current_dir(&w.root)
        .output()
        .expect("runs");
    let ended: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(ended["state"], "failed", "{ended}");
    let why = s(&ended["reason"]);
    assert!(
        why.contains("the repository was moved or deleted while the job ran")
            && why.contains(&wt.display().to_string()),
        "{why}"
    );
    assert!(!why.contains(".git/worktrees"), "{why}");
    // The work is where the sentence says.
    let said = w
        .command(&["logs", &id])
        .current_dir(&w.root)
        .output()
        .map(|o| String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).into_owned())
        .unwrap_or_default();
    assert_eq!(
        std::fs::read_to_string(wt.join("w.txt")).unwrap_or_else(|e| format!("<{e}>")),
        "work\n",
        "{said}"
    );
}

#[test]
fn a_job_whose_repository_was_deleted_is_listed_by_gc_and_forgotten_on_request() {
    let w = World::with_config("gc_after = \"1ms\"\n");
    let job = w.spawn(&["--wait"], "echo work > w.txt");
    let (id, wt) = (s(&job["id"]), PathBuf::from(s(&job["worktree"])));
    // While the repository is there, --orphaned is refused and changes nothing.
    let r = w.sk(&["discard", "--orphaned", &id]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("is still there"), "{}", r.stderr());
    assert!(wt.join("w.txt").exists());

    std::fs::rename(&w.repo, w.root.join("gone")).expect("move the repository away");
    // From here on, run from a folder that still exists.
    let sk = |args: &[&str]| {
        let out = w.command(args).current_dir(&w.root).output().expect("runs");
        crate::common::Run(out)
    };
    let ok = |args: &[&str]| {
        let r = sk(args);
        assert_eq!(r.code(), 0, "{args:?}: {}", r.stderr());
        r.stdout()
    };
    let json =
        |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok(args)).expect("json") };
    // gc keeps the job (no snapshot is possible) and says so.
    let report = json(&["gc", "--json"]);
    assert_eq!(
        report["removed"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert_eq!(s(&report["orphaned"][0]["job_id"]), id, "{report}");
    let text = ok(&["gc"]);
    assert!(text.contains("repository is gone"), "{text}");
    assert!(
        wt.join("w.txt").exists(),
        "gc deleted an orphaned job's folder"
    );
    // A plain discard names the way out.
    let r = sk(&["discard", "--json", &id]);
    assert_eq!(r.code(), 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json error");
    assert_eq!(v["error"]["code"], "repo_gone", "{v}");
    assert!(
        r.stderr().contains("sidekick discard --orphaned"),
        "{}",
        r.stderr()
    );
    assert!(wt.join("w.txt").exists());
    // The user asks: the job is forgotten and its folder goes.
    let out = ok(&["discard", "--orphaned", &id]);
    assert!(out.contains("is gone"), "{out}");
    assert!(!wt.exists(), "the orphaned worktree is still there");
    assert_eq!(s(&json(&["status", "--json", &id])["state"]), "discarded");
    // gc no longer lists it; the moved repository itself was never touched.
    let report = json(&["gc", "--json"]);
    assert_eq!(
        report["orphaned"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert!(w.root.join("gone/README.md").exists());
}

#[test]
fn half_open_connections_are_closed_and_do_not_crowd_out_clients() {
    use std::io::{Read, Write};
    let w = World::new();
    w.ok(&["ls"]);
    let socket = w.home.join("run/sidekick.sock");
    // 400 clients that connect and send half a request line, then nothing.
    let mut idle: Vec<std::os::unix::net::UnixStream> = (0..400)
        .map(|_| {
            let mut s = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
            s.write_all(b"GET /v1/jobs HT").expect("write");
            s
        })
        .collect();
    // Real clients are still served meanwhile.
    w.ok(&["ls"]);
    let job = w.spawn(&["--wait"], "echo fine");
    assert_eq!(job["state"], "completed");
    // The host closes them (header-read timeout, or at once beyond its connection cap).
    for s in &mut idle {
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        // Read to the end (a 408 response may come first); a read that times out means the
        // host kept the connection.
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the host kept a half-open connection: {e}"),
            }
        }
    }
    w.ok(&["ls"]);
}

#[test]
fn logs_raw_gives_the_output_back_byte_for_byte() {
    let w = World::new();
    let job = w.spawn(
        &["--wait"],
        "printf 'a\\000b\\377c\\n'; printf 'to stderr\\n' >&2; printf 'no newline at end'",
    );
    let r = w.sk(&["logs", "--raw", &s(&job["id"])]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let file = std::fs::read(s(&job["log_path"])).expect("log file");
    assert_eq!(r.0.stdout, file, "exactly the log file");
    let out = &r.0.stdout;
    // The two pipes are read side by side, so only each stream's own order is fixed.
    assert!(out.windows(6).any(|w| w == b"a\0b\xffc\n"), "{out:?}");
    assert!(
        out.windows(17).any(|w| w == b"no newline at end"),
        "{out:?}"
    );
    assert_eq!(
        out.iter().filter(|b| **b == b'\n').count(),
        2,
        "no newline was added"
    );
    assert!(out.windows(10).any(|w| w == b"to stderr\n"), "{out:?}");
    let clash = w.sk(&["logs", "--raw", "--parsed", &s(&job["id"])]);
    assert_eq!(clash.code(), 2, "a usage error");
}

#[test]
fn a_trust_prompt_shows_in_a_real_terminal_exactly_what_will_run() {
    let w = World::with_config("sandbox = \"off\"\n");
    let marker = w.root.join("RAN");
    // A carriage return and an erase-line escape: printed raw, the terminal would show only the
    // harmless part of the line.
    std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(
        w.repo.join(".sidekick/config.toml"),
        format!(
            "setup = \"touch {} \\r\\u001b[2Kecho harmless-setup\"\n",
            marker.display()
        ),
    )
    .expect("config");
    let term = crate::common::Terminal::start(&w, "trust");
    term.wait_for("Trust it to run these commands?");
    let shown = term.screen();
    let line = shown
        .lines()
        .find(|l| l.contains("setup command:"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains(&format!("touch {}", marker.display()))
            && line.contains("\\r\\u{1b}[2Kecho harmless-setup"),
        "the terminal shows: {line}\n{shown}"
    );
    term.send(&["n", "Enter"]);
    term.wait_for("not trusted; nothing was recorded");
    drop(term);
    assert!(!w.home.join("trusted.toml").exists());

    // The refusal sentence shows it escaped too, and nothing ran.
    let r = w.sk(&["run", "echo hi"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("\\r\\u{1b}[2Kecho harmless-setup") && !r.stderr().contains('\u{1b}'),
        "{}",
        r.stderr()
    );
    assert!(!marker.exists());
}
