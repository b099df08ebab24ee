//! `sidekick retry`: a job replayed in isolation. The new job is made from the request the old
//! one was made from (its task type and inputs, agent, budgets, timeout, sandbox, notification
//! and auto-merge wishes), with the limits the old job actually ran under and the context its
//! agent was given, in a fresh worktree.

use sidekick_protocol::SpawnRequest;

use super::spawn::Retry;
use crate::{EngineError, Result, Scheduler};
use sidekick_config::tasks;
use sidekick_store::JobRecord;

/// The request and the retry's own parts for a new run of `old`.
pub(crate) fn request(
    inner: &Scheduler,
    old: &JobRecord,
    same_base: bool,
) -> Result<(SpawnRequest, Retry)> {
    let j = &old.job;
    if !j.state.has_ended() {
        return Err(EngineError::InvalidState(format!(
            "job {} is still {}; retry it once it has ended (or cancel it first)",
            j.codename, j.state
        )));
    }
    // Jobs made before the request was kept: what the job itself says.
    let mut req = old.request.clone().unwrap_or_else(|| SpawnRequest {
        repo: j.repo.clone(),
        task: j.task.clone(),
        agent: None,
        base: None,
        timeout_ms: None,
        parent: None,
        notify: j.notify,
        max_steps: None,
        token_budget: None,
        task_type: None,
        inputs: Default::default(),
        context: None,
        context_file: None,
        context_from: None,
        continue_from: None,
        context_text: None,
        spawned_by: None,
        sandbox: old.sandbox,
        auto_merge: None,
        open_pr: j.open_pr,
        issue: None,
        tokens: Default::default(),
    });
    // The same agent and limits it ran with, whatever the configs say now (an agent or task
    // type that is gone is refused when the job is made).
    req.repo = j.repo.clone();
    req.agent = Some(j.agent.clone());
    req.timeout_ms = Some(j.timeout_ms);
    req.max_steps = j.max_steps;
    req.token_budget = j.token_budget;
    // A person asks for a retry, whoever asked for the job.
    req.spawned_by = None;
    // A parent that has ended has no use for a new child.
    if let Some(parent) = &j.parent_id {
        let live = inner
            .ledger
            .load(parent)
            .is_ok_and(|p| !p.job.state.has_ended());
        req.parent = live.then(|| parent.clone());
    }
    let mut merge_into = None;
    if req.continue_from.is_none() {
        req.base = Some(match (&j.base_branch, same_base) {
            (Some(branch), false) => branch.clone(),
            (branch, _) => {
                merge_into = branch.clone();
                j.base_commit.clone()
            }
        });
    }
    // The context its agent got, read back from the file it was given in.
    let file = inner
        .home
        .root()
        .join("contexts")
        .join(format!("{}.md", j.id));
    let context = match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(EngineError::InvalidState(format!(
                "cannot retry {}: its context ({}) cannot be read: {e}",
                j.codename,
                file.display()
            )))
        }
    };
    Ok((
        req,
        Retry {
            of: j.id.clone(),
            context,
            merge_into,
        },
    ))
}

/// A retry the configs no longer allow, in one sentence that names the job.
pub(crate) fn refused(codename: &str, e: EngineError) -> EngineError {
    match e {
        EngineError::UnknownAgent { name, known } => EngineError::InvalidState(format!(
            "cannot retry {codename}: its agent '{name}' is no longer configured (the agents are: {known})"
        )),
        EngineError::Task(tasks::TaskError::Unknown { name, dir }) => {
            EngineError::InvalidState(format!(
                "cannot retry {codename}: its task type '{name}' no longer exists in {}",
                dir.display()
            ))
        }
        other => other,
    }
}
