//! Agent profiles: how to start each agent.
//!
//! The built-in `shell` profile runs the task with `sh -c` (the task *is* a shell command).
//! Every other profile is a command template run without a shell: `{task}` inside an argument
//! is replaced by the task text, so the task always stays inside its one argument and can never
//! inject a command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sidekick_protocol::AgentInfo;

use crate::config::{AgentConfig, Config};

pub const SHELL: &str = "shell";
pub const TASK_PLACEHOLDER: &str = "{task}";

/// A profile ready to turn a task into a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub builtin: bool,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout_ms: Option<u64>,
}

impl Profile {
    /// The argv for a task.
    pub fn argv(&self, task: &str) -> Vec<String> {
        self.command
            .iter()
            .map(|arg| arg.replace(TASK_PLACEHOLDER, task))
            .collect()
    }
}

fn shell_profile() -> Profile {
    Profile {
        name: SHELL.into(),
        builtin: true,
        command: vec!["sh".into(), "-c".into(), TASK_PLACEHOLDER.into()],
        env: BTreeMap::new(),
        timeout_ms: None,
    }
}

/// All profiles: built-ins first (a user profile of the same name replaces the built-in), then
/// the user's in name order.
pub fn profiles(config: &Config) -> Vec<Profile> {
    let mut out = Vec::new();
    if !config.agents.contains_key(SHELL) {
        out.push(shell_profile());
    }
    for (name, a) in &config.agents {
        out.push(user_profile(name, a));
    }
    out
}

fn user_profile(name: &str, a: &AgentConfig) -> Profile {
    Profile {
        name: name.into(),
        builtin: false,
        command: a.command.clone(),
        env: a.env.clone(),
        timeout_ms: a.timeout_ms,
    }
}

/// The profile called `name`.
pub fn find(config: &Config, name: &str) -> Option<Profile> {
    profiles(config).into_iter().find(|p| p.name == name)
}

/// Where `program` would be found, the way the host's `Command` looks it up.
pub fn locate(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// What `sidekick agents` shows for a profile.
pub fn info(profile: &Profile) -> AgentInfo {
    let program = profile.command.first().cloned().unwrap_or_default();
    let path = locate(&program);
    let problem = match &path {
        Some(_) => None,
        None if program.contains('/') => Some(format!("{program} is not an executable file")),
        None => Some(format!("{program} was not found on PATH")),
    };
    AgentInfo {
        name: profile.name.clone(),
        builtin: profile.builtin,
        command: profile.command.clone(),
        installed: path.is_some(),
        path: path.map(|p| p.display().to_string()),
        problem,
        timeout_ms: profile.timeout_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(name: &str, command: &[&str]) -> Config {
        let mut c = Config::default();
        c.agents.insert(
            name.into(),
            AgentConfig {
                command: command.iter().map(|s| s.to_string()).collect(),
                env: BTreeMap::new(),
                timeout_ms: Some(5_000),
            },
        );
        c
    }

    #[test]
    fn shell_runs_the_task_as_a_script() {
        let p = find(&Config::default(), SHELL).expect("shell is built in");
        assert_eq!(p.argv("echo $HOME; ls"), vec!["sh", "-c", "echo $HOME; ls"]);
    }

    #[test]
    fn user_profiles_keep_the_task_in_one_argument() {
        let c = config_with("echoer", &["printf", "%s", "--prompt={task}", "{task}"]);
        let p = find(&c, "echoer").expect("profile");
        let task = "a; rm -rf / $(id) `x` \"q\" 'y'";
        assert_eq!(
            p.argv(task),
            vec![
                "printf".to_string(),
                "%s".into(),
                format!("--prompt={task}"),
                task.into()
            ]
        );
        assert_eq!(p.timeout_ms, Some(5_000));
        assert!(find(&c, "nope").is_none());
        let names: Vec<String> = profiles(&c).into_iter().map(|p| p.name).collect();
        assert_eq!(names, vec!["shell", "echoer"]);
    }

    #[test]
    fn reports_whether_the_program_is_installed() {
        let c = config_with("missing", &["surely-not-a-program-xyz", "{task}"]);
        let missing = info(&find(&c, "missing").expect("profile"));
        assert!(!missing.installed);
        assert!(missing
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("not found on PATH")));
        let sh = info(&find(&c, SHELL).expect("shell"));
        assert!(sh.installed && sh.problem.is_none() && sh.path.is_some());
        let dir = tempfile::tempdir().expect("tempdir");
        let plain_file = dir.path().join("not-a-program");
        std::fs::write(&plain_file, "data").expect("write");
        let abs = config_with("abs", &[plain_file.to_str().expect("utf-8 path")]);
        let not_exec = info(&find(&abs, "abs").expect("profile"));
        assert!(!not_exec.installed);
        assert!(not_exec
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("not an executable")));
    }
}
