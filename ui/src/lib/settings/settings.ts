// The settings form's values: every key of the config file the app edits, as the text the
// user sees and types, and the changes to send (only the keys the user changed).
import type { Settings, SettingValue } from "../types/protocol";

export type Fields = Record<string, string>;

const opt = (n: number | null): string => (n == null ? "" : String(n));

/** The settings as form fields, keyed by the config file's keys. */
export function fieldsOf(s: Settings): Fields {
  const f: Fields = {
    max_running: String(s.max_running),
    timeout: s.timeout,
    max_steps: opt(s.max_steps),
    token_budget: opt(s.token_budget),
    warm_worktrees: String(s.warm_worktrees),
    sandbox: s.sandbox,
    sandbox_network: String(s.sandbox_network),
    "notifications.enabled": String(s.notifications.enabled),
    "notifications.quiet_under": s.notifications.quiet_under,
    "notifications.prominent_over": s.notifications.prominent_over,
    "notifications.burst_window": s.notifications.burst_window,
  };
  for (const a of s.agents) {
    f[`agents.${a.name}.permission`] = a.permission ?? "";
    f[`agents.${a.name}.timeout`] = a.timeout ?? "";
    f[`agents.${a.name}.max_steps`] = opt(a.max_steps);
    f[`agents.${a.name}.token_budget`] = opt(a.token_budget);
  }
  return f;
}

/** What the user changed: an emptied field goes back to the default (`value: null`). */
export function changesOf(before: Fields, now: Fields): SettingValue[] {
  return Object.keys(now)
    .filter((k) => now[k].trim() !== (before[k] ?? "").trim())
    .map((key) => ({ key, value: now[key].trim() === "" ? null : now[key].trim() }));
}
