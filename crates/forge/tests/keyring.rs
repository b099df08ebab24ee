//! The token from the system keyring: a Secret Service of the test's own on a private session
//! bus (a real dbus-daemon), holding gh's entry the way gh writes it.

use std::collections::HashMap;
use std::process::Child;
use std::sync::{Arc, Mutex};

use sidekick_forge::{token_for, ForgeKind, TokenSource};
use zbus::{OwnedObjectPath, OwnedVariant};

/// A private session bus; the daemon goes with it.
struct Bus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn bus() -> Bus {
    let dir = tempfile::tempdir().expect("tmp");
    let (daemon, address) = sidekick_testkit::dbus_daemon(dir.path()).expect("a private bus");
    Bus {
        daemon,
        address,
        _dir: dir,
    }
}

/// Items by their `service` attribute, unlocked or not, with what each call asked.
struct Keyring {
    items: Vec<(String, bool, Vec<u8>)>,
    calls: Arc<Mutex<Vec<String>>>,
}

fn path(p: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(p.to_string()).expect("object path")
}

#[zbus::interface(name = "org.freedesktop.Secret.Service")]
impl Keyring {
    fn search_items(
        &self,
        attributes: HashMap<String, String>,
    ) -> (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.push(format!("SearchItems {:?}", attributes.get("service")));
        let wanted = attributes.get("service").cloned().unwrap_or_default();
        let (mut unlocked, mut locked) = (Vec::new(), Vec::new());
        for (i, (service, open, _)) in self.items.iter().enumerate() {
            if *service == wanted {
                let p = path(&format!("/org/freedesktop/secrets/collection/login/{i}"));
                if *open {
                    unlocked.push(p);
                } else {
                    locked.push(p);
                }
            }
        }
        (unlocked, locked)
    }

    fn open_session(
        &self,
        algorithm: String,
        _input: OwnedVariant,
    ) -> (OwnedVariant, OwnedObjectPath) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.push(format!("OpenSession {algorithm}"));
        (
            zbus::Variant::from("").try_to_owned().expect("owned"),
            path("/org/freedesktop/secrets/session/1"),
        )
    }

    #[allow(clippy::type_complexity)]
    fn get_secrets(
        &self,
        items: Vec<OwnedObjectPath>,
        session: OwnedObjectPath,
    ) -> HashMap<OwnedObjectPath, (OwnedObjectPath, Vec<u8>, Vec<u8>, String)> {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.push(format!("GetSecrets {}", items.len()));
        items
            .into_iter()
            .filter_map(|item| {
                let i: usize = item.as_str().rsplit('/').next()?.parse().ok()?;
                let (_, _, secret) = self.items.get(i)?;
                Some((
                    item,
                    (
                        session.clone(),
                        Vec::new(),
                        secret.clone(),
                        "text/plain".into(),
                    ),
                ))
            })
            .collect()
    }
}

/// Serves `items` as the Secret Service on `bus`; the connection serves while it is kept.
fn serve(
    bus: &Bus,
    items: Vec<(String, bool, Vec<u8>)>,
) -> (zbus::Connection, Arc<Mutex<Vec<String>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let keyring = Keyring {
        items,
        calls: calls.clone(),
    };
    let conn = zbus::block_on(async {
        zbus::connection::Builder::address(bus.address.as_str())
            .name("org.freedesktop.secrets")
            .serve_at("/org/freedesktop/secrets", keyring)
            .build()
            .await
    })
    .expect("connection");
    (conn, calls)
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn gh_s_keyring_entry_is_the_token_when_gh_is_not_on_the_path() {
    let bus = bus();
    let (_conn, calls) = serve(
        &bus,
        vec![
            ("gh:github.com".into(), true, b"gho_fromkeyring\n".to_vec()),
            ("gh:ghe.corp".into(), false, b"gho_locked".to_vec()),
        ],
    );
    let env = |name: &str| (name == "DBUS_SESSION_BUS_ADDRESS").then(|| bus.address.clone());
    let empty = tempfile::tempdir().expect("tmp");
    let t = token_for(
        ForgeKind::GitHub,
        "github.com",
        &env,
        Some(empty.path().as_os_str()),
    )
    .expect("a token from the keyring");
    assert_eq!(t.secret(), "gho_fromkeyring");
    assert_eq!(t.source, TokenSource::Keyring);
    let seen = calls.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        seen,
        [
            "SearchItems Some(\"gh:github.com\")",
            "OpenSession plain",
            "GetSecrets 1"
        ]
    );
    // A locked entry is not unlocked for a background lookup, and no entry is no token.
    assert!(token_for(ForgeKind::GitHub, "ghe.corp", &env, None).is_none());
    assert!(token_for(ForgeKind::GitLab, "gitlab.com", &env, None).is_none());
    // Without a session bus there is no keyring to ask.
    assert!(token_for(ForgeKind::GitHub, "github.com", &no_env, None).is_none());
}

#[test]
fn no_keyring_on_the_bus_is_no_token_and_nothing_is_started() {
    let bus = bus();
    let env = |name: &str| (name == "DBUS_SESSION_BUS_ADDRESS").then(|| bus.address.clone());
    assert!(token_for(ForgeKind::GitHub, "github.com", &env, None).is_none());
}
