//! Restore of a discarded or cleaned-up job from its snapshot.

use super::*;

/// Brings a discarded or cleaned-up job back for review.
pub fn restore(rec: &mut Subject) -> Result<String> {
    ensure_repo_there(rec)?;
    match &rec.phase {
        Phase::Merged => {
            return Err(refused(
                Refusal::AlreadyMerged,
                format!("job {} is merged", rec.codename),
            ))
        }
        Phase::Active(s) => {
            return Err(refused(
                Refusal::JobActive,
                format!("job {} is still {s}", rec.codename),
            ))
        }
        _ => {}
    }
    // What is on disk decides, not what the database remembers: a worktree folder or branch
    // someone deleted by hand is brought back too.
    let worktree_there = PathBuf::from(&rec.worktree).join(".git").exists();
    let branch_there = open(Path::new(&rec.repo))
        .map(|r| r.find_branch(&rec.branch, BranchType::Local).is_ok())
        .unwrap_or(false);
    if worktree_there && branch_there && rec.phase != Phase::Discarded {
        return Err(refused(
            Refusal::NothingToRestore,
            format!(
                "job {} has nothing to restore: its branch {} and worktree {} are there",
                rec.codename, rec.branch, rec.worktree
            ),
        ));
    }
    reinstate(rec)?;
    if rec.phase == Phase::Discarded {
        rec.phase = Phase::Ended;
    }
    Ok(format!(
        "restored job {}: branch {}, worktree {}",
        rec.codename, rec.branch, rec.worktree
    ))
}
