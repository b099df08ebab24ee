//! Another machine as Sidekick sets it up: what it has (OS, architecture, git, cores, memory,
//! free disk, the Sidekick installed there), this very Sidekick binary installed under the
//! remote user's `~/.local/share/sidekick/bin` (checksum verified, replaced atomically), and its
//! host started there (detached; the remote client starts it as a local one would).

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ssh::{Conn, SshError};

/// Where Sidekick lives on the remote, relative to the remote user's home.
pub const REMOTE_DIR: &str = ".local/share/sidekick";
/// The installed binary there.
pub const REMOTE_BIN: &str = ".local/share/sidekick/bin/sidekick";

/// What a host has, as one probe found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// `uname -s` (`Linux`).
    pub os: String,
    /// `uname -m` (`x86_64`).
    pub arch: String,
    /// `git --version`, when git is there.
    pub git: Option<String>,
    pub cores: u32,
    /// Memory available (`MemAvailable`), bytes.
    pub memory_available: u64,
    /// Free space in the remote user's home, bytes.
    pub disk_free: u64,
    /// The Sidekick installed there (`sidekick --version`), if any.
    pub sidekick: Option<String>,
    /// Its SHA-256, to tell whether it is this very build.
    #[serde(skip)]
    pub sidekick_sum: Option<String>,
}

/// One round trip that prints what the probe reads, a line each, in order.
const PROBE: &str = "uname -s; uname -m; \
  git --version 2>/dev/null || echo; \
  nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0; \
  awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0; \
  df -Pk \"$HOME\" 2>/dev/null | awk 'NR==2 {print $4}'; \
  \"$HOME/.local/share/sidekick/bin/sidekick\" --version 2>/dev/null || echo; \
  sha256sum \"$HOME/.local/share/sidekick/bin/sidekick\" 2>/dev/null | cut -d' ' -f1 || echo";

/// Reads what the host has.
pub fn probe(conn: &Conn) -> Result<Facts, SshError> {
    let out = conn.run(PROBE, None, "the probe")?;
    parse_probe(&out).ok_or_else(|| SshError::Failed {
        host: conn.name.clone(),
        what: "the probe".into(),
        reason: format!("its answer cannot be read: {:?}", out.trim()),
    })
}

fn parse_probe(out: &str) -> Option<Facts> {
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let at = |i: usize| lines.get(i).copied().unwrap_or("");
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let os = some(at(0))?;
    Some(Facts {
        os,
        arch: some(at(1))?,
        git: some(at(2)),
        cores: at(3).parse().unwrap_or(0),
        // Both in KiB as the tools print them.
        memory_available: at(4).parse::<u64>().unwrap_or(0).saturating_mul(1024),
        disk_free: at(5).parse::<u64>().unwrap_or(0).saturating_mul(1024),
        sidekick: some(at(6)),
        sidekick_sum: some(at(7)),
    })
}

/// This machine's OS and architecture in `uname`'s words.
pub fn local_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        other => other,
    };
    (os, std::env::consts::ARCH)
}

/// What `install` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// The same version was there already.
    Already,
    /// This binary was copied there.
    Copied,
}

/// Installs `binary` (this Sidekick) on the host unless this very build is there. Refused with
/// a sentence when the host has no git or another OS or architecture.
pub fn install(conn: &Conn, facts: &Facts, binary: &Path) -> Result<Installed, SshError> {
    let refuse = |reason: String| SshError::Failed {
        host: conn.name.clone(),
        what: "installing Sidekick".into(),
        reason,
    };
    if facts.git.is_none() {
        return Err(refuse("it has no git; install git there first".into()));
    }
    let (os, arch) = local_platform();
    if facts.os != os || facts.arch != arch {
        return Err(refuse(format!(
            "it runs {} on {}, and this Sidekick is built for {os} on {arch}",
            facts.os, facts.arch
        )));
    }
    let bytes = std::fs::read(binary)
        .map_err(|e| refuse(format!("cannot read {}: {e}", binary.display())))?;
    let sum = hex(&Sha256::digest(&bytes));
    if facts.sidekick_sum.as_deref() == Some(sum.as_str()) {
        return Ok(Installed::Already);
    }
    // Written beside its place, checked, then moved in whole: a copy cut short is never run.
    let script = format!(
        "set -e; umask 077; mkdir -p \"$HOME/{REMOTE_DIR}/bin\"; \
         t=\"$HOME/{REMOTE_BIN}.new.$$\"; cat > \"$t\"; \
         if [ \"$(sha256sum \"$t\" | cut -d' ' -f1)\" != {sum} ]; then rm -f \"$t\"; echo 'the copy arrived damaged' >&2; exit 3; fi; \
         chmod 700 \"$t\"; mv -f \"$t\" \"$HOME/{REMOTE_BIN}\""
    );
    conn.run(&script, Some(&bytes), "installing Sidekick")?;
    Ok(Installed::Copied)
}

/// Starts the host there (when none runs) and asks it for its agents, as JSON.
pub fn start(conn: &Conn) -> Result<serde_json::Value, SshError> {
    let out = conn.run(
        &format!("\"$HOME/{REMOTE_BIN}\" agents --json"),
        None,
        "starting the host",
    )?;
    serde_json::from_str(&out).map_err(|e| SshError::Failed {
        host: conn.name.clone(),
        what: "starting the host".into(),
        reason: format!("its answer is not JSON ({e})"),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_reads_line_by_line_and_missing_tools_are_none() {
        let f = parse_probe(
            "Linux\nx86_64\ngit version 2.47.3\n8\n1024000\n51200000\nsidekick 0.1.0\nab12\n",
        )
        .expect("facts");
        assert_eq!(
            (f.os.as_str(), f.arch.as_str(), f.cores),
            ("Linux", "x86_64", 8)
        );
        assert_eq!(f.git.as_deref(), Some("git version 2.47.3"));
        assert_eq!(f.sidekick.as_deref(), Some("sidekick 0.1.0"));
        assert_eq!(f.sidekick_sum.as_deref(), Some("ab12"));
        assert_eq!(
            (f.memory_available, f.disk_free),
            (1_048_576_000, 52_428_800_000)
        );
        let bare = parse_probe("Linux\nx86_64\n\n2\n0\n\n\n").expect("facts");
        assert_eq!((bare.git, bare.sidekick), (None, None));
        assert!(parse_probe("").is_none());
    }
}
