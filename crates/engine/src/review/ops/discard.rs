//! Discard (snapshot first), and forgetting a job whose repository is gone.

use super::*;

/// Drops the job's changes: snapshot first, then worktree and branch go.
pub(crate) fn discard(rec: &mut JobRecord, ctx: &Ctx<'_>) -> Result<String> {
    if repo_is_gone(&rec.job) && !rec.job.state.is_active() {
        let folder = if rec.has_worktree && Path::new(&rec.job.worktree).exists() {
            format!("its folder {} is still there", rec.job.worktree)
        } else {
            "it has no folder left".to_string()
        };
        return Err(refused(Refusal::RepoGone, format!(
            "the repository of job {}, {}, is no longer there (moved or deleted?) and {folder}; put the repository back to discard it with a snapshot, or `sidekick discard --orphaned {}` forgets the job and deletes its folder",
            rec.job.codename, rec.job.repo, rec.job.codename
        )));
    }
    ensure_reviewable(&rec.job)?;
    ledger::check(&rec.job.codename, rec.job.state, JobState::Discarded)?;
    let snapshot = retire(rec, true, false, &ctx.trash)?;
    ledger::retire_to(rec, JobState::Discarded)?;
    Ok(format!(
        "discarded job {}; its work is kept at {} ({}), `sidekick restore {}` brings it back",
        rec.job.codename,
        snapshot_ref(&rec.job.id),
        short(&snapshot),
        rec.job.codename
    ))
}

/// Forgets an ended job whose repository is gone: its worktree folder goes (through the trash)
/// and the job ends `discarded` without a snapshot, since its branch lived in that repository.
/// Refused while the repository is there: then a plain discard keeps a snapshot.
pub(crate) fn discard_orphaned(rec: &mut JobRecord, trash: &Path) -> Result<String> {
    if !repo_is_gone(&rec.job) {
        return Err(invalid(format!(
            "the repository of job {} is still there ({}); `sidekick discard {}` discards it and keeps a snapshot",
            rec.job.codename, rec.job.repo, rec.job.codename
        )));
    }
    if rec.job.state.is_active() {
        return Err(invalid(format!(
            "job {} is still {}; cancel it first",
            rec.job.codename, rec.job.state
        )));
    }
    if matches!(rec.job.state, JobState::Discarded) && !rec.has_worktree {
        return Err(invalid(format!(
            "job {} is already discarded",
            rec.job.codename
        )));
    }
    let wt = PathBuf::from(&rec.job.worktree);
    let deleted = match std::fs::symlink_metadata(&wt) {
        Ok(_) => {
            crate::private::dir(trash)?;
            let dest = trash.join(format!("{}-{}", rec.job.id, std::process::id()));
            std::fs::rename(&wt, &dest).map_err(|e| {
                invalid(format!(
                    "cannot move job {}'s folder {} out of the way ({e}); nothing was changed",
                    rec.job.codename,
                    wt.display()
                ))
            })?;
            std::thread::spawn(move || {
                if let Err(e) = std::fs::remove_dir_all(&dest) {
                    tracing::warn!(path = %dest.display(), error = %e, "cannot delete a removed worktree");
                }
            });
            format!("; its folder {} was deleted", wt.display())
        }
        Err(_) => String::new(),
    };
    rec.has_worktree = false;
    if rec.job.state != JobState::Discarded {
        ledger::retire_to(rec, JobState::Discarded)?;
    }
    Ok(format!(
        "forgot job {}, whose repository {} is gone{deleted}",
        rec.job.codename, rec.job.repo
    ))
}
