//! Restore of a discarded or cleaned-up job from its snapshot.

use super::*;

/// Brings a discarded or cleaned-up job back for review.
pub(crate) fn restore(rec: &mut JobRecord) -> Result<String> {
    ensure_repo_there(&rec.job)?;
    match rec.job.state {
        JobState::Merged => {
            return Err(invalid(format!(
                "job {} is merged; `sidekick undo {}` reverts the merge",
                rec.job.codename, rec.job.codename
            )))
        }
        s if s.is_active() => {
            return Err(invalid(format!("job {} is still {s}", rec.job.codename)))
        }
        _ => {}
    }
    // What is on disk decides, not what the database remembers: a worktree folder or branch
    // someone deleted by hand is brought back too.
    let worktree_there = PathBuf::from(&rec.job.worktree).join(".git").exists();
    let branch_there = open(Path::new(&rec.job.repo))
        .map(|r| r.find_branch(&rec.job.branch, BranchType::Local).is_ok())
        .unwrap_or(false);
    if worktree_there && branch_there && rec.job.state != JobState::Discarded {
        return Err(invalid(format!(
            "job {} has nothing to restore: its branch {} and worktree {} are there",
            rec.job.codename, rec.job.branch, rec.job.worktree
        )));
    }
    reinstate(rec)?;
    if rec.job.state == JobState::Discarded {
        ledger::move_back(rec)?;
    }
    Ok(format!(
        "restored job {}: branch {}, worktree {}",
        rec.job.codename, rec.job.branch, rec.job.worktree
    ))
}
