//! Rebase of a job onto its target in its own worktree, leaving conflicts there to resolve.

use super::*;

/// Replays the job's commits onto the target's tip in its worktree. Conflicts are left there
/// with markers and listed on the job.
pub fn rebase(rec: &mut Subject, into: Option<&str>) -> Result<String> {
    ensure_reviewable(rec)?;
    ensure_resolved(rec)?;
    let wt = PathBuf::from(&rec.worktree);
    if !rec.has_worktree || !wt.join(".git").exists() {
        return Err(invalid(format!(
            "job {} has no worktree; `sidekick restore {}` brings it back first",
            rec.codename, rec.codename
        )));
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
    rec.base_commit = tip.clone();
    if out.status.success() {
        rec.conflicts.clear();
        refresh_head(rec)?;
        return Ok(format!(
            "rebased job {} onto {} ({}); it can be merged",
            rec.codename,
            target,
            short(&tip)
        ));
    }
    let unmerged = repo::git(&wt)
        .args(["diff", "--name-only", "--diff-filter=U", "-z"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split('\0')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if unmerged.is_empty() {
        let _ = repo::git(&wt).args(["rebase", "--abort"]).output();
        return Err(invalid(format!(
            "rebasing job {} failed: {}",
            rec.codename,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
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
