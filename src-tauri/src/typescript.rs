//! The UI's TypeScript declarations of what the desktop shell itself sends (host state, the job
//! mirror's snapshot and changes, a job's output stream), generated with ts-rs in a test like the
//! host's own types. `ui/src/lib/types/shell.ts` is checked in; the test fails when it is stale.
//! `SIDEKICK_WRITE_TYPES=1 cargo test --workspace --lib -- typescript` rewrites it.

use ts_rs::{Config, TS};

use crate::bridge::{HostState, JobChange, Snapshot};
use crate::output::{OutputLine, OutputMessage, TranscriptMessage};

fn render() -> String {
    let cfg = Config::new().with_large_int("number");
    let decls = [
        HostState::decl(&cfg),
        Snapshot::decl(&cfg),
        JobChange::decl(&cfg),
        OutputLine::decl(&cfg),
        OutputMessage::decl(&cfg),
        TranscriptMessage::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from src-tauri by its `typescript` test. Do not edit by hand:\n\
         // run `SIDEKICK_WRITE_TYPES=1 cargo test --workspace --lib -- typescript`.\n\
         import type { Event, Job, Stream } from \"./protocol\";\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(d.trim_end());
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn typescript_declarations_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/types/shell.ts");
    sidekick_testkit::check_generated(
        &path,
        &render(),
        "SIDEKICK_WRITE_TYPES=1 cargo test --workspace --lib -- typescript",
    );
}
