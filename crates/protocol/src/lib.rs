//! Wire types shared by the Sidekick host, its clients (CLI, desktop app) and the UI.
//!
//! Everything here is plain data with serde derives. JSON uses snake_case keys; times are
//! milliseconds since the Unix epoch; durations are milliseconds.

mod duration;
mod error;
mod event;
mod forge;
mod info;
mod job;
mod paths;
pub mod private;
mod request;
mod review;
mod settings;
pub mod text;
#[cfg(test)]
mod typescript;

pub use duration::{format_duration, parse_duration, DurationError};
pub use error::{ApiError, ErrorCode, FieldProblem};
pub use event::{Entry, Event, EventBody, Level, PlanItem, Stream};
pub use forge::{
    CheckRun, CheckState, Checks, ForgeTokens, IssueRef, PrOpenMode, PrRequest, PrState,
    PullRequest, ReviewState, Secret,
};
pub use info::{
    AgentInfo, Health, NotificationTest, RepoInfo, TaskCommand, TaskInput, TaskTypeInfo, TrustInfo,
};
pub use job::{
    Attention, AutoMerge, AutoMergeOutcome, Counts, Job, JobState, Sandbox, SandboxMode, Tokens,
};
pub use paths::{sibling_program, Home};
pub use request::{
    AnswerRequest, ArchiveRequest, ContextMode, Preview, PreviewFile, ReplyRequest, Request,
    RetryRequest, SpawnRequest, TrustRequest,
};
pub use review::{
    ActionResult, CheckedOut, Comment, Conflict, Diff, DiffLimits, DiffLine, DiscardRequest,
    FileDiff, FileLines, FileStatus, GcItem, GcReport, GcRequest, Hunk, HunkPick, HunkRange,
    LineKind, MergePreview, MergeRecord, MergeRequest, MergeResult, MergeStrategy, NewComment,
    Pool, RebaseRequest, Side, Span, UndoRequest, Viewed, WarmWorktree,
};
pub use settings::{AgentSettings, NotificationSettings, SettingValue, Settings, SettingsChange};

#[cfg(test)]
mod tests;
