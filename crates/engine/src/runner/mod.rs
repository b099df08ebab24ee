//! Running one job: worktree, copied files, setup command, agent, and the commit of whatever
//! the agent left behind, whatever way it ended. `prepare` gets the run ready, `agent` runs
//! each process, `finish` records the end.

mod agent;
mod finish;
mod prepare;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::jobs::handle::JobHandle;
use crate::{release_memory, StopReason};
use agent::run_process;
use finish::finish;
pub(crate) use finish::save_leftovers;
use prepare::{sandboxed, setup, submodules, worktree_for};
use sidekick_store::JobRecord;

/// How a process run ended.
enum ProcEnd {
    Exited(ExitStatus),
    /// Stopped by the engine (and then exited or was killed).
    Stopped(Stop),
    SpawnFailed(std::io::Error),
    /// The agent said it cannot go on (agents in a dialog), and exited.
    Reported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    Timeout,
    Asked(StopReason),
    /// The agent's dialog ended and it did not exit by itself.
    DialogOver,
}

/// What a job's profile gives its processes, read when it runs (never stored with the job).
#[derive(Default)]
struct Settings {
    /// The profile's env (API keys).
    env: Vec<(String, String)>,
    /// The `sidekick` program its dialog offers the agent as an MCP server.
    sidekick_mcp: Option<String>,
    /// The sandbox command line in front of each of its processes (empty: none).
    sandbox: Vec<std::ffi::OsString>,
}

/// How long an agent may take to exit once its dialog is over.
const DIALOG_LINGER: Duration = Duration::from_secs(3);

/// How the job as a whole ended.
enum Outcome {
    Exited(ExitStatus),
    Stopped(Stop),
    Failed(String),
}

pub(crate) async fn run(
    handle: JobHandle,
    mut rec: JobRecord,
    mut stop: watch::Receiver<Option<StopReason>>,
) {
    let deadline = Instant::now() + Duration::from_millis(rec.job.timeout_ms);
    let outcome = prepare_and_run(&handle, &mut rec, &mut stop, deadline).await;
    finish(&handle, rec, outcome).await;
    release_memory();
    handle.release(&stop);
}

async fn prepare_and_run(
    handle: &JobHandle,
    rec: &mut JobRecord,
    stop: &mut watch::Receiver<Option<StopReason>>,
    deadline: Instant,
) -> Outcome {
    if let Some(reason) = stop.borrow().clone() {
        return Outcome::Stopped(Stop::Asked(reason));
    }
    let repo_dir = PathBuf::from(&rec.job.repo);
    let worktree = PathBuf::from(&rec.job.worktree);
    // A reply's turn runs in the worktree the job already has: nothing to add, copy or set up.
    let resumed = rec.has_worktree && worktree.join(".git").exists();
    // The setup a warm worktree ran ahead of time (`setup_cache`).
    let prepared = match worktree_for(handle, rec, &repo_dir, &worktree, resumed).await {
        Ok(prepared) => prepared,
        Err(outcome) => return outcome,
    };

    let settings = match sandboxed(handle, rec, &repo_dir, &worktree).await {
        Ok(settings) => settings,
        Err(outcome) => return outcome,
    };

    if !resumed && worktree.join(".gitmodules").exists() {
        submodules(handle, &repo_dir, &worktree, &settings).await;
    }

    if let Some(outcome) = setup(handle, rec, resumed, prepared, &settings, deadline, stop).await {
        return outcome;
    }

    let argv = rec.argv.clone();
    match run_process(handle, rec, &argv, &settings, deadline, stop, true).await {
        ProcEnd::Exited(status) => Outcome::Exited(status),
        ProcEnd::Stopped(s) => Outcome::Stopped(s),
        ProcEnd::Reported(why) => Outcome::Failed(why),
        ProcEnd::SpawnFailed(e) => Outcome::Failed(format!(
            "cannot start the agent program '{}': {e}",
            argv.first().map(String::as_str).unwrap_or("")
        )),
    }
}
