use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;

use crate::render::{self, print_json};
use crate::Outcome;

/// List jobs, newest first: state, agent, age, run time and changed lines.
#[derive(Args)]
pub struct LsArgs {
    /// Include jobs already merged, discarded or archived.
    #[arg(long)]
    all: bool,
    /// Print JSON (an array of jobs).
    #[arg(long)]
    json: bool,
    /// Show each job's sidekicks (jobs started with it as parent) under it.
    #[arg(long, conflicts_with = "json")]
    tree: bool,
}

pub async fn cmd_ls(client: &Client, args: LsArgs) -> Outcome {
    let jobs = client.jobs(args.all).await?;
    if args.json {
        print_json(&jobs)?;
    } else if jobs.is_empty() {
        eprintln!("sidekick: no jobs yet; start one with `sidekick run TASK`");
    } else if args.tree {
        print!("{}", render::job_tree(&jobs, render::now_ms()));
    } else {
        print!("{}", render::job_table(&jobs, render::now_ms()));
    }
    Ok(ExitCode::SUCCESS)
}
