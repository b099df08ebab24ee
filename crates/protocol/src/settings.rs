//! The host-wide settings the app reads and changes.

use serde::{Deserialize, Serialize};

use crate::SandboxMode;

/// `GET /v1/settings`: the host-wide settings the app edits, as the config file makes them now
/// (defaults where it says nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Settings {
    /// The config file they live in.
    pub file: String,
    pub max_running: u64,
    /// The default timeout of a job (`timeout`), as a duration (`30m00s`).
    pub timeout: String,
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
    pub warm_worktrees: u32,
    pub sandbox: SandboxMode,
    pub sandbox_network: bool,
    pub notifications: NotificationSettings,
    /// Every agent profile, with what the file sets for it.
    pub agents: Vec<AgentSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NotificationSettings {
    pub enabled: bool,
    pub quiet_under: String,
    pub prominent_over: String,
    pub burst_window: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AgentSettings {
    pub name: String,
    pub builtin: bool,
    /// A built-in agent's own permission modes (`ask` first where Sidekick carries its
    /// approvals); empty where any value goes (a user's own command) or none does.
    #[serde(default)]
    pub modes: Vec<String>,
    /// `[agents.NAME] permission`; `None`: the agent's default.
    pub permission: Option<String>,
    pub timeout: Option<String>,
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
}

/// `PUT /v1/settings`: keys of the config file to set (`max_running`,
/// `notifications.quiet_under`, `agents.claude.permission`, ...), each to a value as the file
/// would spell it, or back to the default (`value: None`). Checked by the same code that reads
/// the file; everything else in the file (comments, other keys) stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingsChange {
    pub changes: Vec<SettingValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SettingValue {
    pub key: String,
    pub value: Option<String>,
}
