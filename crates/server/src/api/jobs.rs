//! Jobs: listed, spawned (a confined peer's spawn made that job's child), read, their log, cancelled, answered, replied to, archived, retried.

use super::*;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    all: bool,
}

pub(super) async fn list_jobs(
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

pub(super) async fn spawn_job(
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
pub(super) fn confined_spawn(
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
    // What goes to the forge goes with the user's credentials: the user's to ask for.
    if req.open_pr.is_some() {
        return Err(ApiFailure(ApiError::new(
            ErrorCode::Confined,
            "a job's sandbox may not start a sidekick that opens a pull request; this needs the user",
        )));
    }
    if req.issue.is_some() {
        return Err(ApiFailure(ApiError::new(
            ErrorCode::Confined,
            "a job's sandbox may not read the forge's issues; this needs the user",
        )));
    }
    req.tokens = Default::default();
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
pub(super) fn read_inside(file: &std::path::Path, folder: &std::path::Path) -> Option<String> {
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

pub(super) async fn get_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<sidekick_protocol::Job> {
    Ok(Json(st.engine.job(&job)?))
}

/// `GET /v1/jobs/{job}/log`: the job's log file byte for byte (stdout and stderr as they were
/// written, whatever their encoding), as far as it is written now.
pub(super) async fn job_log(
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

pub(super) async fn cancel_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<sidekick_protocol::Job> {
    Ok(Json(st.engine.cancel(&job)?))
}

pub(super) async fn answer_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::AnswerRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Job> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.answer(&job, req).await?))
}

pub(super) async fn reply_job(
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

pub(super) async fn archive_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::ArchiveRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Job> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.archive(&job, req.archived)?))
}

pub(super) async fn retry_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::RetryRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<sidekick_protocol::Job>), ApiFailure> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    let job = st.engine.retry(&job, req.same_base).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// Pushes the job's branch and opens its pull request, or updates the open one (`fix`: hands
/// its failing checks to the agent). The user's own call: a job's sandbox is refused before.
pub(super) async fn pr_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::PrRequest>, JsonRejection>,
) -> Result<Json<sidekick_protocol::Job>, ApiFailure> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.pr(&job, req).await?))
}
