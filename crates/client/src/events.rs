//! Following the host's events: a job's log, the event stream after a cursor, waiting for a job
//! to end.

use super::*;

impl Client {
    /// The event stream: stored events after `since`, then (with `follow`) live ones.
    /// The job's log file byte for byte, handed to `sink` a chunk at a time.
    pub async fn log(
        &self,
        reference: &str,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<()> {
        let path = format!("/v1/jobs/{}/log", encode(reference));
        let resp = self.send(Method::GET, &path, None).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp.status(), collect(resp.into_body()).await?));
        }
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Connection(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                sink(&data).map_err(|e| ClientError::Connection(e.to_string()))?;
            }
        }
        Ok(())
    }

    pub async fn events(&self, query: &EventQuery) -> Result<EventStream> {
        let mut path = format!(
            "/v1/events?since={}&output={}&follow={}",
            query.since, query.output, query.follow
        );
        if let Some(job) = &query.job {
            path.push_str(&format!("&job={}", encode(job)));
        }
        let resp = self.send(Method::GET, &path, None).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp.status(), collect(resp.into_body()).await?));
        }
        Ok(EventStream {
            body: resp.into_body(),
            buf: BytesMut::new(),
        })
    }

    /// Waits until the job has ended (and merged by itself or not, where it may) and returns it. `None` when `timeout` passes first.
    pub async fn wait(&self, reference: &str, timeout: Option<Duration>) -> Result<Option<Job>> {
        let fut = async {
            // Only an end after now counts: a job that took another turn (a reply) has ended
            // before, and its history says so.
            let since = self.health().await?.last_seq;
            let job = self.job(reference).await?;
            if job.settled() {
                return Ok(job);
            }
            self.follow_job_from(&job.id, false, since, |_| Ok(()))
                .await
        };
        match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r.map(Some),
                Err(_) => Ok(None),
            },
            None => fut.await.map(Some),
        }
    }

    /// Feeds every event of one job (from its first, output lines included when `output`) to
    /// `on_event` until the job has ended (its last turn, when a reply gave it more), and
    /// returns the ended job. Between events it passes
    /// [`Followed::CaughtUp`] whenever nothing more has arrived yet (a good moment to flush). A lost connection is
    /// resumed after the last event seen, starting a new host if this client may, so nothing is
    /// missed or repeated; a job whose host died then shows up as `interrupted`.
    pub async fn follow_job(
        &self,
        job_id: &str,
        output: bool,
        on_event: impl FnMut(Followed<'_>) -> std::io::Result<()>,
    ) -> Result<Job> {
        self.follow_job_from(job_id, output, 0, on_event).await
    }

    /// [`Client::follow_job`] from the events after `since` only.
    pub async fn follow_job_from(
        &self,
        job_id: &str,
        output: bool,
        mut since: u64,
        mut on_event: impl FnMut(Followed<'_>) -> std::io::Result<()>,
    ) -> Result<Job> {
        loop {
            let query = EventQuery {
                since,
                job: Some(job_id.to_string()),
                output,
                follow: true,
            };
            match self.events(&query).await {
                Ok(mut stream) => loop {
                    match stream.next().await {
                        Ok(Some(ev)) => {
                            since = ev.seq;
                            on_event(Followed::Event(&ev)).map_err(ClientError::Output)?;
                            if let sidekick_protocol::EventBody::Job { job } = &ev.body {
                                if job.settled() {
                                    let now = self.job(&job.id).await?;
                                    // A job that took another turn since (a reply) ended here
                                    // before: its later turns follow.
                                    if now.turns <= job.turns {
                                        return Ok(now);
                                    }
                                }
                            }
                            if !stream.has_ready_event() {
                                on_event(Followed::CaughtUp).map_err(ClientError::Output)?;
                            }
                        }
                        Ok(None) | Err(ClientError::Connection(_)) => break,
                        Err(e) => return Err(e),
                    }
                },
                Err(ClientError::NoHost(_) | ClientError::Connection(_)) => {}
                Err(e) => return Err(e),
            }
            self.revive().await?;
        }
    }
}

/// What [`Client::events`] asks for.
#[derive(Debug, Clone)]
pub struct EventQuery {
    pub since: u64,
    /// Id, id prefix or codename.
    pub job: Option<String>,
    pub output: bool,
    pub follow: bool,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            since: 0,
            job: None,
            output: true,
            follow: true,
        }
    }
}

/// What [`Client::follow_job`] hands its callback.
#[derive(Debug, Clone, Copy)]
pub enum Followed<'a> {
    Event(&'a Event),
    /// Every event received so far has been handed over.
    CaughtUp,
}

/// Newline-delimited JSON events from the host.
pub struct EventStream {
    body: Incoming,
    buf: BytesMut,
}

impl EventStream {
    /// A complete event is already buffered (the next `next()` will not wait).
    pub fn has_ready_event(&self) -> bool {
        self.buf.contains(&b'\n')
    }

    /// The next event; `None` when the host ended the stream.
    pub async fn next(&mut self) -> Result<Option<Event>> {
        loop {
            if let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
                let line = self.buf.split_to(nl + 1);
                let ev = serde_json::from_slice(&line[..nl])
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                return Ok(Some(ev));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(ClientError::Connection(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            self.buf.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                }
            }
        }
    }
}
