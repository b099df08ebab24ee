// Fixed-height virtualized lists on @tanstack/svelte-virtual, kept in step with a count that
// changes (new jobs, streamed lines, another diff).
import { createVirtualizer } from "@tanstack/svelte-virtual";
import { untrack } from "svelte";
import { get } from "svelte/store";

export function virtualList(opts: {
  count: () => number;
  scroller: () => HTMLDivElement | null;
  rowHeight: number;
  overscan: number;
}) {
  const list = createVirtualizer<HTMLDivElement, HTMLDivElement>({
    count: 0,
    getScrollElement: opts.scroller,
    estimateSize: () => opts.rowHeight,
    overscan: opts.overscan,
  });
  $effect(() => {
    const count = opts.count();
    const el = opts.scroller();
    // setOptions publishes the store; reading it untracked keeps this effect from rerunning
    // on its own update.
    untrack(() => get(list).setOptions({ count, getScrollElement: () => el }));
  });
  return list;
}
