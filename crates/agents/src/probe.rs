//! Whether an agent is here and answers: where its program is, its version, how to install it,
//! and `sidekick doctor --online`'s one-question probe.

use std::path::Path;

use sidekick_protocol::AgentInfo;

use crate::locate::locate;
use crate::profile::{Profile, SHELL};

/// What `sidekick agents` shows for a profile.
pub fn info(profile: &Profile) -> AgentInfo {
    let program = profile.command.first().cloned().unwrap_or_default();
    let path = locate(&program);
    let problem = match &path {
        Some(_) => None,
        None if program.contains('/') => Some(format!("{program} is not an executable file")),
        None => Some(format!("{program} was not found on PATH")),
    };
    let version = match &path {
        Some(p) if profile.name != SHELL => version_of(p),
        _ => None,
    };
    AgentInfo {
        name: profile.name.clone(),
        builtin: profile.builtin,
        command: profile.command.clone(),
        installed: path.is_some(),
        path: path.map(|p| p.display().to_string()),
        problem,
        timeout_ms: profile.timeout_ms,
        version,
        format: profile.format.name().to_string(),
        install: profile
            .builtin
            .then(|| install_hint(&profile.name))
            .flatten()
            .map(str::to_string),
    }
}

/// What `sidekick doctor --online` asks each built-in agent: one short answer, no tools.
const PROBE: &str = "Reply with the single word OK.";

/// The arguments of a built-in agent's one-shot, tool-less run of [`PROBE`].
fn probe_args(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "claude" => &["-p", PROBE, "--tools", "", "--output-format", "json"],
        "codex" => &[
            "exec",
            "--skip-git-repo-check",
            "--sandbox",
            "read-only",
            PROBE,
        ],
        "gemini" => &["--prompt", PROBE],
        "aider" => &[
            "--message",
            PROBE,
            "--no-git",
            "--yes-always",
            "--no-check-update",
            "--no-show-release-notes",
            "--no-auto-commits",
        ],
        _ => return None,
    })
}

/// How long an online probe may take.
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(90);

/// `sidekick doctor --online`: runs an installed built-in agent once on a one-word question,
/// with its profile's environment (its API key), in a scratch folder: `Ok` with how long it
/// took when it answered, `Err` with its own last words when it did not (a key it refuses, no
/// network). `None` where there is nothing to ask (not installed, or a custom agent).
pub fn online(profile: &Profile) -> Option<Result<String, String>> {
    use std::io::Read;
    let args = probe_args(&profile.name).filter(|_| profile.builtin)?;
    let program = locate(profile.command.first()?)?;
    let dir = std::env::temp_dir().join(format!(
        "sidekick-probe-{}-{}",
        profile.name,
        std::process::id()
    ));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Some(Err(format!("cannot make a scratch folder: {e}")));
    }
    let started = std::time::Instant::now();
    let spawned = std::process::Command::new(&program)
        .args(args)
        .envs(&profile.env)
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Some(Err(format!("{} cannot be run: {e}", program.display())));
        }
    };
    // Both streams are drained while it runs (a full pipe would stall it).
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if started.elapsed() < PROBE_LIMIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let secs = started.elapsed().as_secs_f64();
    Some(match status {
        None => Err(format!(
            "no answer within {}s (is the network or the API reachable?)",
            PROBE_LIMIT.as_secs()
        )),
        Some(s) if s.success() && !claude_error(&stdout) => Ok(format!("answered in {secs:.1}s")),
        Some(s) => Err(last_words(&stdout, &stderr).unwrap_or_else(|| format!("it {s}"))),
    })
}

/// Claude Code's JSON result says `is_error` even where it exits 0.
fn claude_error(stdout: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(stdout.trim()).is_ok_and(|v| v["is_error"] == true)
}

/// What an agent said last about why it failed: Claude Code's JSON `result`, else the last
/// non-empty line of its error stream, else of its output.
fn last_words(stdout: &str, stderr: &str) -> Option<String> {
    let json = serde_json::from_str::<serde_json::Value>(stdout.trim())
        .ok()
        .and_then(|v| v["result"].as_str().map(str::to_string));
    let last = |t: &str| {
        t.lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_string)
    };
    json.or_else(|| last(stderr))
        .or_else(|| last(stdout))
        .map(|l| crate::parse::shorten(&l, 200))
}

/// The command that installs a built-in agent.
fn install_hint(name: &str) -> Option<&'static str> {
    match name {
        "claude" => Some("npm install -g @anthropic-ai/claude-code"),
        "codex" => Some("npm install -g @openai/codex"),
        "gemini" => Some("npm install -g @google/gemini-cli"),
        "aider" => Some("python3 -m pip install aider-install && aider-install"),
        _ => None,
    }
}

/// The first line `PROGRAM --version` prints, waiting at most 5 s.
fn version_of(program: &Path) -> Option<String> {
    let mut child = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut text = String::new();
    use std::io::Read;
    child.stdout.take()?.read_to_string(&mut text).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}
