//! The engine's review facade: a job's diff, merge, undo, rebase, discard, restore and gc, each
//! mapped onto the review operations under the one-at-a-time review lock.

use std::path::{Path, PathBuf};

use sidekick_protocol::JobState;

use crate::config::Config;
use crate::store::JobRecord;
use crate::{lock, release_memory, review, Engine, Result};

impl Engine {
    /// A job's changes: base..head once it has ended; while it runs, its worktree as it is now.
    pub async fn diff(&self, reference: &str) -> Result<sidekick_protocol::Diff> {
        let mut rec = self.inner.resolve(reference)?;
        review::ops::ensure_repo_there(&rec.job)?;
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
                        review::ops::refresh_head(r)?;
                        Ok(r.job.clone())
                    })
                    .await?;
                rec.job = job;
            }
        }
        let limits = Config::load(self.inner.home.config_file())?.diff;
        let job = rec.job;
        let worktree = PathBuf::from(&job.worktree);
        let t = std::time::Instant::now();
        let inner = self.inner.clone();
        let diff = crate::blocking(move || {
            let empty = || sidekick_protocol::Diff {
                base: job.base_commit.clone(),
                head: job.head_commit.clone(),
                ..Default::default()
            };
            let diff = if job.state.is_live() {
                if rec.has_worktree || worktree.join(".git").exists() {
                    review::diff::diff_worktree(&worktree, &job.base_commit, &limits)?
                } else {
                    empty()
                }
            } else {
                match &job.head_commit {
                    Some(head) => inner.repos.with(Path::new(&job.repo), true, |r| {
                        review::diff::diff_commits_in(r, &job.base_commit, head, &limits)
                    })?,
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
                let ctx = review::ops::Ctx {
                    hooks,
                    ..inner.ctx()
                };
                review::ops::merge(rec, &req, &ctx)
            })
            .await?;
        release_memory();
        Ok(sidekick_protocol::MergeResult {
            job: if dry_run {
                self.inner.decorate(result.job)
            } else {
                self.job(&result.job.id)?
            },
            ..result
        })
    }

    /// Reverts a job's last merge while its target has not moved since.
    pub async fn undo(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        let inner = self.inner.clone();
        self.action(reference, move |rec| review::ops::undo(rec, &inner.ctx()))
            .await
    }

    /// Replays the job's commits onto its target's tip, in its worktree.
    pub async fn rebase(
        &self,
        reference: &str,
        into: Option<String>,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.action(reference, move |rec| {
            review::ops::rebase(rec, into.as_deref())
        })
        .await
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
                review::ops::discard_orphaned(rec, &inner.trash())
            } else {
                review::ops::discard(rec, &inner.ctx())
            }
        })
        .await
    }

    /// Brings back a discarded job, or the worktree of one cleaned up by gc.
    pub async fn restore(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        self.action(reference, review::ops::restore).await
    }

    async fn action(
        &self,
        reference: &str,
        op: impl FnOnce(&mut JobRecord) -> Result<String> + Send + 'static,
    ) -> Result<sidekick_protocol::ActionResult> {
        let message = self.inner.review_op(reference, true, op).await?;
        let rec = self.inner.resolve(reference)?;
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
        for rec in candidates {
            let bytes = review::ops::folder_size(Path::new(&rec.job.worktree));
            if review::ops::repo_is_gone(&rec.job) {
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
                        review::ops::retire(rec, false, false, &trash)
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
