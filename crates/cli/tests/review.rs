//! Review end to end: structured diffs, merges and their safety rules on real repositories.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::{s, wait_for_file, World};

/// A base commit with one file of each kind the diff must handle.
fn seed_varied_files(w: &World) {
    let numbered = |n: usize| (1..=n).map(|i| format!("line {i}\n")).collect::<String>();
    std::fs::write(w.repo.join("keep.txt"), numbered(10)).expect("write");
    std::fs::write(w.repo.join("rename-me.txt"), numbered(20)).expect("write");
    std::fs::write(w.repo.join("delete-me.txt"), "bye\n").expect("write");
    std::fs::write(w.repo.join("script.sh"), "echo hi\n").expect("write");
    std::fs::write(w.repo.join("bin.dat"), [0u8, 1, 2, 3, 255, 0]).expect("write");
    std::fs::write(w.repo.join("noeol.txt"), "no newline").expect("write");
    std::os::unix::fs::symlink("keep.txt", w.repo.join("link")).expect("symlink");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "varied files"]);
}

const VARIED_TASK: &str = "sed -i 's/line 5/LINE five/' keep.txt && \
    mv rename-me.txt renamed.txt && echo extra >> renamed.txt && \
    rm delete-me.txt && chmod +x script.sh && \
    printf '\\000\\001\\002new' > bin.dat && \
    echo hi > 'with space é.txt' && ln -sfn renamed.txt link && \
    printf 'no eol changed' > noeol.txt";

fn file<'a>(diff: &'a Value, path: &str) -> &'a Value {
    diff["files"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["path"] == path))
        .unwrap_or_else(|| panic!("no {path} in {diff}"))
}

#[test]
fn a_structured_diff_describes_every_kind_of_change() {
    let w = World::new();
    seed_varied_files(&w);
    let job = w.spawn(&["--wait"], VARIED_TASK);
    assert_eq!(job["state"], "completed", "{job}");
    let diff = w.json(&["diff", "--json", &s(&job["id"])]);
    assert_eq!(diff["head"], job["head_commit"]);

    let keep = file(&diff, "keep.txt");
    assert_eq!(keep["status"], "modified");
    assert_eq!(
        (keep["insertions"].as_u64(), keep["deletions"].as_u64()),
        (Some(1), Some(1))
    );
    let lines = keep["hunks"][0]["lines"].as_array().expect("lines");
    let del = lines
        .iter()
        .find(|l| l["kind"] == "deleted")
        .expect("deleted line");
    let add = lines
        .iter()
        .find(|l| l["kind"] == "added")
        .expect("added line");
    assert_eq!(
        (del["text"].as_str(), del["old_line"].as_u64()),
        (Some("line 5"), Some(5))
    );
    assert_eq!(
        (add["text"].as_str(), add["new_line"].as_u64()),
        (Some("LINE five"), Some(5))
    );
    // Word level: "line" and "5" changed, the space between them did not.
    assert_eq!(
        del["spans"],
        serde_json::json!([{"start": 0, "end": 4}, {"start": 5, "end": 6}]),
        "{del}"
    );
    assert_eq!(
        add["spans"],
        serde_json::json!([{"start": 0, "end": 4}, {"start": 5, "end": 9}]),
        "{add}"
    );
    assert!(lines
        .iter()
        .any(|l| l["kind"] == "context" && l["old_line"] == 4 && l["new_line"] == 4));

    let renamed = file(&diff, "renamed.txt");
    assert_eq!(
        (renamed["status"].as_str(), renamed["old_path"].as_str()),
        (Some("renamed"), Some("rename-me.txt"))
    );
    assert_eq!(file(&diff, "delete-me.txt")["status"], "deleted");
    let script = file(&diff, "script.sh");
    assert_eq!(
        (script["old_mode"].as_str(), script["new_mode"].as_str()),
        (Some("100644"), Some("100755"))
    );
    let bin = file(&diff, "bin.dat");
    assert_eq!(bin["binary"], true);
    assert_eq!(
        (bin["old_size"].as_u64(), bin["new_size"].as_u64()),
        (Some(6), Some(6))
    );
    assert!(bin["hunks"].as_array().is_some_and(|h| h.is_empty()));
    let added = file(&diff, "with space é.txt");
    assert_eq!(
        (added["status"].as_str(), added["old_mode"].as_str()),
        (Some("added"), None)
    );
    let link = file(&diff, "link");
    assert_eq!(link["new_mode"], "120000");
    let noeol = file(&diff, "noeol.txt");
    let last = noeol["hunks"][0]["lines"]
        .as_array()
        .and_then(|l| l.last().cloned())
        .expect("line");
    assert_eq!(
        (last["text"].as_str(), last["no_newline"].as_bool()),
        (Some("no eol changed"), Some(true))
    );
    assert_eq!(
        diff["files_changed"].as_u64(),
        Some(
            diff["files"]
                .as_array()
                .map(|a| a.len() as u64)
                .unwrap_or(0)
        )
    );

    // --stat ends with git's own summary line.
    let stat = w.ok(&["diff", "--stat", &s(&job["id"])]);
    let range = format!("{}..{}", s(&job["base_commit"]), s(&job["head_commit"]));
    let git_stat = w.git(&["diff", "--stat", &range]);
    assert_eq!(
        stat.lines().last(),
        git_stat.lines().last(),
        "{stat}\n---\n{git_stat}"
    );
    assert!(
        stat.contains("rename-me.txt => renamed.txt") && stat.contains("Bin 6 -> 6 bytes"),
        "{stat}"
    );
}

#[test]
fn the_plain_diff_applies_with_git_apply_to_give_the_job_tree() {
    let w = World::new();
    seed_varied_files(&w);
    let job = w.spawn(&["--wait"], VARIED_TASK);
    let patch = w.ok(&["diff", &s(&job["id"])]);
    assert!(
        !patch.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let check = w.root.join("check");
    w.git(&[
        "worktree",
        "add",
        "-q",
        "--detach",
        check.to_str().expect("utf8"),
        &s(&job["base_commit"]),
    ]);
    let patch_file = w.root.join("job.patch");
    std::fs::write(&patch_file, &patch).expect("write");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&check)
        .args(["apply", "--index", "--exclude=bin.dat"])
        .arg(&patch_file)
        .envs(w.envs())
        .output()
        .expect("git apply");
    assert!(
        out.status.success(),
        "git apply: {}\n{patch}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = std::process::Command::new("git")
        .arg("-C")
        .arg(&check)
        .args([
            "diff",
            "--cached",
            "--name-status",
            &s(&job["head_commit"]),
            "--",
            ".",
            ":!bin.dat",
        ])
        .envs(w.envs())
        .output()
        .expect("git diff");
    assert_eq!(
        String::from_utf8_lossy(&left.stdout),
        "",
        "the patch rebuilds the job's tree"
    );

    let colored = w.ok(&["diff", "--color", "always", &s(&job["id"])]);
    assert!(
        colored.contains("\x1b[31m-\x1b[7mline\x1b[27m \x1b[7m5\x1b[27m"),
        "{colored}"
    );
}

#[test]
fn a_running_job_shows_its_worktree_as_it_is_now() {
    let w = World::new();
    let job = w.spawn(
        &[],
        "echo wip > wip.txt && echo more >> README.md && echo 1 > ready && sleep 600",
    );
    let id = s(&job["id"]);
    wait_for_file(&PathBuf::from(s(&job["worktree"])).join("ready"));
    let diff = w.json(&["diff", "--json", &id]);
    assert_eq!(diff["head"], Value::Null);
    assert_eq!(file(&diff, "wip.txt")["status"], "added");
    assert_eq!(file(&diff, "README.md")["insertions"], 1);
    let gitdir = w.repo.join(".git/worktrees").join(s(&job["codename"]));
    assert!(!gitdir.join("index.lock").exists());
    w.ok(&["cancel", &id]);
}

#[test]
fn an_empty_diff_prints_nothing() {
    let w = World::new();
    let job = w.spawn(&["--wait"], "true");
    assert_eq!(w.ok(&["diff", &s(&job["id"])]), "");
    assert_eq!(w.ok(&["diff", "--stat", &s(&job["id"])]), "");
    let diff = w.json(&["diff", "--json", &s(&job["id"])]);
    assert_eq!(diff["files"], serde_json::json!([]));
    assert_eq!(diff["files_changed"], 0);
}

#[test]
fn huge_files_are_capped_and_marked_truncated() {
    let w = World::with_config("[diff]\nmax_file_lines = 8\nmax_file_bytes = 4000\n");
    let many: String = (1..=50).map(|i| format!("row {i}\n")).collect();
    std::fs::write(w.repo.join("many.txt"), &many).expect("write");
    std::fs::write(w.repo.join("small.txt"), "a\n").expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "files"]);
    let job = w.spawn(
        &["--wait"],
        "sed -i 's/row/ROW/' many.txt && echo b >> small.txt && seq 1 2000 > big.txt",
    );
    let diff = w.json(&["diff", "--json", &s(&job["id"])]);
    assert_eq!(diff["truncated"], true);
    let many = file(&diff, "many.txt");
    assert_eq!(many["truncated"], true);
    let shown: usize = many["hunks"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|x| x["lines"].as_array().map_or(0, |l| l.len()))
                .sum()
        })
        .unwrap_or(0);
    assert!(shown <= 8, "{shown} lines shown");
    assert_eq!(many["insertions"], 50, "counts stay whole");
    let big = file(&diff, "big.txt");
    assert_eq!(
        (
            big["truncated"].as_bool(),
            big["hunks"].as_array().map(|h| h.len())
        ),
        (Some(true), Some(0))
    );
    assert_eq!(file(&diff, "small.txt")["truncated"], false);
    // The plain patch has every line of a file under the size cap (the line caps are the
    // structured view's); a file over it is shown as binary, its lines never read.
    let text = w.ok(&["diff", &s(&job["id"])]);
    assert!(text.contains("+ROW 50\n"), "{text}");
    assert!(
        text.contains("Binary files /dev/null and b/big.txt differ"),
        "{text}"
    );
    // The coloured view (a terminal's) keeps the structured caps and says so.
    let coloured = w.ok(&["diff", "--color", "always", &s(&job["id"])]);
    assert!(coloured.contains("too large"), "{coloured}");
}

/// An agent that keeps every message it is given (`inputs.txt`), puts a line on top of `a.txt`
/// and rewrites `stamp.txt` on each turn.
const RECORDER: &str = r#"
[agents.recorder]
command = ["sh", "-c", "printf '%s\n---\n' \"$1\" >> inputs.txt; { echo turn; cat a.txt; } > a.new && mv a.new a.txt; date +%s%N > stamp.txt", "recorder", "{task}"]
"#;

#[test]
fn review_comments_go_to_the_agent_as_one_reply_and_follow_their_lines() {
    let w = World::with_config(RECORDER);
    let numbered = (1..=10).map(|i| format!("line {i}\n")).collect::<String>();
    std::fs::write(w.repo.join("a.txt"), numbered).expect("write");
    w.git(&["add", "-A"]);
    w.git(&["commit", "-q", "-m", "ten lines"]);
    let job = w.spawn(&["--wait", "-a", "recorder"], "start");
    assert_eq!(job["state"], "completed", "{job}");
    let id = s(&job["id"]);

    let c = w.json(&["comment", "--json", &id, "a.txt:4", "use", "a", "constant"]);
    assert_eq!(c["quote"], serde_json::json!(["line 3"]));
    assert_eq!(c["side"], "new");
    w.ok(&["comment", &id, "--old", "a.txt:1-2", "why these two?"]);
    w.ok(&["comment", &id, "stamp.txt:1", "drop the stamp"]);
    for (at, why) in [
        (
            "a.txt:99",
            "has 11 lines in the job's change; line 99 is not one of them",
        ),
        ("../outside.txt:1", "is not a path inside the repository"),
        (
            "nothere.txt:1",
            "nothere.txt does not exist in the job's change",
        ),
        ("a.txt:3-1", "lines 3-1 are not a range of lines"),
    ] {
        let r = w.sk(&["comment", &id, at, "x"]);
        assert_eq!(r.code(), 1, "{at}");
        assert!(r.stderr().contains(why), "{at}: {}", r.stderr());
        assert_eq!(r.stderr().lines().count(), 1, "{}", r.stderr());
    }
    let listed = w.json(&["comments", "--json", &id]);
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    assert!(listed.as_array().is_some_and(|a| a
        .iter()
        .all(|c| c["sent_at"].is_null() && c["now_line"].is_u64())));

    // A shell job's reply is a command: comments are not sent to it.
    let shell = w.spawn(&["--wait", "-a", "shell"], "echo hi > hi.txt");
    w.ok(&["comment", &s(&shell["id"]), "hi.txt:1", "hm"]);
    let r = w.sk(&["reply", &s(&shell["id"]), "--comments"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("review comments go to coding agents"),
        "{}",
        r.stderr()
    );

    w.ok(&["reply", "--comments", &id, "Thanks!"]);
    let done = w.wait_until(&id, "the second turn", |j| {
        j["turns"] == 2 && j["state"] == "completed"
    });
    let inputs = w.git(&["show", &format!("{}:inputs.txt", s(&done["branch"]))]);
    let sent = inputs.split("---").nth(1).expect("a second input");
    for part in [
        "Review comments on your changes:",
        "a.txt, line 4:\n> line 3\nuse a constant",
        "a.txt, lines 1-2 before your change (removed by it):\n> line 1\n> line 2\nwhy these two?",
        "stamp.txt, line 1:",
        "drop the stamp",
        "Thanks!",
    ] {
        assert!(sent.contains(part), "{part:?} not in {sent}");
    }
    // After the turn: sent, the first moved down with its line, the stamp's line is gone.
    let after = w.json(&["comments", "--json", &id]);
    let by_body = |b: &str| {
        after
            .as_array()
            .and_then(|a| a.iter().find(|c| c["body"] == b).cloned())
            .unwrap_or_else(|| panic!("no comment {b} in {after}"))
    };
    assert_eq!(by_body("use a constant")["now_line"], 5);
    assert_eq!(by_body("why these two?")["now_line"], 1);
    assert!(by_body("drop the stamp")["now_line"].is_null(), "outdated");
    assert!(after
        .as_array()
        .is_some_and(|a| a.iter().all(|c| c["sent_at"].is_u64())));
    let text = w.ok(&["comments", &id]);
    assert!(text.contains("stamp.txt:1 (outdated), sent"), "{text}");
    let r = w.sk(&["reply", "--comments", &id]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr()
            .contains("no review comments that were not sent yet"),
        "{}",
        r.stderr()
    );

    // Kept by the host across a restart; deleted one by one.
    w.stop_host();
    let again = w.json(&["comments", "--json", &id]);
    assert_eq!(again, after);
    let first = by_body("use a constant")["id"].to_string();
    w.ok(&["comments", &id, "--delete", &first]);
    assert_eq!(
        w.json(&["comments", "--json", &id])
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let r = w.sk(&["comments", &id, "--delete", &first]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("has no comment"), "{}", r.stderr());
}
