//! One forge's REST API as Sidekick calls it: the token on every request, JSON both ways,
//! conditional requests with ETags, and every way a call can fail turned into one sentence
//! ([`ForgeError`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{ForgeKind, Token};

/// How long one call may take, connection included.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// What a call to a forge can end in, each as one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForgeError {
    #[error("there is no {} token for {host}: {}", .forge.name(), login_hint(*.forge))]
    NoToken { forge: ForgeKind, host: String },
    #[error("{} refused the token ({status}): {}", .forge.name(), login_hint(*.forge))]
    Unauthorized { forge: ForgeKind, status: u16 },
    #[error("{}'s rate limit is spent: rate limited until {}", .forge.name(), clock(*.until))]
    RateLimited {
        forge: ForgeKind,
        /// Seconds since the epoch when it may be asked again.
        until: u64,
    },
    #[error("{} at {api} cannot be reached: {reason}", .forge.name())]
    Unreachable {
        forge: ForgeKind,
        api: String,
        reason: String,
    },
    #[error("{} has no {what}", .forge.name())]
    NotFound { forge: ForgeKind, what: String },
    #[error("{} refused the request ({status}): {message}", .forge.name())]
    Refused {
        forge: ForgeKind,
        status: u16,
        message: String,
    },
    #[error("{} answered with something Sidekick cannot read ({what}): {reason}", .forge.name())]
    Unreadable {
        forge: ForgeKind,
        what: String,
        reason: String,
    },
}

impl ForgeError {
    /// Worth asking again later as it is (the forge busy or away), unlike a refusal.
    pub fn is_passing(&self) -> bool {
        matches!(
            self,
            ForgeError::RateLimited { .. } | ForgeError::Unreachable { .. }
        ) || matches!(self, ForgeError::Refused { status, .. } if *status >= 500)
    }
}

fn login_hint(forge: ForgeKind) -> &'static str {
    match forge {
        ForgeKind::GitHub => "set GH_TOKEN or run `gh auth login`",
        ForgeKind::GitLab => "set GITLAB_TOKEN or run `glab auth login`",
    }
}

/// `HH:MM` (UTC) of a time in seconds since the epoch.
pub fn clock(secs: u64) -> String {
    let day = secs % 86_400;
    format!("{:02}:{:02} UTC", day / 3600, day % 3600 / 60)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The answer to a conditional request: unchanged since the ETag given, or new with its ETag.
#[derive(Debug, Clone, PartialEq)]
pub enum Fresh<T> {
    Unchanged,
    New(T, Option<String>),
}

/// One forge's API root with a token.
pub struct Api {
    pub(crate) forge: ForgeKind,
    root: String,
    token: Token,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("forge", &self.forge)
            .field("root", &self.root)
            .field("token", &self.token)
            .finish()
    }
}

impl Api {
    pub fn new(forge: ForgeKind, root: &str, token: Token) -> Api {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_LIMIT))
            .user_agent(concat!("sidekick/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            // A token goes to the API's own host only, never to where a redirect points.
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .build()
            .new_agent();
        Api {
            forge,
            root: root.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    fn auth(&self) -> (&'static str, String) {
        match self.forge {
            ForgeKind::GitHub => ("Authorization", format!("Bearer {}", self.token.secret())),
            ForgeKind::GitLab => ("PRIVATE-TOKEN", self.token.secret().to_string()),
        }
    }

    /// `GET path`, read as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<T, ForgeError> {
        match self.get_if(path, None, what)? {
            Fresh::New(v, _) => Ok(v),
            Fresh::Unchanged => Err(self.unreadable(what, "304 without an ETag asked")),
        }
    }

    /// `GET path` with `If-None-Match: etag` when there is one.
    pub fn get_if<T: DeserializeOwned>(
        &self,
        path: &str,
        etag: Option<&str>,
        what: &str,
    ) -> Result<Fresh<T>, ForgeError> {
        let (name, value) = self.auth();
        let mut req = self
            .agent
            .get(format!("{}{path}", self.root))
            .header(name, value)
            .header("Accept", self.accept());
        if let Some(etag) = etag {
            req = req.header("If-None-Match", etag);
        }
        let resp = req.call().map_err(|e| self.unreachable(e))?;
        if resp.status().as_u16() == 304 {
            return Ok(Fresh::Unchanged);
        }
        let etag = header(&resp, "etag");
        let v = self.read(resp, what)?;
        Ok(Fresh::New(v, etag))
    }

    /// `GET path` as text (a CI job's log).
    pub fn get_text(&self, path: &str, what: &str) -> Result<String, ForgeError> {
        let (name, value) = self.auth();
        let resp = self
            .agent
            .get(format!("{}{path}", self.root))
            .header(name, value)
            .call()
            .map_err(|e| self.unreachable(e))?;
        let mut resp = self.check(resp, what)?;
        resp.body_mut()
            .with_config()
            .limit(4 << 20)
            .read_to_string()
            .map_err(|e| self.unreadable(what, &e.to_string()))
    }

    /// `METHOD path` with a JSON body (`POST`, `PATCH`, `PUT`), read as `T`.
    pub fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        what: &str,
    ) -> Result<T, ForgeError> {
        let (name, value) = self.auth();
        let url = format!("{}{path}", self.root);
        let resp = match method {
            "POST" => self.agent.post(url),
            "PATCH" => self.agent.patch(url),
            _ => self.agent.put(url),
        }
        .header(name, value)
        .header("Accept", self.accept())
        .send_json(body)
        .map_err(|e| self.unreachable(e))?;
        self.read(resp, what)
    }

    fn accept(&self) -> &'static str {
        match self.forge {
            ForgeKind::GitHub => "application/vnd.github+json",
            ForgeKind::GitLab => "application/json",
        }
    }

    fn read<T: DeserializeOwned>(
        &self,
        resp: ureq::http::Response<ureq::Body>,
        what: &str,
    ) -> Result<T, ForgeError> {
        let mut resp = self.check(resp, what)?;
        resp.body_mut()
            .with_config()
            .limit(16 << 20)
            .read_json()
            .map_err(|e| self.unreadable(what, &e.to_string()))
    }

    /// The response when it succeeded, else its status as a [`ForgeError`].
    fn check(
        &self,
        mut resp: ureq::http::Response<ureq::Body>,
        what: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, ForgeError> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        if let Some(until) = rate_limited(&resp) {
            return Err(ForgeError::RateLimited {
                forge: self.forge,
                until,
            });
        }
        let message = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .ok()
            .map(|text| message_of(&text))
            .unwrap_or_default();
        Err(match status {
            401 => ForgeError::Unauthorized {
                forge: self.forge,
                status,
            },
            404 => ForgeError::NotFound {
                forge: self.forge,
                what: what.to_string(),
            },
            _ => ForgeError::Refused {
                forge: self.forge,
                status,
                message: if message.is_empty() {
                    format!("no reason given for {what}")
                } else {
                    message
                },
            },
        })
    }

    fn unreachable(&self, e: ureq::Error) -> ForgeError {
        ForgeError::Unreachable {
            forge: self.forge,
            api: self.root.clone(),
            reason: e.to_string(),
        }
    }

    fn unreadable(&self, what: &str, reason: &str) -> ForgeError {
        ForgeError::Unreadable {
            forge: self.forge,
            what: what.to_string(),
            reason: reason.to_string(),
        }
    }
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// When a refused call says the rate limit is spent: GitHub's `x-ratelimit-remaining: 0` with
/// `x-ratelimit-reset` (epoch seconds), or `retry-after` (seconds) on a 403 or 429; GitLab's
/// 429 with `ratelimit-reset` or `retry-after`.
fn rate_limited(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    let status = resp.status().as_u16();
    if status != 403 && status != 429 {
        return None;
    }
    let number = |name: &str| header(resp, name).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(after) = number("retry-after") {
        return Some(now_secs() + after);
    }
    let spent = number("x-ratelimit-remaining") == Some(0);
    let reset = number("x-ratelimit-reset").or_else(|| number("ratelimit-reset"));
    match (status, spent, reset) {
        (_, true, Some(reset)) | (429, _, Some(reset)) => Some(reset),
        (429, _, None) => Some(now_secs() + 60),
        _ => None,
    }
}

/// The forge's own words from an error body: GitHub's `message` and its `errors[].message`,
/// GitLab's `message` or `error` (a string, a list, or fields to lists).
fn message_of(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return text
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect();
    };
    let mut parts: Vec<String> = Vec::new();
    for key in ["message", "error"] {
        match &v[key] {
            Value::String(s) => parts.push(s.clone()),
            Value::Array(items) => {
                parts.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
            }
            Value::Object(fields) => {
                for (field, said) in fields {
                    let said = match said {
                        Value::Array(items) => items
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other.as_str().unwrap_or_default().to_string(),
                    };
                    parts.push(format!("{field} {said}"));
                }
            }
            _ => {}
        }
    }
    if let Some(errors) = v["errors"].as_array() {
        parts.extend(
            errors
                .iter()
                .filter_map(|e| e["message"].as_str().or_else(|| e.as_str()))
                .map(str::to_string),
        );
    }
    parts.join("; ")
}

/// A value for a URL's query or path: everything but unreserved characters percent-encoded.
pub(crate) fn query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forge_error_body_is_read_in_the_forges_own_words() {
        let gh = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:x."}]}"#;
        assert_eq!(
            message_of(gh),
            "Validation Failed; A pull request already exists for acme:x."
        );
        let gl = r#"{"message":{"target_branch":["is invalid"]}}"#;
        assert_eq!(message_of(gl), "target_branch is invalid");
        assert_eq!(message_of("Bad gateway\n<html>"), "Bad gateway");
    }

    #[test]
    fn the_clock_is_hours_and_minutes() {
        assert_eq!(clock(1_765_000_000), "05:46 UTC");
        assert_eq!(clock(0), "00:00 UTC");
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = ForgeError::Unauthorized {
            forge: ForgeKind::GitHub,
            status: 401,
        };
        assert_eq!(
            e.to_string(),
            "GitHub refused the token (401): set GH_TOKEN or run `gh auth login`"
        );
        let e = ForgeError::RateLimited {
            forge: ForgeKind::GitHub,
            until: 1_765_000_000,
        };
        assert_eq!(
            e.to_string(),
            "GitHub's rate limit is spent: rate limited until 05:46 UTC"
        );
        assert!(e.is_passing());
    }
}
