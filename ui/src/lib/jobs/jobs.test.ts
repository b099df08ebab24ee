import { describe, expect, it } from "vitest";
import {
  attentionOf,
  countJobs,
  defaultAgent,
  failedOrEmpty,
  elapsedMs,
  formatElapsed,
  groupOf,
  isActive,
  matches,
  nested,
  parseTimeout,
  queuePositions,
  sandboxText,
  autoMergeText,
  checksText,
  firstLines,
  issueNumber,
  prBadge,
} from "./jobs";
import type { PullRequest } from "../types/protocol";
import { job } from "../test-fixtures";

describe("jobs", () => {
  it("groups states the way the status bar counts them", () => {
    expect(groupOf("starting")).toBe("running");
    expect(groupOf("stopping")).toBe("running");
    expect(groupOf("queued")).toBe("queued");
    expect(groupOf("failed")).toBe("review");
    expect(groupOf("interrupted")).toBe("review");
    expect(groupOf("merged")).toBe("closed");
    expect(groupOf("waiting")).toBe("waiting");
    expect(isActive("waiting")).toBe(true);
    const c = countJobs([
      job({ id: "1", state: "running" }),
      job({ id: "2", state: "queued" }),
      job({ id: "3", state: "completed" }),
      job({ id: "4", state: "discarded" }),
      job({ id: "5", state: "waiting" }),
    ]);
    expect(c).toEqual({ waiting: 1, running: 1, queued: 1, review: 1 });
  });

  it("counts only ended jobs with changes to review; archived ones show under their own filter", () => {
    const empty = job({ id: "1", files_changed: 0 });
    const failed = job({ id: "2", state: "failed", files_changed: 0 });
    const changed = job({ id: "3", state: "failed", files_changed: 2 });
    const put = job({ id: "4", archived: true });
    expect([empty, failed, changed, put].map(attentionOf)).toEqual(["closed", "closed", "review", "closed"]);
    expect(countJobs([empty, failed, changed, put]).review).toBe(1);
    expect([empty, failed, changed, put, job({ id: "5" })].map(failedOrEmpty)).toEqual([true, true, true, false, false]);
    expect(matches(put, "all", "")).toBe(false);
    expect(matches(put, "archived", "")).toBe(true);
    expect(matches(changed, "archived", "")).toBe(false);
    expect(matches(empty, "review", "")).toBe(false);
    expect(matches(changed, "review", "")).toBe(true);
  });

  it("nests each job's sidekicks under it, oldest first, roots newest first", () => {
    const a = job({ id: "01a", codename: "a" });
    const b = job({ id: "01b", codename: "b" });
    const a1 = job({ id: "01c", codename: "a1", parent_id: "01a" });
    const a2 = job({ id: "01d", codename: "a2", parent_id: "01a" });
    const a1x = job({ id: "01e", codename: "a1x", parent_id: "01c" });
    // A parent not among the jobs given (filtered out): the child is a root.
    const orphan = job({ id: "01f", codename: "orphan", parent_id: "01zzz" });
    const rows = nested([a1x, b, a2, orphan, a, a1]);
    expect(rows.map((r) => `${"  ".repeat(r.depth)}${r.job.codename}`)).toEqual([
      "orphan",
      "b",
      "a",
      "  a1",
      "    a1x",
      "  a2",
    ]);
  });

  it("picks the composer's agent: the repository's, a coding agent, shell last", () => {
    const list = (names: string[], missing: string[] = []) =>
      names.map((name) => ({ name, installed: !missing.includes(name) }));
    expect(defaultAgent(list(["shell", "claude", "codex"]), null)).toBe("claude");
    expect(defaultAgent(list(["shell", "claude", "codex"], ["claude"]), null)).toBe("codex");
    expect(defaultAgent(list(["shell", "claude", "codex"]), "codex")).toBe("codex");
    // A configured agent that cannot run here is not chosen.
    expect(defaultAgent(list(["shell", "claude", "codex"], ["codex"]), "codex")).toBe("claude");
    expect(defaultAgent(list(["shell", "mine"]), null)).toBe("mine");
    expect(defaultAgent(list(["shell", "claude"], ["claude"]), null)).toBe("shell");
  });

  it("numbers the queue oldest first", () => {
    const pos = queuePositions([
      job({ id: "03", state: "queued" }),
      job({ id: "01", state: "queued" }),
      job({ id: "02", state: "running" }),
    ]);
    expect([...pos.entries()]).toEqual([
      ["01", 1],
      ["03", 2],
    ]);
  });

  it("measures elapsed time live until the job ends", () => {
    const running = job({ started_at: 1_000, ended_at: null });
    expect(elapsedMs(running, 6_500)).toBe(5_500);
    expect(elapsedMs(job({ started_at: 1_000, ended_at: 3_000 }), 99_999)).toBe(2_000);
    expect(elapsedMs(job({ started_at: null }), 5)).toBeNull();
    expect(formatElapsed(5_500)).toBe("5s");
    expect(formatElapsed(125_000)).toBe("2m 05s");
    expect(formatElapsed(3_720_000)).toBe("1h 02m");
  });

  it("says how a job that may merge by itself fared", () => {
    expect(autoMergeText(job())).toBeNull();
    const am = (outcome: "pending" | "merged" | "held", reason: string | null = null) => ({ by: "the job", paths: [], outcome, reason });
    expect(autoMergeText(job({ auto_merge: am("pending") }))).toBe("merges by itself if clean (asked by the job)");
    expect(autoMergeText(job({ state: "merged", auto_merge: am("merged") }))).toBe("merged by itself (asked by the job)");
    expect(autoMergeText(job({ state: "completed", auto_merge: am("merged") }))).toBe("merged by itself, then undone");
    expect(autoMergeText(job({ auto_merge: am("held", "it conflicts with main in a.txt") }))).toBe(
      "not merged by itself: it conflicts with main in a.txt",
    );
  });

  it("says how a job was confined", () => {
    expect(sandboxText({ mode: "auto", on: true, network: true, reason: null })).toBe("worktree only (network on)");
    expect(sandboxText({ mode: "worktree", on: true, network: false, reason: null })).toBe("worktree only (network off)");
    expect(sandboxText({ mode: "auto", on: false, network: true, reason: "bubblewrap (bwrap) is not installed" })).toBe(
      "not sandboxed: bubblewrap (bwrap) is not installed",
    );
    expect(sandboxText({ mode: "off", on: false, network: true, reason: null })).toBe("off");
  });

  it("parses timeouts and refuses nonsense", () => {
    expect(parseTimeout("90s")).toBe(90_000);
    expect(parseTimeout("1h30m")).toBe(5_400_000);
    expect(parseTimeout("45")).toBe(2_700_000);
    expect(parseTimeout("")).toBeNull();
    expect(parseTimeout("soon")).toBeNull();
    expect(parseTimeout("10x")).toBeNull();
    expect(parseTimeout("0s")).toBeNull();
  });

  it("filters by group and repository", () => {
    const j = job({ state: "completed", repo: "/a" });
    expect(matches(j, "review", "")).toBe(true);
    expect(matches(j, "running", "")).toBe(false);
    expect(matches(j, "all", "/b")).toBe(false);
    expect(matches(j, "all", "/a")).toBe(true);
  });

  it("says a pull request's checks and state in few words", () => {
    const pr: PullRequest = {
      forge: "github", number: 3, url: "https://github.com/a/b/pull/3", state: "open", base: "main", head: "sidekick/x", head_sha: "f".repeat(40),
      checks: { state: "failure", runs: [
        { name: "lint", state: "success", url: null, output: null },
        { name: "test", state: "failure", url: null, output: "boom" },
      ] },
      review: null, polled_at: null, problem: null, fixes: 0, fixing: false,
    };
    expect(prBadge(pr)).toBe("PR #3 ✗");
    expect(checksText(pr)).toBe("failed: test");
    expect(prBadge({ ...pr, state: "merged" })).toBe("PR #3 merged");
    expect(checksText({ ...pr, checks: { state: "pending", runs: pr.checks.runs.map((r) => ({ ...r, state: "pending" as const })) } })).toBe("2 of 2 pending");
    expect(checksText({ ...pr, checks: { state: "none", runs: [] } })).toBe("no checks yet");
    expect(prBadge({ ...pr, checks: { state: "none", runs: [] } })).toBe("PR #3");
  });

  it("reads an issue as a number, #number or its URL, and nothing else", () => {
    expect(issueNumber("7")).toBe(7);
    expect(issueNumber(" #12 ")).toBe(12);
    expect(issueNumber("https://github.com/acme/widgets/issues/42")).toBe(42);
    expect(issueNumber("https://gitlab.com/acme/tools/widgets/-/issues/5#note_1")).toBe(5);
    expect(issueNumber("https://github.com/acme/widgets/pull/42")).toBeNull();
    expect(issueNumber("0")).toBeNull();
    expect(issueNumber("seven")).toBeNull();
    expect(issueNumber("")).toBeNull();
  });

  it("keeps a check's first lines and says how many more there are", () => {
    expect(firstLines("a\nb", 8)).toBe("a\nb");
    expect(firstLines(Array.from({ length: 12 }, (_, i) => `l${i}`).join("\n"), 3)).toBe("l0\nl1\nl2\n… 9 more lines");
  });
});
