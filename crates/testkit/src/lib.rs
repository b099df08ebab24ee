//! What Sidekick's test suites (engine, CLI end to end, the app's end to end) and its benchmark
//! share: git run hermetically, so no user's or system's git config (hooks, signing, a default
//! branch, aliases) changes what a test sees, and every commit has one fixed identity.

use std::path::Path;
use std::process::Command;

/// The variables that make git hermetic: no global or system config, a fixed author and
/// committer.
pub const HERMETIC_GIT: &[(&str, &str)] = &[
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_AUTHOR_NAME", "Test"),
    ("GIT_AUTHOR_EMAIL", "test@example.com"),
    ("GIT_COMMITTER_NAME", "Test"),
    ("GIT_COMMITTER_EMAIL", "test@example.com"),
];

/// `git -C dir` with [`HERMETIC_GIT`] set.
pub fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).envs(HERMETIC_GIT.iter().copied());
    cmd
}

/// Runs hermetic git in `dir`; its stdout without the trailing newline, or why it failed.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = git_command(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// A generated file checked into the repository (the UI's TypeScript declarations): rewrites
/// it when `SIDEKICK_WRITE_TYPES` is set, otherwise fails, naming `regenerate`, when it is not
/// exactly `fresh`.
pub fn check_generated(path: &Path, fresh: &str, regenerate: &str) {
    if std::env::var_os("SIDEKICK_WRITE_TYPES").is_some() {
        if let Err(e) = std::fs::write(path, fresh) {
            panic!("cannot write {}: {e}", path.display());
        }
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == fresh,
        "{} is stale; run {regenerate}",
        path.display()
    );
}

/// Makes `dir` a repository on branch `main` with one commit holding `README.md` ("hello").
pub fn repo_with_commit(dir: &Path) -> Result<(), String> {
    git(dir, &["init", "-q", "-b", "main"])?;
    std::fs::write(dir.join("README.md"), "hello\n").map_err(|e| e.to_string())?;
    git(dir, &["add", "README.md"])?;
    git(dir, &["commit", "-q", "-m", "first"])?;
    Ok(())
}

/// The live processes (not zombies) that carry `SIDEKICK_JOB_ID=job`, with the pid each has in
/// its innermost pid namespace.
fn job_processes(job: &str) -> Vec<(i32, i32)> {
    let marker = format!("SIDEKICK_JOB_ID={job}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(outer) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let status = std::fs::read_to_string(format!("/proc/{outer}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
        };
        if field("State:").starts_with('Z') || field("State:").starts_with('X') {
            continue;
        }
        let inner = field("NSpid:")
            .split_whitespace()
            .last()
            .and_then(|p| p.parse::<i32>().ok())
            .unwrap_or(outer);
        let ours = std::fs::read(format!("/proc/{outer}/environ"))
            .map(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()))
            .unwrap_or(false);
        if ours {
            found.push((outer, inner));
        }
    }
    found
}

/// The live processes of job `job` (they carry its `SIDEKICK_JOB_ID`), as the host sees them.
pub fn job_pids(job: &str) -> Vec<i32> {
    job_processes(job)
        .into_iter()
        .map(|(outer, _)| outer)
        .collect()
}

/// The pid the host sees for a process of job `job` that knows itself as `pid`: in a sandbox
/// it has a pid namespace of its own (`NSpid` lists its pid in each namespace, outermost first);
/// unconfined the two are the same. `pid` when no such process is alive.
pub fn outer_pid(job: &str, pid: i32) -> i32 {
    job_processes(job)
        .into_iter()
        .find(|(_, inner)| *inner == pid)
        .map(|(outer, _)| outer)
        .unwrap_or(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_carry_the_fixed_identity_whatever_the_users_config() {
        let tmp = std::env::temp_dir().join(format!("sk-testkit-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("mkdir");
        repo_with_commit(&tmp).expect("repo");
        let who = git(&tmp, &["log", "-1", "--format=%an <%ae> %cn"]).expect("log");
        assert_eq!(who, "Test <test@example.com> Test");
        assert_eq!(
            git(&tmp, &["branch", "--show-current"]).expect("branch"),
            "main"
        );
        assert!(git(&tmp, &["no-such-command"]).is_err());
        std::fs::remove_dir_all(&tmp).expect("clean up");
    }
}

#[cfg(feature = "forge")]
pub mod forge;

/// A private D-Bus session bus in `dir` (a real `dbus-daemon` that lets any client own any name
/// and talk to any other): the daemon and its address.
pub fn dbus_daemon(dir: &Path) -> Result<(std::process::Child, String), String> {
    use std::io::BufRead;
    let config = dir.join("bus.conf");
    std::fs::write(
        &config,
        format!(
            "<busconfig><type>session</type><listen>unix:path={}</listen>\
             <auth>EXTERNAL</auth><policy context=\"default\">\
             <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\
             <allow own=\"*\"/></policy></busconfig>",
            dir.join("bus.sock").display()
        ),
    )
    .map_err(|e| format!("bus config: {e}"))?;
    let mut daemon = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address=1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run dbus-daemon (apt install dbus): {e}"))?;
    let mut line = String::new();
    let out = daemon.stdout.take().ok_or("dbus-daemon has no stdout")?;
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .map_err(|e| format!("bus address: {e}"))?;
    Ok((daemon, line.trim().to_string()))
}
