// DiffView against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { diff, file, job } from "../test-fixtures";
import DiffView from "../review/DiffView.svelte";

import { host, withJobs, type Args } from "../test-host";

describe("DiffView", () => {
  const files = [
    file(),
    file({ path: "logo.png", status: "added", binary: true, hunks: [], old_size: null, new_size: 2048, insertions: 0, deletions: 0 }),
  ];

  it("lists files with counts, highlights changed words and shows binaries as such", async () => {
    host({ job_diff: diff(files), job_comments: [], job_viewed: [] });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    // A narrow window (jsdom's is 1024 px) starts with the file list folded away.
    await fireEvent.click(await screen.findByTestId("toggle-files"));
    await waitFor(() => expect(screen.getAllByTestId("file-entry").length).toBe(2));
    expect(screen.getByTestId("diff-summary").textContent).toContain("2 files");
    const marks = screen.getByTestId("diff-rows").querySelectorAll("mark.word");
    expect([...marks].map((m) => m.textContent)).toEqual(["old", "new"]);
    expect(screen.getByTestId("diff-rows").querySelector(".hljs-keyword")?.textContent).toBe("fn");
    expect(screen.getAllByTestId("diff-note").map((n) => n.textContent)).toEqual(["Binary file, ? → 2.0 KB"]);
    expect(app.picks.diffFiles.map((f) => f.path)).toEqual(["src/main.rs", "logo.png"]);
    expect(screen.getAllByTestId("file-folder").map((f) => f.textContent)).toEqual(["src/"]);
  });

  it("shows a big diff's head first, read-only, then the whole diff", async () => {
    const whole = diff(files);
    const head = { ...diff([files[0], { ...files[1], truncated: true }]), truncated: true };
    let release: (d: unknown) => void = () => {};
    const rest = new Promise((r) => (release = r));
    const calls = host({
      job_diff: (a: Args) => (a.maxLines != null ? head : rest),
      job_comments: [],
      job_viewed: [],
      set_viewed: null,
    });
    render(DiffView, { app: withJobs(job()), job: job() });
    await waitFor(() => screen.getByTestId("diff-partial"));
    // The whole diff is asked for once the head is on screen.
    await waitFor(() => expect(calls.filter((c) => c.cmd === "job_diff").map((c) => c.args.maxLines)).toEqual([1500, null]));
    // Read-only meanwhile: a Viewed tick asks nothing of the host.
    await fireEvent.click(screen.getAllByTestId("file-viewed")[0]);
    expect(calls.some((c) => c.cmd === "set_viewed")).toBe(false);
    release(whole);
    await waitFor(() => expect(screen.queryByTestId("diff-partial")).toBeNull());
    await fireEvent.click(screen.getAllByTestId("file-viewed")[0]);
    await waitFor(() => expect(calls.some((c) => c.cmd === "set_viewed")).toBe(true));
  });

  it("does not ask for the whole diff once the view is closed", async () => {
    const head = { ...diff([files[0], { ...files[1], truncated: true }]), truncated: true };
    const calls = host({ job_diff: head, job_comments: [], job_viewed: [] });
    const view = render(DiffView, { app: withJobs(job()), job: job() });
    // Closed as soon as the head shows, before the next frame (when the rest is asked for).
    await waitFor(() => screen.getByTestId("diff-partial"), { interval: 1 });
    view.unmount();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.filter((c) => c.cmd === "job_diff").map((c) => c.args.maxLines)).toEqual([1500]);
  });

  it("switches to the split view and unticks files for a partial merge", async () => {
    host({ job_diff: diff(files), job_comments: [], job_viewed: [] });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    await fireEvent.click(await screen.findByTestId("toggle-files"));
    await waitFor(() => screen.getAllByTestId("file-include"));
    const unified = screen.getAllByTestId("diff-line").length;
    await fireEvent.click(screen.getByTestId("layout-split"));
    expect(screen.getAllByTestId("diff-line").length).toBe(unified - 1);
    await fireEvent.click(screen.getAllByTestId("file-include")[1]);
    expect(app.picks.selection()).toMatchObject({ paths: ["src/main.rs"], hunks: [], partial: true });
  });

  const twoHunks = file({
    path: "a.txt",
    hunks: [
      { old_start: 2, old_lines: 1, new_start: 2, new_lines: 1, header: "", lines: [{ kind: "deleted", old_line: 2, text: "line 2" }, { kind: "added", new_line: 2, text: "LINE 2" }] },
      { old_start: 9, old_lines: 1, new_start: 9, new_lines: 1, header: "", lines: [{ kind: "deleted", old_line: 9, text: "line 9" }, { kind: "added", new_line: 9, text: "LINE 9" }] },
    ],
  });

  it("unticks a hunk for the merge and shows the unchanged lines between hunks on request", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => (i === 1 || i === 8 ? `LINE ${i + 1}` : `line ${i + 1}`));
    const calls = host({ job_diff: diff([twoHunks]), job_comments: [], job_viewed: [], job_file: { path: "a.txt", side: "new", commit: null, missing: false, binary: false, lines } });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    await waitFor(() => expect(screen.getAllByTestId("hunk-include").length).toBe(2));
    await fireEvent.click(screen.getAllByTestId("hunk-include")[0]);
    expect(app.picks.selection()).toEqual({
      paths: [],
      hunks: [{ path: "a.txt", hunks: [{ old_start: 9, old_lines: 1, new_start: 9, new_lines: 1 }] }],
      partial: true,
      nothing: false,
    });
    // The file tree says the file goes in part: its box half ticked.
    await fireEvent.click(screen.getByTestId("toggle-files"));
    const box = () => screen.getByTestId("file-include") as HTMLInputElement;
    expect(box().dataset.taken).toBe("some");
    expect(box().indeterminate).toBe(true);
    expect(box().checked).toBe(false);
    // Its other hunk unticked too: the file is not in the merge at all, and its box says so.
    await fireEvent.click(screen.getAllByTestId("hunk-include")[1]);
    expect(box().dataset.taken).toBe("none");
    expect(box().indeterminate).toBe(false);
    expect(app.picks.selection().nothing).toBe(true);
    // Ticking the file takes it whole again.
    await fireEvent.click(box());
    expect(box().dataset.taken).toBe("all");
    expect(app.picks.selection()).toMatchObject({ paths: [], hunks: [], partial: false });
    await fireEvent.click(screen.getAllByTestId("hunk-include")[0]);
    const before = screen.getAllByTestId("diff-line").length;
    await fireEvent.click(screen.getAllByTestId("diff-expand")[0]);
    await waitFor(() => expect(screen.getAllByTestId("diff-line").length).toBe(before + 8));
    expect(calls.find((c) => c.cmd === "job_file")?.args).toMatchObject({ path: "a.txt", side: "new" });
    expect(screen.queryByTestId("diff-expand")).toBeNull();
  });

  it("comments on a line range, shows the comment there and sends the unsent ones", async () => {
    const saved = { id: 7, path: "a.txt", side: "new", line: 2, end_line: 2, quote: ["LINE 2"], body: "Keep it lower case.", created_at: 1, sent_at: null, now_line: 2 };
    const calls = host({
      job_diff: diff([twoHunks]),
      job_comments: [],
      job_viewed: [],
      add_comment: saved,
      send_comments: job({ state: "queued", turns: 2 }),
    });
    const app = withJobs(job({ agent: "claude" }));
    render(DiffView, { app, job: job({ agent: "claude" }) });
    await waitFor(() => screen.getAllByTestId("line-number"));
    // The added line 2 of the first hunk.
    const added = screen.getAllByTestId("line-number").find((b) => b.parentElement?.textContent?.includes("LINE 2"));
    expect(added).toBeTruthy();
    await fireEvent.click(added as HTMLElement);
    await fireEvent.input(screen.getByTestId("comment-text"), { target: { value: "Keep it lower case." } });
    await fireEvent.click(screen.getByTestId("comment-save"));
    await waitFor(() => expect(screen.getByTestId("comment-body").textContent).toBe("Keep it lower case."));
    expect(calls.find((c) => c.cmd === "add_comment")?.args).toMatchObject({
      comment: { path: "a.txt", side: "new", line: 2, end_line: 2, body: "Keep it lower case." },
    });
    host({ job_diff: diff([twoHunks]), job_comments: [{ ...saved, sent_at: 5 }], job_viewed: [], send_comments: job({ state: "queued", turns: 2 }) });
    await fireEvent.click(screen.getByTestId("comments-send"));
    await waitFor(() => expect(screen.getByTestId("diff-notice").textContent).toBe("Sent 1 comment to claude."));
  });

  it("marks a file viewed, folds it, and shows it unviewed once its diff changes", async () => {
    const calls = host({ job_diff: diff([twoHunks]), job_comments: [], job_viewed: [{ path: "a.txt", key: "stale" }], set_viewed: null });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    await waitFor(() => screen.getByTestId("file-viewed"));
    // Viewed at another version of the file: not viewed now.
    expect((screen.getByTestId("file-viewed") as HTMLInputElement).checked).toBe(false);
    expect(screen.getAllByTestId("diff-line").length).toBeGreaterThan(0);
    await fireEvent.click(screen.getByTestId("file-viewed"));
    await waitFor(() => expect(screen.queryAllByTestId("diff-line").length).toBe(0));
    const mark = calls.find((c) => c.cmd === "set_viewed")?.args as { mark: { path: string; key: string } };
    expect(mark.mark.path).toBe("a.txt");
    expect(mark.mark.key).toMatch(/^[0-9a-f]{8}$/);
  });
});
