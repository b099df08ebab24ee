import { describe, expect, it } from "vitest";
import { changesOf, fieldsOf } from "./settings";
import type { Settings } from "../types/protocol";

const settings: Settings = {
  file: "/home/u/.config/sidekick/config.toml",
  max_running: 3,
  timeout: "30m00s",
  max_steps: null,
  token_budget: 5000,
  warm_worktrees: 1,
  sandbox: "auto",
  sandbox_network: true,
  notifications: { enabled: true, quiet_under: "10s", prominent_over: "1m00s", burst_window: "2s" },
  agents: [{ name: "claude", builtin: true, modes: ["ask", "default"], permission: null, timeout: null, max_steps: null, token_budget: null }],
};

describe("settings fields", () => {
  it("are keyed by the config file's keys", () => {
    const f = fieldsOf(settings);
    expect(f["max_running"]).toBe("3");
    expect(f["max_steps"]).toBe("");
    expect(f["token_budget"]).toBe("5000");
    expect(f["notifications.quiet_under"]).toBe("10s");
    expect(f["agents.claude.permission"]).toBe("");
  });

  it("send only what changed, an emptied field as back to the default", () => {
    const before = fieldsOf(settings);
    const now = { ...before, max_running: " 5 ", token_budget: "", "agents.claude.permission": "bypassPermissions", timeout: "30m00s " };
    expect(changesOf(before, now)).toEqual([
      { key: "max_running", value: "5" },
      { key: "token_budget", value: null },
      { key: "agents.claude.permission", value: "bypassPermissions" },
    ]);
    expect(changesOf(before, before)).toEqual([]);
  });
});
