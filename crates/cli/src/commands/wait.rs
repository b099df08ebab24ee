use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sidekick_client::Client;

use crate::render::{self, print_json};
use crate::{parse_duration_arg, Outcome};

/// Wait for a job to end. Exits 0 if it completed, 1 if it ended any other way, 124 if
/// `--timeout` passed first.
#[derive(Args)]
pub struct WaitArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Give up after this long, e.g. 90s, 30m, 2h.
    #[arg(long, value_parser = parse_duration_arg, value_name = "DUR")]
    timeout: Option<u64>,
    /// Print the ended job as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn cmd_wait(client: &Client, args: WaitArgs) -> Outcome {
    let timeout = args.timeout.map(Duration::from_millis);
    match client.wait(&args.job, timeout).await? {
        Some(job) => {
            if args.json {
                print_json(&job)?;
            } else {
                eprintln!("sidekick: {}", render::ending(&job));
            }
            Ok(render::exit_for(&job))
        }
        None => {
            eprintln!("sidekick: {} has not ended yet; stopped waiting", args.job);
            Ok(ExitCode::from(124))
        }
    }
}
