//! The review operations on jobs, as [`Reviews`] runs them (the engine's facade delegates here): a job's diff, merge, undo, rebase, discard, restore and gc. Each
//! maps the job onto a [`Subject`] for the review operations (`sidekick_git::ops`), runs them
//! under the one-at-a-time review lock, and records what they changed; a change of phase goes
//! through the ledger, checked before the operation touches anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sidekick_protocol::JobState;

use crate::jobs::reviews::Reviews;
use crate::jobs::subject::{live_worktree, on_subject, precheck, subject_of};
use crate::{lock, release_memory, review, Result};
use sidekick_config::Config;
use sidekick_store::JobRecord;

impl Reviews {
    /// A job's record, its head following its branch when the user committed there (or
    /// finished a rebase) since the job ended: what its diff compares.
    async fn for_diff(self: &Arc<Self>, reference: &str) -> Result<JobRecord> {
        let mut rec = self.ledger.resolve(reference)?;
        review::ops::ensure_repo_there(&subject_of(&rec))?;
        if rec.job.state.has_ended()
            && !matches!(rec.job.state, JobState::Merged | JobState::Discarded)
        {
            // Follow the branch: the user may have committed in the worktree or finished a
            // rebase. Reading the tip is cheap; only a moved tip is recorded (a job event).
            let branch_ref = format!("refs/heads/{}", rec.job.branch);
            let tip = self.repos.with(Path::new(&rec.job.repo), true, |r| {
                Ok(r.refname_to_id(&branch_ref).ok().map(|o| o.to_string()))
            })?;
            if tip.is_some() && tip != rec.job.head_commit {
                let job = self
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
    pub(crate) async fn patch(self: &Arc<Self>, reference: &str) -> Result<Vec<u8>> {
        let rec = self.for_diff(reference).await?;
        let limits = Config::load(self.home.config_file())?.diff;
        let live = live_worktree(&rec);
        let job = rec.job;
        let inner = self.clone();
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
    pub(crate) async fn diff(self: &Arc<Self>, reference: &str) -> Result<sidekick_protocol::Diff> {
        self.diff_head(reference, None).await
    }

    /// [`Engine::diff`] with at most `max_lines` diff lines (every file listed; those past the
    /// lines are marked truncated): what a viewer shows first while the rest comes.
    pub(crate) async fn diff_head(
        self: &Arc<Self>,
        reference: &str,
        max_lines: Option<usize>,
    ) -> Result<sidekick_protocol::Diff> {
        let rec = self.for_diff(reference).await?;
        let mut limits = Config::load(self.home.config_file())?.diff;
        if let Some(n) = max_lines {
            limits.max_total_lines = limits.max_total_lines.min(n);
            limits.max_file_lines = limits.max_file_lines.min(n);
        }
        let live = live_worktree(&rec);
        let job = rec.job;
        let t = std::time::Instant::now();
        let inner = self.clone();
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
    pub(crate) async fn merge(
        self: &Arc<Self>,
        reference: &str,
        req: sidekick_protocol::MergeRequest,
    ) -> Result<sidekick_protocol::MergeResult> {
        let dry_run = req.dry_run;
        let hooks = Config::load(self.home.config_file())?.merge_hooks;
        let inner = self.clone();
        let result = self
            .review_op(reference, !dry_run, move |rec| {
                if !req.dry_run && req.paths.is_empty() && req.hunks.is_empty() {
                    precheck(rec, JobState::Merged)?;
                }
                let ctx = review::ops::Ctx {
                    hooks,
                    ..inner.ctx()
                };
                let settled = inner.pools.settled(&rec.job.id);
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
                self.ledger.decorate(job)
            } else {
                self.ledger.job(&job.id)?
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
    pub(crate) async fn undo(
        self: &Arc<Self>,
        reference: &str,
        autostash: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        let inner = self.clone();
        self.action(reference, move |rec| {
            on_subject(rec, |s| review::ops::undo(s, autostash, &inner.ctx()))
        })
        .await
    }

    /// Replays the job's commits onto its target's tip, in its worktree; `abort`: undoes the
    /// rebase that stopped at conflicts instead. A rebase left at conflicts is watched until it
    /// ends (resolved by hand or by the agent, or aborted).
    pub(crate) async fn rebase(
        self: &Arc<Self>,
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
            self.rebasing.watch(&result.job.id);
        }
        Ok(result)
    }

    /// Drops a job's changes, keeping a snapshot. `orphaned`: the job's repository is gone, so
    /// the job is forgotten and its folder deleted (no snapshot is possible).
    pub(crate) async fn discard(
        self: &Arc<Self>,
        reference: &str,
        orphaned: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        let inner = self.clone();
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
    pub(crate) async fn restore(
        self: &Arc<Self>,
        reference: &str,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.action(reference, |rec| on_subject(rec, review::ops::restore))
            .await
    }

    async fn action(
        self: &Arc<Self>,
        reference: &str,
        op: impl FnOnce(&mut JobRecord) -> Result<String> + Send + 'static,
    ) -> Result<sidekick_protocol::ActionResult> {
        let message = self.review_op(reference, true, op).await?;
        let rec = self.ledger.resolve(reference)?;
        // An undo, restore or rebase leaves the worktree exactly at its branch's tip: watched
        // again, so the next merge need not look for edits.
        if rec.job.state.has_ended() && rec.has_worktree {
            self.pools
                .watch_settled(rec.job.id.clone(), PathBuf::from(&rec.job.worktree));
        }
        Ok(sidekick_protocol::ActionResult {
            job: self.ledger.decorate(rec.job),
            message,
        })
    }

    /// Removes the worktrees of merged and discarded jobs and of jobs that ended longer ago
    /// than `gc_after`, each saved to its snapshot ref first.
    pub(crate) async fn gc(self: &Arc<Self>, dry_run: bool) -> Result<sidekick_protocol::GcReport> {
        let config = Config::load(self.home.config_file())?;
        let cutoff = self.ledger.now().saturating_sub(config.gc_after_ms);
        let candidates: Vec<JobRecord> = lock(&self.ledger.reader)
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
        let (warm, warm_bytes) = self.pools.trim(dry_run)?;
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
                let inner = self.clone();
                let id = rec.job.id.clone();
                let trash = self.trash();
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
