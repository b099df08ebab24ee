//! `GET /v1/events`: the backlog after a cursor, then live events, filtered for a confined peer.

use super::*;

#[derive(Deserialize)]
pub(super) struct EventsQuery {
    #[serde(default)]
    since: u64,
    job: Option<String>,
    /// Include output lines (default true).
    output: Option<bool>,
    /// Keep the stream open for live events (default true); false ends after the backlog.
    follow: Option<bool>,
}

pub(super) const PAGE: usize = 4096;

/// `GET /v1/events`: newline-delimited JSON, the backlog after `since`, then live events.
pub(super) async fn events(
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

pub(super) struct Filter {
    job_id: Option<String>,
    output: bool,
    /// A confined peer's: only events of its own lineage.
    scope: Option<Scope>,
}

/// The jobs a confined peer may follow, decided once per job (a job's parent never changes).
pub(super) struct Scope {
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

pub(super) fn encode(buf: &mut Vec<u8>, ev: &Event) {
    if serde_json::to_writer(&mut *buf, ev).is_ok() {
        buf.push(b'\n');
    }
}

/// Sends stored events after `*last` up to `end`; returns false when the client went away.
pub(super) async fn send_backlog(
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

pub(super) async fn stream_events(
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
