//! The merge journal (safety rule 6): before a merge or undo touches the user's checkouts, what
//! it is about to do is written down (fsync'd) in `$SIDEKICK_HOME/journal/`. If the host dies
//! half way, the next host reads it back and either finishes (the branch already moved: the
//! user's set-aside changes are put back) or rolls back (every checkout's files and index are
//! returned to the branch's commit, then the set-aside changes are put back). The same rollback
//! serves a merge that fails in process (a full disk in the middle of `git read-tree`).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository, Tree};

use super::checkout;
use crate::repo::{git, run, RepoError};

/// One branch move in flight.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub id: String,
    pub job_id: String,
    /// What was under way, for the user ("merge of job brave-otter into main").
    pub what: String,
    pub repo: PathBuf,
    pub target_ref: String,
    pub from_commit: String,
    pub from_tree: String,
    pub to_commit: String,
    pub to_tree: String,
    /// The working trees that have the target checked out.
    pub checkouts: Vec<PathBuf>,
    /// The paths that differ between the two trees.
    pub changed: Vec<String>,
    /// For a merge of all of a job's files: how the job is recorded as merged if the branch
    /// moved before the host died (`None` for an undo or a merge of some files).
    #[serde(default)]
    pub merge_strategy: Option<String>,
    /// The process group of the host that wrote the entry. Its git commands outlive a host
    /// killed with SIGKILL and go on writing; the repair waits for them to end first.
    #[serde(default)]
    pub host_pgid: i32,
    /// A rollback was started and did not finish (a full disk, a crash): every path of
    /// `changed` that holds neither version is git's half-written file, not the user's (the
    /// merge checked them clean, or set them aside, before it wrote), and is put back. Kept in
    /// the entry's file name ([`Entry::mark_rollback_pending`]), which needs no room to change.
    #[serde(skip)]
    pub rollback_pending: bool,
}

impl Entry {
    /// The message of the stashes this move makes, so they can be found again after a crash.
    pub fn stash_message(&self) -> String {
        format!("sidekick: autostash before a merge ({})", self.id)
    }

    fn file(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}.json"))
    }

    fn pending_file(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}{ROLLBACK_PENDING}"))
    }

    /// Records that this move's rollback is under way and unfinished, by renaming its file
    /// (a full disk refuses new files, not a rename).
    pub fn mark_rollback_pending(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::rename(
            Entry::file(dir, &self.id),
            Entry::pending_file(dir, &self.id),
        )?;
        std::fs::File::open(dir)?.sync_all()
    }

    /// Writes the entry durably (temporary file, fsync, rename, fsync of the folder).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        sidekick_protocol::private::dir(dir)?;
        let path = Entry::file(dir, &self.id);
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let mut f = sidekick_protocol::private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    }

    /// The move is over (done or rolled back): forget it.
    pub fn remove(&self, dir: &Path) {
        // Under either name (its rollback may have been marked since it was read).
        let removed = [
            Entry::pending_file(dir, &self.id),
            Entry::file(dir, &self.id),
        ]
        .iter()
        .map(std::fs::remove_file)
        .filter(Result::is_ok)
        .count();
        if removed == 0 {
            tracing::error!(journal = %self.id, "cannot remove a finished merge's journal entry");
        }
    }
}

/// The ending of an entry's file name once its rollback is pending.
const ROLLBACK_PENDING: &str = ".rollback-pending.json";

/// Every entry left in `dir` (each a merge a host did not finish).
pub fn pending(dir: &Path) -> Vec<Entry> {
    let Ok(list) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Entry> = list
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let text = std::fs::read(e.path()).ok()?;
            let pending = e.file_name().to_string_lossy().ends_with(ROLLBACK_PENDING);
            match serde_json::from_slice::<Entry>(&text) {
                Ok(mut entry) => {
                    entry.rollback_pending = pending;
                    Some(entry)
                }
                Err(err) => {
                    tracing::error!(path = %e.path().display(), error = %err, "unreadable merge journal entry");
                    None
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// What repairing one interrupted move did, in one or two sentences for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    pub job_id: String,
    /// The entry is gone; `false` when the repair must be tried again (git was busy).
    pub done: bool,
    /// The branch had moved: the move is complete (else it was rolled back or left alone).
    pub completed: bool,
    pub message: String,
}

/// Finishes or rolls back one interrupted move. The entry is removed when that succeeded.
pub fn repair(dir: &Path, e: &Entry) -> Repaired {
    let outcome = repair_inner(e);
    let (done, completed, message) = match outcome {
        Ok((completed, message)) => (true, completed, message),
        Err(message) => (false, false, message),
    };
    if done {
        e.remove(dir);
    }
    Repaired {
        job_id: e.job_id.clone(),
        done,
        completed,
        message,
    }
}

fn repair_inner(e: &Entry) -> Result<(bool, String), String> {
    let repo = Repository::open(&e.repo)
        .map_err(|err| format!("cannot open {}: {}", e.repo.display(), err.message()))?;
    let tip = repo
        .refname_to_id(&e.target_ref)
        .map(|o| o.to_string())
        .unwrap_or_default();
    // Git commands the dead host started may still be finishing (a stash push is several
    // processes, not all of them under index.lock); give them time to end.
    let own = nix::unistd::getpgrp().as_raw();
    // Whether any process is left in the dead host's group (signal 0 only checks).
    let group_alive =
        |pgid: i32| nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None).is_ok();
    for _ in 0..300 {
        if e.host_pgid <= 1 || e.host_pgid == own || !group_alive(e.host_pgid) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for c in &e.checkouts {
        wait_for_index_lock(c).map_err(|lock| {
            format!(
                "the interrupted {} could not be repaired yet: {} is held; it is tried again when the host next starts",
                e.what,
                lock.display()
            )
        })?;
    }
    let branch = e.target_ref.trim_start_matches("refs/heads/");
    let mut notes = Vec::new();
    let completed = tip == e.to_commit;
    let verdict = if completed {
        format!(
            "the interrupted {} had moved {branch} already; it is complete",
            e.what
        )
    } else if tip == e.from_commit {
        for c in &e.checkouts {
            let left = put_back(c, e, e.rollback_pending).map_err(|err| {
                format!(
                    "rolling back the interrupted {} in {} failed: {err}",
                    e.what,
                    c.display()
                )
            })?;
            if !left.is_empty() {
                notes.push(format!(
                    "these files in {} hold changes that are not the merge's and were left as they are: {}",
                    c.display(),
                    crate::repo::few(&left)
                ));
            }
        }
        format!(
            "the interrupted {} was rolled back: {branch} and its checkout are as they were",
            e.what
        )
    } else {
        format!(
            "the interrupted {} was not rolled back: {branch} has moved on since (to {}), so its checkout was left as it is",
            e.what,
            tip.get(..10).unwrap_or(&tip)
        )
    };
    for c in &e.checkouts {
        for stash in stashes_named(c, &e.stash_message()) {
            if checkout::stash_is_in_place(c, &stash, &e.changed)
                && checkout::drop_stash(c, &stash).is_ok()
            {
                // The stash push died (SIGPIPE with its host) before it reset the files.
                notes.push(format!("your changes in {} were never moved", c.display()));
                continue;
            }
            match checkout::unstash(c, &stash) {
                Ok(true) => notes.push(format!(
                    "your changes set aside in {} are back",
                    c.display()
                )),
                _ => notes.push(format!(
                    "your changes set aside before the merge could not be put back cleanly; they are kept in {}",
                    checkout::describe_stash(c, &stash)
                )),
            }
        }
    }
    notes.insert(0, verdict);
    Ok((completed, notes.join("; ")))
}

fn wait_for_index_lock(workdir: &Path) -> Result<(), PathBuf> {
    let lock = Repository::open(workdir)
        .map(|r| r.path().join("index.lock"))
        .map_err(|_| workdir.to_path_buf())?;
    for _ in 0..100 {
        if !lock.exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(lock)
}

/// The stash commits in `workdir` whose message ends with `message`, newest first.
fn stashes_named(workdir: &Path, message: &str) -> Vec<String> {
    let mut cmd = git(workdir);
    cmd.args(["stash", "list", "--format=%H %gs"]);
    run(cmd, "stash list")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, subject)| subject.ends_with(message))
        .map(|(id, _)| id.to_string())
        .collect()
}

type Side = Option<(Oid, i32)>;

fn at(tree: &Tree<'_>, path: &str) -> Side {
    tree.get_path(Path::new(path))
        .ok()
        .filter(|e| e.kind() != Some(ObjectType::Tree))
        .map(|e| (e.id(), e.filemode()))
}

/// What the working tree holds at `path`, as git would record it (no filters applied).
fn on_disk(path: &Path) -> Result<Side, RepoError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path)?;
        let id = Oid::hash_object(ObjectType::Blob, target.as_os_str().as_encoded_bytes())?;
        return Ok(Some((id, 0o120000)));
    }
    if !meta.is_file() {
        return Ok(None);
    }
    let mode = if meta.permissions().mode() & 0o111 != 0 {
        0o100755
    } else {
        0o100644
    };
    Ok(Some((Oid::hash_file(ObjectType::Blob, path)?, mode)))
}

/// Returns `e.changed` in `workdir` to the `from` tree: a path whose file holds the `to`
/// content gets the `from` content back (or is removed), a path that holds neither is left
/// alone and returned (someone changed it since); then the index entries of all those paths
/// are reset to HEAD (which did not move). Paths outside `e.changed` are never touched.
/// `just_written`: the move failed moments ago in this process, so a path holding neither
/// version is a file git left half written (a full disk), and is put back too.
pub fn put_back(workdir: &Path, e: &Entry, just_written: bool) -> Result<Vec<String>, RepoError> {
    let repo = Repository::open(workdir)?;
    let from = repo.find_tree(Oid::from_str(&e.from_tree)?)?;
    let to = repo.find_tree(Oid::from_str(&e.to_tree)?)?;
    let mut left = Vec::new();
    let mut removals = Vec::new();
    let mut writes = Vec::new();
    for p in &e.changed {
        let (was, merged) = (at(&from, p), at(&to, p));
        let full = workdir.join(p);
        let now = on_disk(&full)?;
        if now == was || was == merged {
            continue;
        }
        if now != merged && !just_written {
            left.push(p.clone());
            continue;
        }
        match was {
            None if now.is_some() => removals.push(full),
            None => {}
            Some((id, mode)) => writes.push((full, id, mode)),
        }
    }
    // Removals first: on a full disk they make the room the writes need.
    for full in removals {
        std::fs::remove_file(&full)?;
        remove_empty_parents(workdir, &full);
    }
    for (full, id, mode) in writes {
        write_blob(&repo, &full, id, mode)?;
    }
    // The index goes back to what the checkout's HEAD holds (the branch did not move).
    let mut cmd = git(workdir);
    cmd.args([
        "reset",
        "-q",
        "HEAD",
        "--pathspec-from-file=-",
        "--pathspec-file-nul",
    ]);
    let list: Vec<u8> = e
        .changed
        .iter()
        .flat_map(|p| format!(":(literal){p}\0").into_bytes())
        .collect();
    let out = crate::repo::run_with_stdin(cmd, &list)?;
    if !out.status.success() {
        return Err(RepoError::Git {
            what: "reset of the merged paths".into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(left)
}

fn write_blob(repo: &Repository, path: &Path, id: Oid, mode: i32) -> Result<(), RepoError> {
    let blob = repo.find_blob(id)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.sidekick-restore"));
    let _ = std::fs::remove_file(&tmp);
    if mode == 0o120000 {
        use std::os::unix::ffi::OsStrExt;
        let target = std::ffi::OsStr::from_bytes(blob.content());
        std::os::unix::fs::symlink(target, &tmp)?;
    } else {
        std::fs::write(&tmp, blob.content())?;
        if mode == 0o100755 {
            let mut perm = std::fs::metadata(&tmp)?.permissions();
            perm.set_mode(perm.mode() | ((perm.mode() & 0o444) >> 2));
            std::fs::set_permissions(&tmp, perm)?;
        }
    }
    if let Err(err) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err.into());
    }
    Ok(())
}

fn remove_empty_parents(workdir: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == workdir || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::git;

    struct Scene {
        _tmp: tempfile::TempDir,
        repo: PathBuf,
        journal: PathBuf,
        entry: Entry,
    }

    const TEN: &str = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";

    /// main at A; commit B (not on main) edits line 1 of a.txt, deletes dir/b.txt, adds
    /// new/c.txt, makes run.sh executable and adds a symlink. The user has an unrelated dirty
    /// file and an edit to line 10 of a.txt, set aside in a stash as an autostash would.
    fn scene() -> Scene {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["config", "user.name", "Test"]);
        git(&repo, &["config", "user.email", "test@example.com"]);
        std::fs::create_dir(repo.join("dir")).expect("mkdir");
        std::fs::write(repo.join("a.txt"), TEN).expect("write");
        std::fs::write(repo.join("dir/b.txt"), "b\n").expect("write");
        std::fs::write(repo.join("run.sh"), "echo\n").expect("write");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "A"]);
        let a = git(&repo, &["rev-parse", "HEAD"]);
        git(&repo, &["checkout", "-q", "-b", "side"]);
        std::fs::write(repo.join("a.txt"), TEN.replacen("1\n", "one\n", 1)).expect("write");
        git(&repo, &["rm", "-q", "dir/b.txt"]);
        std::fs::create_dir(repo.join("new")).expect("mkdir");
        std::fs::write(repo.join("new/c.txt"), "c\n").expect("write");
        std::os::unix::fs::symlink("a.txt", repo.join("link")).expect("link");
        std::fs::set_permissions(repo.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "B"]);
        let b = git(&repo, &["rev-parse", "HEAD"]);
        git(&repo, &["checkout", "-q", "main"]);
        let tree = |c: &str| git(&repo, &["rev-parse", &format!("{c}^{{tree}}")]);
        let changed = crate::treemerge::changed_paths(
            &Repository::open(&repo).expect("open"),
            Oid::from_str(&tree(&a)).expect("oid"),
            Oid::from_str(&tree(&b)).expect("oid"),
        )
        .expect("changed");
        let entry = Entry {
            id: "01journaltest".into(),
            job_id: "01job".into(),
            what: "merge of job test-job into main".into(),
            repo: repo.clone(),
            target_ref: "refs/heads/main".into(),
            from_commit: a.clone(),
            from_tree: tree(&a),
            to_commit: b.clone(),
            to_tree: tree(&b),
            checkouts: vec![repo.clone()],
            changed,
            merge_strategy: Some("squash".into()),
            host_pgid: 0,
            rollback_pending: false,
        };
        std::fs::write(repo.join("notes.txt"), "the user's own\n").expect("write");
        std::fs::write(repo.join("a.txt"), TEN.replace("10\n", "ten, mine\n")).expect("write");
        checkout::stash_paths(&repo, &["a.txt".into()], &entry.stash_message()).expect("stash");
        let journal = tmp.path().join("journal");
        entry.write(&journal).expect("journal");
        Scene {
            _tmp: tmp,
            repo,
            journal,
            entry,
        }
    }

    fn status(repo: &Path) -> String {
        git(repo, &["status", "--porcelain"])
    }

    fn assert_back_at_a_with_the_users_work(s: &Scene, r: &Repaired) {
        assert!(r.done && !r.completed, "{r:?}");
        assert!(r.message.contains("rolled back"), "{}", r.message);
        assert!(
            r.message.contains("are back") || r.message.contains("never moved"),
            "{}",
            r.message
        );
        assert_eq!(git(&s.repo, &["rev-parse", "main"]), s.entry.from_commit);
        assert_eq!(status(&s.repo), " M a.txt\n?? notes.txt".trim());
        assert_eq!(
            std::fs::read_to_string(s.repo.join("a.txt")).expect("read"),
            TEN.replace("10\n", "ten, mine\n")
        );
        assert!(!s.repo.join("new").exists() && !s.repo.join("link").exists());
        assert_eq!(git(&s.repo, &["stash", "list"]), "");
        assert!(pending(&s.journal).is_empty());
    }

    #[test]
    fn a_crash_after_the_checkout_moved_but_before_the_branch_is_rolled_back() {
        let s = scene();
        checkout::switch_tree(&s.repo, &s.entry.from_tree, &s.entry.to_tree).expect("switch");
        assert_eq!(pending(&s.journal), vec![s.entry.clone()]);
        let r = repair(&s.journal, &s.entry);
        assert_back_at_a_with_the_users_work(&s, &r);
    }

    #[test]
    fn a_crash_in_the_middle_of_read_tree_is_rolled_back_file_by_file() {
        let s = scene();
        // Some files written, the index never replaced (read-tree writes it last).
        std::fs::write(s.repo.join("a.txt"), TEN.replacen("1\n", "one\n", 1)).expect("write");
        std::fs::create_dir(s.repo.join("new")).expect("mkdir");
        std::fs::write(s.repo.join("new/c.txt"), "c\n").expect("write");
        std::fs::remove_file(s.repo.join("dir/b.txt")).expect("rm");
        let r = repair(&s.journal, &s.entry);
        assert_back_at_a_with_the_users_work(&s, &r);
        assert_eq!(
            std::fs::read_to_string(s.repo.join("dir/b.txt")).expect("read"),
            "b\n"
        );
    }

    #[test]
    fn files_git_left_half_written_under_a_pending_rollback_are_put_back() {
        let s = scene();
        // The merge wrote its files, failed, and its rollback stopped on a full disk: a.txt is
        // cut short (neither version), new/c.txt half there.
        checkout::switch_tree(&s.repo, &s.entry.from_tree, &s.entry.to_tree).expect("switch");
        std::fs::write(s.repo.join("a.txt"), "on").expect("truncated");
        std::fs::write(s.repo.join("new/c.txt"), "").expect("truncated");
        s.entry.mark_rollback_pending(&s.journal).expect("marked");
        let entry = pending(&s.journal).pop().expect("still pending");
        assert!(entry.rollback_pending);
        let r = repair(&s.journal, &entry);
        assert_back_at_a_with_the_users_work(&s, &r);
        assert!(!s.repo.join("new/c.txt").exists());
        assert!(pending(&s.journal).is_empty(), "the entry is gone");
    }

    #[test]
    fn a_file_changed_after_the_crash_is_left_alone_and_named() {
        let s = scene();
        checkout::switch_tree(&s.repo, &s.entry.from_tree, &s.entry.to_tree).expect("switch");
        std::fs::write(s.repo.join("new/c.txt"), "edited after the crash\n").expect("write");
        let r = repair(&s.journal, &s.entry);
        assert!(r.done, "{r:?}");
        assert!(r.message.contains("new/c.txt"), "{}", r.message);
        assert_eq!(
            std::fs::read_to_string(s.repo.join("new/c.txt")).expect("read"),
            "edited after the crash\n"
        );
    }

    #[test]
    fn a_crash_after_the_branch_moved_is_completed() {
        let s = scene();
        checkout::switch_tree(&s.repo, &s.entry.from_tree, &s.entry.to_tree).expect("switch");
        git(
            &s.repo,
            &["update-ref", "refs/heads/main", &s.entry.to_commit],
        );
        let r = repair(&s.journal, &s.entry);
        assert!(r.done && r.completed, "{r:?}");
        assert_eq!(git(&s.repo, &["rev-parse", "main"]), s.entry.to_commit);
        // Both the merge's line 1 and the user's line 10.
        assert_eq!(
            std::fs::read_to_string(s.repo.join("a.txt")).expect("read"),
            TEN.replacen("1\n", "one\n", 1)
                .replace("10\n", "ten, mine\n")
        );
        assert_eq!(status(&s.repo), " M a.txt\n?? notes.txt".trim());
        assert!(pending(&s.journal).is_empty());
    }

    #[test]
    fn a_held_index_lock_postpones_the_repair_and_keeps_the_entry() {
        let s = scene();
        std::fs::write(s.repo.join(".git/index.lock"), "").expect("lock");
        let r = repair(&s.journal, &s.entry);
        assert!(!r.done, "{r:?}");
        assert!(r.message.contains("index.lock"), "{}", r.message);
        assert_eq!(pending(&s.journal).len(), 1);
        std::fs::remove_file(s.repo.join(".git/index.lock")).expect("unlock");
        let r = repair(&s.journal, &s.entry);
        assert_back_at_a_with_the_users_work(&s, &r);
    }

    #[test]
    fn a_stash_saved_by_a_stash_push_that_died_before_resetting_is_dropped() {
        let s = scene();
        // Undo the scene's autostash, then save the edit again without resetting the file,
        // as `git stash push` does when SIGPIPE kills it half way.
        let old = git(&s.repo, &["rev-parse", "refs/stash"]);
        checkout::unstash(&s.repo, &old).expect("unstash");
        let saved = git(&s.repo, &["stash", "create"]);
        git(
            &s.repo,
            &["stash", "store", "-m", &s.entry.stash_message(), &saved],
        );
        let r = repair(&s.journal, &s.entry);
        assert!(r.done, "{r:?}");
        assert!(r.message.contains("were never moved"), "{}", r.message);
        assert_back_at_a_with_the_users_work(&s, &r);
    }
}
