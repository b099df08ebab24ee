//! The connection: a host found or started (detached, in its own session), one HTTP/1.1
//! request per call over the Unix socket, a host that went away revived.

use super::*;

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

    pub(crate) async fn post<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.call(Method::POST, path, Some(body)).await
    }

    /// Waits for a host to answer again, starting one if this client may.
    pub(crate) async fn revive(&self) -> Result<()> {
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

    pub(crate) async fn call<T: DeserializeOwned>(
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

    pub(crate) async fn send(
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

pub(crate) async fn collect(body: Incoming) -> Result<Bytes> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ClientError::Connection(e.to_string()))
}

pub(crate) fn error_from(status: StatusCode, bytes: Bytes) -> ClientError {
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
pub(crate) fn encode(s: &str) -> String {
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
