//! A job's worktree and branch going away (merge, discard, gc) after its snapshot is saved,
//! and coming back (undo, restore).

use super::*;

/// Saves everything the job's worktree holds to `refs/sidekick/snapshots/<id>`, then removes
/// the worktree (and the branch when `delete_branch`). `saved` says the worktree's leftovers were
/// committed moments ago by the caller (merge), so the branch tip is the snapshot. The worktree
/// folder is moved into `trash` (same file system: instant) and deleted in the background.
pub fn retire(rec: &mut Subject, delete_branch: bool, saved: bool, trash: &Path) -> Result<String> {
    let repo_dir = PathBuf::from(&rec.repo);
    let wt = PathBuf::from(&rec.worktree);
    let repo = open(&repo_dir)?;
    let has_tree = wt.join(".git").exists();
    if has_tree {
        let _ = repo::unlock_worktree(&repo_dir, &wt);
    }
    let snapshot = if has_tree && !saved {
        let msg = format!(
            "Leftovers in job {}'s worktree\n\nSidekick-Job: {}\n",
            rec.codename, rec.id
        );
        repo::commit_all(&wt, &msg)?.head
    } else if has_tree {
        Repository::open(&wt)
            .and_then(|r| {
                r.head()
                    .and_then(|h| h.peel_to_commit())
                    .map(|c| c.id().to_string())
            })
            .map_err(|e| ReviewError::Repo(e.into()))?
    } else {
        match repo.refname_to_id(&format!("refs/heads/{}", rec.branch)) {
            Ok(id) => id.to_string(),
            Err(_) => rec
                .head_commit
                .clone()
                .unwrap_or_else(|| rec.base_commit.clone()),
        }
    };
    let snap_id = Oid::from_str(&snapshot).map_err(|e| ReviewError::Repo(e.into()))?;
    repo.reference(
        &snapshot_ref(&rec.id),
        snap_id,
        true,
        "sidekick: snapshot before removal",
    )
    .map_err(|e| ReviewError::Repo(e.into()))?;
    if wt.exists() {
        remove_worktree(&repo_dir, &wt, trash, &rec.id).map_err(|e| {
            refused(
                Refusal::Io,
                format!(
                    "cannot remove the worktree {} ({e}); the job's work is saved at {}",
                    wt.display(),
                    snapshot_ref(&rec.id)
                ),
            )
        })?;
    }
    if delete_branch {
        if let Ok(mut b) = repo.find_branch(&rec.branch, BranchType::Local) {
            b.delete().map_err(|e| ReviewError::Repo(e.into()))?;
        }
    }
    rec.has_worktree = false;
    rec.snapshot = Some(snapshot.clone());
    Ok(snapshot)
}

/// Moves the worktree into the trash and deletes it there in the background, then prunes git's
/// record of it. Falls back to `git worktree remove` when the move is not possible.
pub(super) fn remove_worktree(
    repo_dir: &Path,
    wt: &Path,
    trash: &Path,
    job_id: &str,
) -> std::result::Result<(), String> {
    let git_out = |args: &[&str]| {
        repo::with_worktree_lock(repo_dir, || repo::git(repo_dir).args(args).output())
            .map_err(|e| e.to_string())
    };
    let dest = trash.join(format!("{job_id}-{}", std::process::id()));
    let moved =
        sidekick_protocol::private::dir(trash).is_ok() && std::fs::rename(wt, &dest).is_ok();
    if moved {
        std::thread::spawn(move || {
            if let Err(e) = std::fs::remove_dir_all(&dest) {
                tracing::warn!(path = %dest.display(), error = %e, "cannot delete a removed worktree");
            }
        });
        let out = git_out(&["worktree", "prune"])?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        return Ok(());
    }
    let path = wt.display().to_string();
    let out = git_out(&["worktree", "remove", "--force", "--force", &path])?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(())
}

/// Brings back the job's branch (from its snapshot) and worktree where they are missing.
pub(super) fn reinstate(rec: &mut Subject) -> Result<()> {
    let repo_dir = PathBuf::from(&rec.repo);
    let repo = open(&repo_dir)?;
    if repo.find_branch(&rec.branch, BranchType::Local).is_err() {
        let at = rec
            .snapshot
            .clone()
            .or_else(|| {
                repo.refname_to_id(&snapshot_ref(&rec.id))
                    .ok()
                    .map(|o| o.to_string())
            })
            .ok_or_else(|| {
                refused(
                    Refusal::NothingToRestore,
                    format!("job {} has no snapshot to restore", rec.codename),
                )
            })?;
        let commit = Oid::from_str(&at)
            .and_then(|o| repo.find_commit(o))
            .map_err(|e| ReviewError::Repo(e.into()))?;
        repo.branch(&rec.branch, &commit, false)
            .map_err(|e| ReviewError::Repo(e.into()))?;
    }
    let wt = PathBuf::from(&rec.worktree);
    if !wt.join(".git").exists() {
        if let Some(parent) = wt.parent() {
            sidekick_protocol::private::dir(parent)?;
        }
        let out = repo::with_worktree_lock(&repo_dir, || {
            // A worktree folder deleted by hand is still registered until pruned.
            let _ = repo::git(&repo_dir).args(["worktree", "prune"]).output();
            repo::git(&repo_dir)
                .args(["-c", "checkout.workers=0", "worktree", "add", "--quiet"])
                .arg(&wt)
                .arg(&rec.branch)
                .output()
        })
        .map_err(|e| ReviewError::Repo(RepoError::Spawn(e)))?;
        if !out.status.success() {
            return Err(refused(
                Refusal::Git,
                format!(
                    "cannot recreate the worktree {}: {}",
                    wt.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        // A fresh checkout's index entries are racily clean (written in the same instant as
        // their files), so git would re-hash every file on the next `add -A`, at the next merge.
        // Refresh them now, while the user waits for a rare undo or restore, not for a merge.
        let _ = repo::git(&wt)
            .args(["update-index", "-q", "--refresh"])
            .output();
    }
    rec.has_worktree = true;
    Ok(())
}
