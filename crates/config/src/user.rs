//! Configuration: the user's `config.toml` (host-wide) and a repo's `.sidekick/config.toml`.
//! Both are read when they are needed, so edits apply without restarting the host.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use sidekick_agents::{
    permission_modes, AgentConfig, Agents, Profile, ASK as ASK_PERMISSION, ASKING_AGENTS,
    BUILTIN_AGENTS,
};
use sidekick_protocol::{parse_duration, SandboxMode};

use sidekick_protocol::DiffLimits;

use crate::error::{one_line, read_optional, ConfigError};

pub const DEFAULT_MAX_RUNNING: usize = 3;
pub const DEFAULT_TIMEOUT_MS: u64 = 30 * 60 * 1000;

/// The host-wide configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub max_running: usize,
    pub default_timeout_ms: u64,
    pub agents: Agents,
    /// `[diff]`: caps that keep huge diffs from hanging.
    pub diff: DiffLimits,
    /// `gc_after`: `sidekick gc` removes the worktrees of jobs that ended this long ago.
    pub gc_after_ms: u64,
    /// `[notifications]`: when a finished job raises a desktop notification.
    pub notifications: crate::Policy,
    /// Default budgets for every job (a profile's, a task type's or the job's own come first).
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
    /// `[merge] hooks`: run the repository's pre-commit and commit-msg hooks on the commit a
    /// merge puts on the user's branch (off by default: Sidekick's commits skip hooks).
    pub merge_hooks: bool,
    /// `answer_timeout`: a request nobody answers this long is denied (none by default).
    pub answer_timeout_ms: Option<u64>,
    /// `max_depth`: how deep sidekicks may nest (a job's child is one level deeper).
    pub max_depth: u32,
    /// `max_children`: how many sidekicks one job may start in all.
    pub max_children: u32,
    /// `[mcp]`: the MCP server's settings.
    pub mcp: McpConfig,
    /// `warm_worktrees`: how many worktrees each repository with jobs keeps checked out ahead,
    /// so a job starts without a checkout (a repository's own config may say otherwise).
    pub warm_worktrees: u32,
    /// `sandbox`, `sandbox_hide`, `sandbox_network`: how jobs' processes are confined.
    pub sandbox: SandboxConfig,
    /// `agent`: the agent a job runs when it names none and its repository names none (else
    /// the first installed coding agent; see `agents::default_for`).
    pub agent: Option<String>,
    /// `[github]`, `[gitlab]`: the forges' APIs and hosts, how often a pull request is looked at.
    pub forges: crate::forges::ForgesConfig,
    /// `[pr]`: pull requests opened by themselves, CI failures handed back.
    pub pr: crate::forges::PrConfig,
    /// `[hosts]`, `[ssh]`: other machines jobs may run on, and how ssh reaches them.
    pub hosts: crate::hosts::HostsConfig,
}

/// The host-wide sandbox settings (an agent's `sandbox` and the job's own come first).
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// `None`: `auto`.
    pub mode: Option<SandboxMode>,
    /// Paths hidden from every sandboxed job, besides `~/.ssh`, `~/.gnupg` and `~/.aws` (`~/`
    /// is the user's home).
    pub hide: Vec<String>,
    /// Jobs reach the network (on by default).
    pub network: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            mode: None,
            hide: Vec::new(),
            network: true,
        }
    }
}

/// `[mcp]`: what `sidekick mcp` offers its clients.
#[derive(Debug, Clone, PartialEq)]
pub struct McpConfig {
    /// `allow_merge`: offer a `merge` tool (off by default: a person merges).
    pub allow_merge: bool,
    /// `allow_pr`: offer a `pr` tool that pushes a job's branch and opens its pull request
    /// (off by default: a person decides what goes to the forge).
    pub allow_pr: bool,
    /// `expose_to_jobs`: jobs of claude, codex and gemini get the Sidekick MCP server, so
    /// sidekicks can start sidekicks (on by default).
    pub expose_to_jobs: bool,
    /// `any_job`: `cancel`, `reply` and `merge` act on any job, not only on those the session
    /// started and their children (off by default).
    pub any_job: bool,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            allow_merge: false,
            allow_pr: false,
            expose_to_jobs: true,
            any_job: false,
        }
    }
}

pub const DEFAULT_MAX_DEPTH: u32 = 3;
/// How many sidekicks one job may start (`max_children`).
pub const DEFAULT_MAX_CHILDREN: u32 = 10;
/// Warm worktrees per repository with jobs (`warm_worktrees`).
pub const DEFAULT_WARM_WORKTREES: u32 = 1;
/// More warm worktrees than this per repository is a mistake (each is a full checkout).
const MAX_WARM_WORKTREES: u32 = 8;

pub const DEFAULT_GC_AFTER_MS: u64 = 7 * 24 * 3600 * 1000;

impl Default for Config {
    fn default() -> Self {
        Config {
            max_running: DEFAULT_MAX_RUNNING,
            default_timeout_ms: DEFAULT_TIMEOUT_MS,
            agents: BTreeMap::new(),
            diff: DiffLimits::default(),
            gc_after_ms: DEFAULT_GC_AFTER_MS,
            notifications: crate::Policy::default(),
            max_steps: None,
            token_budget: None,
            merge_hooks: false,
            answer_timeout_ms: None,
            max_depth: DEFAULT_MAX_DEPTH,
            max_children: DEFAULT_MAX_CHILDREN,
            mcp: McpConfig::default(),
            warm_worktrees: DEFAULT_WARM_WORKTREES,
            sandbox: SandboxConfig::default(),
            agent: None,
            forges: Default::default(),
            hosts: Default::default(),
            pr: Default::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    agent: Option<String>,
    max_running: Option<usize>,
    timeout: Option<String>,
    gc_after: Option<String>,
    answer_timeout: Option<String>,
    #[serde(default)]
    agents: BTreeMap<String, RawAgent>,
    diff: Option<RawDiff>,
    notifications: Option<RawNotifications>,
    max_steps: Option<u64>,
    token_budget: Option<u64>,
    merge: Option<RawMerge>,
    max_depth: Option<u32>,
    max_children: Option<u32>,
    mcp: Option<RawMcp>,
    warm_worktrees: Option<u32>,
    sandbox: Option<String>,
    sandbox_hide: Option<Vec<String>>,
    sandbox_network: Option<bool>,
    /// `[open]`: the desktop app's "Open in editor" and "Open terminal here" commands. The
    /// app reads them itself; the host only checks them.
    open: Option<RawOpen>,
    github: Option<crate::forges::RawForge>,
    gitlab: Option<crate::forges::RawForge>,
    pr: Option<crate::forges::RawPr>,
    hosts: Option<toml::Table>,
    ssh: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpen {
    editor: Option<Vec<String>>,
    terminal: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMcp {
    allow_merge: Option<bool>,
    allow_pr: Option<bool>,
    expose_to_jobs: Option<bool>,
    any_job: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerge {
    hooks: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifications {
    enabled: Option<bool>,
    quiet_under: Option<String>,
    prominent_over: Option<String>,
    burst_window: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiff {
    max_file_bytes: Option<u64>,
    max_file_lines: Option<usize>,
    max_total_lines: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    timeout: Option<String>,
    permission: Option<String>,
    format: Option<String>,
    max_steps: Option<u64>,
    token_budget: Option<u64>,
    sandbox: Option<String>,
    #[serde(default)]
    sandbox_write: Vec<String>,
}

/// A `sandbox` value: `worktree`, `auto` or `off`.
fn sandbox_mode(value: Option<&str>, key: &str) -> Result<Option<SandboxMode>, String> {
    match value {
        None => Ok(None),
        Some(v) => SandboxMode::parse(v)
            .map(Some)
            .ok_or_else(|| format!("{key} is '{v}'; it is one of worktree, auto, off")),
    }
}

/// Sandbox paths are absolute or under the user's home (`~/...`).
fn sandbox_paths(paths: Vec<String>, key: &str) -> Result<Vec<String>, String> {
    for p in &paths {
        if !(p.starts_with('/') || p.starts_with("~/")) {
            return Err(format!(
                "{key}: '{p}' is neither absolute nor under ~/ (the user's home)"
            ));
        }
    }
    Ok(paths)
}

/// One `[agents.NAME]` table checked: a command that names a program (or settings of a
/// built-in), a known format, one of the agent's own permission modes, a sandbox and its paths.
fn agent_config(name: &str, a: RawAgent) -> Result<AgentConfig, String> {
    let settings_only = a.command.is_empty() && BUILTIN_AGENTS.contains(&name);
    if !settings_only && a.command.first().is_none_or(|p| p.is_empty()) {
        return Err(format!("agents.{name}.command must name a program"));
    }
    // The shell agent has no output to parse and nothing to ask: settings it would
    // ignore are refused, not accepted silently.
    if name == sidekick_agents::SHELL && a.command.is_empty() {
        let ignored: Vec<&str> = [
            ("permission", a.permission.is_some()),
            ("format", a.format.is_some()),
            ("max_steps", a.max_steps.is_some()),
            ("token_budget", a.token_budget.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
        if !ignored.is_empty() {
            return Err(format!(
                "agents.shell.{} does not apply to the shell agent (it takes env, timeout, sandbox and sandbox_write, or a command of its own)",
                ignored.join(", agents.shell.")
            ));
        }
    }
    let format = match &a.format {
        None => None,
        Some(f) => match sidekick_agents::parse::Format::from_name(f) {
            sidekick_agents::parse::Format::Plain if f != "plain" => {
                return Err(format!(
                    "agents.{name}.format: unknown format '{f}' (plain, claude-stream-json, codex-json, gemini-stream-json, aider-text)"
                ))
            }
            known => Some(known),
        },
    };
    let timeout_ms = match &a.timeout {
        Some(t) => Some(parse_duration(t).map_err(|e| format!("agents.{name}.timeout: {e}"))?),
        None => None,
    };
    // A built-in agent's permission is one of its own modes: anything else would reach
    // its command line (`--permission-mode yolo`) and fail there, or worse.
    if let (Some(p), Some(modes), true) = (
        a.permission.as_deref(),
        permission_modes(name),
        a.command.is_empty(),
    ) {
        if modes.is_empty() {
            return Err(format!(
                "agents.{name}.permission: {name} takes no permission setting"
            ));
        }
        if !modes.contains(&p) {
            return Err(format!(
                "agents.{name}.permission: '{p}' is not one of {name}'s modes ({})",
                modes.join(", ")
            ));
        }
    }
    // Only an agent whose approvals Sidekick can carry may ask; any other would get
    // `ask` as a mode it does not know.
    if a.permission.as_deref() == Some(ASK_PERMISSION) && !ASKING_AGENTS.contains(&name) {
        return Err(format!(
            "agents.{name}.permission: `ask` works for {} so far; use one of {name}'s own modes",
            ASKING_AGENTS.join(", ")
        ));
    }
    let sandbox = sandbox_mode(a.sandbox.as_deref(), &format!("agents.{name}.sandbox"))?;
    let sandbox_write = sandbox_paths(a.sandbox_write, &format!("agents.{name}.sandbox_write"))?;
    Ok(AgentConfig {
        command: a.command,
        env: a.env,
        timeout_ms,
        permission: a.permission,
        format,
        max_steps: a.max_steps,
        token_budget: a.token_budget,
        sandbox,
        sandbox_write,
    })
}

impl Config {
    /// Every agent profile: the built-ins with the user's settings, then the user's own.
    pub fn profiles(&self) -> Vec<Profile> {
        sidekick_agents::profiles(&self.agents)
    }

    /// The profile a job of agent `name` runs with (with Sidekick's MCP server where `[mcp]
    /// expose_to_jobs` says so).
    pub fn profile(&self, name: &str) -> Option<Profile> {
        sidekick_agents::find(&self.agents, name, self.mcp.expose_to_jobs)
    }

    /// The agent a job runs when it names none (the repository's `agent`, the user's, else the
    /// first installed coding agent; see `sidekick_agents::default_for`).
    pub fn default_agent(&self, repo_agent: Option<&str>) -> Result<String, String> {
        sidekick_agents::default_for(&self.agents, repo_agent.or(self.agent.as_deref()))
    }

    /// Reads the config file; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match read_optional(path)? {
            None => Ok(Config::default()),
            Some(text) => Config::parse(&text, path),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| invalid(one_line(&e)))?;
        if let Some(open) = &raw.open {
            for (key, argv) in [("editor", &open.editor), ("terminal", &open.terminal)] {
                if argv
                    .as_ref()
                    .is_some_and(|a| a.first().is_none_or(|p| p.trim().is_empty()))
                {
                    return Err(invalid(format!("open.{key} must name a program")));
                }
            }
        }
        let max_running = raw.max_running.unwrap_or(DEFAULT_MAX_RUNNING);
        if max_running == 0 {
            return Err(invalid("max_running must be at least 1".into()));
        }
        let default_timeout_ms = match &raw.timeout {
            Some(t) => parse_duration(t).map_err(|e| invalid(format!("timeout: {e}")))?,
            None => DEFAULT_TIMEOUT_MS,
        };
        let mut agents = BTreeMap::new();
        for (name, a) in raw.agents {
            let config = agent_config(&name, a).map_err(invalid)?;
            agents.insert(name, config);
        }
        let mut diff = DiffLimits::default();
        if let Some(d) = raw.diff {
            diff.max_file_bytes = d.max_file_bytes.unwrap_or(diff.max_file_bytes);
            diff.max_file_lines = d.max_file_lines.unwrap_or(diff.max_file_lines);
            diff.max_total_lines = d.max_total_lines.unwrap_or(diff.max_total_lines);
        }
        let gc_after_ms = match &raw.gc_after {
            Some(t) => parse_duration(t).map_err(|e| invalid(format!("gc_after: {e}")))?,
            None => DEFAULT_GC_AFTER_MS,
        };
        let mut notifications = crate::Policy::default();
        if let Some(n) = raw.notifications {
            let ms = |key: &str, v: &Option<String>, default: u64| match v {
                Some(t) => {
                    parse_duration(t).map_err(|e| invalid(format!("notifications.{key}: {e}")))
                }
                None => Ok(default),
            };
            notifications = crate::Policy {
                enabled: n.enabled.unwrap_or(notifications.enabled),
                quiet_under_ms: ms("quiet_under", &n.quiet_under, notifications.quiet_under_ms)?,
                prominent_over_ms: ms(
                    "prominent_over",
                    &n.prominent_over,
                    notifications.prominent_over_ms,
                )?,
                burst_window_ms: ms(
                    "burst_window",
                    &n.burst_window,
                    notifications.burst_window_ms,
                )?,
            };
        }
        let sandbox = SandboxConfig {
            mode: sandbox_mode(raw.sandbox.as_deref(), "sandbox").map_err(invalid)?,
            hide: sandbox_paths(raw.sandbox_hide.unwrap_or_default(), "sandbox_hide")
                .map_err(invalid)?,
            network: raw.sandbox_network.unwrap_or(true),
        };
        let (forges, pr) = crate::forges::parse(raw.github, raw.gitlab, raw.pr).map_err(invalid)?;
        let hosts = crate::hosts::parse(raw.hosts, raw.ssh).map_err(invalid)?;
        Ok(Config {
            hosts,
            forges,
            pr,
            sandbox,
            max_running,
            default_timeout_ms,
            agents,
            diff,
            gc_after_ms,
            notifications,
            max_steps: raw.max_steps,
            token_budget: raw.token_budget,
            merge_hooks: raw.merge.and_then(|m| m.hooks).unwrap_or(false),
            answer_timeout_ms: match &raw.answer_timeout {
                Some(t) => {
                    Some(parse_duration(t).map_err(|e| invalid(format!("answer_timeout: {e}")))?)
                }
                None => None,
            },
            max_children: match raw.max_children {
                Some(0) => return Err(invalid("max_children must be at least 1".into())),
                Some(n) => n,
                None => DEFAULT_MAX_CHILDREN,
            },
            max_depth: match raw.max_depth {
                Some(0) => return Err(invalid("max_depth must be at least 1".into())),
                Some(d) => d,
                None => DEFAULT_MAX_DEPTH,
            },
            warm_worktrees: match raw.warm_worktrees {
                Some(n) if n > MAX_WARM_WORKTREES => {
                    return Err(invalid(format!(
                    "warm_worktrees is {n}; at most {MAX_WARM_WORKTREES} (each is a full checkout)"
                )))
                }
                Some(n) => n,
                None => DEFAULT_WARM_WORKTREES,
            },
            agent: match raw.agent {
                Some(a) if a.trim().is_empty() => {
                    return Err(invalid(
                        "agent must name an agent (see `sidekick agents`)".into(),
                    ))
                }
                a => a,
            },
            mcp: McpConfig {
                allow_merge: raw
                    .mcp
                    .as_ref()
                    .and_then(|m| m.allow_merge)
                    .unwrap_or(false),
                allow_pr: raw.mcp.as_ref().and_then(|m| m.allow_pr).unwrap_or(false),
                expose_to_jobs: raw
                    .mcp
                    .as_ref()
                    .and_then(|m| m.expose_to_jobs)
                    .unwrap_or(true),
                any_job: raw.mcp.as_ref().and_then(|m| m.any_job).unwrap_or(false),
            },
        })
    }
}
