//! What kind of entry a path is in a commit's tree: a job's change to a link or a submodule is
//! not the same as a change to a file of that name.

use std::path::Path;

use git2::{FileMode, Repository};

use crate::repo::RepoError;

/// The paths of `paths` that `commit`'s tree holds as something other than a plain or executable
/// file, each with what it is ("a symbolic link", "a submodule"). Paths the tree does not hold
/// (deleted ones) are left out.
pub fn not_plain_files(
    repo: &Path,
    commit: &str,
    paths: &[String],
) -> Result<Vec<(String, &'static str)>, RepoError> {
    let r = Repository::open(repo)?;
    let tree = r.revparse_single(commit)?.peel_to_tree()?;
    let mut found = Vec::new();
    for path in paths {
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            continue;
        };
        let kind = match entry.filemode() {
            m if m == i32::from(FileMode::Link) => "a symbolic link",
            m if m == i32::from(FileMode::Commit) => "a submodule",
            m if m == i32::from(FileMode::Tree) => "a folder",
            _ => continue,
        };
        found.push((path.clone(), kind));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::{git, repo_with_commit};

    #[test]
    fn links_are_told_from_files() {
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = tmp.path();
        repo_with_commit(repo);
        std::fs::create_dir(repo.join("docs")).expect("mkdir");
        std::fs::write(repo.join("docs/a.md"), "a\n").expect("write");
        std::os::unix::fs::symlink("../README.md", repo.join("docs/link.md")).expect("link");
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "docs"]);
        let paths: Vec<String> = ["docs/a.md", "docs/link.md", "gone.md"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            not_plain_files(repo, "HEAD", &paths).expect("read"),
            vec![("docs/link.md".to_string(), "a symbolic link")]
        );
    }
}
