//! Three-way merges of trees, in memory: nothing in any working tree or index changes.
//!
//! The fast path walks the three trees together and opens only subtrees whose ids differ, so its
//! cost follows the size of the change, not of the repository (libgit2's own merge builds an
//! index of every path). A path changed on one side only takes that side; a file changed on both
//! sides is merged line by line (libgit2's xdiff merge, git's algorithm). Anything the fast path
//! cannot decide with certainty — both sides adding, one deleting what the other changed, type
//! changes, symlinks, a failed content merge, repositories with `.gitattributes` merge rules —
//! is handed to `git merge-tree --write-tree`, whose answer (renames included) is then used
//! as is. Either way the result is git's.

use std::collections::BTreeSet;
use std::path::Path;

use git2::{FileMode, MergeFileInput, ObjectType, Oid, Repository, Tree};
use sidekick_protocol::Conflict;

use crate::repo::RepoError;

/// The outcome of a three-way tree merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeMerge {
    /// The merged tree, when clean.
    pub tree: Option<Oid>,
    pub conflicts: Vec<Conflict>,
    /// Which path decided it: the in-process walk or git.
    pub by_git: bool,
    /// The paths whose content differs between `ours` and the merged tree, when the walk
    /// decided (found on the way, the same list [`changed_paths`] gives); `None` otherwise.
    pub changed: Option<Vec<String>>,
}

/// Merges `theirs` into `ours` on top of `base` (all tree ids).
pub fn merge_trees(
    repo: &Repository,
    base: Oid,
    ours: Oid,
    theirs: Oid,
) -> Result<TreeMerge, RepoError> {
    crate::tune_libgit2();
    if !has_merge_attributes(repo, ours) {
        let mut changed = BTreeSet::new();
        if let Some(tree) = walk(repo, "", Some(base), Some(ours), Some(theirs), &mut changed)? {
            return Ok(TreeMerge {
                tree: Some(tree.unwrap_or(empty_tree(repo)?)),
                conflicts: Vec::new(),
                by_git: false,
                changed: Some(changed.into_iter().collect()),
            });
        }
    }
    git_merge_tree(repo, base, ours, theirs)
}

/// A `.gitattributes` can name merge drivers the fast path does not run; let git decide then.
fn has_merge_attributes(repo: &Repository, ours: Oid) -> bool {
    let in_tree = repo
        .find_tree(ours)
        .map(|t| t.get_name(".gitattributes").is_some())
        .unwrap_or(true);
    in_tree || repo.path().join("info/attributes").exists()
}

fn empty_tree(repo: &Repository) -> Result<Oid, RepoError> {
    Ok(repo.treebuilder(None)?.write()?)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Entry {
    id: Oid,
    mode: i32,
}

impl Entry {
    fn is_tree(self) -> bool {
        self.mode == i32::from(FileMode::Tree)
    }
    fn is_file(self) -> bool {
        self.mode == i32::from(FileMode::Blob) || self.mode == i32::from(FileMode::BlobExecutable)
    }
}

fn entry(tree: Option<&Tree<'_>>, name: &[u8]) -> Option<Entry> {
    // A binary search (git_tree_entry_byname): a folder of n names costs n log n, not n².
    let e = tree?.get_name_bytes(name)?;
    Some(Entry {
        id: e.id(),
        mode: e.filemode(),
    })
}

/// Merges one level (the folder `prefix`, empty or ending in `/`), adding to `changed` each path
/// the result changes against `ours`. `Ok(None)` means "let git decide"; `Ok(Some(None))` an
/// empty result tree.
#[allow(clippy::type_complexity)]
fn walk(
    repo: &Repository,
    prefix: &str,
    base: Option<Oid>,
    ours: Option<Oid>,
    theirs: Option<Oid>,
    changed: &mut BTreeSet<String>,
) -> Result<Option<Option<Oid>>, RepoError> {
    let load = |id: Option<Oid>| -> Result<Option<Tree<'_>>, RepoError> {
        Ok(match id {
            Some(id) => Some(repo.find_tree(id)?),
            None => None,
        })
    };
    let (b, o, t) = (load(base)?, load(ours)?, load(theirs)?);
    let mut names: BTreeSet<Vec<u8>> = BTreeSet::new();
    for tree in [&o, &t].into_iter().flatten() {
        for e in tree.iter() {
            names.insert(e.name_bytes().to_vec());
        }
    }
    if let Some(b) = &b {
        for e in b.iter() {
            names.insert(e.name_bytes().to_vec());
        }
    }
    let mut builder = repo.treebuilder(o.as_ref())?;
    let mut any_change = false;
    for name in names {
        let (eb, eo, et) = (
            entry(b.as_ref(), &name),
            entry(o.as_ref(), &name),
            entry(t.as_ref(), &name),
        );
        let path = format!("{prefix}{}", String::from_utf8_lossy(&name));
        // The folder walk below records what it changes itself.
        let mut walked = false;
        let result = if eo == et || eb == et {
            continue; // ours already holds the answer
        } else if eb == eo {
            et
        } else {
            match (eb, eo, et) {
                (eb, Some(eo), Some(et))
                    if eo.is_tree() && et.is_tree() && eb.is_none_or(|b| b.is_tree()) =>
                {
                    walked = true;
                    let inner = format!("{path}/");
                    match walk(
                        repo,
                        &inner,
                        eb.map(|b| b.id),
                        Some(eo.id),
                        Some(et.id),
                        changed,
                    )? {
                        None => return Ok(None),
                        Some(None) => None,
                        Some(Some(id)) => Some(Entry { id, mode: eo.mode }),
                    }
                }
                (Some(eb), Some(eo), Some(et)) if eb.is_file() && eo.is_file() && et.is_file() => {
                    let Some(mode) = merge_mode(eb.mode, eo.mode, et.mode) else {
                        return Ok(None);
                    };
                    let Some(id) = merge_blobs(repo, eb.id, eo.id, et.id)? else {
                        return Ok(None);
                    };
                    Some(Entry { id, mode })
                }
                _ => return Ok(None),
            }
        };
        if result == eo {
            continue;
        }
        any_change = true;
        if !walked {
            let side = |e: Option<Entry>| e.map(|e| (e.id, e.mode));
            entry_changes(repo, path, side(eo), side(result), changed)?;
        }
        let name_str = std::str::from_utf8(&name).map_err(|_| RepoError::Git {
            what: "merge".into(),
            detail: "a path is not UTF-8".into(),
        })?;
        match result {
            Some(e) => {
                builder.insert(name_str, e.id, e.mode)?;
            }
            None => {
                builder.remove(name_str)?;
            }
        }
    }
    if !any_change {
        return Ok(Some(
            ours.filter(|_| o.as_ref().is_some_and(|t| !t.is_empty())),
        ));
    }
    if builder.is_empty() {
        return Ok(Some(None));
    }
    Ok(Some(Some(builder.write()?)))
}

fn merge_mode(base: i32, ours: i32, theirs: i32) -> Option<i32> {
    if ours == theirs || base == theirs {
        Some(ours)
    } else if base == ours {
        Some(theirs)
    } else {
        None
    }
}

/// A clean line-level merge of three blobs, written as a new blob; `None` when it conflicts.
fn merge_blobs(
    repo: &Repository,
    base: Oid,
    ours: Oid,
    theirs: Oid,
) -> Result<Option<Oid>, RepoError> {
    let (b, o, t) = (
        repo.find_blob(base)?,
        repo.find_blob(ours)?,
        repo.find_blob(theirs)?,
    );
    if b.is_binary() || o.is_binary() || t.is_binary() {
        return Ok(None);
    }
    let input = |content| {
        let mut i = MergeFileInput::new();
        i.content(content);
        i
    };
    let (ib, io, it) = (input(b.content()), input(o.content()), input(t.content()));
    let merged = git2::merge_file(&ib, &io, &it, None)?;
    if !merged.is_automergeable() {
        return Ok(None);
    }
    Ok(Some(repo.blob(merged.content())?))
}

/// Asks git. Synthetic commits (base, then ours and theirs on top of it) pin the merge base,
/// which works with every git that has `merge-tree --write-tree` (2.38+).
fn git_merge_tree(
    repo: &Repository,
    base: Oid,
    ours: Oid,
    theirs: Oid,
) -> Result<TreeMerge, RepoError> {
    let sig = git2::Signature::new("Sidekick", "sidekick@localhost", &git2::Time::new(0, 0))?;
    let commit = |tree: Oid, parents: &[&git2::Commit<'_>]| -> Result<Oid, RepoError> {
        let tree = repo.find_tree(tree)?;
        Ok(repo.commit(None, &sig, &sig, "sidekick merge preview", &tree, parents)?)
    };
    let b = repo.find_commit(commit(base, &[])?)?;
    let o = commit(ours, &[&b])?;
    let t = commit(theirs, &[&b])?;
    let out = crate::repo::git(repo.path())
        .args(["merge-tree", "--write-tree", "-z", "--name-only"])
        .arg(o.to_string())
        .arg(t.to_string())
        .output()
        .map_err(RepoError::Spawn)?;
    let code = out.status.code();
    if code != Some(0) && code != Some(1) {
        return Err(RepoError::Git {
            what: "merge-tree".into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    parse_merge_tree(&out.stdout, code == Some(0))
}

/// `-z --name-only` output: `TREE\0` then conflicted paths `P\0`..., `\0`, then messages
/// `N\0path1\0..pathN\0TYPE\0MESSAGE\0`...
fn parse_merge_tree(stdout: &[u8], clean: bool) -> Result<TreeMerge, RepoError> {
    let mut parts = stdout
        .split(|b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let tree = parts.next().ok_or_else(|| RepoError::Git {
        what: "merge-tree".into(),
        detail: "no output".into(),
    })?;
    let tree = Oid::from_str(tree.trim())?;
    if clean {
        return Ok(TreeMerge {
            tree: Some(tree),
            conflicts: Vec::new(),
            by_git: true,
            changed: None,
        });
    }
    let mut paths = Vec::new();
    for p in parts.by_ref() {
        if p.is_empty() {
            break;
        }
        paths.push(p);
    }
    // Messages: the kind of each conflict, per path.
    let mut kinds: Vec<(String, String)> = Vec::new();
    while let Some(n) = parts.next() {
        let Ok(n) = n.parse::<usize>() else { break };
        let involved: Vec<String> = parts.by_ref().take(n).collect();
        let kind = parts.next().unwrap_or_default();
        let _message = parts.next();
        if let Some(k) = kind
            .strip_prefix("CONFLICT (")
            .and_then(|k| k.strip_suffix(')'))
        {
            for p in involved {
                kinds.push((p, k.to_string()));
            }
        }
    }
    paths.dedup();
    let conflicts = paths
        .into_iter()
        .map(|path| {
            let kind = kinds
                .iter()
                .find(|(p, _)| p == &path)
                .map(|(_, k)| k.clone())
                .unwrap_or_else(|| "content".into());
            Conflict {
                path,
                kind: if kind == "contents" {
                    "content".into()
                } else {
                    kind
                },
            }
        })
        .collect();
    Ok(TreeMerge {
        tree: None,
        conflicts,
        by_git: true,
        changed: None,
    })
}

/// Paths that differ between two trees (both sides of renames), without content diffs.
pub fn changed_paths(repo: &Repository, from: Oid, to: Oid) -> Result<Vec<String>, RepoError> {
    let mut out = BTreeSet::new();
    changes_under(repo, "", Some(from), Some(to), &mut out)?;
    Ok(out.into_iter().collect())
}

/// The paths that differ between two trees (either may be missing), read only where their
/// ids differ: the cost follows the change, not the size of the tree (libgit2's tree diff reads
/// every subtree of both sides, 10 ms at 30,000 files with a cold cache).
fn changes_under(
    repo: &Repository,
    prefix: &str,
    a: Option<Oid>,
    b: Option<Oid>,
    out: &mut BTreeSet<String>,
) -> Result<(), RepoError> {
    if a == b {
        return Ok(());
    }
    let load = |id: Option<Oid>| -> Result<Option<Tree<'_>>, RepoError> {
        Ok(match id {
            Some(id) => Some(repo.find_tree(id)?),
            None => None,
        })
    };
    let (ta, tb) = (load(a)?, load(b)?);
    let tree_mode = i32::from(FileMode::Tree);
    fn at<'t>(t: &'t Option<Tree<'_>>, i: usize) -> Option<git2::TreeEntry<'t>> {
        t.as_ref().and_then(|t| t.get(i))
    }
    let kind = |e: &git2::TreeEntry<'_>| (e.id(), e.filemode());
    // Both trees' entries are in git's order: walked side by side, an entry with the same name
    // and kind on both sides is compared by id; the rest are on one side only. (A file and a
    // folder of the same name are two entries: one goes, the other comes, as with a pairing.)
    let (mut i, mut j) = (0, 0);
    loop {
        let (x, y) = (at(&ta, i), at(&tb, j));
        let order = match (&x, &y) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => git_order(
                x.name_bytes(),
                x.filemode() == tree_mode,
                y.name_bytes(),
                y.filemode() == tree_mode,
            ),
        };
        let (entry, ea, eb): (Option<git2::TreeEntry<'_>>, Side, Side) = match order {
            std::cmp::Ordering::Less => {
                i += 1;
                let ea = x.as_ref().map(kind);
                (x, ea, None)
            }
            std::cmp::Ordering::Greater => {
                j += 1;
                let eb = y.as_ref().map(kind);
                (y, None, eb)
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
                let (ea, eb) = (x.as_ref().map(kind), y.as_ref().map(kind));
                (x, ea, eb)
            }
        };
        if ea == eb {
            continue;
        }
        let name = entry.as_ref().map(|e| e.name_bytes()).unwrap_or_default();
        let path = format!("{prefix}{}", String::from_utf8_lossy(name));
        entry_changes(repo, path, ea, eb, out)?;
    }
    Ok(())
}

/// One tree entry as two trees have it (id and mode; `None` where it is missing).
type Side = Option<(Oid, i32)>;

/// The changed paths that one differing entry at `path` stands for: the files under it where
/// either side is a folder, and the path itself where either side is a file.
fn entry_changes(
    repo: &Repository,
    path: String,
    a: Side,
    b: Side,
    out: &mut BTreeSet<String>,
) -> Result<(), RepoError> {
    let tree_mode = i32::from(FileMode::Tree);
    let tree = |e: Side| e.filter(|(_, m)| *m == tree_mode).map(|(id, _)| id);
    let (ta, tb) = (tree(a), tree(b));
    if ta.is_some() || tb.is_some() {
        changes_under(repo, &format!("{path}/"), ta, tb, out)?;
    }
    let file = |e: Side| e.is_some_and(|(_, m)| m != tree_mode);
    if file(a) || file(b) {
        out.insert(path);
    }
    Ok(())
}

/// Git's order of tree entries: by name, a folder's name as if it ended in `/`.
fn git_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then_with(|| {
        let end =
            |name: &[u8], tree: bool| name.get(n).copied().unwrap_or(if tree { b'/' } else { 0 });
        end(a, a_tree).cmp(&end(b, b_tree))
    })
}

/// The tree of `base` with `paths` taken from `head` (added, changed, or removed where `head`
/// lacks them): the job's changes restricted to those paths.
pub fn tree_with_paths(
    repo: &Repository,
    base: Oid,
    head: Oid,
    paths: &[String],
) -> Result<Oid, RepoError> {
    let base_tree = repo.find_tree(base)?;
    let head_tree = repo.find_tree(head)?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    for p in paths {
        match head_tree.get_path(Path::new(p)) {
            Ok(e) if e.kind() == Some(ObjectType::Blob) => {
                let mode = match e.filemode() {
                    m if m == i32::from(FileMode::BlobExecutable) => FileMode::BlobExecutable,
                    m if m == i32::from(FileMode::Link) => FileMode::Link,
                    _ => FileMode::Blob,
                };
                update.upsert(p.as_str(), e.id(), mode);
            }
            _ => {
                update.remove(p.as_str());
            }
        }
    }
    Ok(update.create_updated(repo, &base_tree)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_paths_agree_with_libgit2s_tree_diff() {
        use crate::repo::testing::{git, repo_with_commit};
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        repo_with_commit(dir);
        let write = |p: &str, c: &str| {
            let path = dir.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, c).expect("write");
        };
        for p in [
            "a/b/c.txt",
            "a/b/same.txt",
            "a/keep.txt",
            "x.txt",
            "f",
            "d/e.txt",
            "exe",
            // Sorted around the folder `a` and the file-then-folder `f` in git's order.
            "a.txt",
            "a-b",
            "f.txt",
            "f-g",
        ] {
            write(p, p);
        }
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "one"]);
        let one = git(dir, &["rev-parse", "HEAD^{tree}"]);
        write("a/b/c.txt", "changed");
        write("a/new/deep/n.txt", "new");
        write("a-b", "changed");
        write("f.txt", "changed");
        std::fs::remove_file(dir.join("x.txt")).expect("rm");
        // A file that becomes a folder, and a folder that becomes a file.
        std::fs::remove_file(dir.join("f")).expect("rm");
        write("f/inside.txt", "in");
        std::fs::remove_dir_all(dir.join("d")).expect("rm");
        write("d", "now a file");
        std::fs::set_permissions(
            dir.join("exe"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "two"]);
        let two = git(dir, &["rev-parse", "HEAD^{tree}"]);
        let repo = Repository::open(dir).expect("open");
        let (a, b) = (
            Oid::from_str(&one).expect("oid"),
            Oid::from_str(&two).expect("oid"),
        );
        let ours = changed_paths(&repo, a, b).expect("walk");
        let diff = repo
            .diff_tree_to_tree(
                Some(&repo.find_tree(a).expect("tree")),
                Some(&repo.find_tree(b).expect("tree")),
                None,
            )
            .expect("diff");
        let theirs: BTreeSet<String> = diff
            .deltas()
            .flat_map(|d| [d.old_file().path(), d.new_file().path()])
            .flatten()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(ours, theirs.into_iter().collect::<Vec<_>>());
        assert!(ours.contains(&"exe".to_string()), "a mode change counts");
        assert!(!ours
            .iter()
            .any(|p| p.contains("same") || p.contains("keep")));
        assert!(changed_paths(&repo, a, a).expect("walk").is_empty());
    }

    #[test]
    fn parses_git_merge_tree_conflicts() {
        let out = [
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "a.txt",
            "b.txt",
            "",
            "1",
            "a.txt",
            "Auto-merging",
            "Auto-merging a.txt\n",
            "1",
            "a.txt",
            "CONFLICT (contents)",
            "Merge conflict in a.txt\n",
            "2",
            "b.txt",
            "c.txt",
            "CONFLICT (modify/delete)",
            "b.txt deleted in one\n",
            "",
        ]
        .join("\0");
        let out = out.as_bytes();
        let m = parse_merge_tree(out, false).expect("parses");
        assert_eq!(m.tree, None);
        assert_eq!(
            m.conflicts,
            vec![
                Conflict {
                    path: "a.txt".into(),
                    kind: "content".into()
                },
                Conflict {
                    path: "b.txt".into(),
                    kind: "modify/delete".into()
                },
            ]
        );
        let clean =
            parse_merge_tree(b"4b825dc642cb6eb9a060e54bf8d69288fbee4904\0", true).expect("parses");
        assert!(clean.tree.is_some() && clean.conflicts.is_empty());
    }

    use crate::repo::testing::{git, repo_with_commit};

    fn tree(dir: &Path, rev: &str) -> Oid {
        Oid::from_str(&git(dir, &["rev-parse", &format!("{rev}^{{tree}}")])).expect("oid")
    }

    /// Builds base, then `ours` and `theirs` branches from it by running shell edits.
    fn scenario(base: &str, ours: &str, theirs: &str) -> (tempfile::TempDir, Oid, Oid, Oid) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        repo_with_commit(d);
        let sh = |script: &str| {
            let st = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .current_dir(d)
                .status()
                .expect("sh");
            assert!(st.success(), "{script}");
            git(d, &["add", "-A"]);
            git(d, &["commit", "-q", "--allow-empty", "-m", "step"]);
        };
        sh(base);
        git(d, &["branch", "base"]);
        git(d, &["checkout", "-q", "-b", "theirs"]);
        sh(theirs);
        git(d, &["checkout", "-q", "-b", "ours", "base"]);
        sh(ours);
        let (b, o, t) = (tree(d, "base"), tree(d, "ours"), tree(d, "theirs"));
        (tmp, b, o, t)
    }

    const BASE: &str = "seq 1 20 > a.txt; echo bee > b.txt; mkdir -p dir/sub; echo c > dir/c.txt; echo d > dir/sub/d.txt; seq 1 30 > moved.txt";

    #[test]
    fn the_fast_path_agrees_with_git_merge_tree() {
        let (tmp, b, o, t) = scenario(
            BASE,
            "sed -i 's/^1$/one/' a.txt; echo e > e.txt; echo c2 >> dir/c.txt; chmod +x b.txt",
            "sed -i 's/^19$/nineteen/' a.txt; rm dir/sub/d.txt; echo f > dir/f.txt; echo bee2 >> b.txt",
        );
        let repo = Repository::open(tmp.path()).expect("open");
        let fast = merge_trees(&repo, b, o, t).expect("merge");
        assert!(!fast.by_git, "this one is decided in process");
        let by_git = git_merge_tree(&repo, b, o, t).expect("git");
        assert_eq!(fast.tree, by_git.tree, "same tree as git");
        assert!(fast.conflicts.is_empty());
        let changed = changed_paths(&repo, o, fast.tree.expect("tree")).expect("diff");
        assert_eq!(
            changed,
            vec!["a.txt", "b.txt", "dir/f.txt", "dir/sub/d.txt"]
        );
        assert_eq!(
            fast.changed,
            Some(changed),
            "found on the way, the same list"
        );

        // Whole folders added and removed on one side, a file added in a new deep folder.
        let (tmp, b, o, t) = scenario(
            BASE,
            "echo c2 >> dir/c.txt; echo top > top.txt",
            "rm -r dir/sub; mkdir -p new/deep/er; echo n > new/deep/er/n.txt; echo m > new/m.txt; rm moved.txt",
        );
        let repo = Repository::open(tmp.path()).expect("open");
        let fast = merge_trees(&repo, b, o, t).expect("merge");
        assert!(!fast.by_git);
        assert_eq!(fast.tree, git_merge_tree(&repo, b, o, t).expect("git").tree);
        let changed = changed_paths(&repo, o, fast.tree.expect("tree")).expect("diff");
        assert_eq!(
            changed,
            vec![
                "dir/sub/d.txt",
                "moved.txt",
                "new/deep/er/n.txt",
                "new/m.txt"
            ]
        );
        assert_eq!(fast.changed, Some(changed));
    }

    #[test]
    fn renames_and_structural_cases_go_to_git_and_get_its_answer() {
        // One side renames a file the other edits: git follows the rename.
        let (tmp, b, o, t) = scenario(
            BASE,
            "git mv moved.txt renamed.txt",
            "sed -i 's/^15$/fifteen/' moved.txt",
        );
        let repo = Repository::open(tmp.path()).expect("open");
        let m = merge_trees(&repo, b, o, t).expect("merge");
        assert!(m.by_git && m.conflicts.is_empty());
        let merged = repo.find_tree(m.tree.expect("clean")).expect("tree");
        assert!(merged.get_name("moved.txt").is_none());
        let blob = repo
            .find_blob(merged.get_name("renamed.txt").expect("renamed").id())
            .expect("blob");
        assert!(String::from_utf8_lossy(blob.content()).contains("fifteen"));

        // Both sides change the same line: a content conflict, named.
        let (tmp, b, o, t) = scenario(
            BASE,
            "sed -i 's/^5$/five/' a.txt",
            "sed -i 's/^5$/FIVE/' a.txt",
        );
        let repo = Repository::open(tmp.path()).expect("open");
        let m = merge_trees(&repo, b, o, t).expect("merge");
        assert_eq!(m.tree, None);
        assert_eq!(
            m.conflicts,
            vec![Conflict {
                path: "a.txt".into(),
                kind: "content".into()
            }]
        );

        // One side deletes what the other modifies.
        let (tmp, b, o, t) = scenario(BASE, "rm b.txt", "echo more >> b.txt");
        let repo = Repository::open(tmp.path()).expect("open");
        let m = merge_trees(&repo, b, o, t).expect("merge");
        assert_eq!(
            m.conflicts,
            vec![Conflict {
                path: "b.txt".into(),
                kind: "modify/delete".into()
            }]
        );
    }

    #[test]
    fn tree_with_paths_takes_only_the_named_files() {
        let (tmp, b, _o, t) = scenario(BASE, "true", "echo x >> a.txt; rm b.txt; echo new > n.txt");
        let repo = Repository::open(tmp.path()).expect("open");
        let only = tree_with_paths(&repo, b, t, &["b.txt".into(), "n.txt".into()]).expect("tree");
        let changed = changed_paths(&repo, b, only).expect("changed");
        assert_eq!(changed, vec!["b.txt", "n.txt"]);
    }

    #[test]
    fn modes_merge_like_content() {
        assert_eq!(merge_mode(0o100644, 0o100755, 0o100644), Some(0o100755));
        assert_eq!(merge_mode(0o100644, 0o100644, 0o100755), Some(0o100755));
        assert_eq!(merge_mode(0o100644, 0o100755, 0o100755), Some(0o100755));
        assert_eq!(merge_mode(0o100644, 0o100755, 0o120000), None);
    }
}
