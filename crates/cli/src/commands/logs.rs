use std::process::ExitCode;

use clap::Args;
use sidekick_client::{Client, EventQuery};

use crate::render;
use crate::{Failure, Outcome};

/// Print a job's output so far (stdout lines to stdout; stderr lines and Sidekick's notices to
/// stderr).
#[derive(Args)]
pub struct LogsArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Keep printing until the job ends.
    #[arg(short = 'f', long)]
    follow: bool,
    /// The agent's steps and summary instead of its raw machine-readable output.
    #[arg(long)]
    parsed: bool,
    /// The log file byte for byte: stdout and stderr interleaved as written, invalid UTF-8,
    /// NUL bytes and a missing final newline included (no notices).
    #[arg(long, conflicts_with_all = ["follow", "parsed"])]
    raw: bool,
}

pub async fn cmd_logs(client: &Client, args: LogsArgs) -> Outcome {
    let job = client.job(&args.job).await?;
    if args.raw {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        client.log(&job.id, |chunk| out.write_all(chunk)).await?;
        out.flush()
            .map_err(|e| Failure::new(format!("cannot write the output: {e}")))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.follow && !job.state.has_ended() {
        render::follow_output(client, &job.id, args.parsed).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut stream = client
        .events(&EventQuery {
            job: Some(job.id.clone()),
            follow: false,
            ..Default::default()
        })
        .await?;
    let mut out = if args.parsed {
        render::OutputPrinter::parsed()
    } else {
        render::OutputPrinter::new()
    };
    while let Some(ev) = stream.next().await? {
        out.event(&ev.body)
            .map_err(|e| Failure::new(format!("cannot write the output: {e}")))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
