//! Merging back: strategies, targets, safety rules, undo, rebase, discard, restore, gc.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{s, World};

/// Everything a user could lose: refs, HEAD, index bytes, stash, and every file's bytes.
#[derive(Debug, PartialEq)]
struct RepoState {
    refs: String,
    head: String,
    index: Vec<u8>,
    stash: String,
    files: BTreeMap<String, Vec<u8>>,
}

fn state_of(w: &World, workdir: &Path) -> RepoState {
    let mut files = BTreeMap::new();
    let mut stack = vec![workdir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let name = p
                .strip_prefix(workdir)
                .expect("prefix")
                .display()
                .to_string();
            if name == ".git" {
                continue;
            }
            let ft = e.file_type().expect("type");
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_symlink() {
                files.insert(
                    name,
                    std::fs::read_link(&p)
                        .expect("link")
                        .display()
                        .to_string()
                        .into_bytes(),
                );
            } else {
                files.insert(name, std::fs::read(&p).expect("read"));
            }
        }
    }
    let gitdir = PathBuf::from(w.git(&[
        "-C",
        workdir.to_str().expect("utf8"),
        "rev-parse",
        "--absolute-git-dir",
    ]));
    RepoState {
        refs: w.git(&[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads",
            "refs/stash",
        ]),
        head: std::fs::read_to_string(gitdir.join("HEAD")).unwrap_or_default(),
        index: std::fs::read(gitdir.join("index")).unwrap_or_default(),
        stash: w.git(&["stash", "list"]),
        files,
    }
}

fn seed(w: &World) {
    std::fs::write(
        w.repo.join("a.txt"),
        "one\ntwo\nthree\nfour\nfive\nsix\nseven\n",
    )
    .expect("write");
    std::fs::write(w.repo.join("b.txt"), "bee\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "seed"]);
}

fn merge(w: &World, args: &[&str]) -> (i32, String, String) {
    merged_or(w, args)
}

/// `sidekick merge ARGS` that must succeed; its stdout.
fn merged(w: &World, args: &[&str]) -> String {
    let (code, out, err) = merged_or(w, args);
    assert_eq!(code, 0, "merge {args:?} failed: {err}{out}");
    out
}

fn merged_or(w: &World, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["merge"];
    all.extend_from_slice(args);
    let r = w.sk(&all);
    (r.code(), r.stdout(), r.stderr())
}

fn tip(w: &World, branch: &str) -> String {
    w.git(&["rev-parse", branch])
}

#[test]
fn a_squash_merge_updates_the_checked_out_branch_and_keeps_unrelated_work() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(
        &["--wait"],
        "sed -i 's/two/TWO/' a.txt && echo fresh > new.txt",
    );
    let id = s(&job["id"]);
    // The user's own work, started after the job: unstaged, staged and untracked.
    std::fs::write(w.repo.join("b.txt"), "bee, edited by the user\n").expect("write");
    std::fs::write(w.repo.join("c.txt"), "staged\n").expect("write");
    w.git(&["add", "c.txt"]);
    std::fs::write(w.repo.join("notes.txt"), "untracked notes\n").expect("write");
    let before_tip = tip(&w, "main");

    let preview = w.json(&["merge", "--dry-run", "--json", &id]);
    let p = &preview["preview"];
    assert_eq!(
        (
            p["clean"].as_bool(),
            p["target"].as_str(),
            p["target_moved"].as_bool()
        ),
        (Some(true), Some("main"), Some(false))
    );
    assert_eq!(p["changed_paths"], serde_json::json!(["a.txt", "new.txt"]));
    assert_eq!(p["checked_out"][0]["dirty_overlap"], serde_json::json!([]));
    assert_eq!(tip(&w, "main"), before_tip, "a dry run changes nothing");

    let (code, out, err) = merge(&w, &[&id]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("merged job") && out.contains("squash"),
        "{out}"
    );
    let new_tip = tip(&w, "main");
    assert_eq!(tip(&w, "main~1"), before_tip);
    assert_eq!(
        w.git(&["log", "-1", "--format=%B", "main"]),
        format!("sed -i 's/two/TWO/' a.txt && echo fresh > new.txt\n\nSidekick-Job: {id}")
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("a.txt")).expect("read"),
        "one\nTWO\nthree\nfour\nfive\nsix\nseven\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("new.txt")).expect("read"),
        "fresh\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("b.txt")).expect("read"),
        "bee, edited by the user\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("notes.txt")).expect("read"),
        "untracked notes\n"
    );
    let status = w.git(&["status", "--porcelain"]);
    assert_eq!(
        status, " M b.txt\nA  c.txt\n?? notes.txt",
        "index and tree agree with the new tip"
    );

    let st = w.status(&id);
    assert_eq!(
        (st["state"].as_str(), st["merged_into"].as_str()),
        (Some("merged"), Some("main"))
    );
    assert_eq!(st["merge_commit"].as_str(), Some(new_tip.as_str()));
    assert!(!Path::new(&s(&st["worktree"])).exists(), "worktree removed");
    assert!(w.sk(&["status", &id]).stdout().contains("snapshot"));
    let branches = w.git(&["branch", "--list", "sidekick/*"]);
    assert_eq!(branches, "", "job branch deleted");
    assert_eq!(
        w.git(&["rev-parse", &format!("refs/sidekick/snapshots/{id}")]),
        s(&job["head_commit"])
    );

    // Merging again is refused.
    let (code, _, err) = merge(&w, &[&id]);
    assert_eq!(code, 1);
    assert!(err.contains("already merged into main"), "{err}");
}

#[test]
fn dirty_paths_the_merge_touches_refuse_it_and_nothing_changes() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(&["--wait"], "sed -i 's/seven/SEVEN/' a.txt");
    let id = s(&job["id"]);
    std::fs::write(
        w.repo.join("a.txt"),
        "one, mine\ntwo\nthree\nfour\nfive\nsix\nseven\n",
    )
    .expect("write");
    let before = state_of(&w, &w.repo);
    let (code, out, _) = merge(&w, &["--dry-run", &id]);
    assert_eq!(code, 1, "the preview says it would be refused");
    assert!(out.contains("overlap: a.txt"), "{out}");
    let (code, _, err) = merge(&w, &[&id]);
    assert_eq!(code, 1);
    assert!(
        err.contains("would overwrite your uncommitted changes") && err.contains("a.txt"),
        "{err}"
    );
    assert_eq!(state_of(&w, &w.repo), before, "nothing changed");
    assert_eq!(w.status(&id)["state"], "completed");

    // With --autostash the user's edit is set aside, the merge done, the edit put back.
    let (code, out, err) = merge(&w, &["--autostash", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("kept in"), "{out}");
    assert_eq!(
        std::fs::read_to_string(w.repo.join("a.txt")).expect("read"),
        "one, mine\ntwo\nthree\nfour\nfive\nsix\nSEVEN\n",
        "both changes"
    );
    assert_eq!(
        w.git(&["show", "main:a.txt"]),
        "one\ntwo\nthree\nfour\nfive\nsix\nSEVEN"
    );
    assert_eq!(
        w.git(&["stash", "list"]),
        "",
        "the stash was dropped after re-applying"
    );

    // Its undo sets the same edit aside and puts it back, as the merge did.
    let out = w.ok(&["undo", &id]);
    assert!(out.contains("undid the merge"), "{out}");
    assert_eq!(
        std::fs::read_to_string(w.repo.join("a.txt")).expect("read"),
        "one, mine\ntwo\nthree\nfour\nfive\nsix\nseven\n",
        "the user's edit, without the job's"
    );
    assert_eq!(w.status(&id)["state"], "completed");
    assert_eq!(w.git(&["stash", "list"]), "");

    // A plain merge's undo over an edit made since is refused with what works for an undo.
    w.git(&["checkout", "--", "a.txt"]);
    let (code, _, err) = merge(&w, &[&id]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        w.repo.join("a.txt"),
        "one\ntwo\nthree\nfour\nfive\nsix\nSEVEN, mine\n",
    )
    .expect("write");
    let r = w.sk(&["undo", &id]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("or undo with autostash"),
        "{}",
        r.stderr()
    );
    let r = w.sk(&["undo", "--autostash", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        r.stdout().contains("kept in"),
        "the edit conflicts with the undo: {}",
        r.stdout()
    );
    assert_eq!(w.status(&id)["state"], "completed");
}

#[test]
fn an_autostash_that_conflicts_is_kept_and_its_place_named() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(&["--wait"], "sed -i 's/two/TWO from the job/' a.txt");
    std::fs::write(
        w.repo.join("a.txt"),
        "one\nTWO from the user\nthree\nfour\nfive\nsix\nseven\n",
    )
    .expect("write");
    let (code, out, err) = merge(&w, &["--autostash", &s(&job["id"])]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kept in stash@{0}"), "{out}");
    assert!(err.contains("stash@{0}"), "{err}");
    assert_eq!(
        w.git(&["show", "main:a.txt"]).lines().nth(1),
        Some("TWO from the job")
    );
    let kept = w.git(&["stash", "show", "-p", "stash@{0}"]);
    assert!(
        kept.contains("+TWO from the user"),
        "the user's work is in the stash: {kept}"
    );
}

#[test]
fn conflicts_are_previewed_refused_and_resolved_through_rebase() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(
        &["--wait"],
        "sed -i 's/three/THREE (job)/' a.txt && echo j > job.txt",
    );
    let id = s(&job["id"]);
    // Meanwhile the target moves with a clashing edit.
    std::fs::write(
        w.repo.join("a.txt"),
        "one\ntwo\nTHREE (user)\nfour\nfive\nsix\nseven\n",
    )
    .expect("write");
    w.git(&["commit", "-q", "-am", "user edit"]);
    let before = state_of(&w, &w.repo);
    let preview = w.sk(&["merge", "--dry-run", "--json", &id]);
    assert_eq!(preview.code(), 1);
    let p: Value = serde_json::from_str(&preview.stdout()).expect("json");
    assert_eq!(p["preview"]["clean"], false);
    assert_eq!(p["preview"]["target_moved"], true);
    assert_eq!(
        p["preview"]["conflicts"],
        serde_json::json!([{"path": "a.txt", "kind": "content"}])
    );
    // An uncommitted edit of the user's on a file the job changes is named even while the merge
    // conflicts (the preview once said nothing was in the way).
    std::fs::write(w.repo.join("job.txt"), "mine\n").expect("write");
    let dirty = w.sk(&["merge", "--dry-run", "--json", &id]);
    let d: Value = serde_json::from_str(&dirty.stdout()).expect("json");
    assert_eq!(
        d["preview"]["checked_out"][0]["dirty_overlap"],
        serde_json::json!(["job.txt"]),
        "{d}"
    );
    std::fs::remove_file(w.repo.join("job.txt")).expect("remove");
    let (code, _, err) = merge(&w, &[&id]);
    assert_eq!(code, 1);
    assert!(err.contains("would conflict in a.txt (content)"), "{err}");
    assert_eq!(state_of(&w, &w.repo), before);

    let r = w.sk(&["rebase", &id]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(r.stdout().contains("conflicts in a.txt"), "{}", r.stdout());
    assert_eq!(w.status(&id)["conflicts"], serde_json::json!(["a.txt"]));
    let wt = PathBuf::from(s(&job["worktree"]));
    let marked = std::fs::read_to_string(wt.join("a.txt")).expect("read");
    assert!(
        marked.contains("<<<<<<<") && marked.contains(">>>>>>>"),
        "{marked}"
    );
    let (code, _, err) = merge(&w, &[&id]);
    assert_eq!(code, 1);
    assert!(err.contains("unresolved conflicts"), "{err}");

    std::fs::write(
        wt.join("a.txt"),
        "one\ntwo\nTHREE (both)\nfour\nfive\nsix\nseven\n",
    )
    .expect("write");
    let wt_s = wt.to_str().expect("utf8");
    w.git(&["-C", wt_s, "add", "a.txt"]);
    w.git(&["-C", wt_s, "-c", "core.editor=true", "rebase", "--continue"]);
    // Resolved by hand: the host notices by itself (no command asks it to), and the job's facts
    // follow: no conflicts, its head the rebased tip, its base the target's tip.
    let settled = w.wait_until(&id, "the resolution noticed", |j| {
        j["conflicts"] == serde_json::json!([])
    });
    assert_eq!(
        s(&settled["head_commit"]),
        w.git(&["rev-parse", &s(&job["branch"])]).trim()
    );
    assert_eq!(
        s(&settled["base_commit"]),
        w.git(&["rev-parse", "main"]).trim()
    );
    assert_eq!(settled["files_changed"], 2, "{settled}");
    // No longer behind its target (the app's "behind main" reads this).
    let fresh = w.json(&["merge", "--dry-run", "--json", &id]);
    assert_eq!(fresh["preview"]["target_moved"], false, "{fresh}");
    let (code, out, err) = merge(&w, &[&id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("merged job"), "{out}");
    assert_eq!(
        w.git(&["show", "main:a.txt"]).lines().nth(2),
        Some("THREE (both)")
    );
    assert_eq!(w.git(&["show", "main:job.txt"]), "j");
}

/// A job whose rebase stopped at conflicts, and the job as it was before the rebase.
fn stopped_rebase(w: &World) -> (Value, Value) {
    seed(w);
    let job = w.spawn(
        &["--wait"],
        "sed -i 's/three/THREE (job)/' a.txt && echo j > job.txt",
    );
    std::fs::write(
        w.repo.join("a.txt"),
        "one\ntwo\nTHREE (user)\nfour\nfive\nsix\nseven\n",
    )
    .expect("write");
    w.git(&["commit", "-q", "-am", "user edit"]);
    let r = w.sk(&["rebase", &s(&job["id"])]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let stopped = w.status(&s(&job["id"]));
    assert_eq!(stopped["conflicts"], serde_json::json!(["a.txt"]));
    // Meanwhile the job's facts are its own work: its branch and base have not moved.
    assert_eq!(stopped["head_commit"], job["head_commit"]);
    assert_eq!(stopped["base_commit"], job["base_commit"]);
    (job, stopped)
}

#[test]
fn a_stopped_rebase_is_aborted_from_sidekick_or_by_hand_and_either_is_noticed() {
    let w = World::new();
    let (job, _) = stopped_rebase(&w);
    let id = s(&job["id"]);
    let r = w.sk(&["rebase", &id, "--abort"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stdout().contains("aborted the rebase"), "{}", r.stdout());
    let after = w.status(&id);
    assert_eq!(after["conflicts"], serde_json::json!([]));
    assert_eq!(
        after["head_commit"], job["head_commit"],
        "the branch is back"
    );
    assert_eq!(
        after["base_commit"], job["base_commit"],
        "and so is its base"
    );
    assert_eq!(after["files_changed"], job["files_changed"]);
    let wt = PathBuf::from(s(&job["worktree"]));
    assert!(std::fs::read_to_string(wt.join("a.txt"))
        .expect("read")
        .contains("THREE (job)"));
    // Nothing to abort now: one sentence, nothing changed.
    let again = w.sk(&["rebase", &id, "--abort"]);
    assert_eq!(again.code(), 1);
    assert!(
        again.stderr().contains("has no rebase under way to abort"),
        "{}",
        again.stderr()
    );

    // Stopped again, then aborted by hand in the worktree: noticed without being told.
    let r = w.sk(&["rebase", &id]);
    assert_eq!(r.code(), 1);
    w.git(&["-C", wt.to_str().expect("utf8"), "rebase", "--abort"]);
    let noticed = w.wait_until(&id, "the abort noticed", |j| {
        j["conflicts"] == serde_json::json!([])
    });
    assert_eq!(noticed["head_commit"], job["head_commit"]);
    assert_eq!(noticed["base_commit"], job["base_commit"]);
    let log = w.sk(&["logs", &id]);
    assert!(
        log.stderr().contains("the rebase has ended"),
        "{}",
        log.stderr()
    );
}

#[test]
fn the_jobs_own_turn_can_finish_a_stopped_rebase_and_one_that_does_not_commits_nothing() {
    let w = World::new();
    let (job, _) = stopped_rebase(&w);
    let id = s(&job["id"]);
    // A turn that leaves the rebase as it is: nothing is committed (the markers would have
    // become the resolution), and the job still shows its conflicts.
    let r = w.sk(&["reply", "--wait", "--json", &id, "echo looked > looked.txt"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let after = w.status(&id);
    assert_eq!(after["conflicts"], serde_json::json!(["a.txt"]), "{after}");
    assert_eq!(
        after["head_commit"], job["head_commit"],
        "nothing committed"
    );
    let log = w.sk(&["logs", &id]);
    assert!(
        log.stderr()
            .contains("a rebase is under way in the worktree"),
        "{}",
        log.stderr()
    );
    // The next turn (what "Ask the agent" sends an agent) resolves it and continues: the host
    // notices, and the job can merge with both sides.
    let resolve = "printf 'one\\ntwo\\nTHREE (both)\\nfour\\nfive\\nsix\\nseven\\n' > a.txt && rm -f looked.txt && git add a.txt && GIT_EDITOR=true git rebase --continue";
    let r = w.sk(&["reply", "--wait", "--json", &id, resolve]);
    assert_eq!(r.code(), 0, "{}\n{}", r.stderr(), r.stdout());
    let done = w.wait_until(&id, "the resolution noticed", |j| {
        j["conflicts"] == serde_json::json!([])
    });
    assert_eq!(
        s(&done["base_commit"]),
        w.git(&["rev-parse", "main"]).trim(),
        "{done}"
    );
    let (code, _, err) = merge(&w, &[&id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        w.git(&["show", "main:a.txt"]).lines().nth(2),
        Some("THREE (both)")
    );
}

#[test]
fn discarding_a_job_mid_rebase_keeps_its_whole_work() {
    let w = World::new();
    let (job, _) = stopped_rebase(&w);
    let id = s(&job["id"]);
    let r = w.sk(&["discard", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        r.stdout()
            .contains("the rebase under way was aborted first"),
        "{}",
        r.stdout()
    );
    let snap = format!("refs/sidekick/snapshots/{id}");
    assert_eq!(
        w.git(&["show", &format!("{snap}:a.txt")]).lines().nth(2),
        Some("THREE (job)")
    );
    assert!(!w
        .git(&["show", &format!("{snap}:a.txt")])
        .contains("<<<<<<<"));
    assert_eq!(w.git(&["show", &format!("{snap}:job.txt")]), "j");
}

#[test]
fn held_locks_refuse_the_merge_before_anything_is_written() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(&["--wait"], "echo x >> a.txt");
    let id = s(&job["id"]);
    for lock in [".git/index.lock", ".git/refs/heads/main.lock"] {
        let path = w.repo.join(lock);
        std::fs::write(&path, "").expect("lock");
        let before = state_of(&w, &w.repo);
        let (code, _, err) = merge(&w, &[&id]);
        assert_eq!(code, 1, "{lock}");
        assert!(
            err.contains(lock.rsplit('/').next().unwrap_or(lock)) && err.contains("held"),
            "{err}"
        );
        assert_eq!(state_of(&w, &w.repo), before, "{lock}: nothing changed");
        std::fs::remove_file(&path).expect("unlock");
    }
    merged(&w, &[&id]);
}

#[test]
fn targets_checked_out_elsewhere_or_nowhere_and_a_detached_head() {
    let w = World::new();
    seed(&w);
    w.git(&["branch", "feature"]);
    w.git(&["branch", "quiet"]);
    let other = w.root.join("other wt");
    w.git(&[
        "worktree",
        "add",
        "-q",
        other.to_str().expect("utf8"),
        "feature",
    ]);

    // Target checked out in a second worktree: that one is updated, the main one is not.
    let on_feature = w.spawn(&["--wait", "-b", "feature"], "echo feat > feat.txt");
    assert_eq!(on_feature["base_branch"], "feature");
    let main_before = state_of(&w, &w.repo);
    assert_eq!(merge(&w, &[&s(&on_feature["id"])]).0, 0);
    assert_eq!(
        std::fs::read_to_string(other.join("feat.txt")).expect("read"),
        "feat\n"
    );
    assert_eq!(
        w.git(&["-C", other.to_str().expect("utf8"), "status", "--porcelain"]),
        ""
    );
    let mut main_after = state_of(&w, &w.repo);
    main_after.refs = main_before.refs.clone();
    assert_eq!(main_after, main_before, "the main worktree is untouched");

    // Target checked out nowhere: only the branch moves.
    let quiet = w.spawn(&["--wait", "-b", "quiet"], "echo q > q.txt");
    let before = state_of(&w, &w.repo);
    assert_eq!(merge(&w, &[&s(&quiet["id"])]).0, 0);
    assert_eq!(w.git(&["show", "quiet:q.txt"]), "q");
    assert_eq!(state_of(&w, &w.repo).files, before.files);

    // A detached HEAD in the main worktree: main is not checked out, so no files change.
    let on_main = w.spawn(&["--wait"], "echo m > m.txt");
    w.git(&["checkout", "-q", "--detach"]);
    let before = state_of(&w, &w.repo);
    assert_eq!(merge(&w, &[&s(&on_main["id"])]).0, 0);
    assert_eq!(w.git(&["show", "main:m.txt"]), "m");
    let after = state_of(&w, &w.repo);
    assert_eq!(
        (after.files, after.head, after.index),
        (before.files, before.head, before.index)
    );
}

#[test]
fn merge_commit_and_rebase_strategies() {
    let w = World::new();
    seed(&w);
    let merged = w.spawn(&["--wait"], "echo one > m1.txt");
    let before = tip(&w, "main");
    assert_eq!(merge(&w, &["--strategy", "merge", &s(&merged["id"])]).0, 0);
    assert_eq!(
        w.git(&["rev-list", "--parents", "-n1", "main"]),
        format!(
            "{} {} {}",
            tip(&w, "main"),
            before,
            s(&merged["head_commit"])
        )
    );

    // Rebase with a target that did not move: a fast-forward to the job's own commit.
    let ff = w.spawn(&["--wait"], "echo two > r1.txt");
    assert_eq!(merge(&w, &["--strategy", "rebase", &s(&ff["id"])]).0, 0);
    assert_eq!(tip(&w, "main"), s(&ff["head_commit"]));

    // Rebase after the target moved: the job's commits are replayed with their authors.
    let job = w.spawn(&["--wait"], "echo three > r2.txt && git add r2.txt && GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@x git commit -qm 'agent commit' && echo four > r3.txt");
    std::fs::write(w.repo.join("b.txt"), "moved\n").expect("write");
    w.git(&["commit", "-q", "-am", "target moves"]);
    let moved = tip(&w, "main");
    assert_eq!(merge(&w, &["--strategy", "rebase", &s(&job["id"])]).0, 0);
    let log = w.git(&["log", "--format=%an|%s", &format!("{moved}..main")]);
    assert_eq!(log.lines().collect::<Vec<_>>(), vec![
        format!("Test|echo three > r2.txt && git add r2.txt && GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@x git commit -qm 'agent commit' && echo four > r3.txt"),
        "Agent|agent commit".to_string(),
    ]);
    assert_eq!(
        w.git(&["rev-parse", "main~2"]),
        moved,
        "fast-forwarded on top of the moved target"
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("r3.txt")).expect("read"),
        "four\n"
    );
}

#[test]
fn paths_merge_a_subset_and_leave_the_rest_for_later() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(
        &["--wait"],
        "sed -i 's/one/ONE/' a.txt && echo later > later.txt",
    );
    let id = s(&job["id"]);
    let r = w.sk(&[
        "merge",
        "--strategy",
        "merge",
        "--paths",
        "a.txt",
        "--",
        &id,
    ]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("takes the squash strategy"),
        "{}",
        r.stderr()
    );
    let r = w.sk(&["merge", "--paths", "nope.txt", "--", &id]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("'nope.txt' is not among the files"),
        "{}",
        r.stderr()
    );
    let r = w.sk(&["merge", "--paths", "a.txt", "--", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stdout().contains("the rest stays on"), "{}", r.stdout());
    assert_eq!(w.git(&["show", "main:a.txt"]).lines().next(), Some("ONE"));
    assert!(!w.repo.join("later.txt").exists());
    let st = w.status(&id);
    assert_eq!(st["state"], "completed", "still in review");
    assert!(Path::new(&s(&st["worktree"])).exists());
    // The rest later: merges cleanly on top of the part already in.
    merged(&w, &[&id]);
    assert_eq!(
        std::fs::read_to_string(w.repo.join("later.txt")).expect("read"),
        "later\n"
    );
    assert_eq!(w.status(&id)["state"], "merged");
}

#[test]
fn jobs_that_cannot_be_merged_say_why() {
    let w = World::new();
    seed(&w);
    let running = w.spawn(&[], "sleep 60");
    w.wait_state(&s(&running["id"]), "running");
    let (code, _, err) = merge(&w, &[&s(&running["id"])]);
    assert_eq!(code, 1);
    assert!(err.contains("is still running"), "{err}");
    w.ok(&["cancel", &s(&running["id"])]);

    let orphan = w.spawn(&["--wait"], "echo x > x.txt");
    let wt = s(&orphan["worktree"]);
    w.git(&["worktree", "remove", "--force", &wt]);
    w.git(&["branch", "-D", &s(&orphan["branch"])]);
    let before = state_of(&w, &w.repo);
    let (code, _, err) = merge(&w, &[&s(&orphan["id"])]);
    assert_eq!(code, 1);
    assert!(err.contains("no longer exists"), "{err}");
    assert_eq!(state_of(&w, &w.repo), before);

    let detached = w.spawn(&["--wait", "-b", "HEAD~0"], "echo d > d.txt");
    let (code, _, err) = merge(&w, &[&s(&detached["id"])]);
    assert_eq!(code, 1);
    assert!(err.contains("--into"), "{err}");
    let (code, _, err) = merge(&w, &["--into", "no-such", &s(&detached["id"])]);
    assert_eq!(code, 1);
    assert!(err.contains("no branch 'no-such'"), "{err}");
    assert_eq!(merge(&w, &["--into", "main", &s(&detached["id"])]).0, 0);
}

#[test]
fn undo_reverts_a_merge_until_the_target_moves() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(&["--wait"], "sed -i 's/four/FOUR/' a.txt && echo n > n.txt");
    let id = s(&job["id"]);
    std::fs::write(w.repo.join("b.txt"), "user edit kept\n").expect("write");
    let before_tip = tip(&w, "main");
    merged(&w, &[&id]);
    let r = w.sk(&["undo", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(tip(&w, "main"), before_tip);
    assert!(!w.repo.join("n.txt").exists());
    assert_eq!(
        std::fs::read_to_string(w.repo.join("a.txt"))
            .expect("read")
            .lines()
            .nth(3),
        Some("four")
    );
    assert_eq!(
        std::fs::read_to_string(w.repo.join("b.txt")).expect("read"),
        "user edit kept\n"
    );
    let st = w.status(&id);
    assert_eq!(
        (st["state"].as_str(), st["merged_into"].as_str()),
        (Some("completed"), None)
    );
    assert!(
        Path::new(&s(&st["worktree"])).join("n.txt").exists(),
        "worktree back"
    );
    assert_eq!(tip(&w, &s(&st["branch"])), s(&job["head_commit"]));

    // Once the target moves on, undo refuses.
    merged(&w, &[&id]);
    std::fs::write(w.repo.join("c.txt"), "c\n").expect("write");
    w.git(&["add", "c.txt"]);
    w.git(&["commit", "-q", "-m", "later work"]);
    let before = state_of(&w, &w.repo);
    let r = w.sk(&["undo", &id]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("has moved since"), "{}", r.stderr());
    assert_eq!(state_of(&w, &w.repo), before);
}

#[test]
fn edits_in_an_ended_jobs_worktree_are_merged_whenever_they_were_made() {
    // After a job ends its worktree is checked in the background and then watched, so a merge
    // need not look for edits; an edit made before, during or after that check is merged.
    let w = World::new();
    seed(&w);
    for wait_ms in [0u64, 1500] {
        let job = w.spawn(&["--wait"], &format!("echo agent > agent{wait_ms}.txt"));
        let id = s(&job["id"]);
        let wt = PathBuf::from(s(&job["worktree"]));
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        std::fs::write(wt.join(format!("late{wait_ms}.txt")), "late\n").expect("write");
        std::fs::write(wt.join("README.md"), format!("edited {wait_ms}\n")).expect("write");
        let (code, out, err) = merge(&w, &[&id]);
        assert_eq!(code, 0, "{out}{err}");
        for f in [format!("agent{wait_ms}.txt"), format!("late{wait_ms}.txt")] {
            assert!(w.repo.join(&f).exists(), "{f} merged (waited {wait_ms} ms)");
        }
        assert_eq!(
            std::fs::read_to_string(w.repo.join("README.md")).expect("read"),
            format!("edited {wait_ms}\n")
        );
        assert_ne!(
            w.status(&id)["head_commit"],
            job["head_commit"],
            "edits committed"
        );
    }
    // Untouched since it ended: merged as it was, with no extra commit for edits.
    let job = w.spawn(&["--wait"], "echo quiet > quiet.txt");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (code, out, err) = merge(&w, &[&s(&job["id"])]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(w.repo.join("quiet.txt").exists());
    assert_eq!(
        w.status(&s(&job["id"]))["head_commit"],
        job["head_commit"],
        "no commit for edits"
    );
}

#[test]
fn discard_keeps_a_snapshot_and_restore_brings_the_job_back() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(&["--wait"], "echo kept > kept.txt");
    let id = s(&job["id"]);
    // The user keeps working in the job's worktree after it ended; that must survive too.
    let wt = PathBuf::from(s(&job["worktree"]));
    std::fs::write(wt.join("late.txt"), "late edit\n").expect("write");
    let r = w.sk(&["discard", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        r.stdout()
            .contains(&format!("refs/sidekick/snapshots/{id}")),
        "{}",
        r.stdout()
    );
    assert!(!wt.exists());
    assert_eq!(w.git(&["branch", "--list", &s(&job["branch"])]), "");
    assert_eq!(w.status(&id)["state"], "discarded");
    let snap = format!("refs/sidekick/snapshots/{id}");
    assert_eq!(w.git(&["show", &format!("{snap}:late.txt")]), "late edit");
    assert_eq!(w.git(&["show", &format!("{snap}:kept.txt")]), "kept");
    let (code, _, err) = merge(&w, &[&id]);
    assert_eq!(code, 1);
    assert!(err.contains("was discarded"), "{err}");

    let r = w.sk(&["restore", &id]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(w.status(&id)["state"], "completed");
    assert_eq!(
        std::fs::read_to_string(wt.join("late.txt")).expect("read"),
        "late edit\n"
    );
    merged(&w, &[&id]);
    assert_eq!(
        std::fs::read_to_string(w.repo.join("late.txt")).expect("read"),
        "late edit\n"
    );
}

#[test]
fn gc_removes_old_worktrees_after_saving_them() {
    let w = World::with_config("gc_after = \"1s\"\n");
    seed(&w);
    let old = w.spawn(&["--wait"], "echo old > old.txt");
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let fresh = w.spawn(&["--wait"], "echo fresh > fresh.txt");
    let dry = w.json(&["gc", "--dry-run", "--json"]);
    let ids: Vec<&str> = dry["removed"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["job_id"].as_str())
        .collect();
    assert_eq!(ids, vec![s(&old["id"])]);
    assert!(
        Path::new(&s(&old["worktree"])).exists(),
        "dry run removes nothing"
    );
    let out = w.ok(&["gc"]);
    assert!(
        out.contains(&format!("removed {}", s(&old["codename"])))
            && out.contains("freed 1 worktree"),
        "{out}"
    );
    assert!(!Path::new(&s(&old["worktree"])).exists());
    assert!(Path::new(&s(&fresh["worktree"])).exists());
    assert_eq!(
        tip(&w, &s(&old["branch"])),
        s(&old["head_commit"]),
        "the branch stays for review"
    );
    assert!(
        !w.git(&["worktree", "list", "--porcelain"])
            .contains(&s(&old["codename"])),
        "git's records pruned"
    );
    assert!(w.ok(&["status", &s(&old["id"])]).contains("snapshot"));
    assert_eq!(w.sk(&["restore", &s(&old["id"])]).code(), 0);
    assert!(Path::new(&s(&old["worktree"])).join("old.txt").exists());
}

#[test]
fn every_kind_of_file_change_merges_into_a_checked_out_tree() {
    let w = World::new();
    std::fs::write(
        w.repo.join("keep.txt"),
        (1..=10).map(|i| format!("line {i}\n")).collect::<String>(),
    )
    .expect("write");
    std::fs::write(
        w.repo.join("rename-me.txt"),
        (1..=20).map(|i| format!("line {i}\n")).collect::<String>(),
    )
    .expect("write");
    std::fs::write(w.repo.join("delete-me.txt"), "bye\n").expect("write");
    std::fs::write(w.repo.join("script.sh"), "echo hi\n").expect("write");
    std::fs::write(w.repo.join("bin.dat"), [0u8, 1, 2, 3, 255, 0]).expect("write");
    std::os::unix::fs::symlink("keep.txt", w.repo.join("link")).expect("symlink");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "varied"]);
    let job = w.spawn(
        &["--wait"],
        "sed -i 's/line 5/LINE five/' keep.txt && mv rename-me.txt renamed.txt && \
        rm delete-me.txt && chmod +x script.sh && printf '\\000new' > bin.dat && \
        echo hi > 'with space é.txt' && ln -sfn renamed.txt link",
    );
    assert_eq!(merge(&w, &[&s(&job["id"])]).0, 0);
    assert_eq!(
        tip(&w, "main^{tree}"),
        w.git(&["rev-parse", &format!("{}^{{tree}}", s(&job["head_commit"]))])
    );
    assert_eq!(
        w.git(&["status", "--porcelain"]),
        "",
        "the working tree matches the new tip"
    );
    assert_eq!(
        std::fs::read_link(w.repo.join("link")).expect("link"),
        PathBuf::from("renamed.txt")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(
        std::fs::metadata(w.repo.join("script.sh"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o111,
        0
    );
    assert!(w.repo.join("with space é.txt").exists() && !w.repo.join("delete-me.txt").exists());
}

#[test]
fn a_job_without_changes_merges_as_nothing_to_do() {
    let w = World::new();
    let job = w.spawn(&["--wait"], "true");
    let before = tip(&w, "main");
    let r = w.sk(&["merge", &s(&job["id"])]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        r.stdout().contains("already had everything"),
        "{}",
        r.stdout()
    );
    assert_eq!(tip(&w, "main"), before);
    assert_eq!(w.status(&s(&job["id"]))["state"], "merged");
}

#[test]
fn an_untracked_file_where_the_merge_adds_one_refuses_it() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(&["--wait"], "echo from the job > new.txt");
    std::fs::write(w.repo.join("new.txt"), "the user's own draft\n").expect("write");
    let before = state_of(&w, &w.repo);
    let (code, _, err) = merge(&w, &[&s(&job["id"])]);
    assert_eq!(code, 1);
    assert!(err.contains("new.txt"), "{err}");
    assert_eq!(state_of(&w, &w.repo), before, "nothing changed");
    // Autostash sets the draft aside, merges, and tries to put it back; the two versions
    // clash, so the draft stays safe in the stash and the user is told where.
    let (code, out, err) = merge(&w, &["--autostash", &s(&job["id"])]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kept in"), "{out}");
    let stashed = w.git(&["show", "stash@{0}^3:new.txt"]);
    assert_eq!(stashed, "the user's own draft");
}

/// `--json` commands print the host's refusal as `{"error":{"code","message"}}` on stdout (the
/// sentence still goes to stderr), and each kind of refusal has its own code.
#[test]
fn each_refusal_has_its_own_code_for_scripts() {
    let w = World::new();
    seed(&w);
    let code_of = |args: &[&str]| -> String {
        let r = w.sk(args);
        assert_eq!(r.code(), 1, "{args:?} should be refused");
        assert!(r.stderr().starts_with("sidekick: "), "{}", r.stderr());
        let v: Value = serde_json::from_str(&r.stdout()).expect("a JSON error on stdout");
        assert_eq!(
            format!("sidekick: {}\n", s(&v["error"]["message"])),
            r.stderr(),
            "the same sentence"
        );
        s(&v["error"]["code"])
    };
    let job = w.spawn(&["--wait"], "sed -i 's/three/THREE (job)/' a.txt");
    let id = s(&job["id"]);

    // Nothing merged yet: nothing to undo.
    assert_eq!(code_of(&["undo", "--json", &id]), "nothing_to_undo");
    // The user's uncommitted edit on the same file.
    std::fs::write(w.repo.join("a.txt"), "mine\n").expect("write");
    assert_eq!(code_of(&["merge", "--json", &id]), "dirty_overlap");
    w.git(&["checkout", "--", "a.txt"]);
    // A held lock.
    std::fs::write(w.repo.join(".git/index.lock"), "").expect("lock");
    assert_eq!(code_of(&["merge", "--json", &id]), "lock_held");
    std::fs::remove_file(w.repo.join(".git/index.lock")).expect("unlock");
    // The target moved with a clashing edit.
    std::fs::write(w.repo.join("a.txt"), "one\ntwo\nTHREE (user)\n").expect("write");
    w.git(&["commit", "-q", "-am", "user edit"]);
    assert_eq!(code_of(&["merge", "--json", &id]), "conflict");
    // A job in the wrong state.
    let running = w.spawn(&[], "sleep 30");
    assert_eq!(
        code_of(&["merge", "--json", &s(&running["id"])]),
        "job_active"
    );
    w.ok(&["cancel", &s(&running["id"])]);
    // Undo after the target moved on.
    let other = w.spawn(&["--wait"], "echo o > other.txt");
    w.ok(&["merge", &s(&other["id"])]);
    std::fs::write(w.repo.join("later.txt"), "later\n").expect("write");
    w.git(&["add", "later.txt"]);
    w.git(&["commit", "-q", "-m", "later"]);
    assert_eq!(
        code_of(&["undo", "--json", &s(&other["id"])]),
        "target_moved"
    );
    // A job's phase refuses with a code of its own, and the CLI (not git's sentence) names the
    // command that gets out of it.
    let hint_of = |args: &[&str]| -> String {
        let r = w.sk(args);
        assert_eq!(r.code(), 1, "{args:?} should be refused");
        r.stderr()
    };
    let oid = s(&other["id"]);
    assert_eq!(code_of(&["restore", "--json", &oid]), "already_merged");
    let said = hint_of(&["restore", &oid]);
    assert!(
        said.contains(&format!(
            "is merged; `sidekick undo {oid}` reverts the merge"
        )),
        "{said}"
    );
    assert_eq!(code_of(&["rebase", "--abort", "--json", &id]), "no_rebase");
    assert_eq!(code_of(&["restore", "--json", &id]), "nothing_to_restore");
    let gone = w.spawn(&["--wait"], "echo g > g.txt");
    let gid = s(&gone["id"]);
    w.ok(&["discard", &gid]);
    assert_eq!(code_of(&["merge", "--json", &gid]), "job_discarded");
    let said = hint_of(&["merge", &gid]);
    assert!(
        said.contains(&format!(
            "was discarded; `sidekick restore {gid}` brings it back"
        )),
        "{said}"
    );
    // An unknown job, and a plain sentence without --json (nothing on stdout).
    assert_eq!(code_of(&["status", "--json", "no-such-job"]), "unknown_job");
    let r = w.sk(&["undo", &id]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.stdout(), "");
}

#[test]
fn hunks_merge_exactly_the_chosen_hunks_and_leave_the_rest_for_later() {
    let w = World::new();
    let numbered = (1..=40).map(|i| format!("line {i}\n")).collect::<String>();
    std::fs::write(w.repo.join("big.txt"), &numbered).expect("write");
    std::fs::write(w.repo.join("other.txt"), "other\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "forty lines"]);
    let job = w.spawn(
        &["--wait"],
        "sed -i -e 's/^line 2$/LINE TWO/' -e 's/^line 35$/LINE 35/' big.txt && echo more >> other.txt",
    );
    let id = s(&job["id"]);
    let diff = w.json(&["diff", "--json", &id]);
    let big = diff["files"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["path"] == "big.txt"))
        .expect("big.txt in the diff");
    assert_eq!(big["hunks"].as_array().map(Vec::len), Some(2), "{big}");
    let before = tip(&w, "main");
    for (args, why) in [
        (
            vec!["--hunks", "big.txt:3"],
            "'3' is not a hunk of big.txt, which has 2",
        ),
        (
            vec!["--hunks", "nope.txt:1"],
            "'nope.txt' is not among the files",
        ),
        (vec!["--hunks", "big.txt"], "--hunks takes PATH:N"),
        (
            vec!["--strategy", "merge", "--hunks", "big.txt:1"],
            "takes the squash strategy",
        ),
        (
            vec!["--paths", "big.txt", "--hunks", "big.txt:1"],
            "name a file once",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--", id.as_str()]);
        let (code, _, err) = merge(&w, &all);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert_eq!(
        tip(&w, "main"),
        before,
        "nothing merged by a refused request"
    );

    // The second hunk only, plus other.txt whole.
    let (code, out, err) = merge(
        &w,
        &["--hunks", "big.txt:2", "--paths", "other.txt", "--", &id],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 files and 1 hunks of job"), "{out}");
    let mut expected = numbered.replace("line 35\n", "LINE 35\n");
    assert_eq!(w.git(&["show", "main:big.txt"]) + "\n", expected);
    assert_eq!(
        std::fs::read_to_string(w.repo.join("big.txt")).expect("read"),
        expected
    );
    assert_eq!(w.git(&["show", "main:other.txt"]), "other\nmore");
    assert_eq!(
        w.git(&["diff", "--name-only", "main", &s(&job["branch"])]),
        "big.txt",
        "only the first hunk is left on the branch"
    );
    assert_eq!(w.status(&id)["state"], "completed", "still in review");
    // The rest later, on top of the part already merged.
    merged(&w, &[&id]);
    expected = expected.replace("line 2\n", "LINE TWO\n");
    assert_eq!(w.git(&["show", "main:big.txt"]) + "\n", expected);
    assert_eq!(w.status(&id)["state"], "merged");
}

#[test]
fn the_squash_message_is_the_users_when_given() {
    let w = World::new();
    seed(&w);
    let job = w.spawn(&["--wait"], "echo x > x.txt");
    let id = s(&job["id"]);
    let (code, _, err) = merge(&w, &["-m", "Add x\n\nBecause we need x.", "--", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        w.git(&["log", "-1", "--format=%B", "main"]),
        format!("Add x\n\nBecause we need x.\n\nSidekick-Job: {id}")
    );
    // Undo, then a blank message falls back to the task's line.
    w.ok(&["undo", &id]);
    let (code, _, err) = merge(&w, &["-m", "  ", "--", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        w.git(&["log", "-1", "--format=%s", "main"]),
        "echo x > x.txt"
    );
}
