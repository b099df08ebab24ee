//! Jobs watched for the session: subscribed resources updated, and each job the session
//! started told about when it ends.

use super::*;

/// Follows the host's job events for this session: a job it spawned that ends is told to the
/// client as a log message, and a subscribed job's resource is marked updated. Reconnects
/// (starting a host if needed) when the host goes away, from the last event seen.
pub(super) async fn watch(shared: Arc<Shared>, peer: Peer<RoleServer>) {
    let mut since: Option<u64> = None;
    let mut told: HashSet<(String, u64)> = HashSet::new();
    while !peer.is_transport_closed() {
        let Ok(client) = shared.client().await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let start = match since {
            Some(s) => s,
            None => match client.health().await {
                Ok(h) => h.last_seq,
                Err(_) => continue,
            },
        };
        since = Some(start);
        let query = EventQuery {
            since: start,
            job: None,
            output: false,
            follow: true,
        };
        if let Ok(mut stream) = client.events(&query).await {
            while let Ok(Some(ev)) = stream.next().await {
                since = Some(ev.seq);
                let EventBody::Job { job } = ev.body else {
                    continue;
                };
                let uri = format!("{URI_PREFIX}{}", job.id);
                if lock(&shared.subscribed).contains(&uri) {
                    let _ = peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                        .await;
                }
                let ended_at = job.ended_at.unwrap_or(0);
                if job.settled()
                    && shared.is_mine(&job.id)
                    && told.insert((job.id.clone(), ended_at))
                {
                    let data = json!({
                        "event": "job_ended",
                        "id": job.id,
                        "codename": job.codename,
                        "state": job.state,
                        "summary": job.summary,
                        "reason": job.reason,
                        "message": format!("sidekick {} {}{}", job.codename, job.state,
                            job.summary.as_deref().map(|s| format!(": {}", first_line(s))).unwrap_or_default()),
                    });
                    if tell(&peer, data).await.is_err() {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A log message to the client (`notifications/message`, the way MCP up to 2025-11-25 lets a
/// server speak up unasked; deprecated for later versions, which this server does not speak).
#[allow(deprecated)]
pub(super) async fn tell(
    peer: &Peer<RoleServer>,
    data: Value,
) -> Result<(), rmcp::service::ServiceError> {
    use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
    peer.notify_logging_message(
        LoggingMessageNotificationParam::new(LoggingLevel::Info, data).with_logger("sidekick"),
    )
    .await
}
