import { describe, expect, it } from "vitest";
import { diffKey, fileTree, hunkKey, mergeSelection } from "./review";
import { file } from "../test-fixtures";

const r = (n: number) => ({ old_start: n, old_lines: 1, new_start: n, new_lines: 1 });

describe("review choices", () => {
  const files = [
    { path: "a.rs", hunks: [r(1), r(20)] },
    { path: "b.rs", hunks: [r(5)] },
  ];

  it("merges the whole job until something is unticked", () => {
    expect(mergeSelection(files, new Set(), new Set())).toEqual({ paths: [], hunks: [], partial: false, nothing: false });
  });

  it("takes whole files and the kept hunks of the others", () => {
    expect(mergeSelection(files, new Set(), new Set([hunkKey("a.rs", 0)]))).toEqual({
      paths: ["b.rs"],
      hunks: [{ path: "a.rs", hunks: [r(20)] }],
      partial: true,
      nothing: false,
    });
    // Every hunk of a file unticked is the file left out.
    expect(mergeSelection(files, new Set(["b.rs"]), new Set([hunkKey("a.rs", 0), hunkKey("a.rs", 1)]))).toEqual({
      paths: [],
      hunks: [],
      partial: true,
      nothing: true,
    });
  });

  it("names a file's diff so a change to it is noticed", () => {
    const f = file();
    expect(diffKey(f)).toBe(diffKey(file()));
    const changed = file();
    changed.hunks[0].lines[2].text = "    other";
    expect(diffKey(changed)).not.toBe(diffKey(f));
  });

  it("lists files as folders, joining single-folder chains", () => {
    const tree = fileTree(["src/lib/a.ts", "src/lib/b.ts", "README.md", "src/main.ts", "docs/x/y/z.md"]);
    expect(tree.map((e) => `${"  ".repeat(e.depth)}${e.kind === "folder" ? e.path + "/" : e.name}`)).toEqual([
      "docs/x/y/",
      "  z.md",
      "src/",
      "  lib/",
      "    a.ts",
      "    b.ts",
      "  main.ts",
      "README.md",
    ]);
  });
});
