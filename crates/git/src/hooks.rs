//! The repository's own commit hooks on a merge into the user's branch (`[merge] hooks = true`).
//!
//! Sidekick's commits inside a job's worktree skip hooks (they are the agent's in-between
//! states). The commit that lands on the user's branch is different: a secret scanner or a
//! linter the user installed as `pre-commit` or `commit-msg` should see it. The hooks run in a
//! scratch checkout of the target's tip whose index and files hold the merge's result, so
//! `git diff --cached` shows exactly what the merge adds and nothing of the user's checkout is
//! touched. A hook that fails refuses the merge before anything is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::Oid;

use crate::repo;

/// Hooks that take longer are stopped and the merge is refused.
const HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// The hooks this module runs, in git's order.
const HOOKS: [&str; 2] = ["pre-commit", "commit-msg"];

/// The folder git runs `repo`'s hooks from: `core.hooksPath`, or the common git dir's `hooks`.
fn hooks_dir(repo_dir: &Path) -> Option<PathBuf> {
    let out = repo::git(repo_dir)
        .args(["config", "--get", "core.hooksPath"])
        .output()
        .ok()?;
    let configured = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !configured.is_empty() {
        let p = PathBuf::from(&configured);
        return Some(if p.is_absolute() { p } else { repo_dir.join(p) });
    }
    let r = git2::Repository::open(repo_dir).ok()?;
    Some(r.commondir().join("hooks"))
}

/// The hooks of [`HOOKS`] that exist and are executable for `repo_dir`.
pub fn present(repo_dir: &Path) -> Vec<&'static str> {
    use std::os::unix::fs::PermissionsExt;
    let Some(dir) = hooks_dir(repo_dir) else {
        return Vec::new();
    };
    HOOKS
        .into_iter()
        .filter(|h| {
            std::fs::metadata(dir.join(h))
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .collect()
}

/// Runs the repository's `pre-commit` and `commit-msg` hooks on a commit of `tree` on top of
/// `parent` with `message`. `scratch` is a folder that does not exist yet (removed afterwards).
/// Returns the hooks that ran, or why the merge must not go ahead (one sentence, with the
/// hook's last lines of output).
pub fn check(
    repo_dir: &Path,
    scratch: &Path,
    parent: Oid,
    tree: Oid,
    message: &str,
) -> Result<Vec<&'static str>, String> {
    let hooks = present(repo_dir);
    if hooks.is_empty() {
        return Ok(hooks);
    }
    if let Some(folder) = scratch.parent() {
        sidekick_protocol::private::dir(folder)
            .map_err(|e| format!("cannot make {}: {e}", folder.display()))?;
    }
    let added = repo::with_worktree_lock(repo_dir, || {
        repo::git(repo_dir)
            .args(["worktree", "add", "--detach", "--no-checkout", "--quiet"])
            .arg(scratch)
            .arg(parent.to_string())
            .output()
    });
    let result = match added {
        Ok(out) if out.status.success() => run_in(scratch, tree, message, &hooks),
        Ok(out) => Err(format!(
            "cannot make a scratch checkout to run the hooks in: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run git: {e}")),
    };
    remove_scratch(repo_dir, scratch);
    result.map(|()| hooks)
}

fn run_in(scratch: &Path, tree: Oid, message: &str, hooks: &[&str]) -> Result<(), String> {
    let out = repo::git(scratch)
        .args(["read-tree", "--reset", "-u"])
        .arg(tree.to_string())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot check out the merge's result to run the hooks in: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let msg_file = scratch.join(".git-sidekick-merge-msg");
    for hook in hooks {
        let mut cmd = repo::git(scratch);
        cmd.args(["hook", "run", "--ignore-missing", hook]);
        if *hook == "commit-msg" {
            // Outside the scratch's git folder lookup, but inside the scratch folder removed
            // afterwards; a hook that edits the message changes nothing (the commit is made).
            std::fs::write(&msg_file, message)
                .map_err(|e| format!("cannot write the commit message for the hook: {e}"))?;
            cmd.arg("--").arg(&msg_file);
        }
        let (code, output) = run_with_timeout(cmd)?;
        if code != Some(0) {
            let tail: Vec<&str> = output
                .lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .collect();
            let tail = tail[tail.len().saturating_sub(10)..].join(" / ");
            let how = match code {
                Some(c) => format!("exit code {c}"),
                None => format!("stopped after {} s", HOOK_TIMEOUT.as_secs()),
            };
            return Err(format!(
                "the repository's {hook} hook refused the merge ({how}){}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            ));
        }
    }
    Ok(())
}

/// Runs `cmd` with its output captured (stdout and stderr together, as the user would see
/// them), stopping it after [`HOOK_TIMEOUT`]. Returns its exit code (None when stopped or
/// killed by a signal) and output.
fn run_with_timeout(mut cmd: Command) -> Result<(Option<i32>, String), String> {
    let temp_error = |e: std::io::Error| format!("cannot make a temporary file: {e}");
    let mut file = tempfile::tempfile().map_err(temp_error)?;
    cmd.stdout(Stdio::from(file.try_clone().map_err(temp_error)?))
        .stderr(Stdio::from(file.try_clone().map_err(temp_error)?));
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot run git: {e}"))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > HOOK_TIMEOUT => {
                // The hook's whole process group: a hook script's own children too.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for the hook: {e}")),
        }
    };
    use std::io::{Read, Seek};
    // The last 64 KiB are enough for the sentence (its last ten lines).
    let len = file.seek(std::io::SeekFrom::End(0)).unwrap_or(0);
    let mut bytes = Vec::new();
    if file
        .seek(std::io::SeekFrom::Start(len.saturating_sub(64 * 1024)))
        .is_ok()
    {
        let _ = file.read_to_end(&mut bytes);
    }
    Ok((
        status.and_then(|s| s.code()),
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

fn remove_scratch(repo_dir: &Path, scratch: &Path) {
    let out = repo::with_worktree_lock(repo_dir, || {
        repo::git(repo_dir)
            .args(["worktree", "remove", "--force", "--force"])
            .arg(scratch)
            .output()
    });
    if !matches!(&out, Ok(o) if o.status.success()) {
        let _ = std::fs::remove_dir_all(scratch);
        let _ = repo::with_worktree_lock(repo_dir, || {
            repo::git(repo_dir).args(["worktree", "prune"]).output()
        });
    }
}
