//! Undo of a job's last merge while its target has not moved since.

use super::*;

/// Reverts the job's last merge while the target has not moved since. The user's uncommitted
/// changes on the paths it changes are set aside and put back when `autostash` asks, or when the
/// merge did so itself.
pub fn undo(rec: &mut Subject, autostash: bool, ctx: &Ctx<'_>) -> Result<String> {
    ensure_repo_there(rec)?;
    let Some(m) = rec.merge.clone() else {
        return Err(refused(
            Refusal::NothingToUndo,
            format!("job {} has not been merged", rec.codename),
        ));
    };
    let repo_dir = PathBuf::from(&rec.repo);
    let repo = open(&repo_dir)?;
    let target_ref = format!("refs/heads/{}", m.target);
    let tip = repo.refname_to_id(&target_ref).map_err(|_| {
        refused(
            Refusal::BranchGone,
            format!("the branch {} no longer exists", m.target),
        )
    })?;
    if tip.to_string() != m.commit {
        return Err(refused(Refusal::TargetMoved, format!(
            "{} has moved since job {} was merged (it is now at {}); undoing would drop those commits, so nothing was changed",
            m.target,
            rec.codename,
            short(&tip.to_string())
        )));
    }
    let oid = |s: &str| Oid::from_str(s).map_err(|e| ReviewError::Repo(e.into()));
    let (merge_commit, prev) = (oid(&m.commit)?, oid(&m.previous_tip)?);
    let tree = |c: Oid| -> Result<Oid> {
        Ok(repo
            .find_commit(c)
            .and_then(|c| c.tree())
            .map_err(|e| ReviewError::Repo(e.into()))?
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
        autostash: autostash || m.autostash,
        verb: "undo",
        reflog: format!("sidekick: undo merge of job {}", rec.codename),
        job_id: &rec.id,
        what: format!("undo of job {}'s merge into {}", rec.codename, plan.target),
        merge_strategy: None,
    };
    let kept = move_branch(&repo_dir, &plan, &step, ctx)?;
    if rec.phase == Phase::Merged {
        reinstate(rec)?;
        rec.phase = Phase::Ended;
        rec.merged_into = None;
        rec.merge_commit = None;
    }
    rec.merge = None;
    let mut said = format!(
        "undid the merge of job {}: {} is back at {} and the job is ready for review again",
        rec.codename,
        m.target,
        short(&m.previous_tip)
    );
    if let Some(kept) = kept {
        said.push_str(&format!(
            "; your set-aside changes did not go back cleanly and are kept in {kept}"
        ));
    }
    Ok(said)
}
