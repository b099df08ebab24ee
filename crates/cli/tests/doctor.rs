//! `sidekick doctor` on a healthy setup (a real notification server on a private session bus,
//! a running host, the real bubblewrap) and on broken ones.

use std::os::unix::fs::PermissionsExt;

use crate::common::World;
use crate::notify_server::Bus;

/// The line of check `name` in doctor's output.
fn line<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| {
            l.get(6..)
                .is_some_and(|rest| rest.starts_with(&format!("{name} ")))
        })
        .unwrap_or_else(|| panic!("no {name} line:\n{out}"))
}

#[test]
fn doctor_passes_on_a_healthy_setup_and_names_each_check() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body", "actions"]);
    let mut w = World::new();
    w.bus = bus.address.clone();
    w.ok(&["ls"]);
    let r = w.sk(&["doctor"]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{out}");
    for name in [
        "git",
        "folder",
        "socket",
        "database",
        "host",
        "notifications",
        "sandbox",
        "config",
    ] {
        assert!(line(&out, name).starts_with("ok "), "{name}:\n{out}");
    }
    assert!(line(&out, "host").contains("answering"), "{out}");
    assert!(
        line(&out, "notifications").contains("with buttons"),
        "{out}"
    );
    // Every built-in agent is listed, installed or with how to install it.
    for agent in ["claude", "codex", "gemini", "aider"] {
        line(&out, &format!("agent {agent}"));
    }
    let checks = w.json(&["doctor", "--json"]);
    let list = checks.as_array().expect("an array");
    assert!(list.iter().all(|c| c["status"] != "fail"), "{checks}");
    assert!(list
        .iter()
        .any(|c| c["name"] == "database" && c["status"] == "ok"));
}

#[test]
fn doctor_fails_and_says_what_to_do_when_git_is_missing_or_the_socket_folder_is_open() {
    let mut w = World::new();
    w.ok(&["ls"]);
    let run = w.home.join("run");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    w.env = vec![("PATH", w.root.join("empty-path").display().to_string())];
    let r = w.sk(&["doctor"]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{out}");
    let git = line(&out, "git");
    assert!(
        git.starts_with("FAIL") && git.contains("not on PATH") && git.contains("install git"),
        "{out}"
    );
    let socket = line(&out, "socket");
    assert!(
        socket.starts_with("FAIL")
            && socket.contains("mode 777")
            && socket.contains(&format!("chmod 700 {}", run.display())),
        "{out}"
    );
    // No notification server on this world's bus: said, with what to do.
    assert!(line(&out, "notifications").starts_with("FAIL"), "{out}");
    assert!(out.contains("checks failed"), "{out}");
    let checks = w.run_json(&["doctor", "--json"]);
    assert!(
        checks
            .as_array()
            .expect("an array")
            .iter()
            .any(|c| c["name"] == "git" && c["status"] == "fail" && c["fix"].as_str().is_some()),
        "{checks}"
    );
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).expect("chmod");
}

#[test]
fn service_install_writes_a_unit_systemd_accepts_and_uninstall_removes_it() {
    let w = World::new();
    let unit = w.root.join("user/config/systemd/user/sidekick.service");
    let r = w.sk(&["service", "install"]);
    let text = std::fs::read_to_string(&unit).expect("the unit is written");
    let exe = std::fs::canonicalize(crate::common::BIN).expect("binary");
    assert!(
        text.contains(&format!("ExecStart=\"{}\" serve\n", exe.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Environment=\"SIDEKICK_HOME={}\"",
            w.home.display()
        )),
        "{text}"
    );
    assert!(text.contains("Environment=\"PATH="), "{text}");
    // systemd's own reading of the unit.
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && !said.contains("sidekick.service:"),
        "systemd-analyze verify: {said}"
    );
    // Where systemd's user manager does not answer (this container), the sentence says what to
    // run; where it does, the service is enabled.
    if r.code() != 0 {
        assert!(
            r.stderr()
                .contains("systemctl --user enable --now sidekick.service"),
            "{}",
            r.stderr()
        );
    }
    let r = w.sk(&["service", "uninstall"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(!unit.exists());
}
