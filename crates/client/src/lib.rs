//! Typed client for the Sidekick host, over HTTP/1.1 on its Unix socket.
//!
//! [`Client::connect_or_start`] starts a host (detached, in its own session) when none answers,
//! and waits for its socket. Two clients racing to do so end up talking to the same host: the
//! single-instance lock lets only one of the started hosts live.

mod calls;
mod error;
mod events;
mod transport;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use sidekick_protocol::{AgentInfo, ApiError, Event, Health, Home, Job, SpawnRequest};
use tokio::net::UnixStream;

pub use error::{ClientError, Result};
pub use events::{EventQuery, EventStream, Followed};
use transport::{collect, encode, error_from};
pub use transport::{Client, START_TIMEOUT};

/// This process's forge tokens (`GH_TOKEN` or `GITHUB_TOKEN`; `GITLAB_TOKEN`), for a request
/// that needs the forge: the host keeps the one it uses in memory only.
pub fn forge_tokens_from_env() -> sidekick_protocol::ForgeTokens {
    let first = |names: &[&str]| {
        names
            .iter()
            .filter_map(|n| std::env::var(n).ok())
            .map(|v| v.trim().to_string())
            .find(|v| !v.is_empty())
            .map(sidekick_protocol::Secret)
    };
    sidekick_protocol::ForgeTokens {
        github: first(&["GH_TOKEN", "GITHUB_TOKEN"]),
        gitlab: first(&["GITLAB_TOKEN"]),
    }
}

#[cfg(test)]
mod tests;
