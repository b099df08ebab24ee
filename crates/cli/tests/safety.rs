//! The safety promises under attack and accident (issue 10): symlinked copies, secrets in
//! commits and in the database, private files, and more. Each test builds the fault for real.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::{s, World};

fn repo_config(w: &World, text: &str) {
    std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(w.repo.join(".sidekick/config.toml"), text).expect("config");
}

/// Sidekick's notices about a job (`logs` prints them to stderr).
fn notices(w: &World, job: &str) -> String {
    w.sk(&["logs", job]).stderr()
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
