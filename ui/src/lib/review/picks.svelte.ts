// What of the open job goes into its merge: the files and hunks left out (the diff view's
// checkboxes) over the job's changed files. The review feature owns it; the app state holds
// one and forgets it when another job is opened.
import { SvelteSet } from "svelte/reactivity";
import { mergeSelection, type FileHunks, type MergeSelection } from "./review";

export class ReviewPicks {
  /** Files left out of the merge. */
  excluded = new SvelteSet<string>();
  /** Hunks left out of the merge (`hunkKey(path, index)`). */
  excludedHunks = new SvelteSet<string>();
  /** The open job's changed files and their hunks, once its diff has loaded. */
  diffFiles = $state.raw<FileHunks[]>([]);

  /** Another job is open: everything is in its merge again. */
  clear() {
    this.excluded.clear();
    this.excludedHunks.clear();
    this.diffFiles = [];
  }

  /** What a merge takes: the whole job unless files or hunks were unticked. */
  selection(): MergeSelection {
    return mergeSelection(this.diffFiles, this.excluded, this.excludedHunks);
  }
}
