//! Git: validating the user's repository, resolving the base, and the job's shadow worktree.
//!
//! Reads go through libgit2 (no process per query). Writes that must behave exactly like the
//! user's git (worktree checkout with their filters and hooks, `add -A` honouring .gitignore,
//! commits) run the git CLI: it is also faster at checkout than libgit2 (parallel checkout).
//! A checkout that only copies blobs out (no attributes, hooks, submodules, eol settings) is
//! written by `crate::populate` instead, on every core, after `git worktree add --no-checkout`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{ErrorCode as GitCode, Repository};

pub use crate::error::RepoError;

type Result<T> = std::result::Result<T, RepoError>;

/// A validated repository and the base a job starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedBase {
    /// The top level of the working tree the user pointed at.
    pub workdir: PathBuf,
    pub commit: String,
    /// The local branch the job merges back into, when there is one.
    pub branch: Option<String>,
}

/// Checks that `path` is in a non-bare repository with at least one commit and resolves `rev`
/// (any revision git understands) to a commit.
pub fn resolve(path: &Path, rev: &str) -> Result<ResolvedBase> {
    if !path.exists() {
        return Err(RepoError::Missing(path.to_path_buf()));
    }
    if !path.is_dir() {
        return Err(RepoError::NotAFolder(path.to_path_buf()));
    }
    let repo = Repository::discover(path).map_err(|_| RepoError::NotARepo(path.to_path_buf()))?;
    if repo.is_bare() {
        return Err(RepoError::Bare(path.to_path_buf()));
    }
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Err(RepoError::Bare(path.to_path_buf()));
    };
    let workdir = workdir.canonicalize().unwrap_or(workdir);
    let head = match repo.head() {
        Ok(h) => h,
        Err(e) if matches!(e.code(), GitCode::UnbornBranch | GitCode::NotFound) => {
            return Err(RepoError::Empty(workdir));
        }
        Err(e) => return Err(e.into()),
    };
    let bad_base = || RepoError::BadBase {
        rev: rev.to_string(),
        repo: workdir.clone(),
    };
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| bad_base())?;
    let branch = if rev == "HEAD" || rev == "@" {
        head.is_branch()
            .then(|| head.shorthand().ok().map(str::to_string))
            .flatten()
    } else {
        repo.find_branch(rev, git2::BranchType::Local)
            .ok()
            .and_then(|b| b.name().ok().flatten().map(str::to_string))
    };
    Ok(ResolvedBase {
        workdir,
        commit: commit.id().to_string(),
        branch,
    })
}

/// Validates `path` like [`resolve`] and lists what a task composer offers as bases.
pub fn describe(path: &Path) -> Result<sidekick_protocol::RepoInfo> {
    let base = resolve(path, "HEAD")?;
    let repo = Repository::open(&base.workdir)?;
    let mut branches = Vec::new();
    for entry in repo.branches(Some(git2::BranchType::Local))? {
        let (branch, _) = entry?;
        if let Ok(Some(name)) = branch.name() {
            // Job branches are Sidekick's own, not bases a user picks.
            if !name.starts_with("sidekick/") {
                branches.push(name.to_string());
            }
        }
    }
    branches.sort();
    let name = base
        .workdir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| base.workdir.display().to_string());
    Ok(sidekick_protocol::RepoInfo {
        root: base.workdir.display().to_string(),
        name,
        head_branch: base.branch,
        head_commit: base.commit,
        branches,
        agent: None,
    })
}

/// Whether a local branch of this name exists.
pub fn branch_exists(repo: &Path, name: &str) -> Result<bool> {
    let repo = Repository::open(repo)?;
    let exists = repo.find_branch(name, git2::BranchType::Local).is_ok();
    Ok(exists)
}

/// The folder holding the worktrees of one repository: `<repo-name>-<hash8>`.
pub fn worktree_group(worktrees_root: &Path, repo: &Path) -> PathBuf {
    let name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    let hash = fnv1a(repo.as_os_str().as_encoded_bytes());
    worktrees_root.join(format!("{name}-{:08x}", (hash >> 32) as u32))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Runs `f` while no other of Sidekick's worktree commands (add, remove, prune, unlock) runs
/// in the same repository. Concurrent `git worktree add`s read each other's half-made admin
/// folders and fail ("failed to read .git/worktrees/NAME/commondir").
pub fn with_worktree_lock<T>(repo: &Path, f: impl FnOnce() -> T) -> T {
    let opened = Repository::open(repo).ok();
    with_worktree_lock_of(repo, opened.as_ref(), f)
}

/// [`with_worktree_lock`] for a repository already opened (`None`: it could not be).
fn with_worktree_lock_of<T>(repo: &Path, opened: Option<&Repository>, f: impl FnOnce() -> T) -> T {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let key = opened.map_or_else(|| repo.to_path_buf(), |r| r.commondir().to_path_buf());
    let lock = {
        let mut map = LOCKS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(key).or_default().clone()
    };
    let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
    f()
}

/// Creates `branch` at `commit` and checks it out into a new, locked worktree at `dest`.
pub fn add_worktree(
    repo: &Path,
    dest: &Path,
    branch: &str,
    commit: &str,
    lock_reason: &str,
) -> Result<()> {
    if let Some(parent) = dest.parent() {
        sidekick_protocol::private::dir(parent)?;
    }
    // The files written here when git would only copy blobs out (crate::populate); else git's
    // own checkout.
    let opened = Repository::open(repo).ok();
    let plan = match (&opened, git2::Oid::from_str(commit)) {
        (Some(r), Ok(id)) => crate::populate::plan(r, id).unwrap_or(None),
        _ => None,
    };
    let out = with_worktree_lock_of(repo, opened.as_ref(), || {
        let mut cmd = git(repo);
        // Parallel checkout: as many workers as cores, even for small trees.
        cmd.args([
            "-c",
            "checkout.workers=0",
            "-c",
            "checkout.thresholdForParallelism=1",
        ])
        .args([
            "worktree",
            "add",
            "--quiet",
            "--lock",
            "--reason",
            lock_reason,
            "-b",
            branch,
        ]);
        if plan.is_some() {
            cmd.arg("--no-checkout");
        }
        cmd.arg(dest).arg(commit).output()
    })
    .map_err(RepoError::Spawn)?;
    check("worktree add", out)?;
    if let Some(plan) = plan {
        let written = linked_gitdir(dest)
            .ok_or_else(|| RepoError::Git {
                what: "worktree add".into(),
                detail: format!("{} has no git folder", dest.display()),
            })
            .and_then(|admin| crate::populate::write(repo, dest, &admin.join("index"), &plan));
        if let Err(e) = written {
            // Half written (a full disk): nothing of it stays, as when git's checkout fails.
            with_worktree_lock_of(repo, opened.as_ref(), || {
                let _ = git(repo)
                    .args(["worktree", "remove", "--force", "--force"])
                    .arg(dest)
                    .output();
            });
            let _ = git(repo).args(["branch", "-D", "--quiet", branch]).output();
            return Err(e);
        }
    }
    // Its files keep git's modes; the folder keeps everyone else out of them.
    sidekick_protocol::private::dir(dest)?;
    Ok(())
}

/// The git folder a linked worktree's `.git` file names.
pub(crate) fn linked_gitdir(worktree: &Path) -> Option<PathBuf> {
    std::fs::read_to_string(worktree.join(".git"))
        .ok()
        .and_then(|t| t.strip_prefix("gitdir:").map(|g| PathBuf::from(g.trim())))
        .filter(|g| g.is_absolute() && g.is_dir())
}

/// Checks out the submodules of a new worktree at the commits its tree records. Their URLs are
/// registered first, here (git copies them from `.gitmodules` into the repository's config;
/// nothing is fetched or run); then git fetches and checks out each one behind `sandbox` (a
/// job's sandbox command line, program first; empty: none), one at a time so one that fails
/// does not stop the others. Local paths and `file://` URLs get git's default for submodules,
/// refused: a `.gitmodules` could name any folder the host can read. Returns, per submodule that
/// could not be set up, its path and git's reason.
pub fn init_submodules(worktree: &Path, sandbox: &[std::ffi::OsString]) -> Result<Vec<String>> {
    let out = git(worktree)
        .args(["submodule", "init", "--quiet"])
        .output()
        .map_err(RepoError::Spawn)?;
    check("submodule init", out)?;
    let out = git(worktree)
        .args(["config", "--file", ".gitmodules", "-z", "--get-regexp"])
        .arg(r"^submodule\..*\.path$")
        .output()
        .map_err(RepoError::Spawn)?;
    let paths: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            entry.split_once('\n').map(|(_, path)| path.to_string())
        })
        .filter(|p| !p.is_empty())
        .collect();
    let mut failed = Vec::new();
    for path in paths {
        let mut cmd = match sandbox.split_first() {
            Some((bwrap, args)) => {
                let mut cmd = Command::new(bwrap);
                cmd.args(args).arg("git");
                cmd
            }
            None => Command::new("git"),
        };
        cmd.current_dir(worktree)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null())
            .args([
                "submodule",
                "update",
                "--init",
                "--recursive",
                "--quiet",
                "--",
            ])
            .arg(&path);
        let out = cmd.output().map_err(RepoError::Spawn)?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            // git's first reason, without its "fatal: " and the retries after it.
            let why = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(|l| l.trim_start_matches("fatal: ").to_string())
                .unwrap_or_else(|| format!("exit status {}", out.status));
            failed.push(format!("{path}: {why}"));
        }
    }
    Ok(failed)
}

/// Locks a job's worktree again (a reply's turn) so `git worktree prune` leaves it alone while
/// the agent works; one that is locked already is fine.
pub fn lock_worktree(repo: &Path, worktree: &Path, reason: &str) -> Result<()> {
    let out = with_worktree_lock(repo, || {
        git(repo)
            .args(["worktree", "lock", "--reason", reason])
            .arg(worktree)
            .output()
    })
    .map_err(RepoError::Spawn)?;
    if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("already locked") {
        return Ok(());
    }
    check("worktree lock", out)
}

pub fn unlock_worktree(repo: &Path, worktree: &Path) -> Result<()> {
    let out = with_worktree_lock(repo, || {
        git(repo)
            .args(["worktree", "unlock"])
            .arg(worktree)
            .output()
    })
    .map_err(RepoError::Spawn)?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Already unlocked (e.g. after a recovery that got half way) is fine.
    if stderr.contains("is not locked") {
        return Ok(());
    }
    check("worktree unlock", out)
}

/// What committing the agent's leftovers produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub head: String,
    /// A new commit was made (false when the worktree was clean).
    pub created: bool,
}

/// The commit `branch` points at.
pub fn branch_tip(repo: &Path, branch: &str) -> Result<String> {
    let r = Repository::open(repo)?;
    let tip = r
        .find_reference(&format!("refs/heads/{branch}"))
        .and_then(|reference| reference.peel_to_commit())
        .map_err(|_| RepoError::Git {
            what: "rev-parse".into(),
            detail: format!("the branch {branch} does not exist"),
        })?;
    Ok(tip.id().to_string())
}

/// Commits everything in `worktree` (tracked and untracked, honouring .gitignore) to its branch.
/// The agent must be dead: this takes the worktree's index lock.
/// Files agents keep for themselves in the folder they work in (caches, chat logs): left out
/// of the job's commits so they never reach the user's branch.
const AGENT_SCRATCH: &[&str] = &[
    ":(exclude,glob).aider.tags.cache.v*/**",
    ":(exclude).aider.chat.history.md",
    ":(exclude).aider.input.history",
    ":(exclude).aider.llm.history",
];

pub fn commit_all(worktree: &Path, message: &str) -> Result<Committed> {
    let git_dir = clear_stale_index_lock(worktree)?;
    let out = git(worktree)
        // `--sparse`: in a sparse checkout, files the agent wrote outside the sparse set are
        // its work too (git refuses them otherwise, and the job could not be merged).
        .args(["add", "-A", "--sparse", "--", "."])
        .args(AGENT_SCRATCH)
        .output()
        .map_err(RepoError::Spawn)?;
    check("add -A", out)?;
    // Files Sidekick copied in go back to what the base had, whoever staged them.
    let keep_out = crate::copy::keep_out(&git_dir);
    if !keep_out.is_empty() {
        let out = git(worktree)
            .args(["reset", "-q", "--"])
            .args(keep_out.iter().map(|p| format!(":(literal){p}")))
            .output()
            .map_err(RepoError::Spawn)?;
        check("reset of the copied files", out)?;
    }
    let status = git(worktree)
        .args(["diff", "--cached", "--quiet"])
        .status()
        .map_err(RepoError::Spawn)?;
    let created = !status.success();
    if created {
        let mut cmd = git(worktree);
        cmd.args([
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--no-verify",
            "--quiet",
            "-F",
            "-",
        ]);
        if !git_has_identity(worktree) {
            cmd.envs(FALLBACK_IDENTITY);
        }
        let out = run_with_stdin(cmd, message.as_bytes())?;
        check("commit", out)?;
    }
    let head = Repository::open(worktree)?
        .head()?
        .peel_to_commit()?
        .id()
        .to_string();
    Ok(Committed { head, created })
}

/// The agent is gone, so an `index.lock` left in the worktree's own git dir is stale (an agent
/// killed in the middle of a git command). Anything else would make the commit fail.
/// Returns the worktree's own git folder.
fn clear_stale_index_lock(worktree: &Path) -> Result<PathBuf> {
    let git_dir = Repository::open(worktree)?.path().to_path_buf();
    let lock = git_dir.join("index.lock");
    match std::fs::remove_file(&lock) {
        Ok(()) => {
            tracing::warn!(path = %lock.display(), "removed a stale index.lock left by the agent");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    Ok(git_dir)
}

/// Who commits when git knows no identity here.
pub const FALLBACK_IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Sidekick"),
    ("GIT_AUTHOR_EMAIL", "sidekick@localhost"),
    ("GIT_COMMITTER_NAME", "Sidekick"),
    ("GIT_COMMITTER_EMAIL", "sidekick@localhost"),
];

/// Whether git itself can name an author and a committer here (config, `GIT_CONFIG_GLOBAL`,
/// `GIT_AUTHOR_*` env...). Asking git, not libgit2, because their lookups differ.
pub fn git_has_identity(worktree: &Path) -> bool {
    ["GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"]
        .iter()
        .all(|var| {
            git(worktree)
                .args(["var", var])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
}

/// Opens a repository for comparing commits. It gets an empty in-memory index: libgit2 would
/// otherwise load the whole index (30,000 entries and a SHA-1 over the file in a large
/// repository) on every diff just to look up attributes, which for commits come from the
/// working tree's `.gitattributes` files, as with `git diff`.
pub fn open_objects_only(path: &Path) -> Result<Repository> {
    let repo = Repository::open(path)?;
    let mut empty = git2::Index::new()?;
    repo.set_index(&mut empty)?;
    Ok(repo)
}

/// Files changed, insertions and deletions between two commits (renames detected, like git).
pub fn diff_stats(repo: &Path, from: &str, to: &str) -> Result<(u64, u64, u64)> {
    let repo = open_objects_only(repo)?;
    let a = repo.revparse_single(from)?.peel_to_tree()?;
    let b = repo.revparse_single(to)?.peel_to_tree()?;
    let mut diff = repo.diff_tree_to_tree(Some(&a), Some(&b), None)?;
    diff.find_similar(None)?;
    let stats = diff.stats()?;
    Ok((
        stats.files_changed() as u64,
        stats.insertions() as u64,
        stats.deletions() as u64,
    ))
}

/// The commit message for a job's leftovers: the task's first line and a trailer.
pub fn commit_message(task: &str, job_id: &str, codename: &str) -> String {
    let first = task.lines().map(str::trim).find(|l| !l.is_empty());
    let subject = match first {
        Some(line) if line.chars().count() > 200 => {
            let cut: String = line.chars().take(197).collect();
            format!("{cut}...")
        }
        Some(line) => line.to_string(),
        None => format!("Sidekick job {codename}"),
    };
    format!("{subject}\n\nSidekick-Job: {job_id}\n")
}

/// A git command in `dir` that never waits for a terminal prompt (credentials, editors) and
/// reads nothing from stdin: every git call of the host is in the background.
/// The worktree's admin folder (`.git/worktrees/NAME`), from its `.git` file.
pub(crate) fn admin_dir(worktree: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(worktree.join(".git")).ok()?;
    let dir = text.strip_prefix("gitdir:")?.trim();
    Some(PathBuf::from(dir))
}

/// A command at the lowest CPU and I/O priority (`nice`, `ionice -c 3` where present).
pub fn low_priority(mut cmd: Command) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setpriority and ioprio_set are async-signal-safe syscalls; nothing else runs
    // between fork and exec here.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
            // ioprio_set(IOPRIO_WHO_PROCESS, self, IOPRIO_CLASS_IDLE << 13)
            libc::syscall(libc::SYS_ioprio_set, 1, 0, 3 << 13);
            Ok(())
        });
    }
    cmd
}

/// `git status --porcelain` of a working tree, untracked files listed one by one (ignored
/// ones not): empty when it is exactly its HEAD.
pub fn status_porcelain(dir: &Path) -> Result<String> {
    let mut cmd = git(dir);
    cmd.args(["status", "--porcelain", "--untracked-files=all"]);
    run(cmd, "status")
}

pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    // Never wait for a terminal prompt (credentials, editors) in the background.
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null());
    cmd
}

pub fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Result<Output> {
    use std::io::Write;
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(RepoError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    Ok(child.wait_with_output()?)
}

/// Runs a git command; its stdout on success, else one sentence from its stderr.
pub fn run(mut cmd: Command, what: &str) -> Result<String> {
    let out = cmd.output().map_err(RepoError::Spawn)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    check(what, out)?;
    Ok(stdout)
}

/// A list of paths for a sentence: the first five, and how many more.
pub fn few(paths: &[String]) -> String {
    let mut s = paths.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > 5 {
        s.push_str(&format!(" and {} more", paths.len() - 5));
    }
    s
}

pub(crate) fn check(what: &str, out: Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // git says one thing per file (a thousand "unable to write" lines on a full disk): the
    // first few make the sentence.
    let mut detail = lines.iter().take(3).copied().collect::<Vec<_>>().join(" ");
    if lines.len() > 3 {
        detail.push_str(&format!(" (and {} more lines)", lines.len() - 3));
    }
    Err(RepoError::Git {
        what: what.into(),
        detail: if detail.is_empty() {
            format!("exit status {}", out.status)
        } else {
            detail
        },
    })
}

/// Hermetic git for tests (this crate's and, with the `testing` feature, others').
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::path::Path;

    /// Runs git hermetically (`sidekick_testkit`), with fixed dates too.
    pub fn git(dir: &Path, args: &[&str]) -> String {
        let out = sidekick_testkit::git_command(dir)
            .args(args)
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A repository on branch `main` with one commit holding `README.md`.
    pub fn repo_with_commit(dir: &Path) {
        git(dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("README.md"), "hello\n").expect("write");
        git(dir, &["add", "README.md"]);
        git(dir, &["commit", "-q", "-m", "first"]);
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{git, repo_with_commit};
    use super::*;

    #[test]
    fn each_bad_repository_gets_its_own_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("missing");
        assert!(matches!(
            resolve(&missing, "HEAD"),
            Err(RepoError::Missing(_))
        ));

        let plain = tmp.path().join("plain");
        std::fs::create_dir(&plain).expect("mkdir");
        assert!(matches!(
            resolve(&plain, "HEAD"),
            Err(RepoError::NotARepo(_))
        ));

        let file = tmp.path().join("file.txt");
        std::fs::write(&file, "x").expect("write");
        assert!(matches!(
            resolve(&file, "HEAD"),
            Err(RepoError::NotAFolder(_))
        ));

        let bare = tmp.path().join("bare.git");
        std::fs::create_dir(&bare).expect("mkdir");
        git(&bare, &["init", "-q", "--bare"]);
        assert!(matches!(resolve(&bare, "HEAD"), Err(RepoError::Bare(_))));

        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).expect("mkdir");
        git(&empty, &["init", "-q"]);
        assert!(matches!(resolve(&empty, "HEAD"), Err(RepoError::Empty(_))));

        let good = tmp.path().join("good");
        std::fs::create_dir(&good).expect("mkdir");
        repo_with_commit(&good);
        assert!(matches!(
            resolve(&good, "no-such-rev"),
            Err(RepoError::BadBase { .. })
        ));
    }

    #[test]
    fn describe_lists_user_branches_and_the_checked_out_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        repo_with_commit(tmp.path());
        git(tmp.path(), &["branch", "feature/x"]);
        git(tmp.path(), &["branch", "sidekick/brave-otter"]);
        let sub = tmp.path().join("src");
        std::fs::create_dir(&sub).expect("mkdir");
        let info = describe(&sub).expect("describes from a subfolder");
        assert_eq!(
            info.branches,
            vec!["feature/x".to_string(), "main".to_string()]
        );
        assert_eq!(info.head_branch.as_deref(), Some("main"));
        assert_eq!(info.head_commit, git(tmp.path(), &["rev-parse", "HEAD"]));
        let root = tmp.path().canonicalize().expect("canonical");
        assert_eq!(info.root, root.display().to_string());

        git(tmp.path(), &["checkout", "-q", "--detach"]);
        assert_eq!(describe(tmp.path()).expect("detached").head_branch, None);
        let plain = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            describe(plain.path()),
            Err(RepoError::NotARepo(_))
        ));
    }

    #[test]
    fn resolves_head_branches_and_commits() {
        let tmp = tempfile::tempdir().expect("tempdir");
        repo_with_commit(tmp.path());
        let sub = tmp.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let head = git(tmp.path(), &["rev-parse", "HEAD"]);
        let base = resolve(&sub, "HEAD").expect("resolves from a subfolder");
        assert_eq!(base.commit, head);
        assert_eq!(base.branch.as_deref(), Some("main"));
        assert_eq!(base.workdir, tmp.path().canonicalize().expect("canon"));

        git(tmp.path(), &["branch", "feature"]);
        assert_eq!(
            resolve(tmp.path(), "feature")
                .expect("branch")
                .branch
                .as_deref(),
            Some("feature")
        );
        let by_sha = resolve(tmp.path(), &head[..10]).expect("sha prefix");
        assert_eq!(by_sha.commit, head);
        assert_eq!(by_sha.branch, None);
    }

    #[test]
    fn worktree_commit_keeps_untracked_and_honours_gitignore() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).expect("mkdir");
        repo_with_commit(&repo);
        std::fs::write(repo.join(".gitignore"), "*.log\n").expect("write");
        git(&repo, &["add", ".gitignore"]);
        git(&repo, &["commit", "-q", "-m", "ignore logs"]);
        let base = git(&repo, &["rev-parse", "HEAD"]);
        let wt = worktree_group(&tmp.path().join("wts"), &repo).join("brave-otter");
        add_worktree(&repo, &wt, "sidekick/brave-otter", &base, "test").expect("add");
        assert!(branch_exists(&repo, "sidekick/brave-otter").expect("q"));
        let list = git(&repo, &["worktree", "list", "--porcelain"]);
        assert!(list.contains("locked test"), "{list}");

        std::fs::write(wt.join("README.md"), "hello\nworld\n").expect("write");
        std::fs::write(wt.join("new.txt"), "new\n").expect("write");
        std::fs::write(wt.join("noise.log"), "ignored\n").expect("write");
        let msg = commit_message("Add a world\nmore detail", "01abc", "brave-otter");
        let c = commit_all(&wt, &msg).expect("commit");
        assert!(c.created);
        let files = git(&wt, &["show", "--name-only", "--format=", "HEAD"]);
        assert_eq!(
            files.lines().collect::<Vec<_>>(),
            vec!["README.md", "new.txt"]
        );
        let body = git(&wt, &["log", "-1", "--format=%B"]);
        assert_eq!(body, "Add a world\n\nSidekick-Job: 01abc");
        assert_eq!(diff_stats(&repo, &base, &c.head).expect("stats"), (2, 2, 0));

        let again = commit_all(&wt, &msg).expect("nothing to commit");
        assert_eq!(
            again,
            Committed {
                head: c.head,
                created: false
            }
        );
        unlock_worktree(&repo, &wt).expect("unlock");
        unlock_worktree(&repo, &wt).expect("unlocking twice is fine");
        assert!(!git(&repo, &["worktree", "list", "--porcelain"]).contains("locked"));
    }

    #[test]
    fn commit_messages_fall_back_and_truncate() {
        assert_eq!(
            commit_message("\n\n", "id", "calm-owl"),
            "Sidekick job calm-owl\n\nSidekick-Job: id\n"
        );
        let long = "x".repeat(300);
        let msg = commit_message(&long, "id", "c");
        assert!(msg.starts_with(&"x".repeat(197)) && msg.contains("...\n\n"));
    }

    #[test]
    fn group_folder_is_stable_and_distinct() {
        let a = worktree_group(Path::new("/w"), Path::new("/src/app"));
        let b = worktree_group(Path::new("/w"), Path::new("/other/app"));
        assert_eq!(a, worktree_group(Path::new("/w"), Path::new("/src/app")));
        assert_ne!(a, b);
        assert!(a.to_string_lossy().starts_with("/w/app-"));
    }
}
