// Generated from src-tauri by its `typescript` test. Do not edit by hand:
// run `SIDEKICK_WRITE_TYPES=1 cargo test --workspace --lib -- typescript`.
import type { Event, Job, Stream } from "./protocol";

export type HostState = { "status": "connecting" } | { "status": "connected", version: string, pid: number, home: string, } | { "status": "lost", message: string, };

export type Snapshot = { seq: number, loaded: boolean, jobs: Array<Job>, host: HostState, };

export type JobChange = { seq: number, job: Job, };

export type OutputLine = { seq: number, stream: Stream, text: string, 
/**
 * A piece of an over-long line that continues in the next line of the same stream.
 */
partial?: boolean, };

export type OutputMessage = { "event": "lines", "payload": { lines: Array<OutputLine>, } } | { "event": "ended", "payload": { job: Job, } } | { "event": "failed", "payload": { message: string, } };

export type TranscriptMessage = { "event": "events", "payload": { events: Event[], } } | { "event": "ended", "payload": { job: Job, } } | { "event": "failed", "payload": { message: string, } };
