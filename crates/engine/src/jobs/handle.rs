//! What one job's runner and output sink may do with the engine.
//!
//! They get a [`JobHandle`] instead of the engine's shared state: record their own job (every
//! save goes through the ledger's checks), its notices and output, the agent's progress (which
//! also enforces the job's caps), report a full disk, and say the job is over. Nothing else of
//! the engine (other jobs, scheduling, review) is in reach.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sidekick_protocol::Level;

use crate::jobs::messages::{Control, Progress, Said};
use crate::{lock, EngineError, Inner, Result};
use sidekick_store::{JobRecord, NewEvent};

#[derive(Clone)]
pub(crate) struct JobHandle {
    inner: Arc<Inner>,
    job_id: String,
}

impl JobHandle {
    pub(crate) fn new(inner: Arc<Inner>, job_id: String) -> JobHandle {
        JobHandle { inner, job_id }
    }

    pub(crate) fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The engine's clock (milliseconds since the epoch).
    pub(crate) fn now(&self) -> u64 {
        self.inner.now()
    }

    /// How long a stopped process gets between SIGTERM and SIGKILL.
    pub(crate) fn grace(&self) -> Duration {
        self.inner.grace()
    }

    /// The host-wide config file (the agent's profile env is read from it at start).
    pub(crate) fn config_file(&self) -> PathBuf {
        self.inner.home.config_file().to_path_buf()
    }

    /// Where Sidekick keeps its things (hidden from a sandboxed job).
    pub(crate) fn home(&self) -> sidekick_protocol::Home {
        self.inner.home.clone()
    }

    /// Makes one of the repository's warm worktrees this job's worktree (with the setup that
    /// already ran in it, if any); `None` when there was none to use.
    pub(crate) fn claim_warm(
        &self,
        repo: &std::path::Path,
        dest: &std::path::Path,
        branch: &str,
        commit: &str,
        reason: &str,
    ) -> Option<sidekick_git::warm::Claimed> {
        self.inner.claim_warm(repo, dest, branch, commit, reason)
    }

    /// Refills the repository's warm worktrees in the background (after this job's own
    /// worktree is ready, so it never waits for them).
    pub(crate) fn refill_warm(&self, repo: PathBuf, group: PathBuf, commit: String) {
        self.inner.refill_warm(repo, group, commit);
    }

    /// Merges this ended job if it may merge by itself and its merge is clean; else records
    /// why it waits for review (`automerge`).
    pub(crate) async fn decide_auto_merge(&self) {
        let engine = crate::Engine {
            inner: self.inner.clone(),
        };
        crate::automerge::decide(&engine, &self.job_id).await;
    }

    /// Watches the ended job's worktree once it is checked to hold nothing uncommitted.
    pub(crate) fn watch_settled(&self, worktree: PathBuf) {
        self.inner.watch_settled(self.job_id.clone(), worktree);
    }

    /// Saves this job (never another one), with a job event.
    pub(crate) fn save(&self, rec: &JobRecord) -> Result<()> {
        if rec.job.id != self.job_id {
            return Err(EngineError::Internal(format!(
                "job {}'s runner tried to save job {}",
                self.job_id, rec.job.id
            )));
        }
        self.inner.save(rec, Vec::new())
    }

    /// A line from Sidekick in the job's log.
    pub(crate) fn notice(&self, level: Level, message: impl Into<String>) {
        self.inner.notice(&self.job_id, level, message);
    }

    /// Stores and broadcasts this job's output and parsed events.
    pub(crate) fn append(&self, events: Vec<NewEvent>) -> Result<()> {
        if let Some(other) = events.iter().find(|e| e.job_id != self.job_id) {
            return Err(EngineError::Internal(format!(
                "job {}'s output carried an event of job {}",
                self.job_id, other.job_id
            )));
        }
        self.inner.append_events(events)
    }

    /// Records what the agent reported and holds it to the job's caps; `tell` also sends the
    /// job as an event.
    pub(crate) fn progress(&self, p: &Progress, tell: bool) {
        self.inner.agent_progress(&self.job_id, p, tell);
    }

    /// Writing the job's output hit a full disk: the job is stopped with `what` as its reason.
    pub(crate) fn disk_full(&self, what: String) {
        self.inner.disk_full(&self.job_id, what);
    }

    /// The job has ended: its still-active children end too.
    pub(crate) fn end_children(&self, rec: &JobRecord) {
        self.inner.end_children(rec);
    }

    /// The agent speaks its protocol on stdin: answers go to `tx`.
    pub(crate) fn open_dialog(&self, tx: tokio::sync::mpsc::UnboundedSender<Control>) {
        self.inner.open_dialog(&self.job_id, tx);
    }

    /// See [`Inner::stop_taking_replies`].
    pub(crate) fn stop_taking_replies(
        &self,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Control>,
    ) -> Option<String> {
        self.inner.stop_taking_replies(&self.job_id, rx)
    }

    /// Takes into `rec` (the runner's copy) what others recorded on the job while the agent
    /// ran, which a save of the runner's copy must not undo: the turns and last reply (a reply),
    /// and the open requests (what the agent asked).
    pub(crate) fn keep_others(&self, rec: &mut JobRecord) {
        if let Ok(stored) = self.inner.load(&self.job_id) {
            rec.job.turns = stored.job.turns;
            rec.last_reply = stored.last_reply;
            rec.job.requests = stored.job.requests;
        }
    }

    /// Saves the runner's copy of the job after `change`, having taken in what others recorded
    /// meanwhile (see [`JobHandle::keep_others`]) under the same writer's lock, so a request
    /// the agent opens while this runs is never written over.
    pub(crate) fn save_keeping_others(
        &self,
        rec: &mut JobRecord,
        change: impl FnOnce(&mut JobRecord) -> Result<()>,
    ) -> Result<()> {
        self.inner.modify(&self.job_id, |stored| {
            rec.job.turns = stored.job.turns;
            rec.last_reply = stored.last_reply.clone();
            rec.job.requests = stored.job.requests.clone();
            change(rec)?;
            *stored = rec.clone();
            Ok(((), Vec::new()))
        })?;
        Ok(())
    }

    /// The agent is gone: its dialog (the one `tx` belongs to) takes no more answers.
    pub(crate) fn close_dialog(&self, tx: &tokio::sync::mpsc::UnboundedSender<Control>) {
        self.inner.close_dialog(&self.job_id, tx);
    }

    /// Time the job has spent waiting for the user so far (not counted toward its timeout).
    pub(crate) fn waited(&self) -> Duration {
        self.inner.waited(&self.job_id)
    }

    /// What the agent said that its dialog acts on: a request (the job waits for the user) or
    /// the end of its answer (its stdin closes). Only a job in a dialog can be answered, so a
    /// request from any other is left alone.
    pub(crate) fn said(&self, said: Said) {
        if !lock(&self.inner.dialogs).contains_key(&self.job_id) {
            return;
        }
        match said {
            Said::Ask {
                id,
                tool,
                input,
                suggestions,
            } => {
                if let Err(e) =
                    self.inner
                        .open_request(&self.job_id, id.clone(), tool, input, suggestions)
                {
                    tracing::error!(job = %self.job_id, error = %e, "cannot record the agent's request");
                    return;
                }
                // Waiting, the job gives its place to the next queued one.
                self.inner.schedule();
                self.deny_unanswered_after_timeout(id);
            }
            Said::TurnEnded => self.inner.tell_dialog(&self.job_id, Control::TurnEnded),
            Said::Heard => self.inner.tell_dialog(&self.job_id, Control::Heard),
            Said::SessionReady(id) => self
                .inner
                .tell_dialog(&self.job_id, Control::SessionReady(id)),
            Said::Failed => self.inner.tell_dialog(&self.job_id, Control::End),
            Said::Loaded => self.inner.tell_dialog(&self.job_id, Control::Loaded),
            Said::SessionLost(why) => {
                self.notice(
                    Level::Warn,
                    format!("the agent's earlier session could not be loaded ({why}); a new one starts with the earlier task as context"),
                );
                self.inner.tell_dialog(&self.job_id, Control::SessionLost);
            }
            Said::Unanswerable { id, method } => {
                self.notice(
                    Level::Warn,
                    format!("the agent asked for {method}, which Sidekick does not carry; it was told so"),
                );
                self.inner
                    .tell_dialog(&self.job_id, Control::Refuse { id, method });
            }
        }
    }

    /// With `answer_timeout` set, a request still open after that long is denied.
    fn deny_unanswered_after_timeout(&self, request: String) {
        let Ok(Some(ms)) = sidekick_config::Config::load(self.inner.home.config_file())
            .map(|c| c.answer_timeout_ms)
        else {
            return;
        };
        let engine = crate::Engine {
            inner: self.inner.clone(),
        };
        let job = self.job_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let req = sidekick_protocol::AnswerRequest {
                request: Some(request),
                allow: false,
                always: false,
                message: Some(format!(
                    "no answer within the answer_timeout of {}",
                    crate::human(ms)
                )),
            };
            // Answered meanwhile (or the job ended): nothing to do.
            let _ = engine.answer(&job, req).await;
        });
    }

    /// The runner is done with the job: its stop handle goes (not a newer runner's, when a
    /// reply started the next turn meanwhile), and the next queued job may start.
    pub(crate) fn release(&self, stop: &tokio::sync::watch::Receiver<Option<crate::StopReason>>) {
        {
            let mut running = lock(&self.inner.running);
            if running
                .get(&self.job_id)
                .is_some_and(|tx| tx.subscribe().same_channel(stop))
            {
                running.remove(&self.job_id);
            }
        }
        self.inner.schedule();
    }
}
