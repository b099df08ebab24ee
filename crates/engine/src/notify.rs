//! Whether and how a finished job, or an agent that asks, taps the user on the shoulder.
//!
//! The engine decides (this module: the policy, the burst summary, the merge check); a
//! [`Notifier`] delivers. The host's notifier shows desktop notifications; tests record them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sidekick_protocol::{
    format_duration, AutoMergeOutcome, Event, EventBody, Job, JobState, MergeRequest,
};
use tokio::sync::broadcast::error::RecvError;

use sidekick_agents::parse::shorten;
pub use sidekick_config::Policy;

/// How loudly to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    /// A normal popup that goes away by itself.
    Normal,
    /// Critical urgency: stays until dismissed where the server allows it.
    Prominent,
}

/// How long the job's agent ran.
fn ran_ms(job: &Job) -> u64 {
    match (job.started_at, job.ended_at) {
        (Some(s), Some(e)) => e.saturating_sub(s),
        _ => job.duration_ms.unwrap_or(0),
    }
}

/// The policy for one job that has just ended: `None` raises nothing.
pub fn decide(job: &Job, policy: &Policy) -> Option<Weight> {
    let outcome = job.auto_merge.as_ref().map(|a| a.outcome);
    let failed = match job.state {
        JobState::Completed => false,
        // It merged by itself: the user is told whatever the run time.
        JobState::Merged if outcome == Some(AutoMergeOutcome::Merged) => false,
        JobState::Failed | JobState::Timeout | JobState::Interrupted => true,
        // The user cancelled it (or its parent ended): they know.
        _ => return None,
    };
    match job.notify {
        Some(false) => return None,
        None if !policy.enabled => return None,
        _ => {}
    }
    let ran = ran_ms(job);
    // A job that was to merge by itself is told either way: it landed, or why it did not.
    let auto = outcome.is_some();
    if !failed && !auto && ran < policy.quiet_under_ms && job.notify != Some(true) {
        return None;
    }
    Some(if ran > policy.prominent_over_ms {
        Weight::Prominent
    } else {
        Weight::Normal
    })
}

/// One ended job, as it will be told.
#[derive(Debug, Clone, PartialEq)]
pub struct Tap {
    pub job: Job,
    pub weight: Weight,
}

/// What a notifier shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// "brave-otter completed", or "3 jobs finished: …" for a burst.
    pub summary: String,
    pub body: String,
    pub weight: Weight,
    /// The job "Review" (and a click on the notification) opens: the first of a burst.
    pub job_id: String,
    /// Offer "Merge": one job whose merge preview is clean.
    pub mergeable: bool,
    /// Offer "Undo": one job that merged by itself.
    pub undoable: bool,
    /// Every job told about.
    pub jobs: Vec<String>,
    /// The agent's request this notification asks the user to answer (Allow / Deny).
    pub request: Option<String>,
}

/// `Fix the flaky test · 2m05s · +12 −3`, then the agent's own summary when it gave one (its
/// first line with words in it, as plain text: a notification shows no markdown, and no
/// terminal escapes).
fn describe(job: &Job) -> String {
    use sidekick_protocol::text::{plain_line, without_escapes};
    let task = shorten(&without_escapes(job.task.lines().next().unwrap_or("")), 100);
    let mut parts = vec![task, format_duration(ran_ms(job))];
    if let (Some(i), Some(d)) = (job.insertions, job.deletions) {
        parts.push(format!("+{i} −{d}"));
    }
    if let Some(reason) = &job.reason {
        if job.state != JobState::Completed {
            parts.push(without_escapes(reason));
        }
    }
    if let Some(who) = &job.spawned_by {
        parts.push(format!("for {who}"));
    }
    let mut text = parts.join(" · ");
    if let Some(summary) = job
        .summary
        .as_deref()
        .and_then(|s| s.lines().map(plain_line).find(|l| !l.is_empty()))
    {
        text.push('\n');
        text.push_str(&shorten(&summary, 200));
    }
    text
}

/// The notification for one job.
pub fn single(tap: &Tap, mergeable: bool) -> Notification {
    let j = &tap.job;
    let auto = j.auto_merge.as_ref();
    let merged_itself =
        auto.is_some_and(|a| a.outcome == AutoMergeOutcome::Merged) && j.state == JobState::Merged;
    let summary = if merged_itself {
        format!(
            "{} merged into {} by itself",
            j.codename,
            j.merged_into.as_deref().unwrap_or("its branch")
        )
    } else {
        format!("{} {}", j.codename, j.state)
    };
    let mut body = describe(j);
    if let Some(why) = auto
        .filter(|a| a.outcome == AutoMergeOutcome::Held)
        .and_then(|a| a.reason.as_deref())
    {
        body = format!("Not merged by itself: {why}.\n{body}");
    }
    Notification {
        summary,
        body,
        weight: tap.weight,
        job_id: j.id.clone(),
        mergeable: mergeable && !merged_itself,
        undoable: merged_itself,
        jobs: vec![j.id.clone()],
        request: None,
    }
}

/// "brave-otter wants to use Bash": what a waiting job's agent asks, to answer from the
/// notification.
pub fn asking(job: &Job, request: &sidekick_protocol::Request) -> Notification {
    let task = shorten(job.task.lines().next().unwrap_or(""), 100);
    // A command reads best as itself: "brave-otter wants to run: cargo test" (Claude Code's
    // Bash, Codex's shell, an ACP agent's execute).
    let summary = if matches!(request.tool.as_str(), "Bash" | "shell" | "execute") {
        format!(
            "{} wants to run: {}",
            job.codename,
            shorten(&request.detail, 80)
        )
    } else if let sidekick_protocol::Preview::Change { files } = &request.preview {
        match files.as_slice() {
            [one] => {
                let verb = match one.kind.as_str() {
                    "modified" => "edit",
                    "deleted" => "delete",
                    _ => "write",
                };
                let path = one.path.rsplit('/').next().unwrap_or(&one.path);
                format!("{} wants to {verb} {}", job.codename, shorten(path, 80))
            }
            many => format!("{} wants to change {} files", job.codename, many.len()),
        }
    } else {
        format!("{} wants to use {}", job.codename, request.tool)
    };
    let who = job
        .spawned_by
        .as_deref()
        .map(|w| format!(" (for {w})"))
        .unwrap_or_default();
    // What it would do, as its first lines (the command in full, the change's first lines),
    // then the task it is for.
    let what = match sidekick_agents::preview::first_lines(&request.preview, 6) {
        lines if lines.is_empty() => shorten(&request.detail, 300),
        lines => lines
            .iter()
            .map(|l| shorten(&sidekick_protocol::text::without_escapes(l), 160))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    Notification {
        summary,
        body: format!("{what}\n{task}{who}"),
        weight: Weight::Prominent,
        job_id: job.id.clone(),
        mergeable: false,
        undoable: false,
        jobs: vec![job.id.clone()],
        request: Some(request.id.clone()),
    }
}

/// One notification for several jobs that ended close together.
pub fn burst(taps: &[Tap]) -> Option<Notification> {
    let first = taps.first()?;
    if taps.len() == 1 {
        return Some(single(first, false));
    }
    let names: Vec<&str> = taps.iter().map(|t| t.job.codename.as_str()).collect();
    let failed = taps
        .iter()
        .filter(|t| t.job.state != JobState::Completed)
        .count();
    let verb = if failed == 0 {
        "finished".to_string()
    } else {
        format!("ended, {failed} not completed")
    };
    let body = taps
        .iter()
        .map(|t| {
            let line = describe(&t.job);
            let first = line.lines().next().unwrap_or_default().to_string();
            format!("{} {}: {first}", t.job.codename, t.job.state)
        })
        .collect::<Vec<_>>()
        .join("\n");
    Some(Notification {
        summary: format!("{} jobs {verb}: {}", taps.len(), names.join(", ")),
        body,
        weight: taps
            .iter()
            .map(|t| t.weight)
            .max()
            .unwrap_or(Weight::Normal),
        job_id: first.job.id.clone(),
        mergeable: false,
        undoable: false,
        jobs: taps.iter().map(|t| t.job.id.clone()).collect(),
        request: None,
    })
}

/// Delivers notifications (the host: desktop notifications over D-Bus).
pub trait Notifier: Send + Sync + 'static {
    fn deliver(&self, notification: Notification);
    /// The request a notification asked about was answered elsewhere (or its job moved on):
    /// take that notification away.
    fn withdraw(&self, _job_id: &str, _request: &str) {}
}

impl crate::Engine {
    /// Tells `notifier` about jobs that end, per the `[notifications]` policy. Call it before
    /// [`crate::Engine::recover`] so jobs the previous host left behind are told about too.
    pub fn notify_with(&self, notifier: std::sync::Arc<dyn Notifier>) {
        tokio::spawn(watch(self.clone(), notifier));
    }
}

/// Watches the event stream for jobs that end and tells `notifier`, per the policy read from
/// the config file at each job's end (so a change applies without a restart).
/// Subscribes and reads where every job is now, before returning, so nothing that happens
/// after the call (recovery marking jobs interrupted, say) is missed.
pub(crate) fn watch(
    engine: crate::Engine,
    notifier: Arc<dyn Notifier>,
) -> impl std::future::Future<Output = ()> + Send {
    let rx = engine.subscribe();
    // Where each job was when we last heard: only a change from active to ended is told.
    let known: HashMap<String, JobState> = match engine.jobs(true) {
        // A job whose auto-merge is still to be decided counts as running: its decision is
        // its end.
        Ok(jobs) => jobs
            .into_iter()
            .map(|j| {
                let state = if j.settled() {
                    j.state
                } else {
                    JobState::Running
                };
                (j.id, state)
            })
            .collect(),
        Err(e) => {
            tracing::warn!("notifications: cannot read the jobs: {e}");
            HashMap::new()
        }
    };
    follow(engine, notifier, rx, known)
}

async fn follow(
    engine: crate::Engine,
    notifier: Arc<dyn Notifier>,
    mut rx: tokio::sync::broadcast::Receiver<Event>,
    mut known: HashMap<String, JobState>,
) {
    let mut pending: Vec<Tap> = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    // The open requests told about, per job.
    let mut asked: HashMap<String, Vec<String>> = HashMap::new();
    // Each pull request's checks and review as last told about, per job.
    let mut pulls: HashMap<String, PrSeen> = HashMap::new();
    loop {
        let flush_at = deadline;
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if let EventBody::Job { job } = &ev.body {
                        requests(&engine, notifier.as_ref(), &mut asked, job);
                        pull_request(&engine, notifier.as_ref(), &mut pulls, job);
                    }
                    if let Some((tap, policy)) = ended(&engine, &mut known, ev) {
                        if deadline.is_none() {
                            let window = Duration::from_millis(policy.burst_window_ms);
                            deadline = Some(tokio::time::Instant::now() + window);
                        }
                        pending.push(tap);
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!("notifications: missed {n} events during a flood");
                }
                Err(RecvError::Closed) => return,
            },
            _ = sleep_until(flush_at) => {
                deadline = None;
                let taps = std::mem::take(&mut pending);
                tell(&engine, notifier.as_ref(), taps).await;
            }
        }
    }
}

/// Tells about requests the job has that were not told yet (at once: the agent is blocked), and
/// withdraws the notifications of requests that are no longer open.
fn requests(
    engine: &crate::Engine,
    notifier: &dyn Notifier,
    asked: &mut HashMap<String, Vec<String>>,
    job: &Job,
) {
    let open: Vec<String> = job.requests.iter().map(|r| r.id.clone()).collect();
    let before = asked.remove(&job.id).unwrap_or_default();
    for gone in before.iter().filter(|id| !open.contains(id)) {
        notifier.withdraw(&job.id, gone);
    }
    let mut new = job
        .requests
        .iter()
        .filter(|r| !before.contains(&r.id))
        .peekable();
    // The config is read only when there is something new to tell (not on every job event).
    let wanted = new.peek().is_some()
        && match job.notify {
            Some(n) => n,
            None => engine
                .config()
                .map(|c| c.notifications.enabled)
                .unwrap_or(true),
        };
    for r in new {
        if wanted {
            let n = asking(job, r);
            tracing::info!(job = %job.id, request = %r.id, "notifying: {}", n.summary);
            notifier.deliver(n);
        }
    }
    if !open.is_empty() {
        asked.insert(job.id.clone(), open);
    }
}

/// A pull request's checks and review as last seen.
type PrSeen = (
    sidekick_protocol::CheckState,
    Option<sidekick_protocol::ReviewState>,
);

/// Tells when a job's pull request's checks finish (passed or failed) and when a review asks
/// for changes; the job's own `notify` and the configured switch apply.
fn pull_request(
    engine: &crate::Engine,
    notifier: &dyn Notifier,
    seen: &mut HashMap<String, PrSeen>,
    job: &Job,
) {
    use sidekick_protocol::{CheckState, ReviewState};
    let Some(pr) = &job.pr else { return };
    let now = (pr.checks.state, pr.review);
    let Some(before) = seen.insert(job.id.clone(), now) else {
        // First seen (a new pull request, or a host that just started): nothing finished yet
        // that the user was not told about when it opened.
        return;
    };
    let finished = before.0 != now.0 && matches!(now.0, CheckState::Success | CheckState::Failure);
    let changes = before.1 != now.1 && now.1 == Some(ReviewState::ChangesRequested);
    if !finished && !changes {
        return;
    }
    let wanted = match job.notify {
        Some(n) => n,
        None => engine
            .config()
            .map(|c| c.notifications.enabled)
            .unwrap_or(true),
    };
    if !wanted {
        return;
    }
    let task = shorten(job.task.lines().next().unwrap_or(""), 100);
    let n = pr.number;
    let (summary, body) = if changes {
        (
            format!("{}: a reviewer asked for changes on #{n}", job.codename),
            format!("{}\n{task}", pr.url),
        )
    } else if now.0 == CheckState::Failure {
        let failing: Vec<&str> = pr.checks.failing().map(|r| r.name.as_str()).collect();
        let fixing = if pr.fixing {
            " (handed to the agent)"
        } else {
            ""
        };
        (
            format!("{}: checks failed on #{n}{fixing}", job.codename),
            format!("{}\n{task}", shorten(&failing.join(", "), 200)),
        )
    } else {
        (
            format!("{}: checks passed on #{n}", job.codename),
            format!("{}\n{task}", pr.url),
        )
    };
    tracing::info!(job = %job.id, "notifying: {summary}");
    notifier.deliver(Notification {
        summary,
        body,
        weight: Weight::Normal,
        job_id: job.id.clone(),
        mergeable: false,
        undoable: false,
        jobs: vec![job.id.clone()],
        request: None,
    });
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The tap for a job event that ends a job, if the policy (read now, and returned for the
/// burst window) wants one.
fn ended(
    engine: &crate::Engine,
    known: &mut HashMap<String, JobState>,
    ev: Event,
) -> Option<(Tap, Policy)> {
    let EventBody::Job { job } = ev.body else {
        return None;
    };
    // A job deciding whether it merges by itself has not ended for the user yet: it is told
    // once that is decided (merged, or held with the reason).
    if !job.settled() {
        return None;
    }
    let before = known.insert(job.id.clone(), job.state);
    let was_active = before.map(JobState::is_active).unwrap_or(true);
    if !was_active || job.state.is_active() {
        return None;
    }
    let policy = match engine.config() {
        Ok(c) => c.notifications,
        Err(e) => {
            tracing::warn!("notifications: {e}; using the defaults");
            Policy::default()
        }
    };
    let weight = decide(&job, &policy)?;
    Some((Tap { job: *job, weight }, policy))
}

async fn tell(engine: &crate::Engine, notifier: &dyn Notifier, taps: Vec<Tap>) {
    let notification = if let [tap] = taps.as_slice() {
        let mergeable = tap.job.state == JobState::Completed && clean_merge(engine, &tap.job).await;
        single(tap, mergeable)
    } else {
        match burst(&taps) {
            Some(n) => n,
            None => return,
        }
    };
    tracing::info!(jobs = ?notification.jobs, "notifying: {}", notification.summary);
    notifier.deliver(notification);
}

/// The job's default merge would go through now: no conflicts, nothing of the user's in the way.
async fn clean_merge(engine: &crate::Engine, job: &Job) -> bool {
    let req = MergeRequest {
        dry_run: true,
        ..MergeRequest::default()
    };
    match engine.merge(&job.id, req).await {
        Ok(r) => {
            let p = r.preview;
            p.clean && !p.up_to_date && p.checked_out.iter().all(|c| c.dirty_overlap.is_empty())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: JobState, ran_s: u64) -> Job {
        let json = serde_json::json!({
            "id": "01a", "codename": "brave-otter", "state": state, "agent": "shell",
            "task": "Fix the flaky test\nmore words", "repo": "/r", "branch": "b",
            "worktree": "/w", "base_rev": "HEAD", "base_commit": "c", "base_branch": "main",
            "head_commit": "d", "exit_code": 0, "reason": null, "parent_id": null,
            "timeout_ms": 1, "created_at": 1, "started_at": 1_000,
            "ended_at": 1_000 + ran_s * 1000, "duration_ms": null, "queue_position": null,
            "files_changed": 1, "insertions": 12, "deletions": 3, "log_path": "/l"
        });
        serde_json::from_value(json).expect("a job")
    }

    #[test]
    fn a_request_reads_as_what_the_agent_wants() {
        let waiting = job(JobState::Waiting, 1);
        let request = |tool: &str, detail: &str| sidekick_protocol::Request {
            id: "r1".into(),
            tool: tool.into(),
            detail: detail.into(),
            input: serde_json::Value::Null,
            options: vec!["allow".into(), "deny".into()],
            opened_at: 1,
            preview: sidekick_protocol::Preview::None,
        };
        let n = asking(&waiting, &request("Bash", "cargo test"));
        assert_eq!(n.summary, "brave-otter wants to run: cargo test");
        assert_eq!(n.body, "cargo test\nFix the flaky test");
        assert_eq!(n.weight, Weight::Prominent);
        assert_eq!(n.request.as_deref(), Some("r1"));
        let n = asking(&waiting, &request("Write", "src/lib.rs"));
        assert_eq!(n.summary, "brave-otter wants to use Write");
        let n = asking(&waiting, &request("shell", "touch a.txt"));
        assert_eq!(n.summary, "brave-otter wants to run: touch a.txt");
        // A sidekick another agent started says for whom it works.
        let mut spawned = waiting.clone();
        spawned.spawned_by = Some("Claude Code 2.1.330".into());
        let n = asking(&spawned, &request("Bash", "make"));
        assert_eq!(n.body, "make\nFix the flaky test (for Claude Code 2.1.330)");
        let mut done = job(JobState::Completed, 75);
        done.spawned_by = Some("Claude Code 2.1.330".into());
        // An edit shows its change: the file, then the lines it takes out and puts in.
        let input = serde_json::json!({
            "file_path": "/w/src/lib.rs",
            "old_string": "fn a() {}\nfn b() {}\n",
            "new_string": "fn a() {}\nfn b() { todo!() }\n",
        });
        let mut edit = request("Edit", "/w/src/lib.rs");
        edit.preview = sidekick_agents::preview::of("Edit", &input);
        let n = asking(&waiting, &edit);
        assert_eq!(n.summary, "brave-otter wants to edit lib.rs");
        assert_eq!(
            n.body,
            "/w/src/lib.rs (modified)\n-fn b() {}\n+fn b() { todo!() }\nFix the flaky test"
        );
        // A command with its description; an escape in a command to run is shown, not acted on.
        let mut bash = request("Bash", "ls");
        bash.preview = sidekick_agents::preview::of(
            "Bash",
            &serde_json::json!({"command": "ls \u{1b}[31m-la", "description": "List"}),
        );
        assert_eq!(
            asking(&waiting, &bash).body,
            "ls \\u{1b}[31m-la\n(List)\nFix the flaky test"
        );
        assert!(single(
            &Tap {
                job: done,
                weight: Weight::Normal
            },
            false
        )
        .body
        .contains(" · for Claude Code 2.1.330"));
    }

    #[test]
    fn completed_jobs_are_weighed_by_how_long_they_ran() {
        let p = Policy::default();
        assert_eq!(decide(&job(JobState::Completed, 9), &p), None);
        assert_eq!(
            decide(&job(JobState::Completed, 10), &p),
            Some(Weight::Normal)
        );
        assert_eq!(
            decide(&job(JobState::Completed, 60), &p),
            Some(Weight::Normal)
        );
        assert_eq!(
            decide(&job(JobState::Completed, 61), &p),
            Some(Weight::Prominent)
        );
    }

    #[test]
    fn failures_always_tell_and_cancellations_never() {
        let p = Policy::default();
        for st in [JobState::Failed, JobState::Timeout, JobState::Interrupted] {
            assert_eq!(decide(&job(st, 1), &p), Some(Weight::Normal), "{st}");
            assert_eq!(decide(&job(st, 300), &p), Some(Weight::Prominent), "{st}");
        }
        let mut cancelled = job(JobState::Cancelled, 300);
        assert_eq!(decide(&cancelled, &p), None);
        cancelled.notify = Some(true);
        assert_eq!(
            decide(&cancelled, &p),
            None,
            "--notify does not undo a cancel"
        );
        for st in [JobState::Running, JobState::Merged, JobState::Discarded] {
            assert_eq!(decide(&job(st, 300), &p), None, "{st}");
        }
    }

    #[test]
    fn the_switch_and_the_per_job_choice() {
        let off = Policy {
            enabled: false,
            ..Policy::default()
        };
        assert_eq!(decide(&job(JobState::Failed, 300), &off), None);
        let mut loud = job(JobState::Completed, 1);
        loud.notify = Some(true);
        assert_eq!(
            decide(&loud, &off),
            Some(Weight::Normal),
            "--notify beats enabled = false"
        );
        assert_eq!(
            decide(&loud, &Policy::default()),
            Some(Weight::Normal),
            "and the 10 s floor"
        );
        let mut quiet = job(JobState::Failed, 300);
        quiet.notify = Some(false);
        assert_eq!(decide(&quiet, &Policy::default()), None);
    }

    #[test]
    fn one_job_reads_codename_state_task_time_and_changes() {
        let n = single(
            &Tap {
                job: job(JobState::Completed, 125),
                weight: Weight::Prominent,
            },
            true,
        );
        assert_eq!(n.summary, "brave-otter completed");
        assert_eq!(n.body, "Fix the flaky test · 2m05s · +12 −3");
        assert!(n.mergeable);
        let mut said = job(JobState::Completed, 125);
        said.summary = Some("\nFixed the race in the retry loop.\nDetails follow.".into());
        let n = single(
            &Tap {
                job: said,
                weight: Weight::Normal,
            },
            false,
        );
        assert_eq!(
            n.body,
            "Fix the flaky test · 2m05s · +12 −3\nFixed the race in the retry loop."
        );
        assert_eq!(n.jobs, vec!["01a".to_string()]);
        // Markdown and a program's colours reach a notification as plain words.
        let mut md = job(JobState::Failed, 125);
        md.summary = Some("## Done: **fixed** the `retry` loop\n| file | change |".into());
        md.reason = Some("\u{1b}[31mthe agent exited with code 2\u{1b}[0m".into());
        let n = single(
            &Tap {
                job: md,
                weight: Weight::Normal,
            },
            false,
        );
        assert_eq!(
            n.body,
            "Fix the flaky test · 2m05s · +12 −3 · the agent exited with code 2\nDone: fixed the retry loop"
        );
    }

    #[test]
    fn a_burst_becomes_one_summary() {
        let mut a = job(JobState::Completed, 20);
        a.codename = "calm-heron".into();
        let mut b = job(JobState::Failed, 90);
        b.id = "01b".into();
        b.reason = Some("the agent exited with code 2".into());
        let taps = [
            Tap {
                job: a,
                weight: Weight::Normal,
            },
            Tap {
                job: b,
                weight: Weight::Prominent,
            },
        ];
        let n = burst(&taps).expect("a notification");
        assert_eq!(
            n.summary,
            "2 jobs ended, 1 not completed: calm-heron, brave-otter"
        );
        assert_eq!(n.weight, Weight::Prominent);
        assert_eq!(n.job_id, "01a");
        assert!(!n.mergeable);
        assert_eq!(n.body.lines().count(), 2);
        assert!(n.body.contains("brave-otter failed: Fix the flaky test · 1m30s · +12 −3 · the agent exited with code 2"));
        assert_eq!(burst(&[]), None);
    }
}
