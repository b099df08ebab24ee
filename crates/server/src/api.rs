//! The HTTP API. Handlers parse, call the engine and map errors to `{code, message}`.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sidekick_engine::{Engine, EngineError};
use sidekick_protocol::{
    ActionResult, ApiError, ErrorCode, Event, EventBody, GcRequest, Health, MergeRequest,
    RebaseRequest, SpawnRequest,
};
use tokio::sync::{broadcast, mpsc, watch};

#[derive(Clone)]
struct AppState {
    engine: Engine,
    closing: watch::Receiver<bool>,
    budget: std::sync::Arc<crate::budget::Budget>,
}

pub(crate) fn router(
    engine: Engine,
    closing: watch::Receiver<bool>,
    budget: std::sync::Arc<crate::budget::Budget>,
) -> Router {
    let state = AppState {
        engine,
        closing,
        budget,
    };
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/jobs", get(list_jobs).post(spawn_job))
        .route("/v1/jobs/{job}", get(get_job))
        .route("/v1/jobs/{job}/cancel", post(cancel_job))
        .route("/v1/jobs/{job}/log", get(job_log))
        .route("/v1/jobs/{job}/diff", get(job_diff))
        .route("/v1/jobs/{job}/patch", get(job_patch))
        .route("/v1/jobs/{job}/merge", post(merge_job))
        .route("/v1/jobs/{job}/undo", post(undo_job))
        .route("/v1/jobs/{job}/retry", post(retry_job))
        .route("/v1/jobs/{job}/answer", post(answer_job))
        .route("/v1/jobs/{job}/reply", post(reply_job))
        .route("/v1/jobs/{job}/rebase", post(rebase_job))
        .route("/v1/jobs/{job}/discard", post(discard_job))
        .route("/v1/jobs/{job}/restore", post(restore_job))
        .route("/v1/jobs/{job}/file", get(job_file))
        .route("/v1/jobs/{job}/archive", post(archive_job))
        .route(
            "/v1/jobs/{job}/comments",
            get(list_comments).post(add_comment),
        )
        .route("/v1/jobs/{job}/comments/{id}", delete(delete_comment))
        .route("/v1/jobs/{job}/viewed", get(list_viewed).put(set_viewed))
        .route("/v1/gc", post(gc))
        .route("/v1/agents", get(agents))
        .route("/v1/notifications/test", post(test_notification))
        .route("/v1/pool", get(pools))
        .route("/v1/settings", get(settings).put(change_settings))
        .route("/v1/repo", get(repo_info))
        .route("/v1/trust", get(trust_info).post(trust).delete(untrust))
        .route("/v1/tasks", get(task_types))
        .route("/v1/events", get(events))
        .fallback(|| async { ApiFailure(ApiError::new(ErrorCode::BadRequest, "no such endpoint")) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), confine))
        .layer(axum::middleware::from_fn(whole_body))
        .with_state(state)
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    /// A process inside a job's sandbox (another pid namespace than the host's): it sees and
    /// touches only its own job and the sidekicks that job started (reads, sandboxed spawns
    /// that become its children, cancel and replies); what only the user may do (merge, undo,
    /// discard, trust, answer, gc, settings, ...) is refused.
    pub confined: bool,
    /// The job whose sandbox a confined peer runs in; `None` when none could be found (it then
    /// sees no job at all).
    pub job: Option<String>,
    /// Its process, as the host numbers it (when the socket says).
    pub pid: Option<i32>,
}

impl Peer {
    /// Who `pid` (the peer's pid as the host numbers it; `None` off Linux) is.
    pub(crate) fn of(pid: Option<i32>, engine: &Engine) -> Peer {
        let Some(pid) = pid else {
            // No pid (not Linux): nothing to tell.
            return Peer::default();
        };
        let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
        let theirs = ns(&pid.to_string());
        // A peer whose namespace cannot be read is treated as confined.
        let confined = theirs.is_none() || theirs != ns("self");
        Peer {
            confined,
            job: confined.then(|| engine.job_of_process(pid)).flatten(),
            pid: Some(pid),
        }
    }

    /// Whether this peer may see and act on `job_id`.
    fn may_touch(&self, engine: &Engine, job_id: &str) -> Result<bool, EngineError> {
        if !self.confined {
            return Ok(true);
        }
        match &self.job {
            Some(own) => engine.descends_from(job_id, own),
            None => Ok(false),
        }
    }

    /// Checks that this peer may see and act on the job `reference` names.
    fn check_job(&self, engine: &Engine, reference: &str) -> Result<(), ApiFailure> {
        if !self.confined {
            return Ok(());
        }
        let job = engine.job(reference)?;
        if self.may_touch(engine, &job.id)? {
            Ok(())
        } else {
            Err(not_yours())
        }
    }

    /// Checks that a folder this confined peer named lies in its own job's repository or
    /// worktree, as the host resolves it (a link out of them is followed, then refused).
    fn check_folder(&self, engine: &Engine, folder: &str) -> Result<(), ApiFailure> {
        if !self.confined {
            return Ok(());
        }
        let Some(own) = &self.job else {
            return Err(not_yours());
        };
        let job = engine.job(own)?;
        let real = |p: &str| std::fs::canonicalize(p).ok();
        let inside = real(folder).is_some_and(|f| {
            [real(&job.repo), real(&job.worktree)]
                .into_iter()
                .flatten()
                .any(|root| f.starts_with(root))
        });
        if inside {
            Ok(())
        } else {
            Err(ApiFailure(ApiError::new(
                ErrorCode::Confined,
                format!("a job's sandbox may name only folders of its own repository or worktree, not {folder}"),
            )))
        }
    }
}

fn not_yours() -> ApiFailure {
    ApiFailure(ApiError::new(
        ErrorCode::Confined,
        "a job's sandbox sees only its own job and the sidekicks it started",
    ))
}

/// What a confined peer may call, and what is checked first.
enum Access {
    /// Open to any peer.
    Open,
    /// The handler narrows what a confined peer gets (lists, streams, spawns).
    Narrowed,
    /// Only a job in the peer's own lineage.
    Job(String),
    /// Only a folder of the peer's own repository or worktree, named in this query parameter.
    Folder(&'static str),
    /// Only the user.
    User,
}

fn access(method: &axum::http::Method, path: &str) -> Access {
    use axum::http::Method;
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let read = method == Method::GET || method == Method::HEAD;
    match parts.as_slice() {
        ["", "v1", "health" | "agents"] if read => Access::Open,
        ["", "v1", "jobs"] if read || method == Method::POST => Access::Narrowed,
        ["", "v1", "events"] if read => Access::Narrowed,
        ["", "v1", "jobs", job] if read => Access::Job(job.to_string()),
        ["", "v1", "jobs", job, "log" | "diff" | "patch" | "file" | "comments" | "viewed"]
            if read =>
        {
            Access::Job(job.to_string())
        }
        ["", "v1", "jobs", job, "cancel" | "reply"] if method == Method::POST => {
            Access::Job(job.to_string())
        }
        ["", "v1", "tasks"] if read => Access::Folder("repo"),
        ["", "v1", "repo"] if read => Access::Folder("path"),
        _ => Access::User,
    }
}

async fn confine(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiFailure> {
    let Some(peer) = req
        .extensions()
        .get::<Peer>()
        .filter(|p| p.confined)
        .cloned()
    else {
        return Ok(next.run(req).await);
    };
    match access(req.method(), req.uri().path()) {
        Access::Open | Access::Narrowed => {}
        Access::Job(job) => {
            let engine = st.engine.clone();
            tokio::task::spawn_blocking(move || peer.check_job(&engine, &job))
                .await
                .map_err(|e| ApiFailure(ApiError::new(ErrorCode::Internal, e.to_string())))??;
        }
        Access::Folder(param) => {
            let query: Query<std::collections::HashMap<String, String>> =
                Query::try_from_uri(req.uri()).map_err(|e| bad_request(e.body_text()))?;
            let folder = query.get(param).cloned().unwrap_or_default();
            let engine = st.engine.clone();
            tokio::task::spawn_blocking(move || peer.check_folder(&engine, &folder))
                .await
                .map_err(|e| ApiFailure(ApiError::new(ErrorCode::Internal, e.to_string())))??;
        }
        Access::User => {
            return Err(ApiFailure(ApiError::new(
                ErrorCode::Confined,
                "a job's sandbox may start, follow, cancel and reply to its own sidekicks; this needs the user",
            )))
        }
    }
    Ok(next.run(req).await)
}

/// The longest request body taken (axum's own limit for a JSON body; a merge's chosen hunks are
/// the biggest there is).
const MAX_BODY: usize = 2 << 20;

/// Reads a request's body whole before anything else sees it, within
/// [`crate::BODY_READ_TIMEOUT`] and [`MAX_BODY`]: a client that sends its body slowly, or a
/// huge one, is answered and closed instead of holding the host's memory or a place.
async fn whole_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiFailure> {
    let (parts, body) = req.into_parts();
    let bytes = tokio::time::timeout(
        crate::BODY_READ_TIMEOUT,
        axum::body::to_bytes(body, MAX_BODY),
    )
    .await
    .map_err(|_| {
        bad_request(format!(
            "the request's body did not arrive within {} s",
            crate::BODY_READ_TIMEOUT.as_secs()
        ))
    })?
    .map_err(|_| {
        bad_request(format!(
            "the request's body is cut short or over {} MiB",
            MAX_BODY >> 20
        ))
    })?;
    // A big body's memory goes back to the system once it is answered, not kept by the
    // allocator for good (fuzzing with multi-MB bodies left an idle host at 3x its size).
    let big = bytes.len() > BIG_BODY;
    let response = next
        .run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await;
    if big {
        tokio::task::spawn_blocking(sidekick_engine::release_memory);
    }
    Ok(response)
}

/// A body this big is given back to the system once answered.
const BIG_BODY: usize = 1 << 20;

struct ApiFailure(ApiError);

impl From<EngineError> for ApiFailure {
    fn from(e: EngineError) -> Self {
        let api = e.to_api();
        if api.code == ErrorCode::Internal {
            tracing::error!(error = %e, "request failed");
        }
        ApiFailure(api)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

fn bad_request(message: String) -> ApiFailure {
    ApiFailure(ApiError::new(ErrorCode::BadRequest, message))
}

type ApiResult<T> = Result<Json<T>, ApiFailure>;

async fn health(State(st): State<AppState>) -> ApiResult<Health> {
    Ok(Json(Health {
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        home: st.engine.home().root().display().to_string(),
        last_seq: st.engine.last_seq()?,
        // A broken config file is the host's to report elsewhere; health still answers.
        max_running: st
            .engine
            .config()
            .map(|c| c.max_running as u32)
            .unwrap_or(0),
    }))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    all: bool,
}

async fn list_jobs(
    State(st): State<AppState>,
    peer: Option<axum::Extension<Peer>>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Vec<sidekick_protocol::Job>> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    let mut jobs = st.engine.jobs(q.all)?;
    if let Some(axum::Extension(peer)) = peer.filter(|p| p.confined) {
        let mut kept = Vec::new();
        for job in jobs {
            if peer.may_touch(&st.engine, &job.id)? {
                kept.push(job);
            }
        }
        jobs = kept;
    }
    Ok(Json(jobs))
}

async fn spawn_job(
    State(st): State<AppState>,
    peer: Option<axum::Extension<Peer>>,
    body: Result<Json<SpawnRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<sidekick_protocol::Job>), ApiFailure> {
    let Json(mut req) = body.map_err(|e| bad_request(e.body_text()))?;
    if let Some(axum::Extension(peer)) = peer.filter(|p| p.confined) {
        let engine = st.engine.clone();
        req = tokio::task::spawn_blocking(move || confined_spawn(&engine, &peer, req))
            .await
            .map_err(|e| ApiFailure(ApiError::new(ErrorCode::Internal, e.to_string())))??;
    }
    let job = st.engine.spawn(req).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// A spawn from inside a job's sandbox: the new job is that job's child (so depth, the number
/// of children and cancelling with the parent apply), sandboxed, in the same repository, and
/// everything it names is the sandbox's own: a context file in its worktree, jobs of its own
/// lineage.
fn confined_spawn(
    engine: &Engine,
    peer: &Peer,
    mut req: SpawnRequest,
) -> Result<SpawnRequest, ApiFailure> {
    let Some(own) = peer.job.clone() else {
        return Err(not_yours());
    };
    // A sidekick started from inside a sandbox is sandboxed too, whatever it asks.
    req.sandbox = Some(sidekick_protocol::SandboxMode::Worktree);
    // Landing in the user's branches without a review is the user's to allow.
    if req.auto_merge == Some(true) {
        return Err(ApiFailure(ApiError::new(
            ErrorCode::Confined,
            "a job's sandbox may not start a sidekick that merges by itself; this needs the user",
        )));
    }
    peer.check_folder(engine, &req.repo)?;
    req.parent = match req.parent.take() {
        Some(parent) => {
            peer.check_job(engine, &parent)?;
            Some(parent)
        }
        None => Some(own.clone()),
    };
    for job in [&req.context_from, &req.continue_from]
        .into_iter()
        .flatten()
    {
        peer.check_job(engine, job)?;
    }
    if let Some(file) = req.context_file.take() {
        // Read here, where it was checked: the agent could swap it for a link before the
        // engine read it.
        let worktree = engine.job(&own)?.worktree;
        let text = read_inside(std::path::Path::new(&file), std::path::Path::new(&worktree)).ok_or_else(|| {
            ApiFailure(ApiError::new(
                ErrorCode::Confined,
                format!("a job's sandbox may pass a context file only from its own worktree, not {file}"),
            ))
        })?;
        let asked = req.context_text.take().unwrap_or_default();
        req.context_text = Some(format!("From {file}:\n\n{}\n\n{asked}", text.trim_end()));
    }
    Ok(req)
}

/// The text of `file` if it is a plain file inside `folder` once every link is resolved (the
/// file's last component is never followed; the opened file's real path is what is checked).
fn read_inside(file: &std::path::Path, folder: &std::path::Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    const MAX: u64 = 4 << 20;
    let folder = std::fs::canonicalize(folder).ok()?;
    let real = std::fs::canonicalize(file).ok()?;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(&real)
        .ok()?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&opened);
    let at = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    if !at.starts_with(&folder) || !opened.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    opened.take(MAX).read_to_string(&mut text).ok()?;
    Some(text)
}

async fn get_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<sidekick_protocol::Job> {
    Ok(Json(st.engine.job(&job)?))
}

/// `GET /v1/jobs/{job}/log`: the job's log file byte for byte (stdout and stderr as they were
/// written, whatever their encoding), as far as it is written now.
async fn job_log(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> Result<Response, ApiFailure> {
    use tokio::io::AsyncReadExt;
    let job = st.engine.job(&job)?;
    let file = match tokio::fs::File::open(&job.log_path).await {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(EngineError::Io(e).into()),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    if let Some(mut file) = file {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match file.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reading a job's log file failed");
                        break;
                    }
                }
            }
        });
    }
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

async fn cancel_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<sidekick_protocol::Job> {
    Ok(Json(st.engine.cancel(&job)?))
}

#[derive(Deserialize)]
struct DiffQuery {
    /// Only the first this many diff lines (a viewer's first screen).
    max_lines: Option<usize>,
}

async fn job_diff(
    State(st): State<AppState>,
    Path(job): Path<String>,
    q: Result<Query<DiffQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::Diff> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.diff_head(&job, q.max_lines).await?))
}

async fn job_patch(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> Result<Response, ApiFailure> {
    let patch = st.engine.patch(&job).await?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/x-diff")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(patch))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

async fn merge_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<MergeRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::MergeResult> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.merge(&job, req).await?))
}

async fn answer_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::AnswerRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Job> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.answer(&job, req).await?))
}

async fn reply_job(
    State(st): State<AppState>,
    peer: Option<axum::Extension<Peer>>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::ReplyRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Job> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    // From inside a sandbox, only a job that must run sandboxed takes a reply: its next turn
    // cannot run with more rights than the one who asks.
    if peer.is_some_and(|p| p.confined) && !st.engine.requires_sandbox(&job)? {
        return Err(ApiFailure(ApiError::new(
            ErrorCode::Confined,
            "a job's sandbox may reply only to jobs that run sandboxed (sandbox = \"worktree\")",
        )));
    }
    Ok(Json(st.engine.reply(&job, req).await?))
}

async fn archive_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::ArchiveRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Job> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.archive(&job, req.archived)?))
}

#[derive(Deserialize)]
struct FileQuery {
    path: String,
    #[serde(default)]
    side: sidekick_protocol::Side,
}

async fn job_file(
    State(st): State<AppState>,
    Path(job): Path<String>,
    q: Result<Query<FileQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::FileLines> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.file(&job, &q.path, q.side).await?))
}

async fn list_comments(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<Vec<sidekick_protocol::Comment>> {
    Ok(Json(st.engine.comments(&job).await?))
}

async fn add_comment(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::NewComment>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Comment> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.add_comment(&job, req).await?))
}

async fn delete_comment(
    State(st): State<AppState>,
    Path((job, id)): Path<(String, u64)>,
) -> ApiResult<()> {
    st.engine.delete_comment(&job, id).await?;
    Ok(Json(()))
}

async fn list_viewed(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<Vec<sidekick_protocol::Viewed>> {
    Ok(Json(st.engine.viewed(&job)?))
}

async fn set_viewed(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::Viewed>, JsonRejection>,
) -> ApiResult<()> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    st.engine.set_viewed(&job, req)?;
    Ok(Json(()))
}

async fn settings(State(st): State<AppState>) -> ApiResult<sidekick_protocol::Settings> {
    Ok(Json(st.engine.settings().await?))
}

async fn change_settings(
    State(st): State<AppState>,
    body: Result<Json<sidekick_protocol::SettingsChange>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Settings> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.change_settings(req).await?))
}

async fn retry_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::RetryRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<sidekick_protocol::Job>), ApiFailure> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    let job = st.engine.retry(&job, req.same_base).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// A request body that may be left out: no body, or `null`, is the request's default.
fn optional_body<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
    what: &str,
) -> Result<T, ApiFailure> {
    if body.is_empty() {
        return Ok(T::default());
    }
    let req: Option<T> = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("bad {what} request: {e}")))?;
    Ok(req.unwrap_or_default())
}

async fn undo_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<ActionResult> {
    let req: sidekick_protocol::UndoRequest = optional_body(&body, "undo")?;
    Ok(Json(st.engine.undo(&job, req.autostash).await?))
}

async fn rebase_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<RebaseRequest>, JsonRejection>,
) -> ApiResult<ActionResult> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.rebase(&job, req.into, req.abort).await?))
}

async fn discard_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<ActionResult> {
    let req: sidekick_protocol::DiscardRequest = optional_body(&body, "discard")?;
    Ok(Json(st.engine.discard(&job, req.orphaned).await?))
}

async fn restore_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<ActionResult> {
    Ok(Json(st.engine.restore(&job).await?))
}

async fn gc(
    State(st): State<AppState>,
    body: Result<Json<GcRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::GcReport> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.gc(req.dry_run).await?))
}

#[derive(Deserialize)]
struct PoolQuery {
    repo: Option<String>,
}

async fn pools(
    State(st): State<AppState>,
    q: Result<Query<PoolQuery>, QueryRejection>,
) -> ApiResult<Vec<sidekick_protocol::Pool>> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    let repo = match &q.repo {
        Some(r) => Some(absolute(r)?),
        None => None,
    };
    Ok(Json(st.engine.pools(repo.as_deref())?))
}

async fn agents(State(st): State<AppState>) -> ApiResult<Vec<sidekick_protocol::AgentInfo>> {
    Ok(Json(st.engine.agents().await?))
}

/// Asks the desktop's notification server who it is and shows a test notification.
async fn test_notification() -> Json<sidekick_protocol::NotificationTest> {
    Json(match crate::notifier::probe().await {
        Err(why) => sidekick_protocol::NotificationTest {
            sent: false,
            detail: format!("no desktop notification server: {why}"),
        },
        Ok(server) => match crate::notifier::show_test().await {
            Ok(()) => sidekick_protocol::NotificationTest {
                sent: true,
                detail: server,
            },
            Err(why) => sidekick_protocol::NotificationTest {
                sent: false,
                detail: format!("{server}, but it did not show one: {why}"),
            },
        },
    })
}

#[derive(Deserialize)]
struct RepoQuery {
    path: String,
}

async fn repo_info(
    State(st): State<AppState>,
    q: Result<Query<RepoQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::RepoInfo> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.repo_info(absolute(&q.path)?).await?))
}

#[derive(Deserialize)]
struct TrustQuery {
    repo: String,
}

async fn trust_info(
    State(st): State<AppState>,
    q: Result<Query<TrustQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::TrustInfo> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.trust_info(absolute(&q.repo)?).await?))
}

async fn trust(
    State(st): State<AppState>,
    body: Result<Json<sidekick_protocol::TrustRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::TrustInfo> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.trust(absolute(&req.repo)?, req.hash).await?))
}

async fn untrust(
    State(st): State<AppState>,
    q: Result<Query<TrustQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::TrustInfo> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.untrust(absolute(&q.repo)?).await?))
}

/// A folder named in a query: only absolute paths (the host's working folder means nothing to
/// a client).
fn absolute(path: &str) -> Result<std::path::PathBuf, ApiFailure> {
    let p = std::path::PathBuf::from(path);
    if !p.is_absolute() {
        return Err(bad_request(format!("{path} is not an absolute path")));
    }
    Ok(p)
}

#[derive(Deserialize)]
struct TasksQuery {
    repo: String,
}

async fn task_types(
    State(st): State<AppState>,
    q: Result<Query<TasksQuery>, QueryRejection>,
) -> ApiResult<Vec<sidekick_protocol::TaskTypeInfo>> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.tasks(absolute(&q.repo)?).await?))
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    since: u64,
    job: Option<String>,
    /// Include output lines (default true).
    output: Option<bool>,
    /// Keep the stream open for live events (default true); false ends after the backlog.
    follow: Option<bool>,
}

const PAGE: usize = 4096;

/// `GET /v1/events`: newline-delimited JSON, the backlog after `since`, then live events.
async fn events(
    State(st): State<AppState>,
    peer: Option<axum::Extension<Peer>>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiFailure> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    let peer = peer.map(|axum::Extension(p)| p).unwrap_or_default();
    // A stream holds its connection for as long as it is followed: the user's have a budget of
    // their own, so plain requests always find a place (a sandbox's count against its job's).
    let permit = if peer.confined {
        None
    } else {
        Some(st.budget.stream(peer.pid.unwrap_or(0)).ok_or_else(|| {
            ApiFailure(ApiError::new(
                ErrorCode::Busy,
                format!(
                    "too many event streams are open ({} per process, {} in all); close some and try again",
                    crate::budget::PROCESS_STREAMS,
                    crate::budget::USER_STREAMS
                ),
            ))
        })?)
    };
    let job_id = match &q.job {
        Some(r) => {
            peer.check_job(&st.engine, r)?;
            Some(st.engine.job(r)?.id)
        }
        None => None,
    };
    let filter = Filter {
        job_id,
        output: q.output.unwrap_or(true),
        scope: peer.confined.then(|| Scope {
            peer,
            seen: HashMap::new(),
        }),
    };
    let follow = q.follow.unwrap_or(true);
    // Subscribe before reading the backlog so nothing falls between the two.
    let live = st.engine.subscribe();
    let end = if follow {
        u64::MAX
    } else {
        st.engine.last_seq()?
    };
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::spawn(async move {
        stream_events(
            st.engine.clone(),
            filter,
            q.since,
            end,
            live,
            tx,
            st.closing.clone(),
        )
        .await;
        drop(permit);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

struct Filter {
    job_id: Option<String>,
    output: bool,
    /// A confined peer's: only events of its own lineage.
    scope: Option<Scope>,
}

/// The jobs a confined peer may follow, decided once per job (a job's parent never changes).
struct Scope {
    peer: Peer,
    seen: HashMap<String, bool>,
}

impl Filter {
    fn wants(&mut self, engine: &Engine, ev: &Event) -> bool {
        if self.job_id.as_deref().is_some_and(|j| j != ev.job_id) {
            return false;
        }
        if !self.output && matches!(ev.body, EventBody::Output { .. }) {
            return false;
        }
        match &mut self.scope {
            None => true,
            Some(scope) => match scope.seen.get(&ev.job_id) {
                Some(yes) => *yes,
                None => {
                    let yes = scope.peer.may_touch(engine, &ev.job_id).unwrap_or(false);
                    scope.seen.insert(ev.job_id.clone(), yes);
                    yes
                }
            },
        }
    }
}

fn encode(buf: &mut Vec<u8>, ev: &Event) {
    if serde_json::to_writer(&mut *buf, ev).is_ok() {
        buf.push(b'\n');
    }
}

/// Sends stored events after `*last` up to `end`; returns false when the client went away.
async fn send_backlog(
    engine: &Engine,
    filter: &mut Filter,
    last: &mut u64,
    end: u64,
    tx: &mpsc::Sender<Bytes>,
) -> Result<bool, EngineError> {
    loop {
        let page = engine.events_after(*last, filter.job_id.as_deref(), filter.output, PAGE)?;
        let full = page.len() == PAGE;
        let mut buf = Vec::new();
        for ev in page.iter().take_while(|e| e.seq <= end) {
            if filter.scope.is_none() || filter.wants(engine, ev) {
                encode(&mut buf, ev);
            }
            *last = ev.seq;
        }
        if !buf.is_empty() && tx.send(Bytes::from(buf)).await.is_err() {
            return Ok(false);
        }
        if !full || page.last().is_some_and(|e| e.seq >= end) {
            return Ok(true);
        }
    }
}

async fn stream_events(
    engine: Engine,
    mut filter: Filter,
    since: u64,
    end: u64,
    mut live: broadcast::Receiver<Event>,
    tx: mpsc::Sender<Bytes>,
    mut closing: watch::Receiver<bool>,
) {
    let mut last = since;
    match send_backlog(&engine, &mut filter, &mut last, end, &tx).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(error = %e, "reading the event backlog failed");
            return;
        }
    }
    if end != u64::MAX {
        return;
    }
    loop {
        let first = tokio::select! {
            r = live.recv() => r,
            _ = closing.wait_for(|c| *c) => return,
            _ = tx.closed() => return,
        };
        let mut buf = Vec::new();
        let mut next = Some(first);
        while let Some(r) = next.take() {
            match r {
                Ok(ev) => {
                    if ev.seq > last {
                        last = ev.seq;
                        if filter.wants(&engine, &ev) {
                            encode(&mut buf, &ev);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // Too slow for the live feed: catch up from the database instead.
                    tracing::info!(
                        missed,
                        "an event follower fell behind; catching up from the database"
                    );
                    if !buf.is_empty()
                        && tx
                            .send(Bytes::from(std::mem::take(&mut buf)))
                            .await
                            .is_err()
                    {
                        return;
                    }
                    match send_backlog(&engine, &mut filter, &mut last, u64::MAX, &tx).await {
                        Ok(true) => {}
                        _ => return,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
            if buf.len() < 1 << 20 {
                next = match live.try_recv() {
                    Ok(ev) => Some(Ok(ev)),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => {
                        Some(Err(broadcast::error::RecvError::Lagged(n)))
                    }
                    Err(_) => None,
                };
            }
        }
        if !buf.is_empty() && tx.send(Bytes::from(buf)).await.is_err() {
            return;
        }
    }
}
