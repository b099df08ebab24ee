// The first lines of a finished job's diff, asked for when the job is opened: its diff is
// what the user most likely looks at next, and then it is on screen without waiting for the
// host. The head of a given version of a job's diff never changes, so the last few are kept
// (switching back to the Diff pane shows it at once too).
import * as ipc from "./ipc";
import { groupOf } from "./jobs";
import type { Diff, Job } from "./types/protocol";

/** How many diff lines are asked for first; the rest follows. */
export const HEAD_LINES = 1500;
/** How many jobs' heads are kept. */
const KEEP = 3;

const kept = new Map<string, Promise<Diff>>();

const keyOf = (job: Job) => `${job.id}@${job.head_commit}`;

/** A finished job waiting for review: its diff (base..head) stays as it is while its head does. */
const keepable = (job: Job) => job.head_commit != null && groupOf(job.state) === "review";

/** Asks for `job`'s diff head ahead of time when the job waits for review. */
export function prefetchDiffHead(job: Job): void {
  if (!keepable(job) || kept.has(keyOf(job))) return;
  remember(keyOf(job), ipc.jobDiff(job.id, HEAD_LINES));
}

/** `job`'s diff head: the one asked for ahead of time, else asked for now. A running job's
 *  diff (its worktree as it is now) is always asked for now. */
export function diffHead(job: Job): Promise<Diff> {
  const key = keyOf(job);
  const ready = keepable(job) ? kept.get(key) : undefined;
  if (ready) {
    // The most recently used last.
    kept.delete(key);
    kept.set(key, ready);
    return ready;
  }
  const asked = ipc.jobDiff(job.id, HEAD_LINES);
  if (keepable(job)) remember(key, asked);
  return asked;
}

function remember(key: string, p: Promise<Diff>) {
  // A failed answer is not kept: the next look asks again.
  p.catch(() => kept.get(key) === p && kept.delete(key));
  kept.set(key, p);
  while (kept.size > KEEP) {
    const oldest = kept.keys().next().value;
    if (oldest === undefined) break;
    kept.delete(oldest);
  }
}

/** For tests: forgets every kept head. */
export function forgetDiffHeads(): void {
  kept.clear();
}
