//! `sidekick retry`: run an ended job again as a new job.

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::RetryRequest;

use crate::commands::run::{started, Joined};
use crate::Outcome;

/// Run an ended job again: a new job with the same task, agent, task type and inputs, context,
/// budgets and timeout, in a fresh worktree from its base branch's tip now.
///
/// Prints `<id> <codename>` of the new job (which records `retry_of`) and returns at once;
/// `--wait` and `--follow` join it as `sidekick run` does.
#[derive(Args)]
pub struct RetryArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Start from the commit the job started from, not from its base branch's tip now.
    #[arg(long)]
    same_base: bool,
    #[command(flatten)]
    join: Joined,
}

pub async fn cmd_retry(client: &Client, args: RetryArgs) -> Outcome {
    let req = RetryRequest {
        same_base: args.same_base,
    };
    let job = client.retry(&args.job, &req).await?;
    started(client, job, &args.join).await
}
