// The only module that talks to Tauri. Everything else calls these typed functions, so
// components can be tested with a mocked IPC.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  ActionResult,
  AnswerRequest,
  ErrorCode,
  AgentInfo,
  Comment,
  Diff,
  FileLines,
  Health,
  Job,
  MergeRequest,
  MergeResult,
  NewComment,
  NotificationTest,
  RepoInfo,
  Side,
  SpawnRequest,
  TaskTypeInfo,
  TrustInfo,
  Settings,
  SettingsChange,
  Viewed,
} from "../types/protocol";
import type { Failure, HostState, JobChange, OutputMessage, Snapshot, TranscriptMessage } from "./types";

export type * from "./types";

/** Turns whatever a rejected invoke carried into a `Failure`. */
export function toFailure(e: unknown): Failure {
  if (e && typeof e === "object" && "message" in e) {
    const o = e as { code?: unknown; message: unknown; fields?: unknown };
    // The host's and the shell's codes are the generated `ErrorCode`s.
    const code = (typeof o.code === "string" ? o.code : "internal") as ErrorCode;
    const fields = Array.isArray(o.fields) ? (o.fields as Failure["fields"]) : [];
    return { code, message: String(o.message), fields };
  }
  return { code: "internal", message: typeof e === "string" ? e : "Something went wrong.", fields: [] };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toFailure(e);
  }
}

export const hostInfo = () => call<Health>("host_info");
export const jobsSnapshot = () => call<Snapshot>("jobs_snapshot");
export const getJob = (job: string) => call<Job>("get_job", { job });
export const spawnJob = (request: SpawnRequest) => call<Job>("spawn_job", { request });
export const cancelJob = (job: string) => call<Job>("cancel_job", { job });
/** The job's diff; with `maxLines`, only that many diff lines (the rest of the files listed, truncated). */
export const jobDiff = (job: string, maxLines?: number) => call<Diff>("job_diff", { job, maxLines: maxLines ?? null });
export const mergeJob = (job: string, request: MergeRequest) =>
  call<MergeResult>("merge_job", { job, request });
export const undoJob = (job: string) => call<ActionResult>("undo_job", { job });
/** The host-wide settings the app edits, and a change to them (checked by the host). */
export const getSettings = () => call<Settings>("get_settings");
export const changeSettings = (change: SettingsChange) => call<Settings>("change_settings", { change });
/** A new job that runs an ended one again (`sidekick retry`). */
export const retryJob = (job: string, sameBase: boolean) => call<Job>("retry_job", { job, sameBase });
/** Pushes the job's branch and opens (or updates) its pull request; `fix` hands its failing
 *  checks to the agent instead. */
export const prJob = (job: string, draft: boolean, fix: boolean) => call<Job>("pr_job", { job, draft, fix });
/** Opens the job's pull request in the default browser. */
export const openPrPage = (job: string) => call<void>("open_pr_page", { job });
export const answerJob = (job: string, request: AnswerRequest) => call<Job>("answer_job", { job, request });
export const replyJob = (job: string, text: string) => call<Job>("reply_job", { job, text });
export const rebaseJob = (job: string, into: string | null) => call<ActionResult>("rebase_job", { job, into });
/** Aborts the rebase that stopped at conflicts in the job's worktree. */
export const abortRebase = (job: string) => call<ActionResult>("rebase_job", { job, into: null, abort: true });
export const discardJob = (job: string) => call<ActionResult>("discard_job", { job });
export const listAgents = () => call<AgentInfo[]>("list_agents");
export const testNotification = () => call<NotificationTest>("test_notification");
export const cliPath = () => call<string>("cli_path");
export const repoInfo = (path: string) => call<RepoInfo>("repo_info", { path });
export const listTasks = (repo: string) => call<TaskTypeInfo[]>("list_tasks", { repo });
/** What the repository's own configuration runs, and whether the user trusts it. */
export const trustInfo = (repo: string) => call<TrustInfo>("trust_info", { repo });
export const trustRepo = (repo: string, hash: string) => call<TrustInfo>("trust_repo", { repo, hash });
export const untrustRepo = (repo: string) => call<TrustInfo>("untrust_repo", { repo });
/** Opens the job's worktree in the user's editor, a terminal there, or the file manager. */
export const openWorktree = (job: string, how: "editor" | "terminal" | "folder") => call<null>("open_worktree", { job, with: how });
/** The native folder picker; `null` when cancelled. */
export const pickFolder = (start: string | null) => call<string | null>("pick_folder", { start });
export const archiveJob = (job: string, archived: boolean) => call<Job>("archive_job", { job, archived });
export const restoreJob = (job: string) => call<ActionResult>("restore_job", { job });
export const jobFile = (job: string, path: string, side: Side) =>
  call<FileLines>("job_file", { job, path, side });
export const jobComments = (job: string) => call<Comment[]>("job_comments", { job });
export const addComment = (job: string, comment: NewComment) => call<Comment>("add_comment", { job, comment });
export const deleteComment = (job: string, id: number) => call<null>("delete_comment", { job, id });
export const sendComments = (job: string, text: string) => call<Job>("send_comments", { job, text });
export const jobViewed = (job: string) => call<Viewed[]>("job_viewed", { job });
export const setViewed = (job: string, mark: Viewed) => call<null>("set_viewed", { job, mark });
export const takeOpenedJob = () => call<string | null>("take_opened_job");

/** A running output stream; `stop()` ends it. */
export interface OutputFollow {
  stop(): void;
}

/** Streams a job's output from its first line; `onMessage` gets batches, then the end. */
export const followOutput = (job: string, onMessage: (m: OutputMessage) => void) =>
  follow("follow_output", job, onMessage);

/** Streams a job's transcript events (the agent's entries, Sidekick's notices) from the start. */
export const followTranscript = (job: string, onMessage: (m: TranscriptMessage) => void) =>
  follow("follow_transcript", job, onMessage);

async function follow<M>(cmd: string, job: string, onMessage: (m: M) => void): Promise<OutputFollow> {
  const channel = new Channel<M>();
  let stopped = false;
  channel.onmessage = (m) => {
    if (!stopped) onMessage(m);
  };
  const id = await call<number>(cmd, { job, channel });
  return {
    stop() {
      stopped = true;
      void call("stop_output", { id }).catch(() => {});
    },
  };
}

export const onJob = (f: (c: JobChange) => void): Promise<UnlistenFn> =>
  listen<JobChange>("job", (e) => f(e.payload));
export const onJobsReset = (f: (s: Snapshot) => void): Promise<UnlistenFn> =>
  listen<Snapshot>("jobs-reset", (e) => f(e.payload));
export const onHost = (f: (h: HostState) => void): Promise<UnlistenFn> =>
  listen<HostState>("host", (e) => f(e.payload));
export const onOpenJob = (f: (job: string) => void): Promise<UnlistenFn> =>
  listen<string>("open-job", (e) => f(e.payload));
