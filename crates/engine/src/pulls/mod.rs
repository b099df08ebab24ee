//! A job's pull request (issue 31): its branch pushed with the system git, the pull request
//! opened on the repository's forge or the open one updated ([`open`]), then watched while it
//! is open ([`watch`]): its state, checks and review on the job, failing checks handed back to
//! the agent (`[pr] fix_ci`, `pr --fix`).
//!
//! [`Pulls`] owns what this needs in memory and nowhere else: the tokens clients sent (per
//! forge host, never written), the ETag of each pull request last seen, and when a forge's
//! rate limit lets the host ask again.

mod open;
mod push;
mod watch;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sidekick_config::Config;
use sidekick_forge::{Forge, ForgeError, ForgeKind, Hosts, Remote, Token};

use crate::ledger::Ledger;
use crate::{lock, EngineError, Home, Refusal, Result};

/// The variables that hold a forge token: kept from every agent and setup command.
pub(crate) const TOKEN_VARIABLES: [&str; 3] = ["GH_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN"];

pub(crate) struct Pulls {
    ledger: Arc<Ledger>,
    home: Home,
    /// Tokens clients sent with their requests, by forge host.
    tokens: Mutex<HashMap<String, Token>>,
    /// Each job's pull request's ETag as last seen.
    etags: Mutex<HashMap<String, (String, sidekick_forge::Pull)>>,
    /// Forge hosts whose rate limit is spent, and until when (seconds since the epoch).
    resting: Mutex<HashMap<String, u64>>,
    /// One open or round per job at a time.
    busy: Mutex<std::collections::HashSet<String>>,
    /// The turns of jobs whose pull request was opened by itself (or tried), by job and turn.
    opened: Mutex<std::collections::HashSet<(String, u32)>>,
}

/// A repository's forge as Sidekick reaches it.
pub(crate) struct Reached {
    pub remote: Remote,
    pub forge: Arc<dyn Forge>,
}

/// Calls the forge on a blocking thread (each call waits for the network, at most 30 s).
pub(crate) async fn ask<T: Send + 'static>(
    forge: &Arc<dyn Forge>,
    f: impl FnOnce(&dyn Forge) -> std::result::Result<T, ForgeError> + Send + 'static,
) -> Result<T> {
    let forge = forge.clone();
    Ok(crate::blocking(move || f(forge.as_ref())).await??)
}

impl Pulls {
    pub(crate) fn new(ledger: Arc<Ledger>, home: Home) -> Pulls {
        Pulls {
            ledger,
            home,
            tokens: Mutex::new(HashMap::new()),
            etags: Mutex::new(HashMap::new()),
            resting: Mutex::new(HashMap::new()),
            busy: Mutex::new(Default::default()),
            opened: Mutex::new(Default::default()),
        }
    }

    fn config(&self) -> Result<Config> {
        Ok(Config::load(self.home.config_file())?)
    }

    /// The forge of `repo`'s origin, with a token: the one a client sent (`tokens`, kept for
    /// this forge host from now on), else one sent earlier, else the host's environment or the
    /// forge's CLI.
    pub(crate) async fn reach(
        &self,
        repo: &Path,
        tokens: Option<&sidekick_protocol::ForgeTokens>,
    ) -> Result<Reached> {
        let config = self.config()?;
        let url = push::remote_url(repo).await?;
        let hosts = Hosts {
            github: config.forges.github.hosts.clone(),
            gitlab: config.forges.gitlab.hosts.clone(),
        };
        let remote = Remote::parse(&url, &hosts)
            .map_err(|e| EngineError::Refused(Refusal::NoForge, e.to_string()))?;
        let api = match remote.kind {
            ForgeKind::GitHub => config.forges.github.api_url.clone(),
            ForgeKind::GitLab => config.forges.gitlab.api_url.clone(),
        };
        let host = remote.host.to_ascii_lowercase();
        let given = tokens
            .and_then(|t| t.get(remote.kind.id()))
            .and_then(|t| Token::from_client(&t.0));
        if let Some(t) = given {
            lock(&self.tokens).insert(host.clone(), t);
        }
        let known = lock(&self.tokens).get(&host).cloned();
        let token = match known {
            Some(t) => Some(t),
            None => {
                let (kind, h) = (remote.kind, host.clone());
                crate::blocking(move || {
                    let path = std::env::var_os("PATH");
                    sidekick_forge::token_for(
                        kind,
                        &h,
                        &|name| std::env::var(name).ok(),
                        path.as_deref(),
                    )
                })
                .await?
            }
        };
        let token = token.ok_or_else(|| ForgeError::NoToken {
            forge: remote.kind,
            host: remote.host.clone(),
        })?;
        let forge: Arc<dyn Forge> = sidekick_forge::connect(&remote, &api, token).into();
        Ok(Reached { remote, forge })
    }

    /// A token the forge refused is not used again; the next request brings a new one.
    fn forget_token(&self, host: &str) {
        lock(&self.tokens).remove(&host.to_ascii_lowercase());
    }

    /// Marks `job` busy for the guard's life; `None` when it already is.
    fn claim(self: &Arc<Self>, job: &str) -> Option<Claim> {
        lock(&self.busy).insert(job.to_string()).then(|| Claim {
            pulls: self.clone(),
            job: job.to_string(),
        })
    }
}

/// One job's open or round under way.
pub(crate) struct Claim {
    pulls: Arc<Pulls>,
    job: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.pulls.busy).remove(&self.job);
    }
}
