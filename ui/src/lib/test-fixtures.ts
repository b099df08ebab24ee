// Test data in the host's exact shapes.
import type { Diff, FileDiff, Job } from "./types/protocol";

export function job(over: Partial<Job> = {}): Job {
  return {
    id: "01jtest",
    codename: "brave-otter",
    state: "completed",
    agent: "shell",
    task: "echo hi > hi.txt",
    repo: "/repo",
    branch: "sidekick/brave-otter",
    worktree: "/wt/brave-otter",
    base_rev: "HEAD",
    base_commit: "a".repeat(40),
    base_branch: "main",
    head_commit: "b".repeat(40),
    exit_code: 0,
    reason: null,
    parent_id: null,
    timeout_ms: 1_800_000,
    created_at: 1_000,
    started_at: 1_000,
    ended_at: 3_000,
    duration_ms: 2_000,
    queue_position: null,
    files_changed: 1,
    insertions: 1,
    deletions: 0,
    log_path: "/logs/x.log",
    merged_into: null,
    merge_commit: null,
    snapshot: null,
    conflicts: [],
    notify: null,
    steps: 0,
    tokens: { input: 0, output: 0, cached: 0 },
    cost_usd: null,
    summary: null,
    capped: false,
    max_steps: null,
    token_budget: null,
    requests: [],
    turns: 1,
    earlier_ms: 0,
    spawned_by: null,
    archived: false,
    sandbox: null,
    auto_merge: null,
    retry_of: null,
    pr: null,
    open_pr: null,
    issue: null,
    ...over,
  };
}

export function file(over: Partial<FileDiff> = {}): FileDiff {
  return {
    path: "src/main.rs",
    old_path: null,
    status: "modified",
    binary: false,
    old_mode: "100644",
    new_mode: "100644",
    old_size: null,
    new_size: null,
    old_id: null,
    new_id: null,
    insertions: 1,
    deletions: 1,
    truncated: false,
    hunks: [
      {
        old_start: 1,
        old_lines: 2,
        new_start: 1,
        new_lines: 2,
        header: "fn main()",
        lines: [
          { kind: "context", old_line: 1, new_line: 1, text: "fn main() {" },
          {
            kind: "deleted",
            old_line: 2,
            text: '    println!("old");',
            spans: [{ start: 14, end: 17 }],
          },
          { kind: "added", new_line: 2, text: '    println!("new");', spans: [{ start: 14, end: 17 }] },
        ],
      },
    ],
    ...over,
  };
}

export function diff(files: FileDiff[]): Diff {
  return {
    base: "a".repeat(40),
    head: "b".repeat(40),
    files,
    files_changed: files.length,
    insertions: files.reduce((n, f) => n + f.insertions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    truncated: false,
  };
}
