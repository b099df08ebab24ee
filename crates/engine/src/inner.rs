//! What the engine shares between the facade, the scheduler, runners and output sinks: the
//! database (writer and reader), the event broadcast, the stop handles, the review lock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sidekick_protocol::{Event, EventBody, Job, JobState, Level};
use tokio::sync::{broadcast, watch};

use crate::{ids, jobs, lock, private, review, Clock, EngineError, Home, Result};
use sidekick_store::{JobRecord, NewEvent, Store};

/// The size of the home's reserve file (see `Inner::keep_reserve`).
const RESERVE_BYTES: usize = 4 << 20;

/// Why the engine stops a live job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    Cancel,
    ParentEnded(String),
    Shutdown,
    /// The agent reached the job's `max_steps`.
    StepCap(u64),
    /// Writing the job's output hit a full disk (what, where).
    DiskFull(String),
    /// The agent used the job's whole token budget.
    TokenBudget {
        used: u64,
        budget: u64,
    },
}

/// How long a job has run: every turn so far, the one under way up to `now`.
pub(crate) fn duration(job: &Job, now: u64) -> Option<u64> {
    let turn = match job.started_at {
        Some(start) => job.ended_at.unwrap_or(now).saturating_sub(start),
        // A reply queued behind others: only the earlier turns so far.
        None if job.earlier_ms > 0 => 0,
        None => return None,
    };
    Some(job.earlier_ms.saturating_add(turn))
}

pub(crate) struct Inner {
    pub(crate) home: Home,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: ids::IdSource,
    /// Writes (and the broadcast that follows each, so subscribers see `seq` order).
    pub(crate) db: Mutex<Store>,
    /// Reads for listings and event streams, beside the writer (WAL).
    pub(crate) reader: Mutex<Store>,
    pub(crate) events: broadcast::Sender<Event>,
    /// Stop handles of jobs with a runner task.
    pub(crate) running: Mutex<HashMap<String, watch::Sender<Option<StopReason>>>>,
    /// Live dialogs with agents that can ask (`jobs/dialog.rs`).
    pub(crate) dialogs: Mutex<HashMap<String, jobs::dialog::Dialog>>,
    /// Serialises scheduling, spawning and cancelling of queued jobs.
    pub(crate) sched: Mutex<()>,
    /// One settings change at a time (each reads, edits and replaces the config file).
    pub(crate) settings_lock: Mutex<()>,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) grace: Duration,
    /// One review operation (merge, undo, rebase, discard, restore, gc) at a time.
    pub(crate) review: Mutex<()>,
    /// Repositories kept open between requests.
    pub(crate) repos: review::Repos,
    /// Warm worktrees: refills under way, one claim at a time.
    pub(crate) pools: crate::pool::Pools,
    /// Rebases stopped at conflicts, watched until they end (`jobs/rebasing.rs`).
    pub(crate) rebasing: crate::jobs::rebasing::Rebasing,
}

impl Inner {
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    pub(crate) fn decorate(&self, mut job: Job) -> Job {
        job.duration_ms = duration(&job, self.now());
        if job.state == JobState::Queued {
            let db = lock(&self.reader);
            if let Ok(queued) = db.jobs(Some(&[JobState::Queued])) {
                job.queue_position = queued
                    .iter()
                    .filter(|r| r.job.id <= job.id)
                    .count()
                    .try_into()
                    .ok();
            }
        }
        job
    }

    /// The job's snapshot as an event (what clients see of it now).
    fn job_event(&self, job: &Job) -> NewEvent {
        NewEvent {
            job_id: job.id.clone(),
            time: self.now(),
            body: EventBody::Job {
                job: Box::new(self.decorate(job.clone())),
            },
        }
    }

    /// Writes the job and appends its snapshot (plus `extra`) to the event log.
    pub(crate) fn save(&self, rec: &JobRecord, extra: Vec<NewEvent>) -> Result<()> {
        let mut events = vec![self.job_event(&rec.job)];
        events.extend(extra);
        let mut db = lock(&self.db);
        // The ledger's second check: what is stored may have moved on since `rec` was read.
        if let Some(stored) = db.job_state(&rec.job.id)? {
            sidekick_store::ledger::check(&rec.job.codename, stored, rec.job.state)?;
        }
        db.update_job(rec)?;
        self.append_and_broadcast(&mut db, events)
    }

    /// Reads, changes and saves a job under the writer's lock, so no other change slips in
    /// between; `f` returns its own answer and the events to store with the job's snapshot.
    pub(crate) fn modify<T>(
        &self,
        job_id: &str,
        f: impl FnOnce(&mut JobRecord) -> Result<(T, Vec<NewEvent>)>,
    ) -> Result<(T, JobRecord)> {
        let mut db = lock(&self.db);
        let mut rec = db
            .job(job_id)?
            .ok_or_else(|| EngineError::UnknownJob(job_id.to_string()))?;
        let stored = rec.job.state;
        let (out, extra) = f(&mut rec)?;
        sidekick_store::ledger::check(&rec.job.codename, stored, rec.job.state)?;
        db.update_job(&rec)?;
        let mut events = vec![self.job_event(&rec.job)];
        events.extend(extra);
        self.append_and_broadcast(&mut db, events)?;
        Ok((out, rec))
    }

    pub(crate) fn append_events(&self, events: Vec<NewEvent>) -> Result<()> {
        self.append_and_broadcast(&mut lock(&self.db), events)
    }

    /// Appends and then broadcasts while the writer is still held, so live order is `seq` order.
    pub(crate) fn append_and_broadcast(&self, db: &mut Store, events: Vec<NewEvent>) -> Result<()> {
        for ev in db.append(events)? {
            let _ = self.events.send(ev);
        }
        Ok(())
    }

    /// Records what the agent reported and holds it to the job's budgets: a warning at 80 % of
    /// the token budget, a stop at 100 % or at the step cap. `tell`: also send the job as an
    /// event (the output sink does so at most once a second; a budget warning always goes).
    pub(crate) fn agent_progress(&self, job_id: &str, p: &jobs::messages::Progress, tell: bool) {
        let saved = (|| -> Result<JobRecord> {
            let mut db = lock(&self.db);
            let mut rec = db
                .job(job_id)?
                .ok_or_else(|| EngineError::UnknownJob(job_id.to_string()))?;
            let warned_before = rec
                .job
                .token_budget
                .is_some_and(|b| rec.job.tokens.total().saturating_mul(5) >= b.saturating_mul(4));
            p.apply(&mut rec);
            db.update_job(&rec)?;
            let mut events = Vec::new();
            if tell {
                events.push(self.job_event(&rec.job));
            }
            if let Some(budget) = rec.job.token_budget {
                let used = rec.job.tokens.total();
                if !warned_before
                    && used.saturating_mul(5) >= budget.saturating_mul(4)
                    && used < budget
                {
                    events.push(NewEvent {
                        job_id: job_id.to_string(),
                        time: self.now(),
                        body: EventBody::Notice {
                            level: Level::Warn,
                            message: format!(
                                "the agent has used {used} of its {budget}-token budget (80 %)"
                            ),
                        },
                    });
                }
            }
            self.append_and_broadcast(&mut db, events)?;
            Ok(rec)
        })();
        let rec = match saved {
            Ok(rec) => rec,
            Err(e) => {
                tracing::error!(job = job_id, error = %e, "cannot record the agent's progress");
                return;
            }
        };
        if !rec.job.state.is_live() {
            return;
        }
        if let Some(cap) = rec.job.max_steps {
            if rec.job.steps >= cap {
                let _ = self.stop(job_id, StopReason::StepCap(cap));
            }
        }
        if let Some(budget) = rec.job.token_budget {
            let used = rec.job.tokens.total();
            if used >= budget {
                let _ = self.stop(job_id, StopReason::TokenBudget { used, budget });
            }
        }
    }

    pub(crate) fn notice(&self, job_id: &str, level: Level, message: impl Into<String>) {
        let ev = NewEvent {
            job_id: job_id.into(),
            time: self.now(),
            body: EventBody::Notice {
                level,
                message: message.into(),
            },
        };
        if let Err(e) = self.append_events(vec![ev]) {
            tracing::error!(job = job_id, error = %e, "cannot store a notice");
        }
    }

    pub(crate) fn load(&self, id: &str) -> Result<JobRecord> {
        lock(&self.db)
            .job(id)?
            .ok_or_else(|| EngineError::UnknownJob(id.to_string()))
    }

    /// Finds a job by id, unique id prefix or codename.
    pub(crate) fn resolve(&self, reference: &str) -> Result<JobRecord> {
        let r = reference.trim().to_ascii_lowercase();
        if r.is_empty() {
            return Err(EngineError::BadRequest("no job given".into()));
        }
        let db = lock(&self.reader);
        if let Some(rec) = db.job(&r)? {
            return Ok(rec);
        }
        let by_prefix = db.ids_with_prefix(&r, 6)?;
        let id = match by_prefix.len() {
            1 => by_prefix[0].clone(),
            0 => {
                let by_name = db.ids_with_codename(&r)?;
                by_name
                    .first()
                    .cloned()
                    .ok_or_else(|| EngineError::UnknownJob(reference.to_string()))?
            }
            _ => {
                return Err(EngineError::AmbiguousJob {
                    reference: reference.to_string(),
                    candidates: by_prefix.join(", "),
                })
            }
        };
        db.job(&id)?
            .ok_or_else(|| EngineError::UnknownJob(reference.to_string()))
    }

    /// Runs a review operation on a job off the async executor, one at a time; saves the job
    /// when the operation succeeds and `save` is set.
    pub(crate) async fn review_op<T: Send + 'static>(
        self: &Arc<Self>,
        reference: &str,
        save: bool,
        op: impl FnOnce(&mut JobRecord) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let id = self.resolve(reference)?.job.id;
        let inner = self.clone();
        crate::blocking(move || {
            let _guard = lock(&inner.review);
            // Read again under the lock: another operation may have just changed the job.
            let mut rec = inner.load(&id)?;
            let out = op(&mut rec)?;
            if save {
                inner.save(&rec, Vec::new())?;
            }
            Ok(out)
        })
        .await?
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

    /// See [`Engine::recover`]. A merge whose branch had moved records the job as merged;
    /// its worktree is left for `gc`.
    pub(crate) fn repair_merges(&self) {
        let _guard = lock(&self.review);
        let dir = self.ctx().journal;
        for entry in review::journal::pending(&dir) {
            let r = review::journal::repair(&dir, &entry);
            tracing::warn!(job = %r.job_id, done = r.done, message = %r.message, "an interrupted merge");
            self.notice(
                &r.job_id,
                if r.done { Level::Warn } else { Level::Error },
                r.message.clone(),
            );
            let Some(strategy) = entry.merge_strategy.filter(|_| r.completed) else {
                continue;
            };
            let Ok(mut rec) = self.load(&r.job_id) else {
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
                if let Err(e) = self.save(&rec, Vec::new()) {
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

    pub(crate) fn grace(&self) -> Duration {
        self.grace
    }
}
