//! Sidekick's forges (issue 31, first step): which forge a repository's remote is on, and the
//! user's token for it. The pull-request and check clients will live here too.
//!
//! - [`remote`]: a git remote URL (`https://`, `ssh://`, `git@host:owner/repo`) read as a
//!   forge, a host, an owner and a repository, GitHub or GitLab by its host.
//! - [`token`]: the user's token, from the environment or the forge's own CLI, never stored.

pub mod remote;
pub mod token;

pub use remote::{ForgeKind, Hosts, Remote, RemoteError};
pub use token::{token_for, Token, TokenSource};
