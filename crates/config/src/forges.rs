//! `[github]`, `[gitlab]` and `[pr]` (issue 31): where each forge's API is, which other git
//! hosts are that forge, how often an open pull request is looked at, and whether a job opens
//! one by itself. Checked here; used by the forge clients.

use serde::Deserialize;
use sidekick_protocol::parse_duration;

/// One forge's API and the git hosts that are it besides its public one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeConfig {
    /// The REST API's root (`https://api.github.com`; Enterprise `https://HOST/api/v3`;
    /// GitLab `https://gitlab.com/api/v4`).
    pub api_url: String,
    pub hosts: Vec<String>,
}

/// `[github]` and `[gitlab]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgesConfig {
    pub github: ForgeConfig,
    pub gitlab: ForgeConfig,
    /// `[github] poll_interval`: an open pull request is looked at no more often than this.
    pub poll_interval_ms: u64,
}

pub const GITHUB_API: &str = "https://api.github.com";
pub const GITLAB_API: &str = "https://gitlab.com/api/v4";
pub const DEFAULT_POLL_MS: u64 = 30_000;
/// Looking more often than this spends the user's rate limit for nothing.
const MIN_POLL_MS: u64 = 5_000;
/// Fix rounds a job's failing checks may ask of its agent at most.
const MAX_FIX_CI: u32 = 10;

impl Default for ForgesConfig {
    fn default() -> Self {
        ForgesConfig {
            github: ForgeConfig {
                api_url: GITHUB_API.into(),
                hosts: Vec::new(),
            },
            gitlab: ForgeConfig {
                api_url: GITLAB_API.into(),
                hosts: Vec::new(),
            },
            poll_interval_ms: DEFAULT_POLL_MS,
        }
    }
}

/// `[pr] open`: whether a job that completes with changes opens a pull request by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrOpen {
    #[default]
    Off,
    Draft,
    Ready,
}

/// `[pr]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrConfig {
    pub open: PrOpen,
    /// `fix_ci`: how many times failing checks go back to the agent (0: never by itself).
    pub fix_ci: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForge {
    api_url: Option<String>,
    hosts: Option<Vec<String>>,
    poll_interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPr {
    open: Option<String>,
    fix_ci: Option<u32>,
}

/// An API root a token may be sent to: https, or plain http only on this machine (a scripted
/// forge in tests); never with a path that ends in a slash twice or a query.
fn api_url(key: &str, url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            url == *p || url.starts_with(&format!("{p}:")) || url.starts_with(&format!("{p}/"))
        });
    let https = url.starts_with("https://") && url.len() > "https://".len();
    if !(https || loopback) {
        return Err(format!(
            "{key}: '{url}' must be an https:// URL (a token is sent there; plain http only to this machine)"
        ));
    }
    if url.contains(['?', '#', ' ']) {
        return Err(format!(
            "{key}: '{url}' must be the API's root, with no query"
        ));
    }
    Ok(url.to_string())
}

fn hosts(key: &str, list: Vec<String>) -> Result<Vec<String>, String> {
    list.into_iter()
        .map(|h| {
            let h = h.trim().to_ascii_lowercase();
            let ok = !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c));
            if ok {
                Ok(h)
            } else {
                Err(format!(
                    "{key}: '{h}' must be a host name (git.example.com), not a URL"
                ))
            }
        })
        .collect()
}

/// `[github]`, `[gitlab]` and `[pr]` read and checked.
pub(crate) fn parse(
    github: Option<RawForge>,
    gitlab: Option<RawForge>,
    pr: Option<RawPr>,
) -> Result<(ForgesConfig, PrConfig), String> {
    let mut forges = ForgesConfig::default();
    if let Some(g) = github {
        if let Some(u) = g.api_url {
            forges.github.api_url = api_url("github.api_url", &u)?;
        }
        forges.github.hosts = hosts("github.hosts", g.hosts.unwrap_or_default())?;
        if let Some(p) = g.poll_interval {
            let ms = parse_duration(&p).map_err(|e| format!("github.poll_interval: {e}"))?;
            if ms < MIN_POLL_MS {
                return Err(format!(
                    "github.poll_interval: {p} is too often; at least 5s (each look spends the rate limit)"
                ));
            }
            forges.poll_interval_ms = ms;
        }
    }
    if let Some(g) = gitlab {
        if g.poll_interval.is_some() {
            return Err(
                "gitlab.poll_interval: set it as github.poll_interval (one for every forge)".into(),
            );
        }
        if let Some(u) = g.api_url {
            forges.gitlab.api_url = api_url("gitlab.api_url", &u)?;
        }
        forges.gitlab.hosts = hosts("gitlab.hosts", g.hosts.unwrap_or_default())?;
    }
    if let Some(both) = forges
        .github
        .hosts
        .iter()
        .find(|h| forges.gitlab.hosts.contains(h))
    {
        return Err(format!(
            "{both} is listed in both github.hosts and gitlab.hosts"
        ));
    }
    let mut out = PrConfig::default();
    if let Some(p) = pr {
        out.open = match p.open.as_deref() {
            None | Some("off") => PrOpen::Off,
            Some("draft") => PrOpen::Draft,
            Some("ready") => PrOpen::Ready,
            Some(other) => {
                return Err(format!(
                    "pr.open: '{other}' is not one of off, draft, ready"
                ))
            }
        };
        out.fix_ci = p.fix_ci.unwrap_or(0);
        if out.fix_ci > MAX_FIX_CI {
            return Err(format!(
                "pr.fix_ci: {} rounds is too many; at most {MAX_FIX_CI}",
                out.fix_ci
            ));
        }
    }
    Ok((forges, out))
}
