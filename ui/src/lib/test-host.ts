// What the view tests share: a mocked host answering commands from a table, a followed channel,
// an app state holding some jobs, a repository.
import { waitFor } from "@testing-library/svelte";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { expect } from "vitest";
import { forgetDiffHeads } from "./review/diffhead";
import { AppState } from "./state.svelte";
import type { job } from "./test-fixtures";
import type { RepoInfo } from "./types/protocol";

export type Args = Record<string, unknown>;
export type Calls = { cmd: string; args: Args }[];

/** Answers commands from a table; a function answer may throw a host error. */
export function host(table: Record<string, unknown>): Calls {
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
export async function followed<M>(cmd: "follow_output" | "follow_transcript", view: () => void): Promise<Channel<M>> {
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

export function withJobs(...jobs: ReturnType<typeof job>[]): AppState {
  const app = new AppState();
  app.applySnapshot({ seq: 1, loaded: true, jobs, host: { status: "connecting" } });
  return app;
}

export const repo: RepoInfo = { root: "/work/repo", name: "repo", head_branch: "main", head_commit: "c".repeat(40), branches: ["dev", "main"], agent: null };
