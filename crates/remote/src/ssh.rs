//! A host reached with the system `ssh`, so the user's `~/.ssh/config`, ProxyJump, agent and
//! keys work exactly as in their terminal. One multiplexed connection per host: its control
//! socket lives in Sidekick's private run folder. Never a prompt in the background
//! (`BatchMode`); ssh's own reason when it cannot connect.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What reaching a host can end in, each one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error("'{0}' is not an ssh destination (an ~/.ssh/config alias, user@host, or ssh://user@host:port)")]
    BadDestination(String),
    #[error("cannot reach {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("on {host}, `{what}` failed: {reason}")]
    Failed {
        host: String,
        what: String,
        reason: String,
    },
    #[error("{host} did not answer within {secs} s")]
    TimedOut { host: String, secs: u64 },
    #[error("cannot run ssh: {0}")]
    Spawn(String),
}

/// How ssh is run: the command (`[ssh] command`, default `ssh`) and where control sockets go.
#[derive(Debug, Clone)]
pub struct Ssh {
    command: Vec<String>,
    control_dir: PathBuf,
}

/// One host's connection.
#[derive(Debug, Clone)]
pub struct Conn {
    ssh: Ssh,
    /// The destination as the user gave it.
    pub destination: String,
    /// The name the user knows it by.
    pub name: String,
}

/// The longest a remote command may take (a binary copied over a slow link included).
const CALL_LIMIT: Duration = Duration::from_secs(300);
/// Connecting may take this long before ssh gives up.
const CONNECT_SECS: u64 = 15;

/// A destination ssh takes: an alias, `user@host`, `host`, or `ssh://user@host:port`; never an
/// option in disguise.
pub fn check_destination(d: &str) -> Result<(), SshError> {
    let ok = !d.is_empty()
        && !d.starts_with('-')
        && d.len() <= 255
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@.:-_/[]%".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SshError::BadDestination(d.to_string()))
    }
}

impl Ssh {
    /// `command`: the user's ssh command line (`["ssh"]` when empty); `control_dir`: a 0700
    /// folder of Sidekick's for the control sockets.
    pub fn new(command: Vec<String>, control_dir: &Path) -> Ssh {
        Ssh {
            command: if command.is_empty() {
                vec!["ssh".into()]
            } else {
                command
            },
            control_dir: control_dir.to_path_buf(),
        }
    }

    pub fn to(&self, name: &str, destination: &str) -> Result<Conn, SshError> {
        check_destination(destination)?;
        Ok(Conn {
            ssh: self.clone(),
            destination: destination.to_string(),
            name: name.to_string(),
        })
    }
}

impl Conn {
    /// The ssh program and every option before the destination: the user's own, then
    /// multiplexing, no prompts, a bounded connect.
    fn base(&self) -> Command {
        self.options(true)
    }

    /// [`Conn::base`], with prompts allowed when `batch` is false.
    fn options(&self, batch: bool) -> Command {
        let (program, args) = self
            .ssh
            .command
            .split_first()
            .map(|(p, a)| (p.clone(), a.to_vec()))
            .unwrap_or_else(|| ("ssh".into(), Vec::new()));
        let mut cmd = Command::new(program);
        cmd.args(args);
        if batch {
            cmd.args(["-o", "BatchMode=yes"]);
        }
        cmd.args(["-o", &format!("ConnectTimeout={CONNECT_SECS}")])
            .args(["-o", "ControlMaster=auto"])
            .arg("-o")
            .arg(format!(
                "ControlPath={}",
                self.ssh.control_dir.join("%C").display()
            ))
            .args(["-o", "ControlPersist=10m"])
            .args(["-o", "ServerAliveInterval=15"])
            .stdin(Stdio::null());
        cmd
    }

    /// `ssh … DESTINATION REMOTE` as a command, multiplexed, never prompting.
    pub fn command(&self, remote: &str) -> Command {
        let mut cmd = self.base();
        cmd.args(["-T", "--"]).arg(&self.destination).arg(remote);
        cmd
    }

    /// Runs `remote` there (`input` on its stdin); its stdout when it succeeds.
    pub fn run(&self, remote: &str, input: Option<&[u8]>, what: &str) -> Result<String, SshError> {
        let mut cmd = self.command(remote);
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SshError::Spawn(e.to_string()))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            // A remote that stops reading says why in its exit.
            let _ = stdin.write_all(bytes);
        }
        let out_reader = child.stdout.take().map(read_all);
        let err_reader = child.stderr.take().map(read_all);
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if started.elapsed() < CALL_LIMIT => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SshError::TimedOut {
                        host: self.name.clone(),
                        secs: CALL_LIMIT.as_secs(),
                    });
                }
            }
        };
        let stdout = out_reader.and_then(|h| h.join().ok()).unwrap_or_default();
        let stderr = err_reader.and_then(|h| h.join().ok()).unwrap_or_default();
        if status.success() {
            return Ok(stdout);
        }
        let reason = last_words(&stderr);
        // 255 is ssh's own failure (connecting, authenticating); anything else the command's.
        if status.code() == Some(255) {
            Err(SshError::Unreachable {
                host: self.name.clone(),
                reason,
            })
        } else {
            Err(SshError::Failed {
                host: self.name.clone(),
                what: what.to_string(),
                reason,
            })
        }
    }

    /// Opens the shared connection the way the user's terminal would: ssh may ask there (a new
    /// host's key, a passphrase, a password), reading the answer from the terminal. The calls
    /// after it share the connection and never ask.
    pub fn open_interactive(&self) -> Result<(), SshError> {
        let out = self
            .options(false)
            .args(["-T", "--"])
            .arg(&self.destination)
            .arg("true")
            .stdin(Stdio::inherit())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| SshError::Spawn(e.to_string()))?;
        if out.status.success() {
            return Ok(());
        }
        Err(SshError::Unreachable {
            host: self.name.clone(),
            reason: last_words(&String::from_utf8_lossy(&out.stderr)),
        })
    }

    /// Ends the shared connection (`ssh -O exit`); nothing when there is none.
    pub fn close(&self) {
        let _ = self
            .base()
            .args(["-O", "exit", "--"])
            .arg(&self.destination)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// ssh's (or the command's) reason: its last line with words in it.
fn last_words(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .map(|l| l.trim_end_matches('.').to_string())
        .unwrap_or_else(|| "ssh gave no reason".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_what_ssh_takes_and_never_an_option() {
        for ok in [
            "box",
            "me@box.example",
            "ssh://me@10.0.0.2:2222",
            "me@[::1]",
        ] {
            assert_eq!(check_destination(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-oProxyCommand=sh", "a b", "box;rm", "box\n"] {
            assert!(check_destination(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_reason_is_the_last_line_that_says_something() {
        let e = "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.\nme@127.0.0.1: Permission denied (publickey).\n";
        assert_eq!(last_words(e), "me@127.0.0.1: Permission denied (publickey)");
        assert_eq!(last_words(""), "ssh gave no reason");
    }
}
