import { describe, expect, it } from "vitest";
import { buildRows, hunkHeader, segments } from "./diffrows";
import { lineHtml } from "./highlight";
import { file } from "./test-fixtures";
import type { Hunk } from "./types/protocol";

describe("diff rows", () => {
  it("turns the engine's byte offsets into string positions, also past non-ASCII text", () => {
    // "é" is 2 bytes and "→" 3, so "new" starts at byte 7.
    expect(segments("é → new", [{ start: 7, end: 10 }])).toEqual([
      { text: "é → ", changed: false },
      { text: "new", changed: true },
    ]);
    expect(segments("plain", [])).toEqual([{ text: "plain", changed: false }]);
  });

  it("escapes markup while colouring", () => {
    expect(lineHtml("<b>&", undefined, null)).toBe("&lt;b&gt;&amp;");
    expect(lineHtml("a b", [{ start: 2, end: 3 }], null)).toBe('a <mark class="word">b</mark>');
  });

  it("collapses the unchanged lines between hunks", () => {
    const h = (old_start: number, n: number): Hunk => ({
      old_start, old_lines: n, new_start: old_start, new_lines: n, header: "",
      lines: Array.from({ length: n }, (_, i) => ({ kind: "context" as const, old_line: old_start + i, new_line: old_start + i, text: "x" })),
    });
    const rows = buildRows([file({ hunks: [h(5, 3), h(20, 2)] })], "unified");
    expect(rows.filter((r) => r.kind === "gap").map((r) => (r.kind === "gap" ? r.lines : 0))).toEqual([4, 12]);
    expect(hunkHeader(h(20, 1))).toBe("@@ -20 +20 @@");
  });

  it("pairs deletions with additions in the split view and folds files", () => {
    const split = buildRows([file()], "split").filter((r) => r.kind === "pair");
    expect(split.length).toBe(2);
    const changed = split[1];
    expect(changed.kind === "pair" && changed.left?.kind).toBe("deleted");
    expect(changed.kind === "pair" && changed.right?.kind).toBe("added");
    expect(buildRows([file()], "unified", new Set([0]))).toEqual([{ kind: "file", file: 0 }]);
  });
});
