//! The `sidekick` command line. One file per command under `commands/`.

mod commands;
mod hints;
mod mcp;
mod render;
mod unified;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sidekick_client::{Client, ClientError};
use sidekick_protocol::Home;

/// Run coding agents in the background, each in its own git worktree and branch.
#[derive(Parser)]
#[command(name = "sidekick", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(Box<commands::run::RunArgs>),
    Ls(commands::ls::LsArgs),
    Status(commands::status::StatusArgs),
    Logs(commands::logs::LogsArgs),
    Wait(commands::wait::WaitArgs),
    Cancel(commands::cancel::CancelArgs),
    Allow(commands::answer::AllowArgs),
    Deny(commands::answer::DenyArgs),
    Reply(commands::answer::ReplyArgs),
    Comment(commands::comments::CommentArgs),
    Comments(commands::comments::CommentsArgs),
    Diff(commands::diff::DiffArgs),
    Merge(commands::merge::MergeArgs),
    Retry(commands::retry::RetryArgs),
    Pr(commands::pr::PrArgs),
    Undo(commands::actions::UndoArgs),
    Rebase(commands::actions::RebaseArgs),
    Discard(commands::actions::DiscardArgs),
    Restore(commands::actions::RestoreArgs),
    Archive(commands::archive::ArchiveArgs),
    Gc(commands::gc::GcArgs),
    Pool(commands::pool::PoolArgs),
    Agents(commands::agents::AgentsArgs),
    Tasks(commands::tasks::TasksArgs),
    Trust(commands::trust::TrustArgs),
    Untrust(commands::trust::UntrustArgs),
    Doctor(commands::doctor::DoctorArgs),
    Hosts(commands::hosts::HostsArgs),
    Service(commands::service::ServiceArgs),
    Serve(commands::serve::ServeArgs),
    Mcp(mcp::McpArgs),
}

/// A command's failure: one sentence for stderr and the exit code; the host's error code when
/// the host refused (printed as JSON on stdout for `--json` commands).
pub(crate) struct Failure {
    message: String,
    code: u8,
    api: Option<sidekick_protocol::ApiError>,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
            api: None,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let api = match &e {
            ClientError::Api(a) => Some(a.clone()),
            _ => None,
        };
        Failure {
            api,
            ..Failure::new(e.to_string())
        }
    }
}

/// `--json` was given as an option (not as part of a task after `--`).
fn json_requested() -> bool {
    std::env::args()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// What a command ends with: usually success, sometimes a job-state exit code.
pub(crate) type Outcome = Result<ExitCode, Failure>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::cmd_serve(args),
        Command::Mcp(args) => mcp::cmd_mcp(args),
        Command::Doctor(args) => commands::doctor::cmd_doctor(args),
        Command::Hosts(args) => commands::hosts::cmd_hosts(args),
        Command::Service(args) => commands::service::cmd_service(args),
        other => run_client_command(other),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("sidekick: {}", render::visible(&f.message));
            if json_requested() {
                // Scripts branch on the code: {"error":{"code":"dirty_overlap","message":...}}.
                let error = f.api.clone().unwrap_or_else(|| {
                    sidekick_protocol::ApiError::new(
                        sidekick_protocol::ErrorCode::Internal,
                        f.message.clone(),
                    )
                });
                if let Ok(text) = serde_json::to_string(&serde_json::json!({ "error": error })) {
                    println!("{text}");
                }
            }
            ExitCode::from(f.code)
        }
    }
}

fn run_client_command(command: Command) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let client = connect().await?;
        match command {
            Command::Run(a) => commands::run::cmd_run(&client, *a).await,
            Command::Ls(a) => commands::ls::cmd_ls(&client, a).await,
            Command::Status(a) => commands::status::cmd_status(&client, a).await,
            Command::Logs(a) => commands::logs::cmd_logs(&client, a).await,
            Command::Wait(a) => commands::wait::cmd_wait(&client, a).await,
            Command::Cancel(a) => commands::cancel::cmd_cancel(&client, a).await,
            Command::Allow(a) => commands::answer::cmd_allow(&client, a).await,
            Command::Comment(a) => commands::comments::cmd_comment(&client, a).await,
            Command::Comments(a) => commands::comments::cmd_comments(&client, a).await,
            Command::Deny(a) => commands::answer::cmd_deny(&client, a).await,
            Command::Reply(a) => commands::answer::cmd_reply(&client, a).await,
            Command::Diff(a) => commands::diff::cmd_diff(&client, a).await,
            Command::Merge(a) => commands::merge::cmd_merge(&client, a).await,
            Command::Retry(a) => commands::retry::cmd_retry(&client, a).await,
            Command::Pr(a) => commands::pr::cmd_pr(&client, a).await,
            Command::Undo(a) => commands::actions::cmd_undo(&client, a).await,
            Command::Rebase(a) => commands::actions::cmd_rebase(&client, a).await,
            Command::Discard(a) => commands::actions::cmd_discard(&client, a).await,
            Command::Restore(a) => commands::actions::cmd_restore(&client, a).await,
            Command::Pool(a) => commands::pool::cmd_pool(&client, a).await,
            Command::Trust(a) => commands::trust::cmd_trust(&client, a).await,
            Command::Untrust(a) => commands::trust::cmd_untrust(&client, a).await,
            Command::Archive(a) => commands::archive::cmd_archive(&client, a).await,
            Command::Gc(a) => commands::gc::cmd_gc(&client, a).await,
            Command::Agents(a) => commands::agents::cmd_agents(&client, a).await,
            Command::Tasks(a) => commands::tasks::cmd_tasks(&client, a).await,
            Command::Serve(_)
            | Command::Mcp(_)
            | Command::Doctor(_)
            | Command::Service(_)
            | Command::Hosts(_) => Err(Failure::new("this command runs without a client")),
        }
    })
}

/// Connects to this home's host, starting one (this very binary, `serve`) if none runs.
async fn connect() -> Result<Client, Failure> {
    let exe = std::env::current_exe().map_err(|e| {
        Failure::new(format!(
            "cannot find the sidekick binary to start a host: {e}"
        ))
    })?;
    Ok(Client::connect_or_start(&Home::from_env(), &exe).await?)
}

/// `clap` value parser for durations like `90s`, `30m`, `2h`.
pub(crate) fn parse_duration_arg(s: &str) -> Result<u64, String> {
    sidekick_protocol::parse_duration(s).map_err(|e| e.to_string())
}
