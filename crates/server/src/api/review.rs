//! Review: a job's diff and patch, a file as either side has it, comments and viewed marks, merge, undo, rebase, discard, restore, gc, the pools.

use super::*;

#[derive(Deserialize)]
pub(super) struct DiffQuery {
    /// Only the first this many diff lines (a viewer's first screen).
    max_lines: Option<usize>,
}

pub(super) async fn job_diff(
    State(st): State<AppState>,
    Path(job): Path<String>,
    q: Result<Query<DiffQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::Diff> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.diff_head(&job, q.max_lines).await?))
}

pub(super) async fn job_patch(
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

pub(super) async fn merge_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<MergeRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::MergeResult> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.merge(&job, req).await?))
}

#[derive(Deserialize)]
pub(super) struct FileQuery {
    path: String,
    #[serde(default)]
    side: sidekick_protocol::Side,
}

pub(super) async fn job_file(
    State(st): State<AppState>,
    Path(job): Path<String>,
    q: Result<Query<FileQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::FileLines> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.file(&job, &q.path, q.side).await?))
}

pub(super) async fn list_comments(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<Vec<sidekick_protocol::Comment>> {
    Ok(Json(st.engine.comments(&job).await?))
}

pub(super) async fn add_comment(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::NewComment>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Comment> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.add_comment(&job, req).await?))
}

pub(super) async fn delete_comment(
    State(st): State<AppState>,
    Path((job, id)): Path<(String, u64)>,
) -> ApiResult<()> {
    st.engine.delete_comment(&job, id).await?;
    Ok(Json(()))
}

pub(super) async fn list_viewed(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<Vec<sidekick_protocol::Viewed>> {
    Ok(Json(st.engine.viewed(&job)?))
}

pub(super) async fn set_viewed(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<sidekick_protocol::Viewed>, JsonRejection>,
) -> ApiResult<()> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    st.engine.set_viewed(&job, req)?;
    Ok(Json(()))
}

pub(super) async fn undo_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<ActionResult> {
    let req: sidekick_protocol::UndoRequest = optional_body(&body, "undo")?;
    Ok(Json(st.engine.undo(&job, req.autostash).await?))
}

pub(super) async fn rebase_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: Result<Json<RebaseRequest>, JsonRejection>,
) -> ApiResult<ActionResult> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.rebase(&job, req.into, req.abort).await?))
}

pub(super) async fn discard_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<ActionResult> {
    let req: sidekick_protocol::DiscardRequest = optional_body(&body, "discard")?;
    Ok(Json(st.engine.discard(&job, req.orphaned).await?))
}

pub(super) async fn restore_job(
    State(st): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<ActionResult> {
    Ok(Json(st.engine.restore(&job).await?))
}

pub(super) async fn gc(
    State(st): State<AppState>,
    body: Result<Json<GcRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::GcReport> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.gc(req.dry_run).await?))
}

#[derive(Deserialize)]
pub(super) struct PoolQuery {
    repo: Option<String>,
}

pub(super) async fn pools(
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
