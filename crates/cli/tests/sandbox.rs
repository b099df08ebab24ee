//! The sandbox with the real bubblewrap: a job writes its worktree and commits on its own branch,
//! and nothing else; what cannot be sandboxed fails clearly or says so.

use std::path::{Path, PathBuf};

use crate::common::{notices, s, World};

/// Worlds outside /tmp: a sandbox has a private /tmp, and these tests need the user's checkout,
/// home and Sidekick's folder visible (read-only) to show that writes to them are refused.
fn visible_world(config: &str) -> World {
    World::with_config_in(
        config,
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox"),
    )
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| format!("<{e}>"))
}

/// Runs each attempt in the job and prints `refused NAME` or `ALLOWED NAME`.
fn attempts(list: &[(&str, String)]) -> String {
    let mut script = String::from(
        "try() { if sh -c \"$2\" >/dev/null 2>&1; then echo \"ALLOWED $1\"; else echo \"refused $1\"; fi; }\n",
    );
    for (name, cmd) in list {
        script.push_str(&format!("try {name} '{}'\n", cmd.replace('\'', "'\\''")));
    }
    script
}

#[test]
fn a_sandboxed_job_writes_its_worktree_and_branch_and_nothing_else() {
    let w = visible_world("sandbox = \"worktree\"\n");
    let user = w.root.join("user");
    std::fs::create_dir_all(user.join(".ssh")).expect("mkdir");
    std::fs::write(user.join(".ssh/id_ed25519"), "PRIVATE KEY\n").expect("key");
    std::fs::write(user.join("notes.txt"), "mine\n").expect("notes");
    // The repository's setup runs in the sandbox too.
    std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(
        w.repo.join(".sidekick/config.toml"),
        format!(
            "setup = \"echo ran > setup.txt; echo out > {}/setup-escaped.txt || true\"\n",
            user.display()
        ),
    )
    .expect("config");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "setup"]);
    w.ok(&["trust", "--yes"]);

    // Another job's worktree and branch, and the user's own uncommitted edit.
    let other = w.spawn(&["--wait"], "echo other > other.txt");
    assert_eq!(other["state"], "completed", "{other}");
    let other_wt = PathBuf::from(s(&other["worktree"]));
    let other_branch = s(&other["branch"]);
    let other_tip = w.git(&["rev-parse", &other_branch]);
    std::fs::write(w.repo.join("README.md"), "the user's edit\n").expect("edit");
    let main_tip = w.git(&["rev-parse", "main"]);
    let db = w.home.join("sidekick.db");
    let db_before = std::fs::metadata(&db).expect("db").len();

    let git_dir = w.repo.join(".git");
    // The user's committed README, stored loose: an agent that could write the object store
    // could give it other content under the same name.
    let readme = w.git(&["rev-parse", "main:README.md"]);
    let readme_object = git_dir
        .join("objects")
        .join(&readme[..2])
        .join(&readme[2..]);
    assert!(readme_object.is_file(), "the README's blob is not loose");
    let readme_text = w.git(&["cat-file", "-p", &readme]);
    let script = format!(
        "echo mine > mine.txt && git add mine.txt && git -c user.name=A -c user.email=a@b commit -qm 'the agent commits' && echo committed\n{}",
        attempts(&[
            ("checkout", format!("echo x >> {}", w.repo.join("README.md").display())),
            ("checkout-new", format!("echo x > {}", w.repo.join("new.txt").display())),
            ("other-worktree", format!("echo x > {}", other_wt.join("other.txt").display())),
            ("home", format!("echo x >> {}", user.join("notes.txt").display())),
            ("home-new", format!("echo x > {}", user.join("new.txt").display())),
            ("database", format!("echo x >> {}", db.display())),
            ("main-ref", "git update-ref refs/heads/main HEAD".to_string()),
            ("other-ref", format!("git update-ref refs/heads/{other_branch} HEAD")),
            ("packs", format!("rm -rf {}", git_dir.join("objects/pack").display())),
            ("loose-object", format!("cp {o} {o}.new && mv -f {o}.new {o}", o = readme_object.display())),
            ("alternates", format!("echo /tmp > {}", git_dir.join("objects/info/alternates").display())),
            ("git-config", format!("git config --file {} core.fsmonitor evil", git_dir.join("config").display())),
            ("ssh-key", format!("cat {}", user.join(".ssh/id_ed25519").display())),
        ])
    );
    let job = w.spawn(&["--wait"], &script);
    let id = s(&job["id"]);
    assert_eq!(job["state"], "completed", "{job}");
    let log = w.ok(&["logs", &id]);
    assert!(log.contains("committed"), "{log}");
    assert!(!log.contains("ALLOWED"), "an attempt got through:\n{log}");
    for name in [
        "checkout",
        "checkout-new",
        "other-worktree",
        "home",
        "home-new",
        "database",
        "main-ref",
        "other-ref",
        "packs",
        "loose-object",
        "alternates",
        "git-config",
        "ssh-key",
    ] {
        assert!(log.contains(&format!("refused {name}\n")), "{name}:\n{log}");
    }
    assert!(!log.contains("PRIVATE KEY"), "{log}");

    // It ran sandboxed, and says so.
    let st = w.status(&id);
    assert_eq!(
        st["sandbox"],
        serde_json::json!({"mode": "worktree", "on": true, "network": true, "reason": null}),
        "{st}"
    );
    let human = w.ok(&["status", &id]);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("sandbox") && l.contains("worktree (writes only its worktree")),
        "{human}"
    );

    // Its work is on its own branch: its own commit, the setup's file, the leftovers.
    let branch = s(&st["branch"]);
    let subjects = w.git(&["log", "--format=%s", &format!("main..{branch}")]);
    assert!(subjects.contains("the agent commits"), "{subjects}");
    let files = w.git(&["ls-tree", "--name-only", &branch]);
    assert!(
        files.contains("mine.txt") && files.contains("setup.txt"),
        "{files}"
    );

    // Nothing else changed.
    assert_eq!(read(&w.repo.join("README.md")), "the user's edit\n");
    assert!(!w.repo.join("new.txt").exists());
    assert_eq!(read(&other_wt.join("other.txt")), "other\n");
    assert_eq!(read(&user.join("notes.txt")), "mine\n");
    assert!(!user.join("new.txt").exists());
    assert!(!user.join("setup-escaped.txt").exists());
    assert_eq!(w.git(&["rev-parse", "main"]), main_tip);
    assert_eq!(w.git(&["rev-parse", &other_branch]), other_tip);
    assert!(git_dir.join("objects/pack").is_dir());
    assert_eq!(w.git(&["cat-file", "-p", &readme]), readme_text);
    assert!(!git_dir.join("objects/info/alternates").exists());
    w.git(&["fsck", "--no-dangling"]);
    assert!(!read(&git_dir.join("config")).contains("fsmonitor"));
    assert!(std::fs::metadata(&db).expect("db").len() >= db_before);
    assert_eq!(w.json(&["ls", "--json"]).as_array().map(Vec::len), Some(2));
    // The job merges like any other.
    w.git(&["stash", "-q"]);
    w.ok(&["merge", &id]);
    assert_eq!(read(&w.repo.join("mine.txt")), "mine\n");
}

#[test]
fn a_sandboxed_agent_that_unhooks_its_worktree_cannot_make_the_host_run_its_git_config() {
    let w = visible_world("");
    let marker = w.root.join("host-ran-it");
    // The agent points its worktree at a git folder of its own making whose config would run a
    // command in any git the host runs there (without the host's check, `git add -A` runs it).
    let script = format!(
        "cp -r \"$(git rev-parse --git-common-dir)\" evil && \
         printf '[core]\\n\\tfsmonitor = touch {}\\n' >> evil/config && \
         echo \"gitdir: $PWD/evil\" > .git && echo wip > wip.txt",
        marker.display()
    );
    let job = w.spawn(&["--wait"], &script);
    let id = s(&job["id"]);
    assert_eq!(job["state"], "completed", "{job}");
    assert!(!marker.exists(), "the host ran the agent's git config");
    let files = w.git(&["ls-tree", "--name-only", &s(&job["branch"])]);
    assert!(files.contains("wip.txt"), "{files}");
    let said = notices(&w, &id);
    assert!(said.contains("the worktree's .git link"), "{said}");
    assert_eq!(
        read(&PathBuf::from(s(&job["worktree"])).join(".git"))
            .trim_start()
            .get(..7),
        Some("gitdir:")
    );
}

#[test]
fn hidden_paths_and_no_network_when_the_config_says_so() {
    let mut w = visible_world("");
    let user = w.root.join("user");
    // The user's session: a runtime folder holding an agent's socket (ssh-agent; the session bus
    // and the keyring live there too).
    let runtime = w.root.join("runtime");
    std::fs::create_dir_all(&runtime).expect("mkdir");
    let bus = runtime.join("ssh-agent.sock");
    let _bus = std::os::unix::net::UnixListener::bind(&bus).expect("agent socket");
    w.env = vec![
        ("XDG_RUNTIME_DIR", runtime.display().to_string()),
        ("SSH_AUTH_SOCK", bus.display().to_string()),
        ("TMPDIR", w.root.join("user").display().to_string()),
    ];
    std::fs::create_dir_all(user.join("private")).expect("mkdir");
    std::fs::write(user.join("private/diary.txt"), "dear diary\n").expect("diary");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let probe = format!(
        "python3 -c \"import socket; socket.create_connection((\\\"127.0.0.1\\\", {port}), 3)\""
    );
    let script = attempts(&[
        (
            "diary",
            format!("cat {}", user.join("private/diary.txt").display()),
        ),
        ("network", probe),
        (
            "ssh-agent",
            format!(
                "python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect(\\\"{}\\\")\"",
                bus.display()
            ),
        ),
        ("agent-variable", "test -n \"$SSH_AUTH_SOCK\"".to_string()),
        // TMPDIR names the sandbox's own /tmp, whatever the host's said.
        (
            "own-tmpdir",
            "test \"$TMPDIR\" = /tmp && echo t > \"$TMPDIR/t\"".to_string(),
        ),
    ]);
    // The network is on by default; `sandbox_hide` hides more.
    std::fs::write(
        w.home.join("config.toml"),
        "agent = \"shell\"\nsandbox = \"worktree\"\nsandbox_hide = [\"~/private\"]\n",
    )
    .expect("config");
    let job = w.spawn(&["--wait"], &script);
    let log = w.ok(&["logs", &s(&job["id"])]);
    assert!(
        log.contains("refused diary\n") && log.contains("ALLOWED network\n"),
        "{log}"
    );
    assert!(
        log.contains("refused ssh-agent\n")
            && log.contains("refused agent-variable\n")
            && log.contains("ALLOWED own-tmpdir\n"),
        "{log}"
    );

    std::fs::write(
        w.home.join("config.toml"),
        "agent = \"shell\"\nsandbox = \"worktree\"\nsandbox_network = false\n",
    )
    .expect("config");
    let job = w.spawn(&["--wait"], &script);
    let log = w.ok(&["logs", &s(&job["id"])]);
    assert!(
        log.contains("ALLOWED diary\n") && log.contains("refused network\n"),
        "{log}"
    );
    assert_eq!(w.status(&s(&job["id"]))["sandbox"]["network"], false);
    assert_eq!(read(&user.join("private/diary.txt")), "dear diary\n");
}

#[test]
fn without_bubblewrap_a_required_sandbox_fails_the_job_and_auto_says_so() {
    let mut w = World::new();
    let fake = w.root.join("bwrap-no-userns");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n",
    )
    .expect("fake");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    for (bwrap, why) in [
        (w.root.join("no-such-bwrap"), "is not installed".to_string()),
        (
            fake.clone(),
            "No permissions to creating new namespace".to_string(),
        ),
    ] {
        w.stop_host();
        w.env = vec![("SIDEKICK_BWRAP", bwrap.display().to_string())];
        let failed = w.run_json(&[
            "run",
            "--json",
            "--wait",
            "--sandbox",
            "worktree",
            "echo ran > ran.txt",
        ]);
        assert_eq!(failed["state"], "failed", "{failed}");
        let reason = s(&failed["reason"]);
        assert!(
            reason.contains("asked for a sandbox") && reason.contains(&why),
            "{reason}"
        );
        assert!(reason.contains("--sandbox off"), "{reason}");
        assert!(
            !PathBuf::from(s(&failed["worktree"]))
                .join("ran.txt")
                .exists(),
            "it never ran"
        );
        assert_eq!(failed["sandbox"]["on"], false);

        let ran = w.spawn(&["--wait", "--sandbox", "auto"], "echo ran > ran.txt");
        assert_eq!(ran["state"], "completed", "{ran}");
        assert_eq!(ran["sandbox"]["on"], false, "{ran}");
        assert!(s(&ran["sandbox"]["reason"]).contains(&why), "{ran}");
        let said = notices(&w, &s(&ran["id"]));
        assert!(said.contains("running without a sandbox"), "{said}");
        let human = w.ok(&["status", &s(&ran["id"])]);
        assert!(human.contains("not sandboxed"), "{human}");

        let off = w.spawn(&["--wait", "--sandbox", "off"], "echo ran > ran.txt");
        assert_eq!(off["state"], "completed", "{off}");
        assert_eq!(
            off["sandbox"],
            serde_json::json!({"mode": "off", "on": false, "network": true, "reason": null})
        );
    }
}

#[test]
fn a_bad_sandbox_setting_is_one_sentence() {
    let w = World::with_config("sandbox = \"sometimes\"\n");
    let r = w.sk(&["run", "echo hi"]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr()
            .contains("sandbox is 'sometimes'; it is one of worktree, auto, off"),
        "{}",
        r.stderr()
    );
    let w = World::with_config("[agents.shell]\nsandbox_write = [\"relative/path\"]\n");
    let r = w.sk(&["run", "echo hi"]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr().contains(
            "agents.shell.sandbox_write: 'relative/path' is neither absolute nor under ~/"
        ),
        "{}",
        r.stderr()
    );
    let r = World::new().sk(&["run", "--sandbox", "maybe", "echo hi"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
}

#[test]
fn from_inside_a_sandbox_sidekicks_start_sandboxed_and_the_users_decisions_are_refused() {
    let w = visible_world("");
    let user = w.root.join("user");
    let other = w.spawn(&["--wait", "--sandbox", "off"], "echo other > other.txt");
    // Another repository whose configuration needs trust (not trusted).
    let second = w.root.join("second");
    std::fs::create_dir_all(second.join(".sidekick")).expect("mkdir");
    w.git_in(&second, &["init", "-q"]);
    std::fs::write(second.join(".sidekick/config.toml"), "setup = \"true\"\n").expect("config");
    let bin = crate::common::BIN;
    // The agent asks the host (through the socket it can reach) for an unconfined sidekick, to
    // trust the repository, to merge a job and to reply to an unconfined one.
    let script = format!(
        "{bin} run --sandbox off --wait --json 'touch {escaped}' > child.json; \
         {bin} trust --yes {repo}; echo trust=$?; \
         {bin} merge {other}; echo merge=$?; \
         {bin} reply {other} 'touch {escaped}'; echo reply=$?; \
         {bin} run --auto-merge 'echo landed > landed.md'; echo auto=$?; \
         {bin} run --pr 'echo pr > pr.md'; echo openpr=$?; \
         {bin} run --issue 3; echo issue=$?; \
         {bin} pr {other}; echo prjob=$?; \
         {bin} retry {other}; echo retry=$?",
        escaped = user.join("escaped").display(),
        other = s(&other["id"]),
        repo = second.display(),
    );
    let job = w.spawn(&["--wait", "--sandbox", "worktree"], &script);
    assert_eq!(job["state"], "completed", "{job}");
    let log = w.ok(&["logs", &s(&job["id"])]);
    for what in [
        "trust=1", "merge=1", "reply=1", "auto=1", "openpr=1", "issue=1", "prjob=1", "retry=1",
    ] {
        assert!(log.contains(what), "{what}:\n{log}");
    }
    let said = w.sk(&["logs", &s(&job["id"])]).stderr();
    assert!(said.contains("this needs the user"), "{said}");
    assert!(
        said.contains("may not start a sidekick that merges by itself"),
        "{said}"
    );
    assert!(
        said.contains("may not start a sidekick that opens a pull request")
            && said.contains("may not read the forge's issues"),
        "{said}"
    );
    // The user's job is not its own: the reply is refused before anything else is asked.
    assert!(
        said.contains("sees only its own job and the sidekicks it started"),
        "{said}"
    );
    let child: serde_json::Value = serde_json::from_str(&read(
        &PathBuf::from(s(&job["worktree"])).join("child.json"),
    ))
    .expect("the sidekick's job as JSON");
    assert_eq!(child["sandbox"]["mode"], "worktree", "{child}");
    assert_eq!(child["sandbox"]["on"], true, "{child}");
    assert!(
        !user.join("escaped").exists(),
        "a sidekick of a sandboxed job escaped"
    );
    assert_eq!(w.status(&s(&other["id"]))["state"], "completed");
    assert!(!w.home.join("trusted.toml").exists(), "nothing was trusted");
}

#[test]
fn a_sandboxed_job_stops_on_sigterm_and_leaves_no_process() {
    let w = World::with_config("sandbox = \"worktree\"\n");
    let job = w.spawn(&[], "sleep 100 & echo started > started.txt; wait");
    let id = s(&job["id"]);
    crate::common::wait_for_file(&PathBuf::from(s(&job["worktree"])).join("started.txt"));
    assert!(!sidekick_testkit::job_pids(&id).is_empty());
    w.ok(&["cancel", &id]);
    assert_eq!(w.status(&id)["state"], "cancelled");
    // The shell and its child took SIGTERM: no SIGKILL was needed (bubblewrap's own processes,
    // even one left unreaped, do not count as the job still running).
    let said = notices(&w, &id);
    assert!(!said.contains("sent SIGKILL"), "{said}");
    assert_eq!(sidekick_testkit::job_pids(&id), Vec::<i32>::new());
}

#[test]
fn a_sandboxed_job_sees_and_touches_only_its_own_job_and_its_sidekicks() {
    let w = visible_world("# SECRET-IN-CONFIG\n");
    // The user's job, running unsandboxed, with an uncommitted file.
    let other = w.spawn(
        &["--sandbox", "off"],
        "echo topsecret > secret.txt; sleep 60",
    );
    let other_id = s(&other["id"]);
    crate::common::wait_for_file(&PathBuf::from(s(&other["worktree"])).join("secret.txt"));
    let bin = crate::common::BIN;
    let config = w.home.join("config.toml");
    let socket = w.home.join("run/sidekick.sock");
    let api = |path: &str| {
        format!(
            "curl -s --unix-socket {} http://host{path}",
            socket.display()
        )
    };
    let script = format!(
        "{bin} run --json --context-file {config} 'cat $SIDEKICK_CONTEXT_FILE'; echo context=$?\n\
         ln -s {config} link.txt; {bin} run --json --context-file $PWD/link.txt 'true'; echo link=$?\n\
         {bin} logs {other_id}; echo logs=$?\n\
         {bin} status {other_id}; echo status=$?\n\
         {bin} cancel {other_id}; echo cancel=$?\n\
         {file}; echo\n\
         {bin} run --json -r {repo_dir}/.. 'true'; echo elsewhere=$?\n\
         echo 'notes for the child' > notes.txt\n\
         {bin} run --wait --json --context-file $PWD/notes.txt 'cat $SIDEKICK_CONTEXT_FILE' > child.json; echo child=$?\n\
         {bin} ls --json > ls.json; echo ls=$?",
        config = config.display(),
        file = api(&format!("/v1/jobs/{other_id}/file?path=secret.txt")),
        repo_dir = w.repo.display(),
    );
    let job = w.spawn(&["--wait", "--sandbox", "worktree"], &script);
    let id = s(&job["id"]);
    assert_eq!(job["state"], "completed", "{job}");
    let r = w.sk(&["logs", &id]);
    let (log, said) = (r.stdout(), r.stderr());
    for what in [
        "context=1",
        "link=1",
        "logs=1",
        "status=1",
        "cancel=1",
        "elsewhere=1",
        "child=0",
        "ls=0",
    ] {
        assert!(log.contains(what), "{what}:\n{log}\n{said}");
    }
    assert!(
        !log.contains("SECRET-IN-CONFIG") && !said.contains("SECRET-IN-CONFIG"),
        "{log}"
    );
    assert!(!log.contains("topsecret"), "{log}");
    assert!(log.contains("\"code\":\"confined\""), "{log}");
    assert!(
        said.contains("may pass a context file only from its own worktree"),
        "{said}"
    );
    assert!(
        said.contains("sees only its own job and the sidekicks it started"),
        "{said}"
    );
    assert!(
        said.contains("only folders of its own repository or worktree"),
        "{said}"
    );
    // The user's job goes on, untouched.
    assert_eq!(w.status(&other_id)["state"], "running");

    // What it started is its child; its file's words reached the child; it lists only its own.
    let wt = PathBuf::from(s(&job["worktree"]));
    let child: serde_json::Value =
        serde_json::from_str(&read(&wt.join("child.json"))).expect("the child as JSON");
    assert_eq!(child["parent_id"], id, "{child}");
    assert!(
        w.ok(&["logs", &s(&child["id"])])
            .contains("notes for the child"),
        "the context file did not reach the child"
    );
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&read(&wt.join("ls.json"))).expect("ls as JSON");
    let ids: Vec<String> = listed.iter().map(|j| s(&j["id"])).collect();
    assert!(
        ids.contains(&id) && ids.contains(&s(&child["id"])),
        "{ids:?}"
    );
    assert!(!ids.contains(&other_id), "{ids:?}");
    w.ok(&["cancel", &other_id]);
}

#[test]
fn a_sandboxed_spawn_chain_nests_only_so_deep_starts_only_so_many_and_ends_with_its_parent() {
    let w =
        visible_world("max_running = 8\nmax_depth = 2\nmax_children = 3\nsandbox = \"worktree\"\n");
    let bin = crate::common::BIN;
    // No parent is named anywhere: from inside a sandbox, what a job starts is its child.
    let script = format!(
        "{bin} run --wait --json '{bin} run true; echo grandchild=$?' > chain.json; echo chain=$?\n\
         for i in 2 3 4; do {bin} run --json 'sleep 60' > child$i.json; echo child$i=$?; done"
    );
    let job = w.spawn(&["--wait"], &script);
    let id = s(&job["id"]);
    assert_eq!(job["state"], "completed", "{job}");
    let r = w.sk(&["logs", &id]);
    let (log, said) = (r.stdout(), r.stderr());
    for what in ["chain=0", "child2=0", "child3=0", "child4=1"] {
        assert!(log.contains(what), "{what}:\n{log}\n{said}");
    }
    assert!(
        said.contains("has started 3 sidekicks already, as many as one job may (max_children"),
        "{said}"
    );
    let wt = PathBuf::from(s(&job["worktree"]));
    let chain: serde_json::Value =
        serde_json::from_str(&read(&wt.join("chain.json"))).expect("the chain's child");
    assert_eq!(chain["parent_id"], id, "{chain}");
    let chain_said = w.sk(&["logs", &s(&chain["id"])]);
    assert!(
        chain_said.stdout().contains("grandchild=1"),
        "{}",
        chain_said.stdout()
    );
    assert!(
        chain_said
            .stderr()
            .contains("sidekicks nest at most 2 levels"),
        "{}",
        chain_said.stderr()
    );
    // The sleeping children were its own: they ended with it.
    for i in [2, 3] {
        let child: serde_json::Value =
            serde_json::from_str(&read(&wt.join(format!("child{i}.json")))).expect("a child");
        assert_eq!(child["parent_id"], id, "{child}");
        let ended = w.wait_until(&s(&child["id"]), "ended", |j| {
            ["completed", "failed", "timeout", "cancelled", "interrupted"]
                .contains(&j["state"].as_str().unwrap_or_default())
        });
        assert_eq!(ended["state"], "cancelled", "{ended}");
    }
}

#[test]
fn an_agent_and_sidekick_installed_where_the_sandbox_hides_them_still_run_in_it() {
    // Everything of this world is under /tmp, which the sandbox makes its own.
    let mut w = World::new();
    let install = w.root.join("inst/node_modules");
    std::fs::create_dir_all(install.join("myagent")).expect("mkdir");
    std::fs::create_dir_all(install.join(".bin")).expect("mkdir");
    let cli = install.join("myagent/cli.sh");
    std::fs::write(
        &cli,
        "#!/bin/sh\nhere=$(dirname \"$(readlink -f \"$0\")\")\ncat \"$here/data.txt\"\necho \"$1\" > did.txt\n",
    )
    .expect("write");
    std::fs::set_permissions(&cli, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    std::fs::write(install.join("myagent/data.txt"), "read beside the agent\n").expect("write");
    std::os::unix::fs::symlink("../myagent/cli.sh", install.join(".bin/myagent")).expect("link");
    // Sidekick's own program (the MCP server agents get) copied there too.
    let sk = w.root.join("sk/sidekick");
    std::fs::create_dir_all(sk.parent().expect("folder")).expect("mkdir");
    std::fs::copy(crate::common::BIN, &sk).expect("copy sidekick");
    w.env.push(("SIDEKICK_BIN", sk.display().to_string()));
    std::fs::write(
        w.home.join("config.toml"),
        format!(
            "agent = \"shell\"\nsandbox = \"worktree\"\n[agents.myagent]\ncommand = [\"{}\", \"{{task}}\"]\n",
            install.join(".bin/myagent").display()
        ),
    )
    .expect("config");
    let job = w.spawn(&["--wait", "-a", "myagent"], "the task");
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["sandbox"]["on"], true, "{job}");
    assert!(
        w.ok(&["logs", &s(&job["id"])])
            .contains("read beside the agent"),
        "{job}"
    );
    let shell = w.spawn(
        &["--wait", "-a", "shell"],
        &format!("{} --version > version.txt", sk.display()),
    );
    assert_eq!(shell["state"], "completed", "{shell}");
    assert!(
        w.git(&["show", &format!("{}:version.txt", s(&shell["branch"]))])
            .starts_with("sidekick"),
        "{shell}"
    );
}
