//! Warm worktrees: a repository's small pool of worktrees already checked out (detached, on
//! no branch), beside its jobs' worktrees as `.warm-ID` folders, so a job starts without
//! waiting for a checkout. One is made in two steps: `git worktree add --no-checkout` under the
//! repository's worktree lock (quick), then the files, outside the lock and at low CPU and I/O
//! priority, so a job's own git work never waits for it; a mark in the worktree's admin folder
//! (the commit it holds) says it is complete. A job claims one by checking that it is still
//! exactly as made (no change, no stray file: one edited by hand is thrown away, never used),
//! switching it to a new branch at the job's base (git's checkout: the cost follows the files
//! that differ), and moving it to the job's path.

use std::path::{Path, PathBuf};

use crate::repo::{self, admin_dir, low_priority, RepoError};
use crate::watch::Watch;

/// The folder-name prefix of a warm worktree in a repository's worktree group.
pub const PREFIX: &str = ".warm-";
/// In a warm worktree's admin folder: the commit it holds, written once its files are there.
const MARK: &str = "sidekick-warm";
/// `git worktree lock`'s reason for a warm worktree.
const REASON: &str = "sidekick warm worktree (not a job)";
/// In a warm worktree's admin folder: the setup that ran in it ahead of time ([`Prepared`]).
const SETUP: &str = "sidekick-setup";
/// In a warm worktree's admin folder: that setup's output.
pub const SETUP_LOG: &str = "sidekick-setup.log";

type Result<T> = std::result::Result<T, RepoError>;

/// A warm worktree found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warm {
    pub path: PathBuf,
    /// The commit it holds; `None` while it is being made (or when making it died).
    pub commit: Option<String>,
}

/// The warm worktrees in `group` (a repository's folder of worktrees), oldest first.
pub fn list(group: &Path) -> Vec<Warm> {
    let Ok(entries) = std::fs::read_dir(group) else {
        return Vec::new();
    };
    let mut out: Vec<Warm> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| {
            let path = e.path();
            let commit = admin_dir(&path)
                .and_then(|a| std::fs::read_to_string(a.join(MARK)).ok())
                .map(|c| c.trim().to_string())
                .filter(|c| c.len() >= 40);
            Warm { path, commit }
        })
        .collect();
    // The names hold a ULID: sorted by name is oldest first.
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// A repository's setup run ahead of time in a warm worktree (`setup_cache`): what it ran for
/// and how, so a job that claims the worktree knows whether it may skip its own setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// [`setup_key`] of the command and lockfiles at the warm worktree's commit.
    pub key: String,
    /// It ran in a sandbox (a job whose own setup would be sandboxed uses only such results).
    pub sandboxed: bool,
}

/// What a claim hands the job: the setup that already ran in the worktree, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claimed {
    pub prepared: Option<Prepared>,
}

/// What a setup's results depend on: the command and each lockfile's content at `commit`
/// (a missing lockfile counts as such). Equal keys: the setup would do the same again.
pub fn setup_key(repo: &Path, commit: &str, setup: &str, lockfiles: &[String]) -> Result<String> {
    let r = git2::Repository::open(repo)?;
    let tree = r.revparse_single(commit)?.peel_to_tree()?;
    let mut text = format!("{}:{setup}\n", setup.len());
    for f in lockfiles {
        let id = tree
            .get_path(Path::new(f))
            .ok()
            .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
            .map(|e| e.id().to_string())
            .unwrap_or_else(|| "-".into());
        text.push_str(&format!("{}:{f} {id}\n", f.len()));
    }
    Ok(git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())?.to_string())
}

/// Makes one warm worktree of `repo` at `commit` in `group`, named `.warm-ID`; returns its path.
/// Only the registration holds the repository's worktree lock; the checkout runs at low priority.
/// `prepare` runs in it before it counts as complete (the repository's setup, for
/// `setup_cache`); its failure throws the worktree away.
pub fn make(
    repo: &Path,
    group: &Path,
    id: &str,
    commit: &str,
    prepare: impl FnOnce(&Path, &Path) -> std::result::Result<Option<Prepared>, String>,
) -> Result<PathBuf> {
    sidekick_protocol::private::dir(group)?;
    let dest = group.join(format!("{PREFIX}{id}"));
    repo::with_worktree_lock(repo, || {
        let mut cmd = repo::git(repo);
        cmd.args(["worktree", "add", "--quiet", "--no-checkout", "--detach"])
            .args(["--lock", "--reason", REASON])
            .arg(&dest)
            .arg(commit);
        repo::run(cmd, "worktree add (warm)")
    })?;
    sidekick_protocol::private::dir(&dest)?;
    let mut fill = low_priority(repo::git(&dest));
    fill.args([
        "-c",
        "checkout.workers=0",
        "-c",
        "checkout.thresholdForParallelism=1",
        "reset",
        "--quiet",
        "--hard",
        commit,
    ]);
    if let Err(e) = repo::run(fill, "checkout (warm)") {
        discard(repo, &dest);
        return Err(e);
    }
    // A fresh checkout's index entries are racily clean; refreshed now, at low priority, so
    // the claim's check does not hash every file.
    let mut refresh = low_priority(repo::git(&dest));
    refresh.args(["update-index", "-q", "--refresh"]);
    let _ = refresh.output();
    let admin = admin_dir(&dest).ok_or_else(|| {
        RepoError::Io(std::io::Error::other(format!(
            "{} has no .git file",
            dest.display()
        )))
    })?;
    match prepare(&dest, &admin) {
        Ok(None) => {}
        Ok(Some(p)) => {
            let written =
                std::fs::write(admin.join(SETUP), format!("{}\n{}\n", p.key, p.sandboxed));
            if let Err(e) = written {
                discard(repo, &dest);
                return Err(e.into());
            }
        }
        Err(why) => {
            discard(repo, &dest);
            return Err(RepoError::Io(std::io::Error::other(why)));
        }
    }
    std::fs::write(admin.join(MARK), format!("{commit}\n"))?;
    Ok(dest)
}

/// Whether the repository's setup ran ahead of time in `warm`.
pub fn is_set_up(warm: &Warm) -> bool {
    admin_dir(&warm.path).is_some_and(|a| prepared(&a).is_some())
}

/// The setup that ran ahead of time in a warm worktree (read from its admin folder).
fn prepared(admin: &Path) -> Option<Prepared> {
    let text = std::fs::read_to_string(admin.join(SETUP)).ok()?;
    let mut lines = text.lines();
    let key = lines.next()?.trim().to_string();
    let sandboxed = lines.next()?.trim() == "true";
    (!key.is_empty()).then_some(Prepared { key, sandboxed })
}

/// Checks in the background that `warm` is exactly as made, with a watch armed first: while
/// the watch sees nothing, a claim need not check again (see [`crate::watch`]).
/// `Err(why)` when it is not as made (it is of no use: throw it away); `Ok(None)` when it is but
/// cannot be watched, something touched it during the check, or git could not tell (check again
/// later).
pub fn check(warm: &Warm) -> std::result::Result<Option<Watch>, String> {
    let Some(admin) = admin_dir(&warm.path) else {
        return Err("it has no .git file".into());
    };
    // Its admin folder too (HEAD, the index); moving either folder is a change as well.
    let watch = Watch::new(&[&warm.path, &admin]);
    // Git that cannot tell now says nothing about the worktree: checked again later.
    let Ok(status) = status_of(warm, true) else {
        return Ok(None);
    };
    if let Some(why) = judge(warm, &status) {
        return Err(why);
    }
    Ok(watch.filter(Watch::untouched))
}

/// Why a warm worktree cannot be used as it is. `quietly`: at low priority, and without the
/// index refresh `git status` may write (which a watch would take for a change).
fn unusable(warm: &Warm, quietly: bool) -> Option<String> {
    match status_of(warm, quietly) {
        Ok(status) => judge(warm, &status),
        Err(e) => Some(e),
    }
}

/// `git status` of a warm worktree (porcelain v2, with its branch); `Err` when git could not
/// tell (the repository moved away, a lock).
fn status_of(warm: &Warm, quietly: bool) -> std::result::Result<String, String> {
    if warm.commit.is_none() {
        return Err("it is not complete".into());
    }
    let mut cmd = if quietly {
        low_priority(repo::git(&warm.path))
    } else {
        repo::git(&warm.path)
    };
    if quietly {
        cmd.arg("--no-optional-locks");
    }
    cmd.args([
        "status",
        "--porcelain=v2",
        "--branch",
        "--untracked-files=all",
        "--ignore-submodules=none",
    ]);
    repo::run(cmd, "status (warm)").map_err(|e| e.to_string())
}

/// Why `status` shows the warm worktree is not as made (a change, a branch, another HEAD).
fn judge(warm: &Warm, status: &str) -> Option<String> {
    let Some(commit) = &warm.commit else {
        return Some("it is not complete".into());
    };
    let mut head_ok = false;
    for line in status.lines() {
        if let Some(oid) = line.strip_prefix("# branch.oid ") {
            head_ok = oid.trim() == commit;
        } else if line.starts_with("# branch.head ") {
            if line.trim() != "# branch.head (detached)" {
                return Some("it is on a branch".into());
            }
        } else if !line.starts_with('#') {
            return Some(format!("it was changed ({line})"));
        }
    }
    (!head_ok).then(|| "its HEAD moved".to_string())
}

/// The check a claim makes when a watch vouches for the files: HEAD still the marked commit.
fn head_moved(warm: &Warm) -> Option<String> {
    let head = admin_dir(&warm.path).and_then(|a| std::fs::read_to_string(a.join("HEAD")).ok());
    match (head, &warm.commit) {
        (Some(h), Some(c)) if h.trim() == c => None,
        _ => Some("its HEAD moved".into()),
    }
}

/// Turns `warm` into a job's worktree: checked to be exactly as made (in full, unless
/// `checked`, the watch [`check`] armed, saw nothing since), switched to a new `branch` at
/// `commit`, moved to `dest` and locked with `lock_reason`. Any failure throws the warm worktree
/// away and says why; the caller then makes the job's worktree the usual way.
pub fn claim(
    repo: &Path,
    warm: &Warm,
    checked: Option<Watch>,
    dest: &Path,
    branch: &str,
    commit: &str,
    lock_reason: &str,
) -> std::result::Result<Claimed, String> {
    let attempt = || -> std::result::Result<Claimed, String> {
        let vouched = checked.as_ref().is_some_and(Watch::untouched);
        let why = if vouched {
            head_moved(warm)
        } else {
            unusable(warm, false)
        };
        if let Some(why) = why {
            return Err(why);
        }
        if warm.commit.as_deref() == Some(commit) {
            // Already at the job's base: the new branch and HEAD only (no index or file work,
            // which `checkout -b` would still do for a whole tree).
            let mut make_branch = repo::git(repo);
            make_branch.args(["branch", "--no-track", branch, commit]);
            repo::run(make_branch, "branch (claim)").map_err(|e| e.to_string())?;
            let mut head = repo::git(&warm.path);
            head.args(["symbolic-ref", "-m", "sidekick: a job's worktree"])
                .args(["HEAD", &format!("refs/heads/{branch}")]);
            if let Err(e) = repo::run(head, "symbolic-ref (claim)") {
                let _ = repo::git(repo).args(["branch", "-D", branch]).output();
                return Err(e.to_string());
            }
        } else {
            let mut switch = repo::git(&warm.path);
            switch
                .args([
                    "-c",
                    "checkout.workers=0",
                    "-c",
                    "checkout.thresholdForParallelism=1",
                ])
                .args(["checkout", "--quiet", "-b", branch, commit]);
            repo::run(switch, "checkout (claim)").map_err(|e| e.to_string())?;
        }
        let admin = admin_dir(&warm.path);
        // What `git worktree unlock`, `move` and `lock` do, as three file operations: the
        // folder renamed (same file system), git's record of where it is, and the lock.
        let moved = repo::with_worktree_lock(repo, || -> std::result::Result<(), String> {
            let admin = admin.as_ref().ok_or("it has no .git file")?;
            if dest.exists() {
                return Err(format!("{} exists", dest.display()));
            }
            std::fs::rename(&warm.path, dest).map_err(|e| e.to_string())?;
            let recorded = std::fs::write(
                admin.join("gitdir"),
                format!("{}\n", dest.join(".git").display()),
            )
            .and_then(|()| std::fs::write(admin.join("locked"), lock_reason));
            if let Err(e) = recorded {
                let _ = std::fs::rename(dest, &warm.path);
                return Err(e.to_string());
            }
            Ok(())
        });
        if let Err(e) = moved {
            // The branch this claim made goes with the worktree it was made in.
            let _ = repo::git(repo).args(["branch", "-D", branch]).output();
            return Err(e);
        }
        let mut claimed = Claimed::default();
        if let Some(admin) = admin {
            let _ = std::fs::remove_file(admin.join(MARK));
            claimed.prepared = prepared(&admin);
            let _ = std::fs::remove_file(admin.join(SETUP));
        }
        Ok(claimed)
    };
    attempt().inspect_err(|_| {
        if warm.path.exists() {
            discard(repo, &warm.path);
        }
    })
}

/// Throws a warm worktree away (its folder and git's record of it).
pub fn discard(repo: &Path, path: &Path) {
    repo::with_worktree_lock(repo, || {
        let _ = repo::git(repo)
            .arg("worktree")
            .arg("unlock")
            .arg(path)
            .output();
        let removed = repo::git(repo)
            .args(["worktree", "remove", "--force", "--force"])
            .arg(path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !removed {
            let _ = std::fs::remove_dir_all(path);
            let _ = repo::git(repo).args(["worktree", "prune"]).output();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &Path, _: &Path) -> std::result::Result<Option<Prepared>, String> {
        Ok(None)
    }
    use crate::repo::testing::git;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, String) {
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir");
        sidekick_testkit::repo_with_commit(&repo).expect("repo");
        let head = git(&repo, &["rev-parse", "HEAD"]);
        let group = tmp.path().join("worktrees/repo-1");
        (tmp, repo, group, head)
    }

    #[test]
    fn a_setup_run_ahead_of_time_goes_with_the_worktree_to_its_job() {
        let (_tmp, repo, group, first) = setup();
        std::fs::write(repo.join(".gitignore"), "deps/\n").expect("write");
        std::fs::write(repo.join("deps.lock"), "a 1\n").expect("write");
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "lockfile"]);
        let with_lock = git(&repo, &["rev-parse", "HEAD"]);
        let key = |c: &str| setup_key(&repo, c, "make deps", &["deps.lock".into()]).expect("key");
        assert_ne!(key(&first), key(&with_lock), "the lockfile appeared");
        // The setup's result: ignored files (a clean status), and its record.
        let made = make(&repo, &group, "01a", &with_lock, |dest, admin| {
            assert!(admin.is_dir());
            std::fs::create_dir(dest.join("deps")).map_err(|e| e.to_string())?;
            std::fs::write(dest.join("deps/a"), "built").map_err(|e| e.to_string())?;
            Ok(Some(Prepared {
                key: key(&with_lock),
                sandboxed: true,
            }))
        })
        .expect("made");
        assert_eq!(list(&group).len(), 1);
        assert_eq!(check(&list(&group)[0]).map(|_| ()), Ok(()), "as made");
        // Another file changes; the lockfile does not: the same key.
        std::fs::write(repo.join("README.md"), "changed\n").expect("write");
        git(&repo, &["commit", "-qam", "readme"]);
        let later = git(&repo, &["rev-parse", "HEAD"]);
        assert_eq!(key(&later), key(&with_lock));
        let dest = group.join("brave-otter");
        let claimed = claim(
            &repo,
            &list(&group)[0],
            None,
            &dest,
            "sidekick/b",
            &later,
            "job",
        )
        .expect("claimed");
        assert_eq!(
            claimed.prepared,
            Some(Prepared {
                key: key(&with_lock),
                sandboxed: true
            })
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("deps/a")).expect("kept"),
            "built"
        );
        assert!(!made.exists());
        let admin = admin_dir(&dest).expect("admin");
        assert!(
            !admin.join(SETUP).exists(),
            "the record is the job's now, once"
        );
        // A setup that fails: the worktree is thrown away, nothing is left in the pool.
        let err = make(&repo, &group, "01b", &later, |_, _| {
            Err("setup failed".into())
        })
        .expect_err("refused");
        assert!(err.to_string().contains("setup failed"), "{err}");
        assert!(list(&group).is_empty());
        assert!(!group.join(format!("{PREFIX}01b")).exists());
    }

    #[test]
    fn a_warm_worktree_is_made_claimed_onto_a_branch_and_moved() {
        let (_tmp, repo, group, first) = setup();
        let made = make(&repo, &group, "01a", &first, none).expect("made");
        let warm = list(&group);
        assert_eq!(
            warm,
            vec![Warm {
                path: made.clone(),
                commit: Some(first.clone())
            }]
        );
        // The job starts from a later commit: the claim moves the files there.
        std::fs::write(repo.join("new.txt"), "new\n").expect("write");
        git(&repo, &["add", "new.txt"]);
        git(&repo, &["commit", "-q", "-m", "second"]);
        let second = git(&repo, &["rev-parse", "HEAD"]);
        let dest = group.join("brave-otter");
        claim(
            &repo,
            &warm[0],
            None,
            &dest,
            "sidekick/brave-otter",
            &second,
            "job x",
        )
        .expect("claimed");
        assert!(list(&group).is_empty(), "no longer warm");
        assert_eq!(
            std::fs::read_to_string(dest.join("new.txt")).expect("read"),
            "new\n"
        );
        assert_eq!(
            git(&dest, &["rev-parse", "--abbrev-ref", "HEAD"]),
            "sidekick/brave-otter"
        );
        assert_eq!(git(&dest, &["rev-parse", "HEAD"]), second);
        assert_eq!(git(&dest, &["status", "--porcelain"]), "");
        let listed = git(&repo, &["worktree", "list", "--porcelain"]);
        assert!(
            listed.contains(&format!("worktree {}", dest.display())),
            "{listed}"
        );
        assert!(listed.contains("locked job x"), "{listed}");

        // At the job's own base already: only the branch and HEAD change; git agrees on all.
        make(&repo, &group, "01b", &second, none).expect("made");
        let warm = list(&group);
        let dest = group.join("calm-heron");
        claim(
            &repo,
            &warm[0],
            None,
            &dest,
            "sidekick/calm-heron",
            &second,
            "job y",
        )
        .expect("claimed");
        assert_eq!(
            git(&dest, &["symbolic-ref", "HEAD"]),
            "refs/heads/sidekick/calm-heron"
        );
        assert_eq!(git(&repo, &["rev-parse", "sidekick/calm-heron"]), second);
        assert_eq!(git(&dest, &["status", "--porcelain"]), "");
        let listed = git(&repo, &["worktree", "list", "--porcelain"]);
        let entry = listed
            .split("\n\n")
            .find(|b| b.starts_with(&format!("worktree {}\n", dest.display())))
            .unwrap_or_else(|| panic!("not listed: {listed}"));
        assert!(
            entry.contains("branch refs/heads/sidekick/calm-heron"),
            "{entry}"
        );
        assert!(entry.contains("locked job y"), "{entry}");
        // git can still prune, move and remove it the usual way.
        git(&repo, &["worktree", "prune"]);
        git(&repo, &["worktree", "unlock", &dest.display().to_string()]);
        git(&repo, &["worktree", "remove", &dest.display().to_string()]);
        assert!(!dest.exists());
    }

    #[test]
    fn a_watched_one_is_claimed_on_the_watchs_word_and_thrown_away_once_touched() {
        let (_tmp, repo, group, head) = setup();
        make(&repo, &group, "01a", &head, none).expect("made");
        make(&repo, &group, "01b", &head, none).expect("made");
        let c = make(&repo, &group, "01c", &head, none).expect("made");
        // Spoiled before its check: the check says so and arms nothing.
        std::fs::write(c.join("stray.txt"), "x\n").expect("write");
        let warm = list(&group);
        let spoiled = check(&warm[2]).expect_err("a spoiled one is not vouched for");
        assert!(spoiled.contains("stray.txt"), "{spoiled}");
        let watched = |w: &Warm| check(w).ok().flatten().expect("watched");
        let (a, b) = (watched(&warm[0]), watched(&warm[1]));
        // The second is touched after its check, deep down: its watch saw it.
        std::fs::create_dir_all(warm[1].path.join("sub")).expect("mkdir");
        std::fs::write(warm[1].path.join("sub/deep.txt"), "x\n").expect("write");
        assert!(!b.untouched());
        let dest = group.join("job");
        let err = claim(
            &repo,
            &warm[1],
            Some(b),
            &dest,
            "sidekick/job",
            &head,
            "job",
        )
        .expect_err("refused");
        assert!(err.contains("changed"), "{err}");
        assert!(!warm[1].path.exists() && !dest.exists());
        // The untouched one is claimed on its watch's word, and git agrees it is clean.
        assert!(a.untouched());
        claim(
            &repo,
            &warm[0],
            Some(a),
            &dest,
            "sidekick/job",
            &head,
            "job",
        )
        .expect("claimed");
        assert_eq!(git(&dest, &["status", "--porcelain"]), "");
        assert_eq!(
            git(&dest, &["symbolic-ref", "HEAD"]),
            "refs/heads/sidekick/job"
        );
        // Its HEAD moved by hand after the check (in the admin folder): seen as well.
        let d = make(&repo, &group, "01d", &head, none).expect("made");
        let warm_d = list(&group)
            .into_iter()
            .find(|w| w.path == d)
            .expect("listed");
        let w = watched(&warm_d);
        std::fs::write(
            admin_dir(&d).expect("admin").join("HEAD"),
            "0000000000000000000000000000000000000000\n",
        )
        .expect("write");
        let dest2 = group.join("job2");
        let err = claim(
            &repo,
            &warm_d,
            Some(w),
            &dest2,
            "sidekick/job2",
            &head,
            "job",
        )
        .expect_err("refused");
        assert!(!err.is_empty());
        assert_eq!(git(&repo, &["branch", "--list", "sidekick/job2"]), "");
    }

    #[test]
    fn one_edited_by_hand_is_thrown_away_not_used() {
        let (_tmp, repo, group, head) = setup();
        for (id, spoil) in [
            ("01a", "edit"),
            ("01b", "stray"),
            ("01c", "branch"),
            ("01d", "unfinished"),
        ] {
            let made = make(&repo, &group, id, &head, none).expect("made");
            match spoil {
                "edit" => std::fs::write(made.join("README.md"), "changed\n").expect("write"),
                "stray" => std::fs::write(made.join("stray.txt"), "x\n").expect("write"),
                "branch" => {
                    git(&made, &["checkout", "-q", "-b", "someones"]);
                }
                _ => {
                    let admin = admin_dir(&made).expect("admin");
                    std::fs::remove_file(admin.join(MARK)).expect("unmark");
                }
            }
        }
        for w in list(&group) {
            let dest = group.join("job");
            let err =
                claim(&repo, &w, None, &dest, "sidekick/job", &head, "job").expect_err("refused");
            assert!(!err.is_empty());
            assert!(!w.path.exists(), "thrown away: {}", w.path.display());
            assert!(!dest.exists());
        }
        let listed = git(&repo, &["worktree", "list"]);
        assert_eq!(listed.lines().count(), 1, "{listed}");
        // The branch a refused claim would have made does not exist.
        assert_eq!(git(&repo, &["branch", "--list", "sidekick/job"]), "");
    }
}
