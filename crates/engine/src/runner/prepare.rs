//! A job's run prepared: its worktree (claimed warm, checked out, or locked again for a
//! reply), the copied files, the sandbox, the submodules and the setup command.

use std::path::{Path, PathBuf};

use sidekick_protocol::Level;
use tokio::sync::watch;
use tokio::time::Instant;

use super::agent::run_process;
use super::{Outcome, ProcEnd, Settings};
use crate::jobs::handle::JobHandle;
use crate::process::describe_exit;
use crate::{repo, sandbox, StopReason};
use sidekick_store::JobRecord;

/// The job's worktree: locked again for a reply's turn; else a warm one claimed or a checkout
/// added, the pool refilled behind it and the `copy` files copied in. What a warm worktree's
/// setup ran ahead of time, if it did.
pub(super) async fn worktree_for(
    handle: &JobHandle,
    rec: &mut JobRecord,
    repo_dir: &Path,
    worktree: &Path,
    resumed: bool,
) -> Result<Option<sidekick_git::warm::Prepared>, Outcome> {
    let (repo_dir, worktree) = (repo_dir.to_path_buf(), worktree.to_path_buf());
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
            Ok(Err(e)) => {
                return Err(Outcome::Failed(format!(
                    "cannot create the job's worktree: {e}"
                )))
            }
            Err(e) => {
                return Err(Outcome::Failed(format!(
                    "cannot create the job's worktree: {e}"
                )))
            }
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
                return Err(Outcome::Failed(format!(
                    "cannot record the files to copy in the worktree's git folder: {e}"
                )));
            }
            for rel in rec.copy_files.clone() {
                copy_into(handle, &repo_dir, &worktree, &rel);
            }
        }
    }
    Ok(prepared)
}

/// The agent's settings for this run (its profile's env, its MCP server) and the sandbox its
/// processes run in, set up for this run (a reply's turn too: the branch's stand-in is fresh).
pub(super) async fn sandboxed(
    handle: &JobHandle,
    rec: &mut JobRecord,
    repo_dir: &Path,
    worktree: &Path,
) -> Result<Settings, Outcome> {
    let (repo_dir, worktree) = (repo_dir.to_path_buf(), worktree.to_path_buf());
    // The profile's env (API keys) is read now, never stored with the job; so is the MCP
    // server the agent's dialog offers it.
    let config = match sidekick_config::Config::load(&handle.config_file()) {
        Ok(config) => config,
        Err(e) => {
            return Err(Outcome::Failed(format!(
                "cannot read the agent's settings: {e}"
            )))
        }
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
            return Err(Outcome::Failed(why));
        }
    }
    Ok(settings)
}

/// Submodules: only for a repository trusted with this .gitmodules, fetched in the sandbox.
pub(super) async fn submodules(
    handle: &JobHandle,
    repo_dir: &Path,
    worktree: &Path,
    settings: &Settings,
) {
    let (repo_dir, worktree) = (repo_dir.to_path_buf(), worktree.to_path_buf());
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

/// The repository's setup command, unless a warm worktree ran it ahead of time or this is a
/// reply's turn; `Some` with how the job ends when it fails or is stopped.
pub(super) async fn setup(
    handle: &JobHandle,
    rec: &mut JobRecord,
    resumed: bool,
    prepared: Option<sidekick_git::warm::Prepared>,
    settings: &Settings,
    deadline: Instant,
    stop: &mut watch::Receiver<Option<StopReason>>,
) -> Option<Outcome> {
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
        match run_process(handle, rec, &argv, settings, deadline, stop, false).await {
            ProcEnd::Exited(status) if status.success() => {}
            ProcEnd::Exited(status) => {
                return Some(Outcome::Failed(format!(
                    "the setup command `{setup}` {}; its output is in the job's log",
                    describe_exit(status)
                )))
            }
            ProcEnd::Stopped(s) => return Some(Outcome::Stopped(s)),
            ProcEnd::Reported(why) => return Some(Outcome::Failed(why)),
            ProcEnd::SpawnFailed(e) => {
                return Some(Outcome::Failed(format!(
                    "cannot run the setup command: {e}"
                )))
            }
        }
    }
    None
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
