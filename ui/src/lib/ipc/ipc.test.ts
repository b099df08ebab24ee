// The command names the UI calls are the commands the app's shell registers, both ways: a name
// misspelled on either side would fail only when a person clicks, as "command not found".
import { describe, expect, it } from "vitest";
import ipcSource from "./index.ts?raw";
import shellSource from "../../../../src-tauri/src/lib.rs?raw";
import buildSource from "../../../../src-tauri/build.rs?raw";
import capabilities from "../../../../capabilities/default.json";

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

  it("are each made a permission by the build and allowed by the window's capability", () => {
    // A command the build does not list, or the capability does not allow, is refused at run
    // time ("not allowed. Command not found").
    const shell = registered(shellSource);
    const built = new Set([...(/commands\(&\[([^\]]*)\]/.exec(buildSource)?.[1] ?? "").matchAll(/"(\w+)"/g)].map((m) => m[1]));
    const allowed = new Set(
      (capabilities.permissions as unknown[])
        .filter((p): p is string => typeof p === "string" && p.startsWith("allow-"))
        .map((p) => p.slice("allow-".length).replaceAll("-", "_")),
    );
    expect([...shell].filter((c) => !built.has(c)), "registered, not in build.rs").toEqual([]);
    expect([...shell].filter((c) => !allowed.has(c)), "registered, not allowed by capabilities/default.json").toEqual([]);
  });

  it("the check finds a name on one side only", () => {
    const shell = registered("tauri::generate_handler![commands::a_b, commands::c]");
    const ui = called('call<X>("a_b", {}); call("d"); follow("c", job, f);');
    expect([...ui].filter((c) => !shell.has(c))).toEqual(["d"]);
    expect([...shell].filter((c) => !ui.has(c))).toEqual([]);
  });
});
