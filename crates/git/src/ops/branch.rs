//! One journalled move of a branch and everywhere it is checked out, with roll-back; and the
//! repair of moves a dead host left half done.

use super::*;

/// One move of a branch: from (commit, tree) to (commit, tree), the paths that differ, whether
/// to stash overlapping changes, the reflog message, and for the journal the job and what the
/// move is ("merge of job brave-otter into main").
pub(super) struct Step<'a> {
    pub(super) from: (Oid, Oid),
    pub(super) to: (Oid, Oid),
    pub(super) changed: &'a [String],
    pub(super) autostash: bool,
    /// What the user would do again with autostash ("merge", "undo"), for the refusal.
    pub(super) verb: &'static str,
    pub(super) reflog: String,
    pub(super) job_id: &'a str,
    pub(super) what: String,
    /// A merge of all the job's files, with this strategy (see [`journal::Entry`]).
    pub(super) merge_strategy: Option<String>,
}

/// Refuses a move that would hit something in progress where the target is, the user's
/// uncommitted changes (unless autostash) or a disk without room for what it writes; the
/// overlaps autostash sets aside.
fn refuse_or_overlaps(
    repo_dir: &Path,
    plan: &Plan,
    step: &Step<'_>,
    ctx: &Ctx<'_>,
    checkouts: &[Checkout],
) -> Result<Vec<(Checkout, Vec<String>)>> {
    if let Some(busy) = checkout::operation_in_progress(repo_dir, &plan.target)? {
        return Err(refused(
            Refusal::OperationInProgress,
            format!("{busy}; nothing was changed"),
        ));
    }
    let mut overlaps = Vec::new();
    for c in checkouts {
        // Stat data gone stale (files touched, or copied with `cp -a`) is not a change: the
        // check hashes those files, and switch_tree refreshes the index when git asks.
        let dirty = ctx.dirty(&c.workdir, step.changed)?;
        let overlap = checkout::overlap(&dirty, step.changed);
        if !overlap.is_empty() {
            if !step.autostash {
                return Err(refused(Refusal::DirtyOverlap, format!(
                    "this would overwrite your uncommitted changes in {}: {}; nothing was changed. Commit or stash them, or {} with autostash (it sets them aside and puts them back)",
                    c.workdir.display(),
                    crate::repo::few(&overlap),
                    step.verb
                )));
            }
            overlaps.push((c.clone(), overlap));
        }
    }
    // Room first: git writes each changed file whole, and a checkout left half written on a
    // full disk is what the journal exists for, not what a merge should risk.
    if !checkouts.is_empty() {
        let needed = checkout::bytes_written(&open(repo_dir)?, step.changed, step.to.1)?;
        for c in checkouts {
            checkout::check_room(&c.workdir, needed).map_err(|m| refused(Refusal::NoRoom, m))?;
        }
    }
    Ok(overlaps)
}

/// Moves `target` from `from` to `to` everywhere it is checked out, then the ref itself
/// (compare-and-swap). Refuses before writing when locks are held, a git operation is in
/// progress there, or the user's changes would be overwritten (unless `autostash`). The move is
/// written to the journal first; when a later step fails, every checkout it touched is put back
/// (file by file, see [`journal::put_back`]) and the stashes re-applied. Returns where a stash
/// was kept, if re-applying it conflicted.
pub(super) fn move_branch(
    repo_dir: &Path,
    plan: &Plan,
    step: &Step<'_>,
    ctx: &Ctx<'_>,
) -> Result<Option<String>> {
    repair_interrupted(repo_dir, ctx)?;
    let checkouts: Vec<Checkout> = plan.checkouts.iter().map(|(c, _)| c.clone()).collect();
    checkout::check_locks(repo_dir, &checkouts, &plan.target)
        .map_err(|m| refused(Refusal::LockHeld, m))?;
    let overlaps = refuse_or_overlaps(repo_dir, plan, step, ctx, &checkouts)?;
    let entry = journal::Entry {
        id: ulid::Ulid::generate().to_string().to_lowercase(),
        job_id: step.job_id.to_string(),
        what: step.what.clone(),
        repo: repo_dir.to_path_buf(),
        target_ref: plan.target_ref.clone(),
        from_commit: step.from.0.to_string(),
        from_tree: step.from.1.to_string(),
        to_commit: step.to.0.to_string(),
        to_tree: step.to.1.to_string(),
        checkouts: checkouts.iter().map(|c| c.workdir.clone()).collect(),
        changed: step.changed.to_vec(),
        merge_strategy: step.merge_strategy.clone(),
        host_pgid: nix::unistd::getpgrp().as_raw(),
        rollback_pending: false,
    };
    if !checkouts.is_empty() {
        entry.write(&ctx.journal).map_err(|e| {
            refused(
                Refusal::JournalUnwritable,
                format!(
                    "cannot write the merge journal in {}, so nothing was changed: {e}",
                    ctx.journal.display()
                ),
            )
        })?;
    }
    let forget = || {
        if !checkouts.is_empty() {
            entry.remove(&ctx.journal);
        }
    };
    let (from_tree, to_tree) = (step.from.1.to_string(), step.to.1.to_string());
    let mut stashes: Vec<(Checkout, String)> = Vec::new();
    let mut touched: Vec<Checkout> = Vec::new();
    // Puts back every checkout touched so far and re-applies the stashes; says what it could not.
    let undo = |touched: &[Checkout], stashes: &[(Checkout, String)]| -> String {
        // Marked before the first file is put back: a rollback that does not finish (a full
        // disk, a crash) leaves files git half wrote, which the next repair puts back instead
        // of taking them for the user's.
        if !touched.is_empty() {
            if let Err(e) = entry.mark_rollback_pending(&ctx.journal) {
                tracing::error!(error = %e, "cannot mark the merge's rollback as under way");
            }
        }
        let mut problems = Vec::new();
        for c in touched.iter().rev() {
            match journal::put_back(&c.workdir, &entry, true) {
                Ok(left) if left.is_empty() => {}
                Ok(left) => problems.push(format!(
                    "in {} these files could not be put back: {}",
                    c.workdir.display(),
                    crate::repo::few(&left)
                )),
                Err(e) => problems.push(format!(
                    "putting {} back failed ({e}); its files may hold the merge's version",
                    c.workdir.display()
                )),
            }
        }
        for (c, stash) in stashes {
            if !matches!(checkout::unstash(&c.workdir, stash), Ok(true)) {
                problems.push(format!(
                    "your set-aside changes are kept in {}",
                    checkout::describe_stash(&c.workdir, stash)
                ));
            }
        }
        if problems.is_empty() {
            forget();
        } else {
            tracing::error!(
                ?problems,
                "rolling back a merge was incomplete; the journal entry is kept"
            );
        }
        problems.join("; ")
    };
    let failed = |what: String, problems: String| {
        if problems.is_empty() {
            refused(Refusal::Git, format!("{what}, so nothing was changed"))
        } else {
            refused(
                Refusal::RollbackIncomplete,
                format!("{what}; rolling back was incomplete: {problems}"),
            )
        }
    };
    for (c, paths) in &overlaps {
        match checkout::stash_paths(&c.workdir, paths, &entry.stash_message()) {
            Ok(s) => stashes.push((c.clone(), s)),
            Err(e) => {
                let problems = undo(&touched, &stashes);
                return Err(failed(
                    format!(
                        "setting your changes in {} aside failed ({e})",
                        c.workdir.display()
                    ),
                    problems,
                ));
            }
        }
    }
    for c in &checkouts {
        // A failed read-tree may have written some files before it stopped: it counts as touched.
        touched.push(c.clone());
        if let Err(e) = checkout::switch_tree(&c.workdir, &from_tree, &to_tree) {
            let full = if checkout::disk_is_full(&c.workdir) {
                " because the disk holding it is full"
            } else {
                ""
            };
            let problems = undo(&touched, &stashes);
            return Err(failed(
                format!("updating {} failed{full} ({e})", c.workdir.display()),
                problems,
            ));
        }
    }
    let repo = open(repo_dir)?;
    if let Err(e) =
        repo.reference_matching(&plan.target_ref, step.to.0, true, step.from.0, &step.reflog)
    {
        let problems = undo(&touched, &stashes);
        let err = failed(
            format!("{} moved while merging ({})", plan.target, e.message()),
            problems,
        );
        return Err(refused(Refusal::TargetMoved, err.to_string()));
    }
    let mut kept = None;
    for (c, stash) in &stashes {
        if !checkout::unstash(&c.workdir, stash)? {
            kept = Some(checkout::describe_stash(&c.workdir, stash));
        }
    }
    forget();
    Ok(kept)
}

/// Repairs the interrupted moves the journal holds for this repository; refuses when one
/// cannot be repaired yet (so a new merge does not pile on a half-done one).
pub(super) fn repair_interrupted(repo_dir: &Path, ctx: &Ctx<'_>) -> Result<()> {
    for e in journal::pending(&ctx.journal) {
        if e.repo != repo_dir {
            continue;
        }
        let r = journal::repair(&ctx.journal, &e);
        tracing::warn!(job = %r.job_id, done = r.done, message = %r.message, "repaired an interrupted merge");
        if !r.done {
            return Err(refused(Refusal::OperationInProgress, r.message));
        }
    }
    Ok(())
}
