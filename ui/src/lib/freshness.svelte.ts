// Whether each job waiting for review would still merge cleanly: a dry-run merge per job, one
// at a time, again when its branch moves, when a merge lands (the target moved) or when the
// window comes back into focus (the user may have committed meanwhile).
import { SvelteMap } from "svelte/reactivity";
import { attentionOf } from "./jobs/jobs";
import type { Job, MergePreview } from "./types/protocol";

export interface Fresh {
  /** The target has commits the job's base lacks. */
  behind: boolean;
  /** Paths that would conflict. */
  conflicts: string[];
  target: string;
}

export class Freshness {
  map = new SvelteMap<string, Fresh>();
  /** What each job was last checked at (its head and the round). */
  private checked = new Map<string, string>();
  private round = 0;
  private busy = false;
  private again = false;

  /** `preview` dry-runs a job's merge; each waits for `ready` (the user's own loads first). */
  constructor(
    private preview: (job: string) => Promise<MergePreview>,
    private ready: () => Promise<void> = () => Promise.resolve(),
  ) {}

  /** Keeps what a merge dialog's preview said (for the job's own target). */
  record(job: string, p: MergePreview) {
    this.map.set(job, { behind: p.target_moved && !p.up_to_date, conflicts: p.conflicts.map((c) => c.path), target: p.target });
  }

  /** Forget every answer: the targets may have moved. */
  invalidate() {
    this.round += 1;
  }

  /** The jobs of the newest call (a call while busy is taken in by the running one). */
  private latest: Job[] = [];

  /** Checks the jobs that need it, one at a time; a call while busy runs once more after,
   *  with the jobs it was given. */
  async update(jobs: Iterable<Job>): Promise<void> {
    this.latest = [...jobs];
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        const todo = this.latest.filter((j) => attentionOf(j) === "review" && j.head_commit && j.base_branch);
        const live = new Set(todo.map((j) => j.id));
        for (const id of [...this.map.keys()]) if (!live.has(id)) this.map.delete(id);
        for (const j of todo) {
          const key = `${j.head_commit}:${this.round}`;
          if (this.checked.get(j.id) === key) continue;
          this.checked.set(j.id, key);
          try {
            await this.ready();
            this.record(j.id, await this.preview(j.id));
          } catch {
            // A job that cannot be previewed (its repository moved) says so in its dialog.
            this.map.delete(j.id);
          }
        }
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }
}
