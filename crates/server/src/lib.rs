//! The host: owns the engine and serves it as HTTP/1.1 + JSON on a Unix socket.
//!
//! One host per data dir, enforced with an exclusive `flock` on `run/host.lock`, taken before
//! anything else so a second host never touches the database or the socket.

mod api;
mod budget;
mod notifier;
pub use notifier::probe as notifications_probe;

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
pub use sidekick_engine::limit_malloc_arenas;
use sidekick_engine::{Engine, EngineError, EngineOptions, Home};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("a Sidekick host is already running for {home}{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    AlreadyRunning { home: PathBuf, pid: Option<u32> },
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ServeError {
    let path = path.into();
    move |source| ServeError::Io { path, source }
}

/// The single-instance lock, held for the life of the host.
pub struct InstanceLock {
    _lock: Flock<File>,
}

/// Takes the host lock for `home`, creating `run/` with mode 0700.
pub fn lock_instance(home: &Home) -> Result<InstanceLock, ServeError> {
    let run = home.run_dir();
    let private = sidekick_engine::private::dir;
    private(home.root()).map_err(io_err(home.root()))?;
    private(&run).map_err(io_err(&run))?;
    let path = home.lock_file();
    let file = sidekick_engine::private::file_options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut lock) => {
            // Record our pid for the message a second host prints.
            let _ = lock.set_len(0);
            let _ = writeln!(*lock, "{}", std::process::id());
            Ok(InstanceLock { _lock: lock })
        }
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            let pid = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            Err(ServeError::AlreadyRunning {
                home: home.root().to_path_buf(),
                pid,
            })
        }
        Err((_, errno)) => Err(ServeError::Io {
            path,
            source: std::io::Error::from(errno),
        }),
    }
}

/// The host's log file, written on a best-effort basis: a full disk must not turn every log
/// line into an error (the subscriber would report each one on stderr, and a host started in
/// the background has a stderr that can fail too — a panic in whichever thread logged).
struct LossyLog(std::fs::File);

impl Write for LossyLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// Sends the host's own log to `host.log` (appending).
pub fn init_logging(home: &Home) -> Result<(), ServeError> {
    let path = home.host_log();
    sidekick_engine::private::dir(home.root()).map_err(io_err(home.root()))?;
    let file = sidekick_engine::private::file_options()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io_err(&path))?;
    sidekick_engine::private::restrict(&path).map_err(io_err(&path))?;
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(LossyLog(file)))
        .with_ansi(false)
        .with_max_level(if std::env::var_os("SIDEKICK_DEBUG").is_some() {
            tracing::Level::DEBUG
        } else {
            tracing::Level::INFO
        })
        .try_init();
    Ok(())
}

/// Runs the host until SIGTERM or SIGINT. `ready` is called once the socket accepts requests.
pub async fn serve(home: Home, ready: impl FnOnce(&Home)) -> Result<(), ServeError> {
    let _lock = lock_instance(&home)?;
    init_logging(&home)?;
    tracing::info!(pid = std::process::id(), home = %home.root().display(), "host starting");
    let engine = Engine::open(home.clone(), EngineOptions::default())?;
    // Before recovery, so jobs the previous host left interrupted are told about too.
    if let Some(desktop) = notifier::Desktop::connect(engine.clone()).await {
        engine.notify_with(desktop);
    }
    let interrupted = engine.recover().await?;
    if !interrupted.is_empty() {
        tracing::warn!(
            count = interrupted.len(),
            "marked jobs of the previous host interrupted"
        );
    }

    let socket = home.socket();
    // Holding the lock, any socket file left behind is a dead host's.
    match std::fs::remove_file(&socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ServeError::Io {
                path: socket,
                source: e,
            })
        }
    }
    let listener = tokio::net::UnixListener::bind(&socket).map_err(io_err(&socket))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err(&socket))?;
    engine.start();

    let (closing_tx, closing_rx) = watch::channel(false);
    let budget = budget::Budget::new(budget::raise_fd_limit());
    let app = api::router(engine.clone(), closing_rx, budget.clone());
    tracing::info!(socket = %socket.display(), "host listening");
    ready(&home);

    accept_loop(listener, app, &engine, budget, closing_tx).await;
    let _ = std::fs::remove_file(&socket);
    tracing::info!("host stopped");
    Ok(())
}

/// A client has this long to send a request's headers; a connection that sends nothing (a
/// half-open or stuck client) is closed instead of held forever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections being told apart (whose they are) at once, before each takes its place in its
/// budget (`budget.rs`).
const MAX_ARRIVING: usize = 256;

/// How long a request's body may take to arrive, once its headers have.
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves connections until SIGTERM or SIGINT; then stops the engine's jobs, tells event streams
/// to end (`closing`) and waits (up to 10 s) for open connections to finish.
async fn accept_loop(
    listener: tokio::net::UnixListener,
    app: axum::Router,
    engine: &Engine,
    budget: Arc<budget::Budget>,
    closing: watch::Sender<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let arriving = Arc::new(tokio::sync::Semaphore::new(MAX_ARRIVING));
    let signal = wait_for_signal();
    tokio::pin!(signal);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        // Telling a connection's peer apart reads /proc: a flood waits here, it does not
        // pile up tasks.
        let Ok(arrival) = arriving.clone().acquire_owned().await else {
            break;
        };
        let watcher = graceful.watcher();
        let (app, engine, budget) = (app.clone(), engine.clone(), budget.clone());
        tokio::spawn(async move {
            // Who is calling: a process inside a job's sandbox sees only its own job and
            // spends only its job's budget.
            let pid = stream.peer_cred().ok().and_then(|c| c.pid());
            let peer = tokio::task::spawn_blocking(move || api::Peer::of(pid, &engine))
                .await
                .unwrap_or(api::Peer {
                    confined: true,
                    job: None,
                    pid,
                });
            let class = if peer.confined {
                budget::Class::Sandbox(peer.job.clone())
            } else {
                budget::Class::User
            };
            let Some(place) = budget.admit(&class) else {
                return;
            };
            drop(arrival);
            let service = tower::util::MapRequest::new(
                app,
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(peer.clone());
                    req
                },
            );
            // One request per connection (the clients open one each): a connection is never
            // held idle between requests.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let _ = watcher.watch(conn).await;
            drop(place);
        });
    }
    tracing::info!("host shutting down");
    drop(listener);
    engine.shutdown().await;
    let _ = closing.send(true);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after 10 s; closing them");
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot install signal handlers; the host stops only when killed");
            std::future::pending::<()>().await;
        }
    }
}
