// The window's state: the mirror of the host's jobs, the selection, the open repository.
import { SvelteMap } from "svelte/reactivity";
import * as ipc from "./ipc";
import type { HostState, JobChange, Snapshot } from "./ipc";
import { countJobs, matches, nested, queuePositions, type StateFilter } from "./jobs/jobs";
import { ReviewPicks } from "./review/picks.svelte";
import { Freshness } from "./freshness.svelte";
import { quiet } from "./foreground";
import type { Job, RepoInfo } from "./types/protocol";

const RECENT_KEY = "sidekick.recent-repos";
const RECENT_MAX = 8;

/** The job view's pane: the conversation (transcript), the raw output, or the diff. */
export type Pane = "transcript" | "output" | "diff";

export class AppState {
  jobs = new SvelteMap<string, Job>();
  seq = 0;
  loaded = $state(false);
  host = $state<HostState>({ status: "connecting" });
  selectedId = $state<string | null>(null);
  pane = $state<Pane>("transcript");
  mergeOpen = $state(false);
  /** The left column (composer and job list); Ctrl+B hides it for a wide diff. */
  sideOpen = $state(true);
  /** Whether jobs to review would still merge cleanly (a dry run each). */
  fresh = new Freshness((id) =>
    ipc
      .mergeJob(id, { strategy: "squash", into: null, paths: [], hunks: [], message: null, autostash: false, dry_run: true, include_copied: false })
      .then((r) => r.preview),
    quiet,
  );
  /** The host's `max_running` (0 until known): "3 of 3 running" for a queued job. */
  maxRunning = $state(0);
  /** `x` asks the job view to confirm a cancel. */
  askCancel = $state(false);
  /** What of the open job goes into its merge (the review feature's). */
  picks = new ReviewPicks();
  stateFilter = $state<StateFilter>("all");
  repoFilter = $state("");
  repo = $state<RepoInfo | null>(null);
  recent = $state<string[]>(loadRecent());
  /** Ticks once a second so elapsed times stay live. */
  now = $state(Date.now());

  counts = $derived(countJobs(this.jobs.values()));
  positions = $derived(queuePositions(this.jobs.values()));
  /** The list's rows: newest first, sidekicks under the job that started them. */
  rows = $derived.by(() => {
    const shown = [...this.jobs.values()].filter((j) => matches(j, this.stateFilter, this.repoFilter));
    if (this.stateFilter !== "queued") return nested(shown);
    // The queue in its order: the next to start first.
    const at = (j: Job) => this.positions.get(j.id) ?? Number.MAX_SAFE_INTEGER;
    return shown.sort((a, b) => at(a) - at(b)).map((job) => ({ job, depth: 0 }));
  });
  visible = $derived(this.rows.map((r) => r.job));
  selected = $derived(this.selectedId ? (this.jobs.get(this.selectedId) ?? null) : null);
  repos = $derived([...new Set([...this.jobs.values()].map((j) => j.repo))].sort());

  /** Replaces the mirror (first load, or the host's list after a reset). */
  applySnapshot(s: Snapshot) {
    this.jobs.clear();
    for (const j of s.jobs) this.jobs.set(j.id, j);
    this.seq = s.seq;
    this.loaded = s.loaded;
    this.host = s.host;
  }

  /** One change from the event stream; changes already in the snapshot are skipped. */
  applyChange(c: JobChange) {
    if (c.seq <= this.seq) return;
    this.seq = c.seq;
    // A merge (or its undo) moves a target: every other job's answer may change.
    const was = this.jobs.get(c.job.id)?.state;
    if (was !== c.job.state && (c.job.state === "merged" || was === "merged")) this.fresh.invalidate();
    this.jobs.set(c.job.id, c.job);
  }

  /** What an action (reply, answer, cancel, merge...) answered: shown at once, unless the event
   *  stream has already brought something newer for that job (the job may have moved on while
   *  the answer travelled back: queued, running, waiting). `before` is the job as it was when
   *  the action started. */
  acted(before: Job | undefined, after: Job) {
    if (this.jobs.get(after.id) === before) this.jobs.set(after.id, after);
  }

  /** Selects a job by id, id prefix or codename; false when none matches. */
  open(reference: string, pane: Pane = "transcript"): boolean {
    const ref = reference.trim();
    let found = this.jobs.get(ref);
    if (!found) {
      const all = [...this.jobs.values()];
      found = all.find((j) => j.codename === ref) ?? all.find((j) => j.id.startsWith(ref));
    }
    if (!found) return false;
    if (this.selectedId !== found.id) this.forgetSelection();
    this.selectedId = found.id;
    this.pane = pane;
    this.mergeOpen = false;
    return true;
  }

  /** Moves the selection through the visible list (j/k). */
  step(delta: number) {
    const list = this.visible;
    if (list.length === 0) return;
    const at = list.findIndex((j) => j.id === this.selectedId);
    const next = at < 0 ? 0 : Math.min(list.length - 1, Math.max(0, at + delta));
    if (list[next].id !== this.selectedId) this.forgetSelection();
    this.selectedId = list[next].id;
    this.mergeOpen = false;
  }

  private forgetSelection() {
    this.picks.clear();
  }

  useRepo(info: RepoInfo) {
    this.repo = info;
    this.recent = [info.root, ...this.recent.filter((r) => r !== info.root)].slice(0, RECENT_MAX);
    try {
      localStorage.setItem(RECENT_KEY, JSON.stringify(this.recent));
    } catch {
      // Private mode or full storage: the list just isn't remembered.
    }
  }

  /** Loads the mirror and keeps it current. Returns a function that stops listening. */
  async connect(): Promise<() => void> {
    const pending: JobChange[] = [];
    let ready = false;
    const stops = await Promise.all([
      ipc.onJob((c) => (ready ? this.applyChange(c) : pending.push(c))),
      ipc.onJobsReset((s) => this.applySnapshot(s)),
      ipc.onHost((h) => (this.host = h)),
      ipc.onOpenJob((job) => this.open(job)),
    ]);
    this.applySnapshot(await ipc.jobsSnapshot());
    ipc
      .hostInfo()
      .then((h) => (this.maxRunning = h.max_running))
      .catch(() => {});
    ready = true;
    for (const c of pending) this.applyChange(c);
    const opened = await ipc.takeOpenedJob();
    if (opened) this.pendingOpen = opened;
    const tick = setInterval(() => (this.now = Date.now()), 1000);
    return () => {
      clearInterval(tick);
      for (const stop of stops) stop();
    };
  }

  /** A `--job` reference that may name a job the mirror does not hold yet. */
  pendingOpen = $state<string | null>(null);
}

function loadRecent(): string[] {
  try {
    const raw = localStorage.getItem(RECENT_KEY);
    const list: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}
