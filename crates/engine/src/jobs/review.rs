//! The engine's review facade: a job's diff, merge, undo, rebase, discard, restore and gc. Each
//! maps the job onto a [`Subject`] for the review operations (`sidekick_git::ops`), runs them
//! under the one-at-a-time review lock, and records what they changed; a change of phase goes
//! through the ledger, checked before the operation touches anything.

use std::path::{Path, PathBuf};

use sidekick_git::{Phase, ReviewError, Subject};
use sidekick_protocol::JobState;

use crate::{lock, release_memory, review, Engine, Result};
use sidekick_config::Config;
use sidekick_store::ledger;
use sidekick_store::JobRecord;

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
fn precheck(rec: &JobRecord, to: JobState) -> Result<()> {
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

impl Engine {
    /// A job's record, its head following its branch when the user committed there (or
    /// finished a rebase) since the job ended: what its diff compares.
    async fn for_diff(&self, reference: &str) -> Result<JobRecord> {
        let mut rec = self.inner.resolve(reference)?;
        review::ops::ensure_repo_there(&subject_of(&rec))?;
        if rec.job.state.has_ended()
            && !matches!(rec.job.state, JobState::Merged | JobState::Discarded)
        {
            // Follow the branch: the user may have committed in the worktree or finished a
            // rebase. Reading the tip is cheap; only a moved tip is recorded (a job event).
            let branch_ref = format!("refs/heads/{}", rec.job.branch);
            let tip = self.inner.repos.with(Path::new(&rec.job.repo), true, |r| {
                Ok(r.refname_to_id(&branch_ref).ok().map(|o| o.to_string()))
            })?;
            if tip.is_some() && tip != rec.job.head_commit {
                let job = self
                    .inner
                    .review_op(reference, true, |r| {
                        on_subject(r, review::ops::refresh_head)?;
                        Ok(r.job.clone())
                    })
                    .await?;
                rec.job = job;
            }
        }
        Ok(rec)
    }

    /// A job's changes as a plain unified patch (`sidekick diff`): what [`Engine::diff`]
    /// compares, written by libgit2 without a structured diff on the way.
    pub async fn patch(&self, reference: &str) -> Result<Vec<u8>> {
        let rec = self.for_diff(reference).await?;
        let limits = Config::load(self.inner.home.config_file())?.diff;
        let live = live_worktree(&rec);
        let job = rec.job;
        let inner = self.inner.clone();
        let patch = crate::blocking(move || {
            if job.state.is_live() {
                return match live {
                    Some(wt) => Ok(review::diff::patch_worktree(
                        &wt,
                        &job.base_commit,
                        &limits,
                    )?),
                    None => Ok(Vec::new()),
                };
            }
            match &job.head_commit {
                Some(head) => Ok(inner.repos.with_commits(
                    Path::new(&job.repo),
                    &job.base_commit,
                    head,
                    |r| review::diff::patch_commits_in(r, &job.base_commit, head, &limits),
                )?),
                None => Ok(Vec::new()),
            }
        })
        .await?;
        release_memory();
        patch
    }

    /// A job's changes: base..head once it has ended; while it runs, its worktree as it is now.
    pub async fn diff(&self, reference: &str) -> Result<sidekick_protocol::Diff> {
        self.diff_head(reference, None).await
    }

    /// [`Engine::diff`] with at most `max_lines` diff lines (every file listed; those past the
    /// lines are marked truncated): what a viewer shows first while the rest comes.
    pub async fn diff_head(
        &self,
        reference: &str,
        max_lines: Option<usize>,
    ) -> Result<sidekick_protocol::Diff> {
        let rec = self.for_diff(reference).await?;
        let mut limits = Config::load(self.inner.home.config_file())?.diff;
        if let Some(n) = max_lines {
            limits.max_total_lines = limits.max_total_lines.min(n);
            limits.max_file_lines = limits.max_file_lines.min(n);
        }
        let live = live_worktree(&rec);
        let job = rec.job;
        let t = std::time::Instant::now();
        let inner = self.inner.clone();
        let diff = crate::blocking(move || {
            let empty = || sidekick_protocol::Diff {
                base: job.base_commit.clone(),
                head: job.head_commit.clone(),
                ..Default::default()
            };
            let diff = if job.state.is_live() {
                match live {
                    Some(wt) => review::diff::diff_worktree(&wt, &job.base_commit, &limits)?,
                    None => empty(),
                }
            } else {
                match &job.head_commit {
                    Some(head) => inner.repos.with_commits(
                        Path::new(&job.repo),
                        &job.base_commit,
                        head,
                        |r| review::diff::diff_commits_in(r, &job.base_commit, head, &limits),
                    )?,
                    None => empty(),
                }
            };
            Ok(diff)
        })
        .await?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "diff computed");
        release_memory();
        diff
    }

    /// Merges a job into its target (or previews it with `dry_run`).
    pub async fn merge(
        &self,
        reference: &str,
        req: sidekick_protocol::MergeRequest,
    ) -> Result<sidekick_protocol::MergeResult> {
        let dry_run = req.dry_run;
        let hooks = Config::load(self.inner.home.config_file())?.merge_hooks;
        let inner = self.inner.clone();
        let result = self
            .inner
            .review_op(reference, !dry_run, move |rec| {
                if !req.dry_run && req.paths.is_empty() && req.hunks.is_empty() {
                    precheck(rec, JobState::Merged)?;
                }
                let ctx = review::ops::Ctx {
                    hooks,
                    ..inner.ctx()
                };
                let settled = inner.settled(&rec.job.id);
                let done = on_subject(rec, |s| {
                    s.settled = settled;
                    review::ops::merge(s, &req, &ctx)
                })?;
                Ok((done, rec.job.clone()))
            })
            .await?;
        release_memory();
        let (done, job) = result;
        Ok(sidekick_protocol::MergeResult {
            job: if dry_run {
                self.inner.decorate(job)
            } else {
                self.job(&job.id)?
            },
            preview: done.preview,
            merged: done.merged,
            commit: done.commit,
            stash_kept: done.stash_kept,
            message: done.message,
        })
    }

    /// Reverts a job's last merge while its target has not moved since (`autostash`: the
    /// user's changes in the way are set aside and put back, as a merge that did so does).
    pub async fn undo(
        &self,
        reference: &str,
        autostash: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        let inner = self.inner.clone();
        self.action(reference, move |rec| {
            on_subject(rec, |s| review::ops::undo(s, autostash, &inner.ctx()))
        })
        .await
    }

    /// Replays the job's commits onto its target's tip, in its worktree; `abort`: undoes the
    /// rebase that stopped at conflicts instead. A rebase left at conflicts is watched until it
    /// ends (resolved by hand or by the agent, or aborted).
    pub async fn rebase(
        &self,
        reference: &str,
        into: Option<String>,
        abort: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        let result = self
            .action(reference, move |rec| {
                if abort {
                    on_subject(rec, review::ops::abort_rebase)
                } else {
                    on_subject(rec, |s| review::ops::rebase(s, into.as_deref()))
                }
            })
            .await?;
        if !result.job.conflicts.is_empty() {
            self.inner.rebasing.watch(&result.job.id);
        }
        Ok(result)
    }

    /// Drops a job's changes, keeping a snapshot. `orphaned`: the job's repository is gone, so
    /// the job is forgotten and its folder deleted (no snapshot is possible).
    pub async fn discard(
        &self,
        reference: &str,
        orphaned: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        let inner = self.inner.clone();
        self.action(reference, move |rec| {
            if orphaned {
                on_subject(rec, |s| review::ops::discard_orphaned(s, &inner.trash()))
            } else {
                precheck(rec, JobState::Discarded)?;
                on_subject(rec, |s| review::ops::discard(s, &inner.ctx()))
            }
        })
        .await
    }

    /// Brings back a discarded job, or the worktree of one cleaned up by gc.
    pub async fn restore(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        self.action(reference, |rec| on_subject(rec, review::ops::restore))
            .await
    }

    async fn action(
        &self,
        reference: &str,
        op: impl FnOnce(&mut JobRecord) -> Result<String> + Send + 'static,
    ) -> Result<sidekick_protocol::ActionResult> {
        let message = self.inner.review_op(reference, true, op).await?;
        let rec = self.inner.resolve(reference)?;
        // An undo, restore or rebase leaves the worktree exactly at its branch's tip: watched
        // again, so the next merge need not look for edits.
        if rec.job.state.has_ended() && rec.has_worktree {
            self.inner
                .watch_settled(rec.job.id.clone(), PathBuf::from(&rec.job.worktree));
        }
        Ok(sidekick_protocol::ActionResult {
            job: self.inner.decorate(rec.job),
            message,
        })
    }

    /// Removes the worktrees of merged and discarded jobs and of jobs that ended longer ago
    /// than `gc_after`, each saved to its snapshot ref first.
    pub async fn gc(&self, dry_run: bool) -> Result<sidekick_protocol::GcReport> {
        let config = Config::load(self.inner.home.config_file())?;
        let cutoff = self.inner.now().saturating_sub(config.gc_after_ms);
        let candidates: Vec<JobRecord> = lock(&self.inner.reader)
            .jobs(None)?
            .into_iter()
            .filter(|r| {
                r.has_worktree
                    && r.job.state.has_ended()
                    && (matches!(r.job.state, JobState::Merged | JobState::Discarded)
                        || r.job.ended_at.is_some_and(|t| t <= cutoff))
            })
            .collect();
        let mut report = sidekick_protocol::GcReport {
            dry_run,
            ..Default::default()
        };
        let (warm, warm_bytes) = self.trim_pools(dry_run)?;
        report.warm_removed = warm;
        report.freed_bytes += warm_bytes;
        for rec in candidates {
            let bytes = review::ops::folder_size(Path::new(&rec.job.worktree));
            if review::ops::repo_is_gone(&subject_of(&rec)) {
                // Nothing can be snapshotted without the repository: the user decides
                // (`sidekick discard --orphaned`).
                report.orphaned.push(sidekick_protocol::GcItem {
                    job_id: rec.job.id.clone(),
                    codename: rec.job.codename.clone(),
                    worktree: rec.job.worktree.clone(),
                    bytes,
                    snapshot: None,
                });
                continue;
            }
            let snapshot = if dry_run {
                None
            } else {
                let inner = self.inner.clone();
                let id = rec.job.id.clone();
                let trash = self.inner.trash();
                match inner
                    .review_op(&id, true, move |rec| {
                        on_subject(rec, |s| review::ops::retire(s, false, false, &trash))
                    })
                    .await
                {
                    Ok(s) => Some(review::ops::snapshot_ref(&rec.job.id) + " " + &s),
                    Err(e) => {
                        tracing::warn!(job = %rec.job.id, error = %e, "gc could not clean up a job");
                        continue;
                    }
                }
            };
            report.freed_bytes += bytes;
            report.removed.push(sidekick_protocol::GcItem {
                job_id: rec.job.id.clone(),
                codename: rec.job.codename.clone(),
                worktree: rec.job.worktree.clone(),
                bytes,
                snapshot,
            });
        }
        Ok(report)
    }
}
