use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::{Job, JobState};

use crate::render::print_json;
use crate::{Failure, Outcome};

/// Put ended jobs away: they are kept (worktree, branch, log) but leave `ls` and the "to
/// review" count; `ls --all` still lists them. `--empty` archives every ended job that failed
/// or changed nothing; `--undo` brings jobs back.
#[derive(Args)]
pub struct ArchiveArgs {
    /// Job ids, unique id prefixes or codenames.
    #[arg(required_unless_present = "empty")]
    jobs: Vec<String>,
    /// Archive every ended job that failed (or timed out, was cancelled or interrupted) or
    /// changed nothing, and is neither merged nor discarded.
    #[arg(long, conflicts_with = "undo")]
    empty: bool,
    /// Bring the jobs back.
    #[arg(long)]
    undo: bool,
    /// Print the jobs as JSON.
    #[arg(long)]
    json: bool,
}

/// An ended job with nothing to merge: it failed, or changed no file.
pub fn failed_or_empty(j: &Job) -> bool {
    !j.archived
        && j.state.has_ended()
        && !matches!(j.state, JobState::Merged | JobState::Discarded)
        && (j.state != JobState::Completed || j.files_changed == Some(0))
}

pub async fn cmd_archive(client: &Client, args: ArchiveArgs) -> Outcome {
    let mut refs = args.jobs.clone();
    if args.empty {
        refs.extend(
            client
                .jobs(false)
                .await?
                .into_iter()
                .filter(failed_or_empty)
                .map(|j| j.id),
        );
    }
    let mut done = Vec::new();
    let mut failed = None;
    for r in &refs {
        match client.archive(r, !args.undo).await {
            Ok(j) => done.push(j),
            Err(e) => {
                failed = Some(Failure::from(e));
                break;
            }
        }
    }
    if args.json {
        print_json(&done)?;
    } else if done.is_empty() && failed.is_none() {
        println!("nothing to archive: no ended job failed or changed nothing");
    } else {
        let verb = if args.undo { "unarchived" } else { "archived" };
        for j in &done {
            println!("{verb} {} ({})", j.codename, j.state);
        }
    }
    match failed {
        Some(f) => Err(f),
        None => Ok(ExitCode::SUCCESS),
    }
}
