//! The sandbox a job's processes run in (Linux: bubblewrap).
//!
//! `sandbox = "worktree"`: the job's setup command and agent, and everything they start, see the
//! whole file system read-only, with these exceptions:
//!
//! - writable: the job's worktree; in the repository's git folder the worktree's own admin folder
//!   (index, HEAD, logs, a private object store for new objects; not the files that tie it to the
//!   repository) and the job's branch (see `sidekick_git::confine`); the repository's object
//!   store stays read-only; a private `/tmp`;
//!   the state folders the agent's profile names and common package caches;
//! - hidden: Sidekick's own folder (database, logs, other jobs' worktrees) and config (API keys),
//!   except the host's socket and the job's context file (read-only); `~/.ssh`, `~/.gnupg`,
//!   `~/.aws` and what `sandbox_hide` lists.
//!
//! It runs in its own pid, IPC and UTS namespaces with no capabilities; with
//! `sandbox_network = false` also without network. `auto` runs unconfined where bubblewrap cannot
//! set a sandbox up, and says so; `worktree` fails the job instead.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sidekick_git::confine::{self, WorktreeGit};
use sidekick_protocol::{Home, Sandbox, SandboxMode};

use sidekick_agents::{Profile, SANDBOX_CACHES};
use sidekick_config::Config;
use sidekick_store::JobRecord;

/// Always hidden from a sandboxed job (besides `sandbox_hide`).
pub const SECRETS: &[&str] = &["~/.ssh", "~/.gnupg", "~/.aws"];

/// Sockets of services that run what they are asked outside any sandbox.
const SOCKETS: &[&str] = &[
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
    "/run/containerd/containerd.sock",
];

/// Variables naming agents and buses outside the sandbox (their sockets are hidden anyway).
const UNSET: &[&str] = &[
    "DBUS_SESSION_BUS_ADDRESS",
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
    "DOCKER_HOST",
];

/// The bubblewrap program: `SIDEKICK_BWRAP` when set, else `bwrap` on PATH.
pub fn program() -> PathBuf {
    std::env::var_os("SIDEKICK_BWRAP")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("bwrap"))
}

/// What a job asked for: its own setting, else its agent's, else the host's, else `auto`.
pub fn mode(rec: &JobRecord, profile: Option<&Profile>, config: &Config) -> SandboxMode {
    rec.sandbox
        .or(profile.and_then(|p| p.sandbox))
        .or(config.sandbox.mode)
        .unwrap_or_default()
}

/// The programs that were found to set up a sandbox (checked once per host and program).
static WORKS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether bubblewrap can set up a sandbox on this machine; the reason in one phrase when not.
/// A success is remembered; a failure is checked again next time (the user may install it).
pub fn available() -> Result<(), String> {
    let bwrap = program();
    if crate::lock(&WORKS).contains(&bwrap) {
        return Ok(());
    }
    let out = std::process::Command::new(&bwrap)
        .args(base_args(true))
        .arg("true")
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            crate::lock(&WORKS).push(bwrap);
            Ok(())
        }
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!(
                "bubblewrap cannot set up a sandbox here ({})",
                if line.is_empty() {
                    "it failed without a message".to_string()
                } else {
                    line.trim().to_string()
                }
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("bubblewrap ({}) is not installed", bwrap.display()))
        }
        Err(e) => Err(format!("cannot run bubblewrap ({}): {e}", bwrap.display())),
    }
}

/// The namespaces and the read-only root every sandbox starts from.
fn base_args(network: bool) -> Vec<OsString> {
    let mut a: Vec<OsString> = [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    if !network {
        a.push("--unshare-net".into());
    }
    a
}

/// Everything a job's sandbox is made of.
pub struct Layout<'a> {
    pub home: &'a Home,
    pub repo: &'a Path,
    pub worktree: &'a Path,
    /// The job's branch, which its processes may commit on; `None` for a process that writes
    /// no git state at all (a warm worktree's setup run ahead of time).
    pub branch: Option<&'a str>,
    /// The job's variables (its profile's and Sidekick's): `$VAR` in a path, PATH, the context
    /// file.
    pub env: &'a [(String, String)],
    /// The program the job runs first (found on PATH when it has no folder).
    pub program: &'a str,
    /// Writable besides the worktree (the profile's state, `sandbox_write`).
    pub write: &'a [String],
    /// Hidden besides [`SECRETS`].
    pub hide: &'a [String],
    pub network: bool,
}

/// The bubblewrap command line (program first) that runs a job's process in its sandbox. It
/// also stages the folder that stands in for the job's branch's ref folder (settled after the
/// run, `settle`).
pub fn command(l: &Layout) -> Result<Vec<OsString>, String> {
    let env = Env::of(l);
    let git = confine::worktree_git(l.repo, l.worktree)
        .map_err(|e| format!("cannot find the worktree's git folder: {e}"))?;
    let stage = match l.branch {
        Some(branch) => {
            confine::prepare_fixed_files(&git)
                .map_err(|e| format!("cannot prepare the worktree's git folder: {e}"))?;
            Some(
                confine::stage_ref(l.repo, &git, branch)
                    .map_err(|e| format!("cannot prepare the branch for the sandbox: {e}"))?,
            )
        }
        None => None,
    };
    let mut b = Bwrap::new(l.network);
    b.hide_own_folders(l, &env);
    b.show_readable(l, &git, &env);
    b.bind_writable(l, &env);
    // The worktree and what git needs to commit on its branch.
    let wt = real(l.worktree);
    b.bind("--bind", &wt, &wt);
    let objects_env = match &stage {
        Some(stage) => b.bind_git(&git, stage)?,
        None => Vec::new(),
    };
    b.hide_secrets(l, &env, &wt, &git);
    Ok(b.finish(&wt, objects_env, &env))
}

/// What a sandbox's paths are read with: the user's home, and the job's variables over the
/// host's.
struct Env<'a> {
    l: &'a Layout<'a>,
    user_home: Option<PathBuf>,
}

impl<'a> Env<'a> {
    fn of(l: &'a Layout<'a>) -> Env<'a> {
        let user_home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Env { l, user_home }
    }

    /// A variable as the job's processes see it (the job's own first), when it is set.
    fn var(&self, name: &str) -> Option<String> {
        self.l
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.is_empty())
    }

    /// `~/x` in the user's home, `$VAR` a variable's folder, else an absolute path as it is.
    fn expand(&self, p: &str) -> Option<PathBuf> {
        if let Some(rest) = p.strip_prefix("~/") {
            return self.user_home.as_ref().map(|h| h.join(rest));
        }
        if let Some(name) = p.strip_prefix('$') {
            return self
                .var(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute());
        }
        Some(PathBuf::from(p)).filter(|p| p.is_absolute())
    }
}

/// bubblewrap's command line as it is built, with the folders mounted empty so far and those
/// made read-only at the end.
struct Bwrap {
    a: Vec<OsString>,
    /// The folders hidden behind an empty tmpfs.
    mounted: Vec<PathBuf>,
    /// The temporary folders among them (private and writable).
    private: Vec<PathBuf>,
    /// Folders remounted read-only once everything inside them is mounted.
    read_only: Vec<PathBuf>,
}

impl Bwrap {
    fn new(network: bool) -> Bwrap {
        let mut a = vec![program().into_os_string()];
        a.extend(base_args(network));
        Bwrap {
            a,
            mounted: Vec::new(),
            private: Vec::new(),
            read_only: Vec::new(),
        }
    }

    fn bind(&mut self, flag: &str, from: &Path, to: &Path) {
        self.a.push(flag.into());
        self.a.push(from.as_os_str().to_owned());
        self.a.push(to.as_os_str().to_owned());
    }

    fn tmpfs(&mut self, p: &Path) {
        self.a.push("--tmpfs".into());
        self.a.push(p.as_os_str().to_owned());
    }

    fn under_hidden(&self, p: &Path) -> bool {
        self.mounted.iter().any(|m| p.starts_with(m))
    }

    /// Private, empty and writable: /tmp, /var/tmp and the user's runtime folder (it holds the
    /// sockets of the session bus, through which systemd --user would run anything outside the
    /// sandbox, the keyring, gpg- and ssh-agents). Hidden and then read-only: Sidekick's own
    /// folders (a write there would only reach the sandbox's own empty folder, but it must
    /// fail, as the agent should learn).
    fn hide_own_folders(&mut self, l: &Layout, env: &Env) {
        let runtime = env
            .var("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", nix::unistd::getuid())));
        self.private = [PathBuf::from("/tmp"), PathBuf::from("/var/tmp"), runtime]
            .iter()
            .map(|p| real(p))
            .collect();
        let mut hidden = self.private.clone();
        hidden.push(l.home.root().to_path_buf());
        if let Some(config_dir) = l.home.config_file().parent() {
            hidden.push(config_dir.to_path_buf());
        }
        for dir in hidden {
            let dir = real(&dir);
            if dir.is_dir() && !self.under_hidden(&dir) {
                self.tmpfs(&dir);
                if !self.private.iter().any(|p| dir.starts_with(p)) {
                    self.read_only.push(dir.clone());
                }
                self.mounted.push(dir);
            }
        }
    }

    /// Read-only: the user's checkout and the git folder (when a hidden folder holds them), the
    /// host's socket (a sandboxed agent may start sidekicks), the job's context file, where the
    /// program it runs is installed, and Sidekick's own program (its MCP server).
    fn show_readable(&mut self, l: &Layout, git: &confine::WorktreeGit, env: &Env) {
        let mut readable: Vec<PathBuf> = vec![real(l.repo), git.common.clone()];
        readable.push(l.home.socket());
        if let Some(ctx) = env.var("SIDEKICK_CONTEXT_FILE") {
            readable.push(PathBuf::from(ctx));
        }
        let path = env.var("PATH").map(std::ffi::OsString::from);
        if let Some(program) =
            sidekick_agents::locate_in(l.program, path.as_deref()).filter(|p| p.is_absolute())
        {
            readable.extend(installed_at(&program));
        }
        let sidekick = sidekick_protocol::sibling_program("SIDEKICK_BIN", "sidekick");
        if sidekick.is_absolute() {
            readable.extend(installed_at(&sidekick));
        }
        for p in readable {
            let p = real(&p);
            // A hidden folder itself (a program in /tmp/node_modules) is never shown whole.
            if p.exists() && self.under_hidden(&p) && !self.mounted.contains(&p) {
                self.bind("--ro-bind", &p, &p);
            }
        }
    }

    /// Writable: the agent's state (its folder made for it where it is missing: it could not
    /// make it in a read-only home) and the package caches.
    fn bind_writable(&mut self, l: &Layout, env: &Env) {
        for entry in l
            .write
            .iter()
            .map(String::as_str)
            .chain(SANDBOX_CACHES.iter().copied())
        {
            let Some(p) = env.expand(entry) else { continue };
            let own_state = !SANDBOX_CACHES.contains(&entry) && !entry.ends_with(".json");
            if !p.exists() && own_state {
                if let Err(e) = std::fs::create_dir_all(&p) {
                    tracing::warn!(path = %p.display(), error = %e, "cannot make an agent's state folder");
                    continue;
                }
            }
            if p.exists() {
                let p = real(&p);
                self.bind("--bind", &p, &p);
            }
        }
    }

    /// The worktree's git folder: the repository's object store stays read-only, new objects go
    /// to the worktree's private store (brought in by the host after the run, `settle`), and the
    /// branch is a stand-in. The variables that point git there.
    fn bind_git(
        &mut self,
        git: &confine::WorktreeGit,
        stage: &confine::RefStage,
    ) -> Result<Vec<(&'static str, OsString)>, String> {
        let private = confine::prepare_objects(git)
            .map_err(|e| format!("cannot prepare the sandbox's object store: {e}"))?;
        let env = vec![
            ("GIT_OBJECT_DIRECTORY", private.into_os_string()),
            (
                "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                git.objects().into_os_string(),
            ),
        ];
        self.bind("--bind", &git.admin, &git.admin);
        for f in fixed_files(git) {
            self.bind("--ro-bind", &f, &f);
        }
        self.bind("--bind", &stage.stage, &stage.mount);
        self.bind("--bind", &stage.reflog, &stage.reflog);
        Ok(env)
    }

    /// Secrets and sockets hidden last, so nothing above shows them again (a folder that holds
    /// the worktree is not hidden: the job could not run).
    fn hide_secrets(&mut self, l: &Layout, env: &Env, wt: &Path, git: &confine::WorktreeGit) {
        for entry in SECRETS
            .iter()
            .chain(SOCKETS)
            .copied()
            .chain(l.hide.iter().map(String::as_str))
        {
            let Some(p) = env.expand(entry) else { continue };
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            let p = real(&p);
            if wt.starts_with(&p) || git.common.starts_with(&p) {
                tracing::warn!(path = %p.display(), "not hidden from the sandbox: it holds the job's worktree or git folder");
                continue;
            }
            if meta.is_dir() {
                self.tmpfs(&p);
                self.read_only.push(p);
            } else {
                self.bind("--ro-bind", Path::new("/dev/null"), &p);
            }
        }
    }

    /// The read-only remounts, the variables, the working folder, and the end of bubblewrap's
    /// own arguments.
    fn finish(
        mut self,
        wt: &Path,
        objects_env: Vec<(&'static str, OsString)>,
        env: &Env,
    ) -> Vec<OsString> {
        let a = &mut self.a;
        for dir in self.read_only.drain(..) {
            a.extend(["--remount-ro".into(), dir.into_os_string()]);
        }
        for (k, v) in objects_env {
            a.extend(["--setenv".into(), k.into(), v]);
        }
        for (k, v) in identity_env(wt, &|name: &str| env.var(name)) {
            a.extend(["--setenv".into(), k.into(), v.into()]);
        }
        for name in UNSET {
            a.extend(["--unsetenv".into(), (*name).into()]);
        }
        // Temporary files go to the sandbox's own /tmp, wherever TMPDIR pointed outside (a
        // folder that is read-only or missing in here).
        a.extend(["--setenv".into(), "TMPDIR".into(), "/tmp".into()]);
        a.extend(["--chdir".into(), wt.as_os_str().to_owned()]);
        a.extend([
            "--setenv".into(),
            "SIDEKICK_SANDBOX".into(),
            "worktree".into(),
        ]);
        a.push("--".into());
        self.a
    }
}

/// Git config entries (`GIT_CONFIG_COUNT`, ...) naming a committer where git's config names none:
/// an agent that finds no `user.name` writes one into the repository's config (Aider does), which
/// the sandbox refuses. The names come from `GIT_AUTHOR_NAME`/`_EMAIL` where set, else Sidekick's
/// own fallback identity.
fn identity_env(worktree: &Path, var: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    if var("GIT_CONFIG_COUNT").is_some() {
        return Vec::new();
    }
    let fallback = |key: &str| {
        crate::repo::FALLBACK_IDENTITY
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    // One git for both (it reads the same config files and variables the agent's git will).
    let named = crate::repo::git(worktree)
        .args(["config", "--get-regexp", r"^user\.(name|email)$"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut missing = Vec::new();
    for (key, from) in [
        ("user.name", "GIT_AUTHOR_NAME"),
        ("user.email", "GIT_AUTHOR_EMAIL"),
    ] {
        let set = named.lines().any(|l| {
            l.split_once(' ')
                .is_some_and(|(k, v)| k == key && !v.trim().is_empty())
        });
        if !set {
            missing.push((key, var(from).unwrap_or_else(|| fallback(from))));
        }
    }
    if missing.is_empty() {
        return Vec::new();
    }
    let mut env = vec![("GIT_CONFIG_COUNT".to_string(), missing.len().to_string())];
    for (i, (key, value)) in missing.into_iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), key.to_string()));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), value));
    }
    env
}

/// The folders a program needs to run from where it is installed: the folder it is found in and,
/// when that is a link (`node_modules/.bin/claude`), where it leads; for a program inside an
/// npm tree or a Python virtualenv, that whole tree (its packages are read beside it).
fn installed_at(program: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for p in [program.to_path_buf(), real(program)] {
        let Some(dir) = p.parent() else { continue };
        let tree = dir
            .ancestors()
            .find(|a| a.file_name().is_some_and(|n| n == "node_modules"))
            .and_then(Path::parent)
            .or_else(|| {
                dir.parent()
                    .filter(|venv| venv.join("pyvenv.cfg").is_file())
            })
            .unwrap_or(dir);
        for d in [dir, tree] {
            if !dirs.iter().any(|known: &PathBuf| known == d) {
                dirs.push(d.to_path_buf());
            }
        }
    }
    dirs
}

fn fixed_files(g: &WorktreeGit) -> Vec<PathBuf> {
    g.fixed_files().into_iter().filter(|f| f.exists()).collect()
}

/// The path with symlinks resolved (mount targets must be real paths), or as given.
fn real(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// What a job's processes run in: the command line in front of each, and what the job records.
pub struct Decision {
    pub prefix: Vec<OsString>,
    pub status: Sandbox,
}

/// Decides how a job's processes run, setting the sandbox up where it is asked for. `Err` is the
/// job's failure sentence (a sandbox was required and cannot be had).
pub fn decide(
    mode: SandboxMode,
    config: &Config,
    layout: impl FnOnce(bool) -> Result<Vec<OsString>, String>,
) -> Result<Decision, String> {
    let network = config.sandbox.network;
    let off = |reason: Option<String>| Decision {
        prefix: Vec::new(),
        status: Sandbox {
            mode,
            on: false,
            network: true,
            reason,
        },
    };
    if mode == SandboxMode::Off {
        return Ok(off(None));
    }
    let set_up = available().and_then(|()| layout(network));
    match (set_up, mode) {
        (Ok(prefix), _) => Ok(Decision {
            prefix,
            status: Sandbox {
                mode,
                on: true,
                network,
                reason: None,
            },
        }),
        (Err(why), SandboxMode::Auto) => Ok(off(Some(why))),
        (Err(why), _) => Err(format!(
            "the job asked for a sandbox and none could be set up: {why}; install bubblewrap, or run the job with --sandbox off"
        )),
    }
}

/// After a sandboxed run (or any run: nothing happens when nothing was staged): moves the job's
/// branch to where the agent committed, and puts back the worktree's link to its git folder and
/// HEAD. Returns what the user should be told.
pub fn settle(repo: &Path, worktree: &Path, branch: &str) -> Vec<String> {
    let mut said = Vec::new();
    match confine::worktree_git(repo, worktree) {
        Ok(g) => {
            match confine::import_objects(repo, &g) {
                Ok(done) if !done.refused.is_empty() => said.push(format!(
                    "the agent left links or devices in its object store ({}); removed unread",
                    done.refused.join(", ")
                )),
                Ok(_) => {}
                Err(e) => said.push(format!(
                    "the objects the agent wrote in its sandbox could not be brought into the repository: {e}"
                )),
            }
            match confine::settle_ref(repo, &g, branch) {
                Ok(confine::Settled::Ignored(why)) => said.push(why),
                Ok(_) => {}
                Err(e) => said.push(format!(
                    "the agent's commits in its sandbox could not be moved onto {branch}: {e}"
                )),
            }
        }
        Err(e) => said.push(format!("cannot check the worktree's git folder: {e}")),
    }
    match confine::restore_link(repo, worktree, branch) {
        Ok(fixed) if !fixed.is_empty() => said.push(format!(
            "the agent had changed {}; put back",
            fixed.join(", ")
        )),
        Ok(_) => {}
        Err(e) => said.push(format!(
            "cannot check the worktree's link to its git folder: {e}"
        )),
    }
    said
}
