//! Sidekick's agents: what each one is, how to start it, and how to read and answer it. No
//! database, no git, no engine: the engine runs a [`Profile`] and feeds its output lines to a
//! [`Parser`]; an agent that asks speaks a [`dialect::Dialect`].
//!
//! - [`profile`]: the built-in agents (claude, codex, gemini, aider, shell), the user's own
//!   command profiles, and the `[agents.NAME]` settings that shape them.
//! - [`probe`]: whether an agent is installed, its version, `doctor --online`'s probe;
//!   [`locate`]: where a program would be found.
//! - [`parse`]: each output format's lines turned into steps, usage and a summary.
//! - [`dialect`]: what Sidekick writes on the stdin of an agent that asks.
//! - [`preview`]: what an agent's request would do, from its own input.

pub mod dialect;
pub mod locate;
pub mod parse;
pub mod preview;
pub mod probe;
pub mod profile;

pub use locate::{locate, locate_in};
pub use parse::{Format, Parsed, Parser};
pub use probe::{info, online};
pub use profile::{
    default_for, expose_sidekick, find, permission_modes, profiles, reads_words, AgentConfig,
    Agents, Profile, ASK, ASKING_AGENTS, BUILTIN_AGENTS, SANDBOX_CACHES, SHELL,
};
