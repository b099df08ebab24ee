//! The UI's TypeScript declarations of these types, generated with ts-rs in a test so the
//! derive costs nothing outside tests. `ui/src/lib/types/protocol.ts` is checked in; the test
//! fails when it is stale. `SIDEKICK_WRITE_TYPES=1 cargo test -p sidekick-protocol` rewrites it.

use ts_rs::{Config, TS};

use crate::*;

macro_rules! declarations {
    ($cfg:expr; $($t:ty),* $(,)?) => {
        vec![$(format!("export {}", <$t as TS>::decl($cfg))),*]
    };
}

fn render() -> String {
    // Every integer on the wire fits in a double (times in ms, counts, sizes, seq).
    let cfg = Config::new().with_large_int("number");
    let decls = declarations![&cfg;
        JobState, Attention, Counts, Job, ArchiveRequest, Request, Preview, PreviewFile, FieldProblem, AnswerRequest, ReplyRequest, Tokens, Stream, Level, Event, EventBody, Entry, PlanItem, SpawnRequest, ContextMode, Sandbox, SandboxMode, AutoMerge, AutoMergeOutcome, RetryRequest, Settings, NotificationSettings, AgentSettings, SettingsChange, SettingValue, NotificationTest, AgentInfo, RepoInfo,
        Health, TaskInput, TaskTypeInfo, ApiError, ErrorCode, Diff, FileStatus, FileDiff, Hunk, LineKind, DiffLine, Span,
        MergeStrategy, MergeRequest, Conflict, CheckedOut, MergePreview, MergeResult, GcReport,
        GcItem, ActionResult, RebaseRequest, GcRequest, Side, FileLines, Comment, NewComment, HunkPick,
        HunkRange, Viewed, Pool, WarmWorktree, TrustInfo, TaskCommand, TrustRequest,
        PullRequest, PrState, CheckState, Checks, CheckRun, ReviewState, PrRequest, Secret,
        ForgeTokens, PrOpenMode, IssueRef,
    ];
    let mut out = String::from(
        "// Generated from crates/protocol by its `typescript` test. Do not edit by hand:\n\
         // run `SIDEKICK_WRITE_TYPES=1 cargo test -p sidekick-protocol typescript`.\n\n",
    );
    for d in decls {
        out.push_str(d.trim_end());
        out.push_str("\n\n");
    }
    // The one rule of where a job sits, as data (see `JobState::attention`).
    out.push_str(
        "/** Where a job in each state sits in the status bar (`JobState::attention`). */\n",
    );
    out.push_str("export const ATTENTION: Record<JobState, Attention> = {\n");
    for state in JobState::ALL {
        let a = serde_json::to_string(&state.attention()).unwrap_or_default();
        out.push_str(&format!("  {}: {a},\n", state.as_str()));
    }
    out.push_str("};\n");
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn typescript_declarations_are_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/types/protocol.ts");
    sidekick_testkit::check_generated(
        &path,
        &render(),
        "SIDEKICK_WRITE_TYPES=1 cargo test --workspace --lib -- typescript",
    );
}
