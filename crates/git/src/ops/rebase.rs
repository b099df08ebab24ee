//! Rebase of a job onto its target in its own worktree, leaving conflicts there to resolve.

use super::*;

/// Replays the job's commits onto the target's tip in its worktree. Conflicts are left there
/// with markers and listed on the job.
pub fn rebase(rec: &mut Subject, into: Option<&str>) -> Result<String> {
    ensure_reviewable(rec)?;
    ensure_resolved(rec)?;
    let wt = PathBuf::from(&rec.worktree);
    if !rec.has_worktree || !wt.join(".git").exists() {
        return Err(refused(
            Refusal::NoWorktree,
            format!("job {} has no worktree", rec.codename),
        ));
    }
    let msg = format!(
        "Edits after job {} ended\n\nSidekick-Job: {}\n",
        rec.codename, rec.id
    );
    repo::commit_all(&wt, &msg)?;
    let target = match into {
        Some(t) => t.to_string(),
        None => rec.base_branch.clone().ok_or_else(|| {
            ReviewError::BadRequest(format!(
                "job {} started from a detached commit; name the branch with --into",
                rec.codename
            ))
        })?,
    };
    let repo = open(Path::new(&rec.repo))?;
    let tip = repo
        .refname_to_id(&format!("refs/heads/{target}"))
        .map_err(|_| {
            ReviewError::BadRequest(format!("there is no branch '{target}' in {}", rec.repo))
        })?
        .to_string();
    let mut cmd = repo::git(&wt);
    cmd.args([
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.editor=true",
        "rebase",
        "--quiet",
        &tip,
    ])
    .env("GIT_EDITOR", "true");
    if !repo::git_has_identity(&wt) {
        cmd.envs(repo::FALLBACK_IDENTITY);
    }
    let out = cmd
        .output()
        .map_err(|e| ReviewError::Repo(RepoError::Spawn(e)))?;
    if out.status.success() {
        rec.base_commit = tip.clone();
        rec.conflicts.clear();
        refresh_head(rec)?;
        return Ok(format!(
            "rebased job {} onto {} ({}); it can be merged",
            rec.codename,
            target,
            short(&tip)
        ));
    }
    let unmerged = unmerged_paths(&wt);
    if unmerged.is_empty() {
        let _ = repo::git(&wt).args(["rebase", "--abort"]).output();
        return Err(refused(
            Refusal::Git,
            format!(
                "rebasing job {} failed: {}",
                rec.codename,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    rec.conflicts = unmerged.clone();
    Ok(format!(
        "rebasing job {} onto {} stopped at conflicts in {}; resolve them in {}, `git add` them and run `git rebase --continue` there, then merge",
        rec.codename,
        target,
        unmerged.join(", "),
        rec.worktree
    ))
}

/// The paths git lists as unmerged in a worktree's index.
fn unmerged_paths(wt: &Path) -> Vec<String> {
    repo::git(wt)
        .args(["diff", "--name-only", "--diff-filter=U", "-z"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split('\0')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

/// A cheap sign of how a stopped rebase stands: whether it is still under way, and when the
/// worktree's index last changed (a `git add`). None without a worktree.
pub fn rebase_mark(wt: &Path) -> Option<(bool, Option<std::time::SystemTime>)> {
    let g = gitdir_of(wt)?;
    let busy = rebasing_in(&g);
    let index = std::fs::metadata(g.join("index"))
        .and_then(|m| m.modified())
        .ok();
    Some((busy, index))
}

/// Whether a rebase is under way (stopped) in the worktree `wt`.
pub fn rebase_in_progress(wt: &Path) -> bool {
    gitdir_of(wt).is_some_and(|g| rebasing_in(&g))
}

/// Whether the git folder `g` holds a rebase under way (either of git's two kinds).
fn rebasing_in(g: &Path) -> bool {
    g.join("rebase-merge").exists() || g.join("rebase-apply").exists()
}

/// Takes in what happened to a rebase that stopped at conflicts since: resolved and finished
/// (by the person or the agent: the branch moved, the job can merge), aborted by hand, or
/// stopped again at other files. True when the job's facts changed.
pub fn settle(rec: &mut Subject) -> Result<bool> {
    let wt = PathBuf::from(&rec.worktree);
    if rec.conflicts.is_empty() || !rec.has_worktree || !wt.exists() {
        return Ok(false);
    }
    if rebase_in_progress(&wt) {
        // Still under way: the files that conflict now (a later commit may stop at others).
        // Files resolved but not continued yet keep the last list, which says what to do.
        let unmerged = unmerged_paths(&wt);
        if !unmerged.is_empty() && unmerged != rec.conflicts {
            rec.conflicts = unmerged;
            return Ok(true);
        }
        return Ok(false);
    }
    rec.conflicts.clear();
    rebased_or_restored(rec)?;
    Ok(true)
}

/// Aborts the rebase under way in the job's worktree: its branch is back where it was before
/// `sidekick rebase`, its work whole.
pub fn abort(rec: &mut Subject) -> Result<String> {
    let wt = PathBuf::from(&rec.worktree);
    if !rec.has_worktree || !rebase_in_progress(&wt) {
        return Err(refused(
            Refusal::NoRebase,
            format!("job {} has no rebase under way to abort", rec.codename),
        ));
    }
    let out = repo::git(&wt)
        .args(["rebase", "--abort"])
        .output()
        .map_err(|e| ReviewError::Repo(RepoError::Spawn(e)))?;
    if !out.status.success() {
        return Err(refused(
            Refusal::Git,
            format!(
                "aborting the rebase of job {} failed: {}",
                rec.codename,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    rec.conflicts.clear();
    rebased_or_restored(rec)?;
    Ok(format!(
        "aborted the rebase of job {}; its branch is back at {}",
        rec.codename,
        rec.head_commit.as_deref().map(short).unwrap_or("its tip")
    ))
}

/// After a rebase ended (finished or aborted): the branch's tip is the job's head, and its base
/// is where that tip forks from the target (the commit a finished rebase went onto; the old
/// base after an abort). A stopped rebase leaves the base alone, so the job's diff stays its
/// own work meanwhile.
fn rebased_or_restored(rec: &mut Subject) -> Result<()> {
    let repo = open(Path::new(&rec.repo))?;
    let tip = repo.refname_to_id(&format!("refs/heads/{}", rec.branch));
    let target = rec
        .base_branch
        .as_ref()
        .and_then(|b| repo.refname_to_id(&format!("refs/heads/{b}")).ok());
    if let (Ok(tip), Some(target)) = (tip, target) {
        if let Ok(fork) = repo.merge_base(tip, target) {
            rec.base_commit = fork.to_string();
        }
    }
    // The base may have changed under an unchanged tip: the stats are computed again.
    rec.head_commit = None;
    refresh_head(rec)
}
