//! The repository's `copy` files (local secrets such as `.env`, untracked or with local edits)
//! brought into a job's worktree.
//!
//! Two promises (safety rules 5 and 7): nothing is read from or written through a symlink that
//! leaves the repository or the worktree, and what was copied in is never committed. The paths
//! are recorded in the worktree's own git folder ([`KEEP_OUT`]) before anything is copied, so
//! every commit Sidekick makes there (the job's end, a recovery, a snapshot) leaves them out.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use git2::Repository;

/// The file in a worktree's git folder naming the paths Sidekick copied in, one per line.
pub const KEEP_OUT: &str = "sidekick-keep-out";

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("it is not a plain relative path inside the repository")]
    BadPath,
    #[error("it is inside the repository's .git folder")]
    GitFolder,
    #[error("it does not exist in {0}")]
    Missing(PathBuf),
    #[error("it leads out of the repository through a symlink ({0})")]
    LeavesRepo(PathBuf),
    #[error("it is a folder; only files are copied")]
    Folder,
    #[error("it is not a regular file")]
    NotAFile,
    #[error("{0} in the worktree is a symlink; Sidekick never writes through one")]
    LinkInWorktree(String),
    #[error("{0} in the worktree is not a folder")]
    NotAFolderInWorktree(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot open the worktree's repository: {0}")]
    Git(#[from] git2::Error),
}

/// Checks that `rel` is a plain relative path (no `..`, no root, no `.git`), as components.
pub(crate) fn plain_components(rel: &str) -> Result<Vec<&std::ffi::OsStr>, CopyError> {
    let mut parts = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) if p == ".git" => return Err(CopyError::GitFolder),
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            _ => return Err(CopyError::BadPath),
        }
    }
    if parts.is_empty() {
        return Err(CopyError::BadPath);
    }
    Ok(parts)
}

/// Records `paths` as Sidekick's own in the worktree's git folder, so its commits leave them out.
pub fn record_keep_out(worktree: &Path, paths: &[String]) -> Result<(), CopyError> {
    let git_dir = Repository::open(worktree)?.path().to_path_buf();
    let mut text = String::new();
    for p in paths {
        if plain_components(p).is_ok() && !p.contains('\n') {
            text.push_str(p);
            text.push('\n');
        }
    }
    std::fs::write(git_dir.join(KEEP_OUT), text)?;
    Ok(())
}

/// The paths recorded by [`record_keep_out`] for the worktree whose git folder is `git_dir`.
pub fn keep_out(git_dir: &Path) -> Vec<String> {
    std::fs::read_to_string(git_dir.join(KEEP_OUT))
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Copies `rel` from `repo` into `worktree`. The source may be reached through symlinks that
/// stay inside the repository; the destination's folders are created one at a time and none
/// may be a symlink; the file is written beside its destination and renamed into place, so a
/// link already standing there is replaced, never followed.
pub fn copy_file(repo: &Path, worktree: &Path, rel: &str) -> Result<(), CopyError> {
    let parts = plain_components(rel)?;
    let root = repo.canonicalize()?;
    let src = match repo.join(rel).canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CopyError::Missing(repo.to_path_buf()))
        }
        Err(e) => return Err(e.into()),
    };
    if !src.starts_with(&root) {
        return Err(CopyError::LeavesRepo(src));
    }
    if src.starts_with(root.join(".git")) {
        return Err(CopyError::GitFolder);
    }
    let meta = std::fs::metadata(&src)?;
    if meta.is_dir() {
        return Err(CopyError::Folder);
    }
    if !meta.is_file() {
        return Err(CopyError::NotAFile);
    }

    let (name, folders) = parts.split_last().ok_or(CopyError::BadPath)?;
    let mut dir = worktree.to_path_buf();
    let mut shown = PathBuf::new();
    for part in folders {
        dir.push(part);
        shown.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(CopyError::LinkInWorktree(shown.display().to_string()))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(CopyError::NotAFolderInWorktree(shown.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&dir)?,
            Err(e) => return Err(e.into()),
        }
    }
    let dest = dir.join(name);
    if let Ok(m) = std::fs::symlink_metadata(&dest) {
        if m.file_type().is_symlink() {
            return Err(CopyError::LinkInWorktree(rel.to_string()));
        }
        if m.is_dir() {
            return Err(CopyError::NotAFile);
        }
    }
    let tmp = dir.join(format!(".{}.sidekick-copy", name.to_string_lossy()));
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut input = std::fs::File::open(&src)?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(meta.permissions().mode() & 0o777)
            .open(&tmp)?;
        std::io::copy(&mut input, &mut out)?;
        out.flush()?;
        std::fs::rename(&tmp, &dest)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(written?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = tmp.path().join("repo");
        let wt = tmp.path().join("wt");
        let outside = tmp.path().join("outside");
        for d in [&repo, &wt, &outside] {
            std::fs::create_dir(d).expect("mkdir");
        }
        (tmp, repo, wt, outside)
    }

    #[test]
    fn copies_plain_files_and_links_that_stay_inside() {
        let (_t, repo, wt, _o) = dirs();
        std::fs::create_dir(repo.join("config")).expect("mkdir");
        std::fs::write(repo.join("config/local.toml"), "pw = 1\n").expect("write");
        symlink("config/local.toml", repo.join(".env")).expect("link");
        copy_file(&repo, &wt, "config/local.toml").expect("copy");
        copy_file(&repo, &wt, ".env").expect("copy through an inner link");
        assert_eq!(
            std::fs::read_to_string(wt.join("config/local.toml")).expect("read"),
            "pw = 1\n"
        );
        let env = std::fs::symlink_metadata(wt.join(".env")).expect("meta");
        assert!(env.is_file(), "the copy is a file, not a link");
        assert_eq!(
            std::fs::read_to_string(wt.join(".env")).expect("read"),
            "pw = 1\n"
        );
    }

    #[test]
    fn refuses_sources_that_leave_the_repository() {
        let (_t, repo, wt, outside) = dirs();
        std::fs::write(outside.join("secret"), "s").expect("write");
        symlink(&outside, repo.join("lnk")).expect("link");
        symlink(outside.join("secret"), repo.join(".env")).expect("link");
        for rel in ["lnk/secret", ".env"] {
            let err = copy_file(&repo, &wt, rel).expect_err(rel);
            assert!(matches!(err, CopyError::LeavesRepo(_)), "{rel}: {err}");
        }
        for rel in ["../outside/secret", "/etc/hostname", "", ".git/config"] {
            assert!(copy_file(&repo, &wt, rel).is_err(), "{rel} was accepted");
        }
        assert_eq!(std::fs::read_dir(&wt).expect("ls").count(), 0);
    }

    #[test]
    fn never_writes_through_a_link_in_the_worktree() {
        let (_t, repo, wt, outside) = dirs();
        std::fs::create_dir(repo.join("lnk")).expect("mkdir");
        std::fs::write(repo.join("lnk/notes.txt"), "new").expect("write");
        std::fs::write(repo.join("notes.txt"), "new").expect("write");
        std::fs::write(outside.join("notes.txt"), "precious").expect("write");
        // The worktree holds tracked links, one to a folder outside and one to a file outside.
        symlink(&outside, wt.join("lnk")).expect("link");
        symlink(outside.join("notes.txt"), wt.join("notes.txt")).expect("link");
        for rel in ["lnk/notes.txt", "notes.txt"] {
            let err = copy_file(&repo, &wt, rel).expect_err(rel);
            assert!(matches!(err, CopyError::LinkInWorktree(_)), "{rel}: {err}");
        }
        assert_eq!(
            std::fs::read_to_string(outside.join("notes.txt")).expect("read"),
            "precious"
        );
        assert_eq!(std::fs::read_dir(&outside).expect("ls").count(), 1);
    }

    #[test]
    fn keep_out_lists_only_plain_paths() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let ok = sidekick_testkit::git_command(tmp.path())
                .args(args)
                .status()
                .expect("git")
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        record_keep_out(
            tmp.path(),
            &[".env".into(), "../x".into(), "config/local.toml".into()],
        )
        .expect("record");
        assert_eq!(
            keep_out(&tmp.path().join(".git")),
            vec![".env".to_string(), "config/local.toml".to_string()]
        );
    }
}
