//! Jobs that may land by themselves (`--auto-merge`, a task type's `auto_merge = true`, a
//! repository's `[auto_merge] paths`): when such a job completes, the host previews its default
//! merge; only when it is clean (no conflict, nothing of the user's uncommitted work in the way,
//! nothing in progress on the target) and every changed path matches the repository's paths
//! does it merge, exactly as a person's merge would (undoable, recorded). Otherwise the job
//! stays for review and says which condition failed. Failed, timed-out, cancelled, interrupted
//! and capped jobs never merge by themselves.

use sidekick_protocol::{AutoMergeOutcome, EventBody, JobState, Level, MergeRequest};

use std::sync::Arc;

use crate::jobs::reviews::Reviews;
use sidekick_store::NewEvent;

/// Decides a completed job's auto-merge: merges it, or holds it for review with the reason.
/// Does nothing for a job whose auto-merge is not pending.
pub(crate) async fn decide(reviews: &Arc<Reviews>, job_id: &str) {
    let rec = match reviews.ledger.load(job_id) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(job = job_id, error = %e, "auto-merge: cannot read the job");
            return;
        }
    };
    let Some(am) = rec.job.auto_merge.clone() else {
        return;
    };
    if am.outcome != AutoMergeOutcome::Pending {
        return;
    }
    let held = |why: String| hold(reviews, job_id, why);
    if rec.job.open_pr.is_some() || rec.job.pr.is_some() {
        return held(
            "it goes to a pull request instead (--pr, [pr] open); it is reviewed and merged there"
                .into(),
        );
    }
    if rec.job.state != JobState::Completed || rec.job.capped {
        return held(never(rec.job.state, rec.job.capped));
    }
    let preview = match reviews
        .merge(
            job_id,
            MergeRequest {
                dry_run: true,
                ..MergeRequest::default()
            },
        )
        .await
    {
        Ok(r) => r.preview,
        Err(e) => return held(format!("its merge cannot be previewed: {e}")),
    };
    if let Some(why) = conditions(&preview, &am.paths) {
        return held(why);
    }
    // A link or a submodule under a harmless name is not a harmless change.
    let (repo, head, changed) = (
        std::path::PathBuf::from(&rec.job.repo),
        preview.job_head.clone(),
        preview.changed_paths.clone(),
    );
    let kinds = crate::blocking(move || {
        sidekick_git::entries::not_plain_files(&repo, &head, &changed).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match kinds {
        Ok(found) if found.is_empty() => {}
        Ok(found) => {
            let (path, kind) = &found[0];
            return held(format!(
                "it makes {path} {kind}, which a person reviews (auto-merge takes plain files only)"
            ));
        }
        Err(e) => return held(format!("its changed files cannot be checked: {e}")),
    }
    match reviews.merge(job_id, MergeRequest::default()).await {
        Ok(r) if r.merged => {
            let into = r.preview.target.clone();
            let commit = r.commit.as_deref().map(short).unwrap_or_default();
            let message = format!(
                "merged by itself into {into} ({commit}), as asked by {}; `sidekick undo {}` takes it back",
                am.by, rec.job.codename
            );
            record(reviews, job_id, AutoMergeOutcome::Merged, None, message);
        }
        Ok(r) => held(format!("its merge did not happen: {}", r.message)),
        Err(e) => held(format!("its merge was refused: {e}")),
    }
}

/// Marks every job whose auto-merge was still pending when the host stopped: a completed one is
/// decided now, any other is held (it never merges by itself).
pub(crate) async fn resume(reviews: &Arc<Reviews>) {
    let pending: Vec<String> = match reviews.ledger.jobs(true) {
        Ok(jobs) => jobs
            .into_iter()
            .filter(|j| {
                j.state.has_ended()
                    && j.auto_merge
                        .as_ref()
                        .is_some_and(|a| a.outcome == AutoMergeOutcome::Pending)
            })
            .map(|j| j.id)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "auto-merge: cannot read the jobs");
            return;
        }
    };
    for id in pending {
        decide(reviews, &id).await;
    }
}

/// Why a job that ended this way never merges by itself.
fn never(state: JobState, capped: bool) -> String {
    if capped {
        "it was stopped at its step cap, so it never merges by itself".into()
    } else {
        format!("it ended {state}, so it never merges by itself")
    }
}

/// The first condition of a clean auto-merge that `preview` fails, in one sentence.
pub(crate) fn conditions(
    preview: &sidekick_protocol::MergePreview,
    paths: &[String],
) -> Option<String> {
    let list = |v: &[String]| {
        let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 5 {
            s.push_str(&format!(" and {} more", v.len() - 5));
        }
        s
    };
    if let Some(b) = &preview.blocked_by {
        return Some(b.clone());
    }
    if !preview.clean || !preview.conflicts.is_empty() {
        let paths: Vec<String> = preview.conflicts.iter().map(|c| c.path.clone()).collect();
        return Some(format!(
            "it conflicts with {} in {}",
            preview.target,
            list(&paths)
        ));
    }
    if preview.up_to_date || preview.changed_paths.is_empty() {
        return Some(format!("it changes nothing on {}", preview.target));
    }
    if let Some(c) = preview
        .checked_out
        .iter()
        .find(|c| !c.dirty_overlap.is_empty())
    {
        return Some(format!(
            "uncommitted changes in {} touch {}, which it changes",
            c.worktree,
            list(&c.dirty_overlap)
        ));
    }
    // What steers git or Sidekick itself (attributes and their filters, ignore rules,
    // submodules, CI workflows, the repository's own configuration) is always a person's to
    // review, whatever the patterns say.
    let steering: Vec<String> = preview
        .changed_paths
        .iter()
        .filter(|p| steers(p))
        .cloned()
        .collect();
    if !steering.is_empty() {
        return Some(format!(
            "it changes {}, which a person reviews (git's and Sidekick's own files never merge by themselves)",
            list(&steering)
        ));
    }
    if !paths.is_empty() {
        let outside: Vec<String> = preview
            .changed_paths
            .iter()
            .filter(|p| {
                !paths
                    .iter()
                    .any(|pat| sidekick_config::paths::matches(pat, p))
            })
            .cloned()
            .collect();
        if !outside.is_empty() {
            return Some(format!(
                "it changes {}, outside [auto_merge] paths ({})",
                list(&outside),
                paths.join(", ")
            ));
        }
    }
    None
}

/// A path git or Sidekick reads as instructions: any component named `.git*` (`.gitattributes`,
/// `.gitmodules`, `.github/`, `.gitlab-ci.yml`, ...) or `.sidekick`.
fn steers(path: &str) -> bool {
    path.split('/')
        .any(|c| c.starts_with(".git") || c == ".sidekick")
}

fn short(commit: &str) -> String {
    commit.chars().take(10).collect()
}

fn hold(reviews: &Reviews, job_id: &str, why: String) {
    let message = format!("not merged by itself: {why}; it waits for your review");
    record(reviews, job_id, AutoMergeOutcome::Held, Some(why), message);
}

/// Records the outcome on the job, with a notice in its events, in one write.
fn record(
    reviews: &Reviews,
    job_id: &str,
    outcome: AutoMergeOutcome,
    reason: Option<String>,
    message: String,
) {
    tracing::info!(job = job_id, "auto-merge: {message}");
    let now = reviews.ledger.now();
    let level = match outcome {
        AutoMergeOutcome::Held => Level::Warn,
        _ => Level::Info,
    };
    let done = reviews.ledger.modify(job_id, |rec| {
        if let Some(am) = rec.job.auto_merge.as_mut() {
            am.outcome = outcome;
            am.reason = reason;
        }
        let ev = NewEvent {
            job_id: job_id.to_string(),
            time: now,
            body: EventBody::Notice { level, message },
        };
        Ok(((), vec![ev]))
    });
    if let Err(e) = done {
        tracing::error!(job = job_id, error = %e, "auto-merge: cannot record its outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview() -> sidekick_protocol::MergePreview {
        serde_json::from_value(serde_json::json!({
            "target": "main", "target_tip": "a", "job_head": "b", "merge_base": "c",
            "clean": true, "conflicts": [], "target_moved": false,
            "changed_paths": ["docs/a.md", "README.md"], "checked_out": [
                {"worktree": "/r", "dirty_overlap": []}
            ], "up_to_date": false
        }))
        .expect("a preview")
    }

    #[test]
    fn each_failed_condition_is_named() {
        let paths = vec!["docs/**".to_string(), "*.md".to_string()];
        assert_eq!(conditions(&preview(), &paths), None);
        assert_eq!(conditions(&preview(), &[]), None);
        let mut p = preview();
        p.changed_paths.push("src/lib.rs".into());
        let why = conditions(&p, &paths).expect("held");
        assert!(
            why.contains("src/lib.rs") && why.contains("outside"),
            "{why}"
        );
        assert_eq!(conditions(&p, &[]), None, "no paths: any path");
        let mut p = preview();
        p.clean = false;
        p.conflicts.push(sidekick_protocol::Conflict {
            path: "README.md".into(),
            kind: "content".into(),
        });
        let why = conditions(&p, &paths).expect("held");
        assert!(why.contains("conflicts with main in README.md"), "{why}");
        let mut p = preview();
        p.checked_out[0].dirty_overlap.push("README.md".into());
        let why = conditions(&p, &paths).expect("held");
        assert!(
            why.contains("uncommitted changes in /r touch README.md"),
            "{why}"
        );
        let mut p = preview();
        p.up_to_date = true;
        assert!(conditions(&p, &paths)
            .expect("held")
            .contains("changes nothing"));
        for steering in [
            "docs/.gitattributes",
            ".github/workflows/ci.md",
            "docs/.gitignore",
            ".gitmodules",
            ".sidekick/config.md",
            ".gitlab-ci.md",
        ] {
            let mut p = preview();
            p.changed_paths.push(steering.into());
            let why = conditions(&p, &["**".to_string()]).expect("held");
            assert!(
                why.contains(steering) && why.contains("a person reviews"),
                "{why}"
            );
        }
        let mut p = preview();
        p.changed_paths.push("docs/git-notes.md".into());
        assert_eq!(conditions(&p, &paths), None);
        let mut p = preview();
        p.blocked_by = Some("a rebase is in progress in /r".into());
        assert_eq!(
            conditions(&p, &paths).as_deref(),
            Some("a rebase is in progress in /r")
        );
    }
}
