//! One process of a job run in its own group in the worktree (the setup command, the agent):
//! its output pumped to the job's sink, its dialog opened, stopped on request, on its timeout
//! or when its dialog is over (SIGTERM to the group, grace, SIGKILL).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use sidekick_protocol::{JobState, Level, Stream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{ProcEnd, Settings, Stop, DIALOG_LINGER};
use crate::jobs::handle::JobHandle;
use crate::jobs::messages::Progress;
use crate::output::{pump, sink, Reader};
use crate::{human, lock, process, StopReason};
use sidekick_store::ledger;
use sidekick_store::JobRecord;

/// The output side of a running process: the sink writing the log and events, the pumps
/// reading its pipes, and what the agent has reported so far.
struct Output {
    sink: tokio::task::JoinHandle<()>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    progress: Arc<std::sync::Mutex<Progress>>,
    /// The agent's stdout is read for steps, tokens and its summary.
    parsing: bool,
}

/// An agent's dialog: where its answers and replies go, and the task writing them.
struct Dialog {
    tx: mpsc::UnboundedSender<crate::jobs::messages::Control>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs one process in its own group in the worktree, streaming its output, until it exits or
/// the engine stops it (SIGTERM to the group, grace, SIGKILL).
pub(super) async fn run_process(
    handle: &JobHandle,
    rec: &mut JobRecord,
    argv: &[String],
    settings: &Settings,
    deadline: Instant,
    stop: &mut watch::Receiver<Option<StopReason>>,
    is_agent: bool,
) -> ProcEnd {
    // The task for an agent that speaks its protocol on stdin (`permission = "ask"`).
    let prompt = rec.dialog.clone().filter(|_| is_agent);
    let is_dialog = prompt.is_some();
    let mut child = match spawn(rec, argv, settings, is_dialog) {
        Ok(c) => c,
        Err(e) => return ProcEnd::SpawnFailed(e),
    };
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    // An agent in a dialog gets the task, then the user's answers, on stdin.
    let mut dialog = match (prompt, child.stdin.take()) {
        (Some(prompt), Some(stdin)) => Some(open_dialog(handle, rec, settings, prompt, stdin)),
        _ => None,
    };
    let mut output = start_output(handle, rec, &mut child, is_agent);
    if is_agent {
        record_running(handle, rec, pgid);
    }
    let mut proc = Proc { child, pgid };
    let end = wait_or_stop(handle, rec, &mut proc, &output, &mut dialog, deadline, stop).await;
    let recorded = collect_output(handle, rec, pgid, &mut output).await;
    if let Some(d) = &dialog {
        handle.close_dialog(&d.tx);
    }
    if let Err(why) = recorded {
        return ProcEnd::Reported(why);
    }
    if !output.parsing {
        return end;
    }
    let progress = lock(&output.progress);
    progress.apply(rec);
    // What the agent said went wrong, unless the engine stopped it first.
    if let (Some(why), ProcEnd::Exited(_)) = (&progress.failure, &end) {
        return ProcEnd::Reported(why.clone());
    }
    // An agent in a dialog that ends without ever opening its session did nothing it was
    // asked; its own words are in the log.
    if matches!(&end, ProcEnd::Exited(s) if s.success()) && is_dialog && !progress.opened {
        return ProcEnd::Reported(
            "the agent ended before it opened a session; its output is in the job's log".into(),
        );
    }
    end
}

/// Starts `argv` (inside the sandbox's command line, when there is one) in the job's worktree,
/// in a process group of its own, with the profile's and the job's variables.
fn spawn(
    rec: &JobRecord,
    argv: &[String],
    settings: &Settings,
    stdin: bool,
) -> std::io::Result<tokio::process::Child> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::other("empty command"));
    };
    let mut cmd = match settings.sandbox.split_first() {
        Some((bwrap, sandbox)) => {
            let mut cmd = tokio::process::Command::new(bwrap);
            cmd.args(sandbox).arg(program);
            cmd
        }
        None => tokio::process::Command::new(program),
    };
    // The user's forge tokens stay with the host; a job's own `env` may still give one.
    for name in crate::pulls::TOKEN_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.args(args)
        .current_dir(&rec.job.worktree)
        .envs(
            settings
                .env
                .iter()
                .chain(&rec.env)
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    cmd.spawn()
}

/// Opens the job's dialog and starts writing to the agent's stdin in its own dialect.
fn open_dialog(
    handle: &JobHandle,
    rec: &JobRecord,
    settings: &Settings,
    prompt: String,
    stdin: tokio::process::ChildStdin,
) -> Dialog {
    use sidekick_agents::dialect::{Dialect, Load};
    use sidekick_agents::parse::Format;
    let (tx, rx) = mpsc::unbounded_channel();
    handle.open_dialog(tx.clone());
    let dialect = match rec.format {
        // An ACP session is loaded wherever the job has one (a reply).
        Format::Acp => Dialect::Acp {
            cwd: rec.job.worktree.clone(),
            mcp: settings.sidekick_mcp.clone(),
            load: rec.session.clone().map(|session| Load {
                session,
                fallback: crate::jobs::messages::with_earlier_task(&rec.job.task, &prompt),
            }),
        },
        // A Codex thread is resumed wherever the job has one (a reply, a follow-up).
        Format::CodexApp => Dialect::Codex {
            cwd: rec.job.worktree.clone(),
            resume: rec.session.clone(),
            mcp: settings.sidekick_mcp.clone(),
        },
        _ => Dialect::Claude,
    };
    let task = tokio::spawn(crate::jobs::dialog::speak(
        handle.clone(),
        dialect,
        stdin,
        prompt,
        rx,
    ));
    Dialog { tx, task }
}

/// Starts the job's output sink and a pump on each of the process's pipes.
fn start_output(
    handle: &JobHandle,
    rec: &JobRecord,
    child: &mut tokio::process::Child,
    is_agent: bool,
) -> Output {
    // Each batch holds one read chunk's lines (up to 64 KiB); a few in flight keep the pipe busy
    // while the sink writes, without holding much memory when the sink is slower.
    let (tx, rx) = mpsc::channel(8);
    let log_path = PathBuf::from(&rec.job.log_path);
    let progress = Arc::new(std::sync::Mutex::new(Progress::continuing(rec)));
    let reader = is_agent
        .then(|| rec.format.parser())
        .flatten()
        .map(|p| Reader::new(p, progress.clone()));
    let parsing = reader.is_some();
    let sink = tokio::spawn(sink(handle.clone(), log_path, rx, reader));
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(
            out,
            Stream::Stdout,
            tx.clone(),
            handle.clone(),
        )));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(err, Stream::Stderr, tx, handle.clone())));
    }
    Output {
        sink,
        pumps,
        progress,
        parsing,
    }
}

/// Records the agent as running, with its process's identity.
fn record_running(handle: &JobHandle, rec: &mut JobRecord, pgid: i32) {
    tracing::debug!(job = %rec.job.id, "agent started");
    rec.process = process::identity(pgid);
    // A request the agent made at once (before this save) is kept, and the job waits.
    let saved = handle.save_keeping_others(rec, |rec| {
        ledger::move_to(rec, JobState::Running)?;
        if !rec.job.requests.is_empty() {
            ledger::move_to(rec, JobState::Waiting)?;
        }
        Ok(())
    });
    if let Err(e) = saved {
        tracing::error!(job = %rec.job.id, error = %e, "cannot record the running agent");
    }
}

/// A started process and its group (the group outlives the process in a sandbox).
struct Proc {
    child: tokio::process::Child,
    pgid: i32,
}

/// Waits until the process exits, its timeout passes, the engine asks it to stop or its
/// dialog is over; stops it in the last three cases.
async fn wait_or_stop(
    handle: &JobHandle,
    rec: &mut JobRecord,
    proc: &mut Proc,
    output: &Output,
    dialog: &mut Option<Dialog>,
    deadline: Instant,
    stop: &mut watch::Receiver<Option<StopReason>>,
) -> ProcEnd {
    let Proc { child, pgid } = proc;
    let pgid = *pgid;
    let asked = async {
        loop {
            if let Some(r) = stop.borrow_and_update().clone() {
                return r;
            }
            if stop.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    // The dialog is over (stdin closed after the last turn, or the agent said it cannot go
    // on): an agent that still has not exited a while later (Gemini CLI keeps running while an
    // MCP server it started runs) is stopped; the job ends as its dialog did.
    let lingering = async {
        match dialog.as_mut() {
            Some(d) => {
                let _ = (&mut d.task).await;
                tokio::time::sleep(DIALOG_LINGER).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let stopped = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => Err(s),
            Err(e) => Ok((Stop::Asked(StopReason::Shutdown), Some(e))),
        },
        _ = timeout(handle, deadline) => Ok((Stop::Timeout, None)),
        r = asked => Ok((Stop::Asked(r), None)),
        _ = lingering => Ok((Stop::DialogOver, None)),
    };
    match stopped {
        Err(status) => ProcEnd::Exited(status),
        Ok((Stop::DialogOver, _)) => {
            tracing::debug!(job = %rec.job.id, "the agent lingered after its dialog; stopping it");
            process::signal_group(pgid, Signal::SIGTERM);
            if tokio::time::timeout(handle.grace(), exit_of_group(child, pgid))
                .await
                .is_err()
            {
                process::signal_group(pgid, Signal::SIGKILL);
                let _ = child.wait().await;
            }
            // It had nothing left to do: it ended as if it had exited by itself.
            ProcEnd::Exited(std::os::unix::process::ExitStatusExt::from_raw(0))
        }
        Ok((why, wait_error)) => {
            if let Some(e) = wait_error {
                tracing::error!(job = %rec.job.id, error = %e, "waiting for the agent failed");
            }
            if output.parsing {
                lock(&output.progress).apply(rec);
            }
            let saved = handle
                .save_keeping_others(rec, |rec| Ok(ledger::move_to(rec, JobState::Stopping)?));
            if let Err(e) = saved {
                tracing::error!(job = %rec.job.id, error = %e, "cannot record stopping");
            }
            process::signal_group(pgid, Signal::SIGTERM);
            if tokio::time::timeout(handle.grace(), exit_of_group(child, pgid))
                .await
                .is_err()
            {
                handle.notice(
                    Level::Warn,
                    format!(
                        "still running {} after SIGTERM; sent SIGKILL",
                        human(handle.grace().as_millis() as u64)
                    ),
                );
                process::signal_group(pgid, Signal::SIGKILL);
                let _ = child.wait().await;
            }
            ProcEnd::Stopped(why)
        }
    }
}

/// Ends what the process left in its group, drains its pipes and waits for the sink; `Err`
/// with the sentence when the sink failed (what came after is not recorded, and the job must
/// not pass for whole).
async fn collect_output(
    handle: &JobHandle,
    rec: &JobRecord,
    pgid: i32,
    output: &mut Output,
) -> Result<(), String> {
    // Whatever the agent forked and left behind in its group goes too; it may hold our pipes.
    if process::group_running(pgid) {
        process::signal_group(pgid, Signal::SIGTERM);
        let waited = tokio::time::timeout(handle.grace(), wait_all(&mut output.pumps)).await;
        if waited.is_err() {
            process::signal_group(pgid, Signal::SIGKILL);
        }
    }
    // Drain what is left; a process that escaped the group could hold a pipe open forever.
    if tokio::time::timeout(Duration::from_secs(2), wait_all(&mut output.pumps))
        .await
        .is_err()
    {
        tracing::warn!(job = %rec.job.id, "an escaped process still holds the output pipes; stopped reading");
        for p in &output.pumps {
            p.abort();
        }
    }
    output.pumps.clear();
    let Err(e) = (&mut output.sink).await else {
        return Ok(());
    };
    let why = match e.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "it panicked".into()),
        Err(e) => e.to_string(),
    };
    tracing::error!(job = %rec.job.id, error = %why, "the output writer failed");
    Err(format!(
        "recording the agent's output failed ({why}); the job's log stops where it failed"
    ))
}

/// Sleeps until `deadline`, moved later by the time the job spends waiting for the user (that
/// does not count toward its timeout).
async fn timeout(handle: &JobHandle, mut deadline: Instant) {
    let mut counted = Duration::ZERO;
    loop {
        tokio::time::sleep_until(deadline).await;
        let waited = handle.waited();
        if waited <= counted {
            return;
        }
        deadline += waited - counted;
        counted = waited;
    }
}

/// Waits for the process, then for the rest of its group: in a sandbox the agent's processes
/// outlive bubblewrap's outer process, which a SIGTERM ends at once.
async fn exit_of_group(child: &mut tokio::process::Child, pgid: i32) {
    let _ = child.wait().await;
    while process::group_running(pgid) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_all(tasks: &mut Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks.iter_mut() {
        let _ = t.await;
    }
    tasks.clear();
}
