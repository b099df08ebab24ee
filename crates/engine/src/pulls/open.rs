//! `sidekick pr JOB`: the job's branch pushed, then its pull request opened, or the open one for
//! that branch found and updated (never a second one). The token is checked before anything is
//! pushed, and a rejected push opens nothing.

use std::path::Path;

use sidekick_forge::{ForgeError, NewPull, PullChange};
use sidekick_protocol::{Job, JobState, Level, PrRequest, PullRequest};

use super::push::{self, Pushed};
use super::{ask, Pulls};
use crate::{Engine, EngineError, Refusal, Result, Scheduler};
use std::sync::Arc;

/// A title no longer than this (the task's first line otherwise runs on).
const TITLE_MAX: usize = 120;

impl Engine {
    /// Pushes the job's branch and opens its pull request (or updates the open one), then
    /// looks at its checks once. `req.fix`: hands the failing checks back to the agent.
    pub async fn pr(&self, reference: &str, req: PrRequest) -> Result<Job> {
        let id = self.ledger.resolve(reference)?.job.id;
        if req.fix {
            return self.fix_ci(&id).await;
        }
        self.pulls.open_and_record(&id, &req, &self.scheduler).await
    }
}

impl Pulls {
    /// Opens (or updates) the job's pull request, records it on the job, and looks at it.
    pub(crate) async fn open_and_record(
        self: &Arc<Self>,
        id: &str,
        req: &PrRequest,
        scheduler: &Arc<Scheduler>,
    ) -> Result<Job> {
        let rec = self.ledger.load(id)?;
        let Some(claim) = self.claim(id) else {
            return Err(EngineError::InvalidState(format!(
                "job {}'s pull request is being updated right now; try again in a moment",
                rec.job.codename
            )));
        };
        let pr = self.open(&rec.job, req).await?;
        let url = pr.url.clone();
        let number = pr.number;
        let (_, rec) = self.ledger.modify(id, |rec| {
            rec.job.pr = Some(pr);
            Ok(((), Vec::new()))
        })?;
        self.ledger
            .notice(id, Level::Info, format!("pull request #{number}: {url}"));
        drop(claim);
        // Its checks and review, at once rather than at the next round.
        let (pulls, scheduler, job) = (self.clone(), scheduler.clone(), id.to_string());
        tokio::spawn(async move { pulls.look(&job, &scheduler).await });
        Ok(self.ledger.decorate(rec.job))
    }

    async fn open(&self, job: &Job, req: &PrRequest) -> Result<PullRequest> {
        let name = &job.codename;
        match job.state {
            JobState::Merged => {
                return Err(EngineError::Refused(
                    Refusal::AlreadyMerged,
                    format!(
                    "job {name} is merged here already; its pull request would hold nothing new"
                ),
                ))
            }
            JobState::Discarded => {
                return Err(EngineError::Refused(
                    Refusal::JobDiscarded,
                    format!(
                        "job {name} was discarded; `sidekick restore {name}` brings it back first"
                    ),
                ))
            }
            s if s.is_active() => {
                return Err(EngineError::Refused(
                    Refusal::JobActive,
                    format!("job {name} is {s}; open its pull request once it has ended"),
                ))
            }
            _ => {}
        }
        let repo = Path::new(&job.repo);
        let (r, b) = (repo.to_path_buf(), job.branch.clone());
        let tip = crate::blocking(move || crate::repo::branch_tip(&r, &b))
            .await?
            .map_err(|_| {
                EngineError::Refused(
                    Refusal::BranchGone,
                    format!("job {name}'s branch {} is gone", job.branch),
                )
            })?;
        if tip == job.base_commit {
            return Err(EngineError::InvalidState(format!(
                "job {name} has no changes on its branch to open a pull request with"
            )));
        }
        let base = req
            .base
            .clone()
            .or_else(|| job.pr.as_ref().map(|p| p.base.clone()))
            .or_else(|| job.base_branch.clone())
            .ok_or_else(|| {
                EngineError::BadRequest(format!(
                    "job {name} started from a commit, not a branch: give the branch to merge into with --base BRANCH"
                ))
            })?;
        let reached = self.reach(repo, Some(&req.tokens)).await?;
        let forge = reached.forge;
        // The token is tried (and the open one found) before anything is pushed.
        let head = job.branch.clone();
        let h = head.clone();
        let found = ask(&forge, move |f| f.find_open(&h))
            .await
            .inspect_err(|e| self.refused(&reached.remote.host, e))?;
        let lease = job.pr.as_ref().map(|p| p.head_sha.as_str());
        let pushed = push::push(repo, &tip, &head, lease).await?;
        let pull = match found {
            Some(open) => {
                let change = PullChange {
                    title: req.title.clone(),
                    body: req.body.clone(),
                    base: req.base.clone().filter(|b| *b != open.base),
                };
                if change.is_empty() {
                    open
                } else {
                    let number = open.number;
                    ask(&forge, move |f| f.update(number, &change)).await?
                }
            }
            None => {
                let new = NewPull {
                    head: head.clone(),
                    base: base.clone(),
                    title: req.title.clone().unwrap_or_else(|| title_of(&job.task)),
                    body: req.body.clone().unwrap_or_else(|| body_of(job)),
                    draft: req.draft,
                };
                match ask(&forge, move |f| f.create(&new)).await {
                    Ok(p) => p,
                    Err(e) => {
                        // A branch this push made for a pull request that was not opened
                        // goes again: nothing half-done.
                        if pushed == Pushed::Created {
                            push::delete(repo, &head).await;
                        }
                        return Err(e);
                    }
                }
            }
        };
        Ok(PullRequest {
            forge: forge.kind().id().into(),
            number: pull.number,
            url: pull.url,
            state: pull.state,
            base: pull.base,
            head: pull.head,
            head_sha: tip,
            checks: job
                .pr
                .as_ref()
                .map(|p| p.checks.clone())
                .unwrap_or_default(),
            review: job.pr.as_ref().and_then(|p| p.review),
            polled_at: None,
            problem: None,
            fixes: job.pr.as_ref().map_or(0, |p| p.fixes),
            fixing: false,
        })
    }

    /// A refused token is dropped so the next request can bring a good one.
    pub(super) fn refused(&self, host: &str, e: &EngineError) {
        if matches!(e, EngineError::Forge(ForgeError::Unauthorized { .. })) {
            self.forget_token(host);
        }
    }
}

/// The task's first line, trimmed to [`TITLE_MAX`].
fn title_of(task: &str) -> String {
    let line = task
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Changes by Sidekick");
    if line.chars().count() <= TITLE_MAX {
        return line.to_string();
    }
    let cut: String = line.chars().take(TITLE_MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The agent's summary, the task, and where it came from.
fn body_of(job: &Job) -> String {
    let mut body = String::new();
    if let Some(summary) = job
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        body.push_str(summary);
        body.push_str("\n\n");
    }
    body.push_str("**Task**\n\n");
    for line in job.task.trim().lines() {
        body.push_str("> ");
        body.push_str(line);
        body.push('\n');
    }
    if let Some(issue) = &job.issue {
        body.push_str(&format!("\nCloses #{}\n", issue.number));
    }
    body.push_str(&format!(
        "\n<sub>Made by {} in Sidekick job {}.</sub>\n",
        job.agent, job.codename
    ));
    body
}

impl Pulls {
    /// Reads issue `number` of the origin of `req.repo` into the request: its title and body
    /// become the task (or its context, when a task is given), and are the context file either
    /// way.
    pub(crate) async fn issue_into(
        &self,
        req: &mut sidekick_protocol::SpawnRequest,
        number: u64,
        tokens: &sidekick_protocol::ForgeTokens,
    ) -> Result<sidekick_protocol::IssueRef> {
        let reached = self.reach(Path::new(&req.repo), Some(tokens)).await?;
        let host = reached.remote.host.clone();
        let issue = ask(&reached.forge, move |f| f.issue(number))
            .await
            .inspect_err(|e| self.refused(&host, e))?;
        let header = format!("Issue #{}: {}\n{}", issue.number, issue.title, issue.url);
        let from_issue = req.task.trim().is_empty() && req.task_type.is_none();
        // The issue is the task, and the context says where it came from; with a task of the
        // user's own, the whole issue is the context.
        let text = if from_issue {
            req.task = format!(
                "Resolve issue #{}: {}\n\n{}",
                issue.number,
                issue.title,
                issue.body.trim()
            )
            .trim_end()
            .to_string();
            header
        } else {
            format!("{header}\n\n{}", issue.body.trim())
        };
        req.context_text = Some(match req.context_text.take() {
            Some(given) if !given.trim().is_empty() => format!("{given}\n\n{text}"),
            _ => text,
        });
        Ok(sidekick_protocol::IssueRef {
            number: issue.number,
            title: issue.title,
            url: issue.url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_is_the_tasks_first_line_cut_to_size() {
        assert_eq!(
            title_of("\n  Fix the parser  \nmore words"),
            "Fix the parser"
        );
        let long = "x".repeat(300);
        let t = title_of(&long);
        assert_eq!(t.chars().count(), TITLE_MAX);
        assert!(t.ends_with('…'));
        assert_eq!(title_of("   "), "Changes by Sidekick");
    }
}
