// Flattens a structured diff into the rows a virtualized list renders, for the unified and
// the split view.
import type { DiffLine, FileDiff, Hunk, Span } from "./types/protocol";

export type Row =
  | { kind: "file"; file: number }
  | { kind: "hunk"; file: number; text: string }
  /** Unchanged lines between hunks, collapsed. */
  | { kind: "gap"; file: number; lines: number }
  | { kind: "note"; file: number; text: string }
  | { kind: "line"; file: number; line: DiffLine }
  | { kind: "pair"; file: number; left: DiffLine | null; right: DiffLine | null };

export type Layout = "unified" | "split";

export function hunkHeader(h: Hunk): string {
  const side = (start: number, n: number) => (n === 1 ? `${start}` : `${start},${n}`);
  const head = `@@ -${side(h.old_start, h.old_lines)} +${side(h.new_start, h.new_lines)} @@`;
  return h.header ? `${head} ${h.header}` : head;
}

function bytes(n: number | null): string {
  if (n == null) return "?";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Why a file has no lines to show, if it has none. */
export function fileNote(f: FileDiff): string | null {
  if (f.binary) return `Binary file, ${bytes(f.old_size)} → ${bytes(f.new_size)}`;
  if (f.hunks.length === 0 && f.truncated) return "Too large to show; the merge still includes it.";
  if (f.hunks.length === 0) {
    if (f.old_mode !== f.new_mode && f.old_mode && f.new_mode)
      return `Mode changed ${f.old_mode} → ${f.new_mode}`;
    if (f.status === "renamed") return "Renamed without changes";
    return "No content changes";
  }
  return null;
}

export function buildRows(files: FileDiff[], layout: Layout, hidden: Set<number> = new Set()): Row[] {
  const rows: Row[] = [];
  files.forEach((f, fi) => {
    rows.push({ kind: "file", file: fi });
    if (hidden.has(fi)) return;
    const note = fileNote(f);
    if (note) rows.push({ kind: "note", file: fi, text: note });
    let nextOld = 1;
    for (const h of f.hunks) {
      const gap = h.old_start - nextOld;
      if (gap > 0 && h.old_lines + h.old_start > 0) rows.push({ kind: "gap", file: fi, lines: gap });
      rows.push({ kind: "hunk", file: fi, text: hunkHeader(h) });
      if (layout === "unified") {
        for (const line of h.lines) rows.push({ kind: "line", file: fi, line });
      } else {
        pairLines(h.lines, fi, rows);
      }
      nextOld = h.old_start + h.old_lines;
    }
    if (f.truncated && f.hunks.length > 0) rows.push({ kind: "note", file: fi, text: "Cut short here: the rest of this file's changes are too large to show." });
  });
  return rows;
}

/** Deleted lines on the left, added lines on the right, side by side within each change. */
function pairLines(lines: DiffLine[], file: number, out: Row[]) {
  let i = 0;
  while (i < lines.length) {
    const l = lines[i];
    if (l.kind === "context") {
      out.push({ kind: "pair", file, left: l, right: l });
      i += 1;
      continue;
    }
    const del: DiffLine[] = [];
    const add: DiffLine[] = [];
    while (i < lines.length && lines[i].kind === "deleted") del.push(lines[i++]);
    while (i < lines.length && lines[i].kind === "added") add.push(lines[i++]);
    for (let k = 0; k < Math.max(del.length, add.length); k++) {
      out.push({ kind: "pair", file, left: del[k] ?? null, right: add[k] ?? null });
    }
  }
}

/** Splits `text` at the engine's byte-offset spans into plain and changed pieces. */
export function segments(text: string, spans: Span[] | undefined): { text: string; changed: boolean }[] {
  if (!spans || spans.length === 0) return [{ text, changed: false }];
  // Byte offsets (UTF-8) to string indices.
  const index = new Map<number, number>();
  let byte = 0;
  let i = 0;
  for (const ch of text) {
    index.set(byte, i);
    const cp = ch.codePointAt(0) ?? 0;
    byte += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += ch.length;
  }
  index.set(byte, i);
  const at = (b: number) => index.get(b) ?? (b >= byte ? text.length : 0);
  const out: { text: string; changed: boolean }[] = [];
  let pos = 0;
  for (const s of spans) {
    const start = at(s.start);
    const end = at(s.end);
    if (start > pos) out.push({ text: text.slice(pos, start), changed: false });
    if (end > start) out.push({ text: text.slice(start, end), changed: true });
    pos = Math.max(pos, end);
  }
  if (pos < text.length) out.push({ text: text.slice(pos), changed: false });
  return out;
}
