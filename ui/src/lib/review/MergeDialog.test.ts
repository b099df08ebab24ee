// MergeDialog against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { job } from "../test-fixtures";
import type { MergePreview } from "../types/protocol";
import MergeDialog from "../review/MergeDialog.svelte";

import { host, withJobs, repo, type Args } from "../test-host";

describe("MergeDialog", () => {
  const preview = (over: Partial<MergePreview> = {}): MergePreview => ({
    target: "main", target_tip: "c".repeat(40), job_head: "b".repeat(40), merge_base: "a".repeat(40),
    clean: true, conflicts: [], target_moved: false, changed_paths: ["hi.txt"],
    checked_out: [{ worktree: "/work/repo", dirty_overlap: [] }], up_to_date: false, blocked_by: null, left_out: [], ...over,
  });
  const result = (p: MergePreview, merged: boolean) => ({ preview: p, merged, commit: merged ? "d".repeat(40) : null, stash_kept: null, message: merged ? "Merged brave-otter into main as ddddddd." : "", job: job({ state: merged ? "merged" : "completed" }) });

  it("previews first, then merges with one click", async () => {
    const calls = host({ repo_info: repo, merge_job: (a: Args) => result(preview(), !(a.request as { dry_run: boolean }).dry_run) });
    const app = withJobs(job());
    render(MergeDialog, { app, job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-clean").textContent).toContain("1 file change on main"));
    expect(screen.getByTestId("merge-dirty-clean")).toBeTruthy();
    const button = screen.getByTestId("merge-confirm") as HTMLButtonElement;
    expect(button.disabled).toBe(false);
    // The commit message starts as the task's line and can be edited.
    const message = screen.getByTestId("merge-message") as HTMLTextAreaElement;
    expect(message.value).toBe("echo hi > hi.txt");
    await fireEvent.input(message, { target: { value: "Say hi\n\nIn hi.txt." } });
    await fireEvent.click(button);
    await waitFor(() => expect(screen.getByTestId("merge-done").textContent).toBe("Merged brave-otter into main as ddddddd."));
    const merges = calls.filter((c) => c.cmd === "merge_job").map((c) => c.args.request);
    expect(merges[0]).toMatchObject({ strategy: "squash", into: "main", dry_run: true, paths: [] });
    expect(merges.at(-1)).toMatchObject({ strategy: "squash", into: "main", dry_run: false, message: "Say hi\n\nIn hi.txt." });
    expect(app.jobs.get("01jtest")?.state).toBe("merged");
  });

  it("keeps the button off while dirty files overlap or conflicts exist", async () => {
    host({ repo_info: repo, merge_job: result(preview({ checked_out: [{ worktree: "/work/repo", dirty_overlap: ["hi.txt"] }] }), false) });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-dirty").textContent).toContain("/work/repo"));
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("merge-blocked").textContent).toContain("Uncommitted changes");
    expect(screen.getByTestId("merge-blocked").textContent).toContain("Set my uncommitted changes aside");
    expect(screen.getByTestId("merge-blocked").textContent).not.toContain("--autostash");
  });

  it("hands a conflict to the job's agent as a reply, and the list's badge says conflicts", async () => {
    const conflicting = preview({ clean: false, target_moved: true, conflicts: [{ path: "shared.txt", kind: "content" }] });
    const calls = host({ repo_info: repo, merge_job: result(conflicting, false), reply_job: job({ agent: "claude", state: "queued", turns: 2 }) });
    const claudeJob = job({ agent: "claude" });
    const app = withJobs(claudeJob);
    render(MergeDialog, { app, job: claudeJob, onclose: () => {} });
    await waitFor(() => screen.getByTestId("merge-ask-agent"));
    expect(app.fresh.map.get("01jtest")).toEqual({ behind: true, conflicts: ["shared.txt"], target: "main" });
    expect(screen.getByTestId("merge-rebase")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("merge-ask-agent"));
    await waitFor(() => expect(screen.getByTestId("merge-done").textContent).toContain("Asked claude to rebase onto main"));
    const text = calls.find((c) => c.cmd === "reply_job")?.args.text as string;
    expect(text).toContain("conflicts in shared.txt");
    expect(text).toContain("git rebase main");
    expect(app.jobs.get("01jtest")?.state).toBe("queued");
  });

  it("keeps the button off while a git operation is in progress in the target's checkout", async () => {
    host({ repo_info: repo, merge_job: result(preview({ blocked_by: "a rebase of main is in progress in /work/repo; finish or abort it first" }), false) });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-blocked").textContent).toContain("a rebase of main is in progress"));
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(true);
  });

  it("names copied-in files the merge leaves out and asks before including them", async () => {
    const calls = host({
      repo_info: repo,
      merge_job: (a: Args) => {
        const r = a.request as { include_copied: boolean; dry_run: boolean };
        return result(preview(r.include_copied ? { changed_paths: ["hi.txt", ".env"] } : { left_out: [".env"] }), !r.dry_run);
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-left-out").textContent).toContain(".env"));
    expect(calls.filter((c) => c.cmd === "merge_job")[0].args.request).toMatchObject({ include_copied: false });
    await fireEvent.click(screen.getByTestId("merge-include-copied"));
    await waitFor(() => expect(screen.getByTestId("merge-clean").textContent).toContain("2 files"));
    expect(screen.getByTestId("merge-left-out").textContent).not.toContain("Left out");
    await fireEvent.click(screen.getByTestId("merge-confirm"));
    await waitFor(() => expect(screen.getByTestId("merge-done")).toBeTruthy());
    expect(calls.filter((c) => c.cmd === "merge_job").at(-1)?.args.request).toMatchObject({ include_copied: true, dry_run: false });
  });

  it("points a dirty-overlap refusal at the autostash checkbox", async () => {
    const refusal = "this would overwrite your uncommitted changes in /work/repo: hi.txt; nothing was changed.";
    host({
      repo_info: repo,
      merge_job: (a: Args) => {
        if ((a.request as { dry_run: boolean }).dry_run) return result(preview(), false);
        throw { code: "dirty_overlap", message: refusal };
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByTestId("merge-confirm"));
    await waitFor(() => expect(screen.getByTestId("merge-error").dataset.code).toBe("dirty_overlap"));
    expect(screen.getByTestId("merge-way-out").textContent).toContain("Set my uncommitted changes aside");
    expect(document.activeElement).toBe(screen.getByTestId("merge-autostash"));
    expect(screen.queryByTestId("merge-rebase")).toBeNull();
  });

  it("offers a rebase when the job conflicts, then previews again", async () => {
    let rebasedYet = false;
    const calls = host({
      repo_info: repo,
      merge_job: () =>
        result(rebasedYet ? preview() : preview({ clean: false, conflicts: [{ path: "hi.txt", kind: "content" }] }), false),
      rebase_job: () => {
        rebasedYet = true;
        return { job: job(), message: "rebased job brave-otter onto main" };
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-rebase").textContent).toContain("Rebase onto main"));
    await fireEvent.click(screen.getByTestId("merge-rebase"));
    await waitFor(() => expect(screen.getByTestId("merge-rebased").textContent).toBe("rebased job brave-otter onto main"));
    await waitFor(() => expect(screen.getByTestId("merge-clean")).toBeTruthy());
    expect(calls.find((c) => c.cmd === "rebase_job")?.args).toMatchObject({ job: "01jtest", into: "main" });
    expect(screen.queryByTestId("merge-rebase")).toBeNull();
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(false);
  });

  it("closes when the rebase stops at conflicts: the job view takes over", async () => {
    let closed = false;
    host({
      repo_info: repo,
      merge_job: result(preview({ clean: false, conflicts: [{ path: "hi.txt", kind: "content" }] }), false),
      rebase_job: { job: job({ conflicts: ["hi.txt"] }), message: "rebasing job brave-otter onto main stopped at conflicts in hi.txt" },
    });
    const app = withJobs(job());
    render(MergeDialog, { app, job: job(), onclose: () => (closed = true) });
    await waitFor(() => expect(screen.getByTestId("merge-rebase")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("merge-rebase"));
    await waitFor(() => expect(closed).toBe(true));
    expect(app.jobs.get("01jtest")?.conflicts).toEqual(["hi.txt"]);
  });

  it("lists conflicts and shows the host's refusal as its message", async () => {
    host({ repo_info: repo, merge_job: result(preview({ clean: false, conflicts: [{ path: "hi.txt", kind: "content" }] }), false) });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-conflicts").textContent).toContain("hi.txt"));
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows a refusal that arrives on the real merge", async () => {
    const refusal = "This would overwrite your uncommitted changes in /work/repo: hi.txt; nothing was changed. Commit or stash them, or merge with autostash (it sets them aside and puts them back).";
    host({
      repo_info: repo,
      merge_job: (a: Args) => {
        if ((a.request as { dry_run: boolean }).dry_run) return result(preview(), false);
        throw { code: "invalid_state", message: refusal };
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByTestId("merge-confirm"));
    await waitFor(() => expect(screen.getByTestId("merge-error").textContent).toBe(refusal));
  });
});
