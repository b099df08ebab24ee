// One job's stream (output lines or transcript events) shown at most once a frame: messages
// arrive in many small batches while a job runs, and each redraw costs.
import { toFailure, type OutputFollow } from "../ipc";

/** What a view does with its stream's messages. */
export interface Batches<M> {
  /** Keeps a batch; the view is redrawn at the next frame. */
  take(m: M): void;
  /** Redraws the view with what was taken. */
  show(): void;
  /** The stream's end, or why it broke. */
  ended(m: M): void;
  failed(message: string): void;
}

/** Starts `start`'s stream for a view; returns what stops it (an effect's cleanup). */
export function followInFrames<M extends { event: string }>(
  start: (onMessage: (m: M) => void) => Promise<OutputFollow>,
  batches: Batches<M>,
  items: M["event"],
): () => void {
  let follow: OutputFollow | null = null;
  let cancelled = false;
  let frame = 0;
  const show = () => {
    frame = 0;
    batches.show();
  };
  start((m) => {
    if (m.event === items) {
      batches.take(m);
      if (!frame) frame = requestAnimationFrame(show);
    } else {
      show();
      batches.ended(m);
    }
  })
    .then((f) => (cancelled ? f.stop() : (follow = f)))
    .catch((e) => batches.failed(toFailure(e).message));
  return () => {
    cancelled = true;
    if (frame) cancelAnimationFrame(frame);
    follow?.stop();
  };
}
