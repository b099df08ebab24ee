//! Other machines: a real OpenSSH server (Debian's sshd) on a loopback port, a second unix
//! user as the remote account, keys made here, reached through an ssh config alias (given with
//! `[ssh] command = ["ssh", "-F", FILE]`: ssh reads `~/.ssh/config` from the home passwd names,
//! not `$HOME`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{World, BIN};

/// The remote account. Its host and installed Sidekick are one per account: these tests take
/// turns.
const USER: &str = "sk-remote";
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The remote host this test started goes with it.
        let _ = Command::new("pkill").args(["-KILL", "-u", USER]).status();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The remote account, made once (unlocked, so sshd takes a key for it).
fn remote_user() -> PathBuf {
    let known = Command::new("getent")
        .args(["passwd", USER])
        .output()
        .expect("getent");
    if !known.status.success() {
        run(Command::new("useradd").args(["-m", "-s", "/bin/sh", USER]));
        run(Command::new("usermod").args(["-p", "*", USER]));
    }
    let line = String::from_utf8_lossy(&known.stdout).into_owned();
    line.split(':')
        .nth(5)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/home/{USER}")))
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(path));
}

/// sshd on a free loopback port with a host key and the client's key made here.
fn sshd() -> Sshd {
    remote_user();
    let dir = tempfile::Builder::new()
        .prefix("sk-sshd-")
        .tempdir_in("/var/tmp")
        .expect("tmp");
    let d = dir.path();
    {
        use std::os::unix::fs::PermissionsExt;
        // The remote account reads its authorized keys from here.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    keygen(&d.join("host_key"));
    keygen(&d.join("id"));
    std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).expect("keys");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {0}/host_key\n\
             AuthorizedKeysFile {0}/authorized_keys\nUsePAM no\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nAllowUsers {USER}\n\
             PidFile {0}/sshd.pid\nLogLevel ERROR\n",
            d.display()
        ),
    )
    .expect("sshd config");
    std::fs::create_dir_all("/run/sshd").expect("privilege separation folder");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .spawn()
        .expect("sshd runs (apt install openssh-server)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sshd never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The alias the user would have in ~/.ssh/config.
    std::fs::write(
        d.join("ssh_config"),
        format!(
            "Host box\n  HostName 127.0.0.1\n  Port {port}\n  User {USER}\n  IdentityFile {0}/id\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {0}/known_hosts\n  StrictHostKeyChecking accept-new\n\
             Host newbox\n  HostName 127.0.0.1\n  Port {port}\n  User {USER}\n  IdentityFile {0}/id\n  \
             IdentitiesOnly yes\n  StrictHostKeyChecking ask\n\
             Host *\n  UserKnownHostsFile {0}/known_hosts\n  IdentityFile {0}/id\n",
            d.display()
        ),
    )
    .expect("ssh config");
    Sshd { child, port, dir }
}

fn world(sshd: &Sshd) -> World {
    World::with_config(&format!(
        "[ssh]\ncommand = [\"ssh\", \"-F\", \"{}\"]\n",
        sshd.dir.path().join("ssh_config").display()
    ))
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_host_is_added_given_this_sidekick_started_listed_checked_and_removed() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let sshd = sshd();
    let home = remote_user();
    let _ = std::fs::remove_dir_all(home.join(".local/share/sidekick"));
    let w = world(&sshd);

    let added: Value = w.json(&["hosts", "add", "box", "--json"]);
    assert_eq!(added["name"], "box", "{added}");
    assert_eq!(added["installed"], "copied", "{added}");
    assert_eq!(added["facts"]["os"], "Linux");
    assert!(added["facts"]["git"]
        .as_str()
        .is_some_and(|g| g.starts_with("git version")));
    assert!(
        added["facts"]["cores"].as_u64().is_some_and(|c| c >= 1),
        "{added}"
    );
    assert!(
        added["facts"]["disk_free"].as_u64().is_some_and(|d| d > 0),
        "{added}"
    );
    let version = w.ok(&["--version"]);
    assert_eq!(added["facts"]["sidekick"], version.trim());
    let shell = added["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "shell"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(shell["installed"], true, "{added}");
    // This very binary, checksum and all, the remote user's own and private.
    let installed = home.join(".local/share/sidekick/bin/sidekick");
    assert_eq!(sha256(&installed), sha256(Path::new(BIN)));
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let m = std::fs::metadata(&installed).expect("installed");
        assert_eq!(m.permissions().mode() & 0o777, 0o700);
        let uid = std::fs::metadata(&home).expect("home").uid();
        assert_eq!(m.uid(), uid, "not the remote user's");
    }
    // Its host runs there, as the remote user, after ssh has gone.
    let serving = Command::new("pgrep")
        .args(["-u", USER, "-f", "sidekick serve"])
        .output()
        .expect("pgrep");
    assert!(serving.status.success(), "no host runs on the remote");
    // Kept in the config; a second add of the name is refused.
    let config = std::fs::read_to_string(w.home.join("config.toml")).expect("config");
    assert!(
        config.contains("[hosts.box]\ndestination = \"box\""),
        "{config}"
    );
    let again = w.sk(&["hosts", "add", "box"]);
    assert_ne!(again.code(), 0);
    assert!(
        again.stderr().contains("there is a host named box already"),
        "{}",
        again.stderr()
    );

    // Again: this build is there already.
    let checked: Value = w.json(&["hosts", "check", "box", "--json"]);
    assert_eq!(checked["installed"], "already", "{checked}");
    let text = w.ok(&["hosts", "check", "box"]);
    assert!(text.starts_with("box: Linux "), "{text}");
    assert!(
        text.contains("already installed") && text.contains("agents: "),
        "{text}"
    );

    let listed: Value = w.json(&["hosts", "ls", "--json"]);
    assert_eq!(listed[0]["name"], "box", "{listed}");
    assert_eq!(listed[0]["state"], "reachable", "{listed}");
    assert_eq!(listed[0]["version"], version.trim());
    // One shared connection, in Sidekick's private run folder.
    {
        use std::os::unix::fs::PermissionsExt;
        let run = w.home.join("run/ssh");
        let mode = std::fs::metadata(&run)
            .expect("control folder")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            std::fs::read_dir(&run).expect("list").count(),
            1,
            "one control socket"
        );
    }

    let gone = w.ok(&["hosts", "rm", "box"]);
    assert_eq!(gone.trim(), "forgot host box");
    assert_eq!(w.json(&["hosts", "ls", "--json"]), serde_json::json!([]));
    let r = w.sk(&["hosts", "check", "box"]);
    assert_ne!(r.code(), 0);
    assert_eq!(
        r.stderr().trim(),
        "sidekick: there is no host named box; `sidekick hosts add box DESTINATION` adds one"
    );
}

#[test]
fn an_unreachable_host_or_a_changed_host_key_is_sshs_reason_and_nothing_is_kept() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let sshd = sshd();
    let w = world(&sshd);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let r = w.sk(&[
        "hosts",
        "add",
        "nobox",
        &format!("ssh://{USER}@127.0.0.1:{closed}"),
    ]);
    assert_ne!(r.code(), 0);
    assert_eq!(
        r.stderr().trim(),
        format!("sidekick: cannot reach nobox: ssh: connect to host 127.0.0.1 port {closed}: Connection refused")
    );
    // A host key that is not the one known for that address.
    let other = sshd.dir.path().join("other_key");
    keygen(&other);
    let public = std::fs::read_to_string(other.with_extension("pub")).expect("pub");
    std::fs::write(
        sshd.dir.path().join("known_hosts"),
        format!("[127.0.0.1]:{} {}", sshd.port, public),
    )
    .expect("known hosts");
    let r = w.sk(&["hosts", "add", "box"]);
    assert_ne!(r.code(), 0);
    assert_eq!(
        r.stderr().trim(),
        "sidekick: cannot reach box: Host key verification failed"
    );
    let r = w.sk(&["hosts", "add", "evil", "--", "-oProxyCommand=touch /tmp/x"]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr().contains("is not an ssh destination"),
        "{}",
        r.stderr()
    );
    let r = w.sk(&["hosts", "add", "local", "box"]);
    assert!(r.stderr().contains("is not a host name"), "{}", r.stderr());
    // Nothing was kept.
    let config = std::fs::read_to_string(w.home.join("config.toml")).unwrap_or_default();
    assert!(!config.contains("[hosts"), "{config}");
}

#[test]
fn at_a_terminal_ssh_asks_about_a_new_host_key_once_as_it_would_there() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let sshd = sshd();
    let w = world(&sshd);
    // Without a terminal a host whose key is not known yet is refused, not trusted blindly.
    let r = w.sk(&["hosts", "add", "newbox"]);
    assert_ne!(r.code(), 0);
    assert_eq!(
        r.stderr().trim(),
        "sidekick: cannot reach newbox: Host key verification failed"
    );
    // At a terminal (tmux) ssh shows the fingerprint and the person says yes.
    let term = crate::common::Terminal::start(&w, "hosts add newbox");
    term.wait_for("Are you sure you want to continue connecting");
    term.send(&["yes", "Enter"]);
    term.wait_for("newbox: Linux");
    drop(term);
    let known = std::fs::read_to_string(sshd.dir.path().join("known_hosts")).unwrap_or_default();
    assert!(
        known.contains(&format!("[127.0.0.1]:{}", sshd.port)),
        "{known}"
    );
    let config = std::fs::read_to_string(w.home.join("config.toml")).expect("config");
    assert!(config.contains("[hosts.newbox]"), "{config}");
}
