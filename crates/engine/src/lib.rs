//! Sidekick's engine: the job store, shadow worktrees and the agent runner. No HTTP, no GUI.
//!
//! The host owns one [`Engine`]. The database is the truth; the only state kept in memory is the
//! stop handle of each job that holds a live process.

pub(crate) mod automerge;
mod engine;
mod error;
pub(crate) mod ids;
pub(crate) mod jobs;
mod ledger;
pub mod notify;
mod output;
pub(crate) mod pool;
pub(crate) mod process;
mod runner;
pub(crate) mod sandbox;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use sidekick_protocol::format_duration;

pub use engine::{Engine, EngineOptions};
pub use error::{EngineError, Result};
pub(crate) use jobs::messages::StopReason;
pub(crate) use jobs::schedule::Scheduler;
pub use sidekick_config::McpConfig;
pub(crate) use sidekick_git as review;
pub use sidekick_git::Refusal;
/// The git work (repository, worktrees, diffs, merges, review operations) lives in its own
/// crate; these names keep the engine's paths short.
pub(crate) use sidekick_git::{copy, repo};
pub use sidekick_protocol::private;
pub use sidekick_protocol::Home;

/// The `[mcp]` settings of `home`'s config (for `sidekick mcp`, which reads them as the host
/// does); the config's own error sentence when it is invalid.
pub fn mcp_config(home: &Home) -> std::result::Result<McpConfig, String> {
    sidekick_config::Config::load(home.config_file())
        .map(|c| c.mcp)
        .map_err(|e| e.to_string())
}

/// For `sidekick doctor`: each agent profile of `home`'s config with whether it can run here.
pub fn agent_infos(home: &Home) -> std::result::Result<Vec<sidekick_protocol::AgentInfo>, String> {
    let config = sidekick_config::Config::load(home.config_file()).map_err(|e| e.to_string())?;
    Ok(config
        .profiles()
        .iter()
        .map(sidekick_agents::info)
        .collect())
}

/// One agent's answer to `doctor --online`: how long it took, or its own words; `None` where
/// nothing was asked (not installed, or a custom agent).
pub type OnlineOutcome = Option<std::result::Result<String, String>>;

/// For `sidekick doctor --online`: each agent profile's name and the outcome of asking it one
/// short question (see `sidekick_agents::online`).
pub fn agents_online(home: &Home) -> std::result::Result<Vec<(String, OnlineOutcome)>, String> {
    let config = sidekick_config::Config::load(home.config_file()).map_err(|e| e.to_string())?;
    let profiles: Vec<sidekick_agents::Profile> = config
        .profiles()
        .into_iter()
        .filter(|p| p.name != sidekick_agents::SHELL)
        .collect();
    // Each asked at the same time: the slowest answer is the wait.
    Ok(std::thread::scope(|s| {
        let asked: Vec<_> = profiles
            .iter()
            .map(|p| (p.name.clone(), s.spawn(|| sidekick_agents::online(p))))
            .collect();
        asked
            .into_iter()
            .map(|(name, h)| {
                let outcome = h
                    .join()
                    .unwrap_or_else(|_| Some(Err("the probe panicked".to_string())));
                (name, outcome)
            })
            .collect()
    }))
}

/// For `sidekick doctor`: whether bubblewrap can set up a job's sandbox here (the reason when not).
pub fn sandbox_available() -> std::result::Result<(), String> {
    sandbox::available()
}

/// For `sidekick doctor`: SQLite's own check of the database, opened read-only (`ok` when sound).
pub fn check_database(path: &Path) -> std::result::Result<String, String> {
    sidekick_store::database::quick_check(path).map_err(|e| e.to_string())
}

/// Open repositories unused this long are closed.
pub const REPO_IDLE: Duration = Duration::from_secs(10);

/// How often a rebase stopped at conflicts is looked at (a cheap stat until it changes).
pub(crate) const REBASE_LOOK: Duration = Duration::from_secs(1);

/// How long a stopped agent gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

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

/// Runs blocking work (git, SQLite, the file system) off the async executor; a task that
/// panicked is an internal error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks must not take the host down with it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
pub fn release_memory() {
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
