//! The MCP server: the handler behind `sidekick mcp`, its tools calling the host through the
//! same client as the CLI, and the watcher that tells the client when its jobs end.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeRequestParams, InitializeResult, JsonObject, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, ResourceUpdatedNotificationParam, ResourcesCapability,
    ServerCapabilities, ServerConfig, SubscribeRequestParams, ToolsCapability,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sidekick_client::{Client, EventQuery};
use sidekick_protocol::{ContextMode, EventBody, Home, Job, Level, SpawnRequest, Stream};

use super::tools::{self, *};
use crate::render;
use crate::unified::{self, Colors};
use crate::{Failure, Outcome};

mod calls;
mod watch;

use calls::*;
use watch::*;

const URI_PREFIX: &str = "sidekick://jobs/";
/// `wait` waits this long unless told otherwise, and never longer than the cap.
const WAIT_DEFAULT_S: f64 = 120.0;
const WAIT_MAX_S: f64 = 3600.0;
const LOGS_DEFAULT_LINES: usize = 200;
const LOGS_MAX_LINES: usize = 2000;
/// A patch longer than this is cut (the rest: `sidekick diff JOB`).
const PATCH_MAX_CHARS: usize = 200_000;

/// Serves MCP on stdin/stdout until the client goes away.
pub async fn serve(exe: PathBuf) -> Outcome {
    let home = Home::from_env();
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::new(format!("cannot read the current folder: {e}")))?;
    let (offer, any_job) = match sidekick_engine::mcp_config(&home) {
        Ok(c) => (
            tools::Offer {
                merge: c.allow_merge,
                pr: c.allow_pr,
            },
            c.any_job,
        ),
        Err(e) => {
            eprintln!("sidekick mcp: {e}; the merge and pr tools are not offered");
            (tools::Offer::default(), false)
        }
    };
    let server = Sidekick {
        shared: Arc::new(Shared {
            home,
            exe,
            cwd,
            parent: std::env::var("SIDEKICK_JOB_ID")
                .ok()
                .filter(|p| !p.is_empty()),
            allow_merge: offer.merge,
            offer,
            any_job,
            client_name: Mutex::new(None),
            spawned: Mutex::new(Vec::new()),
            subscribed: Mutex::new(HashSet::new()),
        }),
    };
    // The client's lines pass through the framing (super::frame), which answers bad ones.
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (from_server, to_server) = tokio::io::split(ours);
    let (errors_tx, errors_rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(super::frame::read_client(
        tokio::io::stdin(),
        to_server,
        errors_tx,
    ));
    let writer = tokio::spawn(super::frame::write_client(
        from_server,
        errors_rx,
        tokio::io::stdout(),
    ));
    let running = server
        .serve(tokio::io::split(theirs))
        .await
        .map_err(|e| Failure::new(format!("the MCP client did not start a session: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| Failure::new(format!("the MCP session ended abnormally: {e}")))?;
    // What the server said last is written out (bounded: a client that stops reading).
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    Ok(ExitCode::SUCCESS)
}

struct Shared {
    home: Home,
    exe: PathBuf,
    /// Where the server runs: the default repository.
    cwd: PathBuf,
    /// The job this server runs inside (`SIDEKICK_JOB_ID`): the parent of what it spawns.
    parent: Option<String>,
    allow_merge: bool,
    /// The tools the config allows beyond the everyday ones.
    offer: tools::Offer,
    /// `[mcp] any_job`: cancel, reply and merge may act on any job.
    any_job: bool,
    /// The client's name and version from `initialize`.
    client_name: Mutex<Option<String>>,
    /// Jobs spawned in this session, oldest first.
    spawned: Mutex<Vec<String>>,
    /// Resource URIs the client subscribed to.
    subscribed: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// A client of the host, starting one when none runs (also after a host restart).
    async fn client(&self) -> Result<Client, String> {
        Client::connect_or_start(&self.home, &self.exe)
            .await
            .map_err(|e| e.to_string())
    }

    fn is_mine(&self, id: &str) -> bool {
        lock(&self.spawned).iter().any(|s| s == id)
    }

    /// The job `reference` names, if this session may act on it (cancel, reply, merge): a job
    /// it started or one of theirs at any depth, inside a job that job's own and theirs; any job
    /// with `[mcp] any_job = true`.
    async fn own_job(&self, client: &Client, reference: &str) -> Result<Job, String> {
        let job = client.job(reference).await.map_err(|e| e.to_string())?;
        if self.any_job {
            return Ok(job);
        }
        let mut at = Some(job.id.clone());
        for _ in 0..64 {
            let Some(id) = at else { break };
            if self.is_mine(&id) || self.parent.as_deref() == Some(id.as_str()) {
                return Ok(job);
            }
            at = client.job(&id).await.map_err(|e| e.to_string())?.parent_id;
        }
        Err(format!(
            "{} was not started in this session: cancel, reply, merge and pr act only on this session's sidekicks and theirs ([mcp] any_job = true in the user's config allows any job)",
            job.codename
        ))
    }

    /// `path` as an absolute folder (relative ones are taken from where the server runs).
    fn folder(&self, path: Option<&str>) -> PathBuf {
        match path {
            Some(p) if Path::new(p).is_absolute() => PathBuf::from(p),
            Some(p) => self.cwd.join(p),
            None => self.cwd.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Sidekick {
    shared: Arc<Shared>,
}

impl ServerHandler for Sidekick {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::default();
        capabilities.tools = Some(ToolsCapability::default());
        let mut resources = ResourcesCapability::default();
        resources.subscribe = Some(true);
        capabilities.resources = Some(resources);
        #[allow(deprecated)]
        {
            capabilities.logging = Some(JsonObject::new());
        }
        ServerConfig::new(capabilities)
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
            .with_server_info(Implementation::new("sidekick", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Sidekick runs coding agents in the background, each in its own git worktree on its \
                 own branch. `spawn` starts one and returns at once; `wait` joins it (with a \
                 timeout), `logs` streams what it does, `diff` shows its changes, `cancel` stops it. \
                 Nothing reaches the user's checkout until the job is merged.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        // The versions with `initialize`, where notifications and resources/subscribe work
        // as this server uses them.
        Cow::Borrowed(ProtocolVersion::known_up_to(
            &ProtocolVersion::LATEST_WITH_INITIALIZE,
        ))
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let who = &request.client_info;
        *lock(&self.shared.client_name) = Some(
            format!(
                "{} {}",
                who.title.as_deref().unwrap_or(&who.name),
                who.version
            )
            .trim()
            .to_string(),
        );
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        tokio::spawn(watch(self.shared.clone(), context.peer.clone()));
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tools::all(
            self.shared.offer,
        )))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.clone().unwrap_or_default();
        let result = match self.call(&request.name, &args, &context).await {
            Ok(r) => r,
            Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let ids = lock(&self.shared.spawned).clone();
        let mut resources = Vec::new();
        if let Ok(client) = self.shared.client().await {
            for id in ids.iter().rev() {
                if let Ok(job) = client.job(id).await {
                    resources.push(
                        Resource::new(format!("{URI_PREFIX}{id}"), job.codename.clone())
                            .with_description(format!("{} · {}", job.state, first_line(&job.task)))
                            .with_mime_type("application/json"),
                    );
                }
            }
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let mut t = ResourceTemplate::new(format!("{URI_PREFIX}{{id}}"), "job");
        t.description =
            Some("A Sidekick job by id or codename, as JSON (subscribe for updates).".into());
        t.mime_type = Some("application/json".into());
        Ok(ListResourceTemplatesResult::with_all_items(vec![t]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let job = self.job_at(&request.uri).await?;
        let text = serde_json::to_string_pretty(&job).unwrap_or_default();
        let contents = ResourceContents::TextResourceContents {
            uri: request.uri.clone(),
            mime_type: Some("application/json".into()),
            text,
            meta: None,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // Subscriptions are kept by job id, whatever reference the URI used.
        let job = self.job_at(&request.uri).await?;
        lock(&self.shared.subscribed).insert(format!("{URI_PREFIX}{}", job.id));
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        lock(&self.shared.subscribed).remove(&request.uri);
        Ok(())
    }
}
