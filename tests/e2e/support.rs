//! What the end-to-end test and the UI benchmark share: the scratch world, tauri-driver, and
//! starting the run inside its own X display and D-Bus session.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

const INNER: &str = "SIDEKICK_E2E_INNER";

/// Whether this process already runs under xvfb-run + dbus-run-session.
pub fn inside() -> bool {
    std::env::var_os(INNER).is_some()
}

/// Runs this binary again with its own X display and D-Bus session.
pub fn relaunch(me: &str, args: &[String]) -> ExitCode {
    let status = Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            "dbus-run-session",
            "--",
            me,
        ])
        .args(args)
        .env(INNER, "1")
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("the run under xvfb-run ended with {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot run xvfb-run ({e}); scripts/setup.sh installs it");
            ExitCode::FAILURE
        }
    }
}

/// The app binary and the `sidekick` CLI beside it.
pub fn binaries(app: &str) -> Result<(PathBuf, PathBuf), String> {
    let app = PathBuf::from(app);
    let cli = app.with_file_name("sidekick");
    if !cli.is_file() {
        return Err(format!(
            "{} is missing; build the workspace first (cargo build --workspace)",
            cli.display()
        ));
    }
    Ok((app, cli))
}

/// Where screenshots go: `<target>/e2e-screens`.
pub fn screens_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("e2e-screens")
}

/// The token the run's scripted GitHub accepts.
pub const FORGE_TOKEN: &str = "e2e-token";

/// The scratch world: a data dir, XDG dirs, and the user's repository.
pub struct World {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub repo: PathBuf,
}

impl World {
    pub fn new() -> Result<World, String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = tmp.path().canonicalize().map_err(|e| e.to_string())?;
        let home = root.join("sidekick-home");
        let repo = root.join("project");
        for dir in [
            &home,
            &repo,
            &root.join("config"),
            &root.join("data"),
            &root.join("cache"),
            // The stand-in's own state folder (writable in its sandbox, `sandbox_write`).
            &root.join("claude-state"),
        ] {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let runtime = root.join("runtime");
        std::fs::create_dir_all(&runtime).map_err(|e| e.to_string())?;
        // A stand-in for Claude Code's stream-json dialog (`permission = "ask"`), shared with
        // the CLI's tests: it asks to write `asked.txt` and writes it only when allowed.
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        let claude = bin.join("claude");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crates/cli/tests/fixtures/asking-claude.sh"),
            &claude,
        )
        .map_err(|e| e.to_string())?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
        }
        // The user's editor: it notes what it was asked to open, and where.
        let editor = bin.join("fake-editor");
        std::fs::write(
            &editor,
            format!(
                "#!/bin/sh\nprintf '%s|%s\\n' \"$PWD\" \"$*\" >> '{}'\n",
                root.join("opened.txt").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
        }
        // The desktop's opener (`xdg-open`): it notes what it was asked to open.
        let opener = bin.join("xdg-open");
        std::fs::write(
            &opener,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n",
                root.join("opened-urls.txt").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
        }
        let w = World {
            _tmp: tmp,
            root,
            home,
            repo,
        };
        w.git(&["init", "-q", "-b", "main"])?;
        std::fs::write(w.repo.join("README.md"), "# project\n").map_err(|e| e.to_string())?;
        std::fs::write(w.repo.join("notes.txt"), "my notes\n").map_err(|e| e.to_string())?;
        std::fs::write(w.repo.join("shared.txt"), "shared v1\n").map_err(|e| e.to_string())?;
        // A task type of the repository's, for the composer.
        let tasks = w.repo.join(".sidekick/tasks/greet");
        std::fs::create_dir_all(&tasks).map_err(|e| e.to_string())?;
        std::fs::write(
            tasks.join("task.toml"),
            "description = \"Write a greeting\"\ncommand = \"printf 'hello %s\\\\n' {inputs.name} > greeting.txt\"\n\
             [[inputs]]\nname = \"name\"\nrequired = true\n",
        )
        .map_err(|e| e.to_string())?;
        w.git(&["add", "."])?;
        w.git(&["commit", "-q", "-m", "first"])?;
        Ok(w)
    }

    /// The environment every process of the run gets: its own data dir, XDG dirs and a
    /// hermetic git.
    pub fn env(&self) -> Vec<(String, String)> {
        let r = |p: &str| self.root.join(p).display().to_string();
        vec![
            ("SIDEKICK_HOME".into(), self.home.display().to_string()),
            (
                "PATH".into(),
                format!("{}:{}", r("bin"), std::env::var("PATH").unwrap_or_default()),
            ),
            ("XDG_CONFIG_HOME".into(), r("config")),
            ("XDG_DATA_HOME".into(), r("data")),
            ("XDG_CACHE_HOME".into(), r("cache")),
            ("XDG_RUNTIME_DIR".into(), r("runtime")),
            // What the Claude Code stand-in was sent, one first message a line.
            (
                "ASKING_CLAUDE_INPUTS".into(),
                r("claude-state/inputs.jsonl"),
            ),
            (
                "VISUAL".into(),
                format!("{} --new-window", r("bin/fake-editor")),
            ),
            // The token the scripted forge takes (`forge_token`).
            ("GH_TOKEN".into(), FORGE_TOKEN.into()),
        ]
        .into_iter()
        .chain(
            sidekick_testkit::HERMETIC_GIT
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .collect()
    }

    pub fn git(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.repo)
            .args(args)
            .envs(self.env())
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.repo.join(rel)).unwrap_or_else(|e| format!("<{e}>"))
    }

    pub fn write(&self, rel: &str, text: &str) -> Result<(), String> {
        std::fs::write(self.repo.join(rel), text).map_err(|e| format!("{rel}: {e}"))
    }
}

/// tauri-driver, stopped with SIGTERM (SIGKILL would leave WebKitWebDriver on its port).
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Driver {
    /// Starts tauri-driver; the app it launches uses `cli` as its host program.
    pub fn start(world: &World, cli: &Path) -> Result<Driver, String> {
        let port = free_port()?;
        let native = free_port()?;
        let exe = which("tauri-driver")
            .ok_or("tauri-driver is not installed; scripts/setup.sh installs it (cargo install tauri-driver --locked)")?;
        let child = Command::new(exe)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .envs(world.env())
            .env("SIDEKICK_BIN", cli)
            .spawn()
            .map_err(|e| format!("cannot start tauri-driver: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("tauri-driver did not open its port within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Driver { child, port })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = nix_kill(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn nix_kill(pid: u32, signal: &str) -> Result<(), String> {
    Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn which(name: &str) -> Option<PathBuf> {
    let home_bin = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin").join(name));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(home_bin)
        .find(|p| p.is_file())
}

/// The running host's pid: its lock file holds it.
pub fn host_pid(world: &World) -> Option<u32> {
    let lock = world.home.join("run").join("host.lock");
    std::fs::read_to_string(lock)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
}

/// Stops the host the app started (it outlives the app by design).
pub fn stop_host(world: &World) {
    if let Some(pid) = host_pid(world) {
        let _ = nix_kill(pid, "TERM");
    }
}
