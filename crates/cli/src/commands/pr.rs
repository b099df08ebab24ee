//! `sidekick pr`: push a job's branch and open its pull request, or update the open one.

use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::PrRequest;

use crate::render::print_json;
use crate::{Failure, Outcome};

/// Push a job's branch and open a pull request (a merge request on GitLab) into the branch it
/// started from, or update the one already open for that branch. Prints its URL.
///
/// The push is the system git's (your credential helpers, ssh config and `pushInsteadOf`
/// apply). The forge's token comes from GH_TOKEN or GITHUB_TOKEN (GitLab: GITLAB_TOKEN), else
/// from `gh` (`glab`) where you are logged in; it is kept in the host's memory only. The host
/// then watches the pull request's checks and review (`sidekick status`).
#[derive(Args)]
pub struct PrArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Open it as a draft.
    #[arg(long)]
    draft: bool,
    /// The branch to merge into (default: the branch the job started from).
    #[arg(long, value_name = "BRANCH")]
    base: Option<String>,
    /// The title (default: the task's first line).
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// The description (default: the agent's summary and the task).
    #[arg(long, value_name = "TEXT")]
    body: Option<String>,
    /// Hand the pull request's failing checks to the agent once, as a reply; its fix is
    /// pushed to the pull request when the turn ends.
    #[arg(long, conflicts_with_all = ["draft", "base", "title", "body"])]
    fix: bool,
    /// Print the pull request as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_pr(client: &Client, args: PrArgs) -> Outcome {
    let req = PrRequest {
        draft: args.draft,
        base: args.base,
        title: args.title,
        body: args.body,
        fix: args.fix,
        tokens: sidekick_client::forge_tokens_from_env(),
    };
    let job = client.pr(&args.job, &req).await?;
    let pr = job
        .pr
        .ok_or_else(|| Failure::new(format!("job {} has no pull request", job.codename)))?;
    if args.json {
        print_json(&pr)?;
    } else if args.fix {
        println!(
            "the failing checks of pull request #{} went to job {}'s agent; its fix is pushed when the turn ends",
            pr.number, job.codename
        );
    } else {
        println!("{}", pr.url);
    }
    Ok(ExitCode::SUCCESS)
}
