//! Merge and its preview: the plan (target, trees merged in memory, changed paths, dirty
//! overlaps), then the commit(s), the hooks, and the branch move.

use super::*;

/// Everything a merge needs, computed without changing anything.
pub(super) struct Plan {
    pub(super) target: String,
    pub(super) target_ref: String,
    pub(super) ours: Oid,
    pub(super) ours_tree: Oid,
    pub(super) theirs: Oid,
    pub(super) base: Oid,
    pub(super) new_tree: Option<Oid>,
    pub(super) checkouts: Vec<(Checkout, Vec<String>)>,
}

/// `copy_files`: the files Sidekick copied into the job's worktree. Sidekick never commits them,
/// but an agent running `git commit` itself can; unless the request says `include_copied`, the
/// merge leaves them out (squash) or is refused (strategies that keep the job's commits).
pub(super) fn plan(
    repo: &Repository,
    job: &Subject,
    copy_files: &[String],
    req: &MergeRequest,
    ctx: &Ctx<'_>,
) -> Result<(MergePreview, Plan)> {
    // What the user has uncommitted where the target is checked out is found on a thread of its
    // own beside the tree merge. It is started first: on an idle machine a new thread can take a
    // millisecond to be scheduled, which the plan's first steps hide.
    std::thread::scope(|s| {
        let (ask, asked) = std::sync::mpsc::channel::<(Vec<PathBuf>, Oid, Oid)>();
        let here = current_cpu();
        let dirty = s.spawn(move || {
            elsewhere(here);
            let (workdirs, from, to) = asked.recv().ok()?;
            Some(
                workdirs
                    .iter()
                    .map(|w| ctx.dirty_of_change(w, from, to))
                    .collect::<Result<Vec<Vec<String>>>>(),
            )
        });
        plan_beside(repo, job, copy_files, req, ask, dirty)
    })
}

/// [`plan`], with `ask` and `dirty` the thread that checks the target's checkouts for
/// uncommitted changes over the paths the job changes.
#[allow(clippy::type_complexity)]
fn plan_beside(
    repo: &Repository,
    job: &Subject,
    copy_files: &[String],
    req: &MergeRequest,
    ask: std::sync::mpsc::Sender<(Vec<PathBuf>, Oid, Oid)>,
    dirty: std::thread::ScopedJoinHandle<'_, Option<Result<Vec<Vec<String>>>>>,
) -> Result<(MergePreview, Plan)> {
    let target = match &req.into {
        Some(t) => t.trim_start_matches("refs/heads/").to_string(),
        None => job.base_branch.clone().ok_or_else(|| {
            ReviewError::BadRequest(format!(
                "job {} started from a detached commit; name the branch to merge into with --into",
                job.codename
            ))
        })?,
    };
    let target_ref = format!("refs/heads/{target}");
    let ours = repo.refname_to_id(&target_ref).map_err(|_| {
        ReviewError::BadRequest(format!("there is no branch '{target}' in {}", job.repo))
    })?;
    let theirs = job_tip(repo, job)?;
    let base = repo.merge_base(ours, theirs).map_err(|_| {
        ReviewError::BadRequest(format!(
            "{target} and {} have no common history",
            job.branch
        ))
    })?;
    let tree_of = |id: Oid| -> Result<Oid> {
        Ok(repo
            .find_commit(id)
            .and_then(|c| c.tree())
            .map_err(|e| ReviewError::Repo(e.into()))?
            .id())
    };
    let (ours_tree, base_tree, job_tree) = (tree_of(ours)?, tree_of(base)?, tree_of(theirs)?);
    let partial = !req.paths.is_empty() || !req.hunks.is_empty();
    if partial && req.strategy != MergeStrategy::Squash {
        return Err(ReviewError::BadRequest(
            "merging some of a job's files or hunks takes the squash strategy".into(),
        ));
    }
    let job_changes = if !partial && copy_files.is_empty() {
        Vec::new()
    } else {
        treemerge::changed_paths(repo, base_tree, job_tree)?
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
        return Err(ReviewError::BadRequest(format!(
            "job {}'s branch commits files Sidekick copied in from your checkout ({}); a {} merge would bring them into {target}'s history. Squash leaves them out, or --include-copied merges them as the branch has them",
            job.codename,
            left_out.join(", "),
            req.strategy.as_str()
        )));
    }
    check_picks(job, req, &job_changes, &left_out)?;
    let theirs_tree = if partial || !left_out.is_empty() {
        picked_tree(repo, req, (base_tree, job_tree), &job_changes, &left_out)?
    } else {
        job_tree
    };
    let up_to_date = ours == theirs || repo.graph_descendant_of(ours, theirs).unwrap_or(false);
    // Whether something is in progress where the target is (a few small files); what the user
    // has uncommitted where it is checked out, over the paths the job changes (the merge changes
    // only those), is found beside the tree merge.
    let worktrees = checkout::all_worktrees_of(repo)?;
    let blocked_by = checkout::in_progress_among(&worktrees, &target);
    let checkouts_found = checkout::checkouts_among(&worktrees, &target);
    let workdirs = checkouts_found.iter().map(|c| c.workdir.clone()).collect();
    let asked = ask.send((workdirs, base_tree, theirs_tree));
    let merged = merge_in(repo, up_to_date, base_tree, ours_tree, theirs_tree);
    // The helper thread died: an internal failure, not a refusal.
    let lost = || {
        ReviewError::Io(std::io::Error::other(
            "the merge preview's uncommitted-changes check failed",
        ))
    };
    let dirty = match (asked, dirty.join()) {
        (Ok(()), Ok(Some(found))) => found,
        _ => Err(lost()),
    };
    let (mut merged, dirty) = (merged?, dirty?);
    // The same list the merge itself checks against (one diff of the two trees).
    let changed = match (merged.tree, merged.changed.take()) {
        (Some(_), Some(found)) => found,
        (Some(t), None) => treemerge::changed_paths(repo, ours_tree, t)?,
        (None, _) => Vec::new(),
    };
    tracing::debug!(
        changed = changed.len(),
        by_git = merged.by_git,
        "plan: trees merged"
    );
    // A conflicting merge changes no tree yet; the user's edits in the way are still those on
    // the files the job changes (a merge after the conflict is resolved writes them).
    let touched = if merged.tree.is_none() {
        treemerge::changed_paths(repo, base_tree, theirs_tree)?
    } else {
        Vec::new()
    };
    let touched = if touched.is_empty() {
        &changed
    } else {
        &touched
    };
    let mut checkouts = Vec::new();
    let mut checked_out = Vec::new();
    for (c, dirty) in checkouts_found.into_iter().zip(dirty) {
        let overlap = checkout::overlap(&dirty, touched);
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
        blocked_by,
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

/// Refuses files and hunks that are not the job's to merge: not among what it changed, copied
/// in from the user's checkout, or named twice.
fn check_picks(
    job: &Subject,
    req: &MergeRequest,
    job_changes: &[String],
    left_out: &[String],
) -> Result<()> {
    for p in &req.paths {
        if !job_changes.contains(p) {
            return Err(ReviewError::BadRequest(format!(
                "'{p}' is not among the files job {} changed",
                job.codename
            )));
        }
        if left_out.contains(p) {
            return Err(ReviewError::BadRequest(format!(
                "'{p}' is a file Sidekick copied in from your checkout; --include-copied merges it"
            )));
        }
    }
    for pick in &req.hunks {
        let p = &pick.path;
        if !job_changes.contains(p) {
            return Err(ReviewError::BadRequest(format!(
                "'{p}' is not among the files job {} changed",
                job.codename
            )));
        }
        if left_out.contains(p) || req.paths.contains(p) || pick.hunks.is_empty() {
            return Err(ReviewError::BadRequest(format!(
                "'{p}' is named for hunks and {}; name a file once, with the hunks to merge",
                if pick.hunks.is_empty() {
                    "has none"
                } else {
                    "as a whole file"
                }
            )));
        }
    }
    Ok(())
}

/// The job's tree with only the picked files and hunks (a partial merge), or without the files
/// Sidekick copied in.
fn picked_tree(
    repo: &Repository,
    req: &MergeRequest,
    (base_tree, job_tree): (Oid, Oid),
    job_changes: &[String],
    left_out: &[String],
) -> Result<Oid> {
    let partial = !req.paths.is_empty() || !req.hunks.is_empty();
    if !partial {
        let keep: Vec<String> = job_changes
            .iter()
            .filter(|p| !left_out.contains(p))
            .cloned()
            .collect();
        return Ok(treemerge::tree_with_paths(
            repo, base_tree, job_tree, &keep,
        )?);
    }
    let files = treemerge::tree_with_paths(repo, base_tree, job_tree, &req.paths)?;
    if req.hunks.is_empty() {
        return Ok(files);
    }
    Ok(crate::hunks::tree_with_hunks(
        repo, files, base_tree, job_tree, &req.hunks,
    )?)
}

/// The three trees merged in memory (nothing to merge when the target has the job already).
fn merge_in(
    repo: &Repository,
    up_to_date: bool,
    base_tree: Oid,
    ours_tree: Oid,
    theirs_tree: Oid,
) -> Result<treemerge::TreeMerge> {
    Ok(if up_to_date {
        treemerge::TreeMerge {
            tree: Some(ours_tree),
            conflicts: Vec::new(),
            by_git: false,
            changed: Some(Vec::new()),
        }
    } else {
        treemerge::merge_trees(repo, base_tree, ours_tree, theirs_tree)?
    })
}

/// Names the copied-in files a merge leaves out (empty when there are none).
pub(super) fn left_out_note(p: &MergePreview) -> String {
    if p.left_out.is_empty() {
        return String::new();
    }
    format!(
        "; left out {}, which Sidekick copied in from your checkout and the job's branch changes (--include-copied merges them)",
        p.left_out.join(", ")
    )
}

pub(super) fn conflict_message(job: &Subject, p: &MergePreview) -> String {
    let list: Vec<String> = p
        .conflicts
        .iter()
        .map(|c| format!("{} ({})", c.path, c.kind))
        .collect();
    format!(
        "merging job {} into {} would conflict in {}; nothing was changed",
        job.codename,
        p.target,
        list.join(", "),
    )
}

/// What a merge (or its dry run) did; the engine adds the job as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    pub preview: MergePreview,
    /// The merge happened (false for a dry run).
    pub merged: bool,
    /// The target's new tip.
    pub commit: Option<String>,
    /// Where the user's stashed changes are when re-applying them after an autostash conflicted.
    pub stash_kept: Option<String>,
    /// One or two sentences for the user.
    pub message: String,
}

/// What a dry run says: already there, blocked, clean (or in the way of uncommitted changes),
/// or the conflicts.
fn dry_run_message(rec: &Subject, preview: &MergePreview) -> String {
    if preview.up_to_date {
        format!(
            "{} already has everything job {} changed",
            preview.target, rec.codename
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
        conflict_message(rec, preview)
    }
}

/// Runs the repository's commit hooks on the merge commit (`[merge] hooks`); the hooks that
/// ran, or the refusal with their words.
fn run_hooks(
    repo: &git2::Repository,
    repo_dir: &Path,
    rec: &Subject,
    ctx: &Ctx<'_>,
    (ours, new_commit, final_tree): (git2::Oid, git2::Oid, git2::Oid),
) -> Result<Vec<&'static str>> {
    let message = repo
        .find_commit(new_commit)
        .map(|c| String::from_utf8_lossy(c.message_bytes()).into_owned())
        .map_err(|e| ReviewError::Repo(e.into()))?;
    let scratch = ctx.trash.with_file_name("scratch").join(format!(
        "hooks-{}-{}",
        rec.id,
        std::process::id()
    ));
    crate::hooks::check(repo_dir, &scratch, ours, final_tree, &message).map_err(|why| {
        refused(
            Refusal::HookFailed,
            format!(
                "{why}; nothing was changed. Fix it in job {}'s worktree ({}) and merge again",
                rec.codename, rec.worktree
            ),
        )
    })
}

/// What a merge that happened says: already there, part of the job, or all of it.
fn merged_message(
    rec: &Subject,
    req: &MergeRequest,
    target: &str,
    preview: &MergePreview,
    partial: bool,
    new_commit: git2::Oid,
) -> String {
    if preview.up_to_date {
        format!(
            "{} already had everything job {} changed",
            target, rec.codename
        )
    } else if partial {
        let hunks: usize = req.hunks.iter().map(|h| h.hunks.len()).sum();
        let what = match (req.paths.len(), hunks) {
            (files, 0) => format!("{files} of job {}'s files", rec.codename),
            (0, hunks) => format!("{hunks} of job {}'s hunks", rec.codename),
            (files, hunks) => format!("{files} files and {hunks} hunks of job {}", rec.codename),
        };
        format!(
            "merged {what} into {} as {}; the rest stays on {}",
            target,
            short(&new_commit.to_string()),
            rec.branch
        )
    } else {
        format!(
            "merged job {} into {} as {} ({})",
            rec.codename,
            target,
            short(&new_commit.to_string()),
            req.strategy.as_str()
        )
    }
}

/// Merges a job (or previews it with `dry_run`). Returns the result; `rec` is updated.
pub fn merge(rec: &mut Subject, req: &MergeRequest, ctx: &Ctx<'_>) -> Result<MergeOutcome> {
    let t = std::time::Instant::now();
    ensure_reviewable(rec)?;
    ensure_resolved(rec)?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "merge: checks");
    let wt = PathBuf::from(&rec.worktree);
    if !req.dry_run && rec.has_worktree && !rec.settled && wt.exists() {
        // Edits the user made in the job's worktree after it ended belong to the job.
        let msg = format!(
            "Edits after job {} ended\n\nSidekick-Job: {}\n",
            rec.codename, rec.id
        );
        repo::commit_all(&wt, &msg)?;
    }
    // The host's open handle of the repository (objects only: no index), whose object cache
    // still holds the trees the job's diff or an earlier preview read; references are read
    // from disk every time.
    let repo_dir = PathBuf::from(&rec.repo);
    let (preview, plan) = ctx
        .repos
        .with(&repo_dir, true, |repo| {
            Ok(refresh_head_in(repo, rec).and_then(|()| {
                tracing::debug!(
                    ms = t.elapsed().as_millis() as u64,
                    "merge: saved and refreshed"
                );
                plan(repo, rec, &rec.copy_files, req, ctx)
            }))
        })
        .map_err(ReviewError::Repo)??;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "merge: planned");
    if req.dry_run {
        let message = dry_run_message(rec, &preview);
        let message = message + &left_out_note(&preview);
        return Ok(MergeOutcome {
            preview,
            merged: false,
            commit: None,
            stash_kept: None,
            message,
        });
    }
    let Some(merged_tree) = plan.new_tree else {
        return Err(refused(Refusal::Conflict, conflict_message(rec, &preview)));
    };
    let new_commit = if preview.up_to_date {
        plan.ours
    } else {
        make_commits(&repo_dir, rec, req, &plan, merged_tree)?
    };
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "merge: committed");
    let repo = open(&repo_dir)?;
    let final_tree = repo
        .find_commit(new_commit)
        .and_then(|c| c.tree())
        .map_err(|e| ReviewError::Repo(e.into()))?
        .id();
    let hooks_ran = if ctx.hooks && new_commit != plan.ours {
        run_hooks(
            &repo,
            &repo_dir,
            rec,
            ctx,
            (plan.ours, new_commit, final_tree),
        )?
    } else {
        Vec::new()
    };
    let changed = treemerge::changed_paths(&repo, plan.ours_tree, final_tree)?;
    let mut stash_kept = None;
    if new_commit != plan.ours {
        let step = Step {
            from: (plan.ours, plan.ours_tree),
            to: (new_commit, final_tree),
            changed: &changed,
            autostash: req.autostash,
            verb: "merge",
            reflog: format!(
                "sidekick: merge job {} ({})",
                rec.codename,
                req.strategy.as_str()
            ),
            job_id: &rec.id,
            what: format!("merge of job {} into {}", rec.codename, plan.target),
            merge_strategy: (req.paths.is_empty() && req.hunks.is_empty())
                .then(|| req.strategy.as_str().to_string()),
        };
        stash_kept = move_branch(&repo_dir, &plan, &step, ctx)?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "merge: branch moved");
    }
    let record = MergeRecord {
        target: plan.target.clone(),
        previous_tip: plan.ours.to_string(),
        commit: new_commit.to_string(),
        strategy: req.strategy.as_str().into(),
        paths: req
            .paths
            .iter()
            .chain(req.hunks.iter().map(|h| &h.path))
            .cloned()
            .collect(),
        autostash: req.autostash,
    };
    let partial = !req.paths.is_empty() || !req.hunks.is_empty();
    if !partial {
        rec.phase = Phase::Merged;
        rec.merged_into = Some(plan.target.clone());
        rec.merge_commit = Some(new_commit.to_string());
    }
    rec.merge = Some(record);
    let mut message = merged_message(rec, req, &plan.target, &preview, partial, new_commit);
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
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            "merge: worktree retired"
        );
    }
    Ok(MergeOutcome {
        preview,
        merged: true,
        commit: Some(new_commit.to_string()),
        stash_kept,
        message,
    })
}

pub(super) fn make_commits(
    repo_dir: &Path,
    rec: &Subject,
    req: &MergeRequest,
    plan: &Plan,
    tree: Oid,
) -> Result<Oid> {
    let job = rec;
    let ours = plan.ours.to_string();
    let commit = |tree: Oid, parents: &[&str], msg: &str, env: &[(&str, String)]| -> Result<Oid> {
        let id = checkout::commit_tree(repo_dir, &tree.to_string(), parents, msg, env)?;
        Oid::from_str(&id).map_err(|e| ReviewError::Repo(e.into()))
    };
    // The user's own message (the merge dialog's field, `--message`), else the task's line.
    let own = req
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let message = match own {
        Some(m) if m.contains(&format!("Sidekick-Job: {}", job.id)) => format!("{m}\n"),
        Some(m) => format!("{m}\n\nSidekick-Job: {}\n", job.id),
        None => repo::commit_message(&job.task, &job.id, &job.codename),
    };
    match req.strategy {
        MergeStrategy::Squash => commit(tree, &[&ours], &message, &[]),
        MergeStrategy::Merge => {
            let msg = if own.is_some() {
                message
            } else {
                format!("Merge job {}: {message}", job.codename)
            };
            commit(tree, &[&ours, &plan.theirs.to_string()], &msg, &[])
        }
        MergeStrategy::Rebase => {
            if plan.ours == plan.base {
                return Ok(plan.theirs); // the target has not moved: fast-forward
            }
            let repo = open(repo_dir)?;
            let mut walk = repo.revwalk().map_err(|e| ReviewError::Repo(e.into()))?;
            walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
                .and_then(|_| walk.push(plan.theirs))
                .and_then(|_| walk.hide(plan.ours))
                .map_err(|e| ReviewError::Repo(e.into()))?;
            let mut current = plan.ours;
            for id in walk {
                let id = id.map_err(|e| ReviewError::Repo(e.into()))?;
                let c = repo
                    .find_commit(id)
                    .map_err(|e| ReviewError::Repo(e.into()))?;
                if c.parent_count() != 1 {
                    return Err(refused(Refusal::MergeCommits, format!(
                        "job {}'s branch has merge commits, which the rebase strategy cannot replay; the squash or merge strategy takes it as it is",
                        job.codename
                    )));
                }
                let parent_tree = c
                    .parent(0)
                    .and_then(|p| p.tree())
                    .map_err(|e| ReviewError::Repo(e.into()))?
                    .id();
                let cur_tree = repo
                    .find_commit(current)
                    .and_then(|x| x.tree())
                    .map_err(|e| ReviewError::Repo(e.into()))?
                    .id();
                let c_tree = c.tree().map_err(|e| ReviewError::Repo(e.into()))?.id();
                let picked = treemerge::merge_trees(&repo, parent_tree, cur_tree, c_tree)?;
                let Some(picked) = picked.tree else {
                    return Err(refused(Refusal::Conflict, format!(
                        "replaying commit {} of job {} onto {} conflicts; nothing was changed (the squash or merge strategy may not)",
                        short(&id.to_string()),
                        job.codename,
                        plan.target,
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

/// The CPU the calling thread runs on, if known.
fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// Keeps the calling thread off `cpu` (when there is another CPU to run on): woken, it is
/// placed on another CPU at once instead of queuing behind the thread that woke it.
fn elsewhere(cpu: Option<usize>) {
    let Some(cpu) = cpu else { return };
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls get its exact size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return;
        }
        if !libc::CPU_ISSET(cpu, &set) || libc::CPU_COUNT(&set) < 2 {
            return;
        }
        libc::CPU_CLR(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
