//! The context a job starts with: what the user asked to pass on (text, another job's summary
//! or diff), written where the agent reads it.

use std::path::{Path, PathBuf};

use sidekick_protocol::SpawnRequest;

use crate::{repo, EngineError, Result, Scheduler};
use sidekick_store::JobRecord;

impl Scheduler {
    /// The context a request asks for (`None`: the task only).
    pub(crate) fn context_text(
        &self,
        req: &SpawnRequest,
        continued: Option<&JobRecord>,
    ) -> Result<Option<String>> {
        use sidekick_protocol::ContextMode;
        let from = match &req.context_from {
            Some(r) => Some(self.ledger.resolve(r)?),
            None => None,
        };
        let text = req.context_text.as_deref().filter(|t| !t.trim().is_empty());
        let has_source =
            req.context_file.is_some() || text.is_some() || from.is_some() || continued.is_some();
        match (req.context, has_source) {
            (Some(ContextMode::TaskOnly), true) => {
                return Err(EngineError::BadRequest(
                    "--context task_only takes no context file, text or job".into(),
                ))
            }
            (Some(ContextMode::Full), false) => {
                return Err(EngineError::BadRequest(
                    "--context full needs --context-file FILE or --context-from JOB".into(),
                ))
            }
            (_, false) => return Ok(None),
            _ => {}
        }
        let mut parts = Vec::new();
        for job in continued.into_iter().chain(from.as_ref()) {
            parts.push(self.job_context(job));
        }
        if let Some(path) = &req.context_file {
            let p = PathBuf::from(path);
            if !p.is_absolute() {
                return Err(EngineError::BadRequest(format!(
                    "the context file '{path}' must be an absolute path"
                )));
            }
            let text = std::fs::read_to_string(&p).map_err(|e| {
                EngineError::BadRequest(format!("cannot read the context file {path}: {e}"))
            })?;
            parts.push(format!("## From {path}\n\n{}", text.trim_end()));
        }
        if let Some(text) = text {
            parts.push(format!("## From the one who asked\n\n{}", text.trim_end()));
        }
        Ok(Some(format!("# Context\n\n{}\n", parts.join("\n\n"))))
    }

    /// A job as context: its task, summary and the stat of its changes.
    pub(crate) fn job_context(&self, rec: &JobRecord) -> String {
        let j = &rec.job;
        let mut out = format!(
            "## Job {} ({}), {}\n\nTask:\n{}\n",
            j.codename,
            j.id,
            j.state,
            j.task.trim_end()
        );
        if let Some(s) = &j.summary {
            out.push_str(&format!("\nSummary:\n{}\n", s.trim_end()));
        }
        if let Some(head) = &j.head_commit {
            let mut cmd = repo::git(Path::new(&j.repo));
            cmd.args(["diff", "--stat", "--no-color", &j.base_commit, head]);
            if let Ok(stat) = repo::run(cmd, "diff --stat") {
                if !stat.trim().is_empty() {
                    out.push_str(&format!("\nChanges:\n{}\n", stat.trim_end()));
                }
            }
        }
        out
    }
}
