//! The ledger of jobs: their records and events, kept by one writer (each write checked by the
//! store's table of legal state moves, and broadcast in `seq` order), read beside it, and handed
//! out with new ids. Everything that records a job goes through here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sidekick_protocol::{Event, EventBody, Job, JobState, Level};
use tokio::sync::broadcast;

use crate::{ids, lock, Clock, EngineError, Result};
use sidekick_store::{JobRecord, NewEvent, Store};

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

pub(crate) struct Ledger {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: ids::IdSource,
    /// Writes (and the broadcast that follows each, so subscribers see `seq` order).
    pub(crate) db: Mutex<Store>,
    /// Reads for listings and event streams, beside the writer (WAL).
    pub(crate) reader: Mutex<Store>,
    pub(crate) events: broadcast::Sender<Event>,
}

impl Ledger {
    pub(crate) fn new(clock: Arc<dyn Clock>, db: Store, reader: Store) -> Ledger {
        // Live subscribers that fall further behind than this catch up from the database.
        let (events, _) = broadcast::channel(1024);
        Ledger {
            clock,
            ids: ids::IdSource::default(),
            db: Mutex::new(db),
            reader: Mutex::new(reader),
            events,
        }
    }

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

    /// Records what the agent reported (with a warning at 80 % of the token budget); `tell`:
    /// also send the job as an event. The caps are the scheduler's to enforce.
    pub(crate) fn record_progress(
        &self,
        job_id: &str,
        p: &crate::jobs::messages::Progress,
        tell: bool,
    ) -> Result<JobRecord> {
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
            if !warned_before && used.saturating_mul(5) >= budget.saturating_mul(4) && used < budget
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

    /// Jobs, newest first. Without `all`, jobs already merged, discarded or archived are left
    /// out.
    pub(crate) fn jobs(&self, all: bool) -> Result<Vec<Job>> {
        let recs = {
            let db = lock(&self.reader);
            if all {
                db.jobs(None)?
            } else {
                let states: Vec<JobState> = JobState::ALL
                    .into_iter()
                    .filter(|s| !matches!(s, JobState::Merged | JobState::Discarded))
                    .collect();
                db.jobs(Some(&states))?
            }
        };
        let recs: Vec<_> = recs
            .into_iter()
            .filter(|r| all || !r.job.archived)
            .collect();
        let mut queued: Vec<&str> = recs
            .iter()
            .filter(|r| r.job.state == JobState::Queued)
            .map(|r| r.job.id.as_str())
            .collect();
        queued.sort_unstable();
        let positions: HashMap<String, u32> = queued
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), i as u32 + 1))
            .collect();
        let now = self.now();
        Ok(recs
            .into_iter()
            .map(|r| {
                let mut job = r.job;
                job.queue_position = positions.get(&job.id).copied();
                job.duration_ms = duration(&job, now);
                job
            })
            .collect())
    }

    /// One job by id, unique id prefix or codename, as clients see it.
    pub(crate) fn job(&self, reference: &str) -> Result<Job> {
        Ok(self.decorate(self.resolve(reference)?.job))
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
}
