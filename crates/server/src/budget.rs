//! How many connections the host holds at once, and for whom: the user's own clients (the app,
//! the CLI, an agent outside any sandbox) and each job's sandbox have budgets of their own, so a
//! sandboxed job that opens a thousand connections closes only its own, and event streams (held
//! for as long as a client follows) cannot take every place a plain request needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Connections from the user's own processes at once.
pub const USER_CONNECTIONS: usize = 4096;
/// Event streams the user's processes may hold at once (each holds its connection).
pub const USER_STREAMS: usize = 512;
/// Event streams one process may hold at once (the app follows a few, a CLI one).
pub const PROCESS_STREAMS: usize = 64;
/// Connections from one job's sandbox at once (its agent, its MCP server, its tools).
pub const JOB_CONNECTIONS: usize = 32;
/// Connections from all sandboxes together.
pub const CONFINED_CONNECTIONS: usize = 512;
/// File descriptors the host keeps for itself besides connections (the database, logs,
/// agents' pipes, git).
const RESERVED_FDS: u64 = 512;

/// Who a connection counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Class {
    User,
    /// A job's sandbox (`None`: a confined peer whose job could not be found).
    Sandbox(Option<String>),
}

pub struct Budget {
    user: Arc<Semaphore>,
    streams: Arc<Semaphore>,
    confined: Arc<Semaphore>,
    per_job: Mutex<HashMap<Option<String>, usize>>,
    per_process: Mutex<HashMap<i32, usize>>,
    refused: Mutex<Refusals>,
}

/// Refused connections, told in the log at most once per [`Refusals::EVERY`].
#[derive(Default)]
struct Refusals {
    since_told: u64,
    told: Option<Instant>,
}

impl Refusals {
    const EVERY: Duration = Duration::from_secs(10);
}

/// A connection's place; given back when dropped.
pub struct Place {
    _permit: OwnedSemaphorePermit,
    job: Option<(Arc<Budget>, Option<String>)>,
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some((budget, job)) = self.job.take() {
            let mut per_job = lock(&budget.per_job);
            if let Some(n) = per_job.get_mut(&job) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_job.remove(&job);
                }
            }
        }
    }
}

/// An event stream's place; given back when dropped.
pub struct StreamPlace {
    _permit: OwnedSemaphorePermit,
    budget: Arc<Budget>,
    pid: i32,
}

impl Drop for StreamPlace {
    fn drop(&mut self) {
        let mut per_process = lock(&self.budget.per_process);
        if let Some(n) = per_process.get_mut(&self.pid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_process.remove(&self.pid);
            }
        }
    }
}

impl Budget {
    /// A budget whose user part fits in `fd_limit` open files.
    pub fn new(fd_limit: u64) -> Arc<Budget> {
        let room = fd_limit.saturating_sub(RESERVED_FDS + CONFINED_CONNECTIONS as u64) as usize;
        let user = USER_CONNECTIONS.min(room.max(64));
        Arc::new(Budget {
            user: Arc::new(Semaphore::new(user)),
            streams: Arc::new(Semaphore::new(USER_STREAMS.min(user / 2))),
            confined: Arc::new(Semaphore::new(CONFINED_CONNECTIONS)),
            per_job: Mutex::new(HashMap::new()),
            per_process: Mutex::new(HashMap::new()),
            refused: Mutex::new(Refusals::default()),
        })
    }

    /// A place for a connection of `class`, or `None` when its budget is spent (the refusal is
    /// logged, at most once every ten seconds with the count).
    pub fn admit(self: &Arc<Budget>, class: &Class) -> Option<Place> {
        let place = match class {
            Class::User => self.user.clone().try_acquire_owned().ok().map(|p| Place {
                _permit: p,
                job: None,
            }),
            Class::Sandbox(job) => {
                let mut per_job = lock(&self.per_job);
                let used = per_job.get(job).copied().unwrap_or(0);
                if used >= JOB_CONNECTIONS {
                    None
                } else {
                    self.confined.clone().try_acquire_owned().ok().map(|p| {
                        per_job.insert(job.clone(), used + 1);
                        Place {
                            _permit: p,
                            job: Some((self.clone(), job.clone())),
                        }
                    })
                }
            }
        };
        if place.is_none() {
            self.tell_refused(class);
        }
        place
    }

    /// A place for an event stream of the user's process `pid`, or `None` when that process or
    /// all of the user's hold as many as allowed. (A sandbox's streams count against its
    /// connections.)
    pub fn stream(self: &Arc<Budget>, pid: i32) -> Option<StreamPlace> {
        let mut per_process = lock(&self.per_process);
        let used = per_process.get(&pid).copied().unwrap_or(0);
        if used >= PROCESS_STREAMS {
            return None;
        }
        let permit = self.streams.clone().try_acquire_owned().ok()?;
        per_process.insert(pid, used + 1);
        Some(StreamPlace {
            _permit: permit,
            budget: self.clone(),
            pid,
        })
    }

    fn tell_refused(&self, class: &Class) {
        let mut r = lock(&self.refused);
        r.since_told += 1;
        if r.told.is_none_or(|t| t.elapsed() >= Refusals::EVERY) {
            let whose = match class {
                Class::User => "the user's processes".to_string(),
                Class::Sandbox(Some(job)) => format!("the sandbox of job {job}"),
                Class::Sandbox(None) => "a sandbox of no known job".to_string(),
            };
            tracing::warn!(
                refused = r.since_told,
                "too many connections from {whose}; closing new ones"
            );
            r.since_told = 0;
            r.told = Some(Instant::now());
        }
    }
}

/// Raises this process's soft limit of open files to its hard limit (at most 65,536), so the
/// budgets above are not cut short by a desktop's default of 1,024. Returns the limit in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024;
    };
    let want = hard.min(65_536).max(soft);
    if want > soft && setrlimit(Resource::RLIMIT_NOFILE, want, hard).is_ok() {
        return want;
    }
    soft
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_spends_only_its_own_budget() {
        let budget = Budget::new(100_000);
        let job = Class::Sandbox(Some("j1".into()));
        let held: Vec<Place> = (0..JOB_CONNECTIONS)
            .map(|_| budget.admit(&job).expect("a place"))
            .collect();
        assert!(budget.admit(&job).is_none(), "the job's budget is spent");
        // Another job and the user still get in.
        let other = budget.admit(&Class::Sandbox(Some("j2".into())));
        assert!(other.is_some());
        assert!(budget.admit(&Class::User).is_some());
        drop(held);
        let again = budget.admit(&job);
        assert!(again.is_some(), "places come back");
        assert_eq!(lock(&budget.per_job).get(&Some("j1".to_string())), Some(&1));
        drop((again, other));
        assert!(lock(&budget.per_job).is_empty(), "nothing is left counted");
    }

    #[test]
    fn the_user_budget_fits_the_file_limit_and_streams_leave_room_for_requests() {
        let budget = Budget::new(1024 + RESERVED_FDS + CONFINED_CONNECTIONS as u64);
        let one: Vec<_> = std::iter::from_fn(|| budget.stream(7))
            .take(10_000)
            .collect();
        assert_eq!(one.len(), PROCESS_STREAMS, "one process holds its share");
        let mut pid = 100;
        let all: Vec<_> = std::iter::from_fn(|| {
            pid += 1;
            budget.stream(pid)
        })
        .take(10_000)
        .collect();
        assert_eq!(one.len() + all.len(), 512);
        drop(one);
        assert!(budget.stream(7).is_some(), "places come back");
        let users: Vec<_> = std::iter::from_fn(|| budget.admit(&Class::User))
            .take(10_000)
            .collect();
        assert_eq!(users.len(), 1024);
    }
}
