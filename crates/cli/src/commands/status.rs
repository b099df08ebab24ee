use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;

use crate::render::{self, print_json};
use crate::Outcome;

/// Show one job: state, exit code, branch, worktree, base and head commits, timings.
#[derive(Args)]
pub struct StatusArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Print the job as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_status(client: &Client, args: StatusArgs) -> Outcome {
    let job = client.job(&args.job).await?;
    if args.json {
        print_json(&job)?;
    } else {
        print!("{}", render::job_details(&job, render::now_ms()));
    }
    Ok(ExitCode::SUCCESS)
}
