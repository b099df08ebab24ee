//! Jobs end to end: edits, timeouts, cancels, floods, queueing, nesting.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{assert_counts_to, notices, outer_pid, pid_alive, s, wait_for_file, World};

#[test]
fn a_job_works_beside_the_user_and_commits_to_its_branch() {
    let w = World::new();
    std::fs::write(w.repo.join("mine.txt"), "user's own uncommitted work\n").expect("write");
    let job = w.spawn(
        &["--wait"],
        "echo from-agent > agent.txt\n# a second line of the task",
    );
    assert_eq!(job["state"], "completed");
    let branch = s(&job["branch"]);
    assert_eq!(branch, format!("sidekick/{}", s(&job["codename"])));
    assert_eq!(
        w.git(&["show", &format!("{branch}:agent.txt")]),
        "from-agent"
    );
    let msg = w.git(&["log", "-1", "--format=%B", &branch]);
    assert_eq!(
        msg,
        format!(
            "echo from-agent > agent.txt\n\nSidekick-Job: {}",
            s(&job["id"])
        )
    );
    let wt = PathBuf::from(s(&job["worktree"]));
    assert!(
        wt.starts_with(&w.home),
        "worktree under SIDEKICK_HOME: {}",
        wt.display()
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("mine.txt")).expect("read"),
        "user's own uncommitted work\n"
    );
    assert!(!w.repo.join("agent.txt").exists());
    assert_eq!(w.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    assert_eq!(job["base_branch"], "main");
}

#[test]
fn a_timeout_ends_the_job_as_timeout_with_its_work() {
    let w = World::new();
    let r = w.sk(&[
        "run",
        "--wait",
        "--json",
        "--timeout",
        "1s",
        "echo wip > wip.txt; sleep 60",
    ]);
    assert_eq!(r.code(), 1);
    let job: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(job["state"], "timeout");
    assert_eq!(job["timeout_ms"], 1000);
    assert_eq!(
        w.git(&["show", &format!("{}:wip.txt", s(&job["branch"]))]),
        "wip"
    );
}

#[test]
fn cancel_kills_an_agent_that_ignores_sigterm_and_its_grandchild() {
    let w = World::new();
    let job = w.spawn(
        &[],
        "trap '' TERM; (trap '' TERM; sleep 600) & echo $! > grandchild.pid; echo started; wait",
    );
    let id = s(&job["id"]);
    let pid_file = PathBuf::from(s(&job["worktree"])).join("grandchild.pid");
    wait_for_file(&pid_file);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("read")
        .trim()
        .parse()
        .expect("pid");
    // (Written from inside the job's sandbox: its own pid namespace.)
    let pid = outer_pid(&id, pid);
    assert!(pid_alive(pid));
    let r = w.sk(&["cancel", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("cancelled"), "{}", r.stderr());
    let st = w.status(&id);
    assert_eq!(st["state"], "cancelled");
    assert!(!pid_alive(pid), "the grandchild died with the agent");
    assert_eq!(w.ok(&["logs", &id]), "started\n");
    assert!(w
        .git(&["ls-tree", "--name-only", &s(&st["branch"])])
        .contains("grandchild.pid"));
}

#[test]
fn a_million_lines_arrive_complete_and_in_order() {
    let w = World::new();
    let job = w.spawn(&["--wait"], "seq 1 1000000");
    assert_eq!(job["state"], "completed");
    let mut child = w
        .command(&["logs", &s(&job["id"])])
        .stdout(Stdio::piped())
        .spawn()
        .expect("logs");
    assert_counts_to(child.stdout.take().expect("stdout"), 1_000_000);
    assert!(child.wait().expect("wait").success());
    let log = std::fs::read(s(&job["log_path"])).expect("log file");
    assert_eq!(log.iter().filter(|b| **b == b'\n').count(), 1_000_000);
}

#[test]
fn a_one_mebibyte_line_is_kept_whole() {
    let w = World::new();
    let job = w.spawn(
        &["--wait"],
        "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo after",
    );
    assert_eq!(job["state"], "completed", "{job}");
    let out = w.ok(&["logs", &s(&job["id"])]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), 1_048_576);
    assert!(lines[0].bytes().all(|b| b == b'x'));
    assert_eq!(lines[1], "after");
}

#[test]
fn jobs_beyond_max_running_wait_in_a_visible_fifo_queue() {
    let w = World::with_config("max_running = 2\n");
    let jobs: Vec<String> = (0..4).map(|_| s(&w.spawn(&[], "sleep 60")["id"])).collect();
    w.wait_state(&jobs[0], "running");
    w.wait_state(&jobs[1], "running");
    let third = w.status(&jobs[2]);
    let fourth = w.status(&jobs[3]);
    assert_eq!(
        (third["state"].clone(), third["queue_position"].clone()),
        ("queued".into(), 1.into())
    );
    assert_eq!(
        (fourth["state"].clone(), fourth["queue_position"].clone()),
        ("queued".into(), 2.into())
    );
    assert!(w.ok(&["ls"]).contains("queued #2"));
    // A queued job cancels at once; the next in line moves up, then starts when a slot frees.
    w.ok(&["cancel", &jobs[2]]);
    assert_eq!(w.status(&jobs[2])["state"], "cancelled");
    assert_eq!(w.status(&jobs[3])["queue_position"], 1);
    w.ok(&["cancel", &jobs[0]]);
    w.wait_state(&jobs[3], "running");
    for j in [&jobs[1], &jobs[3]] {
        w.ok(&["cancel", j]);
    }
}

#[test]
fn cancelling_a_parent_cancels_its_children() {
    let w = World::new();
    let parent = w.spawn(&[], "sleep 60");
    let pid = s(&parent["id"]);
    let child = w.spawn(&["--parent", &s(&parent["codename"])], "sleep 60");
    assert_eq!(child["parent_id"], parent["id"]);
    w.wait_state(&s(&child["id"]), "running");
    w.ok(&["cancel", &pid]);
    let end = w.wait_until(&s(&child["id"]), "ended", |j| j["state"] == "cancelled");
    assert!(s(&end["reason"]).contains(&s(&parent["codename"])), "{end}");
}

#[test]
fn nested_jobs_see_their_parent_in_the_environment() {
    let w = World::new();
    let job = w.spawn(
        &["--wait"],
        "echo \"$SIDEKICK_JOB_ID|$SIDEKICK_PARENT_JOB_ID|$SIDEKICK_WORKTREE|$SIDEKICK_REPO\"",
    );
    let out = w.ok(&["logs", &s(&job["id"])]);
    assert_eq!(
        out.trim(),
        format!(
            "{}||{}|{}",
            s(&job["id"]),
            s(&job["worktree"]),
            s(&job["repo"])
        )
    );
}

#[test]
fn without_a_git_identity_jobs_commit_as_sidekick() {
    let w = World::new();
    let run = w
        .command(&["run", "--wait", "--json", "echo x > x.txt"])
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .env("EMAIL", "")
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!(job["state"], "completed");
    assert_eq!(
        w.git(&[
            "log",
            "-1",
            "--format=%an <%ae>|%cn <%ce>",
            &s(&job["branch"])
        ]),
        "Sidekick <sidekick@localhost>|Sidekick <sidekick@localhost>"
    );
}

#[test]
fn a_live_follower_that_falls_behind_catches_up_without_loss() {
    // The host broadcasts output in batches far larger than its live ring, so a follower of this
    // flood is guaranteed to lag and must catch up from the database, in order.
    let w = World::new();
    let mut child = w
        .command(&["run", "--follow", "seq 1 200000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("follow");
    assert_counts_to(child.stdout.take().expect("stdout"), 200_000);
    assert!(child.wait().expect("wait").success());
    let log = std::fs::read_to_string(w.home.join("host.log")).expect("host.log");
    assert!(
        log.contains("fell behind; catching up"),
        "the catch-up path was taken"
    );
}

#[test]
fn a_request_nobody_answers_is_denied_after_the_answer_timeout() {
    let mut w =
        World::with_config("answer_timeout = \"1s\"\n[agents.claude]\npermission = \"ask\"\n");
    w.with_asking_claude();
    let job = w.spawn(&["-a", "claude"], "write asked.txt");
    let id = s(&job["id"]);
    w.wait_until(&id, "its request", |j| j["state"] == "waiting");
    let done = w.wait_state(&id, "completed");
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(
        !tree.contains("asked.txt"),
        "written although nobody allowed it: {tree}"
    );
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(
        logs.contains("no answer within the answer_timeout of 1s"),
        "{logs}"
    );
}

#[test]
fn an_agent_that_lingers_after_its_dialog_is_over_is_stopped_and_the_job_completes() {
    let mut w = World::with_config(
        "[agents.claude]\npermission = \"ask\"\n[agents.claude.env]\nASKING_CLAUDE_LINGERS = \"1\"\n",
    );
    w.with_asking_claude();
    let job = w.spawn(&["-a", "claude", "--timeout", "5m"], "write asked.txt");
    let id = s(&job["id"]);
    w.wait_until(&id, "its request", |j| j["state"] == "waiting");
    w.ok(&["allow", &id]);
    let done = w.wait_until(&id, "the end", |j| {
        j["state"]
            .as_str()
            .is_some_and(|s| s != "waiting" && s != "running" && s != "stopping")
    });
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["exit_code"], 0);
    let tree = w.git(&["ls-tree", "-r", "--name-only", &s(&done["branch"])]);
    assert!(tree.contains("asked.txt"), "{tree}");
    // It was stopped after its last turn, not at its timeout (that would end it `timeout`).
    assert!(done["reason"].is_null(), "{done}");
}

#[test]
fn waiting_for_the_user_does_not_count_toward_the_timeout() {
    let mut w = World::with_config("[agents.claude]\npermission = \"ask\"\n");
    w.with_asking_claude();
    let job = w.spawn(&["-a", "claude", "--timeout", "1s"], "write asked.txt");
    let id = s(&job["id"]);
    w.wait_until(&id, "its request", |j| j["state"] == "waiting");
    // Three times the timeout, waiting for the user: the job is still there to be answered.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let waiting = w.status(&id);
    assert_eq!(waiting["state"], "waiting");
    // What it asks comes with what it would do: the file and its new content.
    assert_eq!(
        waiting["requests"][0]["preview"],
        serde_json::json!({"kind": "change", "files": [
            {"path": "asked.txt", "kind": "written", "lines": ["+allowed"], "more": 0}
        ]}),
        "{waiting}"
    );
    let text = w.ok(&["status", &id]);
    assert!(
        text.contains("    asked.txt (written)\n    +allowed\n"),
        "{text}"
    );
    w.ok(&["allow", &id]);
    let done = w.wait_state(&id, "completed");
    assert_eq!(
        w.git(&["show", &format!("{}:asked.txt", s(&done["branch"]))]),
        "allowed"
    );
}

#[test]
fn a_host_killed_while_a_job_waits_leaves_it_interrupted_and_its_request_unanswered() {
    let mut w = World::with_config("[agents.claude]\npermission = \"ask\"\n");
    w.with_asking_claude();
    let job = w.spawn(&["-a", "claude"], "write asked.txt");
    let id = s(&job["id"]);
    w.wait_until(&id, "its request", |j| j["state"] == "waiting");
    let pid = w.host_pid().expect("a host runs");
    crate::common::signal(pid, nix::sys::signal::Signal::SIGKILL);
    crate::common::wait_gone(pid, std::time::Duration::from_secs(10));
    // The next host (started by this command) ends the job; nothing can answer it now.
    let after = w.status(&id);
    assert_eq!(after["state"], "interrupted", "{after}");
    assert_eq!(after["requests"], serde_json::json!([]), "{after}");
    assert!(
        s(&after["reason"]).contains("what it asked went unanswered: Write asked.txt"),
        "{after}"
    );
    let r = w.sk(&["allow", &id]);
    assert_eq!(r.code(), 1);
}

#[test]
fn a_reply_runs_the_same_job_again_in_its_worktree() {
    let mut w = World::with_config("[agents.claude]\npermission = \"ask\"\n");
    w.with_asking_claude();
    let job = w.spawn(&["-a", "claude"], "write asked.txt");
    let id = s(&job["id"]);
    w.wait_until(&id, "its request", |j| j["state"] == "waiting");
    w.ok(&["deny", &id]);
    let first = w.wait_state(&id, "completed");
    assert_eq!(first["turns"], 1);
    // While it runs, a reply is refused with a sentence.
    let running = w.spawn(&["-a", "shell"], "sleep 30");
    let r = w.sk(&["reply", &s(&running["id"]), "hello"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("reply once it has ended"),
        "{}",
        r.stderr()
    );
    w.ok(&["cancel", &s(&running["id"])]);

    w.ok(&["reply", &id, "please", "write", "it", "now"]);
    let again = w.wait_until(&id, "its request again", |j| j["state"] == "waiting");
    assert_eq!(again["turns"], 2);
    assert_eq!(again["worktree"], first["worktree"]);
    w.ok(&["allow", &id]);
    let done = w.wait_state(&id, "completed");
    assert_eq!(done["branch"], first["branch"]);
    assert_eq!(
        w.git(&["show", &format!("{}:asked.txt", s(&done["branch"]))]),
        "allowed"
    );
    let logs = w.sk(&["logs", &id]).stderr();
    assert!(logs.contains("you: please write it now"), "{logs}");

    // A merged job takes no reply: a new job continues from its branch.
    w.ok(&["merge", &id]);
    let r = w.sk(&["reply", &id, "more"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("run --continue"), "{}", r.stderr());
}

#[test]
fn following_a_job_from_its_start_goes_on_through_the_turns_a_reply_gave_it() {
    let w = World::new();
    let job = w.spawn(&["--wait", "-a", "shell"], "echo first-turn");
    let id = s(&job["id"]);
    w.ok(&["reply", &id, "sleep 1; echo second-turn"]);
    // Following from the first event passes the first turn's end and stops at the last one.
    let followed = w.ok(&["logs", "-f", &id]);
    assert!(followed.contains("first-turn"), "{followed}");
    assert!(followed.contains("second-turn"), "{followed}");
    assert_eq!(w.status(&id)["turns"], 2);
}

#[test]
fn a_shell_jobs_reply_is_its_next_command_in_the_same_worktree() {
    let w = World::new();
    let job = w.spawn(&["--wait", "-a", "shell"], "sleep 1; echo one > one.txt");
    let id = s(&job["id"]);
    let first = w.status(&id);
    let r = w.sk(&["reply", "--wait", "--json", &id, "cat one.txt > two.txt"]);
    assert_eq!(r.code(), 0, "{}\n{}", r.stderr(), r.stdout());
    let done: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(done["turns"], 2);
    // The whole job's run time counts both turns; started and ended are the last turn's.
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    assert_eq!(done["earlier_ms"], first["duration_ms"], "{done}");
    assert!(n(&done["earlier_ms"]) >= 1000, "{done}");
    let turn = n(&done["ended_at"]) - n(&done["started_at"]);
    assert_eq!(
        n(&done["duration_ms"]),
        n(&done["earlier_ms"]) + turn,
        "{done}"
    );
    assert!(turn < 1000, "the last turn alone: {done}");
    assert_eq!(
        w.git(&["show", &format!("{}:two.txt", s(&done["branch"]))]),
        "one"
    );
    // Each turn is a commit of its own, under its own words.
    let log = w.git(&[
        "log",
        "--format=%s",
        &format!("main..{}", s(&done["branch"])),
    ]);
    assert_eq!(log, "cat one.txt > two.txt\nsleep 1; echo one > one.txt");
}

#[test]
fn a_follower_without_output_gets_every_notice_and_transcript_entry_while_the_user_answers() {
    let mut w = World::with_config("[agents.claude]\npermission = \"ask\"\n");
    w.with_asking_claude();
    let job = w.spawn(&["-a", "claude"], "write asked.txt");
    let id = s(&job["id"]);
    w.wait_until(&id, "its request", |j| j["state"] == "waiting");
    // Follow (as the app's transcript does) from the start while the request is open.
    let home = sidekick_protocol::Home::at(&w.home);
    let follower = {
        let id = id.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let client = sidekick_client::Client::new(&home);
                let mut seen = Vec::new();
                let end = client
                    .follow_job(&id, false, |item| {
                        if let sidekick_client::Followed::Event(ev) = item {
                            match &ev.body {
                                sidekick_protocol::EventBody::Notice { message, .. } => {
                                    seen.push(format!("notice {message}"))
                                }
                                sidekick_protocol::EventBody::Transcript { entry } => {
                                    seen.push(format!("entry {entry:?}"))
                                }
                                _ => {}
                            }
                        }
                        Ok(())
                    })
                    .await
                    .expect("followed");
                (end, seen)
            })
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    w.ok(&["allow", &id]);
    let (end, seen) = follower.join().expect("the follower");
    assert_eq!(end.state, sidekick_protocol::JobState::Completed);
    let all = seen.join("\n");
    for want in [
        "notice the agent asks to use Write",
        "notice allowed: Write",
        "File created successfully",
        "Done with asked.txt.",
        "entry Turn",
    ] {
        assert!(all.contains(want), "{want} missing from:\n{all}");
    }
}

#[test]
fn failed_and_empty_jobs_are_archived_in_bulk_and_come_back() {
    let w = World::new();
    let failed = w.run_json(&["run", "--json", "--wait", "--", "exit 3"]);
    let empty = w.spawn(&["--wait"], "true");
    let changed = w.spawn(&["--wait"], "echo x > x.txt");
    let running = w.spawn(&[], "sleep 30");
    let r = w.sk(&["archive", &s(&running["id"])]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("archive it once it has ended"),
        "{}",
        r.stderr()
    );

    let out = w.ok(&["archive", "--empty"]);
    assert!(
        out.contains(&format!("archived {} (failed)", s(&failed["codename"]))),
        "{out}"
    );
    assert!(
        out.contains(&format!("archived {} (completed)", s(&empty["codename"]))),
        "{out}"
    );
    assert!(!out.contains(&s(&changed["codename"])), "{out}");
    let listed = w.json(&["ls", "--json"]);
    let ids: Vec<String> = listed
        .as_array()
        .map(|a| a.iter().map(|j| s(&j["id"])).collect())
        .unwrap_or_default();
    assert!(
        !ids.contains(&s(&failed["id"])) && !ids.contains(&s(&empty["id"])),
        "{listed}"
    );
    assert!(ids.contains(&s(&changed["id"])));
    assert_eq!(
        w.status(&s(&failed["id"]))["archived"],
        true,
        "kept, and says so"
    );
    let all = w.json(&["ls", "--all", "--json"]);
    assert_eq!(all.as_array().map(Vec::len), Some(4), "{all}");
    w.ok(&["archive", "--undo", &s(&failed["id"])]);
    assert_eq!(w.status(&s(&failed["id"]))["archived"], false);
    assert_eq!(
        w.ok(&["archive", "--empty"]).lines().count(),
        1,
        "only the failed one again"
    );
    w.ok(&["cancel", &s(&running["id"])]);
}

/// The warm worktree a job of `repo` was made from, if any: its admin folder keeps the name
/// it had in the pool.
fn admin_name(worktree: &str) -> String {
    let dotgit = std::fs::read_to_string(Path::new(worktree).join(".git")).expect(".git file");
    dotgit
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Whether a job's worktree was a warm one: its admin folder keeps the pool's name,
/// `warm-` and a ULID, its leading dot made safe by git (a codename like `warm-koala` is
/// not one).
fn started_warm(worktree: &str) -> bool {
    let name = admin_name(worktree);
    name.trim_start_matches(['.', '-'])
        .strip_prefix("warm-")
        .is_some_and(|id| id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn warm_in(group: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(group)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(".warm-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `group` holds a warm worktree whose admin folder says it is complete.
fn wait_warm(group: &Path) -> PathBuf {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        for p in warm_in(group) {
            let Ok(dotgit) = std::fs::read_to_string(p.join(".git")) else {
                continue;
            };
            let admin = PathBuf::from(dotgit.trim().trim_start_matches("gitdir:").trim());
            if admin.join("sidekick-warm").exists() {
                return p;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no warm worktree appeared in {}",
            group.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Waits until `sidekick pool` says the warm worktree at `path` is checked and watched.
fn wait_watched(w: &World, path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let pools = w.json(&["pool", "--json"]);
        let watched = pools[0]["worktrees"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["path"] == path.display().to_string() && x["watched"] == true);
        if watched {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} was never watched: {pools}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `setup_cache`: the pool's worktrees run the setup ahead of time (in the sandbox, like a job's
/// setup); a job that takes one skips its own while the lockfiles are unchanged, runs it when
/// they changed, and a setup whose results git does not ignore is never run ahead again.
#[test]
fn a_warm_worktree_runs_the_setup_ahead_and_its_job_skips_it_while_the_lockfiles_are_unchanged() {
    let w = World::new();
    let config = |setup: &str| {
        std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
        std::fs::write(
            w.repo.join(".sidekick/config.toml"),
            format!("setup = \"{setup}\"\nsetup_cache = [\"deps.lock\"]\n"),
        )
        .expect("write");
        w.git(&["add", "-A"]);
        w.git(&["commit", "-qm", "config"]);
        w.ok(&["trust", "--yes"]);
    };
    std::fs::write(w.repo.join(".gitignore"), "deps/\n").expect("write");
    std::fs::write(w.repo.join("deps.lock"), "v1\n").expect("write");
    // Who ran it (the pool or the job) and for which lockfile, appended to an ignored file.
    config("mkdir -p deps && echo ${SIDEKICK_WARM_SETUP:-job} $(cat deps.lock) >> deps/log");
    let seen =
        |job: &serde_json::Value| w.git(&["show", &format!("{}:seen.txt", s(&job["branch"]))]);
    let task = "cp deps/log seen.txt";

    let first = w.spawn(&["--wait"], task);
    assert_eq!(first["state"], "completed", "{first}");
    assert_eq!(seen(&first), "job v1", "a cold start runs the setup itself");
    let group = PathBuf::from(s(&first["worktree"]))
        .parent()
        .expect("group")
        .to_path_buf();
    let warm = wait_warm(&group);
    assert_eq!(
        std::fs::read_to_string(warm.join("deps/log")).expect("set up ahead"),
        "1 v1\n"
    );
    assert_eq!(
        w.json(&["pool", "--json"])[0]["worktrees"][0]["set_up"],
        true
    );
    assert!(w.ok(&["pool", "."]).contains("set up ahead"));
    let second = w.spawn(&["--wait"], task);
    assert!(started_warm(&s(&second["worktree"])));
    assert_eq!(seen(&second), "1 v1", "the job ran no setup of its own");
    let log = notices(&w, &s(&second["id"]));
    assert!(log.contains("setup already done"), "{log}");
    assert!(!log.contains("running setup"), "{log}");

    // The lockfile changes: the next job (from the new base) runs the setup itself, on top of
    // what the warm worktree had.
    wait_warm(&group);
    std::fs::write(w.repo.join("deps.lock"), "v2\n").expect("write");
    w.git(&["commit", "-qam", "new lockfile"]);
    let third = w.spawn(&["--wait"], task);
    assert!(started_warm(&s(&third["worktree"])));
    assert_eq!(seen(&third), "1 v1\njob v2");
    assert!(notices(&w, &s(&third["id"])).contains("running setup"));

    // A setup whose results are not ignored: the warm worktree it ran in is thrown away, the
    // host says why, and later warm worktrees are plain (the jobs run it).
    wait_warm(&group);
    config("echo built > built.txt");
    let fourth = w.spawn(&["--wait"], "true");
    assert_eq!(fourth["state"], "completed", "{fourth}");
    let host_log = w.home.join("host.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&host_log)
        .unwrap_or_default()
        .contains("git does not ignore (built.txt)")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the host never said why"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let fifth = w.spawn(&["--wait"], "cat built.txt > seen.txt");
    assert_eq!(seen(&fifth), "built", "the job ran its setup");
    let plain = wait_warm(&group);
    assert!(!plain.join("built.txt").exists(), "not set up ahead");
    assert_eq!(
        w.json(&["pool", "--json"])[0]["worktrees"][0]["set_up"],
        false
    );
    assert_eq!(
        w.git_in(&plain, &["status", "--porcelain"]),
        "",
        "exactly its commit"
    );
}

#[test]
fn a_job_starts_in_a_warm_worktree_and_one_edited_by_hand_is_never_used() {
    let w = World::new();
    let first = w.spawn(&["--wait"], "echo one > one.txt");
    let group = PathBuf::from(s(&first["worktree"]))
        .parent()
        .expect("group")
        .to_path_buf();
    assert!(!started_warm(&s(&first["worktree"])), "the first is cold");
    // After it, the pool holds one worktree checked out at the base.
    let warm = wait_warm(&group);
    assert_eq!(
        std::fs::read_to_string(warm.join("README.md")).expect("a checkout"),
        std::fs::read_to_string(w.repo.join("README.md")).expect("the repo's")
    );
    let warm_name = admin_name(&warm.display().to_string());
    // Checked once in the background and watched since: the claim takes the watch's word.
    wait_watched(&w, &warm);
    assert!(
        w.ok(&["pool", "."]).contains("checked and watched"),
        "the pool says so"
    );
    let second = w.spawn(&["--wait"], "echo two > two.txt");
    assert_eq!(second["state"], "completed", "{second}");
    assert_eq!(
        admin_name(&s(&second["worktree"])),
        warm_name,
        "started warm"
    );
    assert!(!warm.exists(), "moved to the job's path");
    let branch = s(&second["branch"]);
    assert_eq!(w.git(&["show", &format!("{branch}:two.txt")]), "two");
    assert!(
        w.git(&["ls-tree", "--name-only", &branch])
            .lines()
            .all(|f| f != "one.txt"),
        "nothing of the first job"
    );

    // One edited by hand after it was checked is thrown away (its watch saw the edit); the
    // job gets a fresh checkout.
    let spoiled = wait_warm(&group);
    let spoiled_name = admin_name(&spoiled.display().to_string());
    wait_watched(&w, &spoiled);
    std::fs::write(spoiled.join("README.md"), "edited by hand\n").expect("write");
    assert_eq!(
        w.json(&["pool", "--json"])[0]["worktrees"][0]["watched"],
        false,
        "no longer vouched for"
    );
    let third = w.spawn(&["--wait"], "cat README.md > seen.txt");
    assert_ne!(admin_name(&s(&third["worktree"])), spoiled_name);
    assert!(!spoiled.exists(), "thrown away");
    let seen = w.git(&["show", &format!("{}:seen.txt", s(&third["branch"]))]);
    assert_ne!(seen, "edited by hand");
    // The user's repository lists only the jobs' worktrees and the pool.
    let listed = w.git(&["worktree", "list", "--porcelain"]);
    assert!(!listed.contains(&spoiled.display().to_string()), "{listed}");

    // `sidekick pool` shows it; a repository set to no pool has it emptied at its next job.
    let fresh = wait_warm(&group);
    let pools = w.json(&["pool", "--json"]);
    assert_eq!(pools[0]["repo"], w.repo.display().to_string(), "{pools}");
    assert_eq!(pools[0]["wanted"], 1);
    assert_eq!(
        pools[0]["worktrees"][0]["path"],
        fresh.display().to_string()
    );
    assert!(pools[0]["worktrees"][0]["bytes"]
        .as_u64()
        .is_some_and(|b| b > 0));
    assert!(w.ok(&["pool", "."]).contains("1 of 1 warm"));
    std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(w.repo.join(".sidekick/config.toml"), "warm_worktrees = 0\n").expect("write");
    let fourth = w.spawn(&["--wait"], "true");
    assert!(!started_warm(&s(&fourth["worktree"])));
    assert!(warm_in(&group).is_empty(), "emptied");
    assert_eq!(w.json(&["pool", "--json"])[0]["wanted"], 0);

    // A repository that is gone: gc removes its pool's folders.
    std::fs::remove_file(w.repo.join(".sidekick/config.toml")).expect("rm");
    w.spawn(&["--wait"], "true");
    let last = wait_warm(&group);
    // Its refill is over once the pool vouches for it.
    wait_watched(&w, &last);
    let moved = w.root.join("moved-away");
    std::fs::rename(&w.repo, &moved).expect("move the repository away");
    let out = w
        .command(&["gc", "--json"])
        .current_dir(&w.root)
        .output()
        .expect("gc runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["warm_removed"],
        serde_json::json!([last.display().to_string()]),
        "{report}"
    );
    assert!(!last.exists());
}

#[test]
fn two_jobs_starting_together_never_share_a_warm_worktree() {
    let w = World::new();
    let first = w.spawn(&["--wait"], "true");
    let group = PathBuf::from(s(&first["worktree"]))
        .parent()
        .expect("group")
        .to_path_buf();
    wait_warm(&group);
    let a = w.spawn(&[], "echo a > a.txt");
    let b = w.spawn(&[], "echo b > b.txt");
    let a = w.wait_state(&s(&a["id"]), "completed");
    let b = w.wait_state(&s(&b["id"]), "completed");
    assert_ne!(a["worktree"], b["worktree"]);
    let warm = [&a, &b]
        .iter()
        .filter(|j| started_warm(&s(&j["worktree"])))
        .count();
    assert_eq!(warm, 1, "one warm worktree, taken once");
    assert_eq!(w.git(&["show", &format!("{}:a.txt", s(&a["branch"]))]), "a");
    assert_eq!(w.git(&["show", &format!("{}:b.txt", s(&b["branch"]))]), "b");
    let tree = w.git(&["ls-tree", "--name-only", &s(&b["branch"])]);
    assert!(!tree.contains("a.txt"), "{tree}");
}

#[test]
fn a_job_waiting_for_an_answer_gives_its_place_to_the_next_in_the_queue() {
    let mut w = World::with_config("max_running = 1\n[agents.claude]\npermission = \"ask\"\n");
    w.with_asking_claude();
    let asking = w.spawn(&["-a", "claude", "--timeout", "5m"], "write asked.txt");
    let asking_id = s(&asking["id"]);
    w.wait_until(&asking_id, "its request", |j| j["state"] == "waiting");
    // With the only place taken by a job that waits for a person, the next one still runs.
    let next = w.spawn(&["--wait", "-a", "shell"], "echo ran > ran.txt");
    assert_eq!(next["state"], "completed", "{next}");
    assert_eq!(w.status(&asking_id)["state"], "waiting");
    w.ok(&["allow", &asking_id]);
    let done = w.wait_state(&asking_id, "completed");
    assert_eq!(done["state"], "completed", "{done}");
}
