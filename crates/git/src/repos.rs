//! Open repositories kept between requests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::Repository;

use crate::repo::RepoError;

/// Open repositories, kept between requests by the host. libgit2 keeps pack indexes mapped and
/// an index loaded; an index is re-read only when its file changed on disk (git replaces it by
/// rename, so every rewrite is seen). Keyed by path and by whether the handle is for commits
/// only (an empty in-memory index, see [`crate::repo::open_objects_only`]).
#[derive(Default)]
pub struct Repos {
    open: Mutex<HashMap<(PathBuf, bool), (Repository, std::time::Instant)>>,
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
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let key = (path.to_path_buf(), objects_only);
        if !open.contains_key(&key) {
            let repo = if objects_only {
                crate::repo::open_objects_only(path)?
            } else {
                Repository::open(path)?
            };
            // A long-running host should not collect handles without bound.
            if open.len() >= 64 {
                open.clear();
            }
            open.insert(key.clone(), (repo, std::time::Instant::now()));
        }
        match open.get_mut(&key) {
            Some((repo, used)) => {
                *used = std::time::Instant::now();
                f(repo)
            }
            None => Err(RepoError::Git {
                what: "open".into(),
                detail: format!("cannot open {}", path.display()),
            }),
        }
    }

    /// Closes repositories unused for `idle`, so a host at rest holds no indexes or mapped
    /// packs. Returns how many it closed.
    pub fn close_idle(&self, idle: std::time::Duration) -> usize {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let before = open.len();
        open.retain(|_, (_, used)| used.elapsed() < idle);
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
}
