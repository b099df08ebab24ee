use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::{ContextMode, PrOpenMode, SandboxMode, SpawnRequest};

use crate::render::{self, print_json};
use crate::{parse_duration_arg, Failure, Outcome};

/// Start a job: an agent works on TASK in its own worktree, on its own branch.
///
/// Prints `<id> <codename>` and returns at once. `--wait` joins the job, `--follow` streams its
/// output; both then exit 0 only if the job completed.
#[derive(Args)]
pub struct RunArgs {
    /// The repository (any folder inside it); defaults to the current folder.
    #[arg(short = 'r', long, value_name = "REPO")]
    repo: Option<PathBuf>,
    /// Agent profile (see `sidekick agents`). Default: the repository's `agent`, else yours
    /// (`agent` in config.toml), else the first installed coding agent; `-a shell` runs TASK
    /// with `sh -c`.
    #[arg(short = 'a', long)]
    agent: Option<String>,
    /// Base revision to start from; defaults to HEAD.
    #[arg(short = 'b', long)]
    base: Option<String>,
    /// Wall-clock limit, e.g. 90s, 30m, 2h (default: the profile's, else 30m).
    #[arg(long, value_parser = parse_duration_arg, value_name = "DUR")]
    timeout: Option<u64>,
    /// Nest under this job: when it ends, this job is cancelled.
    #[arg(long, value_name = "JOB")]
    parent: Option<String>,
    #[command(flatten)]
    join: Joined,
    /// Never raise a desktop notification for this job.
    #[arg(long, conflicts_with = "notify")]
    quiet: bool,
    /// Always raise a desktop notification when this job ends (unless it is cancelled).
    #[arg(long)]
    notify: bool,
    /// Stop the agent gracefully after N steps (turns or tool calls); the job still completes,
    /// marked `capped`, with its work so far.
    #[arg(long, value_name = "N")]
    max_steps: Option<u64>,
    /// Stop the agent when it has used N tokens (input + output): a warning at 80 %, and the
    /// job fails with reason `budget` at 100 %.
    #[arg(long, value_name = "N")]
    token_budget: Option<u64>,
    /// What the agent is told besides the task: `task_only` (default) or `full` (with
    /// --context-file and/or --context-from). It arrives as the file named in
    /// SIDEKICK_CONTEXT_FILE and, for agents that take a prompt, first in a delimited block.
    #[arg(long, value_parser = ["task_only", "full"], value_name = "MODE")]
    context: Option<String>,
    /// A file whose text goes into the context.
    #[arg(long, value_name = "FILE")]
    context_file: Option<PathBuf>,
    /// A job whose task, summary and diff stat go into the context.
    #[arg(long, value_name = "JOB")]
    context_from: Option<String>,
    /// Continue an ended job: start from its branch (its changes included), merge back where it
    /// would have, with its task, summary and diff stat as context.
    #[arg(long = "continue", value_name = "JOB", conflicts_with = "base")]
    continue_from: Option<String>,
    /// Run the repository's task type NAME (see `sidekick tasks`) instead of a TASK.
    #[arg(long = "type", value_name = "NAME")]
    task_type: Option<String>,
    /// A task type's input, `key=value` (repeat for each).
    #[arg(long = "input", value_name = "KEY=VALUE", value_parser = parse_input)]
    inputs: Vec<(String, String)>,
    /// Confine the job's processes: `worktree` (they write only the job's worktree and branch;
    /// the job fails if no sandbox can be set up), `auto` (the sandbox where it can be set up),
    /// `off`. Default: the agent's `sandbox` setting, else the config's, else `auto`.
    #[arg(long, value_parser = ["worktree", "auto", "off"], value_name = "MODE")]
    sandbox: Option<String>,
    /// Merge the job into its base branch by itself when it completes and the merge is clean
    /// (no conflict, none of your uncommitted changes in the way, every changed path within the
    /// repository's `[auto_merge] paths` where it sets them); otherwise it waits for review and
    /// says why. Undo it like any merge.
    #[arg(long, conflicts_with = "no_auto_merge")]
    auto_merge: bool,
    /// Never merge by itself, even where the task type or the repository says so.
    #[arg(long)]
    no_auto_merge: bool,
    /// Open a pull request when the job completes with changes (`--pr=draft`: as a draft),
    /// whatever `[pr] open` says; the job is then never merged here by itself.
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "ready",
          require_equals = true, value_parser = ["ready", "draft"], conflicts_with = "auto_merge")]
    pr: Option<String>,
    /// Make the job from issue N of the repository's origin (GitHub or GitLab): its title and
    /// body are the task (or the task's context, when a task is given too), and the job's pull
    /// request closes it.
    #[arg(long, value_name = "N")]
    issue: Option<u64>,
    /// What the agent should do (several words are joined with spaces).
    #[arg(
        required_unless_present_any = ["task_type", "issue"],
        conflicts_with = "task_type",
        value_name = "TASK"
    )]
    task: Vec<String>,
}

fn parse_input(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not key=value")),
    }
}

pub async fn cmd_run(client: &Client, args: RunArgs) -> Outcome {
    let repo = match args.repo {
        Some(p) if p.is_absolute() => p,
        Some(p) => current_dir()?.join(p),
        None => current_dir()?,
    };
    let req = SpawnRequest {
        repo: repo.display().to_string(),
        task: args.task.join(" "),
        agent: args.agent,
        base: args.base,
        timeout_ms: args.timeout,
        parent: args.parent,
        notify: match (args.quiet, args.notify) {
            (true, _) => Some(false),
            (_, true) => Some(true),
            _ => None,
        },
        max_steps: args.max_steps,
        token_budget: args.token_budget,
        task_type: args.task_type,
        inputs: args.inputs.into_iter().collect(),
        context: match args.context.as_deref() {
            Some("full") => Some(ContextMode::Full),
            Some(_) => Some(ContextMode::TaskOnly),
            None => None,
        },
        context_file: match args.context_file {
            Some(p) if p.is_absolute() => Some(p.display().to_string()),
            Some(p) => Some(current_dir()?.join(p).display().to_string()),
            None => None,
        },
        context_from: args.context_from,
        continue_from: args.continue_from,
        sandbox: args.sandbox.as_deref().and_then(SandboxMode::parse),
        auto_merge: match (args.auto_merge, args.no_auto_merge) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        open_pr: args.pr.as_deref().map(|m| match m {
            "draft" => PrOpenMode::Draft,
            _ => PrOpenMode::Ready,
        }),
        issue: args.issue,
        tokens: match args.issue {
            Some(_) => sidekick_client::forge_tokens_from_env(),
            None => Default::default(),
        },
        ..SpawnRequest::default()
    };
    let job = client.spawn(&req).await?;
    started(client, job, &args.join).await
}

/// How a command that starts a job goes on: returns at once, or joins it (`run`, `retry`).
#[derive(Args)]
pub struct Joined {
    /// Wait for the job to end.
    #[arg(long, conflicts_with = "follow")]
    wait: bool,
    /// Stream the job's output until it ends.
    #[arg(long)]
    follow: bool,
    /// Print the job as JSON.
    #[arg(long)]
    json: bool,
}

/// Prints a job just started, or joins it (`--wait`, `--follow`).
pub async fn started(client: &Client, job: sidekick_protocol::Job, args: &Joined) -> Outcome {
    if !args.wait && !args.follow {
        if args.json {
            print_json(&job)?;
        } else {
            println!("{} {}", job.id, job.codename);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.json {
        eprintln!("sidekick: started {} ({})", job.codename, job.id);
    }
    let end = if args.follow {
        render::follow_output(client, &job.id, false).await?
    } else {
        client
            .wait(&job.id, None)
            .await?
            .ok_or_else(|| Failure::new("the wait ended early"))?
    };
    if args.json {
        print_json(&end)?;
    } else {
        eprintln!("sidekick: {}", render::ending(&end));
    }
    ring_bell();
    Ok(render::exit_for(&end))
}

/// Taps a user at a terminal on the shoulder: the job they waited for has ended. Only when
/// stdout is a terminal, so scripts and pipes never get a stray byte.
fn ring_bell() {
    use std::io::{IsTerminal, Write};
    let mut out = std::io::stdout();
    if out.is_terminal() {
        let _ = out.write_all(b"\x07");
        let _ = out.flush();
    }
}

fn current_dir() -> Result<PathBuf, Failure> {
    std::env::current_dir()
        .map_err(|e| Failure::new(format!("cannot read the current folder: {e}")))
}
