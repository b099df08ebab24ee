// Each view against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, it } from "vitest";
import { forgetDiffHeads } from "../diffhead";
import { formatElapsed } from "../jobs";
import { AppState } from "../state.svelte";
import { diff, file, job } from "../test-fixtures";
import type { OutputMessage, TranscriptMessage } from "../ipc";
import type { AgentInfo, Event, MergePreview, RepoInfo } from "../types/protocol";
import Composer from "./Composer.svelte";
import DiffView from "./DiffView.svelte";
import JobList from "./JobList.svelte";
import JobView from "./JobView.svelte";
import MergeDialog from "./MergeDialog.svelte";
import OutputView from "./OutputView.svelte";
import RepoPicker from "./RepoPicker.svelte";
import SettingsView from "./SettingsView.svelte";
import StatusBar from "./StatusBar.svelte";
import TranscriptView from "./TranscriptView.svelte";
import Welcome from "./Welcome.svelte";

type Args = Record<string, unknown>;
type Calls = { cmd: string; args: Args }[];

/** Answers commands from a table; a function answer may throw a host error. */
function host(table: Record<string, unknown>): Calls {
  // Each test's host answers afresh: no diff head kept from another test.
  forgetDiffHeads();
  const calls: Calls = [];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    const answer = table[cmd];
    if (typeof answer === "function") return (answer as (x: Record<string, unknown>) => unknown)(a);
    if (answer === undefined) throw { code: "internal", message: `unexpected command ${cmd}` };
    return answer;
  });
  return calls;
}

/** Answers `cmd` (a follow) with a channel, renders the view, and returns the channel once the
 *  view has asked for it: the test feeds the messages. */
async function followed<M>(cmd: "follow_output" | "follow_transcript", view: () => void): Promise<Channel<M>> {
  let channel: Channel<M> | null = null;
  host({
    [cmd]: (a: Args) => {
      channel = a.channel as Channel<M>;
      return 3;
    },
    stop_output: null,
  });
  view();
  await waitFor(() => expect(channel).not.toBeNull());
  return channel as unknown as Channel<M>;
}

function withJobs(...jobs: ReturnType<typeof job>[]): AppState {
  const app = new AppState();
  app.applySnapshot({ seq: 1, loaded: true, jobs, host: { status: "connecting" } });
  return app;
}

const repo: RepoInfo = { root: "/work/repo", name: "repo", head_branch: "main", head_commit: "c".repeat(40), branches: ["dev", "main"], agent: null };

describe("StatusBar", () => {
  it("counts running, queued and to-review jobs and opens one from the popover", async () => {
    const app = withJobs(
      job({ id: "01a", codename: "brave-otter", state: "running", ended_at: null }),
      job({ id: "01b", codename: "calm-heron", state: "queued", started_at: null, ended_at: null }),
      job({ id: "01c", codename: "swift-lynx", state: "completed" }),
      job({ id: "01d", codename: "old-crow", state: "merged" }),
    );
    render(StatusBar, { app });
    expect(screen.getByTestId("status-summary").textContent?.replace(/\s+/g, " ").trim()).toBe(
      "1 running · 1 queued · 1 to review",
    );
    await fireEvent.click(screen.getByTestId("status-summary"));
    const rows = screen.getAllByTestId("status-job");
    expect(rows.map((r) => r.querySelector("strong")?.textContent)).toEqual(["brave-otter", "calm-heron", "swift-lynx"]);
    await fireEvent.click(rows[2]);
    expect(app.selectedId).toBe("01c");
    expect(screen.queryByTestId("status-popover")).toBeNull();
  });

  it("lists under 'To review' exactly the jobs the bar counts, and Escape closes it", async () => {
    const app = withJobs(
      job({ id: "01c", codename: "swift-lynx", state: "completed" }),
      job({ id: "01f", codename: "empty-fox", state: "failed", files_changed: 0 }),
      job({ id: "01g", codename: "kept-owl", state: "completed", archived: true }),
      job({ id: "01h", codename: "half-elk", state: "failed", files_changed: 2 }),
    );
    render(StatusBar, { app });
    expect(screen.getByTestId("status-summary").textContent).toContain("2 to review");
    await fireEvent.click(screen.getByTestId("status-summary"));
    expect(screen.getByTestId("status-popover").textContent).toContain("To review (2)");
    const rows = screen.getAllByTestId("status-job").map((r) => r.querySelector("strong")?.textContent);
    expect(rows).toEqual(["half-elk", "swift-lynx"]);
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByTestId("status-popover")).toBeNull();
  });

  it("puts what needs the user first", async () => {
    const app = withJobs(
      job({ id: "01a", codename: "brave-otter", state: "running", ended_at: null }),
      job({ id: "01e", codename: "shy-wren", state: "waiting", ended_at: null }),
    );
    render(StatusBar, { app });
    expect(screen.getByTestId("status-summary").textContent?.replace(/\s+/g, " ").trim()).toBe(
      "1 needs you · 1 running · 0 queued · 0 to review",
    );
    await fireEvent.click(screen.getByTestId("status-summary"));
    const rows = screen.getAllByTestId("status-job");
    expect(rows[0].querySelector("strong")?.textContent).toBe("shy-wren");
  });

  it("says when the host is gone", () => {
    const app = withJobs();
    app.host = { status: "lost", message: "The Sidekick host stopped; reconnecting." };
    render(StatusBar, { app });
    expect(screen.getByTestId("host-state").textContent).toContain("reconnecting");
  });
});

describe("JobList", () => {
  it("shows each job's codename, state, agent, changes and queue position, and filters", async () => {
    const app = withJobs(
      job({ id: "01a", codename: "brave-otter", state: "completed", insertions: 12, deletions: 3 }),
      job({ id: "01b", codename: "calm-heron", state: "queued", started_at: null, ended_at: null, insertions: null, deletions: null }),
      job({ id: "01c", codename: "keen-mole", state: "queued", started_at: null, ended_at: null, insertions: null, deletions: null, repo: "/other" }),
    );
    render(JobList, { app });
    const rows = () => screen.getAllByTestId("job-row");
    expect(rows().map((r) => r.dataset.codename)).toEqual(["keen-mole", "calm-heron", "brave-otter"]);
    const otter = rows()[2];
    expect(otter.textContent).toContain("completed");
    expect(otter.textContent).toContain("+12");
    expect(otter.textContent).toContain("−3");
    expect(rows()[1].textContent).toContain("#1");
    expect(rows()[0].textContent).toContain("#2");

    await fireEvent.change(screen.getByTestId("filter-state"), { target: { value: "review" } });
    expect(rows().map((r) => r.dataset.codename)).toEqual(["brave-otter"]);
    // The queue in its order: the next to start first.
    await fireEvent.change(screen.getByTestId("filter-state"), { target: { value: "queued" } });
    expect(rows().map((r) => r.dataset.codename)).toEqual(["calm-heron", "keen-mole"]);
    await fireEvent.change(screen.getByTestId("filter-state"), { target: { value: "all" } });
    await fireEvent.change(screen.getByTestId("filter-repo"), { target: { value: "/other" } });
    expect(rows().map((r) => r.dataset.codename)).toEqual(["keen-mole"]);
    await fireEvent.click(rows()[0]);
    expect(app.selectedId).toBe("01c");
  });

  it("shows a job's sidekicks indented under it", () => {
    const app = withJobs(
      job({ id: "01a", codename: "main-job", state: "running" }),
      job({ id: "01b", codename: "other" }),
      job({ id: "01c", codename: "side-kick", parent_id: "01a", spawned_by: "Claude Code 2.1.330" }),
    );
    render(JobList, { app });
    const rows = screen.getAllByTestId("job-row");
    expect(rows.map((r) => `${r.dataset.depth}:${r.dataset.codename}`)).toEqual(["0:other", "0:main-job", "1:side-kick"]);
    expect(rows[2].textContent).toContain("↳");
  });

  it("renders only a window of a thousand jobs", () => {
    const many = Array.from({ length: 1000 }, (_, i) => job({ id: `01${String(i).padStart(4, "0")}`, codename: `job-${i}` }));
    render(JobList, { app: withJobs(...many) });
    const n = screen.getAllByTestId("job-row").length;
    expect(n).toBeGreaterThan(5);
    expect(n).toBeLessThan(60);
  });
});

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
    expect(spawn?.args.request).toEqual({ repo: "/work/repo", task: "echo hi > hi.txt", agent: "shell", base: "dev", timeout_ms: 90_000, parent: null, notify: false, max_steps: null, token_budget: null, task_type: null, inputs: {}, context: null, context_file: null, context_from: null, continue_from: null, context_text: null, spawned_by: null, sandbox: null, auto_merge: true });
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
});

describe("RepoPicker", () => {
  it("opens a repository and remembers it", async () => {
    host({ repo_info: repo });
    const app = withJobs();
    render(RepoPicker, { app });
    await fireEvent.input(screen.getByTestId("repo-path"), { target: { value: "/work/repo/src" } });
    await fireEvent.click(screen.getByTestId("repo-open"));
    await waitFor(() => expect(screen.getByTestId("repo-current").textContent).toContain("repo"));
    expect(app.recent).toEqual(["/work/repo"]);
    expect(JSON.parse(localStorage.getItem("sidekick.recent-repos") ?? "[]")).toEqual(["/work/repo"]);
  });

  it("shows the host's error for a folder that is not a repository", async () => {
    host({ repo_info: () => { throw { code: "not_a_repo", message: "/tmp/x is not inside a git repository" }; } });
    const app = withJobs();
    render(RepoPicker, { app });
    await fireEvent.input(screen.getByTestId("repo-path"), { target: { value: "/tmp/x" } });
    await fireEvent.click(screen.getByTestId("repo-open"));
    await waitFor(() => expect(screen.getByTestId("repo-error").textContent).toBe("/tmp/x is not inside a git repository"));
    expect(app.repo).toBeNull();
  });

  it("reopens the last repository at start and opens one from the folder picker", async () => {
    localStorage.setItem("sidekick.recent-repos", JSON.stringify(["/work/repo"]));
    const other = { ...repo, root: "/work/other", name: "other" };
    const calls = host({ repo_info: (a: Args) => (a.path === "/work/other" ? other : repo), pick_folder: "/work/other" });
    const app = withJobs();
    render(RepoPicker, { app });
    await waitFor(() => expect(app.repo?.root).toBe("/work/repo"));
    await fireEvent.click(screen.getByTestId("repo-browse"));
    await waitFor(() => expect(app.repo?.root).toBe("/work/other"));
    expect(calls.filter((c) => c.cmd === "repo_info").map((c) => c.args.path)).toEqual(["/work/repo", "/work/other"]);
    expect(app.recent).toEqual(["/work/other", "/work/repo"]);
  });
});

describe("OutputView", () => {
  it("shows streamed lines and the end of the job", async () => {
    const channel = await followed<OutputMessage>("follow_output", () => render(OutputView, { jobId: "01a" }));
    const lines = Array.from({ length: 3 }, (_, i) => ({ seq: i + 1, stream: "stdout" as const, text: `line ${i + 1}` }));
    channel.onmessage({ event: "lines", payload: { lines } });
    channel.onmessage({ event: "lines", payload: { lines: [{ seq: 9, stream: "stderr", text: "warning: x" }] } });
    channel.onmessage({ event: "ended", payload: { job: job() } });
    await waitFor(() => expect(screen.getByTestId("output-count").textContent).toBe("4 lines"));
    const shown = screen.getAllByTestId("output-line");
    expect(shown.map((l) => l.textContent)).toEqual(["line 1", "line 2", "line 3", "warning: x"]);
    expect(shown[3].classList.contains("stderr")).toBe(true);
    expect(screen.getByTestId("output").textContent).toContain("ended");
  });
});

describe("OutputView as a terminal", () => {
  it("draws colours and progress lines as a terminal would, and finds lines", async () => {
    const channel = await followed<OutputMessage>("follow_output", () => render(OutputView, { jobId: "01a" }));
    const lines = [
      "\x1b[1;31merror\x1b[0m: build failed",
      "downloading  10%\rdownloading 100%",
      "plain line",
      "another error here",
    ].map((text, i) => ({ seq: i + 1, stream: "stdout" as const, text }));
    channel.onmessage({ event: "lines", payload: { lines } });
    channel.onmessage({ event: "ended", payload: { job: job() } });
    await waitFor(() => expect(screen.getAllByTestId("output-line").length).toBe(4));
    const shown = screen.getAllByTestId("output-line");
    expect(shown[0].textContent).toBe("error: build failed");
    const red = shown[0].querySelector("span");
    expect(red?.textContent).toBe("error");
    expect(red?.getAttribute("style")?.replace(/\s/g, "")).toContain("font-weight:bold");
    expect(shown[1].textContent).toBe("downloading 100%");
    expect(shown.map((l) => l.textContent).join("")).not.toContain("\x1b");

    await fireEvent.input(screen.getByTestId("output-search"), { target: { value: "ERROR" } });
    await waitFor(() => expect(screen.getByTestId("output-matches").textContent).toBe("1 of 2"));
    expect(screen.getAllByTestId("output-line")[0].classList.contains("current")).toBe(true);
    await fireEvent.keyDown(screen.getByTestId("output-search"), { key: "Enter" });
    expect(screen.getByTestId("output-matches").textContent).toBe("2 of 2");
    expect(screen.getAllByTestId("output-line")[3].classList.contains("current")).toBe(true);
    await fireEvent.input(screen.getByTestId("output-search"), { target: { value: "nothing like it" } });
    expect(screen.getByTestId("output-matches").textContent).toBe("no match");
  });
});

describe("TranscriptView", () => {
  for (const agent of ["codex", "gemini"] as const) {
    it(`shows a real ${agent} stream: the tool call with its key input, the answer, no JSON`, async () => {
      const events = (await import(`../fixtures/${agent}-transcript.json`)).default as unknown as Event[];
      const channel = await followed<TranscriptMessage>("follow_transcript", () => render(TranscriptView, { jobId: `01real${agent}` }));
      channel.onmessage({ event: "events", payload: { events } });
      channel.onmessage({ event: "ended", payload: { job: job() } });
      await waitFor(() => expect(screen.getAllByTestId("transcript-tool").length).toBe(1));
      const tool = screen.getByTestId("transcript-tool");
      expect(tool.textContent).toContain(agent === "codex" ? "shell" : "write_file");
      // The script itself, not Codex's `/bin/bash -lc` wrapper; Gemini's path.
      expect(tool.textContent).toContain(agent === "codex" ? "printf 'hello from the scripted model\\n' > hello.txt" : "hello.txt");
      expect(tool.textContent).not.toContain("/bin/bash");
      expect(tool.dataset.status).toBe("done");
      const view = screen.getByTestId("transcript");
      expect(view.textContent).toContain("I created hello.txt with a greeting.");
      expect(view.textContent).not.toContain('{"');
      expect(screen.getByTestId("transcript-turn").textContent).toBe("end of turn");
    });
  }

  it("shows a real Claude Code stream: tools by name, the failed one marked, colours drawn, unicode and markdown kept", async () => {
    // The real Claude Code's stream-json for a rich task, read by the engine's parser
    // (generated by its test from crates/agents/src/parse/fixtures/claude-real.jsonl).
    const events = (await import("../fixtures/claude-transcript.json")).default as unknown as Event[];
    const channel = await followed<TranscriptMessage>("follow_transcript", () => render(TranscriptView, { jobId: "01realclaude" }));
    channel.onmessage({ event: "events", payload: { events } });
    channel.onmessage({ event: "ended", payload: { job: job() } });
    await waitFor(() => expect(screen.getAllByTestId("transcript-tool").length).toBe(2));
    const [build, missing] = screen.getAllByTestId("transcript-tool");
    expect(build.textContent).toContain("Bash");
    expect(build.textContent).toContain("ünïcødé ✓ 日本");
    expect(build.dataset.status).toBe("done");
    expect(missing.textContent).toContain("cat missing-file.txt");
    expect(missing.dataset.status).toBe("error");
    const view = screen.getByTestId("transcript");
    expect(view.querySelector(".markdown h2")?.textContent).toBe("Done ✓");
    expect(view.querySelector(".markdown pre code")?.textContent).toContain("héllo, 世界");
    expect(view.textContent).not.toContain('{"');
    await fireEvent.click(build);
    const out = screen.getByTestId("transcript-tool-detail").querySelector("pre.output");
    // The escape codes are drawn (green "ok"), never shown as text; all 400 lines are there.
    expect(out?.textContent).not.toContain("\x1b");
    expect(out?.textContent).not.toContain("[32m");
    expect(out?.querySelector("span")?.textContent).toBe("ok");
    expect(out?.textContent?.trim().endsWith("400")).toBe(true);
    await fireEvent.click(missing);
    expect(screen.getAllByTestId("transcript-tool-detail")[1].querySelector("pre.output.error")?.textContent).toContain("No such file or directory");
  });

  it("shows the agent's words and tool calls, not JSON, and opens a call's input and result", async () => {
    const channel = await followed<TranscriptMessage>("follow_transcript", () => render(TranscriptView, { jobId: "01a" }));
    const ev = (seq: number, entry: unknown) => ({ seq, time: 1, job_id: "01a", kind: "transcript", entry }) as never;
    channel.onmessage({
      event: "events",
      payload: {
        events: [
          ev(1, { type: "text", text: "Checking the **tests** first — naïve ✓" }),
          ev(2, { type: "tool", id: "t1", name: "Bash", brief: "cargo test", input: { command: "cargo test" } }),
          ev(3, { type: "result", id: "t1", output: "error[E0425]: cannot find value", error: true }),
          { seq: 4, time: 1, job_id: "01a", kind: "notice", level: "info", message: "you: try again" } as never,
          ev(5, { type: "turn", tokens: { input: 2000, output: 80, cached: 0 }, cost_usd: 0.0096 }),
        ],
      },
    });
    channel.onmessage({ event: "ended", payload: { job: job() } });
    await waitFor(() => expect(screen.getAllByTestId("transcript-row").length).toBe(4));
    const view = screen.getByTestId("transcript");
    expect(view.querySelector(".markdown strong")?.textContent).toBe("tests");
    expect(view.textContent).toContain("naïve ✓");
    const tool = screen.getByTestId("transcript-tool");
    expect(tool.textContent).toContain("Bash");
    expect(tool.textContent).toContain("cargo test");
    expect(tool.dataset.status).toBe("error");
    expect(view.textContent).not.toContain('{"');
    expect(screen.getByTestId("transcript-you").textContent).toContain("try again");
    expect(screen.getByTestId("transcript-turn").textContent).toContain("2,000 in · 80 out · $0.0096");
    await fireEvent.click(tool);
    const detail = screen.getByTestId("transcript-tool-detail");
    expect(detail.textContent).toContain('"command": "cargo test"');
    expect(detail.querySelector("pre.output.error")?.textContent).toContain("E0425");
  });

  it("is the job view's first pane for Claude Code, and raw output stays first for shell jobs", () => {
    host({ follow_transcript: 1, follow_output: 2, stop_output: null });
    const claude = job({ id: "01c", agent: "claude" });
    const { unmount } = render(JobView, { app: withJobs(claude), job: claude });
    expect(screen.getByTestId("transcript")).toBeTruthy();
    expect(screen.getByTestId("pane-transcript").classList.contains("on")).toBe(true);
    unmount();
    const shell = job({ id: "01s", agent: "shell" });
    render(JobView, { app: withJobs(shell), job: shell });
    expect(screen.queryByTestId("pane-transcript")).toBeNull();
    expect(screen.getByTestId("output")).toBeTruthy();
  });
});

describe("DiffView", () => {
  const files = [
    file(),
    file({ path: "logo.png", status: "added", binary: true, hunks: [], old_size: null, new_size: 2048, insertions: 0, deletions: 0 }),
  ];

  it("lists files with counts, highlights changed words and shows binaries as such", async () => {
    host({ job_diff: diff(files), job_comments: [], job_viewed: [] });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    // A narrow window (jsdom's is 1024 px) starts with the file list folded away.
    await fireEvent.click(await screen.findByTestId("toggle-files"));
    await waitFor(() => expect(screen.getAllByTestId("file-entry").length).toBe(2));
    expect(screen.getByTestId("diff-summary").textContent).toContain("2 files");
    const marks = screen.getByTestId("diff-rows").querySelectorAll("mark.word");
    expect([...marks].map((m) => m.textContent)).toEqual(["old", "new"]);
    expect(screen.getByTestId("diff-rows").querySelector(".hljs-keyword")?.textContent).toBe("fn");
    expect(screen.getAllByTestId("diff-note").map((n) => n.textContent)).toEqual(["Binary file, ? → 2.0 KB"]);
    expect(app.diffFiles.map((f) => f.path)).toEqual(["src/main.rs", "logo.png"]);
    expect(screen.getAllByTestId("file-folder").map((f) => f.textContent)).toEqual(["src/"]);
  });

  it("shows a big diff's head first, read-only, then the whole diff", async () => {
    const whole = diff(files);
    const head = { ...diff([files[0], { ...files[1], truncated: true }]), truncated: true };
    let release: (d: unknown) => void = () => {};
    const rest = new Promise((r) => (release = r));
    const calls = host({
      job_diff: (a: Args) => (a.maxLines != null ? head : rest),
      job_comments: [],
      job_viewed: [],
      set_viewed: null,
    });
    render(DiffView, { app: withJobs(job()), job: job() });
    await waitFor(() => screen.getByTestId("diff-partial"));
    // The whole diff is asked for once the head is on screen.
    await waitFor(() => expect(calls.filter((c) => c.cmd === "job_diff").map((c) => c.args.maxLines)).toEqual([1500, null]));
    // Read-only meanwhile: a Viewed tick asks nothing of the host.
    await fireEvent.click(screen.getAllByTestId("file-viewed")[0]);
    expect(calls.some((c) => c.cmd === "set_viewed")).toBe(false);
    release(whole);
    await waitFor(() => expect(screen.queryByTestId("diff-partial")).toBeNull());
    await fireEvent.click(screen.getAllByTestId("file-viewed")[0]);
    await waitFor(() => expect(calls.some((c) => c.cmd === "set_viewed")).toBe(true));
  });

  it("does not ask for the whole diff once the view is closed", async () => {
    const head = { ...diff([files[0], { ...files[1], truncated: true }]), truncated: true };
    const calls = host({ job_diff: head, job_comments: [], job_viewed: [] });
    const view = render(DiffView, { app: withJobs(job()), job: job() });
    // Closed as soon as the head shows, before the next frame (when the rest is asked for).
    await waitFor(() => screen.getByTestId("diff-partial"), { interval: 1 });
    view.unmount();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.filter((c) => c.cmd === "job_diff").map((c) => c.args.maxLines)).toEqual([1500]);
  });

  it("switches to the split view and unticks files for a partial merge", async () => {
    host({ job_diff: diff(files), job_comments: [], job_viewed: [] });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    await fireEvent.click(await screen.findByTestId("toggle-files"));
    await waitFor(() => screen.getAllByTestId("file-include"));
    const unified = screen.getAllByTestId("diff-line").length;
    await fireEvent.click(screen.getByTestId("layout-split"));
    expect(screen.getAllByTestId("diff-line").length).toBe(unified - 1);
    await fireEvent.click(screen.getAllByTestId("file-include")[1]);
    expect(app.mergeSelection()).toMatchObject({ paths: ["src/main.rs"], hunks: [], partial: true });
  });

  const twoHunks = file({
    path: "a.txt",
    hunks: [
      { old_start: 2, old_lines: 1, new_start: 2, new_lines: 1, header: "", lines: [{ kind: "deleted", old_line: 2, text: "line 2" }, { kind: "added", new_line: 2, text: "LINE 2" }] },
      { old_start: 9, old_lines: 1, new_start: 9, new_lines: 1, header: "", lines: [{ kind: "deleted", old_line: 9, text: "line 9" }, { kind: "added", new_line: 9, text: "LINE 9" }] },
    ],
  });

  it("unticks a hunk for the merge and shows the unchanged lines between hunks on request", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => (i === 1 || i === 8 ? `LINE ${i + 1}` : `line ${i + 1}`));
    const calls = host({ job_diff: diff([twoHunks]), job_comments: [], job_viewed: [], job_file: { path: "a.txt", side: "new", commit: null, missing: false, binary: false, lines } });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    await waitFor(() => expect(screen.getAllByTestId("hunk-include").length).toBe(2));
    await fireEvent.click(screen.getAllByTestId("hunk-include")[0]);
    expect(app.mergeSelection()).toEqual({
      paths: [],
      hunks: [{ path: "a.txt", hunks: [{ old_start: 9, old_lines: 1, new_start: 9, new_lines: 1 }] }],
      partial: true,
      nothing: false,
    });
    // The file tree says the file goes in part: its box half ticked.
    await fireEvent.click(screen.getByTestId("toggle-files"));
    const box = () => screen.getByTestId("file-include") as HTMLInputElement;
    expect(box().dataset.taken).toBe("some");
    expect(box().indeterminate).toBe(true);
    expect(box().checked).toBe(false);
    // Its other hunk unticked too: the file is not in the merge at all, and its box says so.
    await fireEvent.click(screen.getAllByTestId("hunk-include")[1]);
    expect(box().dataset.taken).toBe("none");
    expect(box().indeterminate).toBe(false);
    expect(app.mergeSelection().nothing).toBe(true);
    // Ticking the file takes it whole again.
    await fireEvent.click(box());
    expect(box().dataset.taken).toBe("all");
    expect(app.mergeSelection()).toMatchObject({ paths: [], hunks: [], partial: false });
    await fireEvent.click(screen.getAllByTestId("hunk-include")[0]);
    const before = screen.getAllByTestId("diff-line").length;
    await fireEvent.click(screen.getAllByTestId("diff-expand")[0]);
    await waitFor(() => expect(screen.getAllByTestId("diff-line").length).toBe(before + 8));
    expect(calls.find((c) => c.cmd === "job_file")?.args).toMatchObject({ path: "a.txt", side: "new" });
    expect(screen.queryByTestId("diff-expand")).toBeNull();
  });

  it("comments on a line range, shows the comment there and sends the unsent ones", async () => {
    const saved = { id: 7, path: "a.txt", side: "new", line: 2, end_line: 2, quote: ["LINE 2"], body: "Keep it lower case.", created_at: 1, sent_at: null, now_line: 2 };
    const calls = host({
      job_diff: diff([twoHunks]),
      job_comments: [],
      job_viewed: [],
      add_comment: saved,
      send_comments: job({ state: "queued", turns: 2 }),
    });
    const app = withJobs(job({ agent: "claude" }));
    render(DiffView, { app, job: job({ agent: "claude" }) });
    await waitFor(() => screen.getAllByTestId("line-number"));
    // The added line 2 of the first hunk.
    const added = screen.getAllByTestId("line-number").find((b) => b.parentElement?.textContent?.includes("LINE 2"));
    expect(added).toBeTruthy();
    await fireEvent.click(added as HTMLElement);
    await fireEvent.input(screen.getByTestId("comment-text"), { target: { value: "Keep it lower case." } });
    await fireEvent.click(screen.getByTestId("comment-save"));
    await waitFor(() => expect(screen.getByTestId("comment-body").textContent).toBe("Keep it lower case."));
    expect(calls.find((c) => c.cmd === "add_comment")?.args).toMatchObject({
      comment: { path: "a.txt", side: "new", line: 2, end_line: 2, body: "Keep it lower case." },
    });
    host({ job_diff: diff([twoHunks]), job_comments: [{ ...saved, sent_at: 5 }], job_viewed: [], send_comments: job({ state: "queued", turns: 2 }) });
    await fireEvent.click(screen.getByTestId("comments-send"));
    await waitFor(() => expect(screen.getByTestId("diff-notice").textContent).toBe("Sent 1 comment to claude."));
  });

  it("marks a file viewed, folds it, and shows it unviewed once its diff changes", async () => {
    const calls = host({ job_diff: diff([twoHunks]), job_comments: [], job_viewed: [{ path: "a.txt", key: "stale" }], set_viewed: null });
    const app = withJobs(job());
    render(DiffView, { app, job: job() });
    await waitFor(() => screen.getByTestId("file-viewed"));
    // Viewed at another version of the file: not viewed now.
    expect((screen.getByTestId("file-viewed") as HTMLInputElement).checked).toBe(false);
    expect(screen.getAllByTestId("diff-line").length).toBeGreaterThan(0);
    await fireEvent.click(screen.getByTestId("file-viewed"));
    await waitFor(() => expect(screen.queryAllByTestId("diff-line").length).toBe(0));
    const mark = calls.find((c) => c.cmd === "set_viewed")?.args as { mark: { path: string; key: string } };
    expect(mark.mark.path).toBe("a.txt");
    expect(mark.mark.key).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe("MergeDialog", () => {
  const preview = (over: Partial<MergePreview> = {}): MergePreview => ({
    target: "main", target_tip: "c".repeat(40), job_head: "b".repeat(40), merge_base: "a".repeat(40),
    clean: true, conflicts: [], target_moved: false, changed_paths: ["hi.txt"],
    checked_out: [{ worktree: "/work/repo", dirty_overlap: [] }], up_to_date: false, blocked_by: null, left_out: [], ...over,
  });
  const result = (p: MergePreview, merged: boolean) => ({ preview: p, merged, commit: merged ? "d".repeat(40) : null, stash_kept: null, message: merged ? "Merged brave-otter into main as ddddddd." : "", job: job({ state: merged ? "merged" : "completed" }) });

  it("previews first, then merges with one click", async () => {
    const calls = host({ repo_info: repo, merge_job: (a: Args) => result(preview(), !(a.request as { dry_run: boolean }).dry_run) });
    const app = withJobs(job());
    render(MergeDialog, { app, job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-clean").textContent).toContain("1 file change on main"));
    expect(screen.getByTestId("merge-dirty-clean")).toBeTruthy();
    const button = screen.getByTestId("merge-confirm") as HTMLButtonElement;
    expect(button.disabled).toBe(false);
    // The commit message starts as the task's line and can be edited.
    const message = screen.getByTestId("merge-message") as HTMLTextAreaElement;
    expect(message.value).toBe("echo hi > hi.txt");
    await fireEvent.input(message, { target: { value: "Say hi\n\nIn hi.txt." } });
    await fireEvent.click(button);
    await waitFor(() => expect(screen.getByTestId("merge-done").textContent).toBe("Merged brave-otter into main as ddddddd."));
    const merges = calls.filter((c) => c.cmd === "merge_job").map((c) => c.args.request);
    expect(merges[0]).toMatchObject({ strategy: "squash", into: "main", dry_run: true, paths: [] });
    expect(merges.at(-1)).toMatchObject({ strategy: "squash", into: "main", dry_run: false, message: "Say hi\n\nIn hi.txt." });
    expect(app.jobs.get("01jtest")?.state).toBe("merged");
  });

  it("keeps the button off while dirty files overlap or conflicts exist", async () => {
    host({ repo_info: repo, merge_job: result(preview({ checked_out: [{ worktree: "/work/repo", dirty_overlap: ["hi.txt"] }] }), false) });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-dirty").textContent).toContain("/work/repo"));
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("merge-blocked").textContent).toContain("Uncommitted changes");
    expect(screen.getByTestId("merge-blocked").textContent).toContain("Set my uncommitted changes aside");
    expect(screen.getByTestId("merge-blocked").textContent).not.toContain("--autostash");
  });

  it("hands a conflict to the job's agent as a reply, and the list's badge says conflicts", async () => {
    const conflicting = preview({ clean: false, target_moved: true, conflicts: [{ path: "shared.txt", kind: "content" }] });
    const calls = host({ repo_info: repo, merge_job: result(conflicting, false), reply_job: job({ agent: "claude", state: "queued", turns: 2 }) });
    const claudeJob = job({ agent: "claude" });
    const app = withJobs(claudeJob);
    render(MergeDialog, { app, job: claudeJob, onclose: () => {} });
    await waitFor(() => screen.getByTestId("merge-ask-agent"));
    expect(app.fresh.map.get("01jtest")).toEqual({ behind: true, conflicts: ["shared.txt"], target: "main" });
    expect(screen.getByTestId("merge-rebase")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("merge-ask-agent"));
    await waitFor(() => expect(screen.getByTestId("merge-done").textContent).toContain("Asked claude to rebase onto main"));
    const text = calls.find((c) => c.cmd === "reply_job")?.args.text as string;
    expect(text).toContain("conflicts in shared.txt");
    expect(text).toContain("git rebase main");
    expect(app.jobs.get("01jtest")?.state).toBe("queued");
  });

  it("keeps the button off while a git operation is in progress in the target's checkout", async () => {
    host({ repo_info: repo, merge_job: result(preview({ blocked_by: "a rebase of main is in progress in /work/repo; finish or abort it first" }), false) });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-blocked").textContent).toContain("a rebase of main is in progress"));
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(true);
  });

  it("names copied-in files the merge leaves out and asks before including them", async () => {
    const calls = host({
      repo_info: repo,
      merge_job: (a: Args) => {
        const r = a.request as { include_copied: boolean; dry_run: boolean };
        return result(preview(r.include_copied ? { changed_paths: ["hi.txt", ".env"] } : { left_out: [".env"] }), !r.dry_run);
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-left-out").textContent).toContain(".env"));
    expect(calls.filter((c) => c.cmd === "merge_job")[0].args.request).toMatchObject({ include_copied: false });
    await fireEvent.click(screen.getByTestId("merge-include-copied"));
    await waitFor(() => expect(screen.getByTestId("merge-clean").textContent).toContain("2 files"));
    expect(screen.getByTestId("merge-left-out").textContent).not.toContain("Left out");
    await fireEvent.click(screen.getByTestId("merge-confirm"));
    await waitFor(() => expect(screen.getByTestId("merge-done")).toBeTruthy());
    expect(calls.filter((c) => c.cmd === "merge_job").at(-1)?.args.request).toMatchObject({ include_copied: true, dry_run: false });
  });

  it("points a dirty-overlap refusal at the autostash checkbox", async () => {
    const refusal = "this would overwrite your uncommitted changes in /work/repo: hi.txt; nothing was changed.";
    host({
      repo_info: repo,
      merge_job: (a: Args) => {
        if ((a.request as { dry_run: boolean }).dry_run) return result(preview(), false);
        throw { code: "dirty_overlap", message: refusal };
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByTestId("merge-confirm"));
    await waitFor(() => expect(screen.getByTestId("merge-error").dataset.code).toBe("dirty_overlap"));
    expect(screen.getByTestId("merge-way-out").textContent).toContain("Set my uncommitted changes aside");
    expect(document.activeElement).toBe(screen.getByTestId("merge-autostash"));
    expect(screen.queryByTestId("merge-rebase")).toBeNull();
  });

  it("offers a rebase when the job conflicts, then previews again", async () => {
    let rebasedYet = false;
    const calls = host({
      repo_info: repo,
      merge_job: () =>
        result(rebasedYet ? preview() : preview({ clean: false, conflicts: [{ path: "hi.txt", kind: "content" }] }), false),
      rebase_job: () => {
        rebasedYet = true;
        return { job: job(), message: "rebased job brave-otter onto main" };
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-rebase").textContent).toContain("Rebase onto main"));
    await fireEvent.click(screen.getByTestId("merge-rebase"));
    await waitFor(() => expect(screen.getByTestId("merge-rebased").textContent).toBe("rebased job brave-otter onto main"));
    await waitFor(() => expect(screen.getByTestId("merge-clean")).toBeTruthy());
    expect(calls.find((c) => c.cmd === "rebase_job")?.args).toMatchObject({ job: "01jtest", into: "main" });
    expect(screen.queryByTestId("merge-rebase")).toBeNull();
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(false);
  });

  it("closes when the rebase stops at conflicts: the job view takes over", async () => {
    let closed = false;
    host({
      repo_info: repo,
      merge_job: result(preview({ clean: false, conflicts: [{ path: "hi.txt", kind: "content" }] }), false),
      rebase_job: { job: job({ conflicts: ["hi.txt"] }), message: "rebasing job brave-otter onto main stopped at conflicts in hi.txt" },
    });
    const app = withJobs(job());
    render(MergeDialog, { app, job: job(), onclose: () => (closed = true) });
    await waitFor(() => expect(screen.getByTestId("merge-rebase")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("merge-rebase"));
    await waitFor(() => expect(closed).toBe(true));
    expect(app.jobs.get("01jtest")?.conflicts).toEqual(["hi.txt"]);
  });

  it("lists conflicts and shows the host's refusal as its message", async () => {
    host({ repo_info: repo, merge_job: result(preview({ clean: false, conflicts: [{ path: "hi.txt", kind: "content" }] }), false) });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect(screen.getByTestId("merge-conflicts").textContent).toContain("hi.txt"));
    expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows a refusal that arrives on the real merge", async () => {
    const refusal = "This would overwrite your uncommitted changes in /work/repo: hi.txt; nothing was changed. Commit or stash them, or merge with autostash (it sets them aside and puts them back).";
    host({
      repo_info: repo,
      merge_job: (a: Args) => {
        if ((a.request as { dry_run: boolean }).dry_run) return result(preview(), false);
        throw { code: "invalid_state", message: refusal };
      },
    });
    render(MergeDialog, { app: withJobs(job()), job: job(), onclose: () => {} });
    await waitFor(() => expect((screen.getByTestId("merge-confirm") as HTMLButtonElement).disabled).toBe(false));
    await fireEvent.click(screen.getByTestId("merge-confirm"));
    await waitFor(() => expect(screen.getByTestId("merge-error").textContent).toBe(refusal));
  });
});

describe("JobView", () => {
  it("retries an ended job and links the two", async () => {
    const failed = job({ state: "failed", exit_code: 4 });
    const fresh = job({ id: "01jretry", codename: "second-try", state: "queued", ended_at: null, retry_of: "01jtest" });
    const calls = host({ retry_job: fresh, follow_output: 1, stop_output: null, follow_transcript: 1 });
    const app = withJobs(failed);
    const { unmount } = render(JobView, { app, job: failed });
    await fireEvent.click(screen.getByTestId("job-retry"));
    await waitFor(() => expect(app.selectedId).toBe("01jretry"));
    expect(calls.find((c) => c.cmd === "retry_job")?.args).toEqual({ job: "01jtest", sameBase: false });
    expect(screen.getByTestId("job-retried-as").textContent).toBe("retried as second-try");
    unmount();
    render(JobView, { app, job: fresh });
    expect(screen.getByTestId("job-retry-of").textContent).toBe("retry of brave-otter");
    expect(screen.queryByTestId("job-retry"), "not while it is queued").toBeNull();
  });

  it("asks for a finished job's diff head when it opens; the Diff pane shows that one", async () => {
    const done = job({ head_commit: "b".repeat(40) });
    const calls = host({
      job_diff: diff([file()]),
      job_comments: [],
      job_viewed: [],
      follow_output: 1,
      stop_output: null,
    });
    const app = withJobs(done);
    render(JobView, { app, job: done });
    await waitFor(() => expect(calls.filter((c) => c.cmd === "job_diff").length).toBe(1));
    expect(calls.find((c) => c.cmd === "job_diff")?.args).toEqual({ job: "01jtest", maxLines: 1500 });
    await fireEvent.click(screen.getByTestId("pane-diff"));
    await waitFor(() => screen.getAllByTestId("diff-line"));
    expect(calls.filter((c) => c.cmd === "job_diff").length, "asked for once").toBe(1);
    // A running job's diff is its worktree as it is now: never asked for ahead of time.
    const running = job({ id: "01jrun", state: "running", ended_at: null, head_commit: null });
    const before = calls.length;
    render(JobView, { app: withJobs(running), job: running });
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.slice(before).some((c) => c.cmd === "job_diff")).toBe(false);
  });

  it("shows the comments asked for with the diff head first, then the host's newer ones", async () => {
    const done = job({ head_commit: "b".repeat(40) });
    const saved = { id: 1, path: "src/main.rs", side: "new" as const, line: 1, end_line: 1, body: "From the CLI.", created_at: 1, sent_at: null, now_line: 1 };
    let comments: unknown[] = [];
    const calls = host({
      job_diff: diff([file()]),
      job_comments: () => comments,
      job_viewed: [],
      follow_output: 1,
      stop_output: null,
    });
    const app = withJobs(done);
    render(JobView, { app, job: done });
    await waitFor(() => expect(calls.filter((c) => c.cmd === "job_comments").length).toBe(1));
    // A comment is added (from the CLI) after the job was opened, before the Diff pane is.
    comments = [saved];
    await fireEvent.click(screen.getByTestId("pane-diff"));
    await waitFor(() => screen.getAllByTestId("diff-line"));
    // The first screen did not wait for the host: it used what was asked for ahead of time,
    // and then asked again.
    await waitFor(() => expect(screen.getByTestId("comment-body").textContent).toBe("From the CLI."));
    expect(calls.filter((c) => c.cmd === "job_comments").length).toBe(2);
    expect(calls.filter((c) => c.cmd === "job_diff").length, "the head once").toBe(1);
  });

  it("says whether a job merged by itself", () => {
    host({ follow_output: 1, stop_output: null });
    const held = job({ auto_merge: { by: "the job", paths: [], outcome: "held", reason: "it conflicts with main in a.txt" } });
    render(JobView, { app: withJobs(held), job: held });
    const line = screen.getByTestId("job-auto-merge");
    expect(line.textContent).toBe("not merged by itself: it conflicts with main in a.txt");
    expect(line.dataset.outcome).toBe("held");
  });

  it("cancels a running job", async () => {
    const calls = host({ cancel_job: job({ state: "stopping" }), follow_output: 1, stop_output: null });
    const running = job({ state: "running", ended_at: null });
    const app = withJobs(running);
    render(JobView, { app, job: running });
    await fireEvent.click(screen.getByTestId("job-cancel"));
    // It asks first: a cancel cannot be undone.
    expect(calls.some((c) => c.cmd === "cancel_job")).toBe(false);
    expect(screen.getByTestId("confirm").textContent).toContain("committed on its branch");
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(app.jobs.get("01jtest")?.state).toBe("stopping"));
    expect(calls.find((c) => c.cmd === "cancel_job")?.args).toEqual({ job: "01jtest" });
    expect(screen.queryByTestId("job-merge")).toBeNull();
  });

  it("shows what the agent asks and sends the answer", async () => {
    const request = {
      id: "req-1",
      tool: "Bash",
      detail: "cargo test",
      input: { command: "cargo test --workspace", description: "Run every test" },
      options: ["allow", "allow_always", "deny"],
      opened_at: 5,
      preview: { kind: "command" as const, command: "cargo test --workspace", description: "Run every test" },
    };
    const waiting = job({ state: "waiting", ended_at: null, requests: [request] });
    const calls = host({ answer_job: job({ state: "running", ended_at: null }), follow_output: 1, stop_output: null, cancel_job: job({ state: "stopping" }) });
    const app = withJobs(waiting);
    render(JobView, { app, job: waiting });
    // The command in full, with what the agent says it is for.
    expect(screen.getByTestId("request-title").textContent).toBe("brave-otter wants to run:");
    expect(screen.getByTestId("request-command").textContent).toBe("cargo test --workspace");
    expect(screen.getByTestId("request-description").textContent).toBe("Run every test");
    expect(screen.getByTestId("job-cancel")).toBeTruthy();
    await fireEvent.input(screen.getByTestId("request-why"), { target: { value: "not the whole suite" } });
    await fireEvent.click(screen.getByTestId("request-deny"));
    await waitFor(() => expect(app.jobs.get("01jtest")?.state).toBe("running"));
    expect(calls.find((c) => c.cmd === "answer_job")?.args).toEqual({
      job: "01jtest",
      request: { request: "req-1", allow: false, always: false, message: "not the whole suite" },
    });
  });

  it("sends a reply to an ended job, which takes another turn", async () => {
    const calls = host({ reply_job: job({ state: "queued", ended_at: null, turns: 2 }), follow_output: 1, stop_output: null });
    const app = withJobs(job());
    render(JobView, { app, job: job() });
    const send = screen.getByTestId("reply-send") as HTMLButtonElement;
    expect(send.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("reply-text"), { target: { value: "also add a test" } });
    await fireEvent.keyDown(screen.getByTestId("reply-text"), { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(app.jobs.get("01jtest")?.state).toBe("queued"));
    expect(calls.find((c) => c.cmd === "reply_job")?.args).toEqual({ job: "01jtest", text: "also add a test" });
  });

  it("offers no reply where the job cannot take one", () => {
    host({ follow_output: 1, stop_output: null });
    for (const j of [job({ state: "running", ended_at: null }), job({ state: "merged" }), job({ state: "discarded" })]) {
      const { unmount } = render(JobView, { app: withJobs(j), job: j });
      expect(screen.queryByTestId("job-reply")).toBeNull();
      unmount();
    }
  });

  it("offers no 'for this job' where the agent proposes nothing to remember", () => {
    const request = { id: "req-3", tool: "Bash", detail: "make", input: {}, options: ["allow", "deny"], opened_at: 5, preview: { kind: "none" as const } };
    const waiting = job({ state: "waiting", ended_at: null, requests: [request] });
    host({ follow_output: 1, stop_output: null });
    render(JobView, { app: withJobs(waiting), job: waiting });
    expect(screen.getByTestId("request-allow")).toBeTruthy();
    expect(screen.queryByTestId("request-allow-always")).toBeNull();
  });

  it("allows a request for the rest of the job", async () => {
    const request = {
      id: "req-2",
      tool: "Edit",
      detail: "/wt/a.txt",
      input: {},
      options: ["allow", "allow_always", "deny"],
      opened_at: 5,
      preview: { kind: "change" as const, files: [{ path: "/wt/a.txt", kind: "modified", lines: ["@@ -1,2 +1,2 @@", " keep", "-old", "+new"], more: 3 }] },
    };
    const waiting = job({ state: "waiting", ended_at: null, requests: [request] });
    const calls = host({ answer_job: job({ state: "running", ended_at: null }), follow_output: 1, stop_output: null });
    render(JobView, { app: withJobs(waiting), job: waiting });
    // The edit as a diff: its lines marked as taken out and put in, and what was left out counted.
    expect(screen.getByTestId("request-title").textContent).toBe("brave-otter wants to edit /wt/a.txt:");
    const file = screen.getByTestId("request-file");
    expect(file.querySelector(".del")?.textContent?.trim()).toBe("-old");
    expect(file.querySelector(".add")?.textContent?.trim()).toBe("+new");
    expect(file.textContent).toContain("… 3 more lines");
    await fireEvent.click(screen.getByTestId("request-allow-always"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "answer_job")).toBe(true));
    expect(calls.find((c) => c.cmd === "answer_job")?.args.request).toEqual({ request: "req-2", allow: true, always: true, message: null });
  });

  it("offers Retry, Discard and Archive, not Merge, for a job that changed nothing", () => {
    host({ follow_output: 1, stop_output: null });
    for (const state of ["failed", "cancelled", "completed"] as const) {
      const empty = job({ state, files_changed: 0, insertions: 0, deletions: 0 });
      const { unmount } = render(JobView, { app: withJobs(empty), job: empty });
      expect(screen.queryByTestId("job-merge")).toBeNull();
      expect(screen.getByTestId("job-retry")).toBeTruthy();
      expect(screen.getByTestId("job-discard")).toBeTruthy();
      expect(screen.getByTestId("job-archive")).toBeTruthy();
      unmount();
    }
  });

  it("shows a stopped rebase with its way out: abort, ask the agent, open the editor, discard", async () => {
    const stopped = job({ agent: "claude", conflicts: ["a.txt", "b.txt"] });
    const calls = host({
      follow_output: 1,
      stop_output: null,
      rebase_job: { job: job({ agent: "claude" }), message: "aborted the rebase of job brave-otter; its branch is back at 0123456789ab" },
      reply_job: job({ agent: "claude", state: "queued", ended_at: null, conflicts: ["a.txt", "b.txt"] }),
    });
    const app = withJobs(stopped);
    const { unmount } = render(JobView, { app, job: stopped });
    const panel = screen.getByTestId("job-conflict");
    expect(panel.textContent).toContain("stopped at conflicts in a.txt, b.txt");
    expect(screen.queryByTestId("job-merge")).toBeNull();
    expect(screen.getByTestId("job-discard")).toBeTruthy();
    expect(screen.getByTestId("conflict-open-editor")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("conflict-ask-agent"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "reply_job")).toBe(true));
    expect(String(calls.find((c) => c.cmd === "reply_job")?.args.text)).toContain("git rebase --continue");
    unmount();
    const again = withJobs(stopped);
    const { rerender } = render(JobView, { app: again, job: stopped });
    await fireEvent.click(screen.getByTestId("conflict-abort"));
    await waitFor(() => expect(screen.getByTestId("job-notice").textContent).toContain("aborted the rebase"));
    // An update of the same job (the host's event) keeps what the action said.
    await rerender({ app: again, job: job({ agent: "claude", steps: 1 }) });
    expect(screen.getByTestId("job-notice").textContent).toContain("aborted the rebase");
    expect(calls.find((c) => c.cmd === "rebase_job")?.args).toEqual({ job: "01jtest", into: null, abort: true });
    expect(again.jobs.get("01jtest")?.conflicts).toEqual([]);
  });

  it("shows what the agent reported: steps, tokens, cost and its summary rendered", async () => {
    host({ follow_output: 1, stop_output: null });
    const summary = "## Done\n\n| file | change |\n|---|---|\n| hello.txt | **created** |\n\n> checked by hand";
    const reported = job({ steps: 4, max_steps: 10, tokens: { input: 2550, output: 100, cached: 600 }, cost_usd: 0.0185, summary });
    render(JobView, { app: withJobs(reported), job: reported });
    expect(screen.getByTestId("job-steps").textContent).toBe("4 of 10 steps");
    // The summary's markdown is drawn, not shown as marks.
    const shown = screen.getByTestId("job-summary");
    expect(shown.querySelector("h2")?.textContent).toBe("Done");
    expect(shown.querySelector("td strong")?.textContent).toBe("created");
    expect(shown.querySelector("blockquote")?.textContent?.trim()).toBe("checked by hand");
    expect(shown.textContent).not.toContain("##");
    expect(shown.textContent).not.toContain("|---|");
    // Tokens and cost are details, folded until asked for.
    expect(screen.getByTestId("job-view").textContent).not.toContain("$0.0185");
    await fireEvent.click(screen.getByTestId("job-details-toggle"));
    expect(screen.getByTestId("job-details").textContent).toContain("$0.0185");
  });

  it("shows the whole job's run time and the last turn's after a reply", () => {
    host({ follow_output: 1, stop_output: null });
    const replied = job({ turns: 2, earlier_ms: 16_000, started_at: 1_000, ended_at: 5_000 });
    render(JobView, { app: withJobs(replied), job: replied });
    expect(screen.getByTestId("job-elapsed").textContent).toBe(formatElapsed(20_000));
    expect(screen.getByTestId("job-turn").textContent).toContain(formatElapsed(4_000));
  });

  it("names who spawned a sidekick and opens its parent", async () => {
    host({ follow_output: 1, stop_output: null });
    const parent = job({ id: "01p", codename: "lead-job", state: "running" });
    const kid = job({ id: "01k", codename: "side-kick", parent_id: "01p", spawned_by: "Claude Code 2.1.330" });
    const app = withJobs(parent, kid);
    render(JobView, { app, job: kid });
    expect(screen.getByTestId("job-spawned-by").textContent).toBe("for Claude Code 2.1.330");
    await fireEvent.click(screen.getByRole("button", { name: "lead-job" }));
    expect(app.selectedId).toBe("01p");
  });

  it("says where a queued job is in the queue and why it waits (a job waiting for an answer holds no place)", () => {
    host({ follow_output: 1, stop_output: null });
    const queued = job({ id: "01q", codename: "next-one", state: "queued", started_at: null, ended_at: null });
    const app = withJobs(job({ id: "01a", state: "running" }), job({ id: "01c", state: "running" }), job({ id: "01b", state: "waiting" }), queued);
    app.maxRunning = 2;
    render(JobView, { app, job: queued });
    expect(screen.getByTestId("job-queue").textContent).toBe("#1 in the queue, waiting for a place: 2 of 2 running");
  });

  it("asks before discarding, then reports what the host did", async () => {
    const calls = host({ discard_job: { job: job({ state: "discarded" }), message: "Discarded brave-otter; its work is kept in refs/sidekick/snapshots/01jtest." }, follow_output: 1, stop_output: null });
    const app = withJobs(job());
    render(JobView, { app, job: job() });
    await fireEvent.click(screen.getByTestId("job-discard"));
    expect(calls.some((c) => c.cmd === "discard_job")).toBe(false);
    expect(screen.getByTestId("confirm").textContent).toContain("snapshot");
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(screen.getByTestId("job-notice").textContent).toContain("refs/sidekick/snapshots"));
    expect(app.jobs.get("01jtest")?.state).toBe("discarded");
  });

  it("restores a discarded job and archives an ended one", async () => {
    const discarded = job({ state: "discarded" });
    const calls = host({
      restore_job: { job: job({ state: "completed" }), message: "Restored brave-otter." },
      archive_job: (a: Args) => job({ archived: a.archived as boolean }),
      follow_output: 1,
      stop_output: null,
    });
    const app = withJobs(discarded);
    render(JobView, { app, job: discarded });
    await fireEvent.click(screen.getByTestId("job-restore"));
    await waitFor(() => expect(screen.getByTestId("job-notice").textContent).toBe("Restored brave-otter."));
    expect(app.jobs.get("01jtest")?.state).toBe("completed");
    await fireEvent.click(screen.getByTestId("job-archive"));
    await waitFor(() => expect(app.jobs.get("01jtest")?.archived).toBe(true));
    expect(calls.find((c) => c.cmd === "archive_job")?.args).toEqual({ job: "01jtest", archived: true });
  });
});

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
