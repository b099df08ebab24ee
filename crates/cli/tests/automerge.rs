//! Jobs that merge by themselves (`--auto-merge`, a task type's or the repository's
//! `auto_merge`), and `sidekick retry`.

use std::path::Path;

use serde_json::Value;

use crate::common::{notices, s, World};

fn seed(w: &World) {
    std::fs::create_dir_all(w.repo.join("docs")).expect("mkdir");
    std::fs::create_dir_all(w.repo.join("src")).expect("mkdir");
    std::fs::write(w.repo.join("docs/guide.md"), "# Guide\n\nold words\n").expect("write");
    std::fs::write(w.repo.join("src/lib.rs"), "fn main() {}\n").expect("write");
    std::fs::write(w.repo.join("notes.txt"), "one\ntwo\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "seed"]);
}

fn auto(v: &Value) -> &Value {
    &v["auto_merge"]
}

/// Writes the repository's own configuration (and trusts it: it lets jobs merge by themselves).
fn repo_config(w: &World, text: &str) {
    std::fs::create_dir_all(w.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(w.repo.join(".sidekick/config.toml"), text).expect("write");
    w.git(&["add", ".sidekick"]);
    w.git(&["commit", "-q", "-m", "sidekick config"]);
    let r = w.sk(&["run", "--", "true"]);
    assert_ne!(r.code(), 0, "untrusted: refused");
    assert!(
        r.stderr().contains("lets jobs merge by themselves")
            && r.stderr().contains("sidekick trust"),
        "{}",
        r.stderr()
    );
    let shown = w.ok(&["trust", "--show"]);
    assert!(shown.contains("auto-merge:"), "{shown}");
    w.ok(&["trust", "--yes"]);
}

#[test]
fn a_docs_only_job_lands_by_itself_and_the_users_dirty_files_stay() {
    let w = World::new();
    seed(&w);
    // The user's own unrelated work in the checkout: unstaged, staged and untracked.
    std::fs::write(w.repo.join("src/lib.rs"), "fn main() { /* mine */ }\n").expect("write");
    std::fs::write(w.repo.join("staged.txt"), "staged\n").expect("write");
    w.git(&["add", "staged.txt"]);
    std::fs::write(w.repo.join("scratch.txt"), "scratch\n").expect("write");
    let before = w.git(&["rev-parse", "main"]);

    let r = w.sk(&[
        "run",
        "--json",
        "--wait",
        "--auto-merge",
        "--",
        "sed -i 's/old/new/' docs/guide.md",
    ]);
    assert_eq!(
        r.code(),
        0,
        "a job that merged by itself succeeded: {}",
        r.stderr()
    );
    let job: Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(job["state"], "merged", "{job}");
    assert_eq!(auto(&job)["outcome"], "merged");
    assert_eq!(auto(&job)["by"], "the job");
    assert_eq!(job["merged_into"], "main");
    assert_eq!(w.git(&["rev-parse", "main~1"]), before);
    assert_eq!(
        std::fs::read_to_string(w.repo.join("docs/guide.md")).expect("read"),
        "# Guide\n\nnew words\n"
    );
    assert_eq!(
        w.git(&["status", "--porcelain"]),
        " M src/lib.rs\nA  staged.txt\n?? scratch.txt",
        "the user's own work is as it was"
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("src/lib.rs")).expect("read"),
        "fn main() { /* mine */ }\n"
    );
    // Recorded in its events and its status.
    let id = s(&job["id"]);
    let said = notices(&w, &id);
    assert!(said.contains("merged by itself into main"), "{said}");
    let text = w.ok(&["status", &id]);
    assert!(
        text.contains("auto-merge") && text.contains("merged by itself"),
        "{text}"
    );

    // Undone like any merge: main goes back, the job comes back for review.
    let undone = w.json(&["undo", "--json", &id]);
    assert_eq!(undone["job"]["state"], "completed", "{undone}");
    assert_eq!(w.git(&["rev-parse", "main"]), before);
    assert_eq!(
        std::fs::read_to_string(w.repo.join("docs/guide.md")).expect("read"),
        "# Guide\n\nold words\n"
    );
    assert_eq!(
        w.git(&["status", "--porcelain"]),
        " M src/lib.rs\nA  staged.txt\n?? scratch.txt"
    );
}

#[test]
fn jobs_that_fail_a_condition_stay_for_review_and_say_which() {
    let w = World::new();
    seed(&w);
    repo_config(&w, "[auto_merge]\npaths = [\"docs/**\", \"*.md\"]\n");
    let main_before = w.git(&["rev-parse", "main"]);

    // The repository's paths make a docs-only job land without being asked...
    let docs = w.spawn(&["--wait"], "echo more >> docs/guide.md");
    assert_eq!(docs["state"], "merged", "{docs}");
    assert_eq!(auto(&docs)["by"], "the repository's [auto_merge] paths");
    let main_before = {
        assert_ne!(w.git(&["rev-parse", "main"]), main_before);
        w.git(&["rev-parse", "main"])
    };

    // ...but one that also touches a path outside them stays.
    let outside = w.spawn(
        &["--wait"],
        "echo more >> docs/guide.md && echo x >> src/lib.rs",
    );
    assert_eq!(outside["state"], "completed", "{outside}");
    assert_eq!(auto(&outside)["outcome"], "held");
    let why = s(&auto(&outside)["reason"]);
    assert!(
        why.contains("src/lib.rs") && why.contains("outside [auto_merge] paths"),
        "{why}"
    );
    assert!(notices(&w, &s(&outside["id"])).contains("not merged by itself"));

    // One whose target file has the user's uncommitted edits stays.
    std::fs::write(w.repo.join("notes.txt"), "one\ntwo\nmine\n").expect("write");
    let dirty = w.spawn(
        &["--wait", "--auto-merge"],
        "echo theirs >> notes.txt && echo d >> README.md",
    );
    assert_eq!(dirty["state"], "completed", "{dirty}");
    let why = s(&auto(&dirty)["reason"]);
    assert!(
        why.contains("uncommitted changes") && why.contains("notes.txt"),
        "{why}"
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("notes.txt")).expect("read"),
        "one\ntwo\nmine\n",
        "the user's edit is untouched"
    );
    w.git(&["checkout", "--", "notes.txt"]);

    // One that conflicts with what main got meanwhile stays.
    let slow = w.spawn(
        &["--auto-merge"],
        "while [ ! -e go ]; do sleep 0.05; done; rm go; echo theirs > docs/guide.md",
    );
    std::fs::write(
        w.repo.join("docs/guide.md"),
        "# Guide\n\nthe user's words\n",
    )
    .expect("write");
    w.git(&["commit", "-q", "-am", "the user's guide"]);
    std::fs::write(
        Path::new(&s(&w.wait_until(&s(&slow["id"]), "running", |j| {
            j["state"] == "running"
        })["worktree"]))
        .join("go"),
        "",
    )
    .expect("go");
    let conflicted = w.json(&["wait", "--json", &s(&slow["id"])]);
    assert_eq!(conflicted["state"], "completed", "{conflicted}");
    let why = s(&auto(&conflicted)["reason"]);
    assert!(
        why.contains("conflicts with main in docs/guide.md"),
        "{why}"
    );

    // A failed one never merges by itself, whatever it changed.
    let failed = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "--auto-merge",
        "--",
        "echo x >> docs/guide.md; exit 3",
    ]);
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(auto(&failed)["outcome"], "held");
    assert!(
        s(&auto(&failed)["reason"]).contains("ended failed"),
        "{failed}"
    );

    // `--no-auto-merge` opts out of the repository's paths.
    let opted_out = w.spawn(
        &["--wait", "--no-auto-merge"],
        "echo again >> docs/guide.md",
    );
    assert_eq!(opted_out["state"], "completed");
    assert!(opted_out["auto_merge"].is_null(), "{opted_out}");

    // None of these moved main.
    assert_eq!(
        w.git(&["rev-parse", "main~1"]),
        main_before,
        "only the user's commit"
    );
}

#[test]
fn a_task_type_may_merge_by_itself() {
    let w = World::new();
    seed(&w);
    std::fs::create_dir_all(w.repo.join(".sidekick/tasks/changelog")).expect("mkdir");
    std::fs::write(
        w.repo.join(".sidekick/tasks/changelog/task.toml"),
        "description = \"Add a changelog line\"\nagent = \"shell\"\ncommand = \"echo \\\"- $SIDEKICK_INPUT_LINE\\\" >> CHANGELOG.md\"\nauto_merge = true\n[[inputs]]\nname = \"line\"\nrequired = true\n",
    )
    .expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "task type"]);
    w.ok(&["trust", "--yes"]);
    let job = w.json(&[
        "run",
        "--json",
        "--wait",
        "--type",
        "changelog",
        "--input",
        "line=fixed it",
    ]);
    assert_eq!(job["state"], "merged", "{job}");
    assert_eq!(auto(&job)["by"], "task type changelog");
    assert_eq!(
        std::fs::read_to_string(w.repo.join("CHANGELOG.md")).expect("read"),
        "- fixed it\n"
    );
}

#[test]
fn retry_runs_the_same_job_again_in_a_fresh_worktree() {
    let w = World::new();
    seed(&w);
    let failed = w.run_json(&[
        "run",
        "--json",
        "--wait",
        "--timeout",
        "7m",
        "--max-steps",
        "40",
        "--",
        "git rev-parse HEAD > started-at.txt; test -e ok || exit 4",
    ]);
    assert_eq!(failed["state"], "failed", "{failed}");
    let old_id = s(&failed["id"]);
    // main moves on.
    std::fs::write(w.repo.join("ok"), "").expect("write");
    w.git(&["add", "ok"]);
    w.git(&["commit", "-q", "-m", "now it works"]);
    let tip = w.git(&["rev-parse", "main"]);

    let retried = w.json(&["retry", "--json", "--wait", &old_id]);
    assert_ne!(retried["id"], failed["id"], "a new job");
    assert_eq!(retried["retry_of"], old_id.as_str());
    assert_eq!(retried["task"], failed["task"]);
    assert_eq!(retried["agent"], failed["agent"]);
    assert_eq!(retried["timeout_ms"], 7 * 60 * 1000);
    assert_eq!(retried["max_steps"], 40);
    assert_eq!(
        retried["state"], "completed",
        "from main's tip now: {retried}"
    );
    assert_ne!(retried["worktree"], failed["worktree"], "a fresh worktree");
    assert_eq!(retried["base_commit"], tip.as_str());
    assert_eq!(retried["base_branch"], "main");
    let started = w.git(&["show", &format!("{}:started-at.txt", s(&retried["branch"]))]);
    assert_eq!(started, tip);
    assert!(w.ok(&["status", &s(&retried["id"])]).contains("retry of"));
    // The first is as it was.
    assert_eq!(w.status(&old_id)["state"], "failed");

    // --same-base: from the commit the first started from, still merging into main.
    let same = w.run_json(&["retry", "--json", "--wait", "--same-base", &old_id]);
    assert_eq!(same["base_commit"], failed["base_commit"], "{same}");
    assert_eq!(same["base_branch"], "main");
    assert_eq!(same["state"], "failed", "ok is not there yet");
    assert_eq!(same["retry_of"], old_id.as_str());

    // The context its agent was given goes with it, even once its file is gone.
    let notes = w.root.join("notes-for-the-agent.md");
    std::fs::write(&notes, "remember the tests\n").expect("write");
    let with_context = w.spawn(
        &[
            "--wait",
            "--context",
            "full",
            "--context-file",
            &notes.display().to_string(),
        ],
        "cat \"$SIDEKICK_CONTEXT_FILE\" > seen-context.md",
    );
    std::fs::remove_file(&notes).expect("rm");
    let again = w.json(&["retry", "--json", "--wait", &s(&with_context["id"])]);
    let seen = |j: &Value| w.git(&["show", &format!("{}:seen-context.md", s(&j["branch"]))]);
    assert!(seen(&with_context).contains("remember the tests"));
    assert_eq!(seen(&again), seen(&with_context));

    // An unknown job and a live one are refused with a sentence.
    let r = w.sk(&["retry", "no-such-job"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("no job matches"), "{}", r.stderr());
    let live = w.spawn(&[], "sleep 30");
    let r = w.sk(&["retry", &s(&live["id"])]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("retry it once it has ended"),
        "{}",
        r.stderr()
    );
    w.ok(&["cancel", &s(&live["id"])]);
}

#[test]
fn retrying_a_job_whose_agent_or_task_type_is_gone_is_refused() {
    let w = World::with_config("[agents.mine]\ncommand = [\"sh\", \"-c\", \"{task}\"]\n");
    seed(&w);
    let mine = w.spawn(&["--wait", "--agent", "mine"], "echo hi > hi.txt");
    assert_eq!(mine["state"], "completed", "{mine}");
    std::fs::write(w.home.join("config.toml"), "").expect("config without it");
    let r = w.sk(&["retry", &s(&mine["id"])]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains(&format!(
            "cannot retry {}: its agent 'mine' is no longer configured",
            s(&mine["codename"])
        )),
        "{}",
        r.stderr()
    );

    std::fs::create_dir_all(w.repo.join(".sidekick/tasks/hello")).expect("mkdir");
    std::fs::write(
        w.repo.join(".sidekick/tasks/hello/task.toml"),
        "agent = \"shell\"\ncommand = \"echo hello > hello.txt\"\n",
    )
    .expect("write");
    w.ok(&["trust", "--yes"]);
    let typed = w.json(&["run", "--json", "--wait", "--type", "hello"]);
    assert_eq!(typed["state"], "completed", "{typed}");
    std::fs::remove_dir_all(w.repo.join(".sidekick/tasks/hello")).expect("rm");
    let r = w.sk(&["retry", &s(&typed["id"])]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr()
            .contains("its task type 'hello' no longer exists"),
        "{}",
        r.stderr()
    );
    assert_eq!(
        w.json(&["ls", "--json"]).as_array().map(Vec::len),
        Some(2),
        "no job was made"
    );
}

#[test]
fn a_job_the_host_left_undecided_is_decided_by_the_next_host() {
    let w = World::new();
    seed(&w);
    // The host stops while the job runs: it ends interrupted, and the next host holds it.
    let job = w.spawn(&["--auto-merge"], "echo more >> docs/guide.md; sleep 30");
    let id = s(&job["id"]);
    w.wait_state(&id, "running");
    w.stop_host();
    let after = w.status(&id);
    assert_eq!(after["state"], "interrupted", "{after}");
    let held = w.wait_until(&id, "held", |j| j["auto_merge"]["outcome"] == "held");
    assert!(
        s(&held["auto_merge"]["reason"]).contains("ended interrupted"),
        "{held}"
    );
    assert_eq!(
        w.git(&["log", "-1", "--format=%s", "main"]),
        "seed",
        "nothing merged"
    );
}

#[test]
fn links_attributes_and_gits_own_files_under_auto_merge_paths_wait_for_a_person() {
    let w = World::new();
    seed(&w);
    repo_config(
        &w,
        "[auto_merge]\npaths = [\"docs/**\", \"*.md\", \"**/*.md\"]\n",
    );
    let main_before = w.git(&["rev-parse", "main"]);
    let cases = [
        (
            "ln -s ~/.bashrc docs/bashrc.md",
            "docs/bashrc.md a symbolic link",
        ),
        (
            "ln -s ../src/lib.rs docs/link.md",
            "docs/link.md a symbolic link",
        ),
        (
            "printf '* filter=evil\\n' > docs/.gitattributes",
            "docs/.gitattributes",
        ),
        (
            "mkdir -p .github/workflows && echo run > .github/workflows/ci.md",
            ".github/workflows/ci.md",
        ),
    ];
    for (task, said) in cases {
        let job = w.spawn(&["--wait"], task);
        assert_eq!(job["state"], "completed", "{task}: {job}");
        assert_eq!(auto(&job)["outcome"], "held", "{task}: {job}");
        let why = s(&auto(&job)["reason"]);
        assert!(
            why.contains(said) && why.contains("a person reviews"),
            "{task}: {why}"
        );
    }
    assert_eq!(w.git(&["rev-parse", "main"]), main_before, "nothing landed");
    // A plain docs change still lands by itself.
    let docs = w.spawn(&["--wait"], "echo more >> docs/guide.md");
    assert_eq!(docs["state"], "merged", "{docs}");
}
