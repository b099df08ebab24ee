//! Sidekick's engine: the job store, shadow worktrees and the agent runner. No HTTP, no GUI.
//!
//! The host owns one [`Engine`]. The database is the truth; the only state kept in memory is the
//! stop handle of each job that holds a live process.

pub mod agents;
pub mod config;
pub mod copy;
pub mod ids;
pub mod jobs;
pub mod notify;
mod output;
pub mod parse;
pub mod private;
pub mod process;
pub mod repo;
pub mod review;
mod runner;
pub mod store;
pub mod tasks;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sidekick_protocol::{
    format_duration, AgentInfo, ApiError, ErrorCode, Event, EventBody, Job, JobState, Level,
    SpawnRequest,
};
use tokio::sync::{broadcast, watch};

pub use output::{LineSplitter, Piece, MAX_LINE};
pub use sidekick_protocol::Home;

use config::{Config, ConfigError, RepoConfig};
use repo::RepoError;
use store::{JobRecord, NewEvent, Store, StoreError};

/// Open repositories unused this long are closed.
pub const REPO_IDLE: Duration = Duration::from_secs(10);

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

/// The size of the home's reserve file (see `Inner::keep_reserve`).
const RESERVE_BYTES: usize = 4 << 20;

/// How long a stopped agent gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Task(#[from] tasks::TaskError),
    #[error("unknown agent '{name}'; the agents are: {known}")]
    UnknownAgent { name: String, known: String },
    #[error("no job matches '{0}'")]
    UnknownJob(String),
    #[error("'{reference}' matches several jobs ({candidates}); give more of the id")]
    AmbiguousJob {
        reference: String,
        candidates: String,
    },
    #[error("{0}")]
    InvalidState(String),
    #[error(transparent)]
    Transition(#[from] jobs::IllegalTransition),
    /// A review operation refused, nothing changed; the kind tells a client the way out.
    #[error("{1}")]
    Refused(Refusal, String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the host is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The edge shape: a stable code and the sentence.
    pub fn to_api(&self) -> ApiError {
        let code = match self {
            EngineError::Repo(r) => match r {
                RepoError::Missing(_) => ErrorCode::PathNotFound,
                RepoError::NotAFolder(_) | RepoError::NotARepo(_) => ErrorCode::NotARepo,
                RepoError::Bare(_) => ErrorCode::BareRepo,
                RepoError::Empty(_) => ErrorCode::EmptyRepo,
                RepoError::BadBase { .. } => ErrorCode::BadBase,
                RepoError::Git { .. } | RepoError::Spawn(_) => ErrorCode::Git,
                RepoError::Io(_) => ErrorCode::Io,
            },
            EngineError::Config(_) => ErrorCode::Config,
            EngineError::Task(tasks::TaskError::Unknown { .. }) => ErrorCode::UnknownTaskType,
            EngineError::Task(_) => ErrorCode::BadRequest,
            EngineError::Store(_) => ErrorCode::Internal,
            EngineError::UnknownAgent { .. } => ErrorCode::UnknownAgent,
            EngineError::UnknownJob(_) => ErrorCode::UnknownJob,
            EngineError::AmbiguousJob { .. } => ErrorCode::AmbiguousJob,
            EngineError::InvalidState(_) | EngineError::Transition(_) => ErrorCode::InvalidState,
            EngineError::Refused(r, _) => r.code(),
            EngineError::BadRequest(_) => ErrorCode::BadRequest,
            EngineError::ShuttingDown => ErrorCode::ShuttingDown,
            EngineError::Io(_) => ErrorCode::Io,
            EngineError::Internal(_) => ErrorCode::Internal,
        };
        ApiError::new(code, self.to_string())
    }
}

/// Why a review operation refused (each has its own [`ErrorCode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Conflict,
    DirtyOverlap,
    TargetMoved,
    LockHeld,
    OperationInProgress,
    NothingToUndo,
    RepoGone,
    HookFailed,
}

impl Refusal {
    pub fn code(self) -> ErrorCode {
        match self {
            Refusal::Conflict => ErrorCode::Conflict,
            Refusal::DirtyOverlap => ErrorCode::DirtyOverlap,
            Refusal::TargetMoved => ErrorCode::TargetMoved,
            Refusal::LockHeld => ErrorCode::LockHeld,
            Refusal::OperationInProgress => ErrorCode::OperationInProgress,
            Refusal::NothingToUndo => ErrorCode::NothingToUndo,
            Refusal::RepoGone => ErrorCode::RepoGone,
            Refusal::HookFailed => ErrorCode::HookFailed,
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// Wall-clock time, passed in so tests can control it.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Why the engine stops a live job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    Cancel,
    ParentEnded(String),
    Shutdown,
    /// The agent reached the job's `max_steps`.
    StepCap(u64),
    /// Writing the job's output hit a full disk (what, where).
    DiskFull(String),
    /// The agent used the job's whole token budget.
    TokenBudget {
        used: u64,
        budget: u64,
    },
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    home: Home,
    clock: Arc<dyn Clock>,
    ids: ids::IdSource,
    /// Writes (and the broadcast that follows each, so subscribers see `seq` order).
    db: Mutex<Store>,
    /// Reads for listings and event streams, beside the writer (WAL).
    reader: Mutex<Store>,
    events: broadcast::Sender<Event>,
    /// Stop handles of jobs with a runner task.
    running: Mutex<HashMap<String, watch::Sender<Option<StopReason>>>>,
    /// Serialises scheduling, spawning and cancelling of queued jobs.
    sched: Mutex<()>,
    shutting_down: AtomicBool,
    grace: Duration,
    /// One review operation (merge, undo, rebase, discard, restore, gc) at a time.
    review: Mutex<()>,
    /// Repositories kept open between requests.
    repos: review::Repos,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks must not take the host down with it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        // Live subscribers that fall further behind than this catch up from the database.
        let (events, _) = broadcast::channel(1024);
        Ok(Engine {
            inner: Arc::new(Inner {
                home,
                clock: options.clock,
                ids: ids::IdSource::default(),
                db: Mutex::new(db),
                reader: Mutex::new(reader),
                events,
                running: Mutex::new(HashMap::new()),
                sched: Mutex::new(()),
                shutting_down: AtomicBool::new(false),
                grace: options.grace,
                review: Mutex::new(()),
                repos: review::Repos::default(),
            }),
        })
    }

    pub fn home(&self) -> &Home {
        &self.inner.home
    }

    /// Marks jobs that were live when the previous host died as `interrupted`: stops their
    /// leftover processes, commits what they left in their worktrees and unlocks them.
    /// Returns the ids it interrupted.
    /// Also finishes or rolls back merges the previous host left half done (see
    /// [`review::journal`]), telling each job's log what happened.
    pub async fn recover(&self) -> Result<Vec<String>> {
        let ids = runner::recover(&self.inner).await?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.repair_merges())
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(ids)
    }

    /// Starts queued jobs up to the limit, and the housekeeping that keeps an idle host small.
    pub fn start(&self) {
        self.inner.keep_reserve();
        self.inner.schedule();
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPO_IDLE / 2).await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.repos.close_idle(REPO_IDLE) > 0 {
                    release_memory();
                }
                // Jobs that could not start (a full disk) start once there is room again.
                inner.keep_reserve();
                inner.schedule();
            }
        });
    }

    /// Validates a request and queues the job; it starts as soon as a slot is free.
    pub async fn spawn(&self, req: SpawnRequest) -> Result<Job> {
        tracing::debug!(repo = %req.repo, "spawn requested");
        let inner = self.inner.clone();
        let rec = tokio::task::spawn_blocking(move || inner.create_job(req))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        self.inner.schedule();
        self.job(&rec.job.id)
    }

    /// One job by id, unique id prefix or codename.
    pub fn job(&self, reference: &str) -> Result<Job> {
        let rec = self.inner.resolve(reference)?;
        Ok(self.inner.decorate(rec.job))
    }

    /// Jobs, newest first. Without `all`, jobs already merged or discarded are left out.
    pub fn jobs(&self, all: bool) -> Result<Vec<Job>> {
        let recs = {
            let db = lock(&self.inner.reader);
            if all {
                db.jobs(None)?
            } else {
                let states: Vec<JobState> = JobState::ALL
                    .into_iter()
                    .filter(|s| !matches!(s, JobState::Merged | JobState::Discarded))
                    .collect();
                db.jobs(Some(&states))?
            }
        };
        let mut queued: Vec<&str> = recs
            .iter()
            .filter(|r| r.job.state == JobState::Queued)
            .map(|r| r.job.id.as_str())
            .collect();
        queued.sort_unstable();
        let positions: HashMap<String, u32> = queued
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), i as u32 + 1))
            .collect();
        let now = self.inner.now();
        Ok(recs
            .into_iter()
            .map(|r| {
                let mut job = r.job;
                job.queue_position = positions.get(&job.id).copied();
                job.duration_ms = duration(&job, now);
                job
            })
            .collect())
    }

    /// Stops a queued or live job. A queued job ends at once; a live one is asked to stop and
    /// ends as `cancelled` after its leftovers are committed (watch its events to see when).
    pub fn cancel(&self, reference: &str) -> Result<Job> {
        let rec = self.inner.resolve(reference)?;
        self.inner.stop(&rec.job.id, StopReason::Cancel)?;
        self.job(&rec.job.id)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Stored events after `since`, oldest first.
    pub fn events_after(
        &self,
        since: u64,
        job_id: Option<&str>,
        include_output: bool,
        limit: usize,
    ) -> Result<Vec<Event>> {
        Ok(lock(&self.inner.reader).events_after(since, job_id, include_output, limit)?)
    }

    pub fn last_seq(&self) -> Result<u64> {
        Ok(lock(&self.inner.reader).last_seq()?)
    }

    /// A job's changes: base..head once it has ended; while it runs, its worktree as it is now.
    pub async fn diff(&self, reference: &str) -> Result<sidekick_protocol::Diff> {
        let mut rec = self.inner.resolve(reference)?;
        review::ops::ensure_repo_there(&rec.job)?;
        if rec.job.state.has_ended()
            && !matches!(rec.job.state, JobState::Merged | JobState::Discarded)
        {
            // Follow the branch: the user may have committed in the worktree or finished a
            // rebase. Reading the tip is cheap; only a moved tip is recorded (a job event).
            let branch_ref = format!("refs/heads/{}", rec.job.branch);
            let tip = self.inner.repos.with(Path::new(&rec.job.repo), true, |r| {
                Ok(r.refname_to_id(&branch_ref).ok().map(|o| o.to_string()))
            })?;
            if tip.is_some() && tip != rec.job.head_commit {
                let job = self
                    .inner
                    .review_op(reference, true, |r| {
                        review::ops::refresh_head(r)?;
                        Ok(r.job.clone())
                    })
                    .await?;
                rec.job = job;
            }
        }
        let limits = Config::load(self.inner.home.config_file())?.diff;
        let job = rec.job;
        let worktree = PathBuf::from(&job.worktree);
        let t = std::time::Instant::now();
        let inner = self.inner.clone();
        let diff = tokio::task::spawn_blocking(move || {
            let empty = || sidekick_protocol::Diff {
                base: job.base_commit.clone(),
                head: job.head_commit.clone(),
                ..Default::default()
            };
            let diff = if job.state.is_live() {
                if rec.has_worktree || worktree.join(".git").exists() {
                    review::diff::diff_worktree(&worktree, &job.base_commit, &limits)?
                } else {
                    empty()
                }
            } else {
                match &job.head_commit {
                    Some(head) => inner.repos.with(Path::new(&job.repo), true, |r| {
                        review::diff::diff_commits_in(r, &job.base_commit, head, &limits)
                    })?,
                    None => empty(),
                }
            };
            Ok(diff)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "diff computed");
        release_memory();
        diff
    }

    /// Merges a job into its target (or previews it with `dry_run`).
    pub async fn merge(
        &self,
        reference: &str,
        req: sidekick_protocol::MergeRequest,
    ) -> Result<sidekick_protocol::MergeResult> {
        let dry_run = req.dry_run;
        let hooks = Config::load(self.inner.home.config_file())?.merge_hooks;
        let inner = self.inner.clone();
        let result = self
            .inner
            .review_op(reference, !dry_run, move |rec| {
                let ctx = review::ops::Ctx {
                    hooks,
                    ..inner.ctx()
                };
                review::ops::merge(rec, &req, &ctx)
            })
            .await?;
        release_memory();
        Ok(sidekick_protocol::MergeResult {
            job: if dry_run {
                self.inner.decorate(result.job)
            } else {
                self.job(&result.job.id)?
            },
            ..result
        })
    }

    /// Reverts a job's last merge while its target has not moved since.
    pub async fn undo(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        let inner = self.inner.clone();
        self.action(reference, move |rec| review::ops::undo(rec, &inner.ctx()))
            .await
    }

    /// Replays the job's commits onto its target's tip, in its worktree.
    pub async fn rebase(
        &self,
        reference: &str,
        into: Option<String>,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.action(reference, move |rec| {
            review::ops::rebase(rec, into.as_deref())
        })
        .await
    }

    /// Drops a job's changes, keeping a snapshot. `orphaned`: the job's repository is gone, so
    /// the job is forgotten and its folder deleted (no snapshot is possible).
    pub async fn discard(
        &self,
        reference: &str,
        orphaned: bool,
    ) -> Result<sidekick_protocol::ActionResult> {
        let inner = self.inner.clone();
        self.action(reference, move |rec| {
            if orphaned {
                review::ops::discard_orphaned(rec, &inner.trash())
            } else {
                review::ops::discard(rec, &inner.ctx())
            }
        })
        .await
    }

    /// Brings back a discarded job, or the worktree of one cleaned up by gc.
    pub async fn restore(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        self.action(reference, review::ops::restore).await
    }

    async fn action(
        &self,
        reference: &str,
        op: impl FnOnce(&mut JobRecord) -> Result<String> + Send + 'static,
    ) -> Result<sidekick_protocol::ActionResult> {
        let message = self.inner.review_op(reference, true, op).await?;
        let rec = self.inner.resolve(reference)?;
        Ok(sidekick_protocol::ActionResult {
            job: self.inner.decorate(rec.job),
            message,
        })
    }

    /// Removes the worktrees of merged and discarded jobs and of jobs that ended longer ago
    /// than `gc_after`, each saved to its snapshot ref first.
    pub async fn gc(&self, dry_run: bool) -> Result<sidekick_protocol::GcReport> {
        let config = Config::load(self.inner.home.config_file())?;
        let cutoff = self.inner.now().saturating_sub(config.gc_after_ms);
        let candidates: Vec<JobRecord> = lock(&self.inner.reader)
            .jobs(None)?
            .into_iter()
            .filter(|r| {
                r.has_worktree
                    && r.job.state.has_ended()
                    && (matches!(r.job.state, JobState::Merged | JobState::Discarded)
                        || r.job.ended_at.is_some_and(|t| t <= cutoff))
            })
            .collect();
        let mut report = sidekick_protocol::GcReport {
            dry_run,
            ..Default::default()
        };
        for rec in candidates {
            let bytes = review::ops::folder_size(Path::new(&rec.job.worktree));
            if review::ops::repo_is_gone(&rec.job) {
                // Nothing can be snapshotted without the repository: the user decides
                // (`sidekick discard --orphaned`).
                report.orphaned.push(sidekick_protocol::GcItem {
                    job_id: rec.job.id.clone(),
                    codename: rec.job.codename.clone(),
                    worktree: rec.job.worktree.clone(),
                    bytes,
                    snapshot: None,
                });
                continue;
            }
            let snapshot = if dry_run {
                None
            } else {
                let inner = self.inner.clone();
                let id = rec.job.id.clone();
                let trash = self.inner.trash();
                match inner
                    .review_op(&id, true, move |rec| {
                        review::ops::retire(rec, false, false, &trash)
                    })
                    .await
                {
                    Ok(s) => Some(review::ops::snapshot_ref(&rec.job.id) + " " + &s),
                    Err(e) => {
                        tracing::warn!(job = %rec.job.id, error = %e, "gc could not clean up a job");
                        continue;
                    }
                }
            };
            report.freed_bytes += bytes;
            report.removed.push(sidekick_protocol::GcItem {
                job_id: rec.job.id.clone(),
                codename: rec.job.codename.clone(),
                worktree: rec.job.worktree.clone(),
                bytes,
                snapshot,
            });
        }
        Ok(report)
    }

    /// Checks a folder the way `spawn` would and lists its branches (the app's repo picker).
    pub async fn repo_info(&self, path: PathBuf) -> Result<sidekick_protocol::RepoInfo> {
        let info = tokio::task::spawn_blocking(move || repo::describe(&path))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))??;
        Ok(info)
    }

    /// The repository's task types (`.sidekick/tasks/*/task.toml`), broken ones with why.
    pub async fn tasks(&self, repo: PathBuf) -> Result<Vec<sidekick_protocol::TaskTypeInfo>> {
        let list = tokio::task::spawn_blocking(move || -> Result<_> {
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
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
        Ok(list)
    }

    /// The host-wide configuration as the file says now.
    pub fn config(&self) -> Result<Config> {
        Ok(Config::load(self.inner.home.config_file())?)
    }

    /// Tells `notifier` about jobs that end, per the `[notifications]` policy. Call it before
    /// [`Engine::recover`] so jobs the previous host left behind are told about too.
    pub fn notify_with(&self, notifier: std::sync::Arc<dyn notify::Notifier>) {
        tokio::spawn(notify::watch(self.clone(), notifier));
    }

    /// The agent profiles, each with whether it can run here.
    /// Asking each installed agent for `--version` starts processes and waits for them, so it
    /// runs off the async executor.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>> {
        let config = Config::load(self.inner.home.config_file())?;
        let infos = tokio::task::spawn_blocking(move || {
            agents::profiles(&config)
                .iter()
                .map(agents::info)
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(infos)
    }

    /// Stops every live job (they end `interrupted`, leftovers committed) and waits for their
    /// runners, at most `grace` plus a margin. Queued jobs stay queued for the next host.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let ids: Vec<String> = lock(&self.inner.running).keys().cloned().collect();
        for id in &ids {
            let _ = self.inner.stop(id, StopReason::Shutdown);
        }
        let deadline = tokio::time::Instant::now() + self.inner.grace + Duration::from_secs(20);
        while !lock(&self.inner.running).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn duration(job: &Job, now: u64) -> Option<u64> {
    let start = job.started_at?;
    Some(job.ended_at.unwrap_or(now).saturating_sub(start))
}

impl Inner {
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn decorate(&self, mut job: Job) -> Job {
        job.duration_ms = duration(&job, self.now());
        if job.state == JobState::Queued {
            let db = lock(&self.reader);
            if let Ok(queued) = db.jobs(Some(&[JobState::Queued])) {
                job.queue_position = queued
                    .iter()
                    .filter(|r| r.job.id <= job.id)
                    .count()
                    .try_into()
                    .ok();
            }
        }
        job
    }

    /// Writes the job and appends its snapshot (plus `extra`) to the event log.
    pub(crate) fn save(&self, rec: &JobRecord, extra: Vec<NewEvent>) -> Result<()> {
        let snapshot = self.decorate(rec.job.clone());
        let mut events = vec![NewEvent {
            job_id: rec.job.id.clone(),
            time: self.now(),
            body: EventBody::Job {
                job: Box::new(snapshot),
            },
        }];
        events.extend(extra);
        let mut db = lock(&self.db);
        // The ledger's second check: what is stored may have moved on since `rec` was read.
        if let Some(stored) = db.job_state(&rec.job.id)? {
            jobs::ledger::check(&rec.job.codename, stored, rec.job.state)?;
        }
        db.update_job(rec)?;
        self.append_and_broadcast(&mut db, events)
    }

    pub(crate) fn append_events(&self, events: Vec<NewEvent>) -> Result<()> {
        self.append_and_broadcast(&mut lock(&self.db), events)
    }

    /// Appends and then broadcasts while the writer is still held, so live order is `seq` order.
    fn append_and_broadcast(&self, db: &mut Store, events: Vec<NewEvent>) -> Result<()> {
        for ev in db.append(events)? {
            let _ = self.events.send(ev);
        }
        Ok(())
    }

    /// Records what the agent reported and holds it to the job's budgets: a warning at 80 % of
    /// the token budget, a stop at 100 % or at the step cap. `tell`: also send the job as an
    /// event (the output sink does so at most once a second; a budget warning always goes).
    pub(crate) fn agent_progress(&self, job_id: &str, p: &output::Progress, tell: bool) {
        let saved = (|| -> Result<JobRecord> {
            let mut db = lock(&self.db);
            let mut rec = db
                .job(job_id)?
                .ok_or_else(|| EngineError::UnknownJob(job_id.to_string()))?;
            let warned_before = rec
                .job
                .token_budget
                .is_some_and(|b| rec.job.tokens.total().saturating_mul(5) >= b.saturating_mul(4));
            p.apply(&mut rec);
            db.update_job(&rec)?;
            let mut events = Vec::new();
            if tell {
                events.push(NewEvent {
                    job_id: job_id.to_string(),
                    time: self.now(),
                    body: EventBody::Job {
                        job: Box::new(self.decorate(rec.job.clone())),
                    },
                });
            }
            if let Some(budget) = rec.job.token_budget {
                let used = rec.job.tokens.total();
                if !warned_before
                    && used.saturating_mul(5) >= budget.saturating_mul(4)
                    && used < budget
                {
                    events.push(NewEvent {
                        job_id: job_id.to_string(),
                        time: self.now(),
                        body: EventBody::Notice {
                            level: Level::Warn,
                            message: format!(
                                "the agent has used {used} of its {budget}-token budget (80 %)"
                            ),
                        },
                    });
                }
            }
            self.append_and_broadcast(&mut db, events)?;
            Ok(rec)
        })();
        let rec = match saved {
            Ok(rec) => rec,
            Err(e) => {
                tracing::error!(job = job_id, error = %e, "cannot record the agent's progress");
                return;
            }
        };
        if !rec.job.state.is_live() {
            return;
        }
        if let Some(cap) = rec.job.max_steps {
            if rec.job.steps >= cap {
                let _ = self.stop(job_id, StopReason::StepCap(cap));
            }
        }
        if let Some(budget) = rec.job.token_budget {
            let used = rec.job.tokens.total();
            if used >= budget {
                let _ = self.stop(job_id, StopReason::TokenBudget { used, budget });
            }
        }
    }

    pub(crate) fn notice(&self, job_id: &str, level: Level, message: impl Into<String>) {
        let ev = NewEvent {
            job_id: job_id.into(),
            time: self.now(),
            body: EventBody::Notice {
                level,
                message: message.into(),
            },
        };
        if let Err(e) = self.append_events(vec![ev]) {
            tracing::error!(job = job_id, error = %e, "cannot store a notice");
        }
    }

    pub(crate) fn load(&self, id: &str) -> Result<JobRecord> {
        lock(&self.db)
            .job(id)?
            .ok_or_else(|| EngineError::UnknownJob(id.to_string()))
    }

    /// Finds a job by id, unique id prefix or codename.
    fn resolve(&self, reference: &str) -> Result<JobRecord> {
        let r = reference.trim().to_ascii_lowercase();
        if r.is_empty() {
            return Err(EngineError::BadRequest("no job given".into()));
        }
        let db = lock(&self.reader);
        if let Some(rec) = db.job(&r)? {
            return Ok(rec);
        }
        let by_prefix = db.ids_with_prefix(&r, 6)?;
        let id = match by_prefix.len() {
            1 => by_prefix[0].clone(),
            0 => {
                let by_name = db.ids_with_codename(&r)?;
                by_name
                    .first()
                    .cloned()
                    .ok_or_else(|| EngineError::UnknownJob(reference.to_string()))?
            }
            _ => {
                return Err(EngineError::AmbiguousJob {
                    reference: reference.to_string(),
                    candidates: by_prefix.join(", "),
                })
            }
        };
        db.job(&id)?
            .ok_or_else(|| EngineError::UnknownJob(reference.to_string()))
    }

    fn create_job(&self, req: SpawnRequest) -> Result<JobRecord> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let repo_path = PathBuf::from(&req.repo);
        if !repo_path.is_absolute() {
            return Err(EngineError::BadRequest(format!(
                "the repository path '{}' must be absolute",
                req.repo
            )));
        }
        let config = Config::load(self.home.config_file())?;
        // A follow-up starts where the job it continues ended, and merges back where it would.
        let continued = match &req.continue_from {
            Some(r) => {
                let prev = self.resolve(r)?;
                if !prev.job.state.has_ended() {
                    return Err(EngineError::InvalidState(format!(
                        "job {} is still {}; continue it once it has ended",
                        prev.job.codename, prev.job.state
                    )));
                }
                if req.base.is_some() {
                    return Err(EngineError::BadRequest(
                        "a follow-up starts from the job it continues; leave out the base".into(),
                    ));
                }
                Some(prev)
            }
            None => None,
        };
        let base_rev = match &continued {
            Some(prev) => prev
                .job
                .head_commit
                .clone()
                .unwrap_or_else(|| prev.job.base_commit.clone()),
            None => req.base.clone().unwrap_or_else(|| "HEAD".into()),
        };
        let mut base = repo::resolve(&repo_path, &base_rev)?;
        if let Some(prev) = &continued {
            if base.workdir.display().to_string() != prev.job.repo {
                return Err(EngineError::BadRequest(format!(
                    "job {} belongs to {}, not {}",
                    prev.job.codename,
                    prev.job.repo,
                    base.workdir.display()
                )));
            }
            base.branch = prev.job.base_branch.clone();
        }
        let context = self.context_text(&req, continued.as_ref())?;
        let repo_config = RepoConfig::load(&base.workdir)?;
        // A task type supplies the task text and its defaults.
        let task_type = match &req.task_type {
            Some(name) => Some(tasks::load(&base.workdir, name)?),
            None => None,
        };
        let rendered = match &task_type {
            Some(t) => t.render(&req.inputs)?,
            None if !req.inputs.is_empty() => {
                return Err(EngineError::BadRequest(
                    "inputs are given but no task type".into(),
                ))
            }
            None => tasks::Rendered {
                text: req.task.clone(),
                command: None,
                env: Vec::new(),
            },
        };
        let task = rendered.text.clone();
        if task.trim().is_empty() {
            return Err(EngineError::BadRequest("the task is empty".into()));
        }
        let agent = req
            .agent
            .clone()
            .or_else(|| task_type.as_ref().map(|t| t.agent.clone()))
            .or_else(|| repo_config.agent.clone())
            .unwrap_or_else(|| agents::SHELL.into());
        let profile = agents::find(&config, &agent).ok_or_else(|| EngineError::UnknownAgent {
            name: agent.clone(),
            known: agents::profiles(&config)
                .into_iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let parent_id = match &req.parent {
            Some(p) => {
                let parent = self.resolve(p)?;
                if parent.job.state.has_ended() {
                    return Err(EngineError::InvalidState(format!(
                        "parent job {} has already ended ({})",
                        parent.job.codename, parent.job.state
                    )));
                }
                Some(parent.job.id)
            }
            None => None,
        };
        if req.timeout_ms == Some(0) {
            return Err(EngineError::BadRequest(
                "a timeout of zero is not allowed".into(),
            ));
        }
        let timeout_ms = req
            .timeout_ms
            .or(task_type.as_ref().and_then(|t| t.timeout_ms))
            .or(profile.timeout_ms)
            .unwrap_or(config.default_timeout_ms);
        // Budgets: the job's own, else its task type's, its profile's, the config's.
        let max_steps = req
            .max_steps
            .or(task_type.as_ref().and_then(|t| t.max_steps))
            .or(profile.max_steps)
            .or(config.max_steps);
        let token_budget = req
            .token_budget
            .or(task_type.as_ref().and_then(|t| t.token_budget))
            .or(profile.token_budget)
            .or(config.token_budget);

        let _guard = lock(&self.sched);
        let id = self.ids.next();
        let group = repo::worktree_group(&self.home.worktrees(), &base.workdir);
        let codename = {
            let db = lock(&self.reader);
            let taken = |name: &str| {
                db.codename_taken(name).unwrap_or(true)
                    || group.join(name).exists()
                    || repo::branch_exists(&base.workdir, &format!("sidekick/{name}"))
                        .unwrap_or(true)
            };
            ids::pick_codename(ids::random_bits(), &taken)
        };
        let worktree = group.join(&codename);
        let log_path = self.home.logs().join(format!("{id}.log"));
        let mut env: Vec<(String, String)> = Vec::new();
        // A task type's command runs with its inputs in variables, never in its text.
        let mut prompt = match rendered.command.filter(|_| profile.name == agents::SHELL) {
            Some(command) => {
                env.extend(rendered.env);
                command
            }
            None => task.clone(),
        };
        // The context as a file for every agent, and first in the prompt of those that take one.
        if let Some(text) = &context {
            let dir = self.home.root().join("contexts");
            private::dir(&dir)?;
            let file = dir.join(format!("{id}.md"));
            private::write(&file, text)?;
            env.push(("SIDEKICK_CONTEXT_FILE".into(), path_string(&file)));
            if profile.name != agents::SHELL {
                prompt = format!("<sidekick-context>\n{text}\n</sidekick-context>\n\n{task}");
            }
        }
        env.extend([
            ("SIDEKICK_JOB_ID".to_string(), id.clone()),
            (
                "SIDEKICK_PARENT_JOB_ID".to_string(),
                parent_id.clone().unwrap_or_default(),
            ),
            ("SIDEKICK_WORKTREE".to_string(), path_string(&worktree)),
            ("SIDEKICK_REPO".to_string(), path_string(&base.workdir)),
        ]);
        let rec = JobRecord {
            job: Job {
                id: id.clone(),
                codename: codename.clone(),
                state: jobs::ledger::BORN,
                agent: profile.name.clone(),
                task: task.clone(),
                repo: path_string(&base.workdir),
                branch: format!("sidekick/{codename}"),
                worktree: path_string(&worktree),
                base_rev,
                base_commit: base.commit,
                base_branch: base.branch,
                head_commit: None,
                exit_code: None,
                reason: None,
                parent_id,
                timeout_ms,
                created_at: self.now(),
                started_at: None,
                ended_at: None,
                duration_ms: None,
                queue_position: None,
                files_changed: None,
                insertions: None,
                deletions: None,
                log_path: path_string(&log_path),
                merged_into: None,
                merge_commit: None,
                snapshot: None,
                conflicts: Vec::new(),
                notify: req.notify,
                steps: 0,
                tokens: Default::default(),
                cost_usd: None,
                summary: None,
                capped: false,
                max_steps,
                token_budget,
            },
            // A follow-up of the same agent resumes its session where the agent can.
            argv: continued
                .as_ref()
                .filter(|prev| prev.job.agent == profile.name)
                .and_then(|prev| prev.session.as_deref())
                .and_then(|session| profile.resume_argv(&prompt, session))
                .unwrap_or_else(|| profile.argv(&prompt)),
            env,
            setup: repo_config.setup,
            copy_files: repo_config.copy,
            process: None,
            has_worktree: false,
            merge: None,
            prev_state: None,
            format: profile.format,
            session: None,
        };
        lock(&self.db).insert_job(&rec)?;
        self.save(&rec, Vec::new())?;
        tracing::info!(job = %id, codename = %codename, agent = %agent, "job queued");
        Ok(rec)
    }

    /// The context a request asks for (`None`: the task only).
    fn context_text(
        &self,
        req: &SpawnRequest,
        continued: Option<&JobRecord>,
    ) -> Result<Option<String>> {
        use sidekick_protocol::ContextMode;
        let from = match &req.context_from {
            Some(r) => Some(self.resolve(r)?),
            None => None,
        };
        let has_source = req.context_file.is_some() || from.is_some() || continued.is_some();
        match (req.context, has_source) {
            (Some(ContextMode::TaskOnly), true) => {
                return Err(EngineError::BadRequest(
                    "--context task_only takes no context file or job".into(),
                ))
            }
            (Some(ContextMode::Full), false) => {
                return Err(EngineError::BadRequest(
                    "--context full needs --context-file FILE or --context-from JOB".into(),
                ))
            }
            (_, false) => return Ok(None),
            _ => {}
        }
        let mut parts = Vec::new();
        for job in continued.into_iter().chain(from.as_ref()) {
            parts.push(self.job_context(job));
        }
        if let Some(path) = &req.context_file {
            let p = PathBuf::from(path);
            if !p.is_absolute() {
                return Err(EngineError::BadRequest(format!(
                    "the context file '{path}' must be an absolute path"
                )));
            }
            let text = std::fs::read_to_string(&p).map_err(|e| {
                EngineError::BadRequest(format!("cannot read the context file {path}: {e}"))
            })?;
            parts.push(format!("## From {path}\n\n{}", text.trim_end()));
        }
        Ok(Some(format!("# Context\n\n{}\n", parts.join("\n\n"))))
    }

    /// A job as context: its task, summary and the stat of its changes.
    fn job_context(&self, rec: &JobRecord) -> String {
        let j = &rec.job;
        let mut out = format!(
            "## Job {} ({}), {}\n\nTask:\n{}\n",
            j.codename,
            j.id,
            j.state,
            j.task.trim_end()
        );
        if let Some(s) = &j.summary {
            out.push_str(&format!("\nSummary:\n{}\n", s.trim_end()));
        }
        if let Some(head) = &j.head_commit {
            let mut cmd = repo::git(Path::new(&j.repo));
            cmd.args(["diff", "--stat", "--no-color", &j.base_commit, head]);
            if let Ok(stat) = repo::run(cmd, "diff --stat") {
                if !stat.trim().is_empty() {
                    out.push_str(&format!("\nChanges:\n{}\n", stat.trim_end()));
                }
            }
        }
        out
    }

    /// Starts queued jobs, oldest first, while fewer than `max_running` are live.
    pub(crate) fn schedule(self: &Arc<Self>) {
        if self.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        let max = match Config::load(self.home.config_file()) {
            Ok(c) => c.max_running,
            Err(e) => {
                tracing::warn!(error = %e, "config unreadable; using the default max_running");
                config::DEFAULT_MAX_RUNNING
            }
        };
        let _guard = lock(&self.sched);
        let (live, mut queued) = {
            let db = lock(&self.reader);
            let live = db
                .jobs(Some(&[
                    JobState::Starting,
                    JobState::Running,
                    JobState::Stopping,
                ]))
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            let queued = db.jobs(Some(&[JobState::Queued])).unwrap_or_default();
            (live, queued)
        };
        queued.reverse(); // oldest first
        for mut rec in queued.into_iter().take(max.saturating_sub(live)) {
            let (tx, rx) = watch::channel(None);
            lock(&self.running).insert(rec.job.id.clone(), tx);
            if let Err(e) = jobs::ledger::move_to(&mut rec, JobState::Starting) {
                tracing::error!(job = %rec.job.id, error = %e, "cannot start job");
                lock(&self.running).remove(&rec.job.id);
                continue;
            }
            rec.job.started_at = Some(self.now());
            if let Err(e) = self.save(&rec, Vec::new()) {
                tracing::error!(job = %rec.job.id, error = %e, "cannot start job");
                lock(&self.running).remove(&rec.job.id);
                continue;
            }
            tokio::spawn(runner::run(self.clone(), rec, rx));
        }
    }

    /// Asks a job to stop. A queued job is cancelled on the spot.
    fn stop(&self, id: &str, reason: StopReason) -> Result<()> {
        let _guard = lock(&self.sched);
        let mut rec = self.load(id)?;
        match rec.job.state {
            JobState::Queued => {
                jobs::ledger::move_to(&mut rec, JobState::Cancelled)?;
                rec.job.ended_at = Some(self.now());
                rec.job.reason = Some(match &reason {
                    StopReason::ParentEnded(p) => {
                        format!("its parent job {p} ended before it started")
                    }
                    _ => "cancelled before it started".into(),
                });
                self.save(&rec, Vec::new())?;
                drop(_guard);
                self.end_children(&rec);
                Ok(())
            }
            s if s.is_live() => {
                let running = lock(&self.running);
                match running.get(id) {
                    Some(tx) => {
                        // The first reason wins: a timeout already under way stays a timeout.
                        tx.send_if_modified(|cur| {
                            if cur.is_none() {
                                *cur = Some(reason);
                                true
                            } else {
                                false
                            }
                        });
                        Ok(())
                    }
                    None => Err(EngineError::Internal(format!(
                        "job {} is {} but has no runner",
                        rec.job.codename, rec.job.state
                    ))),
                }
            }
            s => Err(EngineError::InvalidState(format!(
                "job {} has already ended ({s})",
                rec.job.codename
            ))),
        }
    }

    /// Ending a parent ends its children that are still queued or live.
    pub(crate) fn end_children(&self, parent: &JobRecord) {
        let children = lock(&self.reader)
            .children(&parent.job.id)
            .unwrap_or_default();
        for child in children {
            let active = self
                .load(&child)
                .map(|c| c.job.state.is_active())
                .unwrap_or(false);
            if active {
                let reason = StopReason::ParentEnded(parent.job.codename.clone());
                if let Err(e) = self.stop(&child, reason) {
                    tracing::warn!(job = %child, error = %e, "cannot stop child job");
                }
            }
        }
    }

    /// Runs a review operation on a job off the async executor, one at a time; saves the job
    /// when the operation succeeds and `save` is set.
    async fn review_op<T: Send + 'static>(
        self: &Arc<Self>,
        reference: &str,
        save: bool,
        op: impl FnOnce(&mut JobRecord) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let id = self.resolve(reference)?.job.id;
        let inner = self.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = lock(&inner.review);
            // Read again under the lock: another operation may have just changed the job.
            let mut rec = inner.load(&id)?;
            let out = op(&mut rec)?;
            if save {
                inner.save(&rec, Vec::new())?;
            }
            Ok(out)
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Space set aside in the home: when a job's output fills the disk, this file is deleted
    /// so the job's end (its commit, its final state) can still be written.
    fn reserve(&self) -> PathBuf {
        self.home.root().join("reserve")
    }

    /// Makes sure the reserve exists (written, not sparse, so the space is really held).
    pub(crate) fn keep_reserve(&self) {
        let path = self.reserve();
        if path.exists() {
            return;
        }
        let made = private::write(&path, vec![0u8; RESERVE_BYTES]);
        if made.is_err() {
            let _ = std::fs::remove_file(&path);
        }
    }

    /// A job's output hit a full disk: frees the reserve and stops the job with `what`.
    pub(crate) fn disk_full(&self, job_id: &str, what: String) {
        tracing::error!(job = %job_id, what = %what, "disk full");
        let _ = std::fs::remove_file(self.reserve());
        let _ = self.stop(job_id, StopReason::DiskFull(what));
    }

    /// See [`Engine::recover`]. A merge whose branch had moved records the job as merged;
    /// its worktree is left for `gc`.
    fn repair_merges(&self) {
        let _guard = lock(&self.review);
        let dir = self.ctx().journal;
        for entry in review::journal::pending(&dir) {
            let r = review::journal::repair(&dir, &entry);
            tracing::warn!(job = %r.job_id, done = r.done, message = %r.message, "an interrupted merge");
            self.notice(
                &r.job_id,
                if r.done { Level::Warn } else { Level::Error },
                r.message.clone(),
            );
            let Some(strategy) = entry.merge_strategy.filter(|_| r.completed) else {
                continue;
            };
            let Ok(mut rec) = self.load(&r.job_id) else {
                continue;
            };
            if rec.job.state.has_ended()
                && rec.job.state != JobState::Merged
                && jobs::ledger::retire_to(&mut rec, JobState::Merged).is_ok()
            {
                let target = entry
                    .target_ref
                    .trim_start_matches("refs/heads/")
                    .to_string();
                rec.job.merged_into = Some(target.clone());
                rec.job.merge_commit = Some(entry.to_commit.clone());
                rec.merge = Some(store::MergeRecord {
                    target,
                    previous_tip: entry.from_commit.clone(),
                    commit: entry.to_commit.clone(),
                    strategy,
                    paths: Vec::new(),
                });
                if let Err(e) = self.save(&rec, Vec::new()) {
                    tracing::error!(job = %r.job_id, error = %e, "cannot record a merge finished by recovery");
                }
            }
        }
    }

    /// Where removed worktrees wait to be deleted in the background.
    fn trash(&self) -> PathBuf {
        self.home.root().join("trash")
    }

    /// What review operations borrow from the host.
    fn ctx(&self) -> review::ops::Ctx<'_> {
        review::ops::Ctx {
            trash: self.trash(),
            journal: self.home.root().join("journal"),
            repos: &self.repos,
            hooks: false,
        }
    }

    pub(crate) fn grace(&self) -> Duration {
        self.grace
    }
}

/// Caps glibc at two malloc arenas for this process. A host runs many short blocking tasks on
/// many threads; with an arena per thread, freed memory stays scattered and the idle host grows.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called once at start-up.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// A flood of output or a large diff leaves freed heap behind in glibc's arenas; give it back
/// to the system so an idle host stays small.
pub(crate) fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// "ran longer than its 30m00s timeout" style helper for reasons.
pub(crate) fn human(ms: u64) -> String {
    format_duration(ms)
}

#[cfg(test)]
mod tests;
