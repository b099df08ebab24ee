//! Desktop notifications on a real D-Bus session bus (a private dbus-daemon) with a
//! notification server of the tests' own that records what the host sends and can invoke
//! actions, like a desktop's would.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{s, World, BIN};
use crate::notify_server::Bus;

/// A world whose host sees `bus`, with notification times short enough for tests.
fn world(extra_config: &str, bus: Option<&Bus>) -> World {
    let mut w = World::with_config(&format!(
        "max_running = 4\n[notifications]\nquiet_under = \"1s\"\nprominent_over = \"3s\"\n{extra_config}"
    ));
    if let Some(bus) = bus {
        w.bus = bus.address.clone();
    }
    w
}

/// `sidekick run --json EXTRA -- TASK` whatever the job's ending (failed jobs exit 1).
fn run(w: &World, extra: &[&str], task: &str) -> serde_json::Value {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(extra);
    args.extend(["--", task]);
    w.run_json(&args)
}

fn codename(job: &serde_json::Value) -> String {
    s(&job["codename"])
}

#[test]
fn thresholds_decide_whether_and_how_loudly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body", "actions"]);
    let w = world("burst_window = \"200ms\"\n", Some(&bus));
    let quick = w.json(&["run", "--json", "--wait", "sleep 0.2"]);
    let normal = w.json(&["run", "--json", "--wait", "sleep 1.3"]);
    let long = w.json(&["run", "--json", "--wait", "sleep 3.3"]);
    let notes = bus.wait_notes(2);
    std::thread::sleep(Duration::from_millis(500));
    let notes_after = bus.notes();
    assert_eq!(notes_after.len(), 2, "{notes_after:?}");
    assert!(
        !notes.iter().any(|n| n.summary.contains(&codename(&quick))),
        "under quiet_under: {notes:?}"
    );
    assert_eq!(notes[0].summary, format!("{} completed", codename(&normal)));
    assert_eq!(
        (notes[0].urgency, notes[0].expire),
        (Some(1), -1),
        "normal, default timeout"
    );
    assert!(
        notes[0].body.starts_with("sleep 1.3 · 1s"),
        "{}",
        notes[0].body
    );
    assert_eq!(notes[1].summary, format!("{} completed", codename(&long)));
    assert_eq!(
        (notes[1].urgency, notes[1].expire),
        (Some(2), 0),
        "critical, stays"
    );
}

#[test]
fn failures_always_tell_cancellations_never() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body"]);
    let w = world("burst_window = \"200ms\"\n", Some(&bus));
    let failed = run(&w, &["--wait"], "exit 3");
    let cancelled = w.spawn(&[], "sleep 30");
    w.wait_state(&s(&cancelled["id"]), "running");
    w.ok(&["cancel", &s(&cancelled["id"])]);
    let quiet = run(&w, &["--wait", "--quiet"], "exit 4");
    let timed_out = run(&w, &["--wait", "--timeout", "1s"], "sleep 20");
    let notes = bus.wait_notes(2);
    assert_eq!(notes[0].summary, format!("{} failed", codename(&failed)));
    assert!(
        notes[0].body.contains("exited with code 3"),
        "{}",
        notes[0].body
    );
    assert_eq!(
        notes[1].summary,
        format!("{} timeout", codename(&timed_out))
    );

    // A job the host dies under is told about by the next host.
    let orphaned = w.spawn(&[], "sleep 30");
    w.wait_state(&s(&orphaned["id"]), "running");
    let pid = w.host_pid().expect("a host");
    crate::common::signal(pid, nix::sys::signal::Signal::SIGKILL);
    crate::common::wait_gone(pid, Duration::from_secs(10));
    w.ok(&["ls"]);
    let notes = bus.wait_notes(3);
    assert_eq!(
        notes[2].summary,
        format!("{} interrupted", codename(&orphaned))
    );
    assert_eq!(
        notes.len(),
        3,
        "nothing for the cancelled or --quiet job: {notes:?}"
    );
    for job in [&cancelled, &quiet] {
        assert!(!notes.iter().any(|n| n.summary.contains(&codename(job))));
    }
}

#[test]
fn a_burst_becomes_one_summary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body", "actions"]);
    let w = world("burst_window = \"1500ms\"\n", Some(&bus));
    let jobs: Vec<_> = (0..3).map(|_| w.spawn(&[], "sleep 1.2")).collect();
    for j in &jobs {
        w.wait_state(&s(&j["id"]), "completed");
    }
    let notes = bus.wait_notes(1);
    std::thread::sleep(Duration::from_millis(1800));
    let notes_after = bus.notes();
    assert_eq!(
        notes_after.len(),
        1,
        "one summary, not a stack: {notes_after:?}"
    );
    let n = &notes[0];
    assert!(n.summary.starts_with("3 jobs finished: "), "{}", n.summary);
    for j in &jobs {
        assert!(n.summary.contains(&codename(j)), "{}", n.summary);
    }
    assert_eq!(n.body.lines().count(), 3, "{}", n.body);
    assert_eq!(
        n.actions,
        ["default", "Review", "review", "Review"],
        "no Merge for a burst"
    );
}

#[test]
fn actions_only_where_the_server_has_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body"]);
    let w = world("", Some(&bus));
    w.spawn(&["--wait"], "sleep 1.2; echo hi > a.txt");
    let notes = bus.wait_notes(1);
    assert!(notes[0].actions.is_empty(), "{:?}", notes[0].actions);
}

#[test]
fn review_opens_the_app_and_merge_merges() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body", "actions"]);
    let mut w = world("burst_window = \"200ms\"\n", Some(&bus));
    // The "app": records how it was started.
    let opened = w.root.join("opened.txt");
    let app = w.root.join("fake-app");
    std::fs::write(
        &app,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", opened.display()),
    )
    .expect("app");
    std::fs::set_permissions(&app, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    w.app = Some(app);

    let job = w.spawn(&["--wait"], "sleep 1.2; echo 'from the job' > a.txt");
    let failed = run(&w, &["--wait"], "sleep 1.2; exit 1");
    let notes = bus.wait_notes(2);
    let (ok, bad) = (&notes[0], &notes[1]);
    assert_eq!(
        ok.actions,
        ["default", "Review", "review", "Review", "merge", "Merge"]
    );
    assert_eq!(
        bad.actions,
        ["default", "Review", "review", "Review"],
        "a failed job is not offered for merge"
    );
    assert!(bad.summary.contains(&codename(&failed)));

    bus.invoke(ok.id, "review");
    crate::common::wait_for_file(&opened);
    let start = Instant::now();
    let want = format!("--job {}", s(&job["id"]));
    while std::fs::read_to_string(&opened).unwrap_or_default().trim() != want {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the app was started with {:?}",
            std::fs::read_to_string(&opened)
        );
        std::thread::sleep(Duration::from_millis(25));
    }

    // A desktop closes a notification once one of its actions is clicked: merge from the next.
    let merged = w.spawn(&["--wait"], "sleep 1.2; echo 'from the job' > a.txt");
    let notes = bus.wait_notes(3);
    assert_eq!(notes[2].summary, format!("{} completed", codename(&merged)));
    bus.invoke(notes[2].id, "merge");
    w.wait_state(&s(&merged["id"]), "merged");
    assert_eq!(w.git(&["show", "main:a.txt"]), "from the job");
    let notes = bus.wait_notes(4);
    assert_eq!(notes[3].summary, format!("{} merged", codename(&merged)));
    assert!(notes[3].actions.is_empty());
    assert_eq!(
        w.status(&s(&job["id"]))["state"],
        "completed",
        "Review changed nothing"
    );
}

#[test]
fn switched_off_except_where_a_job_asks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body"]);
    let w = world("enabled = false\nburst_window = \"200ms\"\n", Some(&bus));
    let silent = run(&w, &["--wait"], "sleep 1.2; exit 2");
    let asked = w.spawn(&["--wait", "--notify"], "true");
    let notes = bus.wait_notes(1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bus.notes().len(), 1, "{:?}", bus.notes());
    assert_eq!(notes[0].summary, format!("{} completed", codename(&asked)));
    assert!(!notes[0].summary.contains(&codename(&silent)));
}

#[test]
fn without_a_notification_server_jobs_run_and_the_log_says_so_once() {
    let w = World::new();
    run(&w, &["--wait"], "true");
    run(&w, &["--wait"], "exit 1");
    let log = std::fs::read_to_string(w.home.join("host.log")).expect("host.log");
    assert_eq!(
        log.matches("no desktop notification server").count(),
        1,
        "{log}"
    );
}

#[test]
fn waiting_at_a_terminal_rings_the_bell() {
    let w = World::new();
    // `script` gives the command a real terminal.
    let out = Command::new("script")
        .args(["-qec", &format!("{BIN} run --wait true"), "/dev/null"])
        .current_dir(&w.repo)
        .envs(w.envs())
        .output()
        .expect("script runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.contains(&0x07),
        "no bell: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let piped = w.sk(&["run", "--wait", "true"]);
    assert!(!piped.0.stdout.contains(&0x07), "a bell in a pipe");
}

/// A world whose `claude` is the asking stand-in (`fixtures/asking-claude.sh`) in a dialog.
fn asking_world(bus: &Bus) -> World {
    let mut w = world("[agents.claude]\npermission = \"ask\"\n", Some(bus));
    w.with_asking_claude();
    w
}

/// The notification that asks about `job`'s request.
fn asking_note(bus: &Bus, job: &serde_json::Value) -> crate::notify_server::Note {
    let summary = format!("{} wants to write asked.txt", codename(job));
    let start = Instant::now();
    loop {
        if let Some(n) = bus.notes().into_iter().find(|n| n.summary == summary) {
            return n;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no notification asks for {}: {:?}",
            codename(job),
            bus.notes()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn an_agents_request_is_answered_from_its_notification() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body", "actions"]);
    let w = asking_world(&bus);
    let job = w.spawn(&["-a", "claude"], "write asked.txt");
    let note = asking_note(&bus, &job);
    assert_eq!(
        note.actions,
        ["default", "Review", "allow", "Allow", "deny", "Deny"]
    );
    // The change itself, to judge it by: the file and what it would hold.
    assert!(
        note.body.starts_with("asked.txt (written)\n+allowed\n"),
        "{note:?}"
    );
    assert_eq!(note.urgency, Some(2), "it needs the user: critical");
    assert_eq!(w.status(&s(&job["id"]))["state"], "waiting");

    bus.invoke(note.id, "allow");
    let done = w.wait_state(&s(&job["id"]), "completed");
    assert_eq!(
        w.git(&["show", &format!("{}:asked.txt", s(&done["branch"]))]),
        "allowed"
    );
}

#[test]
fn a_request_answered_elsewhere_takes_its_notification_away() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body", "actions"]);
    let w = asking_world(&bus);
    let job = w.spawn(&["-a", "claude"], "write asked.txt");
    let note = asking_note(&bus, &job);
    assert!(!note.closed);
    w.ok(&["deny", &s(&job["id"])]);
    let start = Instant::now();
    while !bus.notes().iter().any(|n| n.id == note.id && n.closed) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the answered request's notification is still up"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let done = w.wait_state(&s(&job["id"]), "completed");
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(
        !tree.contains("asked.txt"),
        "written although denied: {tree}"
    );
}

#[test]
fn a_session_bus_that_never_answers_does_not_keep_the_host_from_serving() {
    let mut w = World::new();
    // A socket that accepts connections and never says a word.
    let socket = w.root.join("silent-bus");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let held = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for conn in listener.incoming().take(8).flatten() {
            kept.push(conn);
        }
    });
    w.bus = format!("unix:path={}", socket.display());
    // The client gives a new host 45 s to answer (before, it never did: the notifier waited
    // on the bus before the socket was served); the job runs, without notifications.
    let job = w.spawn(&["--wait"], "echo fine");
    assert_eq!(job["state"], "completed", "{job}");
    let log = std::fs::read_to_string(w.home.join("host.log")).unwrap_or_default();
    assert!(log.contains("the session bus did not answer"), "{log}");
    drop(held);
}

#[test]
fn a_job_that_merged_by_itself_says_so_and_undo_takes_it_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bus = Bus::start(tmp.path(), &["body", "actions"]);
    let w = world("burst_window = \"200ms\"\n", Some(&bus));
    let before = w.git(&["rev-parse", "main"]);
    // Quick: told all the same, it landed in the user's branch.
    let landed = w.json(&[
        "run",
        "--json",
        "--wait",
        "--auto-merge",
        "echo docs > docs.md",
    ]);
    assert_eq!(landed["state"], "merged", "{landed}");
    let notes = bus.wait_notes(1);
    assert_eq!(
        notes[0].summary,
        format!("{} merged into main by itself", codename(&landed))
    );
    assert_eq!(
        notes[0].actions,
        ["default", "Review", "review", "Review", "undo", "Undo"]
    );
    bus.invoke(notes[0].id, "undo");
    w.wait_state(&s(&landed["id"]), "completed");
    assert_eq!(w.git(&["rev-parse", "main"]), before, "undone");

    // One held for review says why, and is offered for merge by hand where it is clean... here
    // it is not: the user's edit is in the way.
    std::fs::write(w.repo.join("README.md"), "the user's\n").expect("write");
    let held = w.json(&[
        "run",
        "--json",
        "--wait",
        "--auto-merge",
        "echo theirs > README.md",
    ]);
    assert_eq!(held["state"], "completed", "{held}");
    let notes = bus.wait_notes(2);
    assert_eq!(notes[1].summary, format!("{} completed", codename(&held)));
    assert!(
        notes[1]
            .body
            .starts_with("Not merged by itself: uncommitted changes in"),
        "{}",
        notes[1].body
    );
    assert!(!notes[1].actions.contains(&"merge".to_string()));
}
