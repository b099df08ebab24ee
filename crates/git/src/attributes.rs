//! Whether gitattributes could bear on a diff of two commits. A diff read through a bare
//! handle skips libgit2's per-file attribute lookups in the working tree (a realpath and two
//! stats for each side of each file, a third of a 500-file patch's time); that is only the same
//! diff when no attribute applies to any changed file. For a diff of commits, git and libgit2
//! read attributes from the working tree's `.gitattributes` files (in each changed file's
//! folder and every folder above it), `info/attributes`, the global and the system file; any
//! of those present says yes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::Repository;

/// True when attributes may apply to a diff of `repo` (a repository with a working tree)
/// that changes `paths`.
pub fn may_apply<'a>(repo: &Repository, paths: impl IntoIterator<Item = &'a str>) -> bool {
    let exists = |p: &Path| p.symlink_metadata().is_ok();
    if exists(&repo.commondir().join("info/attributes")) {
        return true;
    }
    let configured = repo
        .config()
        .ok()
        .and_then(|c| c.get_path("core.attributesFile").ok());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".config")));
    let global = xdg.map(|x| x.join("git/attributes"));
    let system = Some(PathBuf::from("/etc/gitattributes"));
    if [configured, global, system]
        .iter()
        .flatten()
        .any(|p| exists(p))
    {
        return true;
    }
    let Some(workdir) = repo.workdir() else {
        return true;
    };
    let mut folders = BTreeSet::new();
    folders.insert(String::new());
    for p in paths {
        let mut at = p;
        while let Some((parent, _)) = at.rsplit_once('/') {
            if !folders.insert(parent.to_string()) {
                break;
            }
            at = parent;
        }
    }
    folders
        .iter()
        .any(|f| exists(&workdir.join(f).join(".gitattributes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::{git, repo_with_commit};

    #[test]
    fn an_attributes_file_above_a_changed_file_counts_and_none_is_none() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("r");
        std::fs::create_dir_all(dir.join("a/b")).expect("mkdir");
        std::fs::create_dir_all(dir.join("other")).expect("mkdir");
        repo_with_commit(&dir);
        let repo = Repository::open(&dir).expect("open");
        let changed = ["a/b/x.txt", "README.md"];
        assert!(!may_apply(&repo, changed), "none anywhere");
        // Beside an unchanged file only: no bearing.
        std::fs::write(dir.join("other/.gitattributes"), "* -diff\n").expect("write");
        assert!(!may_apply(&repo, changed));
        // In a changed file's folder, or one above it.
        for place in ["a/b", "a", ""] {
            let file = dir.join(place).join(".gitattributes");
            std::fs::write(&file, "*.txt -diff\n").expect("write");
            assert!(may_apply(&repo, changed), "{place}");
            std::fs::remove_file(&file).expect("rm");
        }
        std::fs::create_dir_all(dir.join(".git/info")).expect("mkdir");
        std::fs::write(dir.join(".git/info/attributes"), "*.txt binary\n").expect("write");
        assert!(may_apply(&repo, changed));
        std::fs::remove_file(dir.join(".git/info/attributes")).expect("rm");
        // A configured attributes file.
        let file = tmp.path().join("attrs");
        std::fs::write(&file, "*.txt binary\n").expect("write");
        git(
            &dir,
            &["config", "core.attributesFile", &file.display().to_string()],
        );
        assert!(may_apply(&repo, changed));
        git(&dir, &["config", "--unset", "core.attributesFile"]);
        assert!(!may_apply(&repo, changed));
    }
}
