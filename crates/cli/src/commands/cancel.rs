use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sidekick_client::Client;

use crate::render::{self, print_json};
use crate::{Failure, Outcome};

/// Stop a queued or running job. Its agent gets SIGTERM, then SIGKILL after 5 s; whatever it
/// wrote is committed to the job's branch. Returns once the job has ended.
#[derive(Args)]
pub struct CancelArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Print the ended job as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_cancel(client: &Client, args: CancelArgs) -> Outcome {
    let job = client.cancel(&args.job).await?;
    let end = client
        .wait(&job.id, Some(Duration::from_secs(60)))
        .await?
        .ok_or_else(|| {
            Failure::new(format!(
                "{} was asked to stop but has not ended yet",
                job.codename
            ))
        })?;
    if args.json {
        print_json(&end)?;
    } else {
        eprintln!("sidekick: {}", render::ending(&end));
    }
    Ok(ExitCode::SUCCESS)
}
