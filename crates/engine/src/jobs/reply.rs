//! A reply: the user's next message to a job's agent. While an agent in a dialog works, it is
//! written to the agent as its next message (a turn of its own). After the job has ended, the
//! same job runs again in the same worktree and branch; an agent that can resume its session does (Claude Code in a
//! dialog: `--resume SESSION`, the reply its first message; Codex's app-server: `thread/resume`;
//! an ACP agent (Gemini CLI): `session/load`;
//! Codex `exec`: `exec resume`), so it remembers the conversation. Any other agent gets the reply as its task, with the earlier
//! turns as context. The new turn's changes are committed on the branch like the first's.

use sidekick_protocol::{EventBody, Job, JobState, Level, ReplyRequest};

use crate::jobs::messages::with_earlier_task;
use crate::{Engine, EngineError, Result};
use sidekick_config::Config;
use sidekick_store::ledger;
use sidekick_store::NewEvent;

/// The user's message as a line of its own in the job's log (`you: ...`).
fn you_said(job_id: &str, time: u64, text: &str) -> NewEvent {
    NewEvent {
        job_id: job_id.to_string(),
        time,
        body: EventBody::Notice {
            level: Level::Info,
            message: format!("you: {text}"),
        },
    }
}

impl Engine {
    /// Sends `req.text` to the job's agent (with its unsent review comments when
    /// `req.comments`, which are then marked sent): the job is queued again for another turn.
    pub async fn reply(&self, reference: &str, req: ReplyRequest) -> Result<Job> {
        if !req.comments {
            return self.send_reply(reference, req.text).await;
        }
        let (text, ids) = self.comments_reply(reference, &req.text).await?;
        let job = self.send_reply(reference, text).await?;
        if let Err(e) = self.mark_comments_sent(&job.id, &ids) {
            tracing::error!(job = %job.id, error = %e, "the comments went to the agent but could not be marked sent");
        }
        Ok(job)
    }

    async fn send_reply(&self, reference: &str, text: String) -> Result<Job> {
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(EngineError::BadRequest("the reply is empty".into()));
        }
        let inner = self.scheduler.clone();
        let reference = reference.to_string();
        let job = crate::blocking(move || inner.queue_reply(&reference, text)).await??;
        self.scheduler.schedule();
        Ok(job)
    }
}

impl crate::Scheduler {
    /// Queues the job for another turn with `text` as its message (or gives it to an agent at
    /// work in a dialog). The caller schedules.
    pub(crate) fn queue_reply(&self, reference: &str, text: String) -> Result<Job> {
        let inner = self;
        let current = inner.ledger.resolve(reference)?;
        let id = current.job.id;
        // An agent at work in a dialog takes it as its next message.
        if current.job.state.is_live() && inner.dialogs.say(&id, &text) {
            let now = inner.ledger.now();
            let (_, rec) = inner.ledger.modify(&id, |rec| {
                rec.job.turns += 1;
                rec.last_reply = Some(text.clone());
                Ok(((), vec![you_said(&rec.job.id, now, &text)]))
            })?;
            return Ok(inner.ledger.decorate(rec.job));
        }
        let config = Config::load(inner.home.config_file())?;
        let now = inner.ledger.now();
        let (_, rec) = inner.ledger.modify(&id, |rec| {
            let name = rec.job.codename.clone();
            match rec.job.state {
                JobState::Merged | JobState::Discarded => {
                    return Err(EngineError::InvalidState(format!(
                        "job {name} is {}; `sidekick run --continue {name}` starts a new job from its branch",
                        rec.job.state
                    )))
                }
                s if s.is_active() => {
                    return Err(EngineError::InvalidState(format!(
                        "job {name} is {s} and its agent cannot take a message now; reply once it has ended (what it asks is answered with `sidekick allow` or `deny`)"
                    )))
                }
                _ => {}
            }
            if !rec.has_worktree || !std::path::Path::new(&rec.job.worktree).join(".git").exists() {
                return Err(EngineError::InvalidState(format!(
                    "job {name}'s worktree was removed; `sidekick restore {name}` brings it back first"
                )));
            }
            let profile = config.profile(&rec.job.agent).ok_or_else(|| {
                EngineError::InvalidState(format!(
                    "job {name}'s agent '{}' is no longer configured",
                    rec.job.agent
                ))
            })?;
            let session = rec.session.clone();
            let earlier = with_earlier_task(&rec.job.task, &text);
            if profile.dialog {
                // Claude Code resumes its session (`--resume`), Codex its thread and an
                // ACP agent its session (the runner's dialog sends `thread/resume` or
                // `session/load` for a job with a session): they remember.
                use sidekick_agents::parse::Format;
                let resume = session.as_ref().filter(|_| {
                    matches!(
                        profile.format,
                        Format::ClaudeStream | Format::CodexApp | Format::Acp
                    )
                });
                let mut argv = profile.command.clone();
                if let Some(session) = resume.filter(|_| profile.format == Format::ClaudeStream) {
                    argv.extend(["--resume".to_string(), session.clone()]);
                }
                rec.argv = argv;
                rec.dialog = Some(if resume.is_some() {
                    text.clone()
                } else {
                    earlier.clone()
                });
            } else {
                rec.argv = session
                    .as_deref()
                    .and_then(|s| profile.resume_argv(&text, s))
                    .unwrap_or_else(|| {
                        if rec.job.agent == sidekick_agents::SHELL {
                            profile.argv(&text)
                        } else {
                            profile.argv(&earlier)
                        }
                    });
                rec.dialog = None;
            }
            // The agent's settings may have changed since the last turn (`ask` or not).
            rec.format = profile.format;
            ledger::move_to(rec, JobState::Queued)?;
            // The turn that ended counts toward the whole job's run time.
            if let (Some(start), Some(end)) = (rec.job.started_at, rec.job.ended_at) {
                rec.job.earlier_ms = rec
                    .job
                    .earlier_ms
                    .saturating_add(end.saturating_sub(start));
            }
            // The next turn's start is set when it starts.
            rec.job.started_at = None;
            rec.job.turns += 1;
            rec.last_reply = Some(text.clone());
            // Another turn is something to look at again.
            rec.job.archived = false;
            rec.job.reason = None;
            rec.job.exit_code = None;
            rec.job.ended_at = None;
            rec.job.capped = false;
            rec.process = None;
            // Its new turn is weighed again for an auto-merge when it ends.
            if let Some(am) = rec.job.auto_merge.as_mut() {
                am.outcome = sidekick_protocol::AutoMergeOutcome::Pending;
                am.reason = None;
            }
            Ok(((), vec![you_said(&rec.job.id, now, &text)]))
        })?;
        Ok(inner.ledger.decorate(rec.job))
    }
}
