// What the diff view decides beyond its rows: which files and hunks a merge takes, whether a
// file still counts as viewed, the file list as folders.
import type { FileDiff, HunkPick, HunkRange } from "../types/protocol";

/** A changed file as the merge dialog needs it: its path and its hunks' ranges. */
export interface FileHunks {
  path: string;
  hunks: HunkRange[];
}

export const hunkRange = (h: HunkRange): HunkRange => ({
  old_start: h.old_start,
  old_lines: h.old_lines,
  new_start: h.new_start,
  new_lines: h.new_lines,
});

export const hunkKey = (path: string, index: number) => `${path}\u0000${index}`;

export interface MergeSelection {
  /** Whole files to merge; empty with no hunks means the whole job. */
  paths: string[];
  /** Files of which only some hunks are merged. */
  hunks: HunkPick[];
  /** Something was left out: only a squash merge can do it. */
  partial: boolean;
  /** Everything was left out. */
  nothing: boolean;
}

/** What a merge takes when the user unticked `files` and `hunks` (keys of `hunkKey`). */
/** How much of a file a merge takes, as its box in the file tree shows it: all of it, some of
 *  its hunks (the box half ticked), or none (the file unticked, or every hunk of it). */
export function fileInclusion(path: string, hunks: number, excluded: ReadonlySet<string>, excludedHunks: ReadonlySet<string>): "all" | "some" | "none" {
  if (excluded.has(path)) return "none";
  let out = 0;
  for (let i = 0; i < hunks; i++) if (excludedHunks.has(hunkKey(path, i))) out += 1;
  if (out === 0) return "all";
  return out === hunks ? "none" : "some";
}

export function mergeSelection(
  files: FileHunks[],
  excludedFiles: ReadonlySet<string>,
  excludedHunks: ReadonlySet<string>,
): MergeSelection {
  const paths: string[] = [];
  const hunks: HunkPick[] = [];
  let partial = false;
  for (const f of files) {
    if (excludedFiles.has(f.path)) {
      partial = true;
      continue;
    }
    const kept = f.hunks.filter((_, i) => !excludedHunks.has(hunkKey(f.path, i)));
    if (kept.length === f.hunks.length) {
      paths.push(f.path);
    } else if (kept.length === 0) {
      partial = true;
    } else {
      partial = true;
      hunks.push({ path: f.path, hunks: kept.map(hunkRange) });
    }
  }
  if (!partial) return { paths: [], hunks: [], partial: false, nothing: false };
  return { paths, hunks, partial, nothing: paths.length === 0 && hunks.length === 0 };
}

/** Names a file's diff as it is now (FNV-1a over its status and lines): a viewed mark made
 *  at another key belongs to an earlier version of the file. */
export function diffKey(f: FileDiff): string {
  let h = 0x811c9dc5;
  const eat = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 10;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  eat(`${f.status} ${f.old_path ?? ""} ${f.old_mode ?? ""} ${f.new_mode ?? ""} ${f.new_id ?? ""} ${f.insertions} ${f.deletions}`);
  for (const hunk of f.hunks) {
    eat(`@@ ${hunk.old_start},${hunk.old_lines} ${hunk.new_start},${hunk.new_lines}`);
    for (const l of hunk.lines) eat(l.kind[0] + l.text);
  }
  return h.toString(16).padStart(8, "0");
}

/** One entry of the file list: a folder heading or a file under it. */
export type TreeEntry =
  | { kind: "folder"; path: string; depth: number }
  | { kind: "file"; index: number; name: string; depth: number };

/** The changed files as a folder tree (folders with one child folder are joined: `src/lib`),
 *  folders first, each level sorted by name. */
export function fileTree(paths: string[]): TreeEntry[] {
  interface Node {
    folders: Map<string, Node>;
    files: { name: string; index: number }[];
  }
  const root: Node = { folders: new Map(), files: [] };
  paths.forEach((p, index) => {
    const parts = p.split("/");
    const name = parts.pop() ?? p;
    let node = root;
    for (const part of parts) {
      let next = node.folders.get(part);
      if (!next) {
        next = { folders: new Map(), files: [] };
        node.folders.set(part, next);
      }
      node = next;
    }
    node.files.push({ name, index });
  });
  const out: TreeEntry[] = [];
  const walk = (node: Node, depth: number) => {
    for (const [name, child] of [...node.folders].sort(([a], [b]) => a.localeCompare(b))) {
      let label = name;
      let n = child;
      while (n.files.length === 0 && n.folders.size === 1) {
        const [[inner, only]] = [...n.folders];
        label = `${label}/${inner}`;
        n = only;
      }
      out.push({ kind: "folder", path: label, depth });
      walk(n, depth + 1);
    }
    for (const f of [...node.files].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push({ kind: "file", index: f.index, name: f.name, depth });
    }
  };
  walk(root, 0);
  return out;
}
