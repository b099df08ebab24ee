// A finished job's first screen of review, asked for when the job is opened: its diff is what
// the user most likely looks at next, and then it is on screen without waiting for the host.
// The head of a given version of a job's diff never changes, so the last few are kept
// (switching back to the Diff pane shows it at once too). With the head go the job's comments
// and viewed marks: those do change (here and from the CLI), so the ones kept are only what is
// shown first, and the diff view asks again once it is on screen.
import * as ipc from "../ipc";
import { groupOf } from "../jobs/jobs";
import type { Comment, Diff, Job, Viewed } from "../types/protocol";

/** How many diff lines are asked for first; the rest follows. */
export const HEAD_LINES = 1500;
/** How many jobs' heads are kept. */
const KEEP = 3;

/** A job's comments and viewed marks. */
export interface Marks {
  comments: Comment[];
  viewed: Viewed[];
}

interface Kept {
  head: Promise<Diff>;
  marks: Promise<Marks>;
}

/** What the diff view shows first. */
export interface FirstLook extends Kept {
  /** The marks were asked for ahead of time or kept from the last look, not just now: they
   *  are shown first and asked for again. */
  kept: boolean;
}

const kept = new Map<string, Kept>();

const keyOf = (job: Job) => `${job.id}@${job.head_commit}`;

/** A finished job waiting for review: its diff (base..head) stays as it is while its head does. */
const keepable = (job: Job) => job.head_commit != null && groupOf(job.state) === "review";

export const askMarks = (id: string): Promise<Marks> =>
  Promise.all([ipc.jobComments(id).catch(() => []), ipc.jobViewed(id).catch(() => [])]).then(([comments, viewed]) => ({ comments, viewed }));

/** Asks for `job`'s diff head (and its marks) ahead of time when the job waits for review. */
export function prefetchDiffHead(job: Job): void {
  if (!keepable(job) || kept.has(keyOf(job))) return;
  remember(keyOf(job), { head: ipc.jobDiff(job.id, HEAD_LINES), marks: askMarks(job.id) });
}

/** `job`'s diff head and marks: the ones asked for ahead of time (or kept from the last look),
 *  else asked for now. A running job's diff (its worktree as it is now) is always asked for
 *  now. */
export function firstLook(job: Job): FirstLook {
  const key = keyOf(job);
  const ready = keepable(job) ? kept.get(key) : undefined;
  if (ready) {
    // The most recently used last.
    kept.delete(key);
    kept.set(key, ready);
    return { ...ready, kept: true };
  }
  const look = { head: ipc.jobDiff(job.id, HEAD_LINES), marks: askMarks(job.id) };
  if (keepable(job)) remember(key, { ...look });
  return { ...look, kept: false };
}

/** What the diff view shows now of `job`'s marks: its next first look starts from these. */
export function keepMarks(job: Job, marks: Marks): void {
  const k = kept.get(keyOf(job));
  if (k) k.marks = Promise.resolve(marks);
}

function remember(key: string, k: Kept) {
  // A failed answer is not kept: the next look asks again.
  k.head.catch(() => kept.get(key) === k && kept.delete(key));
  kept.set(key, k);
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
