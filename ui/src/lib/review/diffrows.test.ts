import { describe, expect, it } from "vitest";
import { buildRows, hunkHeader, rowKey, segments } from "./diffrows";
import { lineHtml } from "./highlight";
import { file } from "../test-fixtures";
import type { Comment, Hunk } from "../types/protocol";

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

  it("keys every row by itself, in both layouts, so a height follows its row when rows move", () => {
    const h = (start: number): Hunk => ({
      old_start: start, old_lines: 2, new_start: start, new_lines: 2, header: "",
      lines: [
        { kind: "context", old_line: start, new_line: start, text: "same" },
        { kind: "deleted", old_line: start + 1, text: "old" },
        { kind: "added", new_line: start + 1, text: "new" },
      ],
    });
    const files = [file({ path: "a", hunks: [h(3), h(30)] }), file({ path: "b", hunks: [h(3)] })];
    for (const layout of ["unified", "split"] as const) {
      const keys = buildRows(files, layout).map(rowKey);
      expect(new Set(keys).size).toBe(keys.length);
    }
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

  const ctx = (old_start: number, n: number): Hunk => ({
    old_start, old_lines: n, new_start: old_start, new_lines: n, header: "",
    lines: Array.from({ length: n }, (_, i) => ({ kind: "context" as const, old_line: old_start + i, new_line: old_start + i, text: `line ${old_start + i}` })),
  });

  it("shows the unchanged lines in full once the file's lines are there, after the last hunk too", () => {
    const full = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`);
    const rows = buildRows([file({ hunks: [ctx(3, 2), ctx(8, 1)] })], "unified", new Set(), { expanded: new Map([[0, full]]) });
    expect(rows.some((r) => r.kind === "gap")).toBe(false);
    const numbers = rows.flatMap((r) => (r.kind === "line" ? [r.line.new_line] : []));
    expect(numbers).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const texts = rows.flatMap((r) => (r.kind === "line" ? [r.line.text] : []));
    expect(texts).toEqual(full);
  });

  it("counts the gap before a hunk that only adds lines from the line it follows", () => {
    const insert: Hunk = { old_start: 4, old_lines: 0, new_start: 5, new_lines: 1, header: "", lines: [{ kind: "added", new_line: 5, text: "new" }] };
    const gaps = buildRows([file({ hunks: [insert] })], "unified").filter((r) => r.kind === "gap");
    expect(gaps.map((r) => (r.kind === "gap" ? r.lines : 0))).toEqual([4]);
  });

  it("puts a comment after the last line it is on, and one whose lines are gone under the file", () => {
    const c = (id: number, side: "old" | "new", line: number, end: number, now: number | null): Comment => ({
      id, path: "src/main.rs", side, line, end_line: end, quote: [], body: `c${id}`, created_at: 0, sent_at: null, now_line: now,
    });
    const comments = new Map([[0, [c(1, "new", 1, 2, 1), c(2, "old", 2, 2, 2), c(3, "new", 9, 9, null)]]]);
    for (const layout of ["unified", "split"] as const) {
      const rows = buildRows([file()], layout, new Set(), { comments, draft: { file: 0, side: "new", line: 1, end: 1 } });
      const kinds = rows.map((r) => (r.kind === "comment" ? `c${r.comment.id}${r.anchored ? "" : "?"}` : r.kind));
      if (layout === "unified") expect(kinds).toEqual(["file", "c3?", "hunk", "line", "draft", "line", "c2", "line", "c1"]);
      else expect(kinds).toEqual(["file", "c3?", "hunk", "pair", "draft", "pair", "c1", "c2"]);
    }
  });
});
