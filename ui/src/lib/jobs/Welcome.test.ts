// Welcome against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import Welcome from "../jobs/Welcome.svelte";

import { host } from "../test-host";

describe("Welcome", () => {
  it("lists the agents found and how to install the rest, tests notifications and names the CLI", async () => {
    const calls = host({
      list_agents: [
        { name: "shell", builtin: true, command: ["sh"], installed: true, path: "/bin/sh", problem: null, timeout_ms: null, version: null, format: "plain", install: null },
        { name: "claude", builtin: true, command: ["claude"], installed: true, path: "/usr/bin/claude", problem: null, timeout_ms: null, version: "2.1.0 (Claude Code)", format: "claude-stream-json", install: "npm install -g @anthropic-ai/claude-code" },
        { name: "codex", builtin: true, command: ["codex"], installed: false, path: null, problem: "codex was not found on PATH", timeout_ms: null, version: null, format: "codex-app-server", install: "npm install -g @openai/codex" },
      ],
      cli_path: "/usr/bin/sidekick",
      test_notification: { sent: false, detail: "no desktop notification server: nobody on the bus" },
    });
    render(Welcome);
    await screen.findByText("2.1.0 (Claude Code)");
    const rows = screen.getAllByTestId("welcome-agent");
    expect(rows.map((r) => r.dataset.agent)).toEqual(["claude", "codex"]);
    expect(rows[1].textContent).toContain("npm install -g @openai/codex");
    expect(screen.getByTestId("welcome-cli").textContent).toBe("/usr/bin/sidekick");
    await fireEvent.click(screen.getByTestId("welcome-test-notification"));
    expect((await screen.findByTestId("welcome-notification-result")).textContent).toContain("nobody on the bus");
    expect(calls.filter((c) => c.cmd === "test_notification")).toHaveLength(1);
  });
});
