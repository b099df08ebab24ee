//! Discard (snapshot first), and forgetting a job whose repository is gone.

use super::*;

/// Drops the job's changes: snapshot first, then worktree and branch go.
pub fn discard(rec: &mut Subject, ctx: &Ctx<'_>) -> Result<String> {
    if repo_is_gone(rec) && !matches!(rec.phase, Phase::Active(_)) {
        let folder = if rec.has_worktree && Path::new(&rec.worktree).exists() {
            format!("its folder {} is still there", rec.worktree)
        } else {
            "it has no folder left".to_string()
        };
        return Err(refused(Refusal::RepoGone, format!(
            "the repository of job {}, {}, is no longer there (moved or deleted?) and {folder}; put the repository back to discard it with a snapshot, or forget the job and delete its folder",
            rec.codename, rec.repo
        )));
    }
    ensure_reviewable(rec)?;
    // A rebase stopped at conflicts is aborted first: the branch gets its whole work back, and
    // the snapshot holds it (not a half-replayed commit with conflict markers).
    let aborted = if rec.has_worktree && rebase_in_progress(Path::new(&rec.worktree)) {
        abort_rebase(rec)?;
        " (the rebase under way was aborted first)"
    } else {
        ""
    };
    let snapshot = retire(rec, true, false, &ctx.trash)?;
    rec.phase = Phase::Discarded;
    Ok(format!(
        "discarded job {}{aborted}; its work is kept at {} ({}), `sidekick restore {}` brings it back",
        rec.codename,
        snapshot_ref(&rec.id),
        short(&snapshot),
        rec.codename
    ))
}

/// Forgets an ended job whose repository is gone: its worktree folder goes (through the trash)
/// and the job ends `discarded` without a snapshot, since its branch lived in that repository.
/// Refused while the repository is there: then a plain discard keeps a snapshot.
pub fn discard_orphaned(rec: &mut Subject, trash: &Path) -> Result<String> {
    if !repo_is_gone(rec) {
        return Err(refused(
            Refusal::RepoStillThere,
            format!(
                "the repository of job {} is still there ({})",
                rec.codename, rec.repo
            ),
        ));
    }
    if let Phase::Active(state) = &rec.phase {
        return Err(refused(
            Refusal::JobActive,
            format!("job {} is still {}; cancel it first", rec.codename, state),
        ));
    }
    if rec.phase == Phase::Discarded && !rec.has_worktree {
        return Err(refused(
            Refusal::JobDiscarded,
            format!("job {} is already discarded", rec.codename),
        ));
    }
    let wt = PathBuf::from(&rec.worktree);
    let deleted = match std::fs::symlink_metadata(&wt) {
        Ok(_) => {
            sidekick_protocol::private::dir(trash)?;
            let dest = trash.join(format!("{}-{}", rec.id, std::process::id()));
            std::fs::rename(&wt, &dest).map_err(|e| {
                refused(
                    Refusal::Io,
                    format!(
                        "cannot move job {}'s folder {} out of the way ({e}); nothing was changed",
                        rec.codename,
                        wt.display()
                    ),
                )
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
    rec.phase = Phase::Discarded;
    Ok(format!(
        "forgot job {}, whose repository {} is gone{deleted}",
        rec.codename, rec.repo
    ))
}
