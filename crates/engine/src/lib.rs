//! Sidekick's engine: the job lifecycle — a job born, scheduled, run in its own worktree by its
//! agent, reviewed and merged. No HTTP, no GUI, no SQL (the store is `sidekick-store`), no git
//! plumbing (`sidekick-git`); agents are `sidekick-agents`, configuration `sidekick-config`.
//!
//! The host owns one [`Engine`], which holds the owners: the ledger (records and events), the
//! scheduler, the dialogs, the reviews and the pools. The database is the truth; what is kept
//! in memory is each live job's stop handle and dialog, open repositories and warm worktrees.

pub(crate) mod automerge;
mod clock;
mod doctor;
mod engine;
mod error;
pub(crate) mod ids;
pub(crate) mod jobs;
mod ledger;
pub mod notify;
mod output;
pub(crate) mod pool;
pub(crate) mod process;
mod pulls;
mod runner;
mod runtime;
pub(crate) mod sandbox;

pub use clock::{Clock, SystemClock};
pub use doctor::{
    agent_infos, agents_online, check_database, mcp_config, sandbox_available, OnlineOutcome,
};
pub use engine::{Engine, EngineOptions};
pub use error::{EngineError, Result};
pub(crate) use jobs::messages::StopReason;
pub(crate) use jobs::schedule::Scheduler;
pub(crate) use runtime::{blocking, human, lock, path_string, REBASE_LOOK};
pub use runtime::{limit_malloc_arenas, release_memory, REPO_IDLE, STOP_GRACE};
pub use sidekick_config::McpConfig;
pub(crate) use sidekick_git as review;
pub use sidekick_git::Refusal;
/// The git work (repository, worktrees, diffs, merges, review operations) lives in its own
/// crate; these names keep the engine's paths short.
pub(crate) use sidekick_git::{copy, repo};
pub use sidekick_protocol::private;
pub use sidekick_protocol::Home;

#[cfg(test)]
mod tests;
