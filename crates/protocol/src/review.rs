//! Review types: structured diffs and merge previews.

use serde::{Deserialize, Serialize};

/// A job's changes: base against head (or, while the job runs, against its worktree).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Diff {
    pub base: String,
    /// The commit compared, or `None` when the worktree's current state was diffed.
    pub head: Option<String>,
    pub files: Vec<FileDiff>,
    pub files_changed: u64,
    pub insertions: u64,
    pub deletions: u64,
    /// Some file was cut short by the per-file or per-diff cap.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    Copied,
    TypeChange,
}

impl FileStatus {
    /// git's one-letter status.
    pub fn letter(self) -> char {
        match self {
            FileStatus::Added => 'A',
            FileStatus::Modified => 'M',
            FileStatus::Deleted => 'D',
            FileStatus::Renamed => 'R',
            FileStatus::Copied => 'C',
            FileStatus::TypeChange => 'T',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FileDiff {
    pub path: String,
    /// The path before a rename or copy.
    pub old_path: Option<String>,
    pub status: FileStatus,
    pub binary: bool,
    /// Octal git modes (`100644`, `100755`, `120000` for symlinks); absent on the missing side.
    pub old_mode: Option<String>,
    pub new_mode: Option<String>,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
    /// Blob ids (full hex); absent on the missing side, and for worktree files not yet hashed.
    pub old_id: Option<String>,
    pub new_id: Option<String>,
    pub insertions: u64,
    pub deletions: u64,
    /// The hunks stop early (cap reached) or were not computed (file too large).
    pub truncated: bool,
    pub hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Hunk {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    /// The text after `@@ ... @@` (usually the enclosing function).
    pub header: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Context,
    Added,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiffLine {
    pub kind: LineKind,
    /// Absent on added lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_line: Option<u32>,
    /// Absent on deleted lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_line: Option<u32>,
    /// The line without its newline.
    pub text: String,
    /// The file's last line has no newline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_newline: bool,
    /// Byte ranges of `text` that changed against the paired line (word level).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
}

/// A half-open byte range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// One new commit on the target with the job's changes (the task as message).
    #[default]
    Squash,
    /// A merge commit joining the job's branch (`--no-ff`).
    Merge,
    /// The job's commits replayed onto the target, which then fast-forwards.
    Rebase,
}

impl MergeStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeStrategy::Squash => "squash",
            MergeStrategy::Merge => "merge",
            MergeStrategy::Rebase => "rebase",
        }
    }
}

/// One side of a diff: the base (`old`) or the job's changes (`new`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Old,
    #[default]
    New,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// `GET /v1/jobs/{job}/file?path=P&side=old|new`: a file as one side of the job's diff has it
/// (the base commit, or the job's head; a live job's worktree as it is now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FileLines {
    pub path: String,
    pub side: Side,
    /// The commit read; `None` for a live job's worktree.
    pub commit: Option<String>,
    /// There is no such file on that side.
    pub missing: bool,
    /// The content is not text (a NUL byte in its first 8,000 bytes): no lines.
    pub binary: bool,
    /// The lines without their newlines (invalid UTF-8 replaced).
    pub lines: Vec<String>,
}

/// A review comment on lines of a job's diff, kept by the host until the job is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Comment {
    pub id: u64,
    pub path: String,
    pub side: Side,
    /// The first and last line commented (1-based, inclusive) when the comment was made.
    pub line: u32,
    pub end_line: u32,
    /// Those lines as they read then.
    pub quote: Vec<String>,
    pub body: String,
    pub created_at: u64,
    /// When it went to the agent (`sidekick reply --comments`, the app's "Send to agent").
    pub sent_at: Option<u64>,
    /// Where the quoted lines are in the file now (the nearest place they still read the same);
    /// `None` when they no longer exist: the comment is outdated.
    pub now_line: Option<u32>,
}

impl Comment {
    pub fn outdated(&self) -> bool {
        self.now_line.is_none()
    }
}

/// `POST /v1/jobs/{job}/comments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NewComment {
    pub path: String,
    #[serde(default)]
    pub side: Side,
    pub line: u32,
    /// The last line of a range; `line` alone when absent.
    #[serde(default)]
    pub end_line: Option<u32>,
    pub body: String,
}

/// `PUT /v1/jobs/{job}/viewed` (and each entry of its `GET`): a file the user marked viewed in
/// the job's diff. `key` names the file's diff as it was then (the app's own hash of its
/// hunks), so a file that changed since shows unviewed; `None` unmarks it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Viewed {
    pub path: String,
    pub key: Option<String>,
}

/// Hunks of one file to merge, each named by its header's ranges as the job's diff shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HunkPick {
    pub path: String,
    pub hunks: Vec<HunkRange>,
}

/// A hunk's header: `@@ -old_start,old_lines +new_start,new_lines @@`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HunkRange {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
}

impl HunkRange {
    pub fn of(h: &Hunk) -> HunkRange {
        HunkRange {
            old_start: h.old_start,
            old_lines: h.old_lines,
            new_start: h.new_start,
            new_lines: h.new_lines,
        }
    }
}

/// `POST /v1/jobs/{job}/merge`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MergeRequest {
    #[serde(default)]
    pub strategy: MergeStrategy,
    /// The branch to merge into; the job's base branch when absent.
    pub into: Option<String>,
    /// Merge only these files (squash only); the rest stays on the job's branch.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Merge only these hunks of these files (squash only; with `paths`, as well as those
    /// files); the rest stays on the job's branch.
    #[serde(default)]
    pub hunks: Vec<HunkPick>,
    /// The commit message for a squash (or a merge commit's subject); the task's first line
    /// when absent. A `Sidekick-Job:` trailer is added.
    #[serde(default)]
    pub message: Option<String>,
    /// Stash the user's changes on paths the merge touches, merge, and re-apply them.
    #[serde(default)]
    pub autostash: bool,
    /// Only preview: nothing on disk changes.
    #[serde(default)]
    pub dry_run: bool,
    /// Also merge the files Sidekick copied into the job's worktree (local secrets such as
    /// `.env`) when the job's branch changes them; by default they are left out.
    #[serde(default)]
    pub include_copied: bool,
}

/// A path the merge cannot combine on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Conflict {
    pub path: String,
    /// `content`, `modify/delete`, `add/add`, `rename/delete`, `file/directory`, `mode`...
    pub kind: String,
}

/// A working tree where the target branch is checked out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CheckedOut {
    pub worktree: String,
    /// Paths with uncommitted changes there (staged, unstaged or untracked) that the merge
    /// would touch. Non-empty means the merge is refused unless autostash is asked for.
    pub dirty_overlap: Vec<String>,
}

/// What a merge would do, computed in memory against the target's current tip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MergePreview {
    pub target: String,
    pub target_tip: String,
    /// The job branch's tip that would be merged.
    pub job_head: String,
    pub merge_base: String,
    pub clean: bool,
    pub conflicts: Vec<Conflict>,
    /// The target has new commits since the job started.
    pub target_moved: bool,
    /// Paths the merge would change on the target.
    pub changed_paths: Vec<String>,
    pub checked_out: Vec<CheckedOut>,
    /// The job's branch is already contained in the target: nothing to merge.
    pub up_to_date: bool,
    /// A git operation in progress that the merge would break (a rebase of the target, a merge
    /// in its checkout...): the merge is refused until it is finished or aborted.
    #[serde(default)]
    pub blocked_by: Option<String>,
    /// Files Sidekick copied into the job's worktree that the job's branch changes (an agent
    /// committed them itself): the merge leaves them out unless `include_copied` is set.
    #[serde(default)]
    pub left_out: Vec<String>,
}

/// The answer to a merge (or its dry run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MergeResult {
    pub preview: MergePreview,
    /// The merge happened (false for a dry run).
    pub merged: bool,
    /// The target's new tip.
    pub commit: Option<String>,
    /// Where the user's stashed changes are when re-applying them after an autostash conflicted.
    pub stash_kept: Option<String>,
    /// One or two sentences for the user.
    pub message: String,
    pub job: crate::Job,
}

/// `sidekick gc`: what was (or would be) removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GcReport {
    pub dry_run: bool,
    pub removed: Vec<GcItem>,
    pub freed_bytes: u64,
    /// Jobs left alone because their repository is gone (moved or deleted): without it no
    /// snapshot can be kept. `sidekick discard --orphaned JOB` forgets one and deletes its folder.
    #[serde(default)]
    pub orphaned: Vec<GcItem>,
    /// Warm worktrees removed (or that would be): of repositories without a job for a week, or
    /// gone. Their bytes are in `freed_bytes`.
    #[serde(default)]
    pub warm_removed: Vec<String>,
}

/// `GET /v1/pool`: one repository's warm worktrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Pool {
    pub repo: String,
    /// How many it keeps (`warm_worktrees`, the repository's own or the host's).
    pub wanted: u32,
    pub worktrees: Vec<WarmWorktree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WarmWorktree {
    pub path: String,
    /// The commit it holds; `None` while it is being made.
    pub commit: Option<String>,
    pub bytes: u64,
    /// Checked and watched since: a job claims it without checking its files again.
    #[serde(default)]
    pub watched: bool,
    /// The repository's setup ran in it ahead of time (`setup_cache`).
    #[serde(default)]
    pub set_up: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GcItem {
    pub job_id: String,
    pub codename: String,
    pub worktree: String,
    pub bytes: u64,
    /// Where the job's work is kept: `refs/sidekick/snapshots/<id>`.
    pub snapshot: Option<String>,
}

/// The answer to undo, rebase, discard and restore: the job as it is now and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ActionResult {
    pub job: crate::Job,
    pub message: String,
}

/// `POST /v1/jobs/{job}/rebase`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RebaseRequest {
    pub into: Option<String>,
    /// Abort the rebase under way (stopped at conflicts): the branch goes back to where it was.
    #[serde(default)]
    pub abort: bool,
}

/// `POST /v1/jobs/JOB/discard` (an empty body is the default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiscardRequest {
    /// The job's repository is gone: forget the job and delete its folder (no snapshot).
    #[serde(default)]
    pub orphaned: bool,
}

/// `POST /v1/jobs/JOB/undo` (an empty body is the default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UndoRequest {
    /// Set the user's uncommitted changes on the paths the undo changes aside and put them back
    /// after (an undo of a merge that did so does it anyway).
    #[serde(default)]
    pub autostash: bool,
}

/// `POST /v1/gc`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct GcRequest {
    #[serde(default)]
    pub dry_run: bool,
}

/// Caps that keep huge inputs from hanging a diff (`[diff]` in config.toml; not on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffLimits {
    /// A file larger than this (either side) is listed without hunks.
    pub max_file_bytes: u64,
    /// Diff lines kept per file before it is marked truncated.
    pub max_file_lines: usize,
    /// Diff lines kept in all; later files are listed without hunks.
    pub max_total_lines: usize,
    /// Changed-line pairs longer than this get no word-level spans.
    pub max_word_diff_line: usize,
}

impl Default for DiffLimits {
    fn default() -> Self {
        DiffLimits {
            max_file_bytes: 16 * 1024 * 1024,
            max_file_lines: 200_000,
            max_total_lines: 1_000_000,
            max_word_diff_line: 2_000,
        }
    }
}

/// What `undo` needs to revert a merge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MergeRecord {
    pub target: String,
    /// The target's tip before the merge.
    pub previous_tip: String,
    /// The target's tip the merge made.
    pub commit: String,
    pub strategy: String,
    /// Only these paths were merged (the job stayed in review).
    #[serde(default)]
    pub paths: Vec<String>,
    /// The merge set the user's uncommitted changes aside and put them back: its undo does the
    /// same.
    #[serde(default)]
    pub autostash: bool,
}
