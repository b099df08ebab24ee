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
