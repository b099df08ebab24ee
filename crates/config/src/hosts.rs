//! `[hosts]` and `[ssh]` (issue 32): the other machines jobs may run on, each by the name the
//! user gave it and its ssh destination, the default one, and the ssh command line to reach
//! them with (default `ssh`: the user's `~/.ssh/config`, keys and agent apply).
//!
//! ```toml
//! [hosts]
//! default = "box"            # optional
//! [hosts.box]
//! destination = "me@box.example"
//! [ssh]
//! command = ["ssh", "-F", "/home/me/.ssh/work_config"]
//! ```

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsConfig {
    /// Where `run` sends a job that names no host.
    pub default: Option<String>,
    /// Destinations by name.
    pub hosts: BTreeMap<String, String>,
    /// `[ssh] command`: the ssh program and its first arguments (empty: `ssh`).
    pub ssh: Vec<String>,
}

/// A host's name: letters, digits, `-`, `_`, `.`; at most 40, not `default`, not `local`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with(['-', '.'])
        && !["default", "local"].contains(&name);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a host name: letters, digits, '-', '_' and '.', at most 40, not 'default' or 'local'"
        ))
    }
}

/// Reads `[hosts]` and `[ssh]` from the config's raw tables.
pub(crate) fn parse(
    hosts: Option<toml::Table>,
    ssh: Option<toml::Table>,
) -> Result<HostsConfig, String> {
    let mut out = HostsConfig::default();
    for (key, value) in hosts.unwrap_or_default() {
        if key == "default" {
            let name = value
                .as_str()
                .ok_or("hosts.default must name a host, as a string")?;
            out.default = Some(name.to_string());
            continue;
        }
        check_name(&key).map_err(|e| format!("hosts.{key}: {e}"))?;
        let table = value
            .as_table()
            .ok_or_else(|| format!("hosts.{key} must be a table with a destination"))?;
        if let Some(other) = table.keys().find(|k| *k != "destination") {
            return Err(format!(
                "hosts.{key}: unknown key '{other}' (a host has a destination)"
            ));
        }
        let destination = table
            .get("destination")
            .and_then(|d| d.as_str())
            .ok_or_else(|| {
                format!("hosts.{key} needs a destination (an ssh destination, as a string)")
            })?;
        if destination.is_empty()
            || destination.starts_with('-')
            || destination
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "hosts.{key}: '{destination}' is not an ssh destination"
            ));
        }
        out.hosts.insert(key, destination.to_string());
    }
    if let Some(d) = &out.default {
        if !out.hosts.contains_key(d) {
            return Err(format!(
                "hosts.default names '{d}', which is not a host here"
            ));
        }
    }
    for (key, value) in ssh.unwrap_or_default() {
        if key != "command" {
            return Err(format!("ssh: unknown key '{key}' (ssh has a command)"));
        }
        let words = value
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|w| w.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .filter(|w| !w.is_empty() && !w[0].is_empty())
            .ok_or("ssh.command must be a list of words, the program first")?;
        out.ssh = words;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::settings::{add_host as add, remove_host as remove};
    use crate::Config;
    use std::path::Path;

    #[test]
    fn hosts_are_added_kept_with_the_rest_and_removed() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# mine\nmax_running = 3\n").expect("write");
        add(&path, "box", "me@box.example").expect("add");
        add(&path, "gpu", "ssh://me@10.0.0.9:2222").expect("add");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("# mine\nmax_running = 3\n"), "{text}");
        let c = Config::load(&path).expect("load");
        assert_eq!(
            c.hosts.hosts.get("box").map(String::as_str),
            Some("me@box.example")
        );
        assert_eq!(c.hosts.hosts.len(), 2);
        let twice = add(&path, "box", "other").expect_err("taken");
        assert!(
            twice
                .to_string()
                .contains("there is a host named box already"),
            "{twice}"
        );
        let bad = add(&path, "-x", "h").expect_err("bad name");
        assert!(bad.to_string().contains("is not a host name"), "{bad}");
        remove(&path, "box").expect("rm");
        assert!(!Config::load(&path)
            .expect("load")
            .hosts
            .hosts
            .contains_key("box"));
        let gone = remove(&path, "box").expect_err("gone");
        assert!(
            gone.to_string().contains("there is no host named box"),
            "{gone}"
        );
    }

    #[test]
    fn a_host_table_is_checked_key_by_key() {
        let p = |t: &str| Config::parse(t, Path::new("c.toml")).map(|c| c.hosts);
        let ok = p("[hosts]\ndefault = \"box\"\n[hosts.box]\ndestination = \"box\"\n[ssh]\ncommand = [\"ssh\", \"-F\", \"/c\"]\n")
            .expect("ok");
        assert_eq!(ok.default.as_deref(), Some("box"));
        assert_eq!(ok.ssh, ["ssh", "-F", "/c"]);
        for (text, said) in [
            ("[hosts.box]\n", "needs a destination"),
            (
                "[hosts.box]\ndestination = \"-oProxyCommand=x\"\n",
                "is not an ssh destination",
            ),
            (
                "[hosts.box]\ndestination = \"b\"\nport = 22\n",
                "unknown key 'port'",
            ),
            ("[hosts]\ndefault = \"nope\"\n", "which is not a host here"),
            (
                "[ssh]\ncommand = []\n",
                "ssh.command must be a list of words",
            ),
        ] {
            let e = p(text).expect_err(text);
            assert!(e.to_string().contains(said), "{text}: {e}");
        }
    }
}
