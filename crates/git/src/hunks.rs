//! Chosen hunks of a file: the base's content with exactly those hunks of the job's change
//! applied (the rest of the file as the base has it). The hunks are the ones the job's diff
//! shows (libgit2's xdiff, three lines of context), named by their headers, so a stale choice
//! is refused instead of applied somewhere else.

use std::path::Path;

use git2::{DiffOptions, Oid, Patch, Repository};
use sidekick_protocol::HunkRange;

use crate::repo::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum HunkError {
    #[error("{path} has no hunk {range} in the job's diff any more; load the diff again and choose again")]
    Stale { path: String, range: String },
    #[error(
        "{path} is added, deleted or renamed by the job; merge the whole file instead of hunks"
    )]
    WholeFileOnly { path: String },
    #[error("{path} is not text; merge the whole file instead of hunks")]
    Binary { path: String },
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<git2::Error> for HunkError {
    fn from(e: git2::Error) -> Self {
        HunkError::Repo(e.into())
    }
}

fn header(r: &HunkRange) -> String {
    format!(
        "@@ -{},{} +{},{} @@",
        r.old_start, r.old_lines, r.new_start, r.new_lines
    )
}

/// `old` with the hunks of `old → new` named in `picked` applied, byte for byte: untouched
/// lines (and their line endings) are copied from `old`, added lines from `new`.
pub fn apply(
    old: &[u8],
    new: &[u8],
    path: &str,
    picked: &[HunkRange],
) -> Result<Vec<u8>, HunkError> {
    let mut opts = DiffOptions::new();
    opts.context_lines(3);
    let p = Some(Path::new(path));
    let patch = Patch::from_buffers(old, p, new, p, Some(&mut opts))?;
    if patch.delta().flags().is_binary() {
        return Err(HunkError::Binary { path: path.into() });
    }
    let old_lines: Vec<&[u8]> = old.split_inclusive(|b| *b == b'\n').collect();
    let stale = |r: &HunkRange| HunkError::Stale {
        path: path.into(),
        range: header(r),
    };
    let mut used = vec![false; picked.len()];
    let mut out = Vec::with_capacity(old.len().max(new.len()));
    let mut pos = 0usize;
    let copy_old = |out: &mut Vec<u8>, from: usize, to: usize| -> Result<(), HunkError> {
        let lines = old_lines.get(from..to).ok_or_else(|| HunkError::Stale {
            path: path.into(),
            range: format!("at line {}", from + 1),
        })?;
        for l in lines {
            out.extend_from_slice(l);
        }
        Ok(())
    };
    for h in 0..patch.num_hunks() {
        let (hunk, n) = patch.hunk(h)?;
        let range = HunkRange {
            old_start: hunk.old_start(),
            old_lines: hunk.old_lines(),
            new_start: hunk.new_start(),
            new_lines: hunk.new_lines(),
        };
        let take = match picked.iter().position(|p| *p == range) {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        };
        // A hunk that only adds names the line it follows; any other its first line.
        let begin = if range.old_lines == 0 {
            range.old_start as usize
        } else {
            (range.old_start as usize).saturating_sub(1)
        };
        copy_old(&mut out, pos, begin)?;
        pos = begin;
        for l in 0..n {
            let line = patch.line_in_hunk(h, l)?;
            match line.origin() {
                ' ' => {
                    copy_old(&mut out, pos, pos + 1)?;
                    pos += 1;
                }
                '-' => {
                    if !take {
                        copy_old(&mut out, pos, pos + 1)?;
                    }
                    pos += 1;
                }
                '+' if take => out.extend_from_slice(line.content()),
                // Added lines of a hunk left out, and the end-of-file newline markers.
                _ => {}
            }
        }
    }
    copy_old(&mut out, pos, old_lines.len())?;
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(stale(&picked[i]));
    }
    Ok(out)
}

/// `tree` with each picked file's blob replaced by the base's content plus the chosen hunks of
/// the job's change (`base` → `head`, the trees the job's diff compares).
pub fn tree_with_hunks(
    repo: &Repository,
    tree: Oid,
    base: Oid,
    head: Oid,
    picks: &[sidekick_protocol::HunkPick],
) -> Result<Oid, HunkError> {
    let base_tree = repo.find_tree(base)?;
    let head_tree = repo.find_tree(head)?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    for pick in picks {
        let whole = || HunkError::WholeFileOnly {
            path: pick.path.clone(),
        };
        let entry_of = |t: &git2::Tree<'_>| match t.get_path(Path::new(&pick.path)) {
            Ok(e) if e.kind() == Some(git2::ObjectType::Blob) => Ok(e.to_owned()),
            _ => Err(whole()),
        };
        let (old, new) = (entry_of(&base_tree)?, entry_of(&head_tree)?);
        let old_blob = repo.find_blob(old.id())?;
        let new_blob = repo.find_blob(new.id())?;
        let content = apply(
            old_blob.content(),
            new_blob.content(),
            &pick.path,
            &pick.hunks,
        )?;
        let id = repo.blob(&content)?;
        // The mode stays the base's: a mode change is not a hunk.
        let mode = if old.filemode() == i32::from(git2::FileMode::BlobExecutable) {
            git2::FileMode::BlobExecutable
        } else {
            git2::FileMode::Blob
        };
        update.upsert(pick.path.as_str(), id, mode);
    }
    Ok(update.create_updated(repo, &repo.find_tree(tree)?)?)
}

/// A hunk that cannot be applied is the request's fault; git's own failure stays git's.
impl From<HunkError> for crate::ReviewError {
    fn from(e: HunkError) -> Self {
        match e {
            HunkError::Repo(r) => crate::ReviewError::Repo(r),
            other => crate::ReviewError::BadRequest(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunks_of(old: &[u8], new: &[u8]) -> Vec<HunkRange> {
        let mut opts = DiffOptions::new();
        opts.context_lines(3);
        let patch = Patch::from_buffers(old, None, new, None, Some(&mut opts)).expect("patch");
        (0..patch.num_hunks())
            .map(|h| {
                let (x, _) = patch.hunk(h).expect("hunk");
                HunkRange {
                    old_start: x.old_start(),
                    old_lines: x.old_lines(),
                    new_start: x.new_start(),
                    new_lines: x.new_lines(),
                }
            })
            .collect()
    }

    fn numbered(n: usize, change: &[(usize, &str)]) -> Vec<u8> {
        let mut s = String::new();
        for i in 1..=n {
            match change.iter().find(|(at, _)| *at == i) {
                Some((_, t)) => s.push_str(t),
                None => s.push_str(&format!("line {i}\n")),
            }
        }
        s.into_bytes()
    }

    #[test]
    fn all_hunks_give_the_new_file_and_none_the_old() {
        let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (
                numbered(40, &[]),
                numbered(40, &[(2, "two\n"), (20, ""), (39, "x\ny\nz\n")]),
            ),
            (b"a\nb".to_vec(), b"a\nb\nc\n".to_vec()),
            (b"a\nb\n".to_vec(), b"a\nB".to_vec()),
            (b"a\r\nb\r\n".to_vec(), b"a\r\nc\r\nb\r\n".to_vec()),
            (b"".to_vec(), b"".to_vec()),
            (b"x\n".to_vec(), b"new first\nx\n".to_vec()),
            (numbered(10, &[]), numbered(10, &[(10, "")])),
        ];
        for (old, new) in cases {
            let all = hunks_of(&old, &new);
            assert_eq!(
                apply(&old, &new, "f", &all).expect("all"),
                new,
                "{:?}",
                String::from_utf8_lossy(&new)
            );
            assert_eq!(apply(&old, &new, "f", &[]).expect("none"), old);
        }
    }

    #[test]
    fn one_hunk_of_two_changes_only_its_lines() {
        let old = numbered(40, &[]);
        let new = numbered(40, &[(2, "two\n"), (35, "thirty-five\n")]);
        let hunks = hunks_of(&old, &new);
        assert_eq!(hunks.len(), 2);
        let first = apply(&old, &new, "f", &hunks[..1]).expect("first");
        assert_eq!(first, numbered(40, &[(2, "two\n")]));
        let second = apply(&old, &new, "f", &hunks[1..]).expect("second");
        assert_eq!(second, numbered(40, &[(35, "thirty-five\n")]));
    }

    #[test]
    fn a_hunk_not_in_the_diff_is_refused() {
        let old = numbered(10, &[]);
        let new = numbered(10, &[(5, "five\n")]);
        let mut wrong = hunks_of(&old, &new)[0];
        wrong.new_lines += 1;
        assert!(matches!(
            apply(&old, &new, "f", &[wrong]),
            Err(HunkError::Stale { .. })
        ));
    }
}
