//! Sidekick's configuration, as data: read when it is needed (so an edit applies without a
//! restart), checked with one sentence naming the file and the key when it is wrong. No
//! database, no git, no engine.
//!
//! - [`user`]: the user's `config.toml` ([`Config`]: limits, agents, sandbox, MCP, diff caps).
//! - [`repo`]: a repository's `.sidekick/config.toml` ([`RepoConfig`]).
//! - [`settings`]: what the app edits, written back with `toml_edit`, field by field.
//! - [`trust`]: a repository's configuration read once and hashed; the user's trust records.
//! - [`tasks`]: task types (`.sidekick/tasks/NAME/task.toml`) and their rendering.
//! - [`notifications`]: the `[notifications]` policy; [`paths`]: `[auto_merge] paths` patterns.
//! - [`forges`]: `[github]`, `[gitlab]` and `[pr]`.

mod error;
pub mod forges;
pub mod hosts;
pub mod notifications;
pub mod paths;
pub mod repo;
pub mod settings;
pub mod tasks;
pub mod trust;
pub mod user;

pub use error::{read_optional, ConfigError};
pub use forges::{ForgeConfig, ForgesConfig, PrConfig, PrOpen};
pub use notifications::Policy;
pub use repo::{AutoMergeConfig, RepoConfig};
pub use user::{
    Config, McpConfig, SandboxConfig, DEFAULT_GC_AFTER_MS, DEFAULT_MAX_CHILDREN, DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_RUNNING, DEFAULT_TIMEOUT_MS, DEFAULT_WARM_WORKTREES,
};

#[cfg(test)]
mod tests;
