use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::GcRequest;

use crate::render::print_json;
use crate::Outcome;

/// Remove the worktrees of merged and discarded jobs, and of jobs that ended longer ago than
/// `gc_after` (config, default 7d), and the warm worktrees of repositories without a job for a
/// week (or gone). Each job's work is saved to refs/sidekick/snapshots/<id>
/// first; `sidekick restore JOB` brings a worktree back.
#[derive(Args)]
pub struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_gc(client: &Client, args: GcArgs) -> Outcome {
    let report = client
        .gc(&GcRequest {
            dry_run: args.dry_run,
        })
        .await?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for item in &report.removed {
        println!(
            "{verb} {} {} ({})",
            item.codename,
            item.worktree,
            mb(item.bytes)
        );
    }
    for item in &report.orphaned {
        println!(
            "kept {} {} ({}): its repository is gone; `sidekick discard --orphaned {}` deletes it",
            item.codename,
            item.worktree,
            mb(item.bytes),
            item.codename
        );
    }
    for path in &report.warm_removed {
        println!("{verb} warm worktree {path} (its repository had no job for a week, or is gone)");
    }
    println!(
        "{} {} worktree{}, {}",
        if args.dry_run { "would free" } else { "freed" },
        report.removed.len(),
        if report.removed.len() == 1 { "" } else { "s" },
        mb(report.freed_bytes)
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
