//! Running one job: worktree, copied files, setup command, agent, and the commit of whatever
//! the agent left behind, whatever way it ended.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use sidekick_protocol::{JobState, Level, Stream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::jobs::handle::JobHandle;
use crate::jobs::messages::Progress;
use crate::output::{pump, sink, Reader};
use crate::process::describe_exit;
use crate::{human, lock, process, release_memory, repo, sandbox, StopReason};
use sidekick_store::ledger;
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
    let mut prepared = None;
    if resumed {
        let (repo2, wt2) = (repo_dir.clone(), worktree.clone());
        let reason = format!(
            "sidekick job {} ({}) is running",
            rec.job.codename, rec.job.id
        );
        let locked =
            tokio::task::spawn_blocking(move || repo::lock_worktree(&repo2, &wt2, &reason)).await;
        if let Ok(Err(e)) = locked {
            tracing::warn!(job = %rec.job.id, error = %e, "cannot lock the worktree again");
        }
    } else {
        let (repo2, wt2, branch, commit) = (
            repo_dir.clone(),
            worktree.clone(),
            rec.job.branch.clone(),
            rec.job.base_commit.clone(),
        );
        let lock_reason = format!(
            "sidekick job {} ({}) is running",
            rec.job.codename, rec.job.id
        );
        let started = std::time::Instant::now();
        let claimer = handle.clone();
        let added = tokio::task::spawn_blocking(move || {
            // A warm worktree when the repository has one ready; else a checkout.
            if let Some(claimed) = claimer.claim_warm(&repo2, &wt2, &branch, &commit, &lock_reason)
            {
                return Ok(Some(claimed));
            }
            repo::add_worktree(&repo2, &wt2, &branch, &commit, &lock_reason).map(|()| None)
        })
        .await;
        tracing::debug!(
            job = %rec.job.id,
            ms = started.elapsed().as_millis() as u64,
            warm = matches!(added, Ok(Ok(Some(_)))),
            "worktree ready"
        );
        match added {
            Ok(Ok(claimed)) => prepared = claimed.and_then(|c| c.prepared),
            Ok(Err(e)) => return Outcome::Failed(format!("cannot create the job's worktree: {e}")),
            Err(e) => return Outcome::Failed(format!("cannot create the job's worktree: {e}")),
        }
        rec.has_worktree = true;
        if let Err(e) = handle.save(rec) {
            tracing::error!(job = %rec.job.id, error = %e, "cannot record the worktree");
        }
        if let Some(group) = worktree.parent() {
            handle.refill_warm(
                repo_dir.clone(),
                group.to_path_buf(),
                rec.job.base_commit.clone(),
            );
        }

        if !rec.copy_files.is_empty() {
            // Recorded before anything is copied, so no commit can pick a copy up, even after a crash.
            if let Err(e) = crate::copy::record_keep_out(&worktree, &rec.copy_files) {
                return Outcome::Failed(format!(
                    "cannot record the files to copy in the worktree's git folder: {e}"
                ));
            }
            for rel in rec.copy_files.clone() {
                copy_into(handle, &repo_dir, &worktree, &rel);
            }
        }
    }

    // The profile's env (API keys) is read now, never stored with the job; so is the MCP
    // server the agent's dialog offers it.
    let config = match sidekick_config::Config::load(&handle.config_file()) {
        Ok(config) => config,
        Err(e) => return Outcome::Failed(format!("cannot read the agent's settings: {e}")),
    };
    let profile = config.profile(&rec.job.agent);
    let mut settings = match &profile {
        Some(p) => Settings {
            env: p.env.clone().into_iter().collect(),
            sidekick_mcp: p.sidekick_mcp.clone(),
            sandbox: Vec::new(),
        },
        None => Settings::default(),
    };
    // The sandbox, set up for this run (a reply's turn too: the branch's stand-in is fresh).
    let mode = sandbox::mode(rec, profile.as_ref(), &config);
    let (home, repo2, wt2, branch) = (
        handle.home(),
        repo_dir.clone(),
        worktree.clone(),
        rec.job.branch.clone(),
    );
    let env: Vec<(String, String)> = settings.env.iter().chain(&rec.env).cloned().collect();
    let program = rec.argv.first().cloned().unwrap_or_default();
    let write = profile.map(|p| p.sandbox_write).unwrap_or_default();
    let config2 = config.clone();
    let decided = tokio::task::spawn_blocking(move || {
        sandbox::decide(mode, &config2, |network| {
            sandbox::command(&sandbox::Layout {
                home: &home,
                repo: &repo2,
                worktree: &wt2,
                branch: Some(&branch),
                env: &env,
                program: &program,
                write: &write,
                hide: &config2.sandbox.hide,
                network,
            })
        })
    })
    .await
    .unwrap_or_else(|e| Err(format!("setting up the sandbox failed: {e}")));
    match decided {
        Ok(d) => {
            if let Some(why) = d.status.reason.as_ref().filter(|_| !d.status.on) {
                handle.notice(
                    Level::Warn,
                    format!("running without a sandbox: {why} (sandbox = \"auto\")"),
                );
            }
            rec.job.sandbox = Some(d.status);
            settings.sandbox = d.prefix;
        }
        Err(why) => {
            rec.job.sandbox = Some(sidekick_protocol::Sandbox {
                mode,
                on: false,
                network: config.sandbox.network,
                reason: Some(why.clone()),
            });
            return Outcome::Failed(why);
        }
    }

    // Submodules: only for a repository trusted with this .gitmodules, fetched in the sandbox.
    if !resumed && worktree.join(".gitmodules").exists() {
        let (home, repo2, wt2, prefix) = (
            handle.home(),
            repo_dir.clone(),
            worktree.clone(),
            settings.sandbox.clone(),
        );
        let inited = tokio::task::spawn_blocking(move || {
            sidekick_config::trust::submodules_trusted(&home, &repo2, &wt2)?;
            match repo::init_submodules(&wt2, &prefix) {
                Ok(failed) if failed.is_empty() => Ok(()),
                Ok(failed) => Err(format!("git could not fetch {}", failed.join("; "))),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        match inited {
            Ok(Ok(())) => handle.notice(Level::Info, "initialised the submodules"),
            Ok(Err(why)) => handle.notice(
                Level::Warn,
                format!("the submodules were not set up: {why}; files written inside their folders are not part of the job's commits"),
            ),
            Err(e) => tracing::error!(error = %e, "submodule init task failed"),
        }
    }

    let setup = rec.setup.clone().filter(|_| !resumed);
    let kept = match (&setup, prepared) {
        (Some(setup), Some(p)) => {
            let sandboxed = rec.job.sandbox.as_ref().is_some_and(|s| s.on);
            kept_setup(rec, setup, p, sandboxed).await
        }
        _ => None,
    };
    if let Some(why) = kept {
        handle.notice(Level::Info, why);
    } else if let Some(setup) = setup {
        handle.notice(Level::Info, format!("running setup: {setup}"));
        let argv = vec!["sh".to_string(), "-c".to_string(), setup.clone()];
        match run_process(handle, rec, &argv, &settings, deadline, stop, false).await {
            ProcEnd::Exited(status) if status.success() => {}
            ProcEnd::Exited(status) => {
                return Outcome::Failed(format!(
                    "the setup command `{setup}` {}; its output is in the job's log",
                    describe_exit(status)
                ))
            }
            ProcEnd::Stopped(s) => return Outcome::Stopped(s),
            ProcEnd::Reported(why) => return Outcome::Failed(why),
            ProcEnd::SpawnFailed(e) => {
                return Outcome::Failed(format!("cannot run the setup command: {e}"))
            }
        }
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

/// Whether the setup a warm worktree ran ahead of time stands for this job's: the same
/// command and lockfiles at the job's base, and not run with more rights than the job's own
/// setup would have (a job in a sandbox takes only a setup that ran in one). The notice that
/// says so, or `None` (the job runs its setup).
async fn kept_setup(
    rec: &JobRecord,
    setup: &str,
    p: sidekick_git::warm::Prepared,
    sandboxed: bool,
) -> Option<String> {
    if sandboxed && !p.sandboxed {
        return None;
    }
    let (repo, base, setup2, files) = (
        PathBuf::from(&rec.job.repo),
        rec.job.base_commit.clone(),
        setup.to_string(),
        rec.setup_cache.clone(),
    );
    let key = tokio::task::spawn_blocking(move || {
        sidekick_git::warm::setup_key(&repo, &base, &setup2, &files).ok()
    })
    .await
    .ok()
    .flatten()?;
    (key == p.key).then(|| {
        format!(
            "setup already done: `{setup}` ran ahead of time in this worktree and {} unchanged (setup_cache)",
            if rec.setup_cache.len() == 1 {
                format!("{} is", rec.setup_cache[0])
            } else {
                format!("{} are", rec.setup_cache.join(", "))
            }
        )
    })
}

fn copy_into(handle: &JobHandle, repo_dir: &Path, worktree: &Path, rel: &str) {
    match crate::copy::copy_file(repo_dir, worktree, rel) {
        Ok(()) => handle.notice(
            Level::Info,
            format!("copied {rel} into the worktree (it is never committed)"),
        ),
        Err(e) => handle.notice(Level::Warn, format!("{rel} was not copied: {e}")),
    }
}

/// Runs one process in its own group in the worktree, streaming its output, until it exits or
/// the engine stops it (SIGTERM to the group, grace, SIGKILL).
async fn run_process(
    handle: &JobHandle,
    rec: &mut JobRecord,
    argv: &[String],
    settings: &Settings,
    deadline: Instant,
    stop: &mut watch::Receiver<Option<StopReason>>,
    is_agent: bool,
) -> ProcEnd {
    let Some((program, args)) = argv.split_first() else {
        return ProcEnd::SpawnFailed(std::io::Error::other("empty command"));
    };
    // The task for an agent that speaks its protocol on stdin (`permission = "ask"`).
    let dialog = rec.dialog.clone().filter(|_| is_agent);
    let is_dialog = dialog.is_some();
    let mut cmd = match settings.sandbox.split_first() {
        Some((bwrap, sandbox)) => {
            let mut cmd = tokio::process::Command::new(bwrap);
            cmd.args(sandbox).arg(program);
            cmd
        }
        None => tokio::process::Command::new(program),
    };
    cmd.args(args)
        .current_dir(&rec.job.worktree)
        .envs(
            settings
                .env
                .iter()
                .chain(&rec.env)
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .stdin(if dialog.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return ProcEnd::SpawnFailed(e),
    };
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    // An agent in a dialog gets the task, then the user's answers, on stdin.
    let mut dialog_tx = None;
    let mut dialog_task: Option<tokio::task::JoinHandle<()>> = None;
    if let (Some(prompt), Some(stdin)) = (dialog, child.stdin.take()) {
        let (tx, rx) = mpsc::unbounded_channel();
        handle.open_dialog(tx.clone());
        dialog_tx = Some(tx);
        let dialect = match rec.format {
            // An ACP session is loaded wherever the job has one (a reply).
            sidekick_agents::parse::Format::Acp => sidekick_agents::dialect::Dialect::Acp {
                cwd: rec.job.worktree.clone(),
                mcp: settings.sidekick_mcp.clone(),
                load: rec
                    .session
                    .clone()
                    .map(|session| sidekick_agents::dialect::Load {
                        session,
                        fallback: crate::jobs::messages::with_earlier_task(&rec.job.task, &prompt),
                    }),
            },
            // A Codex thread is resumed wherever the job has one (a reply, a follow-up).
            sidekick_agents::parse::Format::CodexApp => sidekick_agents::dialect::Dialect::Codex {
                cwd: rec.job.worktree.clone(),
                resume: rec.session.clone(),
                mcp: settings.sidekick_mcp.clone(),
            },
            _ => sidekick_agents::dialect::Dialect::Claude,
        };
        dialog_task = Some(tokio::spawn(crate::jobs::dialog::speak(
            handle.clone(),
            dialect,
            stdin,
            prompt,
            rx,
        )));
    }

    // Each batch holds one read chunk's lines (up to 64 KiB); a few in flight keep the pipe busy
    // while the sink writes, without holding much memory when the sink is slower.
    let (tx, rx) = mpsc::channel(8);
    let log_path = PathBuf::from(&rec.job.log_path);
    // The agent's stdout is also read for steps, tokens and its summary.
    let progress = Arc::new(std::sync::Mutex::new(Progress::continuing(rec)));
    let reader = is_agent
        .then(|| rec.format.parser())
        .flatten()
        .map(|p| Reader::new(p, progress.clone()));
    let parsing = reader.is_some();
    let sink_task = tokio::spawn(sink(handle.clone(), log_path, rx, reader));
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
        pumps.push(tokio::spawn(pump(
            err,
            Stream::Stderr,
            tx.clone(),
            handle.clone(),
        )));
    }
    drop(tx);

    if is_agent {
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
        match dialog_task.as_mut() {
            Some(task) => {
                let _ = task.await;
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

    let end = match stopped {
        Err(status) => ProcEnd::Exited(status),
        Ok((Stop::DialogOver, _)) => {
            tracing::debug!(job = %rec.job.id, "the agent lingered after its dialog; stopping it");
            process::signal_group(pgid, Signal::SIGTERM);
            if tokio::time::timeout(handle.grace(), exit_of_group(&mut child, pgid))
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
            if parsing {
                lock(&progress).apply(rec);
            }
            let saved = handle
                .save_keeping_others(rec, |rec| Ok(ledger::move_to(rec, JobState::Stopping)?));
            if let Err(e) = saved {
                tracing::error!(job = %rec.job.id, error = %e, "cannot record stopping");
            }
            process::signal_group(pgid, Signal::SIGTERM);
            match tokio::time::timeout(handle.grace(), exit_of_group(&mut child, pgid)).await {
                Ok(_) => {}
                Err(_) => {
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
            }
            ProcEnd::Stopped(why)
        }
    };

    // Whatever the agent forked and left behind in its group goes too; it may hold our pipes.
    if process::group_running(pgid) {
        process::signal_group(pgid, Signal::SIGTERM);
        let waited = tokio::time::timeout(handle.grace(), wait_all(&mut pumps)).await;
        if waited.is_err() {
            process::signal_group(pgid, Signal::SIGKILL);
        }
    }
    // Drain what is left; a process that escaped the group could hold a pipe open forever.
    if tokio::time::timeout(Duration::from_secs(2), wait_all(&mut pumps))
        .await
        .is_err()
    {
        tracing::warn!(job = %rec.job.id, "an escaped process still holds the output pipes; stopped reading");
        for p in &pumps {
            p.abort();
        }
    }
    drop(pumps);
    // The writer of the log and the events is gone before its time: what came after is not
    // recorded, and the job must not pass for whole.
    if let Err(e) = sink_task.await {
        let why = match e.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "it panicked".into()),
            Err(e) => e.to_string(),
        };
        tracing::error!(job = %rec.job.id, error = %why, "the output writer failed");
        if let Some(tx) = &dialog_tx {
            handle.close_dialog(tx);
        }
        return ProcEnd::Reported(format!(
            "recording the agent's output failed ({why}); the job's log stops where it failed"
        ));
    }
    if let Some(tx) = &dialog_tx {
        handle.close_dialog(tx);
    }
    if parsing {
        let progress = lock(&progress);
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
    }
    end
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

/// Commits leftovers, unlocks the worktree and records the final state.
async fn finish(handle: &JobHandle, mut rec: JobRecord, outcome: Outcome) {
    let (state, reason, exit_code) = match outcome {
        // (A dialog that is over ends as an exit; this arm is never reached with it.)
        Outcome::Exited(status) if status.success() => (JobState::Completed, None, Some(0)),
        Outcome::Stopped(Stop::DialogOver) => (JobState::Completed, None, Some(0)),
        Outcome::Exited(status) => (
            JobState::Failed,
            Some(format!("the agent {}", describe_exit(status))),
            status.code(),
        ),
        Outcome::Stopped(Stop::Timeout) => (
            JobState::Timeout,
            Some(format!(
                "ran longer than its {} timeout",
                human(rec.job.timeout_ms)
            )),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::Cancel)) => (
            JobState::Cancelled,
            Some("cancelled by the user".into()),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::ParentEnded(p))) => (
            JobState::Cancelled,
            Some(format!("its parent job {p} ended")),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::StepCap(n))) => {
            rec.job.capped = true;
            (
                JobState::Completed,
                Some(format!(
                    "stopped at its step cap ({n} steps); the work so far is committed"
                )),
                None,
            )
        }
        Outcome::Stopped(Stop::Asked(StopReason::DiskFull(what))) => (
            JobState::Failed,
            Some(format!("disk full: {what}; the job was stopped")),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::TokenBudget { used, budget })) => (
            JobState::Failed,
            Some(format!(
                "budget: the agent used {used} of its {budget} tokens and was stopped"
            )),
            None,
        ),
        Outcome::Stopped(Stop::Asked(StopReason::Shutdown)) => (
            JobState::Interrupted,
            Some(
                "the host shut down while the job was running; its worktree and output are kept"
                    .into(),
            ),
            None,
        ),
        Outcome::Failed(message) => (JobState::Failed, Some(message), None),
    };
    let mut reason = reason;
    let mut state = state;
    match save_leftovers(&mut rec).await {
        Ok(notes) => {
            for note in notes {
                handle.notice(Level::Warn, note);
            }
            if rec.has_worktree {
                handle.watch_settled(PathBuf::from(&rec.job.worktree));
            }
        }
        Err(e) => {
            handle.notice(Level::Error, e.clone());
            reason = Some(match reason {
                Some(r) => format!("{r}; {e}"),
                None => e,
            });
            // Work that is not on the job's branch is not a completed job's: it would be
            // reviewed and merged as nothing.
            if state == JobState::Completed {
                state = JobState::Failed;
            }
        }
    }
    // What others wrote while the agent ran (a reply's turn) stays; what it asked and nobody
    // answered goes with it.
    handle.keep_others(&mut rec);
    rec.job.requests.clear();
    if let Err(e) = ledger::move_to(&mut rec, state) {
        // Never expected: the job is left as it was and the next host marks it interrupted.
        tracing::error!(job = %rec.job.id, error = %e, "cannot record the job's end");
    }
    rec.job.reason = reason;
    rec.job.exit_code = exit_code;
    rec.job.ended_at = Some(handle.now());
    // The end must be recorded (a client waits for it). On a full disk, try again for a while:
    // room may come back; if it never does, the next host marks the job interrupted.
    for attempt in 0..60 {
        match handle.save(&rec) {
            Ok(()) => break,
            Err(e) => {
                if attempt == 0 {
                    tracing::error!(job = %rec.job.id, error = %e, "cannot record the job's end; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    tracing::info!(job = %rec.job.id, state = %state, "job ended");
    handle.end_children(&rec);
}

/// Commits what the agent left in the worktree, records head and stats, unlocks the worktree.
/// First the branch is moved to what the agent committed in its sandbox, and the worktree's link
/// to its git folder and HEAD are put back (see `sandbox::settle`); what that had to mend comes
/// back as notes. Errors are one sentence; the work itself stays in the worktree either way.
pub(crate) async fn save_leftovers(rec: &mut JobRecord) -> Result<Vec<String>, String> {
    let worktree = PathBuf::from(&rec.job.worktree);
    if !rec.has_worktree {
        if worktree.join(".git").exists() {
            rec.has_worktree = true;
        } else {
            return Ok(Vec::new());
        }
    }
    let repo_dir = PathBuf::from(&rec.job.repo);
    // A repository moved or deleted while the job ran: its worktree's link points nowhere, and
    // git's words about that would not say so.
    if !repo_dir.join(".git").exists() {
        return Err(format!(
            "the repository was moved or deleted while the job ran (it was at {}); the job's work is uncommitted in {}",
            rec.job.repo, rec.job.worktree
        ));
    }
    // A reply's turn is committed under the reply's words.
    let said = rec.last_reply.as_deref().unwrap_or(&rec.job.task);
    let message = repo::commit_message(said, &rec.job.id, &rec.job.codename);
    let base = rec.job.base_commit.clone();
    let branch = rec.job.branch.clone();
    let codename = rec.job.codename.clone();
    let work = tokio::task::spawn_blocking(move || {
        let mut notes = sandbox::settle(&repo_dir, &worktree, &branch);
        // A rebase stopped at conflicts is the person's or the agent's to finish: committing
        // now would take conflict markers in as its resolution. The branch keeps its tip.
        let committed = if crate::review::ops::rebase_in_progress(&worktree) {
            notes.push(format!(
                "a rebase is under way in the worktree and was left as it is (nothing committed); finish it there (`git add`, `git rebase --continue`) or `sidekick rebase {} --abort`",
                codename
            ));
            repo::branch_tip(&repo_dir, &branch).map(|head| repo::Committed {
                head,
                created: false,
            })
        } else {
            repo::commit_all(&worktree, &message)
        };
        let unlocked = repo::unlock_worktree(&repo_dir, &worktree);
        let committed = committed?;
        let stats = repo::diff_stats(&repo_dir, &base, &committed.head)?;
        unlocked?;
        Ok::<_, repo::RepoError>((committed, stats, notes))
    })
    .await
    .map_err(|e| format!("committing the job's leftovers failed: {e}"))?;
    match work {
        Ok((committed, (files, ins, del), notes)) => {
            rec.job.head_commit = Some(committed.head);
            rec.job.files_changed = Some(files);
            rec.job.insertions = Some(ins);
            rec.job.deletions = Some(del);
            Ok(notes)
        }
        Err(e) => Err(format!(
            "committing the job's leftovers failed ({e}); they are still in {}",
            rec.job.worktree
        )),
    }
}
