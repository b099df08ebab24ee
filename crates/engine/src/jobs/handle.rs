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

use crate::jobs::dialogs::Dialogs;
use crate::jobs::messages::{Control, Progress, Said, Slots, StopReason};
use crate::ledger::Ledger;
use crate::pool::Pools;
use crate::{EngineError, Result};
use sidekick_store::{JobRecord, NewEvent};

/// One job's capability: its own record and events (through the ledger), its dialog, the warm
/// worktrees, and what it may ask of the scheduler ([`Slots`]).
#[derive(Clone)]
pub(crate) struct JobHandle {
    pub(crate) job_id: String,
    pub(crate) home: sidekick_protocol::Home,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) dialogs: Arc<Dialogs>,
    pub(crate) pools: Arc<Pools>,
    pub(crate) slots: Arc<dyn Slots>,
}

impl JobHandle {
    pub(crate) fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The engine's clock (milliseconds since the epoch).
    pub(crate) fn now(&self) -> u64 {
        self.ledger.now()
    }

    /// How long a stopped process gets between SIGTERM and SIGKILL.
    pub(crate) fn grace(&self) -> Duration {
        self.slots.grace()
    }

    /// The host-wide config file (the agent's profile env is read from it at start).
    pub(crate) fn config_file(&self) -> PathBuf {
        self.home.config_file().to_path_buf()
    }

    /// Where Sidekick keeps its things (hidden from a sandboxed job).
    pub(crate) fn home(&self) -> sidekick_protocol::Home {
        self.home.clone()
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
        self.pools.claim_warm(repo, dest, branch, commit, reason)
    }

    /// Refills the repository's warm worktrees in the background (after this job's own
    /// worktree is ready, so it never waits for them).
    pub(crate) fn refill_warm(&self, repo: PathBuf, group: PathBuf, commit: String) {
        self.pools.refill_warm(repo, group, commit);
    }

    /// Watches the ended job's worktree once it is checked to hold nothing uncommitted.
    pub(crate) fn watch_settled(&self, worktree: PathBuf) {
        self.pools.watch_settled(self.job_id.clone(), worktree);
    }

    /// Saves this job (never another one), with a job event.
    pub(crate) fn save(&self, rec: &JobRecord) -> Result<()> {
        if rec.job.id != self.job_id {
            return Err(EngineError::Internal(format!(
                "job {}'s runner tried to save job {}",
                self.job_id, rec.job.id
            )));
        }
        self.ledger.save(rec, Vec::new())
    }

    /// A line from Sidekick in the job's log.
    pub(crate) fn notice(&self, level: Level, message: impl Into<String>) {
        self.ledger.notice(&self.job_id, level, message);
    }

    /// Stores and broadcasts this job's output and parsed events.
    pub(crate) fn append(&self, events: Vec<NewEvent>) -> Result<()> {
        if let Some(other) = events.iter().find(|e| e.job_id != self.job_id) {
            return Err(EngineError::Internal(format!(
                "job {}'s output carried an event of job {}",
                self.job_id, other.job_id
            )));
        }
        self.ledger.append_events(events)
    }

    /// Records what the agent reported and holds it to the job's caps; `tell` also sends the
    /// job as an event.
    pub(crate) fn progress(&self, p: &Progress, tell: bool) {
        let rec = match self.ledger.record_progress(&self.job_id, p, tell) {
            Ok(rec) => rec,
            Err(e) => {
                tracing::error!(job = %self.job_id, error = %e, "cannot record the agent's progress");
                return;
            }
        };
        if !rec.job.state.is_live() {
            return;
        }
        if let Some(cap) = rec.job.max_steps.filter(|cap| rec.job.steps >= *cap) {
            let _ = self.slots.stop(&self.job_id, StopReason::StepCap(cap));
        }
        if let Some(budget) = rec.job.token_budget {
            let used = rec.job.tokens.total();
            if used >= budget {
                let _ = self
                    .slots
                    .stop(&self.job_id, StopReason::TokenBudget { used, budget });
            }
        }
    }

    /// Writing the job's output hit a full disk: the job is stopped with `what` as its reason.
    pub(crate) fn disk_full(&self, what: String) {
        self.slots.disk_full(&self.job_id, what);
    }

    /// The job has ended: its still-active children end too.
    pub(crate) fn end_children(&self, rec: &JobRecord) {
        self.slots.end_children(rec);
    }

    /// The agent speaks its protocol on stdin: answers go to `tx`.
    pub(crate) fn open_dialog(&self, tx: tokio::sync::mpsc::UnboundedSender<Control>) {
        self.dialogs.open(&self.job_id, tx);
    }

    /// See [`Dialogs::stop_taking_replies`].
    pub(crate) fn stop_taking_replies(
        &self,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Control>,
    ) -> Option<String> {
        self.dialogs.stop_taking_replies(&self.job_id, rx)
    }

    /// Takes into `rec` (the runner's copy) what others recorded on the job while the agent
    /// ran, which a save of the runner's copy must not undo: the turns and last reply (a reply),
    /// and the open requests (what the agent asked).
    pub(crate) fn keep_others(&self, rec: &mut JobRecord) {
        if let Ok(stored) = self.ledger.load(&self.job_id) {
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
        self.ledger.modify(&self.job_id, |stored| {
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
        self.dialogs.close(&self.job_id, tx);
    }

    /// Time the job has spent waiting for the user so far (not counted toward its timeout).
    pub(crate) fn waited(&self) -> Duration {
        self.dialogs.waited(&self.job_id)
    }

    /// What the agent said that its dialog acts on: a request (the job waits for the user) or
    /// the end of its answer (its stdin closes). Only a job in a dialog can be answered, so a
    /// request from any other is left alone.
    pub(crate) fn said(&self, said: Said) {
        if !self.dialogs.has(&self.job_id) {
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
                    self.dialogs
                        .open_request(&self.job_id, id.clone(), tool, input, suggestions)
                {
                    tracing::error!(job = %self.job_id, error = %e, "cannot record the agent's request");
                    return;
                }
                // Waiting, the job gives its place to the next queued one.
                self.slots.schedule();
                self.deny_unanswered_after_timeout(id);
            }
            Said::TurnEnded => self.dialogs.tell(&self.job_id, Control::TurnEnded),
            Said::Heard => self.dialogs.tell(&self.job_id, Control::Heard),
            Said::SessionReady(id) => self.dialogs.tell(&self.job_id, Control::SessionReady(id)),
            Said::Failed => self.dialogs.tell(&self.job_id, Control::End),
            Said::Loaded => self.dialogs.tell(&self.job_id, Control::Loaded),
            Said::SessionLost(why) => {
                self.notice(
                    Level::Warn,
                    format!("the agent's earlier session could not be loaded ({why}); a new one starts with the earlier task as context"),
                );
                self.dialogs.tell(&self.job_id, Control::SessionLost);
            }
            Said::Unanswerable { id, method } => {
                self.notice(
                    Level::Warn,
                    format!("the agent asked for {method}, which Sidekick does not carry; it was told so"),
                );
                self.dialogs
                    .tell(&self.job_id, Control::Refuse { id, method });
            }
        }
    }

    /// With `answer_timeout` set, a request still open after that long is denied.
    fn deny_unanswered_after_timeout(&self, request: String) {
        let Ok(Some(ms)) =
            sidekick_config::Config::load(self.home.config_file()).map(|c| c.answer_timeout_ms)
        else {
            return;
        };
        let dialogs = self.dialogs.clone();
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
            let _ = crate::blocking(move || dialogs.answer(&job, req)).await;
        });
    }

    /// The runner is done with the job: its slot goes to the next queued job, and a job that
    /// may merge by itself is merged (or held with the reason) by the scheduler.
    pub(crate) fn release(&self, stop: &tokio::sync::watch::Receiver<Option<StopReason>>) {
        self.slots.release(&self.job_id, stop);
    }
}
