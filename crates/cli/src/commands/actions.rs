//! Small review commands that act on one job and report a sentence: undo, rebase, discard,
//! restore.

use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::{ActionResult, DiscardRequest, RebaseRequest};

use crate::hints::hinted;
use crate::render::print_json;
use crate::Outcome;

/// Revert a job's last merge while its target branch has not moved since; the job comes back
/// for review with its worktree and branch.
#[derive(Args)]
pub struct UndoArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Set your uncommitted changes on the files the undo changes aside and put them back
    /// after (an undo of a merge that did so does it anyway).
    #[arg(long)]
    autostash: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Bring a stale job up to date: replay its commits onto the target's tip in its worktree.
///
/// On conflict the files are left there with conflict markers and listed (exit 1); resolve
/// them, `git add` them and run `git rebase --continue` in the worktree (Sidekick notices), then
/// merge; or `--abort` puts the branch back as it was.
#[derive(Args)]
pub struct RebaseArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// The branch to rebase onto (default: the job's target).
    #[arg(long, value_name = "BRANCH", conflicts_with = "abort")]
    into: Option<String>,
    /// Abort the rebase that stopped at conflicts: the job's branch is back where it was.
    #[arg(long)]
    abort: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Drop a job's changes: its worktree and branch are removed after a snapshot is saved to
/// refs/sidekick/snapshots/<id> (`sidekick restore JOB` brings it back).
#[derive(Args)]
pub struct DiscardArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// The job's repository is gone (moved or deleted): forget the job and delete its folder.
    /// No snapshot can be kept, since the job's branch lived in that repository.
    #[arg(long)]
    orphaned: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Bring back a discarded job, or the worktree of one cleaned up by `sidekick gc`, from its
/// snapshot.
#[derive(Args)]
pub struct RestoreArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn report(result: &ActionResult, json: bool) -> Outcome {
    if json {
        print_json(result)?;
    } else {
        println!("{}", result.message);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cmd_undo(client: &Client, args: UndoArgs) -> Outcome {
    let req = sidekick_protocol::UndoRequest {
        autostash: args.autostash,
    };
    let done = client.undo(&args.job, &req).await;
    report(&done.map_err(hinted("undo", &args.job))?, args.json)
}

pub async fn cmd_rebase(client: &Client, args: RebaseArgs) -> Outcome {
    let result = client
        .rebase(
            &args.job,
            &RebaseRequest {
                into: args.into,
                abort: args.abort,
            },
        )
        .await
        .map_err(hinted("rebase", &args.job))?;
    report(&result, args.json)?;
    Ok(if result.job.conflicts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn cmd_discard(client: &Client, args: DiscardArgs) -> Outcome {
    let req = DiscardRequest {
        orphaned: args.orphaned,
    };
    let done = client.discard(&args.job, &req).await;
    report(&done.map_err(hinted("discard", &args.job))?, args.json)
}

pub async fn cmd_restore(client: &Client, args: RestoreArgs) -> Outcome {
    let done = client.restore(&args.job).await;
    report(&done.map_err(hinted("restore", &args.job))?, args.json)
}
