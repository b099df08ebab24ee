//! The app's line to the host: a mirror of the job list kept current from the event stream.
//!
//! On connect the bridge reads the host's newest event number, loads every job, then follows
//! events after that number. When the stream breaks (the host stopped or crashed) it connects
//! again, starting a host if none runs, and resumes after the last event it applied, so the
//! mirror misses nothing. The UI gets the mirror with `jobs_snapshot` and each change as a
//! `job` event; the tray shows the counts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use sidekick_client::{Client, EventQuery};
use sidekick_protocol::{ApiError, Counts, EventBody, Home, Job};
use tauri::{AppHandle, Emitter};

/// Shared by the commands, the follower task and the tray.
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

struct Inner {
    home: Home,
    host_exe: PathBuf,
    mirror: Mutex<Mirror>,
}

#[derive(Default)]
struct Mirror {
    /// The last event applied.
    seq: u64,
    loaded: bool,
    jobs: HashMap<String, Job>,
    host: HostState,
}

impl Mirror {
    /// Applies one event; the change to tell the UI about, if any. Events at or before the
    /// mirror's number are already in it (a resumed stream can repeat the boundary).
    fn apply(&mut self, seq: u64, body: EventBody) -> Option<JobChange> {
        if seq <= self.seq {
            return None;
        }
        self.seq = seq;
        match body {
            EventBody::Job { job } => {
                self.jobs.insert(job.id.clone(), (*job).clone());
                Some(JobChange { seq, job: *job })
            }
            _ => None,
        }
    }
}

/// Whether the app can reach the host, for an honest banner in the UI.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HostState {
    #[default]
    Connecting,
    Connected {
        version: String,
        pid: u32,
        home: String,
    },
    /// The host went away; the bridge is starting or waiting for a new one.
    Lost { message: String },
}

/// What `jobs_snapshot` returns: the whole mirror at one event number.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Snapshot {
    pub seq: u64,
    pub loaded: bool,
    #[cfg_attr(test, ts(type = "Array<Job>"))]
    pub jobs: Vec<Job>,
    pub host: HostState,
}

/// One change, as the `job` event carries it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct JobChange {
    pub seq: u64,
    #[cfg_attr(test, ts(type = "Job"))]
    pub job: Job,
}

impl Bridge {
    pub fn new(host_exe: PathBuf) -> Bridge {
        Bridge {
            inner: Arc::new(Inner {
                home: Home::from_env(),
                host_exe,
                mirror: Mutex::new(Mirror::default()),
            }),
        }
    }

    /// A client for the host, starting one if none answers.
    /// The Sidekick home the app works with (its config file, its socket).
    pub fn home(&self) -> &Home {
        &self.inner.home
    }

    pub async fn client(&self) -> Result<Client, ApiError> {
        Client::connect_or_start(&self.inner.home, &self.inner.host_exe)
            .await
            .map_err(|e| e.to_api())
    }

    pub fn snapshot(&self) -> Snapshot {
        let m = self.mirror();
        let mut jobs: Vec<Job> = m.jobs.values().cloned().collect();
        jobs.sort_by(|a, b| b.id.cmp(&a.id));
        Snapshot {
            seq: m.seq,
            loaded: m.loaded,
            jobs,
            host: m.host.clone(),
        }
    }

    pub fn counts(&self) -> Counts {
        Counts::of(self.mirror().jobs.values())
    }

    fn mirror(&self) -> MutexGuard<'_, Mirror> {
        // A panic while holding the lock cannot leave the mirror half-written in a way that
        // matters: every write replaces whole jobs.
        self.inner.mirror.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_host(&self, app: &AppHandle, host: HostState) {
        let changed = {
            let mut m = self.mirror();
            let changed = m.host != host;
            m.host = host.clone();
            changed
        };
        if changed {
            let _ = app.emit("host", host);
        }
    }

    /// Loads the whole list (first connect, or a host whose event log is behind ours).
    async fn reload(&self, app: &AppHandle, client: &Client) -> Result<(), ApiError> {
        let health = client.health().await.map_err(|e| e.to_api())?;
        let jobs = client.jobs(true).await.map_err(|e| e.to_api())?;
        {
            let mut m = self.mirror();
            m.seq = health.last_seq;
            m.jobs = jobs.into_iter().map(|j| (j.id.clone(), j)).collect();
            m.loaded = true;
        }
        let _ = app.emit("jobs-reset", self.snapshot());
        Ok(())
    }

    /// Follows the host's events for as long as the app runs.
    async fn follow(self, app: AppHandle) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.follow_once(&app).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!("host connection: {}", e.message);
                    self.set_host(&app, HostState::Lost { message: e.message });
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// One connection: connect (or start a host), catch up, apply live events until it breaks.
    async fn follow_once(&self, app: &AppHandle) -> Result<(), ApiError> {
        let client = self.client().await?;
        let health = client.health().await.map_err(|e| e.to_api())?;
        let (loaded, seq) = {
            let m = self.mirror();
            (m.loaded, m.seq)
        };
        // A host with a fresh database has fewer events than we saw: start over.
        if !loaded || health.last_seq < seq {
            self.reload(app, &client).await?;
        }
        let since = self.mirror().seq;
        let query = EventQuery {
            since,
            job: None,
            output: false,
            follow: true,
        };
        let mut stream = client.events(&query).await.map_err(|e| e.to_api())?;
        self.set_host(
            app,
            HostState::Connected {
                version: health.version,
                pid: health.pid,
                home: health.home,
            },
        );
        loop {
            match stream.next().await {
                Ok(Some(ev)) => self.apply(app, ev.seq, ev.body),
                Ok(None) => break,
                Err(e) => {
                    tracing::info!("event stream ended: {e}");
                    break;
                }
            }
        }
        self.set_host(
            app,
            HostState::Lost {
                message: "The Sidekick host stopped; reconnecting.".into(),
            },
        );
        Ok(())
    }

    fn apply(&self, app: &AppHandle, seq: u64, body: EventBody) {
        let before = self.counts();
        let change = self.mirror().apply(seq, body);
        if let Some(change) = change {
            let _ = app.emit("job", change);
            let after = self.counts();
            if after != before {
                crate::tray::update(app, after);
            }
        }
    }
}

/// Starts following the host in the background.
pub fn start(app: AppHandle, bridge: Bridge) {
    tauri::async_runtime::spawn(bridge.follow(app));
}

/// The `sidekick` program that runs the host: `SIDEKICK_BIN`, else next to this executable,
/// else `sidekick` on PATH.
pub fn host_exe() -> PathBuf {
    sidekick_protocol::sibling_program("SIDEKICK_BIN", "sidekick")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidekick_protocol::JobState;

    fn job(id: &str, state: JobState) -> Job {
        let json = serde_json::json!({
            "id": id, "codename": id, "state": state, "agent": "shell", "task": "t",
            "repo": "/r", "branch": "b", "worktree": "/w", "base_rev": "HEAD",
            "base_commit": "c", "base_branch": null, "head_commit": null, "exit_code": null,
            "reason": null, "parent_id": null, "timeout_ms": 1, "created_at": 1,
            "started_at": null, "ended_at": null, "duration_ms": null, "queue_position": null,
            "files_changed": null, "insertions": null, "deletions": null, "log_path": "/l"
        });
        serde_json::from_value(json).expect("a job")
    }

    #[test]
    fn the_mirror_applies_each_event_once_and_in_order() {
        let mut m = Mirror::default();
        let ev = |state| EventBody::Job {
            job: Box::new(job("a", state)),
        };
        assert!(m.apply(5, ev(JobState::Running)).is_some());
        assert!(
            m.apply(5, ev(JobState::Queued)).is_none(),
            "a repeated event"
        );
        assert!(m.apply(3, ev(JobState::Queued)).is_none(), "an older event");
        assert_eq!(m.jobs["a"].state, JobState::Running);
        let out = EventBody::Output {
            stream: sidekick_protocol::Stream::Stdout,
            line: "x".into(),
            partial: false,
        };
        assert!(m.apply(6, out).is_none(), "output is not a job change");
        let change = m.apply(7, ev(JobState::Completed)).expect("a change");
        assert_eq!((change.seq, change.job.state), (7, JobState::Completed));
        assert_eq!((m.seq, m.jobs["a"].state), (7, JobState::Completed));
    }
}
