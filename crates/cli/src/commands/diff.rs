use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use sidekick_client::Client;

use crate::render::print_json;
use crate::unified::{self, Colors};
use crate::{Failure, Outcome};

/// Show a job's changes: base..head once it has ended, its worktree as it is while it runs.
///
/// Plain output is a unified diff (`git apply` takes it); coloured, with the changed words
/// marked, when stdout is a terminal.
#[derive(Args)]
pub struct DiffArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Only the changed files with their +/- counts, like `git diff --stat`.
    #[arg(long)]
    stat: bool,
    /// Print the structured diff as JSON.
    #[arg(long, conflicts_with = "stat")]
    json: bool,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

pub async fn cmd_diff(client: &Client, args: DiffArgs) -> Outcome {
    let stdout = std::io::stdout();
    let color = match args.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    if !args.json && !args.stat && !color {
        // The plain patch comes from the host as it is: no structured diff on the way.
        let patch = client.patch(&args.job).await?;
        let mut out = stdout.lock();
        out.write_all(&patch)
            .and_then(|_| out.flush())
            .map_err(|e| Failure::new(format!("cannot write the output: {e}")))?;
        return Ok(ExitCode::SUCCESS);
    }
    let diff = client.diff(&args.job).await?;
    if args.json {
        print_json(&diff)?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = if args.stat {
        unified::stat(&diff, 80)
    } else {
        unified::patch(
            &diff,
            if color {
                Colors::ansi()
            } else {
                Colors::none()
            },
        )
    };
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Failure::new(format!("cannot write the output: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
