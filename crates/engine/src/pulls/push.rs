//! The job's branch pushed with the system `git`, so the user's credential helpers, ssh config
//! and `pushInsteadOf` apply exactly as in their terminal; never a token of ours.

use std::path::Path;
use std::time::Duration;

use crate::{EngineError, Refusal, Result};

/// How long a push may take (a slow link, a big first push).
const PUSH_LIMIT: Duration = Duration::from_secs(300);

/// The remote pull requests go to.
pub(crate) const REMOTE: &str = "origin";

/// What a push did to the remote branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The branch is new on the remote.
    Created,
    /// It moved (fast-forward or, with a lease, forced).
    Updated,
    /// It was already there.
    UpToDate,
}

/// `origin`'s URL as written (before `insteadOf`), or a sentence when there is none.
pub(crate) async fn remote_url(repo: &Path) -> Result<String> {
    let out = git(repo)
        .args(["config", "--get", &format!("remote.{REMOTE}.url")])
        .output()
        .await
        .map_err(|e| EngineError::Internal(format!("cannot run git: {e}")))?;
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || url.is_empty() {
        return Err(EngineError::Refused(
            Refusal::NoForge,
            format!(
                "the repository {} has no remote '{REMOTE}' to open a pull request on",
                repo.display()
            ),
        ));
    }
    Ok(url)
}

/// The git every other background call runs (`sidekick_git::repo::git`: no terminal prompt,
/// no stdin), as an async command that goes with its caller; no askpass program either.
fn git(repo: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::from(crate::repo::git(repo));
    cmd.env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "")
        .kill_on_drop(true);
    cmd
}

/// Pushes `sha` to `branch` on the remote. `lease`: the commit the remote branch had when we
/// last pushed it (a rebase since replaces it, but nobody else's commits).
pub(crate) async fn push(
    repo: &Path,
    sha: &str,
    branch: &str,
    lease: Option<&str>,
) -> Result<Pushed> {
    let target = format!("refs/heads/{branch}");
    let mut cmd = git(repo);
    cmd.args(["push", "--porcelain"]);
    if let Some(old) = lease {
        cmd.arg(format!("--force-with-lease={target}:{old}"));
    }
    cmd.arg(REMOTE).arg(format!("{sha}:{target}"));
    let out = match tokio::time::timeout(PUSH_LIMIT, cmd.output()).await {
        Ok(out) => out.map_err(|e| EngineError::Internal(format!("cannot run git: {e}")))?,
        Err(_) => {
            return Err(rejected(
                branch,
                &format!("it took longer than {} s", PUSH_LIMIT.as_secs()),
            ))
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `--porcelain`: FLAG \t FROM:TO \t SUMMARY, per ref.
    let line = stdout.lines().find(|l| {
        l.split('\t')
            .nth(1)
            .is_some_and(|refs| refs.ends_with(&target))
    });
    let flag = line.and_then(|l| l.chars().next());
    if out.status.success() {
        return Ok(match flag {
            Some('*') => Pushed::Created,
            Some('=') => Pushed::UpToDate,
            _ => Pushed::Updated,
        });
    }
    Err(rejected(branch, &reason(line, &stderr)))
}

/// Deletes `branch` on the remote: a branch this host just made for a pull request that was
/// not opened. Best effort; what is left says so in the remote's branch list only.
pub(crate) async fn delete(repo: &Path, branch: &str) {
    let mut cmd = git(repo);
    cmd.args(["push", "--porcelain", REMOTE])
        .arg(format!(":refs/heads/{branch}"));
    match tokio::time::timeout(PUSH_LIMIT, cmd.output()).await {
        Ok(Ok(out)) if out.status.success() => {}
        _ => tracing::warn!(
            branch,
            "cannot delete the branch pushed for a pull request that was not opened"
        ),
    }
}

fn rejected(branch: &str, reason: &str) -> EngineError {
    EngineError::Refused(
        Refusal::PushRejected,
        format!("the push of {branch} to {REMOTE} was rejected, so no pull request was opened: {reason}"),
    )
}

/// git's own reason: the rejected ref's summary, what the remote's hook said, else git's last
/// error line.
fn reason(line: Option<&str>, stderr: &str) -> String {
    let summary = line
        .and_then(|l| l.split('\t').nth(2))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let remote: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("remote:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(5)
        .collect();
    let last_error = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .map(str::trim);
    let mut parts: Vec<String> = Vec::new();
    parts.extend(summary);
    if !remote.is_empty() {
        parts.push(format!("the remote said: {}", remote.join(" / ")));
    }
    if parts.is_empty() {
        parts.push(last_error.unwrap_or("git gave no reason").to_string());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_is_read_in_gits_own_words() {
        let line = "!\t0123:refs/heads/sidekick/x\t[remote rejected] (pre-receive hook declined)";
        let stderr = "remote: protected branch: pushes need review        \nremote: \nerror: failed to push some refs to '/srv/origin.git'\n";
        assert_eq!(
            reason(Some(line), stderr),
            "[remote rejected] (pre-receive hook declined); the remote said: protected branch: pushes need review"
        );
        assert_eq!(
            reason(None, "fatal: could not read Username for 'https://github.com': terminal prompts disabled\n"),
            "fatal: could not read Username for 'https://github.com': terminal prompts disabled"
        );
        assert_eq!(reason(None, ""), "git gave no reason");
    }
}
