use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;

use crate::render::print_json;
use crate::{Failure, Outcome};

/// Show the warm worktrees: per repository with jobs, worktrees checked out ahead so a job
/// starts without a checkout (`warm_worktrees`, default 1; a repository's
/// `.sidekick/config.toml` may say otherwise, 0 turns its pool off). `sidekick gc` removes the
/// pools of repositories without a job for a week.
#[derive(Args)]
pub struct PoolArgs {
    /// Only this repository (a folder inside it).
    repo: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_pool(client: &Client, args: PoolArgs) -> Outcome {
    let repo = match &args.repo {
        Some(p) => {
            let abs = std::env::current_dir()
                .map_err(|e| Failure::new(format!("cannot read the current folder: {e}")))?
                .join(p);
            Some(client.repo(&abs.display().to_string()).await?.root)
        }
        None => None,
    };
    let pools = client.pools(repo.as_deref()).await?;
    if args.json {
        print_json(&pools)?;
        return Ok(ExitCode::SUCCESS);
    }
    if pools.is_empty() {
        println!("no pools: warm worktrees appear for a repository after its first job");
    }
    for p in &pools {
        let bytes: u64 = p.worktrees.iter().map(|w| w.bytes).sum();
        println!(
            "{}: {} of {} warm, {}",
            p.repo,
            p.worktrees.iter().filter(|w| w.commit.is_some()).count(),
            p.wanted,
            crate::commands::gc::mb(bytes)
        );
        for w in &p.worktrees {
            match &w.commit {
                Some(c) => println!(
                    "  {} at {}{}{}",
                    w.path,
                    &c[..c.len().min(10)],
                    if w.set_up { ", set up ahead" } else { "" },
                    if w.watched {
                        ", checked and watched"
                    } else {
                        ""
                    }
                ),
                None => println!("  {} (being made)", w.path),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
