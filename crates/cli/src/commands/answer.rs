//! Talking back to a job's agent: `sidekick allow` and `sidekick deny` answer what it asked;
//! `sidekick reply` sends an ended job's agent its next message.

use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::AnswerRequest;

use crate::render::print_json;
use crate::Outcome;

/// Allow what a waiting job's agent asked (the oldest open request unless one is named).
#[derive(Args)]
pub struct AllowArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// The request's id (`sidekick status JOB` lists them); the oldest open one by default.
    request: Option<String>,
    /// Allow this kind of use for the rest of the job, as the agent defines it (for Claude
    /// Code, the rule it proposes: that tool, that command prefix).
    #[arg(long)]
    always: bool,
    /// Print the job as JSON.
    #[arg(long)]
    json: bool,
}

/// Deny what a waiting job's agent asked (the oldest open request unless one is named); the
/// agent is told and goes on without it.
#[derive(Args)]
pub struct DenyArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// The request's id (`sidekick status JOB` lists them); the oldest open one by default.
    request: Option<String>,
    /// Why, or what to do instead, for the agent.
    #[arg(long, short = 'm')]
    message: Option<String>,
    /// Print the job as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_allow(client: &Client, args: AllowArgs) -> Outcome {
    let req = AnswerRequest {
        request: args.request,
        allow: true,
        always: args.always,
        message: None,
    };
    answer(client, &args.job, &req, args.json).await
}

pub async fn cmd_deny(client: &Client, args: DenyArgs) -> Outcome {
    let req = AnswerRequest {
        request: args.request,
        allow: false,
        always: false,
        message: args.message,
    };
    answer(client, &args.job, &req, args.json).await
}

async fn answer(client: &Client, job: &str, req: &AnswerRequest, json: bool) -> Outcome {
    let job = client.answer(job, req).await?;
    if json {
        print_json(&job)?;
    } else if job.requests.is_empty() {
        println!("{}: answered; it is {} again", job.codename, job.state);
    } else {
        println!(
            "{}: answered; {} more waiting (`sidekick status {}`)",
            job.codename,
            job.requests.len(),
            job.codename
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Send an ended job's agent your next message: the same job runs another turn in the same
/// worktree and branch (resuming the agent's session where it can, so it remembers).
#[derive(Args)]
pub struct ReplyArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// The message (may be left out with --comments).
    #[arg(required_unless_present = "comments", num_args = 1.., trailing_var_arg = true)]
    text: Vec<String>,
    /// Send the job's review comments that were not sent yet (`sidekick comments JOB`) with
    /// the message, and mark them sent.
    #[arg(long)]
    comments: bool,
    /// Wait until the turn has ended; exit 0 only if it completed.
    #[arg(long)]
    wait: bool,
    /// Print the job as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_reply(client: &Client, args: ReplyArgs) -> Outcome {
    let req = sidekick_protocol::ReplyRequest {
        text: args.text.join(" "),
        comments: args.comments,
    };
    let job = client.reply_with(&args.job, &req).await?;
    let job = if args.wait {
        client
            .wait(&job.id, None)
            .await?
            .ok_or_else(|| crate::Failure::new(format!("{} has not ended", job.codename)))?
    } else {
        job
    };
    if args.json {
        print_json(&job)?;
    } else if args.wait {
        eprintln!("sidekick: {}", crate::render::ending(&job));
    } else {
        println!("{}: turn {} {}", job.codename, job.turns, job.state);
    }
    Ok(
        if args.wait && job.state != sidekick_protocol::JobState::Completed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
