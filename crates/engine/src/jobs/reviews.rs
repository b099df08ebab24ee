//! Review operations' owner: one at a time (the review lock), on repositories kept open between
//! requests, with the rebases stopped at conflicts watched until they end and the merges an
//! earlier host left half done repaired. The facade's review methods (`jobs/review.rs`) run
//! their operations here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sidekick_protocol::{Home, JobState, Level};
use sidekick_store::JobRecord;

use crate::jobs::rebasing::Rebasing;
use crate::jobs::subject::on_subject;
use crate::ledger::Ledger;
use crate::pool::Pools;
use crate::{lock, review, Result};

pub(crate) struct Reviews {
    /// One review operation (merge, undo, rebase, discard, restore, gc) at a time.
    lock: Mutex<()>,
    /// Repositories kept open between requests.
    pub(crate) repos: review::Repos,
    /// Rebases stopped at conflicts, watched until they end.
    pub(crate) rebasing: Rebasing,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) home: Home,
    /// Warm worktrees and the ended jobs' worktrees known to be settled.
    pub(crate) pools: Arc<Pools>,
}

impl Reviews {
    pub(crate) fn new(ledger: Arc<Ledger>, home: Home, pools: Arc<Pools>) -> Reviews {
        Reviews {
            pools,
            lock: Mutex::new(()),
            repos: review::Repos::default(),
            rebasing: Rebasing::default(),
            ledger,
            home,
        }
    }

    /// Runs a review operation on a job off the async executor, one at a time; saves the job
    /// when the operation succeeds and `save` is set.
    pub(crate) async fn review_op<T: Send + 'static>(
        self: &Arc<Self>,
        reference: &str,
        save: bool,
        op: impl FnOnce(&mut JobRecord) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let id = self.ledger.resolve(reference)?.job.id;
        let inner = self.clone();
        crate::blocking(move || {
            let _guard = lock(&inner.lock);
            // Read again under the lock: another operation may have just changed the job.
            let mut rec = inner.ledger.load(&id)?;
            let out = op(&mut rec)?;
            if save {
                inner.ledger.save(&rec, Vec::new())?;
            }
            Ok(out)
        })
        .await?
    }

    /// See [`Engine::recover`]. A merge whose branch had moved records the job as merged;
    /// its worktree is left for `gc`.
    pub(crate) fn repair_merges(&self) {
        let _guard = lock(&self.lock);
        let dir = self.ctx().journal;
        for entry in review::journal::pending(&dir) {
            let r = review::journal::repair(&dir, &entry);
            tracing::warn!(job = %r.job_id, done = r.done, message = %r.message, "an interrupted merge");
            self.ledger.notice(
                &r.job_id,
                if r.done { Level::Warn } else { Level::Error },
                r.message.clone(),
            );
            let Some(strategy) = entry.merge_strategy.filter(|_| r.completed) else {
                continue;
            };
            let Ok(mut rec) = self.ledger.load(&r.job_id) else {
                continue;
            };
            if rec.job.state.has_ended()
                && rec.job.state != JobState::Merged
                && sidekick_store::ledger::retire_to(&mut rec, JobState::Merged).is_ok()
            {
                let target = entry
                    .target_ref
                    .trim_start_matches("refs/heads/")
                    .to_string();
                rec.job.merged_into = Some(target.clone());
                rec.job.merge_commit = Some(entry.to_commit.clone());
                rec.merge = Some(sidekick_store::MergeRecord {
                    target,
                    previous_tip: entry.from_commit.clone(),
                    commit: entry.to_commit.clone(),
                    strategy,
                    paths: Vec::new(),
                    autostash: false,
                });
                if let Err(e) = self.ledger.save(&rec, Vec::new()) {
                    tracing::error!(job = %r.job_id, error = %e, "cannot record a merge finished by recovery");
                }
            }
        }
    }

    /// Where removed worktrees wait to be deleted in the background.
    pub(crate) fn trash(&self) -> PathBuf {
        self.home.root().join("trash")
    }

    /// What review operations borrow from the host.
    pub(crate) fn ctx(&self) -> review::ops::Ctx<'_> {
        review::ops::Ctx {
            trash: self.trash(),
            journal: self.home.root().join("journal"),
            repos: &self.repos,
            hooks: false,
        }
    }

    /// Watches again the jobs a previous host left with conflicts.
    pub(crate) fn watch_stopped_rebases(&self) -> Result<()> {
        let jobs = lock(&self.ledger.reader).jobs(None)?;
        for rec in jobs.iter().filter(|r| !r.job.conflicts.is_empty()) {
            self.rebasing.watch(&rec.job.id);
        }
        Ok(())
    }

    /// One look at every watched rebase; a job whose rebase moved on is settled and saved.
    pub(crate) fn check_rebases(self: &Arc<Self>) {
        for id in self.rebasing.ids() {
            if let Err(e) = self.check_rebase(&id) {
                tracing::warn!(job = %id, error = %e, "checking a stopped rebase failed");
                self.rebasing.forget(&id);
            }
        }
    }

    fn check_rebase(&self, id: &str) -> Result<()> {
        let rec = self.ledger.load(id)?;
        if rec.job.conflicts.is_empty() || !rec.has_worktree || rec.job.state.is_active() {
            // Resolved, or gone; a job at work (the agent resolving it) is looked at when its
            // turn has ended.
            if !rec.job.state.is_active() {
                self.rebasing.forget(id);
            }
            return Ok(());
        }
        let wt = Path::new(&rec.job.worktree);
        if !self.rebasing.changed(id, review::ops::rebase_mark(wt)) {
            return Ok(());
        }
        let _guard = lock(&self.lock);
        let mut rec = self.ledger.load(id)?;
        if rec.job.state.is_active() {
            return Ok(());
        }
        if on_subject(&mut rec, review::ops::settle_rebase)? {
            self.ledger.save(&rec, Vec::new())?;
            if rec.job.conflicts.is_empty() {
                let message = format!(
                    "the rebase has ended (finished or aborted in the worktree); the job's branch is at {}",
                    rec.job.head_commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("?")
                );
                self.ledger
                    .notice(id, sidekick_protocol::Level::Info, message);
            }
        }
        if rec.job.conflicts.is_empty() {
            self.rebasing.forget(id);
        }
        Ok(())
    }
}
