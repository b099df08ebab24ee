//! Structured diffs: libgit2 finds the files and hunks (xdiff, as git does), `similar` marks the
//! changed words inside paired lines. Large inputs are capped, never waited on.

use std::path::Path;

use git2::{Delta, DiffFindOptions, DiffOptions, Patch, Repository};
use sidekick_protocol::{Diff, DiffLine, FileDiff, FileStatus, Hunk, LineKind, Span};

use crate::repo::RepoError;

pub use sidekick_protocol::DiffLimits;

/// The diff between two commits (`from..to`) of an open (possibly cached) repository, renames
/// detected.
pub fn diff_commits_in(
    repo: &Repository,
    from: &str,
    to: &str,
    limits: &DiffLimits,
) -> Result<Diff, RepoError> {
    let diff = commits_diff(repo, from, to, base_options())?;
    let mut out = build(repo, &diff, limits, &[])?;
    out.base = from.to_string();
    out.head = Some(to.to_string());
    Ok(out)
}

/// The diff between a commit and a worktree as it is now, untracked files included (honouring
/// .gitignore). Reads the index but never locks or writes it, so an agent at work is not
/// disturbed.
pub fn diff_worktree(worktree: &Path, from: &str, limits: &DiffLimits) -> Result<Diff, RepoError> {
    let repo = Repository::open(worktree)?;
    let diff = worktree_diff(&repo, from, base_options())?;
    let mut out = build(&repo, &diff, limits, &crate::copy::keep_out(repo.path()))?;
    out.base = from.to_string();
    out.head = None;
    Ok(out)
}

/// The diff between two commits as a plain unified patch (what `git diff A B` prints, with
/// full blob ids on the `index` lines), written by libgit2 straight from the diff: no
/// structured diff is built on the way. A file over `max_file_bytes` is shown as binary (its
/// lines are not read); the line caps are the structured view's, not the patch's.
pub fn patch_commits_in(
    repo: &Repository,
    from: &str,
    to: &str,
    limits: &DiffLimits,
) -> Result<Vec<u8>, RepoError> {
    print_patch(&commits_diff(repo, from, to, patch_options(limits))?, &[])
}

/// A worktree as it is now against `from`, as a plain patch (untracked files included, the
/// files Sidekick copied in left out), like [`diff_worktree`].
pub fn patch_worktree(
    worktree: &Path,
    from: &str,
    limits: &DiffLimits,
) -> Result<Vec<u8>, RepoError> {
    let repo = Repository::open(worktree)?;
    let diff = worktree_diff(&repo, from, patch_options(limits))?;
    print_patch(&diff, &crate::copy::keep_out(repo.path()))
}

/// `from..to` as libgit2 diffs it, renames found: what the structured diff and the patch read.
fn commits_diff<'r>(
    repo: &'r Repository,
    from: &str,
    to: &str,
    mut opts: DiffOptions,
) -> Result<git2::Diff<'r>, RepoError> {
    let a = repo.revparse_single(from)?.peel_to_tree()?;
    let b = repo.revparse_single(to)?.peel_to_tree()?;
    let mut diff = repo.diff_tree_to_tree(Some(&a), Some(&b), Some(&mut opts))?;
    find_renames(&mut diff, false)?;
    Ok(diff)
}

/// `from` against the worktree of `repo` as it is now, untracked files included, the index
/// read but never written.
fn worktree_diff<'r>(
    repo: &'r Repository,
    from: &str,
    mut opts: DiffOptions,
) -> Result<git2::Diff<'r>, RepoError> {
    let a = repo.revparse_single(from)?.peel_to_tree()?;
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .show_untracked_content(true)
        .update_index(false);
    let mut diff = repo.diff_tree_to_workdir(Some(&a), Some(&mut opts))?;
    find_renames(&mut diff, true)?;
    Ok(diff)
}

/// The patch's options: a file over the size cap is not read (shown as binary).
fn patch_options(limits: &DiffLimits) -> DiffOptions {
    let mut opts = base_options();
    opts.max_size(limits.max_file_bytes.min(i64::MAX as u64) as i64);
    opts
}

fn print_patch(diff: &git2::Diff<'_>, skip: &[String]) -> Result<Vec<u8>, RepoError> {
    let mut out = Vec::new();
    diff.print(git2::DiffFormat::Patch, |delta, _hunk, line| {
        let path = delta
            .new_file()
            .path()
            .or_else(|| delta.old_file().path())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !skip.contains(&path) {
            if let origin @ ('+' | '-' | ' ') = line.origin() {
                out.push(origin as u8);
            }
            out.extend_from_slice(line.content());
        }
        true
    })?;
    Ok(out)
}

fn base_options() -> DiffOptions {
    let mut opts = DiffOptions::new();
    opts.include_typechange(true).context_lines(3).id_abbrev(40);
    opts
}

fn find_renames(diff: &mut git2::Diff<'_>, untracked: bool) -> Result<(), RepoError> {
    let mut find = DiffFindOptions::new();
    find.renames(true).copies(false).for_untracked(untracked);
    diff.find_similar(Some(&mut find))?;
    Ok(())
}

fn mode_string(mode: git2::FileMode) -> Option<String> {
    let raw: u32 = mode.into();
    (raw != 0).then(|| format!("{raw:06o}"))
}

fn status_of(delta: Delta) -> Option<FileStatus> {
    Some(match delta {
        Delta::Added | Delta::Untracked => FileStatus::Added,
        Delta::Deleted => FileStatus::Deleted,
        Delta::Modified => FileStatus::Modified,
        Delta::Renamed => FileStatus::Renamed,
        Delta::Copied => FileStatus::Copied,
        Delta::Typechange => FileStatus::TypeChange,
        Delta::Unmodified | Delta::Ignored | Delta::Unreadable | Delta::Conflicted => return None,
    })
}

/// Size of one side: the blob's size from the object database, or the file's in the worktree.
fn side_size(repo: &Repository, file: &git2::DiffFile<'_>) -> Option<u64> {
    if !file.exists() {
        return None;
    }
    if !file.id().is_zero() {
        if let Ok(odb) = repo.odb() {
            if let Ok((size, _)) = odb.read_header(file.id()) {
                return Some(size as u64);
            }
        }
    }
    let path = repo.workdir()?.join(file.path()?);
    std::fs::symlink_metadata(path).ok().map(|m| m.len())
}

fn blob_id(file: &git2::DiffFile<'_>) -> Option<String> {
    (file.exists() && !file.id().is_zero()).then(|| file.id().to_string())
}

/// `skip`: paths left out (the files Sidekick copied into a worktree).
fn build(
    repo: &Repository,
    diff: &git2::Diff<'_>,
    limits: &DiffLimits,
    skip: &[String],
) -> Result<Diff, RepoError> {
    let mut out = Diff::default();
    let mut total_lines = 0usize;
    for idx in 0..diff.deltas().len() {
        let Some(delta) = diff.get_delta(idx) else {
            continue;
        };
        let Some(status) = status_of(delta.status()) else {
            continue;
        };
        let old = delta.old_file();
        let new = delta.new_file();
        let path = new
            .path()
            .or_else(|| old.path())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if skip.contains(&path) {
            continue;
        }
        let old_path = matches!(status, FileStatus::Renamed | FileStatus::Copied)
            .then(|| old.path().map(|p| p.to_string_lossy().into_owned()))
            .flatten();
        let old_size = side_size(repo, &old);
        let new_size = side_size(repo, &new);
        let mut file = FileDiff {
            path,
            old_path,
            status,
            binary: false,
            old_mode: old.exists().then(|| mode_string(old.mode())).flatten(),
            new_mode: new.exists().then(|| mode_string(new.mode())).flatten(),
            old_size,
            new_size,
            old_id: blob_id(&old),
            new_id: blob_id(&new),
            insertions: 0,
            deletions: 0,
            truncated: false,
            hunks: Vec::new(),
        };
        let too_big = old_size.unwrap_or(0) > limits.max_file_bytes
            || new_size.unwrap_or(0) > limits.max_file_bytes;
        if too_big || total_lines >= limits.max_total_lines {
            file.truncated = true;
            file.binary = delta.flags().is_binary();
            out.truncated = true;
            out.files.push(file);
            continue;
        }
        let Some(mut patch) = Patch::from_diff(diff, idx)? else {
            out.files.push(file);
            continue;
        };
        if patch.delta().flags().is_binary() {
            file.binary = true;
            out.files.push(file);
            continue;
        }
        let (_, ins, del) = patch.line_stats()?;
        file.insertions = ins as u64;
        file.deletions = del as u64;
        let budget = limits
            .max_file_lines
            .min(limits.max_total_lines.saturating_sub(total_lines));
        let (hunks, used, cut) = read_hunks(&mut patch, budget, limits)?;
        total_lines += used;
        file.hunks = hunks;
        if cut {
            file.truncated = true;
            out.truncated = true;
        }
        out.files.push(file);
    }
    out.files_changed = out.files.len() as u64;
    out.insertions = out.files.iter().map(|f| f.insertions).sum();
    out.deletions = out.files.iter().map(|f| f.deletions).sum();
    Ok(out)
}

/// Reads hunks until `budget` lines; returns them, the lines used and whether it stopped early.
fn read_hunks(
    patch: &mut Patch<'_>,
    budget: usize,
    limits: &DiffLimits,
) -> Result<(Vec<Hunk>, usize, bool), RepoError> {
    let mut hunks = Vec::with_capacity(patch.num_hunks());
    let mut used = 0usize;
    for h in 0..patch.num_hunks() {
        let (hunk, n) = patch.hunk(h)?;
        // A hunk past the budget is cut to the lines that fit (its header keeps the whole
        // hunk's range): one huge hunk still shows its first lines.
        let room = budget.saturating_sub(used);
        if room == 0 {
            return Ok((hunks, used, true));
        }
        let cut = n > room;
        let n = n.min(room);
        let header = String::from_utf8_lossy(hunk.header());
        let header = header
            .trim_end()
            .split_once("@@")
            .and_then(|(_, rest)| rest.split_once("@@"))
            .map(|(_, text)| text.trim().to_string())
            .unwrap_or_default();
        let mut lines: Vec<DiffLine> = Vec::with_capacity(n);
        for l in 0..n {
            let line = patch.line_in_hunk(h, l)?;
            let kind = match line.origin() {
                '+' => LineKind::Added,
                '-' => LineKind::Deleted,
                ' ' => LineKind::Context,
                // "\ No newline at end of file" markers belong to the line before them.
                '=' | '>' | '<' => {
                    if let Some(prev) = lines.last_mut() {
                        prev.no_newline = true;
                    }
                    continue;
                }
                _ => continue,
            };
            let mut content = line.content();
            if let Some(stripped) = content.strip_suffix(b"\n") {
                content = stripped;
            }
            lines.push(DiffLine {
                kind,
                old_line: line.old_lineno(),
                new_line: line.new_lineno(),
                text: String::from_utf8_lossy(content).into_owned(),
                no_newline: false,
                spans: Vec::new(),
            });
        }
        used += lines.len();
        mark_word_changes(&mut lines, limits.max_word_diff_line);
        hunks.push(Hunk {
            old_start: hunk.old_start(),
            old_lines: hunk.old_lines(),
            new_start: hunk.new_start(),
            new_lines: hunk.new_lines(),
            header,
            lines,
        });
        if cut {
            return Ok((hunks, used, true));
        }
    }
    Ok((hunks, used, false))
}

/// Pairs each run of deleted lines with the added lines that follow it (first with first) and
/// marks the words that differ in each pair.
pub fn mark_word_changes(lines: &mut [DiffLine], max_len: usize) {
    let mut i = 0;
    while i < lines.len() {
        if lines[i].kind != LineKind::Deleted {
            i += 1;
            continue;
        }
        let del_start = i;
        while i < lines.len() && lines[i].kind == LineKind::Deleted {
            i += 1;
        }
        let add_start = i;
        while i < lines.len() && lines[i].kind == LineKind::Added {
            i += 1;
        }
        let pairs = (add_start - del_start).min(i - add_start);
        for k in 0..pairs {
            let (old, new) = (&lines[del_start + k].text, &lines[add_start + k].text);
            if old.len() > max_len || new.len() > max_len {
                continue;
            }
            let (old_spans, new_spans) = word_spans(old, new);
            lines[del_start + k].spans = old_spans;
            lines[add_start + k].spans = new_spans;
        }
    }
}

/// Splits a line into code-sized tokens: runs of letters, digits and `_`, runs of whitespace,
/// and every other character on its own (so `b;` is `b` and `;`).
fn tokens(line: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Word,
        Space,
        Other,
    }
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' {
            Class::Word
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Other
        }
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<Class> = None;
    for (i, c) in line.char_indices() {
        let k = class(c);
        if let Some(p) = prev {
            if p != k || k == Class::Other {
                out.push(&line[start..i]);
                start = i;
            }
        }
        prev = Some(k);
    }
    if start < line.len() {
        out.push(&line[start..]);
    }
    out
}

/// Byte ranges that differ between two lines, token by token (Myers).
pub fn word_spans(old: &str, new: &str) -> (Vec<Span>, Vec<Span>) {
    use similar::{capture_diff_slices, Algorithm, DiffTag};
    let (a, b) = (tokens(old), tokens(new));
    let offsets = |toks: &[&str]| -> Vec<u32> {
        let mut at = 0u32;
        let mut v = Vec::with_capacity(toks.len() + 1);
        for t in toks {
            v.push(at);
            at += t.len() as u32;
        }
        v.push(at);
        v
    };
    let (oa, ob) = (offsets(&a), offsets(&b));
    // Most edits change a token or two: only the middle between the common prefix and suffix
    // needs Myers.
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_a, mid_b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let (mut old_spans, mut new_spans): (Vec<Span>, Vec<Span>) = (Vec::new(), Vec::new());
    let mut push = |r_old: std::ops::Range<usize>, r_new: std::ops::Range<usize>| {
        if !r_old.is_empty() {
            old_spans.push(Span {
                start: oa[prefix + r_old.start],
                end: oa[prefix + r_old.end],
            });
        }
        if !r_new.is_empty() {
            new_spans.push(Span {
                start: ob[prefix + r_new.start],
                end: ob[prefix + r_new.end],
            });
        }
    };
    if mid_a.is_empty() || mid_b.is_empty() {
        push(0..mid_a.len(), 0..mid_b.len());
    } else {
        for op in capture_diff_slices(Algorithm::Myers, mid_a, mid_b) {
            let (tag, r_old, r_new) = op.as_tag_tuple();
            if tag != DiffTag::Equal {
                push(r_old, r_new);
            }
        }
    }
    (old_spans, new_spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_spans_cover_only_the_changed_words() {
        let (o, n) = word_spans("let total = a + b;", "let sum = a + c;");
        let pick = |s: &str, spans: &[Span]| -> Vec<String> {
            spans
                .iter()
                .map(|sp| s[sp.start as usize..sp.end as usize].to_string())
                .collect()
        };
        assert_eq!(pick("let total = a + b;", &o), vec!["total", "b"]);
        assert_eq!(pick("let sum = a + c;", &n), vec!["sum", "c"]);
        let (o, n) = word_spans("same", "same");
        assert!(o.is_empty() && n.is_empty());
        let (o, n) = word_spans("é = f(x)", "é = g(x, y)");
        assert_eq!(pick("é = f(x)", &o), vec!["f"]);
        assert_eq!(pick("é = g(x, y)", &n), vec!["g", ", y"]);
        assert_eq!(tokens("a_b1 ;c"), vec!["a_b1", " ", ";", "c"]);
        // Pure insertions and deletions at either end.
        let (o, n) = word_spans("call(a)", "call(a, b)");
        assert!(o.is_empty());
        assert_eq!(pick("call(a, b)", &n), vec![", b"]);
        let (o, n) = word_spans("x = 1 + 2", "x = 1");
        assert_eq!(pick("x = 1 + 2", &o), vec![" + 2"]);
        assert!(n.is_empty());
    }

    #[test]
    fn runs_of_deletions_pair_with_the_additions_after_them() {
        let line = |kind, text: &str| DiffLine {
            kind,
            old_line: None,
            new_line: None,
            text: text.into(),
            no_newline: false,
            spans: vec![],
        };
        let mut lines = vec![
            line(LineKind::Context, "ctx"),
            line(LineKind::Deleted, "alpha one"),
            line(LineKind::Deleted, "beta two"),
            line(LineKind::Added, "alpha 1"),
            line(LineKind::Context, "ctx"),
            line(LineKind::Added, "lonely add"),
        ];
        mark_word_changes(&mut lines, 100);
        assert_eq!(lines[1].spans, vec![Span { start: 6, end: 9 }]);
        assert_eq!(lines[3].spans, vec![Span { start: 6, end: 7 }]);
        assert!(lines[2].spans.is_empty(), "no partner");
        assert!(lines[5].spans.is_empty());
    }
}
