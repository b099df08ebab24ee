//! The user's working trees: where a branch is checked out, what is dirty there, and moving a
//! checked-out tree from one commit to another without losing anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::repo::{git, run, RepoError};

/// A working tree with a branch checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub workdir: PathBuf,
}

/// Every working tree of the repository (main and linked): its admin folder (where its `HEAD`
/// and index live) and its working folder, if it still exists. Reads the same files
/// `git worktree list` does instead of starting git.
fn all_worktrees(repo: &Path) -> Result<Vec<(PathBuf, PathBuf)>, RepoError> {
    let r = Repository::open(repo)?;
    let common = r.commondir().to_path_buf();
    let mut found = Vec::new();
    // The main working tree: the common dir's HEAD, unless the repository is bare.
    let main = Repository::open(&common)
        .ok()
        .and_then(|m| m.workdir().map(Path::to_path_buf));
    if let Some(main) = main.filter(|m| m.exists()) {
        found.push((common.clone(), main));
    }
    let Ok(entries) = std::fs::read_dir(common.join("worktrees")) else {
        return Ok(found);
    };
    for e in entries.flatten() {
        let admin = e.path();
        // `gitdir` holds the path of the worktree's `.git` file.
        let Ok(gitfile) = std::fs::read_to_string(admin.join("gitdir")) else {
            continue;
        };
        if let Some(workdir) = Path::new(gitfile.trim()).parent().filter(|w| w.exists()) {
            found.push((admin.clone(), workdir.to_path_buf()));
        }
    }
    Ok(found)
}

/// Every working tree (main and linked) that has `refs/heads/<branch>` checked out.
pub fn checkouts_of(repo: &Path, branch: &str) -> Result<Vec<Checkout>, RepoError> {
    let want = format!("ref: refs/heads/{branch}");
    Ok(all_worktrees(repo)?
        .into_iter()
        .filter(|(admin, _)| {
            std::fs::read_to_string(admin.join("HEAD"))
                .map(|h| h.trim() == want)
                .unwrap_or(false)
        })
        .map(|(_, workdir)| Checkout { workdir })
        .collect())
}

/// A git operation in progress that moving `branch` would break: a rebase of it (in any working
/// tree; its HEAD is detached meanwhile), or a merge, cherry-pick, revert, `am` or bisect in a
/// working tree that has it checked out. One sentence for the user, or `None`.
pub fn operation_in_progress(repo: &Path, branch: &str) -> Result<Option<String>, RepoError> {
    let full = format!("refs/heads/{branch}");
    let read = |p: PathBuf| std::fs::read_to_string(p).map(|t| t.trim().to_string());
    for (admin, workdir) in all_worktrees(repo)? {
        let on_branch = read(admin.join("HEAD")).is_ok_and(|h| h == format!("ref: {full}"));
        let mut what = None;
        for dir in ["rebase-merge", "rebase-apply"] {
            if read(admin.join(dir).join("head-name")).is_ok_and(|h| h == full) {
                what = Some(format!("a rebase of {branch}"));
            } else if on_branch && admin.join(dir).exists() {
                what = Some("a rebase or `git am`".to_string());
            }
        }
        if read(admin.join("BISECT_START")).is_ok_and(|b| b == branch || b == full) {
            what = Some(format!("a bisect that started on {branch}"));
        }
        if on_branch {
            for (file, op) in [
                ("MERGE_HEAD", "a merge"),
                ("CHERRY_PICK_HEAD", "a cherry-pick"),
                ("REVERT_HEAD", "a revert"),
                ("BISECT_LOG", "a bisect"),
            ] {
                if admin.join(file).exists() {
                    what = Some(op.to_string());
                }
            }
        }
        if let Some(what) = what {
            return Ok(Some(format!(
                "{what} is in progress in {}; finish or abort it first",
                workdir.display()
            )));
        }
    }
    Ok(None)
}

/// Refreshes the stat data of `workdir`'s index (what `git status` and git's own merge do
/// first), so files that were only touched or copied with `cp -a` do not count as changed.
/// Call it after [`check_locks`]: it takes `index.lock`, failing if someone else holds it.
pub fn refresh_index(workdir: &Path) -> Result<(), RepoError> {
    let mut cmd = git(workdir);
    cmd.args(["update-index", "-q", "--ignore-submodules", "--refresh"]);
    run(cmd, "update-index --refresh").map(|_| ())
}

/// Paths among `paths` (and the folders holding them) in `repo`'s working tree with uncommitted changes: staged,
/// unstaged, conflicted, or an untracked file (ignored ones too: they are the user's data) where
/// the merge would write. Looks only at those paths — index against HEAD, then the file against
/// the index's stat cache, hashing only when the stat differs or is racy — so the cost follows
/// the change, not the size of the working tree. Reads the index without refreshing or locking
/// it (safety rule 4).
pub fn dirty_paths_in(repo: &Repository, paths: &[String]) -> Result<Vec<String>, RepoError> {
    use std::os::unix::fs::MetadataExt;
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let Some(workdir) = repo.workdir() else {
        return Ok(Vec::new());
    };
    let mut index = repo.index()?;
    // A cached handle: pick up whatever git wrote since (a no-op when the file is unchanged).
    index.read(false)?;
    let index_mtime = std::fs::metadata(repo.path().join("index"))
        .map(|m| (m.mtime(), m.mtime_nsec()))
        .unwrap_or((i64::MAX, 0));
    let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let mut wanted = BTreeSet::new();
    for p in paths {
        wanted.insert(p.clone());
        let mut at = p.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            wanted.insert(parent.to_string());
            at = parent;
        }
    }
    let mut dirty = Vec::new();
    for p in wanted {
        let rel = Path::new(&p);
        let entry = index.get_path(rel, 0);
        let conflicted = (1..=3).any(|stage| index.get_path(rel, stage).is_some());
        let head = head_tree.as_ref().and_then(|t| t.get_path(rel).ok());
        let staged = match (&entry, &head) {
            (Some(e), Some(h)) => e.id != h.id() || e.mode != h.filemode() as u32,
            (Some(_), None) => true,
            (None, Some(h)) => h.kind() != Some(git2::ObjectType::Tree),
            (None, None) => false,
        };
        let unstaged = match (&entry, std::fs::symlink_metadata(workdir.join(rel))) {
            (Some(e), Ok(m)) => m.is_dir() || !unchanged(e, &workdir.join(rel), &m, index_mtime),
            (Some(_), Err(_)) => true,
            // An untracked file or symlink (a folder is only in the way if it holds files, and
            // git refuses that case itself, which rolls the merge back).
            (None, Ok(m)) => !m.is_dir(),
            (None, Err(_)) => false,
        };
        if conflicted || staged || unstaged {
            dirty.push(p);
        }
    }
    Ok(dirty)
}

/// The worktree file still holds what the index entry says.
fn unchanged(
    e: &git2::IndexEntry,
    path: &Path,
    m: &std::fs::Metadata,
    index_mtime: (i64, i64),
) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let is_link = m.file_type().is_symlink();
    let want_link = e.mode == 0o120000;
    let want_exec = e.mode == 0o100755;
    let is_exec = m.permissions().mode() & 0o111 != 0;
    if is_link != want_link || (!is_link && is_exec != want_exec) {
        return false;
    }
    let same_stat = m.len() as u32 == e.file_size
        && m.mtime() as i32 == e.mtime.seconds()
        && m.mtime_nsec() as u32 == e.mtime.nanoseconds();
    // A file written in the same instant as the index may have changed after git looked.
    let racy = (
        i64::from(e.mtime.seconds()),
        i64::from(e.mtime.nanoseconds()),
    ) >= index_mtime;
    if same_stat && !racy {
        return true;
    }
    let id = if is_link {
        std::fs::read_link(path).ok().and_then(|t| {
            git2::Oid::hash_object(git2::ObjectType::Blob, t.as_os_str().as_encoded_bytes()).ok()
        })
    } else {
        git2::Oid::hash_file(git2::ObjectType::Blob, path).ok()
    };
    id == Some(e.id)
}

/// Dirty paths the merge would touch: the same path, or one inside a folder the other names
/// (an untracked `a/x` blocks a new file `a`, an untracked file `a` blocks a new `a/x`).
pub fn overlap(dirty: &[String], changed: &[String]) -> Vec<String> {
    let changed: BTreeSet<&str> = changed.iter().map(String::as_str).collect();
    dirty
        .iter()
        .filter(|d| {
            changed.contains(d.as_str())
                || changed.iter().any(|c| is_inside(d, c) || is_inside(c, d))
        })
        .cloned()
        .collect()
}

fn is_inside(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// Refuses up front when git's locks are held, before anything is written: the working tree's
/// `index.lock` and `HEAD.lock`, the branch's ref lock and `packed-refs.lock`.
pub fn check_locks(repo: &Path, workdirs: &[Checkout], branch: &str) -> Result<(), String> {
    let common = Repository::open(repo)
        .map(|r| r.commondir().to_path_buf())
        .map_err(|e| e.message().to_string())?;
    let mut held = Vec::new();
    for lock in [
        common.join("refs/heads").join(format!("{branch}.lock")),
        common.join("packed-refs.lock"),
    ] {
        if lock.exists() {
            held.push(lock);
        }
    }
    for w in workdirs {
        let gitdir = Repository::open(&w.workdir)
            .map(|r| r.path().to_path_buf())
            .map_err(|e| e.message().to_string())?;
        for name in ["index.lock", "HEAD.lock"] {
            let lock = gitdir.join(name);
            if lock.exists() {
                held.push(lock);
            }
        }
    }
    match held.as_slice() {
        [] => Ok(()),
        locks => Err(format!(
            "git is busy: {} {} held (another git command is running, or one crashed and left it; remove it if no git command is running)",
            locks.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            if locks.len() == 1 { "is" } else { "are" }
        )),
    }
}

/// Moves a checked-out working tree and its index from tree `from` to tree `to` the way
/// `git checkout` switches branches: local changes on other paths are carried over untouched,
/// and git refuses (changing nothing) if any would be overwritten.
pub fn switch_tree(workdir: &Path, from: &str, to: &str) -> Result<(), RepoError> {
    let mut cmd = git(workdir);
    cmd.args(["read-tree", "-m", "-u", from, to]);
    run(cmd, "read-tree").map(|_| ())
}

/// Whether the file system holding `path` has (almost) no room left: what a git command that
/// failed to write files ran into, which git itself does not say.
pub fn disk_is_full(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(path)
        .map(|s| s.blocks_available().saturating_mul(s.fragment_size()) < 1 << 20)
        .unwrap_or(false)
}

/// Stashes the changes on `paths` (untracked ones too) and returns the stash commit.
pub fn stash_paths(workdir: &Path, paths: &[String], message: &str) -> Result<String, RepoError> {
    let mut cmd = git(workdir);
    cmd.args(["stash", "push", "--include-untracked", "-m", message, "--"])
        .args(paths);
    run(cmd, "stash push")?;
    let mut cmd = git(workdir);
    cmd.args(["rev-parse", "--verify", "refs/stash"]);
    Ok(run(cmd, "rev-parse")?.trim().to_string())
}

/// Re-applies a stash and drops it. When it does not apply cleanly the stash is kept (its
/// working-tree changes may be partly applied, with conflict markers) and `Ok(false)` returned.
pub fn unstash(workdir: &Path, stash: &str) -> Result<bool, RepoError> {
    let mut with_index = git(workdir);
    with_index.args(["stash", "apply", "--index", stash]);
    let applied = match run(with_index, "stash apply") {
        Ok(_) => true,
        Err(_) => {
            // `--index` refuses before touching anything; try the working-tree changes alone.
            let mut plain = git(workdir);
            plain.args(["stash", "apply", stash]);
            run(plain, "stash apply").is_ok()
        }
    };
    if !applied {
        return Ok(false);
    }
    drop_stash(workdir, stash)?;
    Ok(true)
}

/// Removes one stash (by commit) from the stash list.
pub fn drop_stash(workdir: &Path, stash: &str) -> Result<(), RepoError> {
    let mut list = git(workdir);
    list.args(["stash", "list", "--format=%H"]);
    let listing = run(list, "stash list")?;
    if let Some(n) = listing.lines().position(|h| h.trim() == stash) {
        let mut drop = git(workdir);
        drop.args(["stash", "drop", "--quiet", &format!("stash@{{{n}}}")]);
        run(drop, "stash drop")?;
    }
    Ok(())
}

/// Whether the working tree already holds what `stash` saved for `paths` (a stash push that
/// was killed after saving but before it reset the files).
pub fn stash_is_in_place(workdir: &Path, stash: &str, paths: &[String]) -> bool {
    let mut cmd = git(workdir);
    cmd.args(["diff", "--quiet", stash, "--"])
        .args(paths.iter().map(|p| format!(":(literal){p}")));
    cmd.status().is_ok_and(|s| s.success())
}

/// Where a kept stash can be found, for the user: `stash@{N} (<commit>)`.
pub fn describe_stash(workdir: &Path, stash: &str) -> String {
    let mut list = git(workdir);
    list.args(["stash", "list", "--format=%H"]);
    let n = run(list, "stash list")
        .ok()
        .and_then(|l| l.lines().position(|h| h.trim() == stash));
    match n {
        Some(n) => format!("stash@{{{n}}} ({stash}) in {}", workdir.display()),
        None => format!("commit {stash} in {}", workdir.display()),
    }
}

/// Creates a commit with git's own identity rules (config, env), returning its id.
pub fn commit_tree(
    repo: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
    env: &[(&str, String)],
) -> Result<String, RepoError> {
    use std::io::Write;
    let mut cmd = git(repo);
    cmd.args(["-c", "commit.gpgsign=false", "commit-tree", tree]);
    for p in parents {
        cmd.args(["-p", p]);
    }
    cmd.args(["-F", "-"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if !crate::repo::git_has_identity(repo) {
        for (k, v) in crate::repo::FALLBACK_IDENTITY {
            if !env.iter().any(|(ek, _)| *ek == k) {
                cmd.env(k, v);
            }
        }
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(RepoError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(message.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(RepoError::Git {
            what: "commit-tree".into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_paths_looks_only_at_the_paths_asked_and_their_folders() {
        use crate::repo::testing::{git, repo_with_commit};
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        repo_with_commit(d);
        std::fs::write(d.join("other.txt"), "tracked\n").expect("write");
        git(d, &["add", "other.txt"]);
        git(d, &["commit", "-q", "-m", "other"]);
        std::fs::write(d.join("other.txt"), "dirty but not asked about\n").expect("write");
        std::fs::write(d.join("new.txt"), "untracked where the merge adds a file\n")
            .expect("write");
        std::fs::write(
            d.join("dir"),
            "untracked file where the merge needs a folder\n",
        )
        .expect("write");
        std::fs::write(d.join("README.md"), "modified\n").expect("write");
        let dirty_paths =
            |d: &Path, p: &[String]| dirty_paths_in(&Repository::open(d).expect("open"), p);
        let asked = vec![
            "new.txt".to_string(),
            "dir/x.txt".into(),
            "README.md".into(),
        ];
        assert_eq!(
            dirty_paths(d, &asked).expect("status"),
            vec!["README.md", "dir", "new.txt"]
        );
        assert!(dirty_paths(d, &[]).expect("status").is_empty());
        let status_before = git(d, &["status", "--porcelain"]);
        assert!(!d.join(".git/index.lock").exists());
        assert_eq!(git(d, &["status", "--porcelain"]), status_before);
    }

    #[test]
    fn finds_a_branch_checked_out_in_the_main_tree_or_a_linked_one() {
        use crate::repo::testing::{git, repo_with_commit};
        let tmp = tempfile::tempdir().expect("tempdir");
        let main = tmp.path().join("main");
        std::fs::create_dir(&main).expect("mkdir");
        repo_with_commit(&main);
        git(&main, &["branch", "feature"]);
        git(&main, &["branch", "idle"]);
        let linked = tmp.path().join("linked wt");
        git(
            &main,
            &[
                "worktree",
                "add",
                "-q",
                linked.to_str().expect("utf8"),
                "feature",
            ],
        );
        let canon = |p: &Path| p.canonicalize().expect("canon");
        let at = |b: &str| -> Vec<PathBuf> {
            checkouts_of(&main, b)
                .expect("list")
                .into_iter()
                .map(|c| canon(&c.workdir))
                .collect()
        };
        assert_eq!(at("main"), vec![canon(&main)]);
        assert_eq!(at("feature"), vec![canon(&linked)]);
        assert!(at("idle").is_empty());
        // Asked from inside the linked tree, the answer is the same.
        assert_eq!(checkouts_of(&linked, "main").expect("list").len(), 1);
        git(&main, &["checkout", "-q", "--detach"]);
        assert!(
            at("main").is_empty(),
            "a detached HEAD has no branch checked out"
        );
    }

    #[test]
    fn overlap_matches_paths_and_folders_both_ways() {
        let dirty = vec![
            "a.txt".to_string(),
            "dir/x".into(),
            "file".into(),
            "other".into(),
        ];
        let changed = vec![
            "a.txt".to_string(),
            "dir".into(),
            "file/y".into(),
            "othe".into(),
        ];
        assert_eq!(overlap(&dirty, &changed), vec!["a.txt", "dir/x", "file"]);
        assert!(overlap(&dirty, &[]).is_empty());
    }
}
