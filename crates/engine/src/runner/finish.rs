//! A job's end: what the agent left committed, the worktree unlocked, the final state and its
//! reason recorded, its children ended.

use std::path::PathBuf;
use std::time::Duration;

use sidekick_protocol::{JobState, Level};

use super::{Outcome, Stop};
use crate::jobs::handle::JobHandle;
use crate::process::describe_exit;
use crate::{human, repo, sandbox, StopReason};
use sidekick_store::ledger;
use sidekick_store::JobRecord;

/// Commits leftovers, unlocks the worktree and records the final state.
pub(super) async fn finish(handle: &JobHandle, mut rec: JobRecord, outcome: Outcome) {
    let (state, reason, exit_code) = match outcome {
        // (A dialog that is over ends as an exit; this arm is never reached with it.)
        Outcome::Exited(status) if status.success() => (JobState::Completed, None, Some(0)),
        Outcome::Stopped(Stop::DialogOver) => (JobState::Completed, None, Some(0)),
        Outcome::Exited(status) => (
            JobState::Failed,
            Some(format!("the agent {}", describe_exit(status))),
            status.code(),
        ),
        Outcome::Stopped(Stop::Timeout) => (
            JobState::Timeout,
            Some(format!(
                "ran longer than its {} timeout",
                human(rec.job.timeout_ms)
            )),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::Cancel)) => (
            JobState::Cancelled,
            Some("cancelled by the user".into()),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::ParentEnded(p))) => (
            JobState::Cancelled,
            Some(format!("its parent job {p} ended")),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::StepCap(n))) => {
            rec.job.capped = true;
            (
                JobState::Completed,
                Some(format!(
                    "stopped at its step cap ({n} steps); the work so far is committed"
                )),
                None,
            )
        }
        Outcome::Stopped(Stop::Asked(StopReason::DiskFull(what))) => (
            JobState::Failed,
            Some(format!("disk full: {what}; the job was stopped")),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::TokenBudget { used, budget })) => (
            JobState::Failed,
            Some(format!(
                "budget: the agent used {used} of its {budget} tokens and was stopped"
            )),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::Shutdown)) => (
            JobState::Interrupted,
            Some(
                "the host shut down while the job was running; its worktree and output are kept"
                    .into(),
            ),
            None,
        ),
        Outcome::Failed(message) => (JobState::Failed, Some(message), None),
    };
    let mut reason = reason;
    let mut state = state;
    match save_leftovers(&mut rec).await {
        Ok(notes) => {
            for note in notes {
                handle.notice(Level::Warn, note);
            }
            if rec.has_worktree {
                handle.watch_settled(PathBuf::from(&rec.job.worktree));
            }
        }
        Err(e) => {
            handle.notice(Level::Error, e.clone());
            reason = Some(match reason {
                Some(r) => format!("{r}; {e}"),
                None => e,
            });
            // Work that is not on the job's branch is not a completed job's: it would be
            // reviewed and merged as nothing.
            if state == JobState::Completed {
                state = JobState::Failed;
            }
        }
    }
    // What others wrote while the agent ran (a reply's turn) stays; what it asked and nobody
    // answered goes with it.
    handle.keep_others(&mut rec);
    rec.job.requests.clear();
    if let Err(e) = ledger::move_to(&mut rec, state) {
        // Never expected: the job is left as it was and the next host marks it interrupted.
        tracing::error!(job = %rec.job.id, error = %e, "cannot record the job's end");
    }
    rec.job.reason = reason;
    rec.job.exit_code = exit_code;
    rec.job.ended_at = Some(handle.now());
    // The end must be recorded (a client waits for it). On a full disk, try again for a while:
    // room may come back; if it never does, the next host marks the job interrupted.
    for attempt in 0..60 {
        match handle.save(&rec) {
            Ok(()) => break,
            Err(e) => {
                if attempt == 0 {
                    tracing::error!(job = %rec.job.id, error = %e, "cannot record the job's end; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    tracing::info!(job = %rec.job.id, state = %state, "job ended");
    handle.end_children(&rec);
}

/// Commits what the agent left in the worktree, records head and stats, unlocks the worktree.
/// First the branch is moved to what the agent committed in its sandbox, and the worktree's link
/// to its git folder and HEAD are put back (see `sandbox::settle`); what that had to mend comes
/// back as notes. Errors are one sentence; the work itself stays in the worktree either way.
pub(crate) async fn save_leftovers(rec: &mut JobRecord) -> Result<Vec<String>, String> {
    let worktree = PathBuf::from(&rec.job.worktree);
    if !rec.has_worktree {
        if worktree.join(".git").exists() {
            rec.has_worktree = true;
        } else {
            return Ok(Vec::new());
        }
    }
    let repo_dir = PathBuf::from(&rec.job.repo);
    // A repository moved or deleted while the job ran: its worktree's link points nowhere, and
    // git's words about that would not say so.
    if !repo_dir.join(".git").exists() {
        return Err(format!(
            "the repository was moved or deleted while the job ran (it was at {}); the job's work is uncommitted in {}",
            rec.job.repo, rec.job.worktree
        ));
    }
    // A reply's turn is committed under the reply's words.
    let said = rec.last_reply.as_deref().unwrap_or(&rec.job.task);
    let message = repo::commit_message(said, &rec.job.id, &rec.job.codename);
    let base = rec.job.base_commit.clone();
    let branch = rec.job.branch.clone();
    let codename = rec.job.codename.clone();
    let work = tokio::task::spawn_blocking(move || {
        let mut notes = sandbox::settle(&repo_dir, &worktree, &branch);
        // A rebase stopped at conflicts is the person's or the agent's to finish: committing
        // now would take conflict markers in as its resolution. The branch keeps its tip.
        let committed = if crate::review::ops::rebase_in_progress(&worktree) {
            notes.push(format!(
                "a rebase is under way in the worktree and was left as it is (nothing committed); finish it there (`git add`, `git rebase --continue`) or `sidekick rebase {} --abort`",
                codename
            ));
            repo::branch_tip(&repo_dir, &branch).map(|head| repo::Committed {
                head,
                created: false,
            })
        } else {
            repo::commit_all(&worktree, &message)
        };
        let unlocked = repo::unlock_worktree(&repo_dir, &worktree);
        let committed = committed?;
        let stats = repo::diff_stats(&repo_dir, &base, &committed.head)?;
        unlocked?;
        Ok::<_, repo::RepoError>((committed, stats, notes))
    })
    .await
    .map_err(|e| format!("committing the job's leftovers failed: {e}"))?;
    match work {
        Ok((committed, (files, ins, del), notes)) => {
            rec.job.head_commit = Some(committed.head);
            rec.job.files_changed = Some(files);
            rec.job.insertions = Some(ins);
            rec.job.deletions = Some(del);
            Ok(notes)
        }
        Err(e) => Err(format!(
            "committing the job's leftovers failed ({e}); they are still in {}",
            rec.job.worktree
        )),
    }
}
