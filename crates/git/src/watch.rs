//! Knowing a folder tree was not touched without reading it again: an inotify watch on every
//! folder of the tree, armed before a check of the tree; while the watch has seen nothing, the
//! tree is as that check found it. Used so a warm worktree checked once in the background is not
//! checked again (a `git status` of every file) when a job claims it.
//!
//! What inotify cannot see, and so where no watch is made: file systems whose changes may come
//! from elsewhere (NFS, SMB, FUSE: only local file systems on an allow-list are watched), and a
//! tree with more folders than [`MAX_DIRS`] or than the user's inotify limit allows. Writes
//! through a shared memory map of a file that was opened before the watch was armed are not
//! reported by the kernel either; the tree's files are only ever opened by the user's own tools.

use std::path::Path;

/// More folders than this and the tree is checked the usual way instead.
pub const MAX_DIRS: usize = 100_000;

/// A watch on one or more folder trees; see the module's documentation.
#[derive(Debug)]
pub struct Watch {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
    /// Once a change was read from the queue it is remembered here: touched stays touched.
    touched: std::sync::atomic::AtomicBool,
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    /// File systems whose every change is made through this kernel (statfs `f_type`).
    const LOCAL: &[i64] = &[
        0xEF53,      // ext2/3/4
        0x5846_5342, // xfs
        0x9123_683E, // btrfs
        0x0102_1994, // tmpfs
        0x794C_7630, // overlayfs
        0xF2F5_2010, // f2fs
        0x2FC1_2FC1, // zfs
        0xCA45_1A4E, // bcachefs
    ];

    const MASK: u32 = libc::IN_MODIFY
        | libc::IN_ATTRIB
        | libc::IN_CLOSE_WRITE
        | libc::IN_MOVED_FROM
        | libc::IN_MOVED_TO
        | libc::IN_CREATE
        | libc::IN_DELETE
        | libc::IN_DELETE_SELF
        | libc::IN_MOVE_SELF
        | libc::IN_ONLYDIR
        | libc::IN_DONT_FOLLOW;

    fn local(path: &Path) -> bool {
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: statfs writes into the zeroed struct it is given; `c` is a valid C string.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut fs) } != 0 {
            return false;
        }
        #[allow(clippy::unnecessary_cast)]
        LOCAL.contains(&(fs.f_type as i64))
    }

    impl Watch {
        /// Arms a watch on every folder under each of `roots` (symlinks are not followed);
        /// `None` where the tree cannot be watched completely.
        pub fn new(roots: &[&Path]) -> Option<Watch> {
            if !roots.iter().all(|r| local(r)) {
                return None;
            }
            // SAFETY: inotify_init1 has no preconditions; the fd it returns is owned here.
            let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            if raw < 0 {
                return None;
            }
            // SAFETY: `raw` is a fresh fd nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let mut count = 0usize;
            let mut stack: Vec<std::path::PathBuf> =
                roots.iter().map(|r| r.to_path_buf()).collect();
            while let Some(dir) = stack.pop() {
                count += 1;
                if count > MAX_DIRS {
                    return None;
                }
                let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
                // SAFETY: a valid fd and C string.
                if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), MASK) } < 0 {
                    // Out of watches (ENOSPC), or the folder went away while being walked.
                    return None;
                }
                // Listed after its watch is armed: a folder made meanwhile is either listed
                // here or reported as a change.
                for entry in std::fs::read_dir(&dir).ok()?.flatten() {
                    if entry.file_type().ok()?.is_dir() {
                        stack.push(entry.path());
                    }
                }
            }
            Some(Watch {
                fd,
                touched: Default::default(),
            })
        }

        /// True while nothing under the watched folders changed since the watch was armed.
        pub fn untouched(&self) -> bool {
            use std::sync::atomic::Ordering;
            if self.touched.load(Ordering::SeqCst) {
                return false;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: reads at most `buf.len()` bytes into `buf` from a non-blocking fd.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            // EAGAIN: no event queued. Anything read (a change, a queue overflow) or any
            // other error counts as touched.
            let quiet =
                n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
            if !quiet {
                self.touched.store(true, Ordering::SeqCst);
            }
            quiet
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Watch {
    /// No watches outside Linux yet: every check is made in full.
    pub fn new(_roots: &[&Path]) -> Option<Watch> {
        None
    }

    pub fn untouched(&self) -> bool {
        false
    }
}

/// A worktree found to be exactly its HEAD commit (no change, no untracked file) by a
/// `git status` run at low priority after a watch on it and its admin folder was armed: while
/// the watch sees nothing, there is nothing in it to commit. `None` when it is not, or cannot
/// be watched.
pub fn settled(worktree: &Path) -> Option<Watch> {
    let admin = crate::repo::admin_dir(worktree)?;
    let watch = Watch::new(&[worktree, &admin])?;
    let mut cmd = crate::repo::low_priority(crate::repo::git(worktree));
    // No optional locks: the status must not refresh the index, which the watch would see.
    cmd.args([
        "--no-optional-locks",
        "status",
        "--porcelain=v2",
        "--untracked-files=all",
        "--ignore-submodules=none",
    ]);
    let status = crate::repo::run(cmd, "status (settled)").ok()?;
    (status.is_empty() && watch.untouched()).then_some(watch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worktree_is_settled_only_when_exactly_its_commit_and_stays_so_until_touched() {
        use crate::repo::testing::{git, repo_with_commit};
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir");
        repo_with_commit(&repo);
        let wt = tmp.path().join("wt");
        git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "job",
                &wt.display().to_string(),
            ],
        );
        let w = settled(&wt).expect("clean: settled");
        assert!(w.untouched());
        std::fs::write(wt.join("later.txt"), "x\n").expect("write");
        assert!(!w.untouched(), "a new file is seen");
        assert!(settled(&wt).is_none(), "an untracked file: not settled");
        git(&wt, &["add", "later.txt"]);
        assert!(settled(&wt).is_none(), "staged, not committed: not settled");
        git(&wt, &["commit", "-q", "-m", "later"]);
        let w = settled(&wt).expect("committed: settled again");
        // Moving the branch by hand (in the admin folder's HEAD or the index) is seen.
        git(&wt, &["reset", "-q", "--soft", "HEAD~1"]);
        assert!(!w.untouched());
        // The main checkout is not a linked worktree: never vouched for this way.
        assert!(settled(&repo).is_none());
    }

    #[test]
    fn any_change_anywhere_in_the_tree_is_seen_and_nothing_else() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("tree");
        std::fs::create_dir_all(root.join("a/b/c")).expect("mkdir");
        std::fs::write(root.join("a/b/c/f.txt"), "x\n").expect("write");
        std::fs::write(root.join("top.txt"), "x\n").expect("write");
        let other = tmp.path().join("other");
        std::fs::create_dir_all(&other).expect("mkdir");

        type Change = fn(&Path);
        let changes: [(&str, Change); 8] = [
            ("edit deep", |r| {
                std::fs::write(r.join("a/b/c/f.txt"), "y\n").expect("write")
            }),
            ("new file", |r| {
                std::fs::write(r.join("a/new"), "").expect("write")
            }),
            ("delete", |r| {
                std::fs::remove_file(r.join("top.txt")).expect("rm")
            }),
            ("chmod", |r| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    r.join("a/b/c/f.txt"),
                    std::fs::Permissions::from_mode(0o755),
                )
                .expect("chmod")
            }),
            ("new folder", |r| {
                std::fs::create_dir(r.join("a/b/d")).expect("mkdir")
            }),
            ("rename", |r| {
                std::fs::rename(r.join("a/b/c"), r.join("a/b/e")).expect("mv")
            }),
            ("symlink", |r| {
                std::os::unix::fs::symlink("/etc/passwd", r.join("a/link")).expect("ln")
            }),
            ("touch", |r| {
                // Opened to read: only the time changes, which `git status` would notice.
                let f = std::fs::File::open(r.join("a/b/c/f.txt")).expect("open");
                f.set_modified(std::time::SystemTime::UNIX_EPOCH)
                    .expect("touch")
            }),
        ];
        for (what, change) in changes {
            let copy = tmp.path().join(format!("copy-{}", what.replace(' ', "-")));
            copy_tree(&root, &copy);
            let watch = Watch::new(&[&copy, &other]).expect("armed");
            assert!(watch.untouched(), "{what}: nothing yet");
            // Reading is not a change.
            let _ = std::fs::read_to_string(copy.join("a/b/c/f.txt")).expect("read");
            let _ = std::fs::read_dir(copy.join("a")).expect("ls").count();
            assert!(watch.untouched(), "{what}: reading is not a change");
            // Outside the tree is not watched.
            std::fs::write(tmp.path().join("outside.txt"), "x").expect("write");
            assert!(watch.untouched(), "{what}: outside");
            change(&copy);
            assert!(!watch.untouched(), "{what}: seen");
            assert!(
                !watch.untouched(),
                "{what}: still seen once the queue was read"
            );
        }
        // The second root is watched as well.
        let watch = Watch::new(&[&root, &other]).expect("armed");
        std::fs::write(other.join("HEAD"), "x").expect("write");
        assert!(!watch.untouched(), "the second root");
    }

    #[test]
    fn a_tree_on_a_file_system_it_cannot_vouch_for_is_not_watched() {
        // /proc's changes are not made through writes inotify sees.
        assert!(Watch::new(&[Path::new("/proc/self")]).is_none());
        assert!(Watch::new(&[Path::new("/no/such/folder")]).is_none());
    }

    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("ls").flatten() {
            let dest = to.join(e.file_name());
            if e.file_type().expect("type").is_dir() {
                copy_tree(&e.path(), &dest);
            } else {
                std::fs::copy(e.path(), &dest).expect("copy");
            }
        }
    }
}
