//! The user's token for a forge: from the environment (`GH_TOKEN`, `GITHUB_TOKEN`;
//! `GITLAB_TOKEN`), else from the forge's own CLI where it is installed and logged in
//! (`gh auth token --hostname HOST`, `glab config get token --host HOST`), else from that CLI's
//! entry in the system keyring. Read when it is needed and never stored: it is not written
//! to a file or a job, its `Debug` shows no secret, and it is never given to an agent.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ForgeKind;

/// Where a token came from, to say so without showing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable, by name.
    Env(&'static str),
    /// The forge's CLI (`gh`, `glab`), by path.
    Cli(PathBuf),
    /// The client that asked (its own environment's token, sent with the request).
    Client,
    /// The forge CLI's entry in the system keyring (the Secret Service).
    Keyring,
}

/// A token; its value is only for the request that carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    value: String,
    pub source: TokenSource,
}

impl Token {
    /// A token a client sent with its request.
    pub fn from_client(value: &str) -> Option<Token> {
        let value = value.trim();
        (!value.is_empty()).then(|| Token {
            value: value.to_string(),
            source: TokenSource::Client,
        })
    }

    pub fn secret(&self) -> &str {
        &self.value
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<hidden>")
            .field("source", &self.source)
            .finish()
    }
}

/// How long the forge's CLI may take to print its token.
const CLI_LIMIT: Duration = Duration::from_secs(10);

/// The token for `host` on `kind`: `env` reads a variable (the host's environment in use), and
/// `path` is where the forge's CLI is looked for. `None` when there is none.
pub fn token_for(
    kind: ForgeKind,
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
    path: Option<&OsStr>,
) -> Option<Token> {
    let vars: &[&'static str] = match kind {
        ForgeKind::GitHub => &["GH_TOKEN", "GITHUB_TOKEN"],
        ForgeKind::GitLab => &["GITLAB_TOKEN"],
    };
    for name in vars {
        if let Some(value) = env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            return Some(Token {
                value,
                source: TokenSource::Env(name),
            });
        }
    }
    let (program, args): (&str, [&str; 4]) = match kind {
        ForgeKind::GitHub => ("gh", ["auth", "token", "--hostname", host]),
        ForgeKind::GitLab => ("glab", ["config", "get", "token", "--host"]),
    };
    let mut args = args.to_vec();
    if kind == ForgeKind::GitLab {
        args.push(host);
    }
    if let Some(cli) = path.and_then(|p| find(program, p)) {
        if let Some(value) = cli_output(&cli, &args) {
            return Some(Token {
                value,
                source: TokenSource::Cli(cli),
            });
        }
    }
    let bus = env("DBUS_SESSION_BUS_ADDRESS").filter(|b| !b.is_empty())?;
    crate::keyring::keyring_token(kind, host, &bus).map(|value| Token {
        value,
        source: TokenSource::Keyring,
    })
}

/// `program` on `path`, as an executable file.
fn find(program: &str, path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The first line `program args` prints when it succeeds within [`CLI_LIMIT`].
fn cli_output(program: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() < CLI_LIMIT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let line = out.lines().next().unwrap_or("").trim().to_string();
    (status.success() && !line.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// A stand-in `gh` that prints a token for one host and refuses any other.
    fn fake_gh(dir: &Path, body: &str) {
        fake_cli(dir, "gh", body)
    }

    /// One stand-in CLI written and run at a time: a program being written while another test
    /// forks cannot be run ("text file busy").
    static CLI: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn fake_cli(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write gh");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn the_environment_comes_first_in_its_order() {
        let t = token_for(
            ForgeKind::GitHub,
            "github.com",
            &env_of(&[("GITHUB_TOKEN", "second"), ("GH_TOKEN", " first\n")]),
            None,
        )
        .expect("token");
        assert_eq!(
            (t.secret(), &t.source),
            ("first", &TokenSource::Env("GH_TOKEN"))
        );
        let t = token_for(
            ForgeKind::GitLab,
            "gitlab.com",
            &env_of(&[("GITLAB_TOKEN", "gl")]),
            None,
        )
        .expect("token");
        assert_eq!(t.secret(), "gl");
        // An empty variable is no token.
        assert!(token_for(
            ForgeKind::GitHub,
            "github.com",
            &env_of(&[("GH_TOKEN", " ")]),
            None
        )
        .is_none());
    }

    #[test]
    fn gh_gives_the_token_of_the_host_asked_for_and_its_debug_shows_none() {
        let _one = CLI.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().expect("tmp");
        fake_gh(
            dir.path(),
            r#"[ "$1 $2 $3 $4" = "auth token --hostname git.corp.example" ] && echo ghe-secret && exit 0; echo "not logged in" >&2; exit 1"#,
        );
        let path = dir.path().as_os_str();
        let t = token_for(
            ForgeKind::GitHub,
            "git.corp.example",
            &env_of(&[]),
            Some(path),
        )
        .expect("token");
        assert_eq!(t.secret(), "ghe-secret");
        assert_eq!(t.source, TokenSource::Cli(dir.path().join("gh")));
        assert!(!format!("{t:?}").contains("ghe-secret"), "{t:?}");
        // Not logged in for that host: no token (the caller says how to get one).
        assert!(token_for(ForgeKind::GitHub, "github.com", &env_of(&[]), Some(path)).is_none());
        // No gh at all.
        let empty = tempfile::tempdir().expect("tmp");
        assert!(token_for(
            ForgeKind::GitHub,
            "github.com",
            &env_of(&[]),
            Some(empty.path().as_os_str())
        )
        .is_none());
    }

    #[test]
    fn glab_gives_the_gitlab_token_of_the_host_asked_for() {
        let _one = CLI.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().expect("tmp");
        fake_cli(
            dir.path(),
            "glab",
            r#"[ "$1 $2 $3 $4 $5" = "config get token --host gitlab.corp" ] && echo glpat-x && exit 0; exit 1"#,
        );
        let path = Some(dir.path().as_os_str());
        let t = token_for(ForgeKind::GitLab, "gitlab.corp", &env_of(&[]), path).expect("token");
        assert_eq!(t.secret(), "glpat-x");
        assert!(token_for(ForgeKind::GitLab, "gitlab.com", &env_of(&[]), path).is_none());
        assert_eq!(
            Token::from_client("  t \n").map(|t| t.source),
            Some(TokenSource::Client)
        );
        assert!(Token::from_client(" ").is_none());
    }
}
