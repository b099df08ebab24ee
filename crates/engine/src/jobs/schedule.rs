//! Scheduling and stopping: queued jobs start oldest first within `max_running`; a stop is a
//! cancel on the spot for a queued job and a signal to the runner for a live one; a parent's end
//! ends its children.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sidekick_protocol::JobState;
use tokio::sync::watch;

use crate::{jobs, lock, runner, EngineError, Inner, Result, StopReason};
use sidekick_config::Config;
use sidekick_store::JobRecord;

impl Inner {
    /// Starts queued jobs, oldest first, while fewer than `max_running` are working (live and
    /// not waiting for an answer).
    pub(crate) fn schedule(self: &Arc<Self>) {
        if self.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        let max = match Config::load(self.home.config_file()) {
            Ok(c) => c.max_running,
            Err(e) => {
                tracing::warn!(error = %e, "config unreadable; using the default max_running");
                sidekick_config::DEFAULT_MAX_RUNNING
            }
        };
        let _guard = lock(&self.sched);
        let (live, mut queued) = {
            let db = lock(&self.reader);
            // A job waiting for a person's answer idles: it holds no place, so the queue does
            // not stall behind a question nobody has answered yet. (Answered, it works on, over
            // the limit for as long as that takes.)
            let working: Vec<JobState> = JobState::LIVE
                .into_iter()
                .filter(|s| *s != JobState::Waiting)
                .collect();
            let live = db
                .jobs(Some(&working))
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            let queued = db.jobs(Some(&[JobState::Queued])).unwrap_or_default();
            (live, queued)
        };
        queued.reverse(); // oldest first
        for mut rec in queued.into_iter().take(max.saturating_sub(live)) {
            let (tx, rx) = watch::channel(None);
            lock(&self.running).insert(rec.job.id.clone(), tx);
            if let Err(e) = sidekick_store::ledger::move_to(&mut rec, JobState::Starting) {
                tracing::error!(job = %rec.job.id, error = %e, "cannot start job");
                lock(&self.running).remove(&rec.job.id);
                continue;
            }
            rec.job.started_at = Some(self.now());
            if let Err(e) = self.save(&rec, Vec::new()) {
                tracing::error!(job = %rec.job.id, error = %e, "cannot start job");
                lock(&self.running).remove(&rec.job.id);
                continue;
            }
            let handle = jobs::handle::JobHandle::new(self.clone(), rec.job.id.clone());
            tokio::spawn(runner::run(handle, rec, rx));
        }
    }

    /// Asks a job to stop. A queued job is cancelled on the spot.
    pub(crate) fn stop(&self, id: &str, reason: StopReason) -> Result<()> {
        let _guard = lock(&self.sched);
        let mut rec = self.load(id)?;
        match rec.job.state {
            JobState::Queued => {
                sidekick_store::ledger::move_to(&mut rec, JobState::Cancelled)?;
                rec.job.ended_at = Some(self.now());
                rec.job.reason = Some(match &reason {
                    StopReason::ParentEnded(p) => {
                        format!("its parent job {p} ended before it started")
                    }
                    _ => "cancelled before it started".into(),
                });
                self.save(&rec, Vec::new())?;
                drop(_guard);
                self.end_children(&rec);
                Ok(())
            }
            s if s.is_live() => {
                let running = lock(&self.running);
                match running.get(id) {
                    Some(tx) => {
                        // The first reason wins: a timeout already under way stays a timeout.
                        tx.send_if_modified(|cur| {
                            if cur.is_none() {
                                *cur = Some(reason);
                                true
                            } else {
                                false
                            }
                        });
                        Ok(())
                    }
                    None => Err(EngineError::Internal(format!(
                        "job {} is {} but has no runner",
                        rec.job.codename, rec.job.state
                    ))),
                }
            }
            s => Err(EngineError::InvalidState(format!(
                "job {} has already ended ({s})",
                rec.job.codename
            ))),
        }
    }

    /// Ending a parent ends its children that are still queued or live.
    pub(crate) fn end_children(&self, parent: &JobRecord) {
        let children = lock(&self.reader)
            .children(&parent.job.id)
            .unwrap_or_default();
        for child in children {
            let active = self
                .load(&child)
                .map(|c| c.job.state.is_active())
                .unwrap_or(false);
            if active {
                let reason = StopReason::ParentEnded(parent.job.codename.clone());
                if let Err(e) = self.stop(&child, reason) {
                    tracing::warn!(job = %child, error = %e, "cannot stop child job");
                }
            }
        }
    }
}
