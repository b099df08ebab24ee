// SettingsView against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import SettingsView from "../settings/SettingsView.svelte";

import { host } from "../test-host";

describe("SettingsView", () => {
  const current = {
    file: "/home/u/.config/sidekick/config.toml", max_running: 3, timeout: "30m00s", max_steps: null, token_budget: null,
    warm_worktrees: 1, sandbox: "auto", sandbox_network: true,
    notifications: { enabled: true, quiet_under: "10s", prominent_over: "1m00s", burst_window: "2s" },
    agents: [
      { name: "claude", builtin: true, modes: ["ask", "default", "acceptEdits", "bypassPermissions"], permission: null, timeout: null, max_steps: null, token_budget: null },
      { name: "aider", builtin: true, modes: [], permission: null, timeout: null, max_steps: null, token_budget: null },
    ],
  };

  it("sends only what changed and shows what the host made of it", async () => {
    const calls = host({ get_settings: current, change_settings: { ...current, max_running: 5 } });
    render(SettingsView, { close: () => {} });
    const box = (await waitFor(() => screen.getByTestId("set-max_running"))) as HTMLInputElement;
    expect(box.value).toBe("3");
    expect((screen.getByTestId("settings-save") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(box, { target: { value: "5" } });
    // The agent's own modes are offered, nothing else; an agent with none has no field.
    const modes = screen.getByLabelText("claude permission") as HTMLSelectElement;
    expect([...modes.options].map((o) => o.value)).toEqual(["", "ask", "default", "acceptEdits", "bypassPermissions"]);
    expect(screen.queryByLabelText("aider permission")).toBeNull();
    await fireEvent.change(modes, { target: { value: "bypassPermissions" } });
    await fireEvent.click(screen.getByTestId("set-notifications.enabled"));
    await fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => screen.getByTestId("settings-saved"));
    expect(calls.find((c) => c.cmd === "change_settings")?.args).toEqual({
      change: {
        changes: [
          { key: "max_running", value: "5" },
          { key: "notifications.enabled", value: "false" },
          { key: "agents.claude.permission", value: "bypassPermissions" },
        ],
      },
    });
    expect(screen.getByTestId("settings-saved").textContent).toContain("config.toml");
  });

  it("shows the host's sentence for a value it refuses and keeps what was typed", async () => {
    host({
      get_settings: current,
      change_settings: () => {
        throw { code: "config", message: "/home/u/.config/sidekick/config.toml is not valid: max_running must be at least 1" };
      },
    });
    render(SettingsView, { close: () => {} });
    const box = (await waitFor(() => screen.getByTestId("set-max_running"))) as HTMLInputElement;
    await fireEvent.input(box, { target: { value: "0" } });
    await fireEvent.click(screen.getByTestId("settings-save"));
    const err = await waitFor(() => screen.getByTestId("settings-error"));
    expect(err.textContent).toContain("max_running must be at least 1");
    expect(box.value).toBe("0");
  });

  it("puts each refused field's own sentence beside it, all at once", async () => {
    host({
      get_settings: current,
      change_settings: () => {
        throw {
          code: "config",
          message: "config.toml was not changed: max_running: 'lots' is not a whole number; timeout: 'soon' is not a duration",
          fields: [
            { key: "max_running", message: "'lots' is not a whole number" },
            { key: "timeout", message: "'soon' is not a duration" },
          ],
        };
      },
    });
    render(SettingsView, { close: () => {} });
    const box = (await waitFor(() => screen.getByTestId("set-max_running"))) as HTMLInputElement;
    await fireEvent.input(box, { target: { value: "lots" } });
    await fireEvent.input(screen.getByTestId("set-timeout"), { target: { value: "soon" } });
    await fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(screen.getAllByTestId("field-error").length).toBe(2));
    const beside = (key: string) => screen.getAllByTestId("field-error").find((e) => e.dataset.key === key)?.textContent;
    expect(beside("max_running")).toBe("'lots' is not a whole number");
    expect(beside("timeout")).toBe("'soon' is not a duration");
    // Beside its own field: the sentence follows the field's box.
    expect(box.parentElement?.querySelector("[data-testid=field-error]")?.textContent).toBe("'lots' is not a whole number");
    expect(screen.getByTestId("settings-error").textContent).toContain("2 fields need another value");
  });
});
