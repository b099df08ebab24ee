//! The host process: single instance, socket, wire format, start race, crash and shutdown.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::{outer_pid, pid_alive, s, signal, wait_for_file, wait_gone, World, BIN};

/// A raw HTTP/1.1 request on the socket, as `curl --unix-socket` would send it.
fn raw_get(socket: &Path, path: &str) -> (String, String) {
    let mut stream = UnixStream::connect(socket).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    (head.to_string(), body.to_string())
}

/// Undoes chunked transfer encoding.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

fn host_processes(home: &Path) -> Vec<i32> {
    let marker = format!("SIDEKICK_HOME={}", home.display());
    let exe = PathBuf::from(BIN).canonicalize().expect("canon");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_serve = args.get(1) == Some(&&b"serve"[..]);
        let same_exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p == exe)
            .unwrap_or(false);
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let ours = env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes());
        if is_serve && same_exe && ours && pid_alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn the_socket_is_private_and_speaks_plain_http_and_ndjson() {
    let w = World::new();
    let job = w.spawn(&["--wait"], "echo one; echo two");
    let run = w.home.join("run");
    let socket = run.join("sidekick.sock");
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&socket), 0o600);

    let (head, body) = raw_get(&socket, "/v1/health");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        Some(health["pid"].as_i64().expect("pid") as i32),
        w.host_pid()
    );

    let (head, body) = raw_get(
        &socket,
        &format!("/v1/events?since=0&follow=false&job={}", s(&job["id"])),
    );
    assert!(head.contains("application/x-ndjson"), "{head}");
    let text = if head.to_ascii_lowercase().contains("chunked") {
        dechunk(&body)
    } else {
        body
    };
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "{seqs:?}");
    let lines: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "output")
        .map(|e| e["line"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(lines, vec!["one", "two"]);
    let states: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "job")
        .map(|e| e["job"]["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states.first(), Some(&"queued"));
    assert!(states.contains(&"running"));
    assert_eq!(states.last(), Some(&"completed"));

    // since=SEQ gives only what came after.
    let last = *seqs.last().expect("events");
    let (_, body) = raw_get(&socket, &format!("/v1/events?since={last}&follow=false"));
    assert!(
        dechunk(&body).trim().is_empty() || body.trim() == "0",
        "{body}"
    );

    let (head, body) = raw_get(&socket, "/v1/jobs/ghost");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(body.contains("\"code\":\"unknown_job\""), "{body}");
    let log = std::fs::read_to_string(w.home.join("host.log")).expect("host.log");
    assert!(log.contains("host listening"), "{log}");
}

#[test]
fn a_second_host_for_the_same_home_refuses_to_start() {
    let w = World::new();
    w.ok(&["ls"]);
    let first = w.host_pid().expect("host runs");
    let r = w.sk(&["serve"]);
    assert_eq!(r.code(), 1);
    let err = r.stderr();
    assert!(
        err.contains("already running") && err.contains(&first.to_string()),
        "{err}"
    );
    assert_eq!(w.host_pid(), Some(first));
    assert_eq!(w.ok(&["ls", "--json"]).trim(), "[]");
}

#[test]
fn clients_racing_to_start_a_host_end_up_with_one() {
    let w = World::new();
    let clients: Vec<_> = (0..6)
        .map(|_| w.command(&["ls", "--json"]).output())
        .collect::<Vec<_>>();
    // The above ran one after another; now race for real, on a fresh home.
    drop(clients);
    w.stop_host();
    let _ = std::fs::remove_file(w.home.join("run/sidekick.sock"));
    let children: Vec<_> = (0..6)
        .map(|_| {
            w.command(&["agents", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn client")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"shell\""));
    }
    let start = Instant::now();
    loop {
        let hosts = host_processes(&w.home);
        if hosts.len() == 1 {
            assert_eq!(Some(hosts[0]), w.host_pid());
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "hosts: {hosts:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_crashed_host_leaves_interrupted_jobs_with_their_work_and_no_orphans() {
    let w = World::new();
    let job = w.spawn(
        &[],
        "trap '' TERM; echo wip > wip.txt; echo $$ > agent.pid; echo before-crash; sleep 600",
    );
    let id = s(&job["id"]);
    let pid_file = PathBuf::from(s(&job["worktree"])).join("agent.pid");
    wait_for_file(&pid_file);
    w.wait_until(&id, "output", |_| {
        w.ok(&["logs", &id]).contains("before-crash")
    });
    let agent: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid");
    // (Written from inside the job's sandbox: its own pid namespace.)
    let agent = outer_pid(&id, agent);
    let host = w.host_pid().expect("host");
    signal(host, Signal::SIGKILL);
    wait_gone(host, Duration::from_secs(10));
    assert!(pid_alive(agent), "the agent outlives a crashed host");

    // The next client starts a new host, which recovers before it answers.
    let st = w.status(&id);
    assert_ne!(w.host_pid(), Some(host));
    assert_eq!(st["state"], "interrupted", "{st}");
    assert!(
        s(&st["reason"]).contains("host stopped while the job was running"),
        "{st}"
    );
    assert!(!pid_alive(agent), "the orphaned agent was stopped");
    assert!(
        PathBuf::from(s(&st["worktree"])).join("wip.txt").exists(),
        "worktree kept"
    );
    assert_eq!(
        w.git(&["show", &format!("{}:wip.txt", s(&st["branch"]))]),
        "wip"
    );
    assert_eq!(w.ok(&["logs", &id]), "before-crash\n");
    // The job's worktree is unlocked after recovery (a warm worktree of the pool stays locked).
    let list = w.git(&["worktree", "list", "--porcelain"]);
    let job_entry = list
        .split("\n\n")
        .find(|b| b.starts_with(&format!("worktree {}\n", s(&st["worktree"]))))
        .unwrap_or_else(|| panic!("the job's worktree is not listed: {list}"));
    assert!(
        !job_entry.contains("locked"),
        "unlocked after recovery: {list}"
    );
}

#[test]
fn sigterm_stops_the_host_cleanly_and_queued_jobs_run_on_the_next() {
    let w = World::with_config("max_running = 1\n");
    let live = w.spawn(&[], "echo partial > p.txt; sleep 600");
    let queued = w.spawn(&[], "echo later > later.txt");
    w.wait_state(&s(&live["id"]), "running");
    // (Running: its process started; in its sandbox the shell may take a moment to write.)
    wait_for_file(&PathBuf::from(s(&live["worktree"])).join("p.txt"));
    let host = w.host_pid().expect("host");
    signal(host, Signal::SIGTERM);
    wait_gone(host, Duration::from_secs(30));
    assert!(!w.home.join("run/sidekick.sock").exists(), "socket removed");
    let st = w.status(&s(&live["id"]));
    assert_eq!(st["state"], "interrupted");
    assert!(s(&st["reason"]).contains("shut down"), "{st}");
    assert_eq!(
        w.git(&["show", &format!("{}:p.txt", s(&st["branch"]))]),
        "partial"
    );
    let later = w.wait_state(&s(&queued["id"]), "completed");
    assert_eq!(
        w.git(&["show", &format!("{}:later.txt", s(&later["branch"]))]),
        "later"
    );
}

#[test]
fn follow_and_wait_resume_across_a_host_crash() {
    let w = World::new();
    let out_file = w.root.join("follow.out");
    let err_file = w.root.join("follow.err");
    let follower = w
        .command(&["run", "--follow", "echo before-crash; sleep 600"])
        .stdout(std::fs::File::create(&out_file).expect("create"))
        .stderr(std::fs::File::create(&err_file).expect("create"))
        .spawn()
        .expect("follow");
    wait_for_file(&out_file);
    let jobs = w.json(&["ls", "--json"]);
    let id = s(&jobs[0]["id"]);
    let waiter = w
        .command(&["wait", &id])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wait");
    std::thread::sleep(Duration::from_millis(300));
    let host = w.host_pid().expect("host");
    signal(host, Signal::SIGKILL);

    let waited = waiter.wait_with_output().expect("wait exits");
    assert_eq!(waited.status.code(), Some(1));
    let err = String::from_utf8_lossy(&waited.stderr);
    assert!(err.contains("interrupted"), "{err}");
    let followed = follower.wait_with_output().expect("follow exits");
    assert_eq!(followed.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&out_file).expect("read"),
        "before-crash\n",
        "no line lost or repeated"
    );
    let err = std::fs::read_to_string(&err_file).expect("read");
    assert!(err.contains("interrupted"), "{err}");
    assert_ne!(w.host_pid(), Some(host), "a new host took over");
}

#[test]
fn held_connections_from_the_user_and_from_a_sandbox_never_lock_the_users_client_out() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("limit");
    if soft < 4096 {
        setrlimit(Resource::RLIMIT_NOFILE, hard.min(8192), hard).expect("raise the fd limit");
    }
    // Visible to a sandboxed job (the socket in /tmp would be its own /tmp's).
    let w = World::with_config_in(
        "sandbox = \"worktree\"\nsandbox_network = false\n",
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("held"),
    );
    w.ok(&["ls"]);
    let socket = w.home.join("run/sidekick.sock");

    // A sandboxed job opens 100 connections and holds them; it gets its own budget's worth.
    let python = [
        "import socket, sys, time",
        "held = []",
        "for _ in range(100):",
        "    s = socket.socket(socket.AF_UNIX)",
        "    s.connect(sys.argv[1])",
        "    s.sendall(b'POST /v1/jobs HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100\\r\\n\\r\\n{')",
        "    held.append(s)",
        "time.sleep(2)",
        "open_ = 0",
        "for s in held:",
        "    s.setblocking(False)",
        "    try:",
        "        open_ += 1 if s.recv(1) else 0",
        "    except BlockingIOError:",
        "        open_ += 1",
        "    except ConnectionResetError:",
        "        pass",
        "print('open=%d' % open_)",
    ]
    .join("\n");
    let script = format!("python3 - {} <<'EOF'\n{python}\nEOF\n", socket.display());
    let sandboxed = w.spawn(&["-a", "shell"], &script);

    // The user's own processes hold 1,100: 600 event streams and 500 slow bodies.
    let mut held = Vec::new();
    for i in 0..1100 {
        let mut c = UnixStream::connect(&socket).expect("connect");
        let request = if i < 600 {
            "GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n".to_string()
        } else {
            "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{".to_string()
        };
        c.write_all(request.as_bytes()).expect("send");
        held.push(c);
    }
    // The user's client gets in, and so does a job.
    assert!(w.ok(&["ls"]).contains(&s(&sandboxed["codename"])));
    let job = w.spawn(&["--wait", "--sandbox", "off"], "echo still served");
    assert_eq!(job["state"], "completed", "{job}");
    // Streams past the budget were answered, not held.
    let mut busy = 0;
    for c in held.iter_mut().take(600) {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut head = [0u8; 12];
        if c.read_exact(&mut head).is_ok() && &head == b"HTTP/1.1 503" {
            busy += 1;
        }
    }
    assert_eq!(busy, 600 - 64, "one process's streams past its 64 get 503");
    let ended = w.run_json(&["wait", "--json", &s(&sandboxed["id"])]);
    let r = w.sk(&["logs", &s(&ended["id"])]);
    assert!(
        r.stdout().contains("open=32"),
        "{ended}\n{}{}",
        r.stdout(),
        r.stderr()
    );
    drop(held);
    // The slow bodies are answered once their time is up; the host goes on.
    w.ok(&["ls"]);
}
