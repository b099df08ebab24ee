// The command names the UI calls are the commands the app's shell registers, both ways: a name
// misspelled on either side would fail only when a person clicks, as "command not found".
import { describe, expect, it } from "vitest";
import ipcSource from "./index.ts?raw";
import shellSource from "../../../../src-tauri/src/lib.rs?raw";

/** The commands `tauri::generate_handler![...]` registers. */
function registered(rust: string): Set<string> {
  const list = /generate_handler!\[([^\]]*)\]/.exec(rust);
  expect(list, "the shell's generate_handler! list").not.toBeNull();
  return new Set([...(list?.[1] ?? "").matchAll(/commands::(\w+)/g)].map((m) => m[1]));
}

/** The commands this module calls: `call("name"` and the names its followers are given. */
function called(ts: string): Set<string> {
  const direct = [...ts.matchAll(/call(?:<[^>]*>)?\("(\w+)"/g)].map((m) => m[1]);
  const followed = [...ts.matchAll(/follow\("(\w+)"/g)].map((m) => m[1]);
  return new Set([...direct, ...followed]);
}

describe("IPC command names", () => {
  it("are exactly the shell's", () => {
    const shell = registered(shellSource);
    const ui = called(ipcSource);
    expect(shell.size).toBeGreaterThan(30);
    expect([...ui].filter((c) => !shell.has(c)), "called by the UI, not registered by the shell").toEqual([]);
    expect([...shell].filter((c) => !ui.has(c)), "registered by the shell, never called by the UI").toEqual([]);
  });

  it("the check finds a name on one side only", () => {
    const shell = registered("tauri::generate_handler![commands::a_b, commands::c]");
    const ui = called('call<X>("a_b", {}); call("d"); follow("c", job, f);');
    expect([...ui].filter((c) => !shell.has(c))).toEqual(["d"]);
    expect([...shell].filter((c) => !ui.has(c))).toEqual([]);
  });
});
