//! Desktop notifications (notify-rust, over the session D-Bus): the delivery half of the
//! engine's [`Notifier`] seam. Actions: "Review" and a click on the notification open the app at
//! the job (`sidekick-app --job ID`, which hands over to a running window); "Merge" merges it
//! the default way and reports how that went in a second notification; "Allow" and "Deny" on
//! an agent's request answer it without opening the app, and a request answered elsewhere
//! takes its notification away.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use notify_rust::{Hint, Timeout, Urgency};
use sidekick_engine::notify::{Notification, Notifier, Weight};
use sidekick_engine::Engine;
use sidekick_protocol::{AnswerRequest, MergeRequest};

/// Shows notifications on the session's notification server.
#[derive(Clone)]
pub struct Desktop {
    engine: Engine,
    runtime: tokio::runtime::Handle,
    /// The server shows action buttons (it advertises the `actions` capability).
    actions: bool,
    app: PathBuf,
    /// Notifications showing a request, by (job, request): taken away once it is answered.
    shown: Arc<Mutex<HashMap<(String, String), u32>>>,
}

impl Desktop {
    /// Asks the session's notification server what it can do. `None` (after one warning in the
    /// host log) when there is no bus or no server: jobs run as usual, untold.
    pub async fn connect(engine: Engine) -> Option<Arc<Desktop>> {
        match server_info().await {
            Ok(info) => {
                tracing::info!(
                    server = %info.name,
                    vendor = %info.vendor,
                    actions = info.actions,
                    "desktop notifications on"
                );
                Some(Arc::new(Desktop {
                    engine,
                    runtime: tokio::runtime::Handle::current(),
                    actions: info.actions,
                    app: app_exe(),
                    shown: Arc::default(),
                }))
            }
            Err(why) => {
                tracing::warn!(
                    "no desktop notification server ({why}); jobs run as usual, without notifications"
                );
                None
            }
        }
    }

    fn show(&self, n: &Notification) {
        let mut note = notify_rust::Notification::new();
        note.appname("Sidekick")
            .summary(&n.summary)
            .body(&n.body)
            .icon("dialog-information")
            .hint(Hint::Custom("x-sidekick-job".into(), n.job_id.clone()));
        match n.weight {
            Weight::Prominent => {
                note.urgency(Urgency::Critical).timeout(Timeout::Never);
            }
            Weight::Normal => {
                note.urgency(Urgency::Normal).timeout(Timeout::Default);
            }
        }
        if self.actions {
            // "default" is what a click on the notification's body invokes.
            note.action("default", "Review");
            if n.request.is_some() {
                note.action("allow", "Allow").action("deny", "Deny");
            } else {
                note.action("review", "Review");
            }
            if n.mergeable {
                note.action("merge", "Merge");
            }
            if n.undoable {
                note.action("undo", "Undo");
            }
        }
        if !self.actions {
            if let Err(e) = note.show() {
                tracing::warn!("cannot show a notification: {e}");
            }
            return;
        }
        // Listen for the user's answer before showing: an action clicked at once must not be
        // missed (notify-rust's own wait subscribes only after the notification is up).
        let listening = self.runtime.block_on(listen());
        let (conn, mut answers) = match listening {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("cannot listen for notification actions: {e}");
                if let Err(e) = note.show() {
                    tracing::warn!("cannot show a notification: {e}");
                }
                return;
            }
        };
        let handle = match note.show() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("cannot show a notification: {e}");
                return;
            }
        };
        let id = handle.id();
        let key = n.request.clone().map(|r| (n.job_id.clone(), r));
        if let Some(key) = &key {
            lock(&self.shown).insert(key.clone(), id);
        }
        let action = self.runtime.block_on(async {
            use futures_util::TryStreamExt;
            while let Ok(Some(msg)) = answers.try_next().await {
                let header = msg.header();
                match header.member().map(|m| m.as_str()) {
                    Some("ActionInvoked") => {
                        if let Ok((nid, key)) = msg.body().deserialize::<(u32, String)>() {
                            if nid == id {
                                return Some(key);
                            }
                        }
                    }
                    Some("NotificationClosed") => {
                        if let Ok((nid, _)) = msg.body().deserialize::<(u32, u32)>() {
                            if nid == id {
                                return None;
                            }
                        }
                    }
                    _ => {}
                }
            }
            None
        });
        drop((handle, conn));
        if let Some(key) = &key {
            lock(&self.shown).remove(key);
        }
        if let Some(action) = action {
            self.act(&action, n);
        }
    }

    /// A merge waits on the engine and shows its outcome: a thread of its own.
    fn act(&self, action: &str, n: &Notification) {
        match action {
            "default" | "review" => self.open_app(&n.job_id),
            "merge" => {
                let this = self.clone();
                let job = n.job_id.clone();
                std::thread::spawn(move || this.merge(&job));
            }
            "undo" => {
                let job = n.job_id.clone();
                match self.runtime.block_on(self.engine.undo(&job, false)) {
                    Ok(r) => tracing::info!(job, "undone from a notification: {}", r.message),
                    Err(e) => tracing::warn!(job, "cannot undo from a notification: {e}"),
                }
            }
            "allow" | "deny" => {
                let Some(request) = n.request.clone() else {
                    return;
                };
                let req = AnswerRequest {
                    request: Some(request),
                    allow: action == "allow",
                    always: false,
                    message: None,
                };
                let job = n.job_id.clone();
                match self.runtime.block_on(self.engine.answer(&job, req)) {
                    Ok(j) => {
                        tracing::info!(job, "answered from a notification: {action}; {}", j.state)
                    }
                    Err(e) => tracing::warn!(job, "cannot answer from a notification: {e}"),
                }
            }
            _ => {}
        }
    }

    fn open_app(&self, job: &str) {
        tracing::info!(job, app = %self.app.display(), "opening the app from a notification");
        let spawned = Command::new(&self.app)
            .args(["--job", job])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            // Reaped by a thread so it does not linger as a zombie of the host.
            Ok(mut child) => {
                std::thread::spawn(move || child.wait());
            }
            Err(e) => tracing::warn!("cannot open {}: {e}", self.app.display()),
        }
    }

    fn merge(&self, job: &str) {
        let result = self
            .runtime
            .block_on(self.engine.merge(job, MergeRequest::default()));
        let (summary, body) = match result {
            Ok(r) => (format!("{} merged", r.job.codename), r.message),
            Err(e) => ("Sidekick could not merge".to_string(), e.to_string()),
        };
        tracing::info!(job, "merge from a notification: {body}");
        let mut note = notify_rust::Notification::new();
        note.appname("Sidekick").summary(&summary).body(&body);
        if let Err(e) = note.show() {
            tracing::warn!("cannot show a notification: {e}");
        }
    }
}

/// How long the host (and `sidekick doctor`) waits for the session bus to answer.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The notification server's name, version and vendor, and whether it shows buttons.
struct ServerInfo {
    name: String,
    version: String,
    vendor: String,
    actions: bool,
}

/// Runs a blocking notification call on a thread of its own (not the runtime's blocking pool: a
/// call stuck on a silent bus must not hold up a shutdown), for at most [`PROBE_TIMEOUT`] (a bus
/// that accepts and never answers must not keep the host from serving). Failures are one phrase.
async fn on_the_bus<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, notify_rust::error::Error> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    match tokio::time::timeout(PROBE_TIMEOUT, rx).await {
        Ok(Ok(answer)) => answer.map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the session bus did not answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// Asks the notification server who it is and what it can do.
async fn server_info() -> Result<ServerInfo, String> {
    on_the_bus(|| {
        let info = notify_rust::get_server_information()?;
        let caps = notify_rust::get_capabilities()?;
        Ok(ServerInfo {
            name: info.name,
            version: info.version,
            vendor: info.vendor,
            actions: caps.iter().any(|c| c == "actions"),
        })
    })
    .await
}

/// For `sidekick doctor`: the notification server's name and version and whether it shows
/// buttons, or why there is none.
pub async fn probe() -> Result<String, String> {
    let info = server_info().await?;
    Ok(format!(
        "{} {} ({})",
        info.name,
        info.version,
        if info.actions {
            "with buttons"
        } else {
            "no buttons: answers go through the app or the CLI"
        }
    ))
}

/// Shows a notification that says notifications work (the first-run screen's test).
pub async fn show_test() -> Result<(), String> {
    on_the_bus(|| {
        let mut note = notify_rust::Notification::new();
        note.appname("Sidekick")
            .summary("Sidekick can tap you on the shoulder")
            .body("Notifications work: this is where a job that needs you or is done will say so.")
            .icon("dialog-information");
        note.show().map(|_| ())
    })
    .await
}

/// A connection to the session bus that receives the notification server's `ActionInvoked`
/// and `NotificationClosed` signals.
async fn listen() -> zbus::Result<(zbus::Connection, zbus::MessageStream)> {
    let conn = zbus::Connection::session().await?;
    let stream = zbus::MessageStream::from(&conn);
    let bus = zbus::fdo::DBusProxy::new(&conn).await?;
    for member in ["ActionInvoked", "NotificationClosed"] {
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.freedesktop.Notifications")
            .member(member)
            .build()?;
        bus.add_match_rule(rule).await?;
    }
    Ok((conn, stream))
}

impl Notifier for Desktop {
    fn deliver(&self, notification: Notification) {
        let this = self.clone();
        // Showing is a blocking D-Bus call, and waiting for an action lasts as long as the
        // notification is up: each gets a thread of its own.
        std::thread::spawn(move || this.show(&notification));
    }

    fn withdraw(&self, job_id: &str, request: &str) {
        let Some(id) = lock(&self.shown).remove(&(job_id.to_string(), request.to_string())) else {
            return;
        };
        let runtime = self.runtime.clone();
        std::thread::spawn(move || {
            let closed = runtime.block_on(async {
                let conn = zbus::Connection::session().await?;
                conn.call_method(
                    Some("org.freedesktop.Notifications"),
                    "/org/freedesktop/Notifications",
                    Some("org.freedesktop.Notifications"),
                    "CloseNotification",
                    &(id,),
                )
                .await
                .map(|_| ())
            });
            if let Err(e) = closed {
                tracing::warn!("cannot take an answered request's notification away: {e}");
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The desktop app: `SIDEKICK_APP`, else `sidekick-app` beside this executable, else on PATH.
fn app_exe() -> PathBuf {
    sidekick_protocol::sibling_program("SIDEKICK_APP", "sidekick-app")
}
