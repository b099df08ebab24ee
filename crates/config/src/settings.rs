//! The host-wide settings the app edits, read from and written to the user's `config.toml`.
//!
//! A change names keys of the file and their new values; it is applied to the file's own text
//! with `toml_edit` (so comments, formatting and every other key stay as they are), the result
//! is checked by [`Config::parse`] — the same code that reads the file — and only then written,
//! by rename, through a symlinked config file to its target. Nothing else holds the settings:
//! the host reads the file whenever it needs a setting, so a change applies at once.

use std::path::{Path, PathBuf};

use sidekick_protocol::{
    format_duration, AgentSettings, FieldProblem, NotificationSettings, SandboxMode, SettingValue,
    Settings,
};
use toml_edit::{DocumentMut, Item, Table};

use crate::error::{read_optional, ConfigError};
use crate::Config;

type Result<T> = std::result::Result<T, ConfigError>;

/// The settings as the file at `path` makes them now.
pub fn read(path: &Path) -> Result<Settings> {
    let c = Config::load(path)?;
    let agents = c
        .profiles()
        .into_iter()
        .map(|p| {
            let own = c.agents.get(&p.name);
            AgentSettings {
                permission: own.and_then(|a| a.permission.clone()),
                timeout: own.and_then(|a| a.timeout_ms).map(format_duration),
                max_steps: own.and_then(|a| a.max_steps),
                token_budget: own.and_then(|a| a.token_budget),
                builtin: p.builtin,
                modes: match (p.builtin, sidekick_agents::permission_modes(&p.name)) {
                    (true, Some(modes)) => modes.iter().map(|m| m.to_string()).collect(),
                    _ => Vec::new(),
                },
                name: p.name,
            }
        })
        .collect();
    Ok(Settings {
        file: path.display().to_string(),
        max_running: c.max_running as u64,
        timeout: format_duration(c.default_timeout_ms),
        max_steps: c.max_steps,
        token_budget: c.token_budget,
        warm_worktrees: c.warm_worktrees,
        sandbox: c.sandbox.mode.unwrap_or(SandboxMode::Auto),
        sandbox_network: c.sandbox.network,
        notifications: NotificationSettings {
            enabled: c.notifications.enabled,
            quiet_under: format_duration(c.notifications.quiet_under_ms),
            prominent_over: format_duration(c.notifications.prominent_over_ms),
            burst_window: format_duration(c.notifications.burst_window_ms),
        },
        agents,
    })
}

/// What kind of value a key takes.
#[derive(Clone, Copy)]
enum Kind {
    Count,
    Bool,
    Text,
}

/// The keys the settings may change, with their kind; `agents.NAME.*` for any agent name.
fn kind_of(key: &str) -> Option<Kind> {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["max_running" | "max_steps" | "token_budget" | "warm_worktrees"] => Some(Kind::Count),
        ["timeout" | "sandbox"] => Some(Kind::Text),
        ["sandbox_network"] => Some(Kind::Bool),
        ["notifications", "enabled"] => Some(Kind::Bool),
        ["notifications", "quiet_under" | "prominent_over" | "burst_window"] => Some(Kind::Text),
        ["agents", name, field] if valid_name(name) => match *field {
            "permission" | "timeout" => Some(Kind::Text),
            "max_steps" | "token_budget" => Some(Kind::Count),
            _ => None,
        },
        _ => None,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `text` with `changes` applied, or why not (one sentence).
pub fn apply(text: &str, changes: &[SettingValue]) -> std::result::Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.message().to_string())?;
    for change in changes {
        let kind = kind_of(&change.key)
            .ok_or_else(|| format!("'{}' is not a setting the app changes", change.key))?;
        let parts: Vec<&str> = change.key.split('.').collect();
        let (leaf, tables) = parts.split_last().ok_or("an empty key")?;
        let value = change
            .value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            // Back to the default: the key goes (its table stays, with whatever else is in it),
            // and the comment above it stays in the file.
            let root = tables.is_empty();
            let mut orphan = None;
            if let Some(t) = table_at(&mut doc, tables, false)? {
                orphan = remove_keeping_comment(t, leaf, root);
            }
            if let Some(c) = orphan {
                let trailing = doc.trailing().as_str().unwrap_or("").to_string();
                doc.set_trailing(format!("{trailing}{c}"));
            }
            continue;
        };
        let item = match kind {
            Kind::Count => {
                let n: i64 =
                    value.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                        format!("{}: '{value}' is not a whole number", change.key)
                    })?;
                toml_edit::value(n)
            }
            Kind::Bool => match value {
                "true" => toml_edit::value(true),
                "false" => toml_edit::value(false),
                _ => {
                    return Err(format!(
                        "{}: '{value}' is neither true nor false",
                        change.key
                    ))
                }
            },
            Kind::Text => toml_edit::value(value),
        };
        if tables.is_empty() && doc.as_table().iter().all(|(_, i)| !i.is_value()) {
            // The file's first key: a comment block that heads the file (ended by a blank line)
            // stays at its head, above the key, instead of staying with the table after it.
            let header = take_file_header(&mut doc);
            doc.as_table_mut().insert(leaf, item);
            if let (Some(h), Some(mut k)) = (header, doc.as_table_mut().key_mut(leaf)) {
                k.leaf_decor_mut().set_prefix(h);
            }
            continue;
        }
        let table = table_at(&mut doc, tables, true)?.ok_or("no table")?;
        match table.get_mut(leaf) {
            // Keeps the key's place and its comments; only the value changes.
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                if let Item::Value(mut new) = item {
                    *new.decor_mut() = decor;
                    *old = new;
                }
            }
            _ => {
                table.insert(leaf, item);
            }
        }
    }
    Ok(doc.to_string())
}

/// The comment lines heading the file up to its last blank line, taken from the first table's
/// prefix (where a file without top-level keys keeps them); `None` when there are none.
fn take_file_header(doc: &mut DocumentMut) -> Option<String> {
    let first = doc
        .as_table_mut()
        .iter_mut()
        .filter_map(|(_, item)| item.as_table_mut())
        .filter(|t| !t.is_implicit())
        .min_by_key(|t| t.position().unwrap_or(isize::MAX))?;
    let prefix = first.decor().prefix().and_then(|p| p.as_str())?.to_string();
    let cut = prefix.rfind("\n\n")?;
    let (header, rest) = prefix.split_at(cut + 1);
    header.contains('#').then_some(())?;
    let header = header.to_string();
    first.decor_mut().set_prefix(rest.to_string());
    Some(header)
}

/// Removes `leaf` from `t`; a comment written above it goes above the key after it, else under
/// the table's header. Returns the comment when neither is there (a root key at the end).
fn remove_keeping_comment(t: &mut Table, leaf: &str, root: bool) -> Option<String> {
    let comment = t
        .key(leaf)
        .and_then(|k| k.leaf_decor().prefix())
        .and_then(|p| p.as_str())
        .filter(|p| p.contains('#'))
        .map(str::to_string);
    let at = t.iter().position(|(k, _)| k == leaf);
    t.remove(leaf)?;
    let (comment, at) = (comment?, at?);
    if let Some((mut next, _)) = t.iter_mut().nth(at) {
        let decor = next.leaf_decor_mut();
        let before = decor
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_string();
        decor.set_prefix(format!("{comment}{before}"));
        return None;
    }
    if root {
        return Some(comment);
    }
    let decor = t.decor_mut();
    let suffix = decor
        .suffix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_string();
    decor.set_suffix(format!("{suffix}\n{}", comment.trim_end_matches('\n')));
    None
}

/// The table at `path` (the document's root for none), made when `create`.
fn table_at<'a>(
    doc: &'a mut DocumentMut,
    path: &[&str],
    create: bool,
) -> std::result::Result<Option<&'a mut Table>, String> {
    let mut table = doc.as_table_mut();
    for (i, name) in path.iter().enumerate() {
        if !table.contains_key(name) {
            if !create {
                return Ok(None);
            }
            let mut t = Table::new();
            // `[agents.claude]` rather than an empty `[agents]` above it.
            t.set_implicit(true);
            table.insert(name, Item::Table(t));
        }
        let key = path[..=i].join(".");
        table = match table.get_mut(name) {
            Some(Item::Table(t)) => t,
            _ => return Err(format!("{key} in the config file is not a table")),
        };
    }
    Ok(Some(table))
}

/// Applies `changes` to the config file at `path`, checks the result as the host reads it, and
/// writes it; returns the settings it makes. Nothing is written when anything is wrong.
pub fn change(path: &Path, changes: &[SettingValue]) -> Result<Settings> {
    let text = read_optional(path)?.unwrap_or_default();
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    // Each change on its own first: every field that is wrong gets its own sentence, all at
    // once (not the first problem of the whole file).
    let problems: Vec<FieldProblem> = changes
        .iter()
        .filter_map(|c| {
            let one = std::slice::from_ref(c);
            let message = match apply(&text, one) {
                Err(m) => m,
                Ok(alone) => match Config::parse(&alone, path) {
                    Ok(_) => return None,
                    Err(ConfigError::Invalid { message, .. }) => message,
                    Err(e) => e.to_string(),
                },
            };
            // The sentence names its key; beside the field it need not.
            let prefix = format!("{}: ", c.key);
            let message = message
                .strip_prefix(&prefix)
                .unwrap_or(&message)
                .to_string();
            Some(FieldProblem {
                key: c.key.clone(),
                message,
            })
        })
        .collect();
    if !problems.is_empty() {
        return Err(ConfigError::Settings {
            path: path.to_path_buf(),
            fields: problems,
        });
    }
    let new = apply(&text, changes).map_err(invalid)?;
    Config::parse(&new, path)?;
    write(path, &new)?;
    read(path)
}

/// `[hosts]`: adds host `name` at `destination` to the config file (refused when the name is taken) and
/// checks the file as the host reads it before it replaces the old one.
pub fn add_host(path: &Path, name: &str, destination: &str) -> Result<()> {
    edit_hosts(path, |doc| {
        crate::hosts::check_name(name)?;
        let hosts = doc
            .entry("hosts")
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
            .as_table_mut()
            .ok_or("hosts in the config is not a table")?;
        hosts.set_implicit(true);
        if hosts.contains_key(name) {
            return Err(format!(
                "there is a host named {name} already; `sidekick hosts rm {name}` first"
            ));
        }
        let mut entry = toml_edit::Table::new();
        entry.insert("destination", toml_edit::value(destination));
        hosts.insert(name, toml_edit::Item::Table(entry));
        Ok(())
    })
}

/// Removes host `name` (and the default when it named it).
pub fn remove_host(path: &Path, name: &str) -> Result<()> {
    edit_hosts(path, |doc| {
        let hosts = doc
            .get_mut("hosts")
            .and_then(|h| h.as_table_mut())
            .ok_or_else(|| format!("there is no host named {name}"))?;
        if hosts.remove(name).is_none() {
            return Err(format!("there is no host named {name}"));
        }
        if hosts.get("default").and_then(|d| d.as_str()) == Some(name) {
            hosts.remove("default");
        }
        Ok(())
    })
}

fn edit_hosts(
    path: &Path,
    f: impl FnOnce(&mut toml_edit::DocumentMut) -> std::result::Result<(), String>,
) -> Result<()> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = read_optional(path)?.unwrap_or_default();
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| invalid(format!("{e}")))?;
    f(&mut doc).map_err(invalid)?;
    let new = doc.to_string();
    Config::parse(&new, path)?;
    write(path, &new)
}

/// Replaces the file by rename (a reader sees the old or the new text, never half), keeping a
/// symlinked config (dotfiles) a symlink: its target is replaced.
fn write(path: &Path, text: &str) -> Result<()> {
    let target: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other(format!("{} has no folder", target.display())))?;
    // A folder of the user's own (a dotfiles checkout) keeps its permissions.
    if !dir.exists() {
        sidekick_protocol::private::dir(dir)?;
    }
    let tmp = dir.join(format!(
        ".{}.sidekick-{}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    // Written and on disk before it replaces the file; on any failure (a full disk) the
    // file is as it was and the half-written copy goes.
    let replaced = sidekick_protocol::private::write(&tmp, text)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &target));
    if let Err(e) = replaced {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: Option<&str>) -> SettingValue {
        SettingValue {
            key: key.into(),
            value: value.map(str::to_string),
        }
    }

    const FILE: &str = "# my settings\nmax_running = 2 # two at most\n\n[notifications]\n# quiet please\nquiet_under = \"30s\"\n\n[agents.mine]\ncommand = [\"my-agent\", \"{task}\"]\n";

    #[test]
    fn a_change_keeps_comments_and_every_other_key() {
        let out = apply(
            FILE,
            &[
                set("max_running", Some("5")),
                set("notifications.quiet_under", None),
                set("notifications.enabled", Some("false")),
                set("agents.claude.permission", Some("bypassPermissions")),
                set("timeout", Some("45m")),
            ],
        )
        .expect("applied");
        assert!(
            out.starts_with("# my settings\nmax_running = 5 # two at most\n"),
            "{out}"
        );
        assert!(out.contains("# quiet please\n"), "{out}");
        assert!(!out.contains("quiet_under"), "{out}");
        assert!(out.contains("enabled = false"), "{out}");
        assert!(
            out.contains("[agents.mine]\ncommand = [\"my-agent\", \"{task}\"]"),
            "{out}"
        );
        assert!(
            out.contains("[agents.claude]\npermission = \"bypassPermissions\""),
            "{out}"
        );
        assert!(!out.contains("[agents]\n"), "no empty parent table: {out}");
        let c = Config::parse(&out, Path::new("c.toml")).expect("the host reads it");
        assert_eq!(c.max_running, 5);
        assert_eq!(c.default_timeout_ms, 45 * 60 * 1000);
        assert!(!c.notifications.enabled);
    }

    #[test]
    fn a_comment_heading_the_file_stays_at_its_head() {
        let text = "# Sidekick, my way\n# (see the README)\n\n# quiet\n[notifications]\nquiet_under = \"30s\"\n";
        let out = apply(text, &[set("max_running", Some("4"))]).expect("applied");
        assert_eq!(
            out,
            "# Sidekick, my way\n# (see the README)\nmax_running = 4\n\n# quiet\n[notifications]\nquiet_under = \"30s\"\n"
        );
    }

    #[test]
    fn bad_keys_and_values_are_one_sentence_and_change_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("config.toml");
        std::fs::write(&path, FILE).expect("write");
        for (one, says) in [
            (
                set("max_running", Some("lots")),
                "max_running: 'lots' is not a whole number",
            ),
            (
                set("max_running", Some("0")),
                "max_running must be at least 1",
            ),
            (set("sandbox", Some("maybe")), "sandbox is 'maybe'"),
            (set("timeout", Some("soon")), "timeout"),
            (
                set("agents.x y.permission", Some("ask")),
                "not a setting the app changes",
            ),
            (
                set("agents.mine.command", Some("rm")),
                "not a setting the app changes",
            ),
            (
                set("notifications.enabled", Some("yes")),
                "neither true nor false",
            ),
        ] {
            let e = change(&path, &[one]).expect_err(says).to_string();
            assert!(e.contains(says), "{e}");
            assert!(e.contains(&path.display().to_string()), "{e}");
            assert_eq!(std::fs::read_to_string(&path).expect("read"), FILE);
        }
    }

    #[test]
    fn every_bad_field_gets_its_own_sentence_at_once() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("config.toml");
        std::fs::write(&path, FILE).expect("write");
        let e = change(
            &path,
            &[
                set("max_running", Some("lots")),
                set("timeout", Some("20m")),
                set("agents.claude.permission", Some("yolo")),
                set("agents.aider.permission", Some("ask")),
            ],
        )
        .expect_err("refused");
        let ConfigError::Settings { fields, .. } = &e else {
            panic!("a settings refusal: {e}");
        };
        let got: Vec<(&str, &str)> = fields
            .iter()
            .map(|f| (f.key.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("max_running", "'lots' is not a whole number"),
                (
                    "agents.claude.permission",
                    "'yolo' is not one of claude's modes (ask, default, manual, acceptEdits, plan, auto, dontAsk, bypassPermissions)"
                ),
                ("agents.aider.permission", "aider takes no permission setting"),
            ]
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), FILE);
        // The modes are offered: each built-in agent's own.
        let s = read(&path).expect("settings");
        let modes = |n: &str| {
            s.agents
                .iter()
                .find(|a| a.name == n)
                .map(|a| a.modes.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            modes("codex"),
            ["ask", "read-only", "workspace-write", "danger-full-access"]
        );
        assert!(modes("aider").is_empty());
    }

    #[test]
    fn a_symlinked_config_stays_a_symlink() {
        let tmp = tempfile::tempdir().expect("tmp");
        let real = tmp.path().join("dotfiles/sidekick.toml");
        std::fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
        std::fs::write(&real, FILE).expect("write");
        let link = tmp.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let s = change(&link, &[set("warm_worktrees", Some("2"))]).expect("changed");
        assert_eq!(s.warm_worktrees, 2);
        assert!(std::fs::symlink_metadata(&link)
            .expect("meta")
            .file_type()
            .is_symlink());
        assert!(std::fs::read_to_string(&real)
            .expect("read")
            .contains("warm_worktrees = 2"));
        let leftovers: Vec<_> = std::fs::read_dir(real.parent().expect("dir"))
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }

    #[test]
    fn on_a_full_disk_the_file_stays_as_it_was_and_nothing_is_left_behind() {
        let tmp = tempfile::tempdir().expect("tmp");
        let disk = tmp.path().join("disk");
        std::fs::create_dir(&disk).expect("mkdir");
        // A tmpfs of 64 KiB (the tests run as root, as CI does).
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&disk)
            .status()
            .expect("mount runs");
        assert!(mounted.success(), "mounting a tmpfs needs root (as CI has)");
        struct Unmount<'a>(&'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount")
                    .arg("-l")
                    .arg(self.0)
                    .status();
            }
        }
        let _unmount = Unmount(&disk);
        let path = disk.join("config.toml");
        std::fs::write(&path, FILE).expect("write");
        // Fill what is left.
        let mut ballast = std::fs::File::create(disk.join("ballast")).expect("ballast");
        let block = vec![b'x'; 4096];
        while std::io::Write::write_all(&mut ballast, &block).is_ok() {}
        let e = change(&path, &[set("max_running", Some("5"))]).expect_err("no room");
        assert!(e.to_string().to_lowercase().contains("space"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), FILE);
        let mut names: Vec<_> = std::fs::read_dir(&disk)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ballast", "config.toml"]);
    }

    #[test]
    fn settings_read_back_what_the_file_says_and_the_defaults() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("config.toml");
        let s = read(&path).expect("defaults without a file");
        assert_eq!((s.max_running, s.timeout.as_str()), (3, "30m00s"));
        assert!(s
            .agents
            .iter()
            .any(|a| a.name == "claude" && a.builtin && a.permission.is_none()));
        std::fs::write(&path, FILE).expect("write");
        let s = read(&path).expect("read");
        assert_eq!(s.max_running, 2);
        assert_eq!(s.notifications.quiet_under, "30s");
        assert!(s.agents.iter().any(|a| a.name == "mine" && !a.builtin));
    }
}
