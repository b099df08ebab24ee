//! How the engine runs inside the host: blocking work off the executor, locks that survive a
//! panic, the allocator kept small, and the host's timings.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use sidekick_protocol::format_duration;

use crate::{EngineError, Result};

/// Open repositories unused this long are closed.
pub const REPO_IDLE: Duration = Duration::from_secs(10);

/// How often a rebase stopped at conflicts is looked at (a cheap stat until it changes).
pub(crate) const REBASE_LOOK: Duration = Duration::from_secs(1);

/// How long a stopped agent gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

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

pub(crate) fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// "ran longer than its 30m00s timeout" style helper for reasons.
pub(crate) fn human(ms: u64) -> String {
    format_duration(ms)
}
