//! A notification server of the tests' own: it implements `org.freedesktop.Notifications` on
//! a real D-Bus session bus, records every notification the host sends, and invokes actions
//! the way a desktop does when the user clicks one. Shared by the CLI's notification tests and
//! the app's end-to-end test.

use std::collections::HashMap;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::object_server::SignalEmitter;
use zbus::OwnedVariant;

#[derive(Debug, Clone)]
pub struct Note {
    pub id: u32,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub urgency: Option<u8>,
    pub expire: i32,
    /// The host took it away (`CloseNotification`).
    pub closed: bool,
}

struct Recorder {
    notes: Arc<Mutex<Vec<Note>>>,
    caps: Vec<String>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    fn get_capabilities(&self) -> Vec<String> {
        self.caps.clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedVariant>,
        expire_timeout: i32,
    ) -> u32 {
        let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        let id = notes.len() as u32 + 1;
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        notes.push(Note {
            id,
            summary,
            body,
            actions,
            urgency,
            expire: expire_timeout,
            closed: false,
        });
        id
    }

    async fn close_notification(
        &self,
        id: u32,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        {
            let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = notes.iter_mut().find(|n| n.id == id) {
                n.closed = true;
            }
        }
        // 3: closed by a call to CloseNotification.
        let _ = Recorder::notification_closed(&emitter, id, 3).await;
    }

    #[zbus(out_args("name", "vendor", "version", "spec_version"))]
    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "sidekick-tests".into(),
            "tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

/// A session bus with the recording notification server on it.
pub struct Bus {
    /// The private bus's daemon, when this `Bus` started one.
    daemon: Option<Child>,
    pub address: String,
    rt: tokio::runtime::Runtime,
    conn: Option<zbus::Connection>,
    notes: Arc<Mutex<Vec<Note>>>,
}

const PATH: &str = "/org/freedesktop/Notifications";

impl Bus {
    /// Starts a private bus (a dbus-daemon of its own) and serves on it.
    pub fn start(dir: &Path, caps: &[&str]) -> Bus {
        let (daemon, address) = sidekick_testkit::dbus_daemon(dir).expect("a private bus");
        Bus::serve(Some(daemon), address, caps)
    }

    /// Serves on the session bus this process already has (`dbus-run-session`).
    #[allow(dead_code)] // the app's end-to-end test uses it
    pub fn session(caps: &[&str]) -> Bus {
        let address = std::env::var("DBUS_SESSION_BUS_ADDRESS").expect("a session bus");
        Bus::serve(None, address, caps)
    }

    fn serve(daemon: Option<Child>, address: String, caps: &[&str]) -> Bus {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let notes = Arc::new(Mutex::new(Vec::new()));
        let server = Recorder {
            notes: notes.clone(),
            caps: caps.iter().map(|c| c.to_string()).collect(),
        };
        let conn = rt
            .block_on(async {
                zbus::conn::Builder::address(address.as_str())
                    .name("org.freedesktop.Notifications")
                    .serve_at(PATH, server)
                    .build()
                    .await
            })
            .expect("the notification server is on the bus");
        Bus {
            daemon,
            address,
            rt,
            conn: Some(conn),
            notes,
        }
    }

    pub fn notes(&self) -> Vec<Note> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until `n` notifications have arrived.
    pub fn wait_notes(&self, n: usize) -> Vec<Note> {
        let start = Instant::now();
        loop {
            let notes = self.notes();
            if notes.len() >= n {
                return notes;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "expected {n} notifications, got {notes:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// What a desktop does when the user clicks an action.
    pub fn invoke(&self, id: u32, action: &str) {
        let conn = self.conn.as_ref().expect("connected");
        self.rt
            .block_on(async {
                let iface = conn.object_server().interface::<_, Recorder>(PATH).await?;
                Recorder::action_invoked(iface.signal_emitter(), id, action).await
            })
            .expect("signal sent");
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        drop(self.conn.take());
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}
