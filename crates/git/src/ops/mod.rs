//! Review operations on a job: merge (and its preview), undo, rebase, discard, restore, gc.
//!
//! Every operation that touches the user's branches or working trees first checks what could
//! make it fail (locks, dirty paths, a moved branch) and refuses with nothing changed; what it
//! writes afterwards it rolls back on failure. The branch ref moves last, compare-and-swap.
//! A job's worktree or branch is only removed after its work is saved to
//! `refs/sidekick/snapshots/<job-id>` (safety rule 1).
//!
//! One operation per file: `merge` (plan, preview, commits, hooks), `branch` (the journalled
//! move of a branch and its checkouts, and repair), `retire` (worktree and branch away after a
//! snapshot, and back), `undo`, `discard`, `restore`, `rebase`. This file holds what they share.

use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository};
use sidekick_protocol::{CheckedOut, MergePreview, MergeRequest, MergeStrategy};

use crate::checkout::{self, Checkout};
use crate::error::{Refusal, Result, ReviewError};
use crate::repo::{self, RepoError};
use crate::{journal, treemerge};
use crate::{MergeRecord, Phase, Subject};

mod branch;
mod discard;
mod merge;
mod rebase;
mod restore;
mod retire;
mod undo;

use branch::{move_branch, Step};
pub use discard::{discard, discard_orphaned};
use merge::Plan;
pub use merge::{merge, MergeOutcome};
pub use rebase::{
    abort as abort_rebase, rebase, rebase_in_progress, rebase_mark, settle as settle_rebase,
};
pub use restore::restore;
use retire::reinstate;
pub use retire::retire;
pub use undo::undo;

/// What the host lends an operation: where removed worktrees go, the merge journal's folder,
/// and its open repositories.
pub struct Ctx<'a> {
    pub trash: PathBuf,
    pub journal: PathBuf,
    pub repos: &'a crate::Repos,
    /// `[merge] hooks`: run the repository's commit hooks on a merge's commit first.
    pub hooks: bool,
}

impl Ctx<'_> {
    fn dirty(&self, workdir: &Path, paths: &[String]) -> Result<Vec<String>> {
        Ok(self
            .repos
            .with(workdir, false, |r| checkout::dirty_paths_in(r, paths))?)
    }

    /// The paths (and their folders) that differ from `from` to `to` and hold uncommitted
    /// changes in the checkout at `workdir`.
    fn dirty_of_change(&self, workdir: &Path, from: Oid, to: Oid) -> Result<Vec<String>> {
        Ok(self.repos.with(workdir, false, |r| {
            let paths = self.repos.changed_paths(r, from, to)?;
            checkout::dirty_paths_in(r, &paths)
        })?)
    }
}

fn refused(why: Refusal, msg: impl Into<String>) -> ReviewError {
    ReviewError::Refused(why, msg.into())
}

fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

pub fn snapshot_ref(job_id: &str) -> String {
    format!("refs/sidekick/snapshots/{job_id}")
}

/// Refuses, in one sentence, when the job's repository is gone (moved or deleted): git would
/// only say "revspec not found" or "failed to resolve path '.git/worktrees/...'".
pub fn ensure_repo_there(job: &Subject) -> Result<()> {
    if !repo_is_gone(job) {
        return Ok(());
    }
    let kept = if Path::new(&job.worktree).exists() {
        format!("its work is still in the folder {}", job.worktree)
    } else {
        "its branch was in that repository".to_string()
    };
    Err(refused(Refusal::RepoGone, format!(
        "the repository of job {}, {}, is no longer there (moved or deleted?); {kept}. Put the repository back where it was to review the job",
        job.codename, job.repo
    )))
}

/// Refuses jobs that cannot be reviewed now.
fn ensure_reviewable(job: &Subject) -> Result<()> {
    ensure_repo_there(job)?;
    match &job.phase {
        Phase::Active(s) => Err(refused(
            Refusal::JobActive,
            format!(
                "job {} is still {s}; wait for it to end (or cancel it) first",
                job.codename
            ),
        )),
        Phase::Merged => Err(refused(
            Refusal::AlreadyMerged,
            format!(
                "job {} is already merged into {}",
                job.codename,
                job.merged_into.as_deref().unwrap_or("its target")
            ),
        )),
        Phase::Discarded => Err(refused(
            Refusal::JobDiscarded,
            format!("job {} was discarded", job.codename),
        )),
        _ => Ok(()),
    }
}

fn open(path: &Path) -> Result<Repository> {
    Repository::open(path).map_err(|e| ReviewError::Repo(e.into()))
}

/// The job branch's tip; a branch deleted by hand is a clear error.
fn job_tip(repo: &Repository, job: &Subject) -> Result<Oid> {
    repo.refname_to_id(&format!("refs/heads/{}", job.branch)).map_err(|_| {
        refused(Refusal::BranchGone, format!(
            "the branch {} of job {} no longer exists (deleted by hand?); its last known commit is {}",
            job.branch,
            job.codename,
            job.head_commit.as_deref().unwrap_or("unknown")
        ))
    })
}

/// A working tree's git folder: for a linked worktree, read from its `.git` file (no repository
/// is opened); otherwise what git finds there.
fn gitdir_of(worktree: &Path) -> Option<PathBuf> {
    crate::repo::linked_gitdir(worktree).or_else(|| {
        Repository::open(worktree)
            .ok()
            .map(|r| r.path().to_path_buf())
    })
}

/// Refuses while `sidekick rebase` left conflicts that are not resolved and committed yet.
fn ensure_resolved(rec: &mut Subject) -> Result<()> {
    // A rebase finished or aborted by hand since it stopped is taken in first.
    settle_rebase(rec)?;
    let wt = PathBuf::from(&rec.worktree);
    if !rec.has_worktree || !wt.exists() {
        return Ok(());
    }
    let in_rebase = rebase_in_progress(&wt);
    // Reading the whole index is only worth it when a rebase was started here.
    let unmerged = (in_rebase || !rec.conflicts.is_empty())
        && Repository::open(&wt)
            .and_then(|r| r.index())
            .map(|i| i.has_conflicts())
            .unwrap_or(false);
    if in_rebase || unmerged {
        let files = if rec.conflicts.is_empty() {
            String::new()
        } else {
            format!(" ({})", rec.conflicts.join(", "))
        };
        return Err(refused(Refusal::UnresolvedConflicts, format!(
            "job {} has unresolved conflicts{files} in {}; resolve them, `git add` them and run `git rebase --continue` there",
            rec.codename, rec.worktree
        )));
    }
    rec.conflicts.clear();
    Ok(())
}

/// Takes the branch's current tip as the job's head (it moves when the user commits in the
/// worktree or finishes a rebase) and refreshes the stats.
pub fn refresh_head(rec: &mut Subject) -> Result<()> {
    refresh_head_in(&open(Path::new(&rec.repo))?, rec)
}

/// [`refresh_head`] with the job's repository already open.
fn refresh_head_in(repo: &Repository, rec: &mut Subject) -> Result<()> {
    let Ok(tip) = repo.refname_to_id(&format!("refs/heads/{}", rec.branch)) else {
        return Ok(());
    };
    let tip = tip.to_string();
    if rec.head_commit.as_deref() != Some(tip.as_str()) {
        let (f, i, d) = repo::diff_stats(Path::new(&rec.repo), &rec.base_commit, &tip)?;
        rec.head_commit = Some(tip);
        rec.files_changed = Some(f);
        rec.insertions = Some(i);
        rec.deletions = Some(d);
    }
    Ok(())
}

/// The job's repository is gone (moved or deleted): git cannot open it.
pub fn repo_is_gone(job: &Subject) -> bool {
    // Opening a repository reads its configuration (four files): only when the cheap sign of
    // one, its `.git`, is missing.
    !Path::new(&job.repo).join(".git").exists() && Repository::open(&job.repo).is_err()
}

/// The size of a folder, in bytes (files only, symlinks not followed).
pub fn folder_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::{git, repo_with_commit};

    #[test]
    fn a_failed_ref_update_rolls_the_working_tree_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        repo_with_commit(d);
        let a = git(d, &["rev-parse", "HEAD"]);
        // A commit that would be the merge result, not on main.
        git(d, &["checkout", "-q", "-b", "side"]);
        std::fs::write(d.join("README.md"), "changed by the merge\n").expect("write");
        std::fs::write(d.join("added.txt"), "new\n").expect("write");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "result"]);
        let c = git(d, &["rev-parse", "HEAD"]);
        git(d, &["checkout", "-q", "main"]);
        std::fs::write(d.join("mine.txt"), "user's untracked file\n").expect("write");
        let oid = |s: &str| Oid::from_str(s).expect("oid");
        let tree = |s: &str| oid(&git(d, &["rev-parse", &format!("{s}^{{tree}}")]));
        let plan = Plan {
            target: "main".into(),
            target_ref: "refs/heads/main".into(),
            ours: oid(&a),
            ours_tree: tree(&a),
            theirs: oid(&c),
            base: oid(&a),
            new_tree: Some(tree(&c)),
            checkouts: vec![(
                Checkout {
                    workdir: d.to_path_buf(),
                },
                Vec::new(),
            )],
        };
        let changed = vec!["README.md".to_string(), "added.txt".to_string()];
        // Claim main is at `c` although it is at `a`: the compare-and-swap must fail after the
        // working tree was already switched, and everything must be put back.
        let repos = crate::Repos::default();
        let ctx = Ctx {
            trash: d.join("trash"),
            journal: d.join(".git/sidekick-journal"),
            repos: &repos,
            hooks: false,
        };
        let step = Step {
            from: (oid(&c), tree(&a)),
            to: (oid(&c), tree(&c)),
            changed: &changed,
            autostash: false,
            verb: "merge",
            reflog: "test".into(),
            job_id: "01test",
            what: "test merge".into(),
            merge_strategy: None,
        };
        let err = move_branch(d, &plan, &step, &ctx).expect_err("the ref did not match");
        assert!(err.to_string().contains("moved while merging"), "{err}");
        assert!(
            matches!(err, ReviewError::Refused(Refusal::TargetMoved, _)),
            "{err:?}"
        );
        assert_eq!(git(d, &["rev-parse", "main"]), a);
        assert_eq!(
            std::fs::read_to_string(d.join("README.md")).expect("read"),
            "hello\n"
        );
        assert!(!d.join("added.txt").exists());
        assert_eq!(
            std::fs::read_to_string(d.join("mine.txt")).expect("read"),
            "user's untracked file\n"
        );
        assert_eq!(git(d, &["status", "--porcelain"]), "?? mine.txt");
    }
}
