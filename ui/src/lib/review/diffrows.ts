// Flattens a structured diff into the rows a virtualized list renders, for the unified and
// the split view.
import type { Comment, DiffLine, FileDiff, Hunk, Side, Span } from "../types/protocol";

export type Row =
  | { kind: "file"; file: number }
  | { kind: "hunk"; file: number; text: string; hunk: number }
  /** Unchanged lines before hunk `hunk` (or after the last one), collapsed. */
  | { kind: "gap"; file: number; lines: number; hunk: number }
  | { kind: "note"; file: number; text: string }
  | { kind: "line"; file: number; line: DiffLine }
  | { kind: "pair"; file: number; left: DiffLine | null; right: DiffLine | null }
  /** A review comment, after the last line it is on (`anchored`), or under the file's
   *  heading when those lines are not shown or no longer exist. */
  | { kind: "comment"; file: number; comment: Comment; anchored: boolean }
  /** The comment being written. */
  | { kind: "draft"; file: number };

export type Layout = "unified" | "split";

/** A row's own key, the same wherever it moves in the list (unchanged lines shown, a comment
 *  added): what the list keys its rows and their measured heights by. */
export function rowKey(r: Row): string {
  switch (r.kind) {
    case "file":
      return `f${r.file}`;
    case "hunk":
      return `h${r.file}:${r.hunk}`;
    case "gap":
      return `g${r.file}:${r.hunk}`;
    case "note":
      return `n${r.file}:${r.text}`;
    case "line":
      return `l${r.file}:${r.line.kind}:${r.line.old_line ?? ""}:${r.line.new_line ?? ""}`;
    case "pair":
      return `p${r.file}:${r.left?.kind ?? ""}:${r.left?.old_line ?? ""}:${r.right?.kind ?? ""}:${r.right?.new_line ?? ""}`;
    case "comment":
      return `c${r.comment.id}`;
    case "draft":
      return `d${r.file}`;
  }
}

/** The comment being written: on lines `line`..`end` of one side of file `file`. */
export interface Draft {
  file: number;
  side: Side;
  line: number;
  end: number;
}

/** What the view adds to a file's hunks. */
export interface Extras {
  /** The new side's lines of files whose unchanged regions are shown in full. */
  expanded?: ReadonlyMap<number, string[]>;
  comments?: ReadonlyMap<number, Comment[]>;
  draft?: Draft | null;
}

export const ROW = 20;

/** A row's height before it is measured (comments grow with their text). */
export function rowSize(r: Row | undefined): number {
  if (!r) return ROW;
  if (r.kind === "comment") return ROW * (2 + Math.min(6, r.comment.body.split("\n").length));
  if (r.kind === "draft") return ROW * 5;
  return ROW;
}

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

/** The first line a hunk covers on one side, and the first line after it (a side with no
 *  lines names the line it follows). */
const firstOf = (start: number, n: number) => (n === 0 ? start + 1 : start);
const afterOf = (start: number, n: number) => (n === 0 ? start + 1 : start + n);

function contextLines(lines: string[], oldFrom: number, newFrom: number, count: number): DiffLine[] {
  const out: DiffLine[] = [];
  for (let k = 0; k < count; k++) {
    const text = lines[newFrom - 1 + k];
    if (text === undefined) break;
    out.push({ kind: "context", old_line: oldFrom + k, new_line: newFrom + k, text });
  }
  return out;
}

export function buildRows(files: FileDiff[], layout: Layout, hidden: Set<number> = new Set(), extras: Extras = {}): Row[] {
  const rows: Row[] = [];
  files.forEach((f, fi) => {
    rows.push({ kind: "file", file: fi });
    if (hidden.has(fi)) return;
    const own: Row[] = [];
    const note = fileNote(f);
    if (note) own.push({ kind: "note", file: fi, text: note });
    const full = extras.expanded?.get(fi);
    const emit = (lines: DiffLine[]) => {
      if (layout === "unified") for (const line of lines) own.push({ kind: "line", file: fi, line });
      else pairLines(lines, fi, own);
    };
    let nextOld = 1;
    let nextNew = 1;
    f.hunks.forEach((h, hi) => {
      const gap = firstOf(h.old_start, h.old_lines) - nextOld;
      if (gap > 0) {
        if (full) emit(contextLines(full, nextOld, nextNew, gap));
        else own.push({ kind: "gap", file: fi, lines: gap, hunk: hi });
      }
      own.push({ kind: "hunk", file: fi, text: hunkHeader(h), hunk: hi });
      emit(h.lines);
      nextOld = afterOf(h.old_start, h.old_lines);
      nextNew = afterOf(h.new_start, h.new_lines);
    });
    if (full && f.hunks.length > 0 && nextNew <= full.length) {
      emit(contextLines(full, nextOld, nextNew, full.length - nextNew + 1));
    }
    if (f.truncated && f.hunks.length > 0) own.push({ kind: "note", file: fi, text: "Cut short here: the rest of this file's changes are too large to show." });
    placeComments(own, fi, extras.comments?.get(fi) ?? [], extras.draft?.file === fi ? extras.draft : null);
    rows.push(...own);
  });
  return rows;
}

/** Whether row `r` shows line `n` of `side`. */
function shows(r: Row, side: Side, n: number): boolean {
  if (r.kind === "line") return side === "new" ? r.line.new_line === n : r.line.old_line === n;
  if (r.kind === "pair") return side === "new" ? r.right?.new_line === n : r.left?.old_line === n;
  return false;
}

/** Puts each comment after the row of the last line it is on (the draft after its line). */
function placeComments(own: Row[], file: number, comments: Comment[], draft: Draft | null) {
  const after = new Map<number, Row[]>();
  const loose: Row[] = [];
  const at = (side: Side, n: number) => own.findIndex((r) => shows(r, side, n));
  for (const comment of comments) {
    const end = comment.now_line == null ? -1 : comment.now_line + (comment.end_line - comment.line);
    const i = end < 0 ? -1 : at(comment.side, end);
    if (i < 0) loose.push({ kind: "comment", file, comment, anchored: false });
    else after.set(i, [...(after.get(i) ?? []), { kind: "comment", file, comment, anchored: true }]);
  }
  if (draft) {
    const i = at(draft.side, draft.end);
    if (i >= 0) after.set(i, [...(after.get(i) ?? []), { kind: "draft", file }]);
  }
  for (const i of [...after.keys()].sort((a, b) => b - a)) own.splice(i + 1, 0, ...(after.get(i) ?? []));
  own.unshift(...loose);
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
