// What the desktop shell itself sends (src-tauri/src/bridge.rs and output.rs) is generated into
// ../types/shell.ts, the host's own types into ../types/protocol.ts.
import type { ApiError } from "../types/protocol";

export type * from "../types/shell";

/** Every refusal or failure, from the host or the shell: a code to branch on and a sentence. */
export type Failure = ApiError;
