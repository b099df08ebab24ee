//! The token the forge's CLI keeps in the system keyring (the freedesktop Secret Service:
//! GNOME Keyring, KWallet), for when that CLI is not on the host's PATH (an app started from the
//! desktop's menu often has a shorter PATH than the user's shell). `gh` keeps its token under
//! the attribute `service = "gh:HOST"`, `glab --use-keyring` under `glab:HOST`. Only unlocked
//! items are read: the host never prompts.

use std::collections::HashMap;
use std::time::Duration;

use zbus::{OwnedObjectPath, OwnedVariant, Variant};

use crate::ForgeKind;

/// The Secret Service's bus name.
const SECRETS: &str = "org.freedesktop.secrets";
/// How long the keyring may take to answer.
const LIMIT: Duration = Duration::from_secs(5);

/// The forge CLI's token for `host` from the Secret Service on the session bus at `bus`.
pub fn keyring_token(kind: ForgeKind, host: &str, bus: &str) -> Option<String> {
    let service = match kind {
        ForgeKind::GitHub => format!("gh:{host}"),
        ForgeKind::GitLab => format!("glab:{host}"),
    };
    let bus = bus.to_string();
    // A keyring that hangs must not hold the caller: the lookup runs on a thread of its own.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(zbus::block_on(lookup(&bus, &service)));
    });
    rx.recv_timeout(LIMIT).ok().flatten()
}

async fn lookup(bus: &str, service: &str) -> Option<String> {
    let conn = zbus::connection::Builder::address(bus).build().await.ok()?;
    // No keyring running: do not have the bus start one for a background lookup.
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.ok()?;
    if !dbus.name_has_owner(SECRETS.try_into().ok()?).await.ok()? {
        return None;
    }
    let secrets = zbus::Proxy::new(
        &conn,
        SECRETS,
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service",
    )
    .await
    .ok()?;
    let attributes = HashMap::from([("service", service)]);
    let (unlocked, _locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
        secrets.call("SearchItems", &(attributes,)).await.ok()?;
    let item = unlocked.into_iter().next()?;
    let (_, session): (OwnedVariant, OwnedObjectPath) = secrets
        .call("OpenSession", &("plain", Variant::from("")))
        .await
        .ok()?;
    type Secret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);
    let found: Result<HashMap<OwnedObjectPath, Secret>, _> = secrets
        .call("GetSecrets", &(vec![item.clone()], &session))
        .await;
    // The session is closed whatever the answer.
    if let Ok(s) = zbus::Proxy::new(
        &conn,
        SECRETS,
        session.as_ref(),
        "org.freedesktop.Secret.Session",
    )
    .await
    {
        let _: Result<(), _> = s.call("Close", &()).await;
    }
    let (_, _, value, _) = found.ok()?.remove(&item)?;
    let token = String::from_utf8(value).ok()?.trim().to_string();
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}
