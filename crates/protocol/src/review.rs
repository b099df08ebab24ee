//! Review types: structured diffs and merge previews.

use serde::{Deserialize, Serialize};

/// A job's changes: base against head (or, while the job runs, against its worktree).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Context,
    Added,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: LineKind,
    pub old_line: Option<u32>,
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
pub struct Span {
    pub start: u32,
    pub end: u32,
}
