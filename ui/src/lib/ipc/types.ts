// Shapes the desktop shell itself sends (src-tauri/src/bridge.rs and output.rs). The host's
// own types are generated into ../types/protocol.ts.
import type { ErrorCode, Job, Stream } from "../types/protocol";

export type HostState =
  | { status: "connecting" }
  | { status: "connected"; version: string; pid: number; home: string }
  | { status: "lost"; message: string };

export interface Snapshot {
  seq: number;
  loaded: boolean;
  jobs: Job[];
  host: HostState;
}

export interface JobChange {
  seq: number;
  job: Job;
}

export interface OutputLine {
  seq: number;
  stream: Stream;
  text: string;
  partial?: boolean;
}

export type OutputMessage =
  | { event: "lines"; payload: { lines: OutputLine[] } }
  | { event: "ended"; payload: { job: Job } }
  | { event: "failed"; payload: { message: string } };

/** Every refusal or failure, from the host or the shell: a code to branch on and a sentence. */
export interface Failure {
  code: ErrorCode;
  message: string;
}
