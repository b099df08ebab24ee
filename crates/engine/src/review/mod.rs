//! Review: diffs, merge previews and merges of a job's branch back into its target.

pub mod checkout;
pub mod diff;
pub(crate) mod ops;
pub mod treemerge;

pub use diff::DiffLimits;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::Repository;

use crate::repo::RepoError;

/// Open repositories, kept between requests by the host. libgit2 keeps pack indexes mapped and
/// an index loaded; an index is re-read only when its file changed on disk (git replaces it by
/// rename, so every rewrite is seen). Keyed by path and by whether the handle is for commits
/// only (an empty in-memory index, see [`diff::open_objects_only`]).
#[derive(Default)]
pub struct Repos {
    open: Mutex<HashMap<(PathBuf, bool), Repository>>,
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
                diff::open_objects_only(path)?
            } else {
                Repository::open(path)?
            };
            // A long-running host should not collect handles without bound.
            if open.len() >= 64 {
                open.clear();
            }
            open.insert(key.clone(), repo);
        }
        match open.get(&key) {
            Some(repo) => f(repo),
            None => Err(RepoError::Git {
                what: "open".into(),
                detail: format!("cannot open {}", path.display()),
            }),
        }
    }

    /// Forgets a repository (its worktree was removed).
    pub fn forget(&self, path: &Path) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|(p, _), _| p != path);
    }
}
