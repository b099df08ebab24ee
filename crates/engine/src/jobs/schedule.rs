//! Scheduling and stopping: queued jobs start oldest first within `max_running`; a stop is a
//! cancel on the spot for a queued job and a signal to the runner for a live one; a parent's end
//! ends its children.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sidekick_protocol::JobState;
use tokio::sync::watch;

use crate::jobs::dialogs::Dialogs;
use crate::jobs::handle::JobHandle;
use crate::jobs::messages::{Slots, StopReason};
use crate::jobs::reviews::Reviews;
use crate::ledger::Ledger;
use crate::pool::Pools;
use crate::{lock, private, runner, EngineError, Home, Result};
use sidekick_config::Config;
use sidekick_store::JobRecord;

/// The size of the home's reserve file (see [`Scheduler::keep_reserve`]).
const RESERVE_BYTES: usize = 4 << 20;

/// The scheduler: which jobs run (their stop handles), when a queued one starts, how a live one
/// stops; it hands each runner a [`JobHandle`] onto the owners a job needs.
pub(crate) struct Scheduler {
    pub(crate) home: Home,
    /// The jobs' records and events: the one writer, the reader, the broadcast.
    pub(crate) ledger: Arc<Ledger>,
    /// Stop handles of jobs with a runner task.
    pub(crate) running: Mutex<HashMap<String, watch::Sender<Option<StopReason>>>>,
    /// Live dialogs with agents that can ask.
    pub(crate) dialogs: Arc<Dialogs>,
    /// Serialises scheduling, spawning and cancelling of queued jobs.
    pub(crate) sched: Mutex<()>,
    pub(crate) shutting_down: Arc<AtomicBool>,
    pub(crate) grace: Duration,
    /// Review operations (a job that may merge by itself is merged through them).
    pub(crate) reviews: Arc<Reviews>,
    /// Warm worktrees a runner claims and refills.
    pub(crate) pools: Arc<Pools>,
}

impl Scheduler {
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
            let db = lock(&self.ledger.reader);
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
            rec.job.started_at = Some(self.ledger.now());
            if let Err(e) = self.ledger.save(&rec, Vec::new()) {
                tracing::error!(job = %rec.job.id, error = %e, "cannot start job");
                lock(&self.running).remove(&rec.job.id);
                continue;
            }
            let handle = self.handle(&rec.job.id);
            tokio::spawn(runner::run(handle, rec, rx));
        }
    }

    /// Asks a job to stop. A queued job is cancelled on the spot.
    pub(crate) fn stop(&self, id: &str, reason: StopReason) -> Result<()> {
        let _guard = lock(&self.sched);
        let mut rec = self.ledger.load(id)?;
        match rec.job.state {
            JobState::Queued => {
                sidekick_store::ledger::move_to(&mut rec, JobState::Cancelled)?;
                rec.job.ended_at = Some(self.ledger.now());
                rec.job.reason = Some(match &reason {
                    StopReason::ParentEnded(p) => {
                        format!("its parent job {p} ended before it started")
                    }
                    _ => "cancelled before it started".into(),
                });
                self.ledger.save(&rec, Vec::new())?;
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
        let children = lock(&self.ledger.reader)
            .children(&parent.job.id)
            .unwrap_or_default();
        for child in children {
            let active = self
                .ledger
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

    /// Space set aside in the home: when a job's output fills the disk, this file is deleted
    /// so the job's end (its commit, its final state) can still be written.
    pub(crate) fn reserve(&self) -> PathBuf {
        self.home.root().join("reserve")
    }

    /// Makes sure the reserve exists (written, not sparse, so the space is really held).
    pub(crate) fn keep_reserve(&self) {
        let path = self.reserve();
        if path.exists() {
            return;
        }
        let made = private::write(&path, vec![0u8; RESERVE_BYTES]);
        if made.is_err() {
            let _ = std::fs::remove_file(&path);
        }
    }

    /// A job's output hit a full disk: frees the reserve and stops the job with `what`.
    pub(crate) fn disk_full(&self, job_id: &str, what: String) {
        tracing::error!(job = %job_id, what = %what, "disk full");
        let _ = std::fs::remove_file(self.reserve());
        let _ = self.stop(job_id, StopReason::DiskFull(what));
    }

    pub(crate) fn grace(&self) -> Duration {
        self.grace
    }

    /// What the runner of job `job_id` gets: a handle onto that job alone.
    pub(crate) fn handle(self: &Arc<Self>, job_id: &str) -> JobHandle {
        JobHandle {
            job_id: job_id.to_string(),
            home: self.home.clone(),
            ledger: self.ledger.clone(),
            dialogs: self.dialogs.clone(),
            pools: self.pools.clone(),
            slots: Arc::new(SlotsOf(self.clone())),
        }
    }

    /// See [`Slots::release`].
    fn release_slot(self: &Arc<Self>, job_id: &str, stop: &watch::Receiver<Option<StopReason>>) {
        {
            let mut running = lock(&self.running);
            if running
                .get(job_id)
                .is_some_and(|tx| tx.subscribe().same_channel(stop))
            {
                running.remove(job_id);
            }
        }
        self.schedule();
        // After the job is released (its worktree unlocked, the next job started): a job that
        // may merge by itself is merged, or held for review with the reason.
        let reviews = self.reviews.clone();
        let job = job_id.to_string();
        tokio::spawn(async move { crate::automerge::decide(&reviews, &job).await });
    }
}

/// The scheduler as a job's handle sees it (see [`Slots`]).
pub(crate) struct SlotsOf(pub(crate) Arc<Scheduler>);

impl Slots for SlotsOf {
    fn stop(&self, job_id: &str, reason: StopReason) -> Result<()> {
        self.0.stop(job_id, reason)
    }

    fn end_children(&self, parent: &JobRecord) {
        self.0.end_children(parent);
    }

    fn schedule(&self) {
        self.0.schedule();
    }

    fn release(&self, job_id: &str, stop: &watch::Receiver<Option<StopReason>>) {
        self.0.release_slot(job_id, stop);
    }

    fn disk_full(&self, job_id: &str, what: String) {
        self.0.disk_full(job_id, what);
    }

    fn grace(&self) -> Duration {
        self.0.grace
    }
}
