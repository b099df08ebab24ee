//! Open repositories kept between requests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use git2::Repository;

use crate::repo::RepoError;

/// Open repositories, kept between requests by the host. libgit2 keeps pack indexes mapped and
/// an index loaded; an index is re-read only when its file changed on disk (git replaces it by
/// rename, so every rewrite is seen). Keyed by path and by whether the handle is for commits
/// only (an empty in-memory index, see [`crate::repo::open_objects_only`]).
/// Each handle has its own lock, so work in one repository (a merge's plan, holding its
/// handle while a thread checks the user's checkout through another) never waits for another.
#[derive(Default)]
pub struct Repos {
    open: Mutex<HashMap<(PathBuf, Kind), Slot>>,
    /// The paths that differ between two trees, for the last few pairs asked (a job's own
    /// change, looked at by each preview of its merge while the target moves).
    changes: Mutex<std::collections::VecDeque<Changes>>,
}

/// A pair of trees and the paths that differ between them.
type Changes = ((git2::Oid, git2::Oid), Arc<Vec<String>>);

/// How many tree pairs' differences are kept.
const CHANGES_KEPT: usize = 16;

type Slot = Arc<Mutex<(Repository, std::time::Instant)>>;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    /// The repository with its working tree and index.
    Full,
    /// An empty in-memory index (see [`crate::repo::open_objects_only`]).
    Objects,
    /// Opened bare: no working tree at all, so no attribute lookups in it.
    Bare,
}

impl Repos {
    /// Runs `f` with the repository at `path`. `objects_only` handles never look at a working
    /// tree or index.
    pub fn with<T>(
        &self,
        path: &Path,
        objects_only: bool,
        f: impl FnOnce(&Repository) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        let kind = if objects_only {
            Kind::Objects
        } else {
            Kind::Full
        };
        self.with_kind(path, kind, f)
    }

    /// Runs `f` with a handle for comparing commits `from` and `to` of the repository at
    /// `path`: a bare one when no gitattributes could apply to the files that differ (faster,
    /// the same diff), else one that reads attributes from the working tree as `git diff` does.
    pub fn with_commits<T>(
        &self,
        path: &Path,
        from: &str,
        to: &str,
        f: impl FnOnce(&Repository) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        let attributes = self.with_kind(path, Kind::Objects, |r| {
            let tree = |c: &str| -> Result<git2::Oid, RepoError> {
                Ok(r.revparse_single(c)?.peel_to_tree()?.id())
            };
            let changed = self.changed_paths(r, tree(from)?, tree(to)?)?;
            Ok(crate::attributes::may_apply(
                r,
                changed.iter().map(String::as_str),
            ))
        })?;
        let kind = if attributes {
            Kind::Objects
        } else {
            Kind::Bare
        };
        self.with_kind(path, kind, f)
    }

    fn with_kind<T>(
        &self,
        path: &Path,
        kind: Kind,
        f: impl FnOnce(&Repository) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        crate::tune_libgit2();
        let slot = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let key = (path.to_path_buf(), kind);
            match open.get(&key) {
                Some(slot) => slot.clone(),
                None => {
                    let repo = match kind {
                        Kind::Objects => crate::repo::open_objects_only(path)?,
                        Kind::Full => Repository::open(path)?,
                        Kind::Bare => {
                            let gitdir = Repository::open(path)?.path().to_path_buf();
                            Repository::open_ext(
                                gitdir,
                                git2::RepositoryOpenFlags::BARE
                                    | git2::RepositoryOpenFlags::NO_SEARCH,
                                std::iter::empty::<&std::ffi::OsStr>(),
                            )?
                        }
                    };
                    // A long-running host should not collect handles without bound (one in
                    // use stays alive with its user).
                    if open.len() >= 64 {
                        open.clear();
                    }
                    let slot: Slot = Arc::new(Mutex::new((repo, std::time::Instant::now())));
                    open.insert(key, slot.clone());
                    slot
                }
            }
        };
        let mut held = slot.lock().unwrap_or_else(|p| p.into_inner());
        held.1 = std::time::Instant::now();
        f(&held.0)
    }

    /// [`crate::treemerge::changed_paths`] from `from` to `to` (tree ids) in `repo`, kept for
    /// the next time the same pair is asked (trees never change, so neither does the answer).
    pub fn changed_paths(
        &self,
        repo: &Repository,
        from: git2::Oid,
        to: git2::Oid,
    ) -> Result<Arc<Vec<String>>, RepoError> {
        let kept = self
            .changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(k, _)| *k == (from, to))
            .map(|(_, v)| v.clone());
        if let Some(found) = kept {
            return Ok(found);
        }
        // Found without the lock held (other pairs are asked for meanwhile).
        let found = Arc::new(crate::treemerge::changed_paths(repo, from, to)?);
        let mut changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        changes.push_back(((from, to), found.clone()));
        while changes.len() > CHANGES_KEPT {
            changes.pop_front();
        }
        Ok(found)
    }

    /// Closes repositories unused for `idle`, so a host at rest holds no indexes or mapped
    /// packs. Returns how many it closed.
    pub fn close_idle(&self, idle: std::time::Duration) -> usize {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let before = open.len();
        // One in use right now is not idle.
        open.retain(|_, slot| slot.try_lock().map_or(true, |held| held.1.elapsed() < idle));
        before - open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::repo_with_commit;

    #[test]
    fn open_repositories_are_reused_and_closed_when_idle() {
        let tmp = tempfile::tempdir().expect("tempdir");
        repo_with_commit(tmp.path());
        let repos = Repos::default();
        let a = repos
            .with(tmp.path(), false, |r| Ok(r as *const Repository as usize))
            .expect("open");
        let b = repos
            .with(tmp.path(), false, |r| Ok(r as *const Repository as usize))
            .expect("reuse");
        assert_eq!(a, b, "the same handle");
        repos
            .with(tmp.path(), true, |r| Ok(r.is_bare()))
            .expect("objects-only handle");
        assert_eq!(repos.close_idle(std::time::Duration::from_secs(60)), 0);
        assert_eq!(repos.close_idle(std::time::Duration::ZERO), 2);
        assert!(repos
            .with(&tmp.path().join("missing"), false, |_| Ok(()))
            .is_err());
    }

    #[test]
    fn a_tree_pairs_changes_are_found_once_and_kept() {
        use crate::repo::testing::git;
        let tmp = tempfile::tempdir().expect("tempdir");
        repo_with_commit(tmp.path());
        let tree = || git2::Oid::from_str(&git(tmp.path(), &["rev-parse", "HEAD^{tree}"]));
        let first = tree().expect("oid");
        std::fs::create_dir_all(tmp.path().join("d")).expect("mkdir");
        std::fs::write(tmp.path().join("d/new.txt"), "new\n").expect("write");
        git(tmp.path(), &["add", "-A"]);
        git(tmp.path(), &["commit", "-q", "-m", "second"]);
        let second = tree().expect("oid");
        let repo = Repository::open(tmp.path()).expect("open");
        let repos = Repos::default();
        let a = repos.changed_paths(&repo, first, second).expect("changes");
        assert_eq!(*a, vec!["d/new.txt"]);
        let again = repos.changed_paths(&repo, first, second).expect("kept");
        assert!(Arc::ptr_eq(&a, &again), "the kept answer");
        let back = repos
            .changed_paths(&repo, second, first)
            .expect("other pair");
        assert!(!Arc::ptr_eq(&a, &back));
        assert_eq!(*back, vec!["d/new.txt"]);
    }

    #[test]
    fn commits_are_compared_through_a_bare_handle_only_when_that_is_the_same_diff() {
        use crate::repo::testing::git;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("r");
        std::fs::create_dir_all(dir.join("src/deep")).expect("mkdir");
        repo_with_commit(&dir);
        let write = |p: &str, c: &[u8]| std::fs::write(dir.join(p), c).expect("write");
        write("src/deep/a.txt", b"one\ntwo\nthree\n");
        write("src/moved.txt", &b"a line that stays the same\n".repeat(20));
        write("src/gone.txt", b"bye\n");
        write("tool.sh", b"echo hi\n");
        write("data.bin", b"\x00\x01\x02");
        write("café file.txt", b"x\n");
        git(&dir, &["add", "."]);
        git(&dir, &["commit", "-q", "-m", "before"]);
        let before = git(&dir, &["rev-parse", "HEAD"]);
        write("src/deep/a.txt", b"one\n2\nthree\nfour\n");
        git(&dir, &["mv", "src/moved.txt", "src/renamed.txt"]);
        git(&dir, &["rm", "-q", "src/gone.txt"]);
        std::fs::set_permissions(
            dir.join("tool.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        write("data.bin", b"\x00\x03");
        write("café file.txt", b"y\n");
        std::os::unix::fs::symlink("src/deep/a.txt", dir.join("link")).expect("ln");
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "after"]);
        let after = git(&dir, &["rev-parse", "HEAD"]);
        let limits = crate::DiffLimits::default();
        let repos = Repos::default();
        let patch = |repos: &Repos| {
            repos
                .with_commits(&dir, &before, &after, |r| {
                    Ok((
                        r.is_bare(),
                        crate::diff::patch_commits_in(r, &before, &after, &limits)?,
                        crate::diff::diff_commits_in(r, &before, &after, &limits)?,
                    ))
                })
                .expect("patch")
        };
        let reference = |repos: &Repos| {
            repos
                .with(&dir, true, |r| {
                    Ok((
                        crate::diff::patch_commits_in(r, &before, &after, &limits)?,
                        crate::diff::diff_commits_in(r, &before, &after, &limits)?,
                    ))
                })
                .expect("patch")
        };
        let (bare, fast, fast_diff) = patch(&repos);
        let (slow, slow_diff) = reference(&repos);
        assert!(bare, "no attributes anywhere: the bare handle");
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow),
            "byte for byte the same patch"
        );
        assert_eq!(fast_diff, slow_diff, "and the same structured diff");
        for part in [
            "rename to src/renamed.txt",
            "new mode 100755",
            "deleted file mode",
            "Binary files",
        ] {
            assert!(String::from_utf8_lossy(&fast).contains(part), "{part}");
        }

        // An attributes file in the working tree: honoured, through the working tree's handle.
        write("src/deep/.gitattributes", b"*.txt -diff\n");
        let repos = Repos::default();
        let (bare, fast, _) = patch(&repos);
        assert!(!bare);
        let text = String::from_utf8_lossy(&fast).into_owned();
        assert!(
            text.contains("Binary files a/src/deep/a.txt and b/src/deep/a.txt differ"),
            "{text}"
        );
    }
}
