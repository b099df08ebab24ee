//! The host itself: health, settings, agents, the notification test, a repository's info, trust and task types.

use super::*;

pub(super) async fn health(State(st): State<AppState>) -> ApiResult<Health> {
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

pub(super) async fn settings(State(st): State<AppState>) -> ApiResult<sidekick_protocol::Settings> {
    Ok(Json(st.engine.settings().await?))
}

pub(super) async fn change_settings(
    State(st): State<AppState>,
    body: Result<Json<sidekick_protocol::SettingsChange>, JsonRejection>,
) -> ApiResult<sidekick_protocol::Settings> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.change_settings(req).await?))
}

pub(super) async fn agents(
    State(st): State<AppState>,
) -> ApiResult<Vec<sidekick_protocol::AgentInfo>> {
    Ok(Json(st.engine.agents().await?))
}

/// Asks the desktop's notification server who it is and shows a test notification.
pub(super) async fn test_notification() -> Json<sidekick_protocol::NotificationTest> {
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
pub(super) struct RepoQuery {
    path: String,
}

pub(super) async fn repo_info(
    State(st): State<AppState>,
    q: Result<Query<RepoQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::RepoInfo> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.repo_info(absolute(&q.path)?).await?))
}

#[derive(Deserialize)]
pub(super) struct TrustQuery {
    repo: String,
}

pub(super) async fn trust_info(
    State(st): State<AppState>,
    q: Result<Query<TrustQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::TrustInfo> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.trust_info(absolute(&q.repo)?).await?))
}

pub(super) async fn trust(
    State(st): State<AppState>,
    body: Result<Json<sidekick_protocol::TrustRequest>, JsonRejection>,
) -> ApiResult<sidekick_protocol::TrustInfo> {
    let Json(req) = body.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.trust(absolute(&req.repo)?, req.hash).await?))
}

pub(super) async fn untrust(
    State(st): State<AppState>,
    q: Result<Query<TrustQuery>, QueryRejection>,
) -> ApiResult<sidekick_protocol::TrustInfo> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.untrust(absolute(&q.repo)?).await?))
}

#[derive(Deserialize)]
pub(super) struct TasksQuery {
    repo: String,
}

pub(super) async fn task_types(
    State(st): State<AppState>,
    q: Result<Query<TasksQuery>, QueryRejection>,
) -> ApiResult<Vec<sidekick_protocol::TaskTypeInfo>> {
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    Ok(Json(st.engine.tasks(absolute(&q.repo)?).await?))
}
