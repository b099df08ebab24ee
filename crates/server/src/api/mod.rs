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

mod body;
mod events;
mod host;
mod jobs;
mod peer;
mod review;

use body::whole_body;
use events::events;
use host::*;
use jobs::*;
pub(crate) use peer::Peer;
use peer::{confine, not_yours};
use review::*;

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
        .route("/v1/jobs/{job}/pr", post(pr_job))
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

/// A folder named in a query: only absolute paths (the host's working folder means nothing to
/// a client).
fn absolute(path: &str) -> Result<std::path::PathBuf, ApiFailure> {
    let p = std::path::PathBuf::from(path);
    if !p.is_absolute() {
        return Err(bad_request(format!("{path} is not an absolute path")));
    }
    Ok(p)
}
