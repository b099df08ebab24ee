//! Rebase of a job onto its target in its own worktree, leaving conflicts there to resolve.

use super::*;

/// Replays the job's commits onto the target's tip in its worktree. Conflicts are left there
/// with markers and listed on the job.
pub(crate) fn rebase(rec: &mut JobRecord, into: Option<&str>) -> Result<String> {
    ensure_reviewable(&rec.job)?;
    ensure_resolved(rec)?;
    let wt = PathBuf::from(&rec.job.worktree);
    if !rec.has_worktree || !wt.join(".git").exists() {
        return Err(invalid(format!(
            "job {} has no worktree; `sidekick restore {}` brings it back first",
            rec.job.codename, rec.job.codename
        )));
    }
    let msg = format!(
        "Edits after job {} ended\n\nSidekick-Job: {}\n",
        rec.job.codename, rec.job.id
    );
    repo::commit_all(&wt, &msg)?;
    let target = match into {
        Some(t) => t.to_string(),
        None => rec.job.base_branch.clone().ok_or_else(|| {
            EngineError::BadRequest(format!(
                "job {} started from a detached commit; name the branch with --into",
                rec.job.codename
            ))
        })?,
    };
    let repo = open(Path::new(&rec.job.repo))?;
    let tip = repo
        .refname_to_id(&format!("refs/heads/{target}"))
        .map_err(|_| {
            EngineError::BadRequest(format!("there is no branch '{target}' in {}", rec.job.repo))
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
        .map_err(|e| EngineError::Repo(RepoError::Spawn(e)))?;
    rec.job.base_commit = tip.clone();
    if out.status.success() {
        rec.job.conflicts.clear();
        refresh_head(rec)?;
        return Ok(format!(
            "rebased job {} onto {} ({}); it can be merged",
            rec.job.codename,
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
            rec.job.codename,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    rec.job.conflicts = unmerged.clone();
    Ok(format!(
        "rebasing job {} onto {} stopped at conflicts in {}; resolve them in {}, `git add` them and run `git rebase --continue` there, then merge",
        rec.job.codename,
        target,
        unmerged.join(", "),
        rec.job.worktree
    ))
}
