//! The user's working trees: where a branch is checked out, what is dirty there, and moving a
//! checked-out tree from one commit to another without losing anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::repo::{git, run, RepoError};

/// A working tree with a branch checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub workdir: PathBuf,
}

/// Every working tree of the repository (main and linked): its admin folder (where its `HEAD`
/// and index live) and its working folder, if it still exists. Reads the same files
/// `git worktree list` does instead of starting git.
pub type Worktrees = Vec<(PathBuf, PathBuf)>;

/// The [`Worktrees`] of the repository at `repo`.
fn all_worktrees(repo: &Path) -> Result<Worktrees, RepoError> {
    all_worktrees_of(&Repository::open(repo)?)
}

/// [`all_worktrees`] of a repository already open (its main working tree's or a linked one's).
pub fn all_worktrees_of(r: &Repository) -> Result<Worktrees, RepoError> {
    let common = r.commondir().to_path_buf();
    let mut found = Vec::new();
    // The main working tree: the common dir's HEAD, unless the repository is bare.
    let main = if same_dir(r.path(), &common) {
        r.workdir().map(Path::to_path_buf)
    } else {
        Repository::open(&common)
            .ok()
            .and_then(|m| m.workdir().map(Path::to_path_buf))
    };
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

fn same_dir(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

/// The working trees that have `branch` checked out.
pub fn checkouts_of(repo: &Path, branch: &str) -> Result<Vec<Checkout>, RepoError> {
    Ok(checkouts_among(&all_worktrees(repo)?, branch))
}

/// [`checkouts_of`] among working trees already listed.
pub fn checkouts_among(worktrees: &Worktrees, branch: &str) -> Vec<Checkout> {
    let want = format!("ref: refs/heads/{branch}");
    worktrees
        .iter()
        .filter(|(admin, _)| {
            std::fs::read_to_string(admin.join("HEAD"))
                .map(|h| h.trim() == want)
                .unwrap_or(false)
        })
        .map(|(_, workdir)| Checkout {
            workdir: workdir.clone(),
        })
        .collect()
}

/// A git operation in progress that moving `branch` would break: a rebase of it (in any working
/// tree; its HEAD is detached meanwhile), or a merge, cherry-pick, revert, `am` or bisect in a
/// working tree that has it checked out. One sentence for the user, or `None`.
pub fn operation_in_progress(repo: &Path, branch: &str) -> Result<Option<String>, RepoError> {
    Ok(in_progress_among(&all_worktrees(repo)?, branch))
}

/// [`operation_in_progress`] among working trees already listed.
pub fn in_progress_among(worktrees: &Worktrees, branch: &str) -> Option<String> {
    let full = format!("refs/heads/{branch}");
    let read = |p: PathBuf| std::fs::read_to_string(p).map(|t| t.trim().to_string());
    for (admin, workdir) in worktrees {
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
            return Some(format!(
                "{what} is in progress in {}; finish or abort it first",
                workdir.display()
            ));
        }
    }
    None
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
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.mtime(), m.mtime_nsec())
        })
        .unwrap_or((i64::MAX, 0));
    // Conflict stages are looked up only when the index has any.
    let conflicts = index.has_conflicts();
    let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    // Each path and the folders above it, grouped by folder: a folder's HEAD tree is found
    // once and its entries by name; its files are stat'ed relative to it.
    let mut by_folder: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in paths {
        let mut at = p.as_str();
        loop {
            let (folder, name) = at.rsplit_once('/').unwrap_or(("", at));
            by_folder.entry(folder).or_default().insert(name);
            if folder.is_empty() {
                break;
            }
            at = folder;
        }
    }
    let mut dirty = Vec::new();
    for (folder, names) in by_folder {
        let head_folder = match (&head_tree, folder) {
            (Some(t), "") => Some(t.clone()),
            (Some(t), f) => t
                .get_path(Path::new(f))
                .ok()
                .and_then(|e| e.to_object(repo).ok())
                .and_then(|o| o.into_tree().ok()),
            (None, _) => None,
        };
        let dir = Folder::open(&workdir.join(folder));
        for name in names {
            let p = if folder.is_empty() {
                name.to_string()
            } else {
                format!("{folder}/{name}")
            };
            let rel = Path::new(&p);
            let entry = index.get_path(rel, 0);
            let conflicted = conflicts && (1..=3).any(|stage| index.get_path(rel, stage).is_some());
            let head = head_folder
                .as_ref()
                .and_then(|t| t.get_name(name).map(|e| (e.id(), e.filemode(), e.kind())));
            let staged = match (&entry, &head) {
                (Some(e), Some((id, mode, _))) => e.id != *id || e.mode != *mode as u32,
                (Some(_), None) => true,
                (None, Some((_, _, kind))) => *kind != Some(git2::ObjectType::Tree),
                (None, None) => false,
            };
            let unstaged = match (&entry, dir.stat(name)) {
                (Some(e), Some(m)) => {
                    m.is_dir || !unchanged(e, &workdir.join(rel), &m, index_mtime)
                }
                (Some(_), None) => true,
                // An untracked file or symlink (a folder is only in the way if it holds files,
                // and git refuses that case itself, which rolls the merge back).
                (None, Some(m)) => !m.is_dir,
                (None, None) => false,
            };
            if conflicted || staged || unstaged {
                dirty.push(p);
            }
        }
    }
    dirty.sort();
    Ok(dirty)
}

/// A folder of the working tree, open for `fstatat` of its entries (the kernel walks the
/// folder's path once, not once per file). A folder that cannot be opened has no entries.
struct Folder(Option<std::os::fd::OwnedFd>);

/// What [`unchanged`] compares of a file's `lstat`.
struct Stat {
    is_dir: bool,
    is_link: bool,
    executable: bool,
    size: u64,
    mtime: (i64, i64),
}

impl Folder {
    fn open(path: &Path) -> Folder {
        use nix::fcntl::{open, OFlag};
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        Folder(open(path, flags, nix::sys::stat::Mode::empty()).ok())
    }

    /// The entry's `lstat`; `None` when it is not there (or cannot be read).
    fn stat(&self, name: &str) -> Option<Stat> {
        use nix::sys::stat::{fstatat, SFlag};
        let fd = self.0.as_ref()?;
        let st = fstatat(fd, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        Some(Stat {
            is_dir: kind == SFlag::S_IFDIR,
            is_link: kind == SFlag::S_IFLNK,
            executable: st.st_mode & 0o111 != 0,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec),
        })
    }
}

/// The worktree file still holds what the index entry says.
fn unchanged(e: &git2::IndexEntry, path: &Path, m: &Stat, index_mtime: (i64, i64)) -> bool {
    let want_link = e.mode == 0o120000;
    let want_exec = e.mode == 0o100755;
    if m.is_link != want_link || (!m.is_link && m.executable != want_exec) {
        return false;
    }
    let same_stat = m.size as u32 == e.file_size
        && m.mtime.0 as i32 == e.mtime.seconds()
        && m.mtime.1 as u32 == e.mtime.nanoseconds();
    // A file written in the same instant as the index may have changed after git looked.
    let racy = (
        i64::from(e.mtime.seconds()),
        i64::from(e.mtime.nanoseconds()),
    ) >= index_mtime;
    if same_stat && !racy {
        return true;
    }
    let id = if m.is_link {
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
///
/// Stat data gone stale on a path it writes (a touched file, a `cp -a` copy) is not a change:
/// git refuses those as "not uptodate" before writing anything; the index's stat data is then
/// refreshed, as git's own merge does first, and the switch tried again. (Refreshing first
/// every time reads the whole working tree; most merges do not need it.)
pub fn switch_tree(workdir: &Path, from: &str, to: &str) -> Result<(), RepoError> {
    let attempt = || {
        git(workdir)
            .env("LC_ALL", "C")
            .args(["read-tree", "-m", "-u", from, to])
            .output()
            .map_err(RepoError::Spawn)
    };
    let out = attempt()?;
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not uptodate") {
        refresh_index(workdir)?;
        return crate::repo::check("read-tree", attempt()?);
    }
    crate::repo::check("read-tree", out)
}

/// Whether the file system holding `path` has (almost) no room left: what a git command that
/// failed to write files ran into, which git itself does not say.
/// About how many bytes a checkout needs to take `changed` to `to_tree`: each path the tree
/// holds, whole (git writes a file's new content before the old one's room comes back, so what
/// it frees is not counted), and 1 MiB for the index.
pub fn bytes_written(
    repo: &Repository,
    changed: &[String],
    to_tree: Oid,
) -> Result<u64, RepoError> {
    let tree = repo.find_tree(to_tree)?;
    let odb = repo.odb()?;
    let mut needed: u64 = 1 << 20;
    for path in changed {
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            continue;
        };
        if let Ok((size, _)) = odb.read_header(entry.id()) {
            needed = needed.saturating_add(size as u64);
        }
    }
    Ok(needed)
}

/// Refuses, in one sentence, when the disk holding `workdir` has less room than `needed` bytes
/// (what a merge writes there, [`bytes_written`]).
pub fn check_room(workdir: &Path, needed: u64) -> Result<(), String> {
    let Ok(stat) = nix::sys::statvfs::statvfs(workdir) else {
        return Ok(());
    };
    let free = stat.blocks_available().saturating_mul(stat.fragment_size());
    if needed <= free {
        return Ok(());
    }
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1_000_000.0);
    Err(format!(
        "the disk holding {} has {} free and the merge writes about {} there; nothing was changed. Make room and merge again",
        workdir.components().as_path().display(),
        mb(free),
        mb(needed)
    ))
}

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
    fn switching_trees_refreshes_stale_stat_data_only_when_git_asks_and_never_overwrites_a_change()
    {
        use crate::repo::testing::{git, repo_with_commit};
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        repo_with_commit(d);
        let from = git(d, &["rev-parse", "HEAD^{tree}"]);
        std::fs::write(d.join("README.md"), "changed\n").expect("write");
        git(d, &["commit", "-q", "-am", "change"]);
        let to = git(d, &["rev-parse", "HEAD^{tree}"]);
        git(d, &["reset", "-q", "--hard", "HEAD~1"]);
        // Touched (same content, later mtime): git calls it "not uptodate" until refreshed.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        let touch = || {
            std::fs::File::options()
                .append(true)
                .open(d.join("README.md"))
                .and_then(|f| f.set_modified(later))
                .expect("touch")
        };
        touch();
        let plain = git_output(d, &["read-tree", "-m", "-u", &from, &to]);
        assert!(plain.contains("not uptodate"), "{plain}");
        switch_tree(d, &from, &to).expect("switch after a refresh");
        assert_eq!(
            std::fs::read_to_string(d.join("README.md")).expect("read"),
            "changed\n"
        );
        // A real change on a path it writes is refused, and kept.
        git(d, &["read-tree", "-m", "-u", &to, &from]);
        std::fs::write(d.join("README.md"), "mine\n").expect("write");
        assert!(switch_tree(d, &from, &to).is_err());
        assert_eq!(
            std::fs::read_to_string(d.join("README.md")).expect("read"),
            "mine\n"
        );
    }

    /// stderr of a git command expected to fail.
    fn git_output(dir: &Path, args: &[&str]) -> String {
        let out = sidekick_testkit::git_command(dir)
            .env("LC_ALL", "C")
            .args(args)
            .output()
            .expect("git runs");
        assert!(!out.status.success(), "git {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

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
    fn dirty_paths_in_nested_folders_agree_with_git_status() {
        use crate::repo::testing::{git, repo_with_commit};
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        repo_with_commit(d);
        let write = |p: &str, c: &str| {
            if let Some(parent) = Path::new(p).parent() {
                std::fs::create_dir_all(d.join(parent)).expect("mkdir");
            }
            std::fs::write(d.join(p), c).expect("write");
        };
        for p in [
            "a/b/clean.txt",
            "a/b/edited.txt",
            "a/b/staged.txt",
            "a/b/gone.txt",
            "a/c/tool.sh",
            "a/c/link-target.txt",
            "x/y/z/deep.txt",
            "x/y/z/unmerged.txt",
            "gone-folder/f.txt",
        ] {
            write(p, &format!("{p}\n"));
        }
        std::os::unix::fs::symlink("link-target.txt", d.join("a/c/link")).expect("ln");
        write(".gitignore", "*.log\n");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "files"]);
        // A conflict on x/y/z/unmerged.txt, as a merge leaves one.
        git(d, &["checkout", "-q", "-b", "other"]);
        write("x/y/z/unmerged.txt", "theirs\n");
        git(d, &["commit", "-q", "-am", "theirs"]);
        git(d, &["checkout", "-q", "main"]);
        write("x/y/z/unmerged.txt", "ours\n");
        git(d, &["commit", "-q", "-am", "ours"]);
        let _ = sidekick_testkit::git_command(d)
            .args(["merge", "-q", "other"])
            .output();
        write("a/b/edited.txt", "edited\n");
        write("a/b/staged.txt", "staged\n");
        git(d, &["add", "a/b/staged.txt"]);
        std::fs::remove_file(d.join("a/b/gone.txt")).expect("rm");
        std::fs::set_permissions(
            d.join("a/c/tool.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        std::fs::remove_file(d.join("a/c/link")).expect("rm");
        std::os::unix::fs::symlink("tool.sh", d.join("a/c/link")).expect("ln");
        write("a/b/new.txt", "untracked\n");
        write("a/b/debug.log", "ignored\n");
        write("new-folder/n.txt", "untracked in a new folder\n");
        std::fs::remove_dir_all(d.join("gone-folder")).expect("rm");
        let asked: Vec<String> = [
            "a/b/clean.txt",
            "a/b/edited.txt",
            "a/b/staged.txt",
            "a/b/gone.txt",
            "a/b/new.txt",
            "a/b/debug.log",
            "a/b/never.txt",
            "a/c/tool.sh",
            "a/c/link",
            "a/c/link-target.txt",
            "x/y/z/deep.txt",
            "x/y/z/unmerged.txt",
            "gone-folder/f.txt",
            "new-folder/n.txt",
            "nowhere/at/all.txt",
        ]
        .map(String::from)
        .to_vec();
        let ours = dirty_paths_in(&Repository::open(d).expect("open"), &asked).expect("dirty");
        // git's view of the same paths (ignored files count: they are the user's data).
        let mut status = sidekick_testkit::git_command(d);
        status
            .args([
                "status",
                "--porcelain",
                "--untracked-files=all",
                "--ignored",
                "--",
            ])
            .args(&asked);
        let out = status.output().expect("git status");
        let mut theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l[3..].to_string())
            .collect();
        theirs.sort();
        assert_eq!(ours, theirs);
        assert_eq!(
            ours,
            vec![
                "a/b/debug.log",
                "a/b/edited.txt",
                "a/b/gone.txt",
                "a/b/new.txt",
                "a/b/staged.txt",
                "a/c/link",
                "a/c/tool.sh",
                "gone-folder/f.txt",
                "new-folder/n.txt",
                "x/y/z/unmerged.txt",
            ]
        );
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
