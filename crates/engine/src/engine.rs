//! The engine's facade: what the host calls. It holds the owners a reader finds by name — the
//! [`Ledger`] (jobs' records and events), the [`Scheduler`] (which jobs run, how they start and
//! stop), the [`Dialogs`] (agents that ask), the [`Reviews`] (review operations, one at a
//! time) and the [`Pools`] (warm worktrees) — and each method hands its work to one of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sidekick_protocol::{AgentInfo, Event, Job, SpawnRequest};
use tokio::sync::broadcast;

use crate::jobs::dialogs::Dialogs;
use crate::jobs::reviews::Reviews;
use crate::jobs::schedule::Scheduler;
use crate::ledger::Ledger;
use crate::pool::Pools;
use crate::{
    lock, private, release_memory, repo, Clock, Home, Result, StopReason, SystemClock, REBASE_LOOK,
    REPO_IDLE, STOP_GRACE,
};
use sidekick_config::tasks;
use sidekick_config::Config;
use sidekick_store::{Store, StoreError};

#[derive(Clone)]
pub struct Engine {
    pub(crate) home: Home,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) dialogs: Arc<Dialogs>,
    pub(crate) reviews: Arc<Reviews>,
    pub(crate) pools: Arc<Pools>,
    pub(crate) pulls: Arc<crate::pulls::Pulls>,
    /// One settings change at a time (each reads, edits and replaces the config file).
    settings_lock: Arc<Mutex<()>>,
}

/// Options for [`Engine::open`].
pub struct EngineOptions {
    pub clock: Arc<dyn Clock>,
    pub grace: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            clock: Arc::new(SystemClock),
            grace: STOP_GRACE,
        }
    }
}

/// A database file of 0 bytes beside job logs or worktrees is a lost history, not a new home:
/// SQLite would silently start afresh over it.
fn refuse_emptied_database(home: &Home) -> Result<()> {
    let path = home.database();
    if !std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
        return Ok(());
    }
    let count = |dir: PathBuf| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    let (logs, worktrees) = (count(home.logs()), count(home.worktrees()));
    if logs + worktrees == 0 {
        return Ok(());
    }
    Err(StoreError::Emptied {
        path,
        evidence: format!(
            "{} holds {logs} job log(s) and {} holds {worktrees} repository folder(s)",
            home.logs().display(),
            home.worktrees().display()
        ),
    }
    .into())
}

impl Engine {
    /// Opens (creating if needed) the home's database and folders. Call [`Engine::recover`]
    /// and then [`Engine::start`] inside a Tokio runtime before serving.
    pub fn open(home: Home, options: EngineOptions) -> Result<Engine> {
        // libgit2 re-hashes every object it reads by default; git itself only does that in
        // fsck. Reading thousands of blobs for a diff or merge, that doubles the work.
        git2::opts::strict_hash_verification(false);
        for dir in [home.root().to_path_buf(), home.worktrees(), home.logs()] {
            private::dir(&dir)?;
        }
        let db_path = home.database();
        refuse_emptied_database(&home)?;
        // The database and its WAL files are 0600: SQLite gives new WAL files the database's mode.
        private::file_options()
            .create(true)
            .append(true)
            .open(&db_path)?;
        for suffix in ["", "-wal", "-shm"] {
            private::restrict(Path::new(&format!("{}{suffix}", db_path.display())))?;
        }
        for folder in [home.root().join("contexts"), home.root().join("trash")] {
            if folder.exists() {
                private::dir(&folder)?;
            }
        }
        let db = Store::open(&db_path)?;
        let reader = Store::open(&home.database())?;
        // Worktrees removed by an earlier host that had no time to delete them.
        let trash = home.root().join("trash");
        if trash.exists() {
            std::thread::spawn(move || {
                let _ = std::fs::remove_dir_all(&trash);
            });
        }
        let ledger = Arc::new(Ledger::new(options.clock, db, reader));
        let dialogs = Arc::new(Dialogs::new(ledger.clone()));
        let shutting_down = Arc::new(AtomicBool::new(false));
        let pools = Arc::new(Pools::new(
            ledger.clone(),
            home.clone(),
            shutting_down.clone(),
        ));
        let reviews = Arc::new(Reviews::new(ledger.clone(), home.clone(), pools.clone()));
        let scheduler = Arc::new(Scheduler {
            home: home.clone(),
            ledger: ledger.clone(),
            running: Mutex::new(HashMap::new()),
            dialogs: dialogs.clone(),
            sched: Mutex::new(()),
            shutting_down,
            grace: options.grace,
            reviews: reviews.clone(),
            pools: pools.clone(),
        });
        let pulls = Arc::new(crate::pulls::Pulls::new(ledger.clone(), home.clone()));
        Ok(Engine {
            pulls,
            home,
            ledger,
            scheduler,
            dialogs,
            reviews,
            pools,
            settings_lock: Arc::new(Mutex::new(())),
        })
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Marks jobs that were live when the previous host died as `interrupted`: stops their
    /// leftover processes, commits what they left in their worktrees and unlocks them.
    /// Returns the ids it interrupted.
    /// Also finishes or rolls back merges the previous host left half done (see
    /// [`review::journal`]), telling each job's log what happened.
    pub async fn recover(&self) -> Result<Vec<String>> {
        let ids = self.scheduler.recover().await?;
        let reviews = self.reviews.clone();
        crate::blocking(move || reviews.repair_merges()).await?;
        // Auto-merges the previous host did not get to decide.
        let reviews = self.reviews.clone();
        tokio::spawn(async move { crate::automerge::resume(&reviews).await });
        Ok(ids)
    }

    /// Starts queued jobs up to the limit, and the housekeeping that keeps an idle host small.
    pub fn start(&self) {
        self.watch_pulls();
        self.scheduler.keep_reserve();
        self.scheduler.schedule();
        if let Err(e) = self.reviews.watch_stopped_rebases() {
            tracing::warn!(error = %e, "cannot list the jobs with stopped rebases");
        }
        let weak = Arc::downgrade(&self.scheduler);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REBASE_LOOK).await;
                let Some(inner) = weak.upgrade() else { break };
                if crate::blocking(move || inner.reviews.check_rebases())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        let weak = Arc::downgrade(&self.scheduler);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPO_IDLE / 2).await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.reviews.repos.close_idle(REPO_IDLE) > 0 {
                    release_memory();
                }
                // Jobs that could not start (a full disk) start once there is room again.
                inner.keep_reserve();
                inner.schedule();
            }
        });
    }

    /// Validates a request and queues the job; it starts as soon as a slot is free.
    pub async fn spawn(&self, mut req: SpawnRequest) -> Result<Job> {
        tracing::debug!(repo = %req.repo, "spawn requested");
        // The client's tokens serve this request only; they are never kept with the job.
        let tokens = std::mem::take(&mut req.tokens);
        let issue = match req.issue {
            Some(n) => Some(self.pulls.issue_into(&mut req, n, &tokens).await?),
            None => None,
        };
        let inner = self.scheduler.clone();
        let rec = crate::blocking(move || inner.create_job(req)).await??;
        if let Some(issue) = issue {
            self.ledger.modify(&rec.job.id, |rec| {
                rec.job.issue = Some(issue);
                Ok(((), Vec::new()))
            })?;
        }
        self.scheduler.schedule();
        self.job(&rec.job.id)
    }

    /// Starts the job `reference` again as a new job: the same task, agent, task type and
    /// inputs, context, budgets, timeout, sandbox and auto-merge wish, in a fresh worktree from
    /// its base branch's tip now (`same_base`: from the commit it started from). The new job
    /// records `retry_of`.
    pub async fn retry(&self, reference: &str, same_base: bool) -> Result<Job> {
        let inner = self.scheduler.clone();
        let reference = reference.to_string();
        let rec = crate::blocking(move || {
            let old = inner.ledger.resolve(&reference)?;
            let (req, retry) = crate::jobs::retry::request(&inner, &old, same_base)?;
            inner
                .create_job_as(req, Some(retry))
                .map_err(|e| crate::jobs::retry::refused(&old.job.codename, e))
        })
        .await??;
        self.scheduler.schedule();
        self.job(&rec.job.id)
    }

    /// One job by id, unique id prefix or codename.
    pub fn job(&self, reference: &str) -> Result<Job> {
        let rec = self.ledger.resolve(reference)?;
        Ok(self.ledger.decorate(rec.job))
    }

    /// Whether the job's every turn must run sandboxed (`sandbox = "worktree"` was asked of the
    /// job itself, as for every sidekick started from inside a sandbox).
    pub fn requires_sandbox(&self, reference: &str) -> Result<bool> {
        let rec = self.ledger.resolve(reference)?;
        Ok(rec.sandbox == Some(sidekick_protocol::SandboxMode::Worktree))
    }

    /// Jobs, newest first. Without `all`, jobs already merged, discarded or archived are left
    /// out.
    pub fn jobs(&self, all: bool) -> Result<Vec<Job>> {
        self.ledger.jobs(all)
    }

    /// Puts an ended job away (kept, out of the lists and the "to review" count), or brings
    /// it back.
    pub fn archive(&self, reference: &str, archived: bool) -> Result<Job> {
        let rec = self.ledger.resolve(reference)?;
        let (_, rec) = self.ledger.modify(&rec.job.id, |rec| {
            if !rec.job.state.has_ended() {
                return Err(crate::EngineError::InvalidState(format!(
                    "job {} is {}; archive it once it has ended",
                    rec.job.codename, rec.job.state
                )));
            }
            rec.job.archived = archived;
            Ok(((), Vec::new()))
        })?;
        Ok(self.ledger.decorate(rec.job))
    }

    /// Stops a queued or live job. A queued job ends at once; a live one is asked to stop and
    /// ends as `cancelled` after its leftovers are committed (watch its events to see when).
    pub fn cancel(&self, reference: &str) -> Result<Job> {
        let rec = self.ledger.resolve(reference)?;
        self.scheduler.stop(&rec.job.id, StopReason::Cancel)?;
        self.job(&rec.job.id)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.ledger.events.subscribe()
    }

    /// Stored events after `since`, oldest first.
    pub fn events_after(
        &self,
        since: u64,
        job_id: Option<&str>,
        include_output: bool,
        limit: usize,
    ) -> Result<Vec<Event>> {
        Ok(lock(&self.ledger.reader).events_after(since, job_id, include_output, limit)?)
    }

    pub fn last_seq(&self) -> Result<u64> {
        Ok(lock(&self.ledger.reader).last_seq()?)
    }

    /// Checks a folder the way `spawn` would and lists its branches (the app's repo picker).
    pub async fn repo_info(&self, path: PathBuf) -> Result<sidekick_protocol::RepoInfo> {
        let config_file = self.home.config_file().to_path_buf();
        let info = crate::blocking(move || -> Result<_> {
            let mut info = repo::describe(&path)?;
            // The agent its jobs default to, named in a configuration (the repository's, else
            // the user's), for the app's composer; a broken config leaves it unset (a job in
            // that repository reports the config's error). Else the composer, like a job,
            // takes the first installed coding agent.
            info.agent = match sidekick_config::RepoConfig::load(std::path::Path::new(&info.root)) {
                Ok(repo) => repo
                    .agent
                    .or_else(|| Config::load(&config_file).ok().and_then(|c| c.agent)),
                Err(_) => None,
            };
            Ok(info)
        })
        .await??;
        Ok(info)
    }

    /// What the repository's own configuration runs, and whether the user trusts it.
    pub async fn trust_info(&self, path: PathBuf) -> Result<sidekick_protocol::TrustInfo> {
        let home = self.home.clone();
        crate::blocking(move || -> Result<_> {
            let root = repo::resolve(&path, "HEAD")?.workdir;
            let seen = sidekick_config::trust::Seen::read(&root)?;
            Ok(seen.info(&sidekick_config::trust::Store::load(&home)?))
        })
        .await?
    }

    /// Trusts the repository's configuration at the content whose hash the user was shown;
    /// refused when it changed since (the user is shown it again).
    pub async fn trust(&self, path: PathBuf, hash: String) -> Result<sidekick_protocol::TrustInfo> {
        let home = self.home.clone();
        let now = self.ledger.now();
        crate::blocking(move || -> Result<_> {
            let root = repo::resolve(&path, "HEAD")?.workdir;
            let seen = sidekick_config::trust::Seen::read(&root)?;
            if seen.hash != hash {
                return Err(crate::EngineError::InvalidState(format!(
                    "{}'s .sidekick configuration changed since it was shown; look at it again before trusting it",
                    root.display()
                )));
            }
            sidekick_config::trust::Store::set(&home, &root, Some(&hash), now)?;
            tracing::info!(repo = %root.display(), "repository trusted");
            Ok(seen.info(&sidekick_config::trust::Store::load(&home)?))
        })
        .await?
    }

    /// Takes back the trust in the repository's configuration.
    pub async fn untrust(&self, path: PathBuf) -> Result<sidekick_protocol::TrustInfo> {
        let home = self.home.clone();
        let now = self.ledger.now();
        crate::blocking(move || -> Result<_> {
            let root = repo::resolve(&path, "HEAD")?.workdir;
            sidekick_config::trust::Store::set(&home, &root, None, now)?;
            let seen = sidekick_config::trust::Seen::read(&root)?;
            Ok(seen.info(&sidekick_config::trust::Store::load(&home)?))
        })
        .await?
    }

    /// The repository's task types (`.sidekick/tasks/*/task.toml`), broken ones with why.
    pub async fn tasks(&self, repo: PathBuf) -> Result<Vec<sidekick_protocol::TaskTypeInfo>> {
        let list = crate::blocking(move || -> Result<_> {
            let base = repo::resolve(&repo, "HEAD")?;
            Ok(tasks::list(&base.workdir)
                .into_iter()
                .map(|(name, t)| match t {
                    Ok(t) => t.info(),
                    Err(e) => sidekick_protocol::TaskTypeInfo {
                        path: tasks::dir(&base.workdir)
                            .join(&name)
                            .join("task.toml")
                            .display()
                            .to_string(),
                        name,
                        description: String::new(),
                        agent: String::new(),
                        inputs: Vec::new(),
                        error: Some(e.to_string()),
                    },
                })
                .collect())
        })
        .await??;
        Ok(list)
    }

    /// The settings the app edits, as the config file makes them now.
    pub async fn settings(&self) -> Result<sidekick_protocol::Settings> {
        let path = self.home.config_file().to_path_buf();
        Ok(crate::blocking(move || sidekick_config::settings::read(&path)).await??)
    }

    /// Changes keys of the config file (checked as the host reads it; comments and other keys
    /// kept), one change at a time; queued jobs start at once where `max_running` grew.
    pub async fn change_settings(
        &self,
        change: sidekick_protocol::SettingsChange,
    ) -> Result<sidekick_protocol::Settings> {
        let (one_at_a_time, file) = (
            self.settings_lock.clone(),
            self.home.config_file().to_path_buf(),
        );
        let settings = crate::blocking(move || {
            let _one_at_a_time = lock(&one_at_a_time);
            sidekick_config::settings::change(&file, &change.changes)
        })
        .await??;
        tracing::info!(file = %settings.file, "settings changed");
        self.scheduler.schedule();
        Ok(settings)
    }

    /// The host-wide configuration as the file says now.
    pub fn config(&self) -> Result<Config> {
        Ok(Config::load(self.home.config_file())?)
    }

    /// The agent profiles, each with whether it can run here.
    /// Asking each installed agent for `--version` starts processes and waits for them, so it
    /// runs off the async executor.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>> {
        let config = Config::load(self.home.config_file())?;
        let infos = crate::blocking(move || {
            config
                .profiles()
                .iter()
                .map(sidekick_agents::info)
                .collect::<Vec<_>>()
        })
        .await?;
        Ok(infos)
    }

    /// Answers a request of a job that is waiting: the answer goes to the agent, the request
    /// closes, and the job works again once nothing is left open.
    pub async fn answer(
        &self,
        reference: &str,
        req: sidekick_protocol::AnswerRequest,
    ) -> Result<Job> {
        let dialogs = self.dialogs.clone();
        let reference = reference.to_string();
        crate::blocking(move || dialogs.answer(&reference, req)).await?
    }

    /// The warm worktrees of every repository with jobs, or of `repo`.
    pub fn pools(&self, repo: Option<&Path>) -> Result<Vec<sidekick_protocol::Pool>> {
        self.pools.list(repo)
    }

    /// A job's changes as a plain unified patch (`sidekick diff`).
    pub async fn patch(&self, reference: &str) -> Result<Vec<u8>> {
        self.reviews.patch(reference).await
    }

    /// A job's diff: its branch against its base (a live job's worktree as it is now).
    pub async fn diff(&self, reference: &str) -> Result<sidekick_protocol::Diff> {
        self.reviews.diff(reference).await
    }

    /// [`Engine::diff`] with at most `max_lines` diff lines (every file listed; those past the
    /// lines are marked truncated): what a viewer shows first while the rest comes.
    pub async fn diff_head(
        &self,
        reference: &str,
        max_lines: Option<usize>,
    ) -> Result<sidekick_protocol::Diff> {
        self.reviews.diff_head(reference, max_lines).await
    }

    /// Merges a job into its target (or previews it with `dry_run`).
    pub async fn merge(
        &self,
        reference: &str,
        req: sidekick_protocol::MergeRequest,
    ) -> Result<sidekick_protocol::MergeResult> {
        self.reviews.merge(reference, req).await
    }

    /// Reverts a job's last merge while its target has not moved since.
    pub async fn undo(
        &self,
        reference: &str,
        autostash: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.reviews.undo(reference, autostash).await
    }

    /// Replays the job's commits onto its target's tip (`abort`: undoes a stopped rebase).
    pub async fn rebase(
        &self,
        reference: &str,
        into: Option<String>,
        abort: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.reviews.rebase(reference, into, abort).await
    }

    /// Drops a job's changes, keeping a snapshot (`orphaned`: its repository is gone).
    pub async fn discard(
        &self,
        reference: &str,
        orphaned: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.reviews.discard(reference, orphaned).await
    }

    /// Brings back a discarded job, or the worktree of one cleaned up by gc.
    pub async fn restore(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        self.reviews.restore(reference).await
    }

    /// Removes the worktrees of merged, discarded and long-ended jobs, snapshots kept.
    pub async fn gc(&self, dry_run: bool) -> Result<sidekick_protocol::GcReport> {
        self.reviews.gc(dry_run).await
    }

    /// Stops every live job (they end `interrupted`, leftovers committed) and waits for their
    /// runners, at most `grace` plus a margin. Queued jobs stay queued for the next host.
    pub async fn shutdown(&self) {
        self.scheduler.shutting_down.store(true, Ordering::SeqCst);
        let ids: Vec<String> = lock(&self.scheduler.running).keys().cloned().collect();
        for id in &ids {
            let _ = self.scheduler.stop(id, StopReason::Shutdown);
        }
        let deadline = tokio::time::Instant::now() + self.scheduler.grace + Duration::from_secs(20);
        while !lock(&self.scheduler.running).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
