//! Open pull requests watched: each looked at no more often than `[github] poll_interval`,
//! with a conditional request first (an unchanged pull request with settled checks costs one
//! request that does not count against GitHub's rate limit); a spent rate limit rests that forge
//! until it resets and says so on the job; a forge that cannot be reached is said on the job and
//! asked again next round. Failing checks go back to the agent as a reply (`[pr] fix_ci` times
//! by itself, or `pr --fix`), and the fix turn's commit is pushed to the pull request when the
//! turn ends.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sidekick_forge::{ForgeError, Fresh};
use sidekick_protocol::{
    CheckState, Checks, EventBody, Job, JobState, Level, PullRequest, ReviewState,
};

use super::push;
use super::{ask, Pulls};
use crate::{lock, Engine, EngineError, Result, Scheduler};

/// The longest stretch of a check's output handed to the agent per check.
const FIX_OUTPUT_MAX: usize = 3000;

impl Engine {
    /// Hands the pull request's failing checks to the agent once (`sidekick pr --fix`).
    pub(crate) async fn fix_ci(&self, id: &str) -> Result<Job> {
        self.pulls.hand_back(id, &self.scheduler).await
    }

    /// Watches open pull requests until the engine is gone.
    pub(crate) fn watch_pulls(&self) {
        let pulls = Arc::downgrade(&self.pulls);
        let scheduler = Arc::downgrade(&self.scheduler);
        let rx = self.ledger.events.subscribe();
        tokio::spawn(watch(pulls, scheduler, rx));
    }
}

async fn watch(
    pulls: Weak<Pulls>,
    scheduler: Weak<Scheduler>,
    mut rx: tokio::sync::broadcast::Receiver<sidekick_protocol::Event>,
) {
    let mut next_round = tokio::time::Instant::now();
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                };
                let EventBody::Job { job } = ev.body else { continue };
                let (Some(p), Some(s)) = (pulls.upgrade(), scheduler.upgrade()) else { return };
                // A fix turn that ended: its commit goes to the pull request.
                if job.pr.as_ref().is_some_and(|p| p.fixing) && job.state.has_ended() {
                    tokio::spawn(async move { p.push_fix(&job.id, &s).await });
                } else if opens_now(&job) && lock(&p.opened).insert((job.id.clone(), job.turns)) {
                    // A job that opens its pull request by itself, once per turn.
                    tokio::spawn(async move { p.open_by_itself(&job, &s).await });
                }
            }
            _ = tokio::time::sleep_until(next_round) => {
                let (Some(p), Some(s)) = (pulls.upgrade(), scheduler.upgrade()) else { return };
                let every = p
                    .config()
                    .map(|c| c.forges.poll_interval_ms)
                    .unwrap_or(sidekick_config::forges::DEFAULT_POLL_MS);
                next_round = tokio::time::Instant::now() + Duration::from_millis(every);
                let open: Vec<String> = p
                    .ledger
                    .jobs(true)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|j| j.pr.as_ref().is_some_and(PullRequest::is_open))
                    .map(|j| j.id)
                    .collect();
                for id in open {
                    p.look(&id, &s).await;
                }
            }
        }
    }
}

/// The job completed a turn with changes and opens its pull request by itself (`--pr`,
/// `[pr] open`), and has none yet.
fn opens_now(job: &Job) -> bool {
    job.open_pr.is_some()
        && job.pr.is_none()
        && job.state == JobState::Completed
        && job.files_changed.is_some_and(|n| n > 0)
}

impl Pulls {
    async fn open_by_itself(self: &Arc<Self>, job: &Job, scheduler: &Arc<Scheduler>) {
        let req = sidekick_protocol::PrRequest {
            draft: job.open_pr == Some(sidekick_protocol::PrOpenMode::Draft),
            ..Default::default()
        };
        if let Err(e) = self.open_and_record(&job.id, &req, scheduler).await {
            self.ledger.notice(
                &job.id,
                Level::Warn,
                format!(
                    "the pull request was not opened: {e}; `sidekick pr {}` tries again",
                    job.codename
                ),
            );
        }
    }

    /// One look at a job's open pull request; what changed is saved on the job and said in its
    /// log, and failing checks go back to the agent while `[pr] fix_ci` allows.
    pub(crate) async fn look(self: &Arc<Self>, id: &str, scheduler: &Arc<Scheduler>) {
        let Some(claim) = self.claim(id) else { return };
        let Ok(rec) = self.ledger.load(id) else {
            return;
        };
        let Some(old) = rec.job.pr.clone().filter(PullRequest::is_open) else {
            return;
        };
        let now = self.ledger.now();
        let seen = match self.round(&rec.job, &old).await {
            Ok(new) => new,
            Err(e) => {
                let said = e.to_string();
                if old.problem.as_deref() != Some(said.as_str()) {
                    self.ledger.notice(
                        id,
                        Level::Warn,
                        format!("pull request #{}: {said}", old.number),
                    );
                }
                PullRequest {
                    problem: Some(said),
                    polled_at: Some(now),
                    ..old.clone()
                }
            }
        };
        let saved = self.ledger.modify(id, |rec| {
            // Only the pull request changes; a push or a fix since the round started is kept.
            if let Some(pr) = rec.job.pr.as_mut().filter(|p| p.number == seen.number) {
                let (fixing, fixes) = (pr.fixing, pr.fixes);
                *pr = seen.clone();
                pr.fixing = fixing;
                pr.fixes = fixes;
            }
            Ok(((), Vec::new()))
        });
        let Ok((_, rec)) = saved else { return };
        for line in changes(&old, &seen) {
            self.ledger.notice(id, Level::Info, line);
        }
        drop(claim);
        let fix_ci = self.config().map(|c| c.pr.fix_ci).unwrap_or(0);
        let newly_failing =
            seen.checks.state == CheckState::Failure && old.checks.state != CheckState::Failure;
        if newly_failing && seen.is_open() && !seen.fixing && seen.fixes < fix_ci {
            match self.hand_back(&rec.job.id, scheduler).await {
                Ok(_) => {}
                Err(e) => self.ledger.notice(
                    id,
                    Level::Warn,
                    format!("the failing checks could not go back to the agent: {e}"),
                ),
            }
        }
    }

    /// Asks the forge: the pull request (conditionally), then its checks while they are not
    /// settled or it changed, and its review when it changed.
    async fn round(&self, job: &Job, pr: &PullRequest) -> Result<PullRequest> {
        let reached = self.reach(std::path::Path::new(&job.repo), None).await?;
        let host = reached.remote.host.to_ascii_lowercase();
        let now_secs = self.ledger.now() / 1000;
        if let Some(until) = lock(&self.resting)
            .get(&host)
            .copied()
            .filter(|u| *u > now_secs)
        {
            return Err(ForgeError::RateLimited {
                forge: reached.remote.kind,
                until,
            }
            .into());
        }
        let result = self.ask_forge(&reached, &job.id, pr).await;
        if let Err(EngineError::Forge(ForgeError::RateLimited { until, .. })) = &result {
            lock(&self.resting).insert(host.clone(), *until);
        }
        if let Err(e) = &result {
            self.refused(&host, e);
        }
        result
    }

    async fn ask_forge(
        &self,
        reached: &super::Reached,
        id: &str,
        pr: &PullRequest,
    ) -> Result<PullRequest> {
        let forge = &reached.forge;
        let number = pr.number;
        let last = lock(&self.etags).get(id).cloned();
        let etag = last.as_ref().map(|(e, _)| e.clone());
        let fresh = ask(forge, move |f| f.get(number, etag.as_deref())).await?;
        let (pull, changed) = match (fresh, last) {
            (Fresh::New(pull, etag), _) => {
                if let Some(etag) = etag {
                    lock(&self.etags).insert(id.to_string(), (etag, pull.clone()));
                }
                (pull, true)
            }
            (Fresh::Unchanged, Some((_, pull))) => (pull, false),
            (Fresh::Unchanged, None) => return Ok(pr.clone()),
        };
        let head_sha = if pull.head_sha.is_empty() {
            pr.head_sha.clone()
        } else {
            pull.head_sha.clone()
        };
        let mut new = PullRequest {
            state: pull.state,
            base: pull.base.clone(),
            url: pull.url.clone(),
            head_sha,
            ..pr.clone()
        };
        let settled = matches!(new.checks.state, CheckState::Success | CheckState::Failure);
        if changed || !settled {
            let p = pull.clone();
            new.checks = ask(forge, move |f| f.checks(&p)).await?;
        }
        if changed {
            new.review = ask(forge, move |f| f.review(number)).await?;
        }
        new.polled_at = Some(self.ledger.now());
        new.problem = None;
        Ok(new)
    }

    /// Gives the agent the failing checks as a reply in its session; the turn's commit is
    /// pushed to the pull request when it ends.
    pub(crate) async fn hand_back(&self, id: &str, scheduler: &Arc<Scheduler>) -> Result<Job> {
        let rec = self.ledger.load(id)?;
        let name = rec.job.codename.clone();
        let pr = rec.job.pr.clone().ok_or_else(|| {
            EngineError::InvalidState(format!(
                "job {name} has no pull request; `sidekick pr {name}` opens one"
            ))
        })?;
        if pr.fixing {
            return Err(EngineError::InvalidState(format!(
                "job {name}'s agent is fixing the checks already"
            )));
        }
        if rec.job.agent == sidekick_agents::SHELL {
            return Err(EngineError::InvalidState(format!(
                "job {name} runs the shell agent, which would run a reply as a command: fix its checks in its worktree, or `sidekick run --continue {name}` with a coding agent"
            )));
        }
        let text = fix_message(&pr.checks).ok_or_else(|| {
            EngineError::InvalidState(format!(
                "pull request #{} of job {name} has no failing checks to fix (its checks: {})",
                pr.number,
                pr.checks.state.as_str()
            ))
        })?;
        let s = scheduler.clone();
        let reference = id.to_string();
        crate::blocking(move || s.queue_reply(&reference, text)).await??;
        let (_, rec) = self.ledger.modify(id, |rec| {
            if let Some(pr) = rec.job.pr.as_mut() {
                pr.fixing = true;
                pr.fixes += 1;
            }
            Ok(((), Vec::new()))
        })?;
        self.ledger.notice(
            id,
            Level::Info,
            format!(
                "the failing checks of pull request #{} went back to the agent",
                pr.number
            ),
        );
        scheduler.schedule();
        Ok(self.ledger.decorate(rec.job))
    }

    /// A fix turn ended: its commit goes to the pull request's branch, and its checks are
    /// watched again.
    async fn push_fix(self: &Arc<Self>, id: &str, scheduler: &Arc<Scheduler>) {
        let Some(claim) = self.claim(id) else { return };
        let Ok(rec) = self.ledger.load(id) else {
            return;
        };
        let Some(pr) = rec.job.pr.clone().filter(|p| p.fixing) else {
            return;
        };
        let job = rec.job;
        let repo = std::path::PathBuf::from(&job.repo);
        let outcome: Result<Option<String>> = async {
            if !matches!(job.state, JobState::Completed) {
                return Err(EngineError::InvalidState(format!(
                    "the fix turn ended {}, so nothing was pushed",
                    job.state
                )));
            }
            let (r, b) = (repo.clone(), job.branch.clone());
            let tip = crate::blocking(move || crate::repo::branch_tip(&r, &b)).await??;
            if tip == pr.head_sha {
                return Ok(None);
            }
            push::push(&repo, &tip, &pr.head, Some(&pr.head_sha)).await?;
            Ok(Some(tip))
        }
        .await;
        let _ = self.ledger.modify(id, |rec| {
            if let Some(p) = rec.job.pr.as_mut() {
                p.fixing = false;
                if let Ok(Some(tip)) = &outcome {
                    p.head_sha = tip.clone();
                    p.checks = Checks {
                        state: CheckState::Pending,
                        runs: Vec::new(),
                    };
                }
            }
            Ok(((), Vec::new()))
        });
        let (level, line) = match &outcome {
            Ok(Some(tip)) => (
                Level::Info,
                format!(
                    "the fix ({}) was pushed to pull request #{}",
                    &tip[..tip.len().min(10)],
                    pr.number
                ),
            ),
            Ok(None) => (
                Level::Warn,
                format!(
                    "the fix turn committed nothing new; pull request #{} is as it was",
                    pr.number
                ),
            ),
            Err(e) => (Level::Warn, format!("pull request #{}: {e}", pr.number)),
        };
        self.ledger.notice(id, level, line);
        drop(claim);
        if matches!(outcome, Ok(Some(_))) {
            self.look(id, scheduler).await;
        }
    }
}

/// The reply that hands failing checks to the agent: each one's name and what it said.
fn fix_message(checks: &Checks) -> Option<String> {
    let failing: Vec<_> = checks.failing().collect();
    if failing.is_empty() {
        return None;
    }
    let mut text = String::from(
        "The pull request's checks failed. Find out why, fix it, and commit the fix.\n",
    );
    for run in failing {
        text.push_str(&format!("\n## {}\n", run.name));
        if let Some(url) = &run.url {
            text.push_str(&format!("{url}\n"));
        }
        match run
            .output
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            Some(out) => {
                let out = sidekick_forge::pull::tail(out, FIX_OUTPUT_MAX);
                text.push_str(&format!("```\n{out}\n```\n"));
            }
            None => text.push_str("(it gave no output)\n"),
        }
    }
    Some(text)
}

/// What changed on a pull request between two looks, as lines for the job's log.
fn changes(old: &PullRequest, new: &PullRequest) -> Vec<String> {
    let mut lines = Vec::new();
    let n = new.number;
    if old.state != new.state {
        lines.push(format!(
            "pull request #{n} is {} on the forge",
            new.state.as_str()
        ));
    }
    if old.checks.state != new.checks.state
        && matches!(new.checks.state, CheckState::Success | CheckState::Failure)
    {
        let failing: Vec<&str> = new.checks.failing().map(|r| r.name.as_str()).collect();
        lines.push(if failing.is_empty() {
            format!("pull request #{n}: checks passed")
        } else {
            format!("pull request #{n}: checks failed: {}", failing.join(", "))
        });
    }
    if old.review != new.review {
        match new.review {
            Some(ReviewState::Approved) => lines.push(format!("pull request #{n} was approved")),
            Some(ReviewState::ChangesRequested) => {
                lines.push(format!("pull request #{n}: a reviewer asked for changes"))
            }
            None => {}
        }
    }
    if old.problem.is_some() && new.problem.is_none() {
        lines.push(format!("pull request #{n}: the forge answers again"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidekick_protocol::CheckRun;

    #[test]
    fn the_fix_message_names_each_failing_check_with_its_output() {
        let checks = Checks {
            state: CheckState::Failure,
            runs: vec![
                CheckRun {
                    name: "lint".into(),
                    state: CheckState::Success,
                    url: None,
                    output: None,
                },
                CheckRun {
                    name: "test".into(),
                    state: CheckState::Failure,
                    url: Some("https://ci/1".into()),
                    output: Some("assertion failed".into()),
                },
            ],
        };
        let text = fix_message(&checks).expect("a message");
        assert!(
            text.contains("## test\nhttps://ci/1\n```\nassertion failed\n```"),
            "{text}"
        );
        assert!(!text.contains("lint"), "{text}");
        assert_eq!(fix_message(&Checks::default()), None);
    }
}
