// Plain functions over jobs: how they are grouped, counted, ordered and described.
import { ATTENTION, type Attention, type CheckState, type Counts, type Job, type JobState, type PullRequest, type Request, type Sandbox } from "../types/protocol";

export type Group = Attention;
export type { Counts };

/** Where a job sits in the status bar's words: the host's one rule (`JobState::attention`). */
export const groupOf = (state: JobState): Group => ATTENTION[state];

/** Where a job sits for the user (`Job::attention` in Rust): an ended job that changed
 *  nothing, or one put away, has nothing to review. */
export function attentionOf(job: Job): Group {
  const g = groupOf(job.state);
  return g === "review" && (job.archived || job.files_changed === 0) ? "closed" : g;
}

/** An ended job with nothing to merge (it failed, or changed no file) that can be archived. */
export function failedOrEmpty(j: Job): boolean {
  return !j.archived && groupOf(j.state) === "review" && (j.state !== "completed" || j.files_changed === 0);
}

/** An ended job with changes to merge and no stopped rebase: Merge… is offered (button and
 *  `m`). A failed or cancelled job that changed nothing gets Retry, Discard and Archive instead. */
export function canMerge(j: Job): boolean {
  return groupOf(j.state) === "review" && j.head_commit != null && j.conflicts.length === 0 && j.files_changed !== 0;
}

/** The agent has not ended: queued, working, or waiting for the user. */
export const isActive = (s: JobState) => groupOf(s) === "running" || groupOf(s) === "waiting" || s === "queued";

/** Counts jobs the way the status bar and the tray do (the tray's `Counts::of` in Rust). */
export function countJobs(jobs: Iterable<Job>): Counts {
  const c: Counts = { waiting: 0, running: 0, queued: 0, review: 0 };
  for (const j of jobs) {
    const g = attentionOf(j);
    if (g !== "closed") c[g] += 1;
  }
  return c;
}

/** Newest first (ids are time-sortable). */
export function newestFirst(a: Job, b: Job): number {
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Jobs newest first, each job's sidekicks (jobs with it as parent) right under it, oldest
 *  first; `depth` is how far a job is nested among the jobs given (a job whose parent is not
 *  among them is a root). */
export function nested(jobs: Job[]): { job: Job; depth: number }[] {
  const ids = new Set(jobs.map((j) => j.id));
  const kids = new Map<string, Job[]>();
  for (const j of jobs) {
    if (j.parent_id && ids.has(j.parent_id)) {
      const list = kids.get(j.parent_id) ?? [];
      list.push(j);
      kids.set(j.parent_id, list);
    }
  }
  const out: { job: Job; depth: number }[] = [];
  const visit = (j: Job, depth: number) => {
    out.push({ job: j, depth });
    for (const k of (kids.get(j.id) ?? []).sort((a, b) => -newestFirst(a, b))) visit(k, depth + 1);
  };
  for (const root of [...jobs].filter((j) => !j.parent_id || !ids.has(j.parent_id)).sort(newestFirst)) visit(root, 0);
  return out;
}

/** 1-based FIFO positions of the queued jobs, oldest first, as the host runs them. */
export function queuePositions(jobs: Iterable<Job>): Map<string, number> {
  const queued = [...jobs].filter((j) => j.state === "queued").sort((a, b) => -newestFirst(a, b));
  return new Map(queued.map((j, i) => [j.id, i + 1]));
}

/** The whole job's run time, every turn's, the one under way included: live for running jobs
 *  (against `now`), fixed once ended. */
export function elapsedMs(job: Job, now: number): number | null {
  const turn = turnMs(job, now);
  if (turn == null) return job.earlier_ms > 0 ? job.earlier_ms : null;
  return job.earlier_ms + turn;
}

/** The last (or current) turn's run time. */
export function turnMs(job: Job, now: number): number | null {
  if (job.started_at == null) return null;
  if (job.ended_at != null) return Math.max(0, job.ended_at - job.started_at);
  return Math.max(0, now - job.started_at);
}

/** How a job's processes ran, in the words `sidekick status` uses. */
/** How a job that may merge by itself fared; `null` for other jobs. */
export function autoMergeText(job: Job): string | null {
  const a = job.auto_merge;
  if (!a) return null;
  switch (a.outcome) {
    case "pending":
      return `merges by itself if clean (asked by ${a.by})`;
    case "merged":
      return job.state === "merged" ? `merged by itself (asked by ${a.by})` : "merged by itself, then undone";
    case "held":
      return `not merged by itself: ${a.reason ?? "a condition failed"}`;
  }
}

/** A check state's mark: passed ✓, failed ✗, pending …, none. */
export function checkMark(state: CheckState): string {
  return state === "success" ? "✓" : state === "failure" ? "✗" : state === "pending" ? "…" : "";
}

/** A pull request's checks in words: "2 passed", "failed: test, lint", "3 pending". */
export function checksText(pr: PullRequest): string {
  const runs = pr.checks.runs;
  switch (pr.checks.state) {
    case "none":
      return "no checks yet";
    case "pending":
      return `${runs.filter((r) => r.state === "pending").length} of ${runs.length} pending`;
    case "success":
      return `${runs.length} passed`;
    case "failure":
      return `failed: ${runs.filter((r) => r.state === "failure").map((r) => r.name).join(", ")}`;
  }
}

/** The list's badge for a job's pull request: "PR #3 ✗"; a merged or closed one says so. */
export function prBadge(pr: PullRequest): string {
  const mark = pr.state === "merged" || pr.state === "closed" ? pr.state : checkMark(pr.checks.state);
  return `PR #${pr.number}${mark ? " " + mark : ""}`;
}

/** The first lines of a check's output, for the panel (the rest is on the forge). */
export function firstLines(text: string, lines = 8): string {
  const all = text.trim().split("\n");
  return all.length <= lines ? all.join("\n") : [...all.slice(0, lines), `… ${all.length - lines} more lines`].join("\n");
}

/** An issue as typed in the composer: `7`, `#7` or the issue's URL; null when it is none. */
export function issueNumber(text: string): number | null {
  const t = text.trim();
  const m = /^#?(\d+)$/.exec(t) ?? /\/(?:-\/)?issues\/(\d+)\/?(?:[?#].*)?$/.exec(t);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** What an agent asks, in words: "brave-otter wants to run:", "… wants to edit src/lib.rs". */
export function requestTitle(codename: string, r: Request): string {
  const p = r.preview;
  if (p.kind === "command") return `${codename} wants to run:`;
  if (p.kind === "change") {
    if (p.files.length !== 1) return `${codename} wants to change ${p.files.length} files:`;
    const verb = p.files[0].kind === "modified" ? "edit" : p.files[0].kind === "deleted" ? "delete" : "write";
    return `${codename} wants to ${verb} ${p.files[0].path}:`;
  }
  return `${codename} wants to use ${r.tool}:`;
}

export function sandboxText(sb: Sandbox): string {
  if (sb.on) return `worktree only (network ${sb.network ? "on" : "off"})`;
  return sb.reason ? `not sandboxed: ${sb.reason}` : "off";
}

/** `4s`, `2m 05s`, `1h 02m`. */
export function formatElapsed(ms: number | null): string {
  if (ms == null) return "";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/**
 * Parses `90s`, `30m`, `1h30m`, `2h` (or a bare number of minutes) into milliseconds; `null`
 * for anything else. The host checks again, this only gives the composer an early answer.
 */
export function parseTimeout(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (t === "") return null;
  if (/^\d+$/.test(t)) return Number(t) * 60_000;
  const re = /(\d+)\s*(h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (const m of t.matchAll(re)) {
    matched += m[0].length;
    total += Number(m[1]) * (m[2] === "h" ? 3_600_000 : m[2] === "m" ? 60_000 : 1000);
  }
  return matched === t.length && total > 0 ? total : null;
}

export type StateFilter = "all" | Group | "archived";

/** Archived jobs show only under their own filter. */
export function matches(job: Job, state: StateFilter, repo: string): boolean {
  if (state === "archived" ? !job.archived : job.archived) return false;
  if (state !== "all" && state !== "archived" && attentionOf(job) !== state) return false;
  return repo === "" || job.repo === repo;
}

/** The task's first line, for one-line places. */
export function firstLine(task: string): string {
  const line = task.split("\n", 1)[0] ?? "";
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/** The agents whose output Sidekick reads into a transcript; the others (shell, commands,
 *  Aider) show their raw output first. */
const TRANSCRIBED = new Set(["claude", "codex", "gemini"]);

/** The pane a job's view shows for `pane`: a job without a transcript shows its output. */
export function paneFor(job: Job, pane: "transcript" | "output" | "diff"): "transcript" | "output" | "diff" {
  return pane === "transcript" && !TRANSCRIBED.has(job.agent) ? "output" : pane;
}

/** The coding agents, in the order the composer prefers them. */
const CODING = ["claude", "codex", "gemini", "aider"];

/** The composer's agent until the user picks one: the repository's configured agent when it
 *  can run, else the first installed coding agent, else any other installed one but `shell`,
 *  and `shell` only when nothing else is there. */
export function defaultAgent(list: { name: string; installed: boolean }[], repoAgent: string | null): string {
  const runs = (name: string) => list.some((a) => a.name === name && a.installed);
  if (repoAgent && runs(repoAgent)) return repoAgent;
  return CODING.find(runs) ?? list.find((a) => a.installed && a.name !== "shell")?.name ?? "shell";
}
