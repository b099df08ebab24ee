//! Sidekick's forges (issue 31): which forge a repository's remote is on, the user's token for
//! it, and the forge's REST API for pull requests, checks and issues.
//!
//! - [`remote`]: a git remote URL (`https://`, `ssh://`, `git@host:owner/repo`) read as a
//!   forge, a host, an owner and a repository, GitHub or GitLab by its host.
//! - [`token`]: the user's token, from the environment, the forge's own CLI or its
//!   [`keyring`] entry, never stored.
//! - [`api`]: one forge's API root with a token; every failure as one sentence
//!   ([`ForgeError`]), conditional requests, rate limits.
//! - [`pull`]: what Sidekick asks of a forge ([`Forge`]), answered by [`github`] (REST v3) and
//!   [`gitlab`] (REST v4) in the same terms.

pub mod api;
pub mod github;
pub mod gitlab;
pub mod keyring;
pub mod pull;
pub mod remote;
pub mod token;

pub use api::{ForgeError, Fresh};
pub use pull::{Forge, Issue, NewPull, Pull, PullChange};
pub use remote::{ForgeKind, Hosts, Remote, RemoteError};
pub use token::{token_for, Token, TokenSource};

/// The forge of `remote`, through its API at `api_url`, with `token`.
pub fn connect(remote: &Remote, api_url: &str, token: Token) -> Box<dyn Forge> {
    let api = api::Api::new(remote.kind, api_url, token);
    match remote.kind {
        ForgeKind::GitHub => Box::new(github::GitHub::new(api, remote)),
        ForgeKind::GitLab => Box::new(gitlab::GitLab::new(api, remote)),
    }
}
