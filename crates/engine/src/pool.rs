//! Warm worktrees per repository (`sidekick_git::warm`): a job's runner claims one instead of
//! checking its files out, and the pool is refilled in the background afterwards, one refill per
//! repository at a time, at low CPU and I/O priority, after the job's own worktree is ready.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sidekick_git::warm;
use sidekick_git::watch::Watch;

use sidekick_protocol::Home;

use crate::ledger::Ledger;
use crate::lock;
use sidekick_config::{Config, RepoConfig};

/// The pools' owner: which repositories are being refilled, one claim at a time (two jobs
/// starting together must not take the same warm worktree), and the warm worktrees checked in
/// the background whose watch vouches for them until claimed.
pub(crate) struct Pools {
    home: Home,
    ledger: Arc<Ledger>,
    /// The host is shutting down: no refill starts or goes on.
    stopping: Arc<AtomicBool>,
    refilling: Mutex<HashSet<PathBuf>>,
    claims: Mutex<()>,
    checked: Mutex<HashMap<PathBuf, Watch>>,
    /// Ended jobs' worktrees found to be exactly their last commit, watched since (by job
    /// id): a merge need not look for edits to save first.
    settled: Mutex<HashMap<String, Watch>>,
    /// Repositories whose setup failed ahead of time, with the [`warm::setup_key`] it failed
    /// for: not tried again in warm worktrees until the command or a lockfile changes.
    setup_failed: Mutex<HashMap<PathBuf, String>>,
}

/// At most this many ended jobs' worktrees are watched (the newest; a watch costs a kernel
/// watch per folder).
const SETTLED_MAX: usize = 32;

impl Pools {
    pub(crate) fn new(ledger: Arc<Ledger>, home: Home, stopping: Arc<AtomicBool>) -> Pools {
        Pools {
            home,
            ledger,
            stopping,
            refilling: Default::default(),
            claims: Default::default(),
            checked: Default::default(),
            settled: Default::default(),
            setup_failed: Default::default(),
        }
    }
}

/// How many warm worktrees `repo` keeps: its own config's `warm_worktrees`, else the host's.
fn wanted(config: &Config, repo: &Path) -> usize {
    let own = RepoConfig::load(repo).ok().and_then(|c| c.warm_worktrees);
    own.unwrap_or(config.warm_worktrees).min(8) as usize
}

impl Pools {
    /// Turns one of `repo`'s warm worktrees into the job's worktree at `dest` (a new `branch`
    /// at `commit`, locked with `reason`); false when there is none it could use (each one it
    /// could not use is thrown away), and the caller checks the files out as usual.
    pub(crate) fn claim_warm(
        &self,
        repo: &Path,
        dest: &Path,
        branch: &str,
        commit: &str,
        reason: &str,
    ) -> Option<warm::Claimed> {
        let group = dest.parent()?;
        let _one_at_a_time = lock(&self.claims);
        // A pool set to nothing (`warm_worktrees = 0`, for the host or this repository) is
        // emptied, not used.
        if Config::load(self.home.config_file()).is_ok_and(|c| wanted(&c, repo) == 0) {
            for w in warm::list(group) {
                warm::discard(repo, &w.path);
            }
            return None;
        }
        let refilling = lock(&self.refilling).contains(repo);
        for w in warm::list(group) {
            if w.commit.is_none() {
                // Being made right now, or left half made by a refill that died.
                if !refilling {
                    warm::discard(repo, &w.path);
                }
                continue;
            }
            let checked = lock(&self.checked).remove(&w.path);
            match warm::claim(repo, &w, checked, dest, branch, commit, reason) {
                Ok(claimed) => return Some(claimed),
                Err(why) => tracing::info!(
                    warm = %w.path.display(),
                    why,
                    "a warm worktree could not be used; thrown away"
                ),
            }
        }
        None
    }

    /// Brings `repo`'s pool (in `group`) up to its size in the background, checked out at
    /// `commit` (the base the last job started from).
    pub(crate) fn refill_warm(self: &Arc<Self>, repo: PathBuf, group: PathBuf, commit: String) {
        let want = match Config::load(self.home.config_file()) {
            Ok(c) => wanted(&c, &repo),
            Err(_) => return,
        };
        if want == 0 || !lock(&self.refilling).insert(repo.clone()) {
            return;
        }
        let inner = self.clone();
        let key = repo.clone();
        let spawned = std::thread::Builder::new()
            .name("sidekick-warm".into())
            .spawn(move || {
                inner.refill_now(&repo, &group, &commit, want);
                lock(&inner.refilling).remove(&repo);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start refilling warm worktrees");
            lock(&self.refilling).remove(&key);
        }
    }

    /// Checks one complete warm worktree and keeps its watch; false when it is no longer in the
    /// pool (not as made, so thrown away; or claimed meanwhile). Something touching it during the check
    /// (a job's git work in the same repository, a backup tool) gets it checked again a little
    /// later; it stays usable either way, a claim then checks it in full.
    fn check_warm(&self, repo: &Path, group: &Path, w: &warm::Warm) -> bool {
        for pause_ms in [0, 100, 400, 1600] {
            std::thread::sleep(std::time::Duration::from_millis(pause_ms));
            if self.stopping.load(Ordering::SeqCst) {
                return true;
            }
            match warm::check(w) {
                Ok(Some(watch)) => {
                    lock(&self.checked).insert(w.path.clone(), watch);
                    return true;
                }
                Ok(None) => continue,
                Err(why) => {
                    let _claims = lock(&self.claims);
                    if warm::list(group).contains(w) {
                        tracing::info!(warm = %w.path.display(), why, "a warm worktree is not as made; thrown away");
                        warm::discard(repo, &w.path);
                    }
                    // Else a claim took it meanwhile: no longer in the pool either way.
                    return false;
                }
            }
        }
        tracing::debug!(warm = %w.path.display(), "a warm worktree kept changing while checked; left to its claim");
        true
    }

    fn refill_now(&self, repo: &Path, group: &Path, commit: &str, want: usize) {
        // Bounded: worktrees that keep failing their check after being made (a setup that
        // leaves something running in them) are not made again and again.
        let mut made = 0;
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let pool = {
                let _claims = lock(&self.claims);
                let pool = warm::list(group);
                // Half made by a refill that died: this refill is the only one for `repo`.
                for w in pool.iter().filter(|w| w.commit.is_none()) {
                    warm::discard(repo, &w.path);
                }
                pool
            };
            // Each complete one is checked once, in the background, and watched from then on
            // (also those an earlier host made), so a claim need not check it again.
            let mut ready = 0;
            for w in pool.iter().filter(|w| w.commit.is_some()) {
                if lock(&self.checked).contains_key(&w.path) || self.check_warm(repo, group, w) {
                    ready += 1;
                }
            }
            lock(&self.checked)
                .retain(|p, _| !p.starts_with(group) || pool.iter().any(|w| &w.path == p));
            if ready >= want {
                return;
            }
            if made > want * 2 {
                tracing::warn!(repo = %repo.display(), made, "warm worktrees made in this refill did not stay as made; the pool waits for the next job");
                return;
            }
            made += 1;
            let started = std::time::Instant::now();
            let made = warm::make(
                repo,
                group,
                &self.ledger.ids.next(),
                commit,
                |dest, admin| self.set_up_ahead(repo, dest, admin, commit),
            );
            match made {
                Ok(path) => tracing::debug!(
                    warm = %path.display(),
                    ms = started.elapsed().as_millis() as u64,
                    "warm worktree ready"
                ),
                Err(e) => {
                    tracing::warn!(repo = %repo.display(), error = %e, "cannot make a warm worktree");
                    return;
                }
            }
        }
    }
}

impl Pools {
    /// `setup_cache`: runs the repository's setup in a new warm worktree (`dest`) before it
    /// joins the pool, as a job would: only when the repository's configuration is trusted, in
    /// the sandbox the host's settings give, at low priority, its output in the worktree's admin
    /// folder. Unlike a job's setup it runs without the `copy` files (they would make the
    /// worktree differ from its commit; they are copied when a job takes it), a job's variables
    /// or an agent's.
    /// `Ok(None)`: nothing to run ahead of time. `Err`: the setup failed or left files git does
    /// not ignore (the worktree is thrown away, and this setup is not tried again until its
    /// command or a lockfile changes).
    fn set_up_ahead(
        &self,
        repo: &Path,
        dest: &Path,
        admin: &Path,
        commit: &str,
    ) -> Result<Option<warm::Prepared>, String> {
        let Ok(seen) = sidekick_config::trust::Seen::read(repo) else {
            return Ok(None);
        };
        let trusted =
            sidekick_config::trust::Store::load(&self.home).and_then(|store| seen.check(&store));
        let (Some(setup), false, Ok(())) = (
            seen.config.setup.as_deref(),
            seen.config.setup_cache.is_empty(),
            trusted,
        ) else {
            return Ok(None);
        };
        let key = warm::setup_key(repo, commit, setup, &seen.config.setup_cache)
            .map_err(|e| e.to_string())?;
        if lock(&self.setup_failed).get(repo) == Some(&key) {
            return Ok(None);
        }
        let config = Config::load(self.home.config_file()).map_err(|e| e.to_string())?;
        let ran = self.run_setup_ahead(repo, dest, admin, setup, &config);
        match ran {
            Ok(sandboxed) => Ok(Some(warm::Prepared { key, sandboxed })),
            Err(why) => {
                tracing::warn!(repo = %repo.display(), why, "the setup run ahead of time in a warm worktree failed; jobs run it themselves");
                lock(&self.setup_failed).insert(repo.to_path_buf(), key);
                Err(why)
            }
        }
    }

    /// Runs `setup` in `dest`; whether it ran in a sandbox.
    fn run_setup_ahead(
        &self,
        repo: &Path,
        dest: &Path,
        admin: &Path,
        setup: &str,
        config: &Config,
    ) -> Result<bool, String> {
        use std::os::unix::process::CommandExt;
        let mode = config.sandbox.mode.unwrap_or_default();
        let decided = crate::sandbox::decide(mode, config, |network| {
            crate::sandbox::command(&crate::sandbox::Layout {
                home: &self.home,
                repo,
                worktree: dest,
                branch: None,
                env: &[],
                program: "sh",
                write: &[],
                hide: &config.sandbox.hide,
                network,
            })
        })?;
        let log = std::fs::File::create(admin.join(warm::SETUP_LOG)).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = match decided.prefix.split_first() {
            Some((bwrap, args)) => {
                let mut c = std::process::Command::new(bwrap);
                c.args(args).arg("sh");
                c
            }
            None => std::process::Command::new("sh"),
        };
        for name in crate::pulls::TOKEN_VARIABLES {
            cmd.env_remove(name);
        }
        cmd.arg("-c")
            .arg(setup)
            .current_dir(dest)
            .env("SIDEKICK_WARM_SETUP", "1")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        let mut child = sidekick_git::repo::low_priority(cmd)
            .spawn()
            .map_err(|e| format!("cannot run the setup command: {e}"))?;
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_millis(config.default_timeout_ms);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for the setup command: {e}")),
            }
            if self.stopping.load(Ordering::SeqCst) || std::time::Instant::now() > deadline {
                // Its own group (`process_group(0)`): the group id is its pid.
                crate::process::signal_group(child.id() as i32, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(
                    "the setup command was stopped (the host stopped, or it ran past the timeout)"
                        .into(),
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        if !status.success() {
            return Err(format!(
                "the setup command `{setup}` {}; its output is in {}",
                crate::process::describe_exit(status),
                admin.join(warm::SETUP_LOG).display()
            ));
        }
        // Its results must be files git ignores: anything else would make the worktree differ
        // from its commit, and a job's branch would start with it.
        let left = sidekick_git::repo::status_porcelain(dest).map_err(|e| e.to_string())?;
        if let Some(first) = left.lines().next() {
            return Err(format!(
                "the setup command left files git does not ignore ({}); setup_cache needs its results ignored",
                first.get(3..).unwrap_or(first)
            ));
        }
        Ok(decided.status.on)
    }
}

impl Pools {
    /// Checks in the background that an ended job's worktree is exactly its last commit, and
    /// watches it from then on (see [`Pools::settled`]).
    pub(crate) fn watch_settled(self: &Arc<Self>, job_id: String, worktree: PathBuf) {
        let inner = self.clone();
        let spawned = std::thread::Builder::new()
            .name("sidekick-settled".into())
            .spawn(move || {
                let Some(watch) = sidekick_git::watch::settled(&worktree) else {
                    lock(&inner.settled).remove(&job_id);
                    return;
                };
                let mut map = lock(&inner.settled);
                map.retain(|_, w| w.untouched());
                while map.len() >= SETTLED_MAX {
                    // Job ids are ULIDs: the smallest is the oldest.
                    match map.keys().min().cloned() {
                        Some(oldest) => map.remove(&oldest),
                        None => break,
                    };
                }
                map.insert(job_id, watch);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start watching a job's worktree");
        }
    }

    /// True when the job's worktree is known to be exactly its last commit: checked after the
    /// job ended and untouched since.
    pub(crate) fn settled(&self, job_id: &str) -> bool {
        let mut map = lock(&self.settled);
        let quiet = map.get(job_id).is_some_and(Watch::untouched);
        if !quiet {
            map.remove(job_id);
        }
        quiet
    }
}

/// A week: a repository without a job for this long keeps no warm worktrees (`sidekick gc`).
const IDLE_MS: u64 = 7 * 24 * 3600 * 1000;

impl Pools {
    /// The warm worktrees of every repository with jobs, or of `repo`.
    pub(crate) fn list(&self, repo: Option<&Path>) -> crate::Result<Vec<sidekick_protocol::Pool>> {
        let config = Config::load(self.home.config_file())?;
        let repos = self.job_repos()?;
        let root = self.home.worktrees();
        Ok(repos
            .into_iter()
            .map(|(r, _)| r)
            .filter(|r| repo.is_none_or(|want| want == r.as_path()))
            .map(|r| {
                let group = sidekick_git::repo::worktree_group(&root, &r);
                sidekick_protocol::Pool {
                    wanted: wanted(&config, &r) as u32,
                    worktrees: warm::list(&group)
                        .into_iter()
                        .map(|w| sidekick_protocol::WarmWorktree {
                            bytes: sidekick_git::ops::folder_size(&w.path),
                            watched: lock(&self.checked)
                                .get(&w.path)
                                .is_some_and(Watch::untouched),
                            set_up: warm::is_set_up(&w),
                            path: w.path.display().to_string(),
                            commit: w.commit,
                        })
                        .collect(),
                    repo: r.display().to_string(),
                }
            })
            .collect())
    }

    /// Each repository that has jobs, with its newest job's creation time.
    fn job_repos(&self) -> crate::Result<Vec<(PathBuf, u64)>> {
        let mut newest: std::collections::BTreeMap<PathBuf, u64> = Default::default();
        for rec in lock(&self.ledger.reader).jobs(None)? {
            let at = newest.entry(PathBuf::from(&rec.job.repo)).or_default();
            *at = (*at).max(rec.job.created_at);
        }
        Ok(newest.into_iter().collect())
    }

    /// Removes the warm worktrees of repositories without a job for a week, or gone; returns
    /// their paths and bytes (`dry_run`: only says so).
    pub(crate) fn trim(&self, dry_run: bool) -> crate::Result<(Vec<String>, u64)> {
        let cutoff = self.ledger.now().saturating_sub(IDLE_MS);
        let root = self.home.worktrees();
        let (mut removed, mut bytes) = (Vec::new(), 0);
        for (repo, newest) in self.job_repos()? {
            let gone = !repo.join(".git").exists();
            if newest > cutoff && !gone {
                continue;
            }
            let group = sidekick_git::repo::worktree_group(&root, &repo);
            let _claims = lock(&self.claims);
            for w in warm::list(&group) {
                bytes += sidekick_git::ops::folder_size(&w.path);
                removed.push(w.path.display().to_string());
                if dry_run {
                    continue;
                }
                if gone {
                    // Nothing to unregister it from: the folder goes.
                    let _ = std::fs::remove_dir_all(&w.path);
                } else {
                    warm::discard(&repo, &w.path);
                }
            }
        }
        Ok((removed, bytes))
    }
}
