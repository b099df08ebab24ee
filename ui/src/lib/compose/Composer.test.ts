// Composer against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { job } from "../test-fixtures";
import type { AgentInfo } from "../types/protocol";
import Composer from "../compose/Composer.svelte";

import { host, withJobs, repo, type Args } from "../test-host";

describe("Composer", () => {
  const agents: AgentInfo[] = [
    { name: "shell", builtin: true, command: ["sh", "-c", "{task}"], installed: true, path: "/bin/sh", problem: null, timeout_ms: null, version: null, format: "plain", install: null },
    { name: "claude", builtin: true, command: ["claude"], installed: false, path: null, problem: "claude is not on PATH", timeout_ms: null, version: null, format: "claude-stream-json", install: null },
  ];

  it("lists agents, disabling the unavailable ones with the reason", async () => {
    host({ list_agents: agents });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await waitFor(() => expect(screen.getAllByRole("option", { name: /claude/ }).length).toBe(1));
    const claude = screen.getByRole("option", { name: /claude/ }) as HTMLOptionElement;
    expect(claude.disabled).toBe(true);
    expect(claude.textContent).toContain("claude is not on PATH");
    expect((screen.getByRole("option", { name: "shell" }) as HTMLOptionElement).disabled).toBe(false);
  });

  it("sends the task with agent, base and timeout, and opens the new job", async () => {
    const calls = host({
      list_agents: agents,
      spawn_job: (a: Args) => job({ id: "01new", codename: "new-job", state: "queued", task: (a.request as { task: string }).task }),
    });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await waitFor(() => screen.getByRole("option", { name: "shell" }));
    await fireEvent.input(screen.getByTestId("task-input"), { target: { value: "echo hi > hi.txt" } });
    await fireEvent.change(screen.getByTestId("base-select"), { target: { value: "dev" } });
    await fireEvent.input(screen.getByTestId("timeout-input"), { target: { value: "90s" } });
    await fireEvent.change(screen.getByTestId("notify-select"), { target: { value: "never" } });
    await fireEvent.click(screen.getByTestId("auto-merge-check"));
    await fireEvent.click(screen.getByTestId("task-submit"));
    await waitFor(() => expect(app.selectedId).toBe("01new"));
    const spawn = calls.find((c) => c.cmd === "spawn_job");
    expect(spawn?.args.request).toEqual({ repo: "/work/repo", task: "echo hi > hi.txt", agent: "shell", base: "dev", timeout_ms: 90_000, parent: null, notify: false, max_steps: null, token_budget: null, task_type: null, inputs: {}, context: null, context_file: null, context_from: null, continue_from: null, context_text: null, spawned_by: null, sandbox: null, auto_merge: true, open_pr: null, issue: null });
    expect(screen.getByTestId("composer-sent").textContent).toBe("Started new-job.");
    expect((screen.getByTestId("task-input") as HTMLTextAreaElement).value).toBe("");
    // "Merge by itself" was for that task: the next one starts unticked.
    expect((screen.getByTestId("auto-merge-check") as HTMLInputElement).checked).toBe(false);
  });

  const untrusted = {
    repo: "/work/repo", setup: "npm ci", copy: [".env"], shell_by_default: false,
    task_commands: [{ name: "lint", command: "make lint" }], auto_merge: ["a job that changes only docs/** merges by itself"], submodules: ["vendor/lib from https://example.com/lib.git"], hash: "h1", needed: true, trusted: false, changed: false,
  };

  it("shows what an untrusted configuration runs and trusts it at exactly what was shown", async () => {
    const calls = host({
      list_agents: agents,
      trust_info: untrusted,
      trust_repo: (a: Args) => ({ ...untrusted, hash: a.hash, trusted: true }),
    });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    const panel = await waitFor(() => screen.getByTestId("trust-panel"));
    const listed = screen.getByTestId("trust-commands").textContent ?? "";
    for (const part of ["npm ci", ".env", "task type lint", "make lint", "without a review: a job that changes only docs/** merges by itself", "submodule: vendor/lib from https://example.com/lib.git"]) expect(listed).toContain(part);
    expect(panel.textContent).toContain("that you have not trusted");
    await fireEvent.click(screen.getByTestId("trust-button"));
    await waitFor(() => expect(screen.queryByTestId("trust-panel")).toBeNull());
    expect(calls.find((c) => c.cmd === "trust_repo")?.args).toEqual({ repo: "/work/repo", hash: "h1" });
  });

  it("shows a command's hidden characters escaped, so what is trusted is what runs", async () => {
    host({ list_agents: agents, trust_info: { ...untrusted, setup: "touch X \r\u001b[2Kecho harmless-setup", task_commands: [{ name: "li\u202Ent", command: "make\u200B lint" }] } });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await waitFor(() => screen.getByTestId("trust-panel"));
    const listed = screen.getByTestId("trust-commands").textContent ?? "";
    expect(listed).toContain("touch X \\r\\u{1b}[2Kecho harmless-setup");
    expect(listed).toContain("task type li\\u{202e}nt: make\\u{200b} lint");
    expect(listed).not.toMatch(/[\r\u001b\u202e\u200b]/);
  });

  it("a refusal for trust brings the panel back, saying the configuration changed", async () => {
    let now: typeof untrusted = { ...untrusted, trusted: true };
    host({
      list_agents: agents,
      trust_info: () => now,
      spawn_job: () => {
        now = { ...untrusted, hash: "h2", changed: true };
        throw { code: "untrusted", message: "/work/repo's .sidekick configuration ... `sidekick trust /work/repo` ..." };
      },
    });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await waitFor(() => expect(screen.getAllByRole("option").length).toBeGreaterThan(0));
    expect(screen.queryByTestId("trust-panel")).toBeNull();
    await fireEvent.input(screen.getByTestId("task-input"), { target: { value: "do it" } });
    await fireEvent.click(screen.getByTestId("task-submit"));
    const panel = await waitFor(() => screen.getByTestId("trust-panel"));
    expect(panel.textContent).toContain("it changed since you trusted it");
    expect(screen.getByTestId("composer-error").textContent).toContain("sidekick trust");
  });

  it("shows the host's refusal as its sentence and keeps the task", async () => {
    host({ list_agents: agents, spawn_job: () => { throw { code: "bad_base", message: "'nope' is not a commit in /work/repo" }; } });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await fireEvent.input(screen.getByTestId("task-input"), { target: { value: "do it" } });
    await fireEvent.click(screen.getByTestId("task-submit"));
    await waitFor(() => expect(screen.getByTestId("composer-error").textContent).toBe("'nope' is not a commit in /work/repo"));
    expect((screen.getByTestId("task-input") as HTMLTextAreaElement).value).toBe("do it");
  });

  it("runs one of the repository's task types with its inputs", async () => {
    const calls = host({
      list_agents: agents,
      list_tasks: [
        { name: "lint", path: "/work/repo/.sidekick/tasks/lint/task.toml", description: "Fix lint warnings", agent: "claude",
          inputs: [{ name: "path", description: "folder", required: true, default: null }, { name: "linter", description: "", required: false, default: "clippy" }], error: null },
        { name: "broken", path: "/work/repo/.sidekick/tasks/broken/task.toml", description: "", agent: "", inputs: [], error: "task.toml: syntax" },
      ],
      spawn_job: job({ id: "01typed", codename: "typed-job", state: "queued" }),
    });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await waitFor(() => screen.getByTestId("type-select"));
    expect((screen.getByRole("option", { name: /broken/ }) as HTMLOptionElement).disabled).toBe(true);
    await fireEvent.change(screen.getByTestId("type-select"), { target: { value: "lint" } });
    const inputs = screen.getAllByTestId("type-input") as HTMLInputElement[];
    expect(inputs.map((i) => i.dataset.name)).toEqual(["path", "linter"]);
    expect(inputs[1].placeholder).toBe("clippy");
    await fireEvent.input(inputs[0], { target: { value: "crates/engine" } });
    await fireEvent.click(screen.getByTestId("task-submit"));
    await waitFor(() => expect(app.selectedId).toBe("01typed"));
    const spawn = calls.find((c) => c.cmd === "spawn_job")?.args.request as Record<string, unknown>;
    expect(spawn).toMatchObject({ task: "", agent: null, task_type: "lint", inputs: { path: "crates/engine" } });
    expect(calls.find((c) => c.cmd === "list_tasks")?.args).toEqual({ repo: "/work/repo" });
  });

  it("starts from the repository's agent or a coding agent, keeps the user's pick, and runs only with a repository", async () => {
    const installed: AgentInfo[] = [
      agents[0],
      { ...agents[1], installed: true, problem: null, path: "/usr/bin/claude" },
      { ...agents[1], name: "codex", installed: true, problem: null, path: "/usr/bin/codex", format: "codex-app-server", install: null },
    ];
    host({ list_agents: installed, list_tasks: [], spawn_job: job({ id: "01n", codename: "new-one", state: "queued" }) });
    const app = withJobs();
    render(Composer, { app });
    const select = () => screen.getByTestId("agent-select") as HTMLSelectElement;
    await waitFor(() => expect(select().value).toBe("claude"));
    // No repository yet: Run waits for one.
    expect((screen.getByTestId("task-submit") as HTMLButtonElement).disabled).toBe(true);
    app.useRepo({ ...repo, agent: "codex" });
    await waitFor(() => expect(select().value).toBe("codex"));
    expect((screen.getByTestId("task-submit") as HTMLButtonElement).disabled).toBe(false);
    // The user's pick stays, whatever repository comes next.
    await fireEvent.change(select(), { target: { value: "shell" } });
    app.useRepo({ ...repo, root: "/work/other", agent: null });
    await waitFor(() => expect(app.repo?.root).toBe("/work/other"));
    expect(select().value).toBe("shell");
    // "Started X." goes once the next task is being written.
    await fireEvent.input(screen.getByTestId("task-input"), { target: { value: "echo one" } });
    await fireEvent.click(screen.getByTestId("task-submit"));
    await waitFor(() => expect(screen.getByTestId("composer-sent").textContent).toBe("Started new-one."));
    await fireEvent.input(screen.getByTestId("task-input"), { target: { value: "n" } });
    expect(screen.queryByTestId("composer-sent")).toBeNull();
  });

  it("refuses a timeout it cannot read before asking the host", async () => {
    const calls = host({ list_agents: agents });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await fireEvent.input(screen.getByTestId("task-input"), { target: { value: "x" } });
    await fireEvent.input(screen.getByTestId("timeout-input"), { target: { value: "soon" } });
    await fireEvent.click(screen.getByTestId("task-submit"));
    expect(screen.getByTestId("composer-error").textContent).toContain("is not a duration");
    expect(calls.some((c) => c.cmd === "spawn_job")).toBe(false);
  });

  it("makes a job from an issue that opens its pull request, and refuses what is no issue", async () => {
    const calls = host({
      list_agents: agents,
      spawn_job: () => job({ id: "01iss", codename: "from-issue", state: "queued" }),
    });
    const app = withJobs();
    app.useRepo(repo);
    render(Composer, { app });
    await waitFor(() => screen.getByRole("option", { name: "shell" }));
    await fireEvent.input(screen.getByTestId("issue-input"), { target: { value: "the crash" } });
    await fireEvent.click(screen.getByTestId("task-submit"));
    expect(screen.getByTestId("composer-error").textContent).toBe('"the crash" is not an issue; give its number (7 or #7) or its URL.');
    expect(calls.some((c) => c.cmd === "spawn_job")).toBe(false);
    // A URL names it; no task is needed. Open a pull request and Merge by itself exclude each other.
    await fireEvent.input(screen.getByTestId("issue-input"), { target: { value: "https://github.com/acme/widgets/issues/42" } });
    await fireEvent.click(screen.getByTestId("auto-merge-check"));
    await fireEvent.click(screen.getByTestId("open-pr-check"));
    expect((screen.getByTestId("auto-merge-check") as HTMLInputElement).checked).toBe(false);
    await fireEvent.click(screen.getByTestId("task-submit"));
    await waitFor(() => expect(app.selectedId).toBe("01iss"));
    const req = calls.find((c) => c.cmd === "spawn_job")?.args.request as Record<string, unknown>;
    expect([req.task, req.issue, req.open_pr, req.auto_merge]).toEqual(["", 42, "ready", null]);
    expect((screen.getByTestId("issue-input") as HTMLInputElement).value).toBe("");
  });
});
