//! After a host died: jobs it left starting, running or stopping are ended `interrupted`, their
//! leftover processes stopped and their work committed.

use std::sync::Arc;

use sidekick_protocol::{JobState, Level};

use crate::{lock, process, runner, Result, Scheduler};
use sidekick_store::ledger;

/// See [`crate::Engine::recover`].
impl Scheduler {
    pub(crate) async fn recover(self: &Arc<Self>) -> Result<Vec<String>> {
        let inner = self;
        let live = lock(&inner.ledger.db).jobs(Some(&JobState::LIVE))?;
        let mut ids = Vec::new();
        for mut rec in live {
            let was = rec.job.state;
            if let Some(leader) = &rec.process {
                let pids = process::job_processes(&rec.job.id, leader);
                if !pids.is_empty() {
                    tracing::warn!(job = %rec.job.id, ?pids, "stopping processes left by the previous host");
                    inner.ledger.notice(
                        &rec.job.id,
                        Level::Warn,
                        format!(
                            "stopped {} process(es) the previous host left running",
                            pids.len()
                        ),
                    );
                    process::stop_pids(&pids, inner.grace()).await;
                }
            }
            let mut reason = format!(
                "the host stopped while the job was {was}; its worktree and output are kept"
            );
            match runner::save_leftovers(&mut rec).await {
                Ok(notes) => {
                    for note in notes {
                        inner.ledger.notice(&rec.job.id, Level::Warn, note);
                    }
                }
                Err(e) => {
                    inner.ledger.notice(&rec.job.id, Level::Error, e.clone());
                    reason = format!("{reason}; {e}");
                }
            }
            // The agent that asked is gone with the host: nobody can answer it any more.
            if !rec.job.requests.is_empty() {
                let asked: Vec<String> = rec
                    .job
                    .requests
                    .drain(..)
                    .map(|r| format!("{} {}", r.tool, r.detail))
                    .collect();
                reason = format!(
                    "{reason}; what it asked went unanswered: {}",
                    asked.join(", ")
                );
            }
            ledger::move_to(&mut rec, JobState::Interrupted)?;
            rec.job.reason = Some(reason);
            rec.job.ended_at = Some(inner.ledger.now());
            inner.ledger.save(&rec, Vec::new())?;
            tracing::info!(job = %rec.job.id, "job interrupted by a host restart");
            ids.push(rec.job.id.clone());
            inner.end_children(&rec);
        }
        Ok(ids)
    }
}
