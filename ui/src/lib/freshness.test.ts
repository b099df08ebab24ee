import { describe, expect, it } from "vitest";
import { Freshness } from "./freshness.svelte";
import { foreground, quiet } from "./foreground";
import { job } from "./test-fixtures";
import type { MergePreview } from "./types/protocol";

const preview = (over: Partial<MergePreview>): MergePreview => ({
  target: "main", target_tip: "c", job_head: "b", merge_base: "a", clean: true, conflicts: [],
  target_moved: false, changed_paths: [], checked_out: [], up_to_date: false, blocked_by: null, left_out: [], ...over,
});

describe("freshness", () => {
  it("previews each job to review once per head and round, and says behind or conflicting", async () => {
    const asked: string[] = [];
    const answers: Record<string, MergePreview> = {
      "1": preview({ target_moved: true }),
      "2": preview({ target_moved: true, clean: false, conflicts: [{ path: "a.rs", kind: "content" }] }),
      "3": preview({}),
    };
    const f = new Freshness(async (id) => {
      asked.push(id);
      return answers[id];
    });
    const jobs = [job({ id: "1" }), job({ id: "2" }), job({ id: "3" }), job({ id: "4", state: "running" }), job({ id: "5", files_changed: 0 })];
    await f.update(jobs);
    expect(asked).toEqual(["1", "2", "3"]);
    expect(f.map.get("1")).toEqual({ behind: true, conflicts: [], target: "main" });
    expect(f.map.get("2")?.conflicts).toEqual(["a.rs"]);
    expect(f.map.get("3")?.behind).toBe(false);
    await f.update(jobs);
    expect(asked.length).toBe(3);
    f.invalidate();
    await f.update([job({ id: "1" })]);
    expect(asked).toEqual(["1", "2", "3", "1"]);
    expect(f.map.has("2")).toBe(false);
  });

  it("takes in jobs that arrive while it is busy", async () => {
    const asked: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const f = new Freshness(async (id) => {
      asked.push(id);
      if (id === "1") await gate;
      return preview({});
    });
    const first = f.update([job({ id: "1" })]);
    await f.update([job({ id: "1" }), job({ id: "2" })]);
    release();
    await first;
    expect(asked).toEqual(["1", "2"]);
    expect(f.map.has("2")).toBe(true);
  });

  it("waits while the user's own view loads its first screen", async () => {
    const asked: string[] = [];
    const f = new Freshness(async (id) => {
      asked.push(id);
      return preview({});
    }, quiet);
    let loaded: () => void = () => {};
    foreground(new Promise<void>((r) => (loaded = r)));
    const checking = f.update([job({ id: "1" }), job({ id: "2" })]);
    await new Promise((r) => setTimeout(r, 20));
    expect(asked, "nothing while the diff loads").toEqual([]);
    loaded();
    await checking;
    expect(asked).toEqual(["1", "2"]);
    // A failed load lets them go on too.
    foreground(Promise.reject(new Error("gone")));
    f.invalidate();
    await f.update([job({ id: "1" })]);
    expect(asked).toEqual(["1", "2", "1"]);
  });
});
