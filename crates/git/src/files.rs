//! One file as a side of a job's diff has it: a blob of a commit's tree, or the file in a live
//! worktree, read without ever following a link (an agent can put one anywhere in its
//! worktree; reading through it could show the user's `~/.ssh` in the app).

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use git2::{ObjectType, Repository};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};

use crate::repo::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("'{0}' is not a path inside the repository")]
    BadPath(String),
    #[error("{path} is {bytes} bytes, more than the {max} a file view reads")]
    TooLarge { path: String, bytes: u64, max: u64 },
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<git2::Error> for FileError {
    fn from(e: git2::Error) -> Self {
        FileError::Repo(e.into())
    }
}

type Result<T> = std::result::Result<T, FileError>;

/// `rel` as plain components (relative, no `..`, no `.git`: the rule the copied files follow).
fn components(rel: &str) -> Result<Vec<&OsStr>> {
    crate::copy::plain_components(rel).map_err(|_| FileError::BadPath(rel.to_string()))
}

/// The bytes of `rel` in `commit`'s tree; `None` when it has no such file. A symlink's blob is
/// its target, as git stores it; a submodule or a folder is not a file.
pub fn at_commit(repo: &Repository, commit: &str, rel: &str, max: u64) -> Result<Option<Vec<u8>>> {
    components(rel)?;
    let tree = repo.revparse_single(commit)?.peel_to_tree()?;
    let entry = match tree.get_path(Path::new(rel)) {
        Ok(e) => e,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if entry.kind() != Some(ObjectType::Blob) {
        return Err(FileError::NotAFile(rel.to_string()));
    }
    let odb = repo.odb()?;
    let (size, _) = odb.read_header(entry.id())?;
    if size as u64 > max {
        return Err(FileError::TooLarge {
            path: rel.to_string(),
            bytes: size as u64,
            max,
        });
    }
    Ok(Some(repo.find_blob(entry.id())?.content().to_vec()))
}

/// The bytes of `rel` in a worktree as it is now; `None` when there is no such file (or a
/// folder on the way is a link, which git would not follow either). A symlink gives its target.
/// Every folder is opened with `O_NOFOLLOW` relative to the one before, so a link swapped in
/// while reading is refused, not followed.
pub fn in_worktree(worktree: &Path, rel: &str, max: u64) -> Result<Option<Vec<u8>>> {
    let parts = components(rel)?;
    let io = |e: Errno| FileError::Repo(RepoError::Io(std::io::Error::from(e)));
    let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut dir: OwnedFd = nix::fcntl::open(worktree, dir_flags, Mode::empty()).map_err(io)?;
    let (last, folders) = parts
        .split_last()
        .ok_or_else(|| FileError::BadPath(rel.into()))?;
    for name in folders {
        match openat(
            dir.as_fd(),
            *name,
            dir_flags | OFlag::O_NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => dir = fd,
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => return Ok(None),
            Err(e) => return Err(io(e)),
        }
    }
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = match openat(dir.as_fd(), *last, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        // The file itself is a link: git stores its target.
        Err(Errno::ELOOP) => {
            let target = readlinkat(dir.as_fd(), *last).map_err(io)?;
            return Ok(Some(target.as_encoded_bytes().to_vec()));
        }
        Err(e) => return Err(io(e)),
    };
    let st = fstat(fd.as_fd()).map_err(io)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(FileError::NotAFile(rel.to_string()));
    }
    if st.st_size as u64 > max {
        return Err(FileError::TooLarge {
            path: rel.to_string(),
            bytes: st.st_size as u64,
            max,
        });
    }
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::with_capacity(st.st_size as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, max + 1), &mut bytes)
        .map_err(RepoError::Io)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge {
            path: rel.to_string(),
            bytes: bytes.len() as u64,
            max,
        });
    }
    Ok(Some(bytes))
}

/// Whether git would call the content binary: a NUL byte among its first 8,000 bytes.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|b| *b == 0)
}

/// The content as lines without their newlines (a last line without one counts too).
pub fn lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out: Vec<String> = text.split('\n').map(str::to_string).collect();
    if text.ends_with('\n') || text.is_empty() {
        out.pop();
    }
    for l in &mut out {
        if l.ends_with('\r') {
            l.pop();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_a_worktree_file_but_never_through_a_link() {
        let tmp = tempfile::tempdir().expect("tmp");
        let wt = tmp.path().join("wt");
        let secret = tmp.path().join("secret");
        std::fs::create_dir_all(wt.join("src")).expect("mkdir");
        std::fs::create_dir_all(&secret).expect("mkdir");
        std::fs::write(secret.join("key"), "PRIVATE").expect("write");
        std::fs::write(wt.join("src/a.txt"), "one\ntwo\n").expect("write");
        symlink(secret.join("key"), wt.join("link")).expect("link");
        symlink(&secret, wt.join("dir")).expect("link");
        let max = 1 << 20;
        assert_eq!(
            in_worktree(&wt, "src/a.txt", max).expect("read"),
            Some(b"one\ntwo\n".to_vec())
        );
        // A link reads as its target path, the way git stores it.
        let link = in_worktree(&wt, "link", max).expect("read").expect("some");
        assert_eq!(link, secret.join("key").as_os_str().as_encoded_bytes());
        // A folder that is a link is not entered.
        assert_eq!(in_worktree(&wt, "dir/key", max).expect("read"), None);
        assert_eq!(in_worktree(&wt, "src/none", max).expect("read"), None);
        for bad in [
            "../secret/key",
            "/etc/passwd",
            ".git/config",
            "src/../../x",
            "",
        ] {
            assert!(
                matches!(in_worktree(&wt, bad, max), Err(FileError::BadPath(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            in_worktree(&wt, "src", max),
            Err(FileError::NotAFile(_))
        ));
        assert!(matches!(
            in_worktree(&wt, "src/a.txt", 3),
            Err(FileError::TooLarge { .. })
        ));
    }

    #[test]
    fn lines_drop_newlines_and_keep_a_last_line_without_one() {
        assert_eq!(lines(b"a\nb\n"), vec!["a", "b"]);
        assert_eq!(lines(b"a\r\nb"), vec!["a", "b"]);
        assert_eq!(lines(b""), Vec::<String>::new());
        assert_eq!(lines(b"\n"), vec![""]);
        assert!(is_binary(b"a\0b"));
        assert!(!is_binary(b"plain"));
    }
}
