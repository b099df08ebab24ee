//! Review operations on a job: merge (and its preview), undo, rebase, discard, restore, gc.
//!
//! Every operation that touches the user's branches or working trees first checks what could
//! make it fail (locks, dirty paths, a moved branch) and refuses with nothing changed; what it
//! writes afterwards it rolls back on failure. The branch ref moves last, compare-and-swap.
//! A job's worktree or branch is only removed after its work is saved to
//! `refs/sidekick/snapshots/<job-id>` (safety rule 1).

use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository};
use sidekick_protocol::{
    CheckedOut, Job, JobState, MergePreview, MergeRequest, MergeResult, MergeStrategy,
};

use super::checkout::{self, Checkout};
use super::{journal, treemerge};
use crate::jobs::ledger;
use crate::repo::{self, RepoError};
use crate::store::{JobRecord, MergeRecord};
use crate::{EngineError, Refusal, Result};

/// What the host lends an operation: where removed worktrees go, the merge journal's folder,
/// and its open repositories.
pub(crate) struct Ctx<'a> {
    pub trash: PathBuf,
    pub journal: PathBuf,
    pub repos: &'a super::Repos,
    /// `[merge] hooks`: run the repository's commit hooks on a merge's commit first.
    pub hooks: bool,
}

impl Ctx<'_> {
    fn dirty(&self, workdir: &Path, paths: &[String]) -> Result<Vec<String>> {
        Ok(self
            .repos
            .with(workdir, false, |r| checkout::dirty_paths_in(r, paths))?)
    }
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidState(msg.into())
}

fn refused(why: Refusal, msg: impl Into<String>) -> EngineError {
    EngineError::Refused(why, msg.into())
}

fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

pub fn snapshot_ref(job_id: &str) -> String {
    format!("refs/sidekick/snapshots/{job_id}")
}

/// Refuses, in one sentence, when the job's repository is gone (moved or deleted): git would
/// only say "revspec not found" or "failed to resolve path '.git/worktrees/...'".
pub(crate) fn ensure_repo_there(job: &Job) -> Result<()> {
    if Repository::open(&job.repo).is_ok() {
        return Ok(());
    }
    let kept = if Path::new(&job.worktree).exists() {
        format!("its work is still in the folder {}", job.worktree)
    } else {
        "its branch was in that repository".to_string()
    };
    Err(refused(Refusal::RepoGone, format!(
        "the repository of job {}, {}, is no longer there (moved or deleted?); {kept}. Put the repository back where it was to review the job",
        job.codename, job.repo
    )))
}

/// Refuses jobs that cannot be reviewed now.
fn ensure_reviewable(job: &Job) -> Result<()> {
    ensure_repo_there(job)?;
    match job.state {
        s if s.is_active() => Err(invalid(format!(
            "job {} is still {s}; wait for it to end (or cancel it) first",
            job.codename
        ))),
        JobState::Merged => Err(invalid(format!(
            "job {} is already merged into {}",
            job.codename,
            job.merged_into.as_deref().unwrap_or("its target")
        ))),
        JobState::Discarded => Err(invalid(format!(
            "job {} was discarded; `sidekick restore {}` brings it back",
            job.codename, job.codename
        ))),
        _ => Ok(()),
    }
}

fn open(path: &Path) -> Result<Repository> {
    Repository::open(path).map_err(|e| EngineError::Repo(e.into()))
}

/// The job branch's tip; a branch deleted by hand is a clear error.
fn job_tip(repo: &Repository, job: &Job) -> Result<Oid> {
    repo.refname_to_id(&format!("refs/heads/{}", job.branch)).map_err(|_| {
        invalid(format!(
            "the branch {} of job {} no longer exists (deleted by hand?); its last known commit is {}",
            job.branch,
            job.codename,
            job.head_commit.as_deref().unwrap_or("unknown")
        ))
    })
}

fn gitdir_of(worktree: &Path) -> Option<PathBuf> {
    Repository::open(worktree)
        .ok()
        .map(|r| r.path().to_path_buf())
}

/// Refuses while `sidekick rebase` left conflicts that are not resolved and committed yet.
fn ensure_resolved(rec: &mut JobRecord) -> Result<()> {
    let wt = PathBuf::from(&rec.job.worktree);
    if !rec.has_worktree || !wt.exists() {
        return Ok(());
    }
    let in_rebase = gitdir_of(&wt)
        .is_some_and(|g| g.join("rebase-merge").exists() || g.join("rebase-apply").exists());
    // Reading the whole index is only worth it when a rebase was started here.
    let unmerged = (in_rebase || !rec.job.conflicts.is_empty())
        && Repository::open(&wt)
            .and_then(|r| r.index())
            .map(|i| i.has_conflicts())
            .unwrap_or(false);
    if in_rebase || unmerged {
        let files = if rec.job.conflicts.is_empty() {
            String::new()
        } else {
            format!(" ({})", rec.job.conflicts.join(", "))
        };
        return Err(invalid(format!(
            "job {} has unresolved conflicts{files} in {}; resolve them, `git add` them and run `git rebase --continue` there",
            rec.job.codename, rec.job.worktree
        )));
    }
    rec.job.conflicts.clear();
    Ok(())
}

/// Takes the branch's current tip as the job's head (it moves when the user commits in the
/// worktree or finishes a rebase) and refreshes the stats.
pub(crate) fn refresh_head(rec: &mut JobRecord) -> Result<()> {
    let repo = open(Path::new(&rec.job.repo))?;
    let Ok(tip) = repo.refname_to_id(&format!("refs/heads/{}", rec.job.branch)) else {
        return Ok(());
    };
    let tip = tip.to_string();
    if rec.job.head_commit.as_deref() != Some(tip.as_str()) {
        let (f, i, d) = repo::diff_stats(Path::new(&rec.job.repo), &rec.job.base_commit, &tip)?;
        rec.job.head_commit = Some(tip);
        rec.job.files_changed = Some(f);
        rec.job.insertions = Some(i);
        rec.job.deletions = Some(d);
    }
    Ok(())
}

/// Everything a merge needs, computed without changing anything.
struct Plan {
    target: String,
    target_ref: String,
    ours: Oid,
    ours_tree: Oid,
    theirs: Oid,
    base: Oid,
    new_tree: Option<Oid>,
    checkouts: Vec<(Checkout, Vec<String>)>,
}

/// `copy_files`: the files Sidekick copied into the job's worktree. Sidekick never commits them,
/// but an agent running `git commit` itself can; unless the request says `include_copied`, the
/// merge leaves them out (squash) or is refused (strategies that keep the job's commits).
fn plan(
    job: &Job,
    copy_files: &[String],
    req: &MergeRequest,
    ctx: &Ctx<'_>,
) -> Result<(MergePreview, Plan)> {
    let repo_dir = Path::new(&job.repo);
    let repo = open(repo_dir)?;
    let target = match &req.into {
        Some(t) => t.trim_start_matches("refs/heads/").to_string(),
        None => job.base_branch.clone().ok_or_else(|| {
            EngineError::BadRequest(format!(
                "job {} started from a detached commit; name the branch to merge into with --into",
                job.codename
            ))
        })?,
    };
    let target_ref = format!("refs/heads/{target}");
    let ours = repo.refname_to_id(&target_ref).map_err(|_| {
        EngineError::BadRequest(format!("there is no branch '{target}' in {}", job.repo))
    })?;
    let theirs = job_tip(&repo, job)?;
    let base = repo.merge_base(ours, theirs).map_err(|_| {
        EngineError::BadRequest(format!(
            "{target} and {} have no common history",
            job.branch
        ))
    })?;
    let tree_of = |id: Oid| -> Result<Oid> {
        Ok(repo
            .find_commit(id)
            .and_then(|c| c.tree())
            .map_err(|e| EngineError::Repo(e.into()))?
            .id())
    };
    let (ours_tree, base_tree, job_tree) = (tree_of(ours)?, tree_of(base)?, tree_of(theirs)?);
    if !req.paths.is_empty() && req.strategy != MergeStrategy::Squash {
        return Err(EngineError::BadRequest(
            "--paths merges a subset of files, which only the squash strategy can do".into(),
        ));
    }
    let job_changes = if req.paths.is_empty() && copy_files.is_empty() {
        Vec::new()
    } else {
        treemerge::changed_paths(&repo, base_tree, job_tree)?
    };
    let left_out: Vec<String> = if req.include_copied {
        Vec::new()
    } else {
        copy_files
            .iter()
            .filter(|p| job_changes.contains(p))
            .cloned()
            .collect()
    };
    if !left_out.is_empty() && req.strategy != MergeStrategy::Squash {
        return Err(EngineError::BadRequest(format!(
            "job {}'s branch commits files Sidekick copied in from your checkout ({}); a {} merge would bring them into {target}'s history. Squash leaves them out, or --include-copied merges them as the branch has them",
            job.codename,
            left_out.join(", "),
            req.strategy.as_str()
        )));
    }
    for p in &req.paths {
        if !job_changes.contains(p) {
            return Err(EngineError::BadRequest(format!(
                "'{p}' is not among the files job {} changed",
                job.codename
            )));
        }
        if left_out.contains(p) {
            return Err(EngineError::BadRequest(format!(
                "'{p}' is a file Sidekick copied in from your checkout; --include-copied merges it"
            )));
        }
    }
    let theirs_tree = if !req.paths.is_empty() {
        treemerge::tree_with_paths(&repo, base_tree, job_tree, &req.paths)?
    } else if !left_out.is_empty() {
        let keep: Vec<String> = job_changes
            .iter()
            .filter(|p| !left_out.contains(p))
            .cloned()
            .collect();
        treemerge::tree_with_paths(&repo, base_tree, job_tree, &keep)?
    } else {
        job_tree
    };
    let up_to_date = ours == theirs || repo.graph_descendant_of(ours, theirs).unwrap_or(false);
    let merged = if up_to_date {
        treemerge::TreeMerge {
            tree: Some(ours_tree),
            conflicts: Vec::new(),
            by_git: false,
        }
    } else {
        treemerge::merge_trees(&repo, base_tree, ours_tree, theirs_tree)?
    };
    // The same list the merge itself checks against (one diff of the two trees).
    let changed = match merged.tree {
        Some(t) => treemerge::changed_paths(&repo, ours_tree, t)?,
        None => Vec::new(),
    };
    tracing::debug!(
        changed = changed.len(),
        by_git = merged.by_git,
        "plan: trees merged"
    );
    let mut checkouts = Vec::new();
    let mut checked_out = Vec::new();
    for c in checkout::checkouts_of(repo_dir, &target)? {
        let dirty = ctx.dirty(&c.workdir, &changed)?;
        let overlap = checkout::overlap(&dirty, &changed);
        checked_out.push(CheckedOut {
            worktree: c.workdir.display().to_string(),
            dirty_overlap: overlap.clone(),
        });
        checkouts.push((c, overlap));
    }
    let preview = MergePreview {
        target: target.clone(),
        target_tip: ours.to_string(),
        job_head: theirs.to_string(),
        merge_base: base.to_string(),
        clean: merged.tree.is_some(),
        conflicts: merged.conflicts,
        target_moved: ours.to_string() != job.base_commit,
        changed_paths: changed,
        checked_out,
        up_to_date,
        blocked_by: checkout::operation_in_progress(repo_dir, &target)?,
        left_out,
    };
    Ok((
        preview,
        Plan {
            target,
            target_ref,
            ours,
            ours_tree,
            theirs,
            base,
            new_tree: merged.tree,
            checkouts,
        },
    ))
}

/// Names the copied-in files a merge leaves out (empty when there are none).
fn left_out_note(p: &MergePreview) -> String {
    if p.left_out.is_empty() {
        return String::new();
    }
    format!(
        "; left out {}, which Sidekick copied in from your checkout and the job's branch changes (--include-copied merges them)",
        p.left_out.join(", ")
    )
}

fn conflict_message(job: &Job, p: &MergePreview) -> String {
    let list: Vec<String> = p
        .conflicts
        .iter()
        .map(|c| format!("{} ({})", c.path, c.kind))
        .collect();
    format!(
        "merging job {} into {} would conflict in {}; nothing was changed. `sidekick rebase {}` brings the job up to date so you can resolve them",
        job.codename,
        p.target,
        list.join(", "),
        job.codename
    )
}

/// Merges a job (or previews it with `dry_run`). Returns the result; `rec` is updated.
pub(crate) fn merge(rec: &mut JobRecord, req: &MergeRequest, ctx: &Ctx<'_>) -> Result<MergeResult> {
    let t = std::time::Instant::now();
    ensure_reviewable(&rec.job)?;
    if req.paths.is_empty() {
        ledger::check(&rec.job.codename, rec.job.state, JobState::Merged)?;
    }
    ensure_resolved(rec)?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "merge: checks");
    let wt = PathBuf::from(&rec.job.worktree);
    if !req.dry_run && rec.has_worktree && wt.exists() {
        // Edits the user made in the job's worktree after it ended belong to the job.
        let msg = format!(
            "Edits after job {} ended\n\nSidekick-Job: {}\n",
            rec.job.codename, rec.job.id
        );
        repo::commit_all(&wt, &msg)?;
    }
    refresh_head(rec)?;
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        "merge: saved and refreshed"
    );
    let (preview, plan) = plan(&rec.job, &rec.copy_files, req, ctx)?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "merge: planned");
    if req.dry_run {
        let message = if preview.up_to_date {
            format!(
                "{} already has everything job {} changed",
                preview.target, rec.job.codename
            )
        } else if let Some(busy) = &preview.blocked_by {
            format!("cannot merge into {} now: {busy}", preview.target)
        } else if preview.clean {
            let blocked: Vec<&CheckedOut> = preview
                .checked_out
                .iter()
                .filter(|c| !c.dirty_overlap.is_empty())
                .collect();
            match blocked.first() {
                Some(c) => format!(
                    "merges cleanly into {}, but your uncommitted changes in {} overlap it: {} (commit or stash them, or merge with autostash)",
                    preview.target,
                    c.worktree,
                    c.dirty_overlap.join(", ")
                ),
                None => format!("merges cleanly into {} ({} files)", preview.target, preview.changed_paths.len()),
            }
        } else {
            conflict_message(&rec.job, &preview)
        };
        let message = message + &left_out_note(&preview);
        return Ok(MergeResult {
            preview,
            merged: false,
            commit: None,
            stash_kept: None,
            message,
            job: rec.job.clone(),
        });
    }
    let Some(merged_tree) = plan.new_tree else {
        return Err(refused(
            Refusal::Conflict,
            conflict_message(&rec.job, &preview),
        ));
    };
    let repo_dir = PathBuf::from(&rec.job.repo);
    let new_commit = if preview.up_to_date {
        plan.ours
    } else {
        make_commits(&repo_dir, rec, req, &plan, merged_tree)?
    };
    let repo = open(&repo_dir)?;
    let final_tree = repo
        .find_commit(new_commit)
        .and_then(|c| c.tree())
        .map_err(|e| EngineError::Repo(e.into()))?
        .id();
    let mut hooks_ran = Vec::new();
    if ctx.hooks && new_commit != plan.ours {
        let message = repo
            .find_commit(new_commit)
            .map(|c| String::from_utf8_lossy(c.message_bytes()).into_owned())
            .map_err(|e| EngineError::Repo(e.into()))?;
        let scratch = ctx.trash.with_file_name("scratch").join(format!(
            "hooks-{}-{}",
            rec.job.id,
            std::process::id()
        ));
        hooks_ran = super::hooks::check(&repo_dir, &scratch, plan.ours, final_tree, &message)
            .map_err(|why| {
                refused(
                    Refusal::HookFailed,
                    format!(
                    "{why}; nothing was changed. Fix it in job {}'s worktree ({}) and merge again",
                    rec.job.codename, rec.job.worktree
                ),
                )
            })?;
    }
    let changed = treemerge::changed_paths(&repo, plan.ours_tree, final_tree)?;
    let mut stash_kept = None;
    if new_commit != plan.ours {
        let step = Step {
            from: (plan.ours, plan.ours_tree),
            to: (new_commit, final_tree),
            changed: &changed,
            autostash: req.autostash,
            reflog: format!(
                "sidekick: merge job {} ({})",
                rec.job.codename,
                req.strategy.as_str()
            ),
            job_id: &rec.job.id,
            what: format!("merge of job {} into {}", rec.job.codename, plan.target),
            merge_strategy: req
                .paths
                .is_empty()
                .then(|| req.strategy.as_str().to_string()),
        };
        stash_kept = move_branch(&repo_dir, &plan, &step, ctx)?;
    }
    let record = MergeRecord {
        target: plan.target.clone(),
        previous_tip: plan.ours.to_string(),
        commit: new_commit.to_string(),
        strategy: req.strategy.as_str().into(),
        paths: req.paths.clone(),
    };
    let partial = !req.paths.is_empty();
    if !partial {
        ledger::retire_to(rec, JobState::Merged)?;
        rec.job.merged_into = Some(plan.target.clone());
        rec.job.merge_commit = Some(new_commit.to_string());
    }
    rec.merge = Some(record);
    let mut message = if preview.up_to_date {
        format!(
            "{} already had everything job {} changed",
            plan.target, rec.job.codename
        )
    } else if partial {
        format!(
            "merged {} of job {}'s files into {} as {}; the rest stays on {}",
            req.paths.len(),
            rec.job.codename,
            plan.target,
            short(&new_commit.to_string()),
            rec.job.branch
        )
    } else {
        format!(
            "merged job {} into {} as {} ({})",
            rec.job.codename,
            plan.target,
            short(&new_commit.to_string()),
            req.strategy.as_str()
        )
    };
    message.push_str(&left_out_note(&preview));
    if !hooks_ran.is_empty() {
        message.push_str(&format!("; its {} hook passed", hooks_ran.join(" and ")));
    }
    if let Some(kept) = &stash_kept {
        message.push_str(&format!(
            "; re-applying your stashed changes conflicted, so they are kept in {kept}"
        ));
    }
    if !partial {
        // The merge itself is done; a worktree that cannot be removed is reported, not undone.
        if let Err(e) = retire(rec, true, true, &ctx.trash) {
            message.push_str(&format!("; cleaning up the job's worktree failed: {e}"));
        }
    }
    Ok(MergeResult {
        preview,
        merged: true,
        commit: Some(new_commit.to_string()),
        stash_kept,
        message,
        job: rec.job.clone(),
    })
}

fn make_commits(
    repo_dir: &Path,
    rec: &JobRecord,
    req: &MergeRequest,
    plan: &Plan,
    tree: Oid,
) -> Result<Oid> {
    let job = &rec.job;
    let ours = plan.ours.to_string();
    let commit = |tree: Oid, parents: &[&str], msg: &str, env: &[(&str, String)]| -> Result<Oid> {
        let id = checkout::commit_tree(repo_dir, &tree.to_string(), parents, msg, env)?;
        Oid::from_str(&id).map_err(|e| EngineError::Repo(e.into()))
    };
    match req.strategy {
        MergeStrategy::Squash => {
            let msg = repo::commit_message(&job.task, &job.id, &job.codename);
            commit(tree, &[&ours], &msg, &[])
        }
        MergeStrategy::Merge => {
            let first = repo::commit_message(&job.task, &job.id, &job.codename);
            let msg = format!("Merge job {}: {first}", job.codename);
            commit(tree, &[&ours, &plan.theirs.to_string()], &msg, &[])
        }
        MergeStrategy::Rebase => {
            if plan.ours == plan.base {
                return Ok(plan.theirs); // the target has not moved: fast-forward
            }
            let repo = open(repo_dir)?;
            let mut walk = repo.revwalk().map_err(|e| EngineError::Repo(e.into()))?;
            walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
                .and_then(|_| walk.push(plan.theirs))
                .and_then(|_| walk.hide(plan.ours))
                .map_err(|e| EngineError::Repo(e.into()))?;
            let mut current = plan.ours;
            for id in walk {
                let id = id.map_err(|e| EngineError::Repo(e.into()))?;
                let c = repo
                    .find_commit(id)
                    .map_err(|e| EngineError::Repo(e.into()))?;
                if c.parent_count() != 1 {
                    return Err(invalid(format!(
                        "job {}'s branch has merge commits, which the rebase strategy cannot replay; use --strategy squash or merge",
                        job.codename
                    )));
                }
                let parent_tree = c
                    .parent(0)
                    .and_then(|p| p.tree())
                    .map_err(|e| EngineError::Repo(e.into()))?
                    .id();
                let cur_tree = repo
                    .find_commit(current)
                    .and_then(|x| x.tree())
                    .map_err(|e| EngineError::Repo(e.into()))?
                    .id();
                let c_tree = c.tree().map_err(|e| EngineError::Repo(e.into()))?.id();
                let picked = treemerge::merge_trees(&repo, parent_tree, cur_tree, c_tree)?;
                let Some(picked) = picked.tree else {
                    return Err(refused(Refusal::Conflict, format!(
                        "replaying commit {} of job {} onto {} conflicts; nothing was changed. Use --strategy squash or merge, or `sidekick rebase {}`",
                        short(&id.to_string()),
                        job.codename,
                        plan.target,
                        job.codename
                    )));
                };
                let a = c.author();
                let env = [
                    ("GIT_AUTHOR_NAME", a.name().unwrap_or("").to_string()),
                    ("GIT_AUTHOR_EMAIL", a.email().unwrap_or("").to_string()),
                    (
                        "GIT_AUTHOR_DATE",
                        format!(
                            "@{} {:+05}",
                            a.when().seconds(),
                            a.when().offset_minutes() / 60 * 100 + a.when().offset_minutes() % 60
                        ),
                    ),
                ];
                let msg = String::from_utf8_lossy(c.message_bytes()).into_owned();
                current = commit(picked, &[&current.to_string()], &msg, &env)?;
            }
            Ok(current)
        }
    }
}

/// One move of a branch: from (commit, tree) to (commit, tree), the paths that differ, whether
/// to stash overlapping changes, the reflog message, and for the journal the job and what the
/// move is ("merge of job brave-otter into main").
struct Step<'a> {
    from: (Oid, Oid),
    to: (Oid, Oid),
    changed: &'a [String],
    autostash: bool,
    reflog: String,
    job_id: &'a str,
    what: String,
    /// A merge of all the job's files, with this strategy (see [`journal::Entry`]).
    merge_strategy: Option<String>,
}

/// Moves `target` from `from` to `to` everywhere it is checked out, then the ref itself
/// (compare-and-swap). Refuses before writing when locks are held, a git operation is in
/// progress there, or the user's changes would be overwritten (unless `autostash`). The move is
/// written to the journal first; when a later step fails, every checkout it touched is put back
/// (file by file, see [`journal::put_back`]) and the stashes re-applied. Returns where a stash
/// was kept, if re-applying it conflicted.
fn move_branch(
    repo_dir: &Path,
    plan: &Plan,
    step: &Step<'_>,
    ctx: &Ctx<'_>,
) -> Result<Option<String>> {
    repair_interrupted(repo_dir, ctx)?;
    let checkouts: Vec<Checkout> = plan.checkouts.iter().map(|(c, _)| c.clone()).collect();
    checkout::check_locks(repo_dir, &checkouts, &plan.target)
        .map_err(|m| refused(Refusal::LockHeld, m))?;
    if let Some(busy) = checkout::operation_in_progress(repo_dir, &plan.target)? {
        return Err(refused(
            Refusal::OperationInProgress,
            format!("{busy}; nothing was changed"),
        ));
    }
    let mut overlaps = Vec::new();
    for c in &checkouts {
        // Stat data gone stale (files touched, or copied with `cp -a`) is not a change.
        checkout::refresh_index(&c.workdir)?;
        let dirty = ctx.dirty(&c.workdir, step.changed)?;
        let overlap = checkout::overlap(&dirty, step.changed);
        if !overlap.is_empty() {
            if !step.autostash {
                return Err(refused(Refusal::DirtyOverlap, format!(
                    "this would overwrite your uncommitted changes in {}: {}; nothing was changed. Commit or stash them, or merge with autostash (it sets them aside and puts them back)",
                    c.workdir.display(),
                    overlap.join(", ")
                )));
            }
            overlaps.push((c.clone(), overlap));
        }
    }
    let entry = journal::Entry {
        id: ulid::Ulid::generate().to_string().to_lowercase(),
        job_id: step.job_id.to_string(),
        what: step.what.clone(),
        repo: repo_dir.to_path_buf(),
        target_ref: plan.target_ref.clone(),
        from_commit: step.from.0.to_string(),
        from_tree: step.from.1.to_string(),
        to_commit: step.to.0.to_string(),
        to_tree: step.to.1.to_string(),
        checkouts: checkouts.iter().map(|c| c.workdir.clone()).collect(),
        changed: step.changed.to_vec(),
        merge_strategy: step.merge_strategy.clone(),
        host_pgid: nix::unistd::getpgrp().as_raw(),
    };
    if !checkouts.is_empty() {
        entry.write(&ctx.journal).map_err(|e| {
            invalid(format!(
                "cannot write the merge journal in {}, so nothing was changed: {e}",
                ctx.journal.display()
            ))
        })?;
    }
    let forget = || {
        if !checkouts.is_empty() {
            entry.remove(&ctx.journal);
        }
    };
    let (from_tree, to_tree) = (step.from.1.to_string(), step.to.1.to_string());
    let mut stashes: Vec<(Checkout, String)> = Vec::new();
    let mut touched: Vec<Checkout> = Vec::new();
    // Puts back every checkout touched so far and re-applies the stashes; says what it could not.
    let undo = |touched: &[Checkout], stashes: &[(Checkout, String)]| -> String {
        let mut problems = Vec::new();
        for c in touched.iter().rev() {
            match journal::put_back(&c.workdir, &entry, true) {
                Ok(left) if left.is_empty() => {}
                Ok(left) => problems.push(format!(
                    "in {} these files could not be put back: {}",
                    c.workdir.display(),
                    left.join(", ")
                )),
                Err(e) => problems.push(format!(
                    "putting {} back failed ({e}); its files may hold the merge's version",
                    c.workdir.display()
                )),
            }
        }
        for (c, stash) in stashes {
            if !matches!(checkout::unstash(&c.workdir, stash), Ok(true)) {
                problems.push(format!(
                    "your set-aside changes are kept in {}",
                    checkout::describe_stash(&c.workdir, stash)
                ));
            }
        }
        if problems.is_empty() {
            forget();
        } else {
            tracing::error!(
                ?problems,
                "rolling back a merge was incomplete; the journal entry is kept"
            );
        }
        problems.join("; ")
    };
    let failed = |what: String, problems: String| {
        if problems.is_empty() {
            invalid(format!("{what}, so nothing was changed"))
        } else {
            invalid(format!("{what}; rolling back was incomplete: {problems}"))
        }
    };
    for (c, paths) in &overlaps {
        match checkout::stash_paths(&c.workdir, paths, &entry.stash_message()) {
            Ok(s) => stashes.push((c.clone(), s)),
            Err(e) => {
                let problems = undo(&touched, &stashes);
                return Err(failed(
                    format!(
                        "setting your changes in {} aside failed ({e})",
                        c.workdir.display()
                    ),
                    problems,
                ));
            }
        }
    }
    for c in &checkouts {
        // A failed read-tree may have written some files before it stopped: it counts as touched.
        touched.push(c.clone());
        if let Err(e) = checkout::switch_tree(&c.workdir, &from_tree, &to_tree) {
            let full = if checkout::disk_is_full(&c.workdir) {
                " because the disk holding it is full"
            } else {
                ""
            };
            let problems = undo(&touched, &stashes);
            return Err(failed(
                format!("updating {} failed{full} ({e})", c.workdir.display()),
                problems,
            ));
        }
    }
    let repo = open(repo_dir)?;
    if let Err(e) =
        repo.reference_matching(&plan.target_ref, step.to.0, true, step.from.0, &step.reflog)
    {
        let problems = undo(&touched, &stashes);
        let err = failed(
            format!("{} moved while merging ({})", plan.target, e.message()),
            problems,
        );
        return Err(refused(Refusal::TargetMoved, err.to_string()));
    }
    let mut kept = None;
    for (c, stash) in &stashes {
        if !checkout::unstash(&c.workdir, stash)? {
            kept = Some(checkout::describe_stash(&c.workdir, stash));
        }
    }
    forget();
    Ok(kept)
}

/// Repairs the interrupted moves the journal holds for this repository; refuses when one
/// cannot be repaired yet (so a new merge does not pile on a half-done one).
fn repair_interrupted(repo_dir: &Path, ctx: &Ctx<'_>) -> Result<()> {
    for e in journal::pending(&ctx.journal) {
        if e.repo != repo_dir {
            continue;
        }
        let r = journal::repair(&ctx.journal, &e);
        tracing::warn!(job = %r.job_id, done = r.done, message = %r.message, "repaired an interrupted merge");
        if !r.done {
            return Err(refused(Refusal::OperationInProgress, r.message));
        }
    }
    Ok(())
}

/// Saves everything the job's worktree holds to `refs/sidekick/snapshots/<id>`, then removes
/// the worktree (and the branch when `delete_branch`). `saved` says the worktree's leftovers were
/// committed moments ago by the caller (merge), so the branch tip is the snapshot. The worktree
/// folder is moved into `trash` (same file system: instant) and deleted in the background.
pub(crate) fn retire(
    rec: &mut JobRecord,
    delete_branch: bool,
    saved: bool,
    trash: &Path,
) -> Result<String> {
    let repo_dir = PathBuf::from(&rec.job.repo);
    let wt = PathBuf::from(&rec.job.worktree);
    let repo = open(&repo_dir)?;
    let has_tree = wt.join(".git").exists();
    if has_tree {
        let _ = repo::unlock_worktree(&repo_dir, &wt);
    }
    let snapshot = if has_tree && !saved {
        let msg = format!(
            "Leftovers in job {}'s worktree\n\nSidekick-Job: {}\n",
            rec.job.codename, rec.job.id
        );
        repo::commit_all(&wt, &msg)?.head
    } else if has_tree {
        Repository::open(&wt)
            .and_then(|r| {
                r.head()
                    .and_then(|h| h.peel_to_commit())
                    .map(|c| c.id().to_string())
            })
            .map_err(|e| EngineError::Repo(e.into()))?
    } else {
        match repo.refname_to_id(&format!("refs/heads/{}", rec.job.branch)) {
            Ok(id) => id.to_string(),
            Err(_) => rec
                .job
                .head_commit
                .clone()
                .unwrap_or_else(|| rec.job.base_commit.clone()),
        }
    };
    let snap_id = Oid::from_str(&snapshot).map_err(|e| EngineError::Repo(e.into()))?;
    repo.reference(
        &snapshot_ref(&rec.job.id),
        snap_id,
        true,
        "sidekick: snapshot before removal",
    )
    .map_err(|e| EngineError::Repo(e.into()))?;
    if wt.exists() {
        remove_worktree(&repo_dir, &wt, trash, &rec.job.id).map_err(|e| {
            invalid(format!(
                "cannot remove the worktree {} ({e}); the job's work is saved at {}",
                wt.display(),
                snapshot_ref(&rec.job.id)
            ))
        })?;
    }
    if delete_branch {
        if let Ok(mut b) = repo.find_branch(&rec.job.branch, BranchType::Local) {
            b.delete().map_err(|e| EngineError::Repo(e.into()))?;
        }
    }
    rec.has_worktree = false;
    rec.job.snapshot = Some(snapshot.clone());
    Ok(snapshot)
}

/// Moves the worktree into the trash and deletes it there in the background, then prunes git's
/// record of it. Falls back to `git worktree remove` when the move is not possible.
fn remove_worktree(
    repo_dir: &Path,
    wt: &Path,
    trash: &Path,
    job_id: &str,
) -> std::result::Result<(), String> {
    let git_out = |args: &[&str]| {
        repo::with_worktree_lock(repo_dir, || repo::git(repo_dir).args(args).output())
            .map_err(|e| e.to_string())
    };
    let dest = trash.join(format!("{job_id}-{}", std::process::id()));
    let moved = crate::private::dir(trash).is_ok() && std::fs::rename(wt, &dest).is_ok();
    if moved {
        std::thread::spawn(move || {
            if let Err(e) = std::fs::remove_dir_all(&dest) {
                tracing::warn!(path = %dest.display(), error = %e, "cannot delete a removed worktree");
            }
        });
        let out = git_out(&["worktree", "prune"])?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        return Ok(());
    }
    let path = wt.display().to_string();
    let out = git_out(&["worktree", "remove", "--force", "--force", &path])?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(())
}

/// Brings back the job's branch (from its snapshot) and worktree where they are missing.
fn reinstate(rec: &mut JobRecord) -> Result<()> {
    let repo_dir = PathBuf::from(&rec.job.repo);
    let repo = open(&repo_dir)?;
    if repo
        .find_branch(&rec.job.branch, BranchType::Local)
        .is_err()
    {
        let at = rec
            .job
            .snapshot
            .clone()
            .or_else(|| {
                repo.refname_to_id(&snapshot_ref(&rec.job.id))
                    .ok()
                    .map(|o| o.to_string())
            })
            .ok_or_else(|| {
                invalid(format!(
                    "job {} has no snapshot to restore",
                    rec.job.codename
                ))
            })?;
        let commit = Oid::from_str(&at)
            .and_then(|o| repo.find_commit(o))
            .map_err(|e| EngineError::Repo(e.into()))?;
        repo.branch(&rec.job.branch, &commit, false)
            .map_err(|e| EngineError::Repo(e.into()))?;
    }
    let wt = PathBuf::from(&rec.job.worktree);
    if !wt.join(".git").exists() {
        if let Some(parent) = wt.parent() {
            crate::private::dir(parent)?;
        }
        let out = repo::with_worktree_lock(&repo_dir, || {
            // A worktree folder deleted by hand is still registered until pruned.
            let _ = repo::git(&repo_dir).args(["worktree", "prune"]).output();
            repo::git(&repo_dir)
                .args(["-c", "checkout.workers=0", "worktree", "add", "--quiet"])
                .arg(&wt)
                .arg(&rec.job.branch)
                .output()
        })
        .map_err(|e| EngineError::Repo(RepoError::Spawn(e)))?;
        if !out.status.success() {
            return Err(invalid(format!(
                "cannot recreate the worktree {}: {}",
                wt.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        // A fresh checkout's index entries are racily clean (written in the same instant as
        // their files), so git would re-hash every file on the next `add -A`, at the next merge.
        // Refresh them now, while the user waits for a rare undo or restore, not for a merge.
        let _ = repo::git(&wt)
            .args(["update-index", "-q", "--refresh"])
            .output();
    }
    rec.has_worktree = true;
    Ok(())
}

/// Reverts the job's last merge while the target has not moved since.
pub(crate) fn undo(rec: &mut JobRecord, ctx: &Ctx<'_>) -> Result<String> {
    ensure_repo_there(&rec.job)?;
    let Some(m) = rec.merge.clone() else {
        return Err(refused(
            Refusal::NothingToUndo,
            format!("job {} has not been merged", rec.job.codename),
        ));
    };
    let repo_dir = PathBuf::from(&rec.job.repo);
    let repo = open(&repo_dir)?;
    let target_ref = format!("refs/heads/{}", m.target);
    let tip = repo
        .refname_to_id(&target_ref)
        .map_err(|_| invalid(format!("the branch {} no longer exists", m.target)))?;
    if tip.to_string() != m.commit {
        return Err(refused(Refusal::TargetMoved, format!(
            "{} has moved since job {} was merged (it is now at {}); undoing would drop those commits, so nothing was changed",
            m.target,
            rec.job.codename,
            short(&tip.to_string())
        )));
    }
    let oid = |s: &str| Oid::from_str(s).map_err(|e| EngineError::Repo(e.into()));
    let (merge_commit, prev) = (oid(&m.commit)?, oid(&m.previous_tip)?);
    let tree = |c: Oid| -> Result<Oid> {
        Ok(repo
            .find_commit(c)
            .and_then(|c| c.tree())
            .map_err(|e| EngineError::Repo(e.into()))?
            .id())
    };
    let (merge_tree, prev_tree) = (tree(merge_commit)?, tree(prev)?);
    let changed = treemerge::changed_paths(&repo, merge_tree, prev_tree)?;
    let plan = Plan {
        target: m.target.clone(),
        target_ref,
        ours: merge_commit,
        ours_tree: merge_tree,
        theirs: merge_commit,
        base: merge_commit,
        new_tree: Some(prev_tree),
        checkouts: checkout::checkouts_of(&repo_dir, &m.target)?
            .into_iter()
            .map(|c| (c, Vec::new()))
            .collect(),
    };
    let step = Step {
        from: (merge_commit, merge_tree),
        to: (prev, prev_tree),
        changed: &changed,
        autostash: false,
        reflog: format!("sidekick: undo merge of job {}", rec.job.codename),
        job_id: &rec.job.id,
        what: format!(
            "undo of job {}'s merge into {}",
            rec.job.codename, plan.target
        ),
        merge_strategy: None,
    };
    move_branch(&repo_dir, &plan, &step, ctx)?;
    if rec.job.state == JobState::Merged {
        reinstate(rec)?;
        ledger::move_back(rec)?;
        rec.job.merged_into = None;
        rec.job.merge_commit = None;
    }
    rec.merge = None;
    Ok(format!(
        "undid the merge of job {}: {} is back at {} and the job is ready for review again",
        rec.job.codename,
        m.target,
        short(&m.previous_tip)
    ))
}

/// The job's repository is gone (moved or deleted): git cannot open it.
pub(crate) fn repo_is_gone(job: &Job) -> bool {
    Repository::open(&job.repo).is_err()
}

/// Drops the job's changes: snapshot first, then worktree and branch go.
pub(crate) fn discard(rec: &mut JobRecord, ctx: &Ctx<'_>) -> Result<String> {
    if repo_is_gone(&rec.job) && !rec.job.state.is_active() {
        let folder = if rec.has_worktree && Path::new(&rec.job.worktree).exists() {
            format!("its folder {} is still there", rec.job.worktree)
        } else {
            "it has no folder left".to_string()
        };
        return Err(refused(Refusal::RepoGone, format!(
            "the repository of job {}, {}, is no longer there (moved or deleted?) and {folder}; put the repository back to discard it with a snapshot, or `sidekick discard --orphaned {}` forgets the job and deletes its folder",
            rec.job.codename, rec.job.repo, rec.job.codename
        )));
    }
    ensure_reviewable(&rec.job)?;
    ledger::check(&rec.job.codename, rec.job.state, JobState::Discarded)?;
    let snapshot = retire(rec, true, false, &ctx.trash)?;
    ledger::retire_to(rec, JobState::Discarded)?;
    Ok(format!(
        "discarded job {}; its work is kept at {} ({}), `sidekick restore {}` brings it back",
        rec.job.codename,
        snapshot_ref(&rec.job.id),
        short(&snapshot),
        rec.job.codename
    ))
}

/// Forgets an ended job whose repository is gone: its worktree folder goes (through the trash)
/// and the job ends `discarded` without a snapshot, since its branch lived in that repository.
/// Refused while the repository is there: then a plain discard keeps a snapshot.
pub(crate) fn discard_orphaned(rec: &mut JobRecord, trash: &Path) -> Result<String> {
    if !repo_is_gone(&rec.job) {
        return Err(invalid(format!(
            "the repository of job {} is still there ({}); `sidekick discard {}` discards it and keeps a snapshot",
            rec.job.codename, rec.job.repo, rec.job.codename
        )));
    }
    if rec.job.state.is_active() {
        return Err(invalid(format!(
            "job {} is still {}; cancel it first",
            rec.job.codename, rec.job.state
        )));
    }
    if matches!(rec.job.state, JobState::Discarded) && !rec.has_worktree {
        return Err(invalid(format!(
            "job {} is already discarded",
            rec.job.codename
        )));
    }
    let wt = PathBuf::from(&rec.job.worktree);
    let deleted = match std::fs::symlink_metadata(&wt) {
        Ok(_) => {
            crate::private::dir(trash)?;
            let dest = trash.join(format!("{}-{}", rec.job.id, std::process::id()));
            std::fs::rename(&wt, &dest).map_err(|e| {
                invalid(format!(
                    "cannot move job {}'s folder {} out of the way ({e}); nothing was changed",
                    rec.job.codename,
                    wt.display()
                ))
            })?;
            std::thread::spawn(move || {
                if let Err(e) = std::fs::remove_dir_all(&dest) {
                    tracing::warn!(path = %dest.display(), error = %e, "cannot delete a removed worktree");
                }
            });
            format!("; its folder {} was deleted", wt.display())
        }
        Err(_) => String::new(),
    };
    rec.has_worktree = false;
    if rec.job.state != JobState::Discarded {
        ledger::retire_to(rec, JobState::Discarded)?;
    }
    Ok(format!(
        "forgot job {}, whose repository {} is gone{deleted}",
        rec.job.codename, rec.job.repo
    ))
}

/// Brings a discarded or cleaned-up job back for review.
pub(crate) fn restore(rec: &mut JobRecord) -> Result<String> {
    ensure_repo_there(&rec.job)?;
    match rec.job.state {
        JobState::Merged => {
            return Err(invalid(format!(
                "job {} is merged; `sidekick undo {}` reverts the merge",
                rec.job.codename, rec.job.codename
            )))
        }
        s if s.is_active() => {
            return Err(invalid(format!("job {} is still {s}", rec.job.codename)))
        }
        _ => {}
    }
    // What is on disk decides, not what the database remembers: a worktree folder or branch
    // someone deleted by hand is brought back too.
    let worktree_there = PathBuf::from(&rec.job.worktree).join(".git").exists();
    let branch_there = open(Path::new(&rec.job.repo))
        .map(|r| r.find_branch(&rec.job.branch, BranchType::Local).is_ok())
        .unwrap_or(false);
    if worktree_there && branch_there && rec.job.state != JobState::Discarded {
        return Err(invalid(format!(
            "job {} has nothing to restore: its branch {} and worktree {} are there",
            rec.job.codename, rec.job.branch, rec.job.worktree
        )));
    }
    reinstate(rec)?;
    if rec.job.state == JobState::Discarded {
        ledger::move_back(rec)?;
    }
    Ok(format!(
        "restored job {}: branch {}, worktree {}",
        rec.job.codename, rec.job.branch, rec.job.worktree
    ))
}

/// Replays the job's commits onto the target's tip in its worktree. Conflicts are left there
/// with markers and listed on the job.
pub(crate) fn rebase(rec: &mut JobRecord, into: Option<&str>) -> Result<String> {
    ensure_reviewable(&rec.job)?;
    ensure_resolved(rec)?;
    let wt = PathBuf::from(&rec.job.worktree);
    if !rec.has_worktree || !wt.join(".git").exists() {
        return Err(invalid(format!(
            "job {} has no worktree; `sidekick restore {}` brings it back first",
            rec.job.codename, rec.job.codename
        )));
    }
    let msg = format!(
        "Edits after job {} ended\n\nSidekick-Job: {}\n",
        rec.job.codename, rec.job.id
    );
    repo::commit_all(&wt, &msg)?;
    let target = match into {
        Some(t) => t.to_string(),
        None => rec.job.base_branch.clone().ok_or_else(|| {
            EngineError::BadRequest(format!(
                "job {} started from a detached commit; name the branch with --into",
                rec.job.codename
            ))
        })?,
    };
    let repo = open(Path::new(&rec.job.repo))?;
    let tip = repo
        .refname_to_id(&format!("refs/heads/{target}"))
        .map_err(|_| {
            EngineError::BadRequest(format!("there is no branch '{target}' in {}", rec.job.repo))
        })?
        .to_string();
    let mut cmd = repo::git(&wt);
    cmd.args([
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.editor=true",
        "rebase",
        "--quiet",
        &tip,
    ])
    .env("GIT_EDITOR", "true");
    if !repo::git_has_identity(&wt) {
        cmd.envs(repo::FALLBACK_IDENTITY);
    }
    let out = cmd
        .output()
        .map_err(|e| EngineError::Repo(RepoError::Spawn(e)))?;
    rec.job.base_commit = tip.clone();
    if out.status.success() {
        rec.job.conflicts.clear();
        refresh_head(rec)?;
        return Ok(format!(
            "rebased job {} onto {} ({}); it can be merged",
            rec.job.codename,
            target,
            short(&tip)
        ));
    }
    let unmerged = repo::git(&wt)
        .args(["diff", "--name-only", "--diff-filter=U", "-z"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split('\0')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if unmerged.is_empty() {
        let _ = repo::git(&wt).args(["rebase", "--abort"]).output();
        return Err(invalid(format!(
            "rebasing job {} failed: {}",
            rec.job.codename,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    rec.job.conflicts = unmerged.clone();
    Ok(format!(
        "rebasing job {} onto {} stopped at conflicts in {}; resolve them in {}, `git add` them and run `git rebase --continue` there, then merge",
        rec.job.codename,
        target,
        unmerged.join(", "),
        rec.job.worktree
    ))
}

/// The size of a folder, in bytes (files only, symlinks not followed).
pub(crate) fn folder_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::{git, repo_with_commit};

    #[test]
    fn a_failed_ref_update_rolls_the_working_tree_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        repo_with_commit(d);
        let a = git(d, &["rev-parse", "HEAD"]);
        // A commit that would be the merge result, not on main.
        git(d, &["checkout", "-q", "-b", "side"]);
        std::fs::write(d.join("README.md"), "changed by the merge\n").expect("write");
        std::fs::write(d.join("added.txt"), "new\n").expect("write");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "result"]);
        let c = git(d, &["rev-parse", "HEAD"]);
        git(d, &["checkout", "-q", "main"]);
        std::fs::write(d.join("mine.txt"), "user's untracked file\n").expect("write");
        let oid = |s: &str| Oid::from_str(s).expect("oid");
        let tree = |s: &str| oid(&git(d, &["rev-parse", &format!("{s}^{{tree}}")]));
        let plan = Plan {
            target: "main".into(),
            target_ref: "refs/heads/main".into(),
            ours: oid(&a),
            ours_tree: tree(&a),
            theirs: oid(&c),
            base: oid(&a),
            new_tree: Some(tree(&c)),
            checkouts: vec![(
                Checkout {
                    workdir: d.to_path_buf(),
                },
                Vec::new(),
            )],
        };
        let changed = vec!["README.md".to_string(), "added.txt".to_string()];
        // Claim main is at `c` although it is at `a`: the compare-and-swap must fail after the
        // working tree was already switched, and everything must be put back.
        let repos = crate::review::Repos::default();
        let ctx = Ctx {
            trash: d.join("trash"),
            journal: d.join(".git/sidekick-journal"),
            repos: &repos,
            hooks: false,
        };
        let step = Step {
            from: (oid(&c), tree(&a)),
            to: (oid(&c), tree(&c)),
            changed: &changed,
            autostash: false,
            reflog: "test".into(),
            job_id: "01test",
            what: "test merge".into(),
            merge_strategy: None,
        };
        let err = move_branch(d, &plan, &step, &ctx).expect_err("the ref did not match");
        assert!(err.to_string().contains("moved while merging"), "{err}");
        assert_eq!(err.to_api().code, sidekick_protocol::ErrorCode::TargetMoved);
        assert_eq!(git(d, &["rev-parse", "main"]), a);
        assert_eq!(
            std::fs::read_to_string(d.join("README.md")).expect("read"),
            "hello\n"
        );
        assert!(!d.join("added.txt").exists());
        assert_eq!(
            std::fs::read_to_string(d.join("mine.txt")).expect("read"),
            "user's untracked file\n"
        );
        assert_eq!(git(d, &["status", "--porcelain"]), "?? mine.txt");
    }
}
