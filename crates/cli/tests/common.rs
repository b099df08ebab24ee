//! A scratch world per test: its own SIDEKICK_HOME, HOME, git config and repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_sidekick");

pub struct World {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub repo: PathBuf,
    /// The session bus the host sees. By default a socket that does not exist, so no test
    /// depends on (or bothers) the machine's own desktop; notification tests bring their own.
    pub bus: String,
    /// What the host runs to open the app (`SIDEKICK_APP`), when a test sets it.
    pub app: Option<PathBuf>,
    /// A folder put first on PATH (fake agent programs).
    pub bin: Option<PathBuf>,
    /// More variables for every process of this world.
    pub env: Vec<(&'static str, String)>,
}

impl World {
    pub fn new() -> World {
        World::with_config("")
    }

    pub fn with_config(config: &str) -> World {
        World::with_config_in(config, &std::env::temp_dir())
    }

    /// A world in `base` (a sandbox hides `/tmp`: a world that must stay visible to a sandboxed
    /// job, read-only, lives elsewhere).
    pub fn with_config_in(config: &str, base: &Path) -> World {
        std::fs::create_dir_all(base).expect("mkdir base");
        let tmp = tempfile::Builder::new()
            .prefix("sk-")
            .tempdir_in(base)
            .expect("tempdir");
        let root = tmp.path().to_path_buf();
        let home = root.join("home");
        let repo = root.join("repo");
        std::fs::create_dir_all(&home).expect("mkdir home");
        std::fs::create_dir_all(root.join("user")).expect("mkdir user");
        std::fs::create_dir_all(&repo).expect("mkdir repo");
        // Jobs that name no agent run their task as a shell command here, as these tests
        // expect: a user's `agent` default (a real user's default is the first installed coding
        // agent).
        let config = format!("agent = \"shell\"\n{config}");
        std::fs::write(home.join("config.toml"), config).expect("config");
        let bus = format!("unix:path={}", root.join("no-bus").display());
        let w = World {
            _tmp: tmp,
            root,
            home,
            repo,
            bus,
            app: None,
            bin: None,
            env: Vec::new(),
        };
        w.git(&["init", "-q", "-b", "main"]);
        std::fs::write(w.repo.join("README.md"), "hello\n").expect("write");
        w.git(&["add", "README.md"]);
        w.git(&["commit", "-q", "-m", "first"]);
        w
    }

    /// Hermetic environment for every process of this world.
    pub fn envs(&self) -> Vec<(&'static str, String)> {
        let mut envs = self.base_envs();
        envs.push(("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()));
        if let Some(app) = &self.app {
            envs.push(("SIDEKICK_APP", app.display().to_string()));
        }
        if let Some(bin) = &self.bin {
            let path = std::env::var("PATH").unwrap_or_default();
            envs.push(("PATH", format!("{}:{path}", bin.display())));
        }
        envs.extend(self.env.iter().cloned());
        envs
    }

    fn base_envs(&self) -> Vec<(&'static str, String)> {
        let mut envs = vec![
            ("SIDEKICK_HOME", self.home.display().to_string()),
            ("HOME", self.root.join("user").display().to_string()),
            (
                "XDG_DATA_HOME",
                self.root.join("user/data").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME",
                self.root.join("user/config").display().to_string(),
            ),
        ];
        envs.extend(
            sidekick_testkit::HERMETIC_GIT
                .iter()
                .map(|(k, v)| (*k, v.to_string())),
        );
        envs
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.repo, args)
    }

    /// `git ARGS` in another folder, with this world's hermetic environment; must succeed.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .envs(self.envs())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(&self.repo).envs(self.envs());
        cmd
    }

    /// Runs `sidekick ARGS` to completion.
    pub fn sk(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("sidekick runs");
        Run(out)
    }

    /// `sidekick ARGS` that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.sk(args);
        assert_eq!(r.code(), 0, "sidekick {args:?} failed: {}", r.stderr());
        r.stdout()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// `sidekick ARGS` that prints JSON, whatever its exit code (a failed job exits 1).
    pub fn run_json(&self, args: &[&str]) -> Value {
        let r = self.sk(args);
        serde_json::from_str(&r.stdout())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stderr()))
    }

    /// Puts the asking stand-in for Claude Code (`fixtures/asking-claude.sh`) on this world's
    /// PATH as `claude`; with `[agents.claude] permission = "ask"` it asks to write asked.txt.
    pub fn with_asking_claude(&mut self) {
        let bin = self.root.join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asking-claude.sh"),
            bin.join("claude"),
        )
        .expect("the asking agent");
        self.bin = Some(bin);
    }

    /// Starts a job and returns its JSON.
    pub fn spawn(&self, extra: &[&str], task: &str) -> Value {
        let mut args = vec!["run", "--json"];
        args.extend_from_slice(extra);
        args.push("--");
        args.push(task);
        self.json(&args)
    }

    pub fn status(&self, job: &str) -> Value {
        self.json(&["status", "--json", job])
    }

    /// Polls `status` until `pred` holds.
    pub fn wait_until(&self, job: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.status(job);
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{job} never became {what}: {s}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    pub fn wait_state(&self, job: &str, state: &str) -> Value {
        self.wait_until(job, state, |s| s["state"] == state)
    }

    pub fn host_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.home.join("run/host.lock")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        pid_alive(pid).then_some(pid)
    }

    /// Stops this world's host (SIGTERM) and waits until it is gone.
    pub fn stop_host(&self) {
        if let Some(pid) = self.host_pid() {
            signal(pid, nix::sys::signal::Signal::SIGTERM);
            wait_gone(pid, Duration::from_secs(30));
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop_host();
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

/// Sidekick's notices about a job (`logs` prints them to stderr).
pub fn notices(w: &World, job: &str) -> String {
    w.sk(&["logs", job]).stderr()
}

pub fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// Alive and not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !(state.starts_with('Z') || state.starts_with('X'))
        })
        .unwrap_or(false)
}

pub use sidekick_testkit::outer_pid;

pub fn wait_gone(pid: i32, limit: Duration) {
    let start = Instant::now();
    while pid_alive(pid) {
        assert!(start.elapsed() < limit, "process {pid} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists()
        || std::fs::read_to_string(path)
            .map(|s| s.trim().is_empty())
            .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every file under `dir`, in its folders too (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn s(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Reads lines to the end and checks they are exactly `1..=n`, in order.
pub fn assert_counts_to(reader: impl std::io::Read, n: u64) {
    use std::io::BufRead;
    let mut expected = 1u64;
    for line in std::io::BufReader::new(reader).lines() {
        let line = line.expect("line");
        assert_eq!(
            line,
            expected.to_string(),
            "line {expected} lost, repeated or out of order"
        );
        expected += 1;
    }
    assert_eq!(expected - 1, n, "got {} lines", expected - 1);
}

/// A shell word that stays one word, whatever it holds.
pub fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `sidekick ARGS` in a real terminal (a tmux server of its own, 160x40), in the world's
/// repository with its environment: read and typed into as a person would. The server goes
/// when this is dropped.
pub struct Terminal {
    server: String,
}

impl Terminal {
    /// `args` is the command line after the binary, as the shell reads it.
    pub fn start(w: &World, args: &str) -> Terminal {
        let env: Vec<String> = w
            .envs()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", quoted(&v)))
            .collect();
        let command = format!(
            "cd {} && env {} {BIN} {args}; sleep 30",
            quoted(&w.repo.display().to_string()),
            env.join(" ")
        );
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let t = Terminal {
            server: format!("sk-term-{}-{n}", std::process::id()),
        };
        let started = t.tmux(&[
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "40",
            "-s",
            "main",
            &command,
        ]);
        assert!(started.status.success(), "{started:?}");
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.server)
            .args(args)
            .output()
            .expect("tmux runs (scripts/setup.sh installs it)")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    /// Waits (up to 60 s) until the screen shows `text`; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `keys` (tmux key names: a word, `Enter`).
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}
