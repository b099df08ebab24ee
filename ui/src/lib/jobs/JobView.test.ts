// JobView against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { formatElapsed } from "../jobs/jobs";
import { diff, file, job } from "../test-fixtures";
import JobView from "../jobs/JobView.svelte";

import { host, withJobs, type Args } from "../test-host";

const failingPr = {
  forge: "github", number: 4, url: "https://github.com/acme/widgets/pull/4", state: "open" as const, base: "main", head: "sidekick/brave-otter", head_sha: "b".repeat(40),
  checks: { state: "failure" as const, runs: [
    { name: "lint", state: "success" as const, url: null, output: null },
    { name: "test", state: "failure" as const, url: null, output: Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n") },
  ] },
  review: "changes_requested" as const, polled_at: 5_000, problem: null, fixes: 0, fixing: false,
};

describe("JobView", () => {
  it("opens a pull request for an ended job with changes, then shows it with its checks", async () => {
    const done = job({ agent: "claude" });
    const opened = job({ agent: "claude", pr: failingPr });
    const calls = host({ pr_job: opened, open_pr_page: null, follow_output: 1, stop_output: null, follow_transcript: 1 });
    const app = withJobs(done);
    const { unmount } = render(JobView, { app, job: done });
    await fireEvent.click(screen.getByTestId("job-open-pr"));
    await waitFor(() => expect(screen.getByTestId("job-notice").textContent).toBe("Pushed sidekick/brave-otter and opened #4."));
    expect(calls.find((c) => c.cmd === "pr_job")?.args).toEqual({ job: "01jtest", draft: false, fix: false });
    unmount();
    render(JobView, { app, job: opened });
    expect(screen.queryByTestId("job-open-pr"), "one pull request per job").toBeNull();
    expect(screen.getByTestId("pr-checks").textContent).toBe("✗ failed: test");
    expect(screen.getByTestId("pr-review").textContent).toBe("changes requested");
    const runs = screen.getAllByTestId("pr-check");
    expect(runs.map((r) => r.dataset.name)).toEqual(["lint", "test"]);
    expect(screen.getByTestId("pr-check-output").textContent).toBe(
      [...Array.from({ length: 8 }, (_, i) => `line ${i}`), "… 12 more lines"].join("\n"),
    );
    await fireEvent.click(screen.getByTestId("pr-open"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "open_pr_page")).toBe(true));
    await fireEvent.click(screen.getByTestId("pr-fix"));
    await waitFor(() => expect(screen.getByTestId("pr-notice").textContent).toContain("Asked claude to fix the failing checks"));
    expect(calls.filter((c) => c.cmd === "pr_job").at(-1)?.args).toEqual({ job: "01jtest", draft: false, fix: true });
  });

  it("says why the forge cannot be asked, and offers no fix while one is under way", () => {
    host({ follow_output: 1, stop_output: null, follow_transcript: 1 });
    const j = job({ agent: "claude", pr: { ...failingPr, fixing: true, problem: "GitHub's rate limit is spent: rate limited until 14:05 UTC" } });
    const { unmount } = render(JobView, { app: withJobs(j), job: j });
    expect(screen.getByTestId("pr-problem").textContent).toBe("GitHub's rate limit is spent: rate limited until 14:05 UTC");
    expect(screen.getByTestId("pr-fixing").textContent).toContain("is fixing the failing checks");
    expect(screen.queryByTestId("pr-fix")).toBeNull();
    unmount();
    // A shell job runs a reply as a command: no agent to ask.
    const shell = job({ pr: failingPr });
    render(JobView, { app: withJobs(shell), job: shell });
    expect(screen.getByTestId("pr-checks").textContent).toBe("✗ failed: test");
    expect(screen.queryByTestId("pr-fix")).toBeNull();
  });

  it("retries an ended job and links the two", async () => {
    const failed = job({ state: "failed", exit_code: 4 });
    const fresh = job({ id: "01jretry", codename: "second-try", state: "queued", ended_at: null, retry_of: "01jtest" });
    const calls = host({ retry_job: fresh, follow_output: 1, stop_output: null, follow_transcript: 1 });
    const app = withJobs(failed);
    const { unmount } = render(JobView, { app, job: failed });
    await fireEvent.click(screen.getByTestId("job-retry"));
    await waitFor(() => expect(app.selectedId).toBe("01jretry"));
    expect(calls.find((c) => c.cmd === "retry_job")?.args).toEqual({ job: "01jtest", sameBase: false });
    expect(screen.getByTestId("job-retried-as").textContent).toBe("retried as second-try");
    unmount();
    render(JobView, { app, job: fresh });
    expect(screen.getByTestId("job-retry-of").textContent).toBe("retry of brave-otter");
    expect(screen.queryByTestId("job-retry"), "not while it is queued").toBeNull();
  });

  it("asks for a finished job's diff head when it opens; the Diff pane shows that one", async () => {
    const done = job({ head_commit: "b".repeat(40) });
    const calls = host({
      job_diff: diff([file()]),
      job_comments: [],
      job_viewed: [],
      follow_output: 1,
      stop_output: null,
    });
    const app = withJobs(done);
    render(JobView, { app, job: done });
    await waitFor(() => expect(calls.filter((c) => c.cmd === "job_diff").length).toBe(1));
    expect(calls.find((c) => c.cmd === "job_diff")?.args).toEqual({ job: "01jtest", maxLines: 1500 });
    await fireEvent.click(screen.getByTestId("pane-diff"));
    await waitFor(() => screen.getAllByTestId("diff-line"));
    expect(calls.filter((c) => c.cmd === "job_diff").length, "asked for once").toBe(1);
    // A running job's diff is its worktree as it is now: never asked for ahead of time.
    const running = job({ id: "01jrun", state: "running", ended_at: null, head_commit: null });
    const before = calls.length;
    render(JobView, { app: withJobs(running), job: running });
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.slice(before).some((c) => c.cmd === "job_diff")).toBe(false);
  });

  it("shows the comments asked for with the diff head first, then the host's newer ones", async () => {
    const done = job({ head_commit: "b".repeat(40) });
    const saved = { id: 1, path: "src/main.rs", side: "new" as const, line: 1, end_line: 1, body: "From the CLI.", created_at: 1, sent_at: null, now_line: 1 };
    let comments: unknown[] = [];
    const calls = host({
      job_diff: diff([file()]),
      job_comments: () => comments,
      job_viewed: [],
      follow_output: 1,
      stop_output: null,
    });
    const app = withJobs(done);
    render(JobView, { app, job: done });
    await waitFor(() => expect(calls.filter((c) => c.cmd === "job_comments").length).toBe(1));
    // A comment is added (from the CLI) after the job was opened, before the Diff pane is.
    comments = [saved];
    await fireEvent.click(screen.getByTestId("pane-diff"));
    await waitFor(() => screen.getAllByTestId("diff-line"));
    // The first screen did not wait for the host: it used what was asked for ahead of time,
    // and then asked again.
    await waitFor(() => expect(screen.getByTestId("comment-body").textContent).toBe("From the CLI."));
    expect(calls.filter((c) => c.cmd === "job_comments").length).toBe(2);
    expect(calls.filter((c) => c.cmd === "job_diff").length, "the head once").toBe(1);
  });

  it("says whether a job merged by itself", () => {
    host({ follow_output: 1, stop_output: null });
    const held = job({ auto_merge: { by: "the job", paths: [], outcome: "held", reason: "it conflicts with main in a.txt" } });
    render(JobView, { app: withJobs(held), job: held });
    const line = screen.getByTestId("job-auto-merge");
    expect(line.textContent).toBe("not merged by itself: it conflicts with main in a.txt");
    expect(line.dataset.outcome).toBe("held");
  });

  it("cancels a running job", async () => {
    const calls = host({ cancel_job: job({ state: "stopping" }), follow_output: 1, stop_output: null });
    const running = job({ state: "running", ended_at: null });
    const app = withJobs(running);
    render(JobView, { app, job: running });
    await fireEvent.click(screen.getByTestId("job-cancel"));
    // It asks first: a cancel cannot be undone.
    expect(calls.some((c) => c.cmd === "cancel_job")).toBe(false);
    expect(screen.getByTestId("confirm").textContent).toContain("committed on its branch");
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(app.jobs.get("01jtest")?.state).toBe("stopping"));
    expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ job: "01jtest" });
    expect(screen.queryByTestId("job-merge")).toBeNull();
  });

  it("shows what the agent asks and sends the answer", async () => {
    const request = {
      id: "req-1",
      tool: "Bash",
      detail: "cargo test",
      input: { command: "cargo test --workspace", description: "Run every test" },
      options: ["allow", "allow_always", "deny"],
      opened_at: 5,
      preview: { kind: "command" as const, command: "cargo test --workspace", description: "Run every test" },
    };
    const waiting = job({ state: "waiting", ended_at: null, requests: [request] });
    const calls = host({ answer_job: job({ state: "running", ended_at: null }), follow_output: 1, stop_output: null, cancel_job: job({ state: "stopping" }) });
    const app = withJobs(waiting);
    render(JobView, { app, job: waiting });
    // The command in full, with what the agent says it is for.
    expect(screen.getByTestId("request-title").textContent).toBe("brave-otter wants to run:");
    expect(screen.getByTestId("request-command").textContent).toBe("cargo test --workspace");
    expect(screen.getByTestId("request-description").textContent).toBe("Run every test");
    expect(screen.getByTestId("job-cancel")).toBeTruthy();
    await fireEvent.input(screen.getByTestId("request-why"), { target: { value: "not the whole suite" } });
    await fireEvent.click(screen.getByTestId("request-deny"));
    await waitFor(() => expect(app.jobs.get("01jtest")?.state).toBe("running"));
    expect(calls.find((c) => c.cmd === "answer_job")?.args).toEqual({
      job: "01jtest",
      request: { request: "req-1", allow: false, always: false, message: "not the whole suite" },
    });
  });

  it("sends a reply to an ended job, which takes another turn", async () => {
    const calls = host({ reply_job: job({ state: "queued", ended_at: null, turns: 2 }), follow_output: 1, stop_output: null });
    const app = withJobs(job());
    render(JobView, { app, job: job() });
    const send = screen.getByTestId("reply-send") as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("reply-text"), { target: { value: "also add a test" } });
    await fireEvent.keyDown(screen.getByTestId("reply-text"), { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(app.jobs.get("01jtest")?.state).toBe("queued"));
    expect(calls.find((c) => c.cmd === "reply_job")?.args).toEqual({ job: "01jtest", text: "also add a test" });
  });

  it("offers no reply where the job cannot take one", () => {
    host({ follow_output: 1, stop_output: null });
    for (const j of [job({ state: "running", ended_at: null }), job({ state: "merged" }), job({ state: "discarded" })]) {
      const { unmount } = render(JobView, { app: withJobs(j), job: j });
      expect(screen.queryByTestId("job-reply")).toBeNull();
      unmount();
    }
  });

  it("offers no 'for this job' where the agent proposes nothing to remember", () => {
    const request = { id: "req-3", tool: "Bash", detail: "make", input: {}, options: ["allow", "deny"], opened_at: 5, preview: { kind: "none" as const } };
    const waiting = job({ state: "waiting", ended_at: null, requests: [request] });
    host({ follow_output: 1, stop_output: null });
    render(JobView, { app: withJobs(waiting), job: waiting });
    expect(screen.getByTestId("request-allow")).toBeTruthy();
    expect(screen.queryByTestId("request-allow-always")).toBeNull();
  });

  it("allows a request for the rest of the job", async () => {
    const request = {
      id: "req-2",
      tool: "Edit",
      detail: "/wt/a.txt",
      input: {},
      options: ["allow", "allow_always", "deny"],
      opened_at: 5,
      preview: { kind: "change" as const, files: [{ path: "/wt/a.txt", kind: "modified", lines: ["@@ -1,2 +1,2 @@", " keep", "-old", "+new"], more: 3 }] },
    };
    const waiting = job({ state: "waiting", ended_at: null, requests: [request] });
    const calls = host({ answer_job: job({ state: "running", ended_at: null }), follow_output: 1, stop_output: null });
    render(JobView, { app: withJobs(waiting), job: waiting });
    // The edit as a diff: its lines marked as taken out and put in, and what was left out counted.
    expect(screen.getByTestId("request-title").textContent).toBe("brave-otter wants to edit /wt/a.txt:");
    const file = screen.getByTestId("request-file");
    expect(file.querySelector(".del")?.textContent?.trim()).toBe("-old");
    expect(file.querySelector(".add")?.textContent?.trim()).toBe("+new");
    expect(file.textContent).toContain("… 3 more lines");
    await fireEvent.click(screen.getByTestId("request-allow-always"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "answer_job")).toBe(true));
    expect(calls.find((c) => c.cmd === "answer_job")?.args.request).toEqual({ request: "req-2", allow: true, always: true, message: null });
  });

  it("offers Retry, Discard and Archive, not Merge, for a job that changed nothing", () => {
    host({ follow_output: 1, stop_output: null });
    for (const state of ["failed", "cancelled", "completed"] as const) {
      const empty = job({ state, files_changed: 0, insertions: 0, deletions: 0 });
      const { unmount } = render(JobView, { app: withJobs(empty), job: empty });
      expect(screen.queryByTestId("job-merge")).toBeNull();
      expect(screen.getByTestId("job-retry")).toBeTruthy();
      expect(screen.getByTestId("job-discard")).toBeTruthy();
      expect(screen.getByTestId("job-archive")).toBeTruthy();
      unmount();
    }
  });

  it("shows a stopped rebase with its way out: abort, ask the agent, open the editor, discard", async () => {
    const stopped = job({ agent: "claude", conflicts: ["a.txt", "b.txt"] });
    const calls = host({
      follow_output: 1,
      stop_output: null,
      rebase_job: { job: job({ agent: "claude" }), message: "aborted the rebase of job brave-otter; its branch is back at 0123456789ab" },
      reply_job: job({ agent: "claude", state: "queued", ended_at: null, conflicts: ["a.txt", "b.txt"] }),
    });
    const app = withJobs(stopped);
    const { unmount } = render(JobView, { app, job: stopped });
    const panel = screen.getByTestId("job-conflict");
    expect(panel.textContent).toContain("stopped at conflicts in a.txt, b.txt");
    expect(screen.queryByTestId("job-merge")).toBeNull();
    expect(screen.getByTestId("job-discard")).toBeTruthy();
    expect(screen.getByTestId("conflict-open-editor")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("conflict-ask-agent"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "reply_job")).toBe(true));
    expect(String(calls.find((c) => c.cmd === "reply_job")?.args.text)).toContain("git rebase --continue");
    unmount();
    const again = withJobs(stopped);
    const { rerender } = render(JobView, { app: again, job: stopped });
    await fireEvent.click(screen.getByTestId("conflict-abort"));
    await waitFor(() => expect(screen.getByTestId("job-notice").textContent).toContain("aborted the rebase"));
    // An update of the same job (the host's event) keeps what the action said.
    await rerender({ app: again, job: job({ agent: "claude", steps: 1 }) });
    expect(screen.getByTestId("job-notice").textContent).toContain("aborted the rebase");
    expect(calls.find((c) => c.cmd === "rebase_job")?.args).toEqual({ job: "01jtest", into: null, abort: true });
    expect(again.jobs.get("01jtest")?.conflicts).toEqual([]);
  });

  it("shows what the agent reported: steps, tokens, cost and its summary rendered", async () => {
    host({ follow_output: 1, stop_output: null });
    const summary = "## Done\n\n| file | change |\n|---|---|\n| hello.txt | **created** |\n\n> checked by hand";
    const reported = job({ steps: 4, max_steps: 10, tokens: { input: 2550, output: 100, cached: 600 }, cost_usd: 0.0185, summary });
    render(JobView, { app: withJobs(reported), job: reported });
    expect(screen.getByTestId("job-steps").textContent).toBe("4 of 10 steps");
    // The summary's markdown is drawn, not shown as marks.
    const shown = screen.getByTestId("job-summary");
    expect(shown.querySelector("h2")?.textContent).toBe("Done");
    expect(shown.querySelector("td strong")?.textContent).toBe("created");
    expect(shown.querySelector("blockquote")?.textContent?.trim()).toBe("checked by hand");
    expect(shown.textContent).not.toContain("##");
    expect(shown.textContent).not.toContain("|---|");
    // Tokens and cost are details, folded until asked for.
    expect(screen.getByTestId("job-view").textContent).not.toContain("$0.0185");
    await fireEvent.click(screen.getByTestId("job-details-toggle"));
    expect(screen.getByTestId("job-details").textContent).toContain("$0.0185");
  });

  it("shows the whole job's run time and the last turn's after a reply", () => {
    host({ follow_output: 1, stop_output: null });
    const replied = job({ turns: 2, earlier_ms: 16_000, started_at: 1_000, ended_at: 5_000 });
    render(JobView, { app: withJobs(replied), job: replied });
    expect(screen.getByTestId("job-elapsed").textContent).toBe(formatElapsed(20_000));
    expect(screen.getByTestId("job-turn").textContent).toContain(formatElapsed(4_000));
  });

  it("names who spawned a sidekick and opens its parent", async () => {
    host({ follow_output: 1, stop_output: null });
    const parent = job({ id: "01p", codename: "lead-job", state: "running" });
    const kid = job({ id: "01k", codename: "side-kick", parent_id: "01p", spawned_by: "Claude Code 2.1.330" });
    const app = withJobs(parent, kid);
    render(JobView, { app, job: kid });
    expect(screen.getByTestId("job-spawned-by").textContent).toBe("for Claude Code 2.1.330");
    await fireEvent.click(screen.getByRole("button", { name: "lead-job" }));
    expect(app.selectedId).toBe("01p");
  });

  it("says where a queued job is in the queue and why it waits (a job waiting for an answer holds no place)", () => {
    host({ follow_output: 1, stop_output: null });
    const queued = job({ id: "01q", codename: "next-one", state: "queued", started_at: null, ended_at: null });
    const app = withJobs(job({ id: "01a", state: "running" }), job({ id: "01c", state: "running" }), job({ id: "01b", state: "waiting" }), queued);
    app.maxRunning = 2;
    render(JobView, { app, job: queued });
    expect(screen.getByTestId("job-queue").textContent).toBe("#1 in the queue, waiting for a place: 2 of 2 running");
  });

  it("asks before discarding, then reports what the host did", async () => {
    const calls = host({ discard_job: { job: job({ state: "discarded" }), message: "Discarded brave-otter; its work is kept in refs/sidekick/snapshots/01jtest." }, follow_output: 1, stop_output: null });
    const app = withJobs(job());
    render(JobView, { app, job: job() });
    await fireEvent.click(screen.getByTestId("job-discard"));
    expect(calls.some((c) => c.cmd === "discard_job")).toBe(false);
    expect(screen.getByTestId("confirm").textContent).toContain("snapshot");
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(screen.getByTestId("job-notice").textContent).toContain("refs/sidekick/snapshots"));
    expect(app.jobs.get("01jtest")?.state).toBe("discarded");
  });

  it("restores a discarded job and archives an ended one", async () => {
    const discarded = job({ state: "discarded" });
    const calls = host({
      restore_job: { job: job({ state: "completed" }), message: "Restored brave-otter." },
      archive_job: (a: Args) => job({ archived: a.archived as boolean }),
      follow_output: 1,
      stop_output: null,
    });
    const app = withJobs(discarded);
    render(JobView, { app, job: discarded });
    await fireEvent.click(screen.getByTestId("job-restore"));
    await waitFor(() => expect(screen.getByTestId("job-notice").textContent).toBe("Restored brave-otter."));
    expect(app.jobs.get("01jtest")?.state).toBe("completed");
    await fireEvent.click(screen.getByTestId("job-archive"));
    await waitFor(() => expect(app.jobs.get("01jtest")?.archived).toBe(true));
    expect(calls.find((c) => c.cmd === "archive_job")?.args).toEqual({ job: "01jtest", archived: true });
  });
});
