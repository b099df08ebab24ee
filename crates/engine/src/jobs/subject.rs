//! A job as the review operations see it: a [`Subject`] made of its record, and what an
//! operation changed recorded back, its change of phase through the ledger.

use std::path::PathBuf;

use sidekick_git::{Phase, ReviewError, Subject};
use sidekick_protocol::JobState;
use sidekick_store::{ledger, JobRecord};

use crate::Result;

/// A live job's worktree when it exists: what its diff (and the new side of a file) reads
/// instead of a commit.
pub(crate) fn live_worktree(rec: &JobRecord) -> Option<PathBuf> {
    let wt = PathBuf::from(&rec.job.worktree);
    (rec.job.state.is_live() && (rec.has_worktree || wt.join(".git").exists())).then_some(wt)
}

/// The job as review sees it.
pub(crate) fn subject_of(rec: &JobRecord) -> Subject {
    let j = &rec.job;
    Subject {
        id: j.id.clone(),
        codename: j.codename.clone(),
        task: j.task.clone(),
        repo: j.repo.clone(),
        branch: j.branch.clone(),
        worktree: j.worktree.clone(),
        has_worktree: rec.has_worktree,
        settled: false,
        base_commit: j.base_commit.clone(),
        base_branch: j.base_branch.clone(),
        head_commit: j.head_commit.clone(),
        files_changed: j.files_changed,
        insertions: j.insertions,
        deletions: j.deletions,
        conflicts: j.conflicts.clone(),
        snapshot: j.snapshot.clone(),
        merged_into: j.merged_into.clone(),
        merge_commit: j.merge_commit.clone(),
        copy_files: rec.copy_files.clone(),
        merge: rec.merge.clone(),
        phase: phase_of(j.state),
    }
}

fn phase_of(state: JobState) -> Phase {
    match state {
        JobState::Merged => Phase::Merged,
        JobState::Discarded => Phase::Discarded,
        s if s.is_active() => Phase::Active(s.as_str().to_string()),
        _ => Phase::Ended,
    }
}

/// Checks, before an operation runs, that the ledger allows the move it would end with. Only
/// for an ended job: an operation refuses any other with its own sentence.
pub(crate) fn precheck(rec: &JobRecord, to: JobState) -> Result<()> {
    if phase_of(rec.job.state) == Phase::Ended {
        ledger::check(&rec.job.codename, rec.job.state, to)?;
    }
    Ok(())
}

/// Records what an operation changed on the subject; its phase through the ledger.
fn record(rec: &mut JobRecord, s: Subject) -> Result<()> {
    let before = phase_of(rec.job.state);
    match (&before, &s.phase) {
        (Phase::Ended, Phase::Merged) => ledger::retire_to(rec, JobState::Merged)?,
        (Phase::Ended, Phase::Discarded) => ledger::retire_to(rec, JobState::Discarded)?,
        (Phase::Merged | Phase::Discarded, Phase::Ended) => ledger::move_back(rec)?,
        _ => {}
    }
    let j = &mut rec.job;
    // A rebase moves the base (the diff, the stats and "behind" count from it).
    j.base_commit = s.base_commit;
    j.head_commit = s.head_commit;
    j.files_changed = s.files_changed;
    j.insertions = s.insertions;
    j.deletions = s.deletions;
    j.conflicts = s.conflicts;
    j.snapshot = s.snapshot;
    j.merged_into = s.merged_into;
    j.merge_commit = s.merge_commit;
    rec.has_worktree = s.has_worktree;
    rec.merge = s.merge;
    Ok(())
}

/// Runs `op` on the job's subject and records what it changed when it succeeds.
pub(crate) fn on_subject<T>(
    rec: &mut JobRecord,
    op: impl FnOnce(&mut Subject) -> std::result::Result<T, ReviewError>,
) -> Result<T> {
    let mut s = subject_of(rec);
    let out = op(&mut s)?;
    record(rec, s)?;
    Ok(out)
}
