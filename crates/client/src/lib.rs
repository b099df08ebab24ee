//! Typed client for the Sidekick host, over HTTP/1.1 on its Unix socket.
//!
//! [`Client::connect_or_start`] starts a host (detached, in its own session) when none answers,
//! and waits for its socket. Two clients racing to do so end up talking to the same host: the
//! single-instance lock lets only one of the started hosts live.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use sidekick_protocol::{AgentInfo, ApiError, ErrorCode, Event, Health, Home, Job, SpawnRequest};
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host refused the request; the message is for the user.
    #[error("{0}")]
    Api(ApiError),
    #[error("no Sidekick host is running for {0}")]
    NoHost(PathBuf),
    #[error("could not start a Sidekick host: {0}")]
    StartFailed(String),
    #[error("lost the connection to the Sidekick host: {0}")]
    Connection(String),
    #[error("the Sidekick host sent something unexpected: {0}")]
    Protocol(String),
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

impl ClientError {
    /// The edge shape, for callers that pass errors on (the desktop app).
    pub fn to_api(&self) -> ApiError {
        match self {
            ClientError::Api(e) => e.clone(),
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// How long to wait for a freshly started host to answer. Recovery after a crash may have to
/// stop orphaned agents (5 s grace each) before the socket opens.
pub const START_TIMEOUT: Duration = Duration::from_secs(45);

#[derive(Debug, Clone)]
pub struct Client {
    home: Home,
    socket: PathBuf,
    /// The program to start a host with, when this client may start one.
    host_exe: Option<PathBuf>,
}

impl Client {
    /// A client for the host of `home`, without checking that it runs. It never starts a host.
    pub fn new(home: &Home) -> Client {
        Client {
            home: home.clone(),
            socket: home.socket(),
            host_exe: None,
        }
    }

    /// Connects to the running host, or starts `host_exe serve` and waits for it.
    /// The host inherits this process's environment, so it selects the same home.
    pub async fn connect_or_start(home: &Home, host_exe: &Path) -> Result<Client> {
        let client = Client {
            host_exe: Some(host_exe.to_path_buf()),
            ..Client::new(home)
        };
        if client.health().await.is_ok() {
            return Ok(client);
        }
        let run = home.run_dir();
        std::fs::create_dir_all(&run).map_err(|e| {
            ClientError::StartFailed(format!("cannot create {}: {e}", run.display()))
        })?;
        let err_path = run.join(format!("start-{}.err", std::process::id()));
        let err_file = std::fs::File::create(&err_path).map_err(|e| {
            ClientError::StartFailed(format!("cannot create {}: {e}", err_path.display()))
        })?;
        let mut cmd = std::process::Command::new(host_exe);
        cmd.arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        detach(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| {
            ClientError::StartFailed(format!("cannot run {}: {e}", host_exe.display()))
        })?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let result = loop {
            if client.health().await.is_ok() {
                break Ok(client.clone());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&err_path).unwrap_or_default();
                // Losing the start race to another client's host is fine: keep waiting for it.
                if !status.success() && !text.contains("already running") {
                    break Err(ClientError::StartFailed(first_line(&text, status)));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let text = std::fs::read_to_string(&err_path).unwrap_or_default();
                break Err(ClientError::StartFailed(format!(
                    "the host did not answer within {}s{}; see {}",
                    START_TIMEOUT.as_secs(),
                    if text.trim().is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", text.trim())
                    },
                    home.host_log().display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let _ = std::fs::remove_file(&err_path);
        // The child is detached; reap it if it has already exited (the race loser).
        let _ = child.try_wait();
        result
    }

    pub async fn health(&self) -> Result<Health> {
        self.call(Method::GET, "/v1/health", None).await
    }

    pub async fn spawn(&self, req: &SpawnRequest) -> Result<Job> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.call(Method::POST, "/v1/jobs", Some(body)).await
    }

    pub async fn jobs(&self, all: bool) -> Result<Vec<Job>> {
        self.call(Method::GET, &format!("/v1/jobs?all={all}"), None)
            .await
    }

    pub async fn job(&self, reference: &str) -> Result<Job> {
        self.call(
            Method::GET,
            &format!("/v1/jobs/{}", encode(reference)),
            None,
        )
        .await
    }

    pub async fn cancel(&self, reference: &str) -> Result<Job> {
        self.call(
            Method::POST,
            &format!("/v1/jobs/{}/cancel", encode(reference)),
            None,
        )
        .await
    }

    pub async fn diff(&self, reference: &str) -> Result<sidekick_protocol::Diff> {
        self.diff_head(reference, None).await
    }

    /// The job's diff with at most `max_lines` diff lines (files past them listed, truncated).
    pub async fn diff_head(
        &self,
        reference: &str,
        max_lines: Option<usize>,
    ) -> Result<sidekick_protocol::Diff> {
        let query = max_lines
            .map(|n| format!("?max_lines={n}"))
            .unwrap_or_default();
        self.call(
            Method::GET,
            &format!("/v1/jobs/{}/diff{query}", encode(reference)),
            None,
        )
        .await
    }

    /// The job's changes as a plain unified patch (what `sidekick diff` prints).
    pub async fn patch(&self, reference: &str) -> Result<Vec<u8>> {
        let path = format!("/v1/jobs/{}/patch", encode(reference));
        let resp = self.send(Method::GET, &path, None).await?;
        let status = resp.status();
        let bytes = collect(resp.into_body()).await?;
        if !status.is_success() {
            return Err(error_from(status, bytes));
        }
        Ok(bytes.to_vec())
    }

    pub async fn merge(
        &self,
        reference: &str,
        req: &sidekick_protocol::MergeRequest,
    ) -> Result<sidekick_protocol::MergeResult> {
        self.post(&format!("/v1/jobs/{}/merge", encode(reference)), req)
            .await
    }

    /// Allows or denies what a waiting job's agent asked.
    pub async fn answer(
        &self,
        reference: &str,
        req: &sidekick_protocol::AnswerRequest,
    ) -> Result<Job> {
        self.post(&format!("/v1/jobs/{}/answer", encode(reference)), req)
            .await
    }

    /// The user's next message to an ended job's agent: the job runs another turn.
    pub async fn reply(&self, reference: &str, text: &str) -> Result<Job> {
        let req = sidekick_protocol::ReplyRequest {
            text: text.into(),
            comments: false,
        };
        self.reply_with(reference, &req).await
    }

    /// A reply, with the job's unsent review comments when `req.comments`.
    pub async fn reply_with(
        &self,
        reference: &str,
        req: &sidekick_protocol::ReplyRequest,
    ) -> Result<Job> {
        self.post(&format!("/v1/jobs/{}/reply", encode(reference)), req)
            .await
    }

    /// Puts an ended job away (or, with `false`, brings it back).
    pub async fn archive(&self, reference: &str, archived: bool) -> Result<Job> {
        let req = sidekick_protocol::ArchiveRequest { archived };
        self.post(&format!("/v1/jobs/{}/archive", encode(reference)), &req)
            .await
    }

    /// A file as one side of the job's diff has it.
    pub async fn file(
        &self,
        reference: &str,
        path: &str,
        side: sidekick_protocol::Side,
    ) -> Result<sidekick_protocol::FileLines> {
        let uri = format!(
            "/v1/jobs/{}/file?path={}&side={}",
            encode(reference),
            encode(path),
            side.as_str()
        );
        self.call(Method::GET, &uri, None).await
    }

    /// The job's review comments, placed in its files as they are now.
    pub async fn comments(&self, reference: &str) -> Result<Vec<sidekick_protocol::Comment>> {
        let uri = format!("/v1/jobs/{}/comments", encode(reference));
        self.call(Method::GET, &uri, None).await
    }

    pub async fn add_comment(
        &self,
        reference: &str,
        req: &sidekick_protocol::NewComment,
    ) -> Result<sidekick_protocol::Comment> {
        self.post(&format!("/v1/jobs/{}/comments", encode(reference)), req)
            .await
    }

    pub async fn delete_comment(&self, reference: &str, id: u64) -> Result<()> {
        let uri = format!("/v1/jobs/{}/comments/{id}", encode(reference));
        self.call(Method::DELETE, &uri, None).await
    }

    /// The files marked viewed in the job's diff.
    pub async fn viewed(&self, reference: &str) -> Result<Vec<sidekick_protocol::Viewed>> {
        let uri = format!("/v1/jobs/{}/viewed", encode(reference));
        self.call(Method::GET, &uri, None).await
    }

    pub async fn set_viewed(
        &self,
        reference: &str,
        mark: &sidekick_protocol::Viewed,
    ) -> Result<()> {
        let body = serde_json::to_vec(mark).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let uri = format!("/v1/jobs/{}/viewed", encode(reference));
        self.call(Method::PUT, &uri, Some(body)).await
    }

    /// The settings the app edits (`GET /v1/settings`).
    pub async fn settings(&self) -> Result<sidekick_protocol::Settings> {
        self.call(Method::GET, "/v1/settings", None).await
    }

    /// Changes keys of the config file (`PUT /v1/settings`).
    pub async fn change_settings(
        &self,
        change: &sidekick_protocol::SettingsChange,
    ) -> Result<sidekick_protocol::Settings> {
        let body = serde_json::to_vec(change).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.call(Method::PUT, "/v1/settings", Some(body)).await
    }

    /// Starts `reference` again as a new job (`sidekick retry`).
    pub async fn retry(
        &self,
        reference: &str,
        req: &sidekick_protocol::RetryRequest,
    ) -> Result<Job> {
        self.post(&format!("/v1/jobs/{}/retry", encode(reference)), req)
            .await
    }

    pub async fn undo(
        &self,
        reference: &str,
        req: &sidekick_protocol::UndoRequest,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/undo", encode(reference)), req)
            .await
    }

    pub async fn rebase(
        &self,
        reference: &str,
        req: &sidekick_protocol::RebaseRequest,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/rebase", encode(reference)), req)
            .await
    }

    pub async fn discard(
        &self,
        reference: &str,
        req: &sidekick_protocol::DiscardRequest,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/discard", encode(reference)), req)
            .await
    }

    pub async fn restore(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/restore", encode(reference)), &())
            .await
    }

    pub async fn gc(
        &self,
        req: &sidekick_protocol::GcRequest,
    ) -> Result<sidekick_protocol::GcReport> {
        self.post("/v1/gc", req).await
    }

    async fn post<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.call(Method::POST, path, Some(body)).await
    }

    /// The warm worktrees of every repository with jobs, or of `repo` (absolute).
    pub async fn pools(&self, repo: Option<&str>) -> Result<Vec<sidekick_protocol::Pool>> {
        let uri = match repo {
            Some(r) => format!("/v1/pool?repo={}", encode(r)),
            None => "/v1/pool".to_string(),
        };
        self.call(Method::GET, &uri, None).await
    }

    pub async fn agents(&self) -> Result<Vec<AgentInfo>> {
        self.call(Method::GET, "/v1/agents", None).await
    }

    /// Shows a test desktop notification (through the host), or says why it cannot.
    pub async fn test_notification(&self) -> Result<sidekick_protocol::NotificationTest> {
        self.call(Method::POST, "/v1/notifications/test", None)
            .await
    }

    /// The task types of the repository at `repo` (absolute).
    pub async fn tasks(&self, repo: &str) -> Result<Vec<sidekick_protocol::TaskTypeInfo>> {
        let uri = format!("/v1/tasks?repo={}", encode(repo));
        self.call(Method::GET, &uri, None).await
    }

    /// What the repository at `repo` (absolute) runs from its own configuration, and whether
    /// the user trusts it.
    pub async fn trust_info(&self, repo: &str) -> Result<sidekick_protocol::TrustInfo> {
        let uri = format!("/v1/trust?repo={}", encode(repo));
        self.call(Method::GET, &uri, None).await
    }

    /// Trusts the repository's configuration at the content with `hash` (what was shown).
    pub async fn trust(&self, repo: &str, hash: &str) -> Result<sidekick_protocol::TrustInfo> {
        let req = sidekick_protocol::TrustRequest {
            repo: repo.into(),
            hash: hash.into(),
        };
        self.post("/v1/trust", &req).await
    }

    pub async fn untrust(&self, repo: &str) -> Result<sidekick_protocol::TrustInfo> {
        let uri = format!("/v1/trust?repo={}", encode(repo));
        self.call(Method::DELETE, &uri, None).await
    }

    /// Checks `path` (absolute) as a job repository would be and lists its branches.
    pub async fn repo(&self, path: &str) -> Result<sidekick_protocol::RepoInfo> {
        let uri = format!("/v1/repo?path={}", encode(path));
        self.call(Method::GET, &uri, None).await
    }

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

    /// Waits for a host to answer again, starting one if this client may.
    async fn revive(&self) -> Result<()> {
        if let Some(exe) = &self.host_exe {
            Client::connect_or_start(&self.home, exe).await?;
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            match self.health().await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T> {
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        let bytes = collect(resp.into_body()).await?;
        if !status.is_success() {
            return Err(error_from(status, bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<hyper::Response<Incoming>> {
        let stream = match UnixStream::connect(&self.socket).await {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NoHost(
                    self.socket
                        .parent()
                        .and_then(Path::parent)
                        .unwrap_or(&self.socket)
                        .to_path_buf(),
                ))
            }
            Err(e) => return Err(ClientError::Connection(e.to_string())),
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Connection(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let has_body = body.is_some();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "sidekick");
        if has_body {
            req = req.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Connection(e.to_string()))
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

async fn collect(body: Incoming) -> Result<Bytes> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ClientError::Connection(e.to_string()))
}

fn error_from(status: StatusCode, bytes: Bytes) -> ClientError {
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(e) => ClientError::Api(e),
        Err(_) => ClientError::Protocol(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes).trim()
        )),
    }
}

fn first_line(text: &str, status: std::process::ExitStatus) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("the host exited with {status}"))
}

/// Percent-encodes a path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs the child in a new session, so it outlives the terminal and the client.
fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode("brave-otter"), "brave-otter");
        assert_eq!(encode("a b/c?&"), "a%20b%2Fc%3F%26");
    }

    #[tokio::test]
    async fn a_missing_host_is_reported_as_such() {
        let dir = tempfile_dir();
        let client = Client::new(&Home::at(&dir));
        match client.health().await {
            Err(ClientError::NoHost(p)) => assert_eq!(p, dir),
            other => panic!("expected NoHost, got {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sidekick-client-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }

    #[test]
    fn api_errors_keep_their_code() {
        let e = error_from(
            StatusCode::NOT_FOUND,
            Bytes::from_static(br#"{"code":"unknown_job","message":"no job matches 'x'"}"#),
        );
        assert_eq!(e.to_api().code, ErrorCode::UnknownJob);
        assert_eq!(e.to_string(), "no job matches 'x'");
        let garbage = error_from(StatusCode::BAD_GATEWAY, Bytes::from_static(b"oops"));
        assert!(matches!(garbage, ClientError::Protocol(_)));
    }
}
