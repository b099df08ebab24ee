//! A new worktree's files written by this process, on every core, when nothing asks git to
//! do more than copy blobs out: `git worktree add` spends a good part of a checkout starting
//! processes (itself, `reset --hard`, a checkout worker per core) and piping blobs to them.
//!
//! Only the plain case is taken: no attributes anywhere (no filters, no end-of-line
//! conversion, no working-tree encoding), no `core.autocrlf`/`core.eol`, symlinks on, no
//! sparse checkout, no submodules, no `post-checkout` hook, and only paths any git accepts.
//! Anything else is left to git ([`plan`] says `None`), which then checks out as it always
//! did. The index is written with each file's stat data, so git sees the worktree clean
//! without reading a file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use git2::{IndexEntry, IndexTime, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::error::RepoError;

type Result<T> = std::result::Result<T, RepoError>;

/// What a commit's checkout writes: folders (parents first) and files, in git's index order.
pub struct Plan {
    dirs: Vec<Vec<u8>>,
    files: Vec<File>,
}

struct File {
    path: Vec<u8>,
    id: Oid,
    /// 0o100644, 0o100755 or 0o120000.
    mode: u32,
}

impl Plan {
    pub fn files(&self) -> usize {
        self.files.len()
    }
}

/// The checkout of `commit` as this module can do it, or `None` when git must (see the
/// module's conditions).
pub fn plan(repo: &Repository, commit: Oid) -> Result<Option<Plan>> {
    if !plain_settings(repo)? {
        return Ok(None);
    }
    let tree = repo.find_commit(commit)?.tree()?;
    let mut plan = Plan {
        dirs: Vec::new(),
        files: Vec::new(),
    };
    let mut plain = true;
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        let name = entry.name_bytes();
        if !plain_name(name) {
            plain = false;
            return TreeWalkResult::Abort;
        }
        let mut path = parent.as_bytes().to_vec();
        path.extend_from_slice(name);
        match (entry.kind(), entry.filemode()) {
            (Some(ObjectType::Tree), _) => plan.dirs.push(path),
            (Some(ObjectType::Blob), m @ (0o100644 | 0o100755 | 0o120000)) => {
                plan.files.push(File {
                    path,
                    id: entry.id(),
                    mode: m as u32,
                })
            }
            // Submodules and anything odd: git's to handle.
            _ => {
                plain = false;
                return TreeWalkResult::Abort;
            }
        }
        TreeWalkResult::Ok
    })
    .or_else(|e| if plain { Err(e) } else { Ok(()) })?;
    Ok(plain.then_some(plan))
}

/// A name git writes as it is: not `.`/`..`, no `.git` in any spelling a file system might
/// fold to it, nothing that names attributes or submodules, no backslash or colon.
fn plain_name(name: &[u8]) -> bool {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'\\') {
        return false;
    }
    if name.contains(&b':') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    let trimmed = {
        let mut t = &lower[..];
        while let [rest @ .., b'.' | b' '] = t {
            t = rest;
        }
        t
    };
    !(trimmed == b".git"
        || lower.starts_with(b"git~")
        || trimmed == b".gitattributes"
        || trimmed == b".gitmodules")
}

/// No setting or file that makes git convert, skip or add to what a checkout writes.
fn plain_settings(repo: &Repository) -> Result<bool> {
    let cfg = repo.config()?;
    let off = |key: &str| match cfg.get_string(key) {
        Ok(v) => matches!(
            v.to_ascii_lowercase().as_str(),
            "false" | "no" | "off" | "0" | ""
        ),
        Err(_) => true,
    };
    let on = |key: &str| match cfg.get_string(key) {
        Ok(v) => matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1" | ""
        ),
        Err(_) => true,
    };
    let unset = |key: &str| cfg.get_string(key).is_err();
    if !off("core.autocrlf")
        || !unset("core.eol")
        || !on("core.symlinks")
        || !off("core.sparseCheckout")
        || !off("core.ignoreCase")
        || !unset("core.attributesFile")
    {
        return Ok(false);
    }
    let common = repo.commondir();
    if common.join("info").join("attributes").exists() {
        return Ok(false);
    }
    // git's default attributes file when core.attributesFile is not set.
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if xdg.is_some_and(|d| d.join("git").join("attributes").exists()) {
        return Ok(false);
    }
    // A post-checkout hook runs after git's checkout: keep git's. A relative hooksPath is
    // found from the new worktree (where the hook runs), i.e. from the commit's own files.
    let hooks = match cfg.get_path("core.hooksPath") {
        Ok(p) if p.is_absolute() => p,
        Ok(_) => return Ok(false),
        Err(_) => common.join("hooks"),
    };
    if hooks.join("post-checkout").exists() {
        return Ok(false);
    }
    Ok(true)
}

/// Writes `plan`'s folders and files into `worktree` (empty but for its `.git` link) and the
/// index at `index`, spreading the files over the machine's cores. `repo_dir` is opened once
/// per thread (a libgit2 handle is not shared between threads).
pub fn write(repo_dir: &Path, worktree: &Path, index: &Path, plan: &Plan) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let at = |p: &[u8]| worktree.join(std::ffi::OsStr::from_bytes(p));
    for d in &plan.dirs {
        std::fs::create_dir(at(d))?;
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = plan.files.len().div_ceil(threads).max(1);
    let stats: Vec<std::fs::Metadata> = std::thread::scope(|s| {
        let workers: Vec<_> = plan
            .files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> Result<Vec<std::fs::Metadata>> {
                    let repo = Repository::open(repo_dir)?;
                    part.iter()
                        .map(|f| write_file(&repo, &at(&f.path), f))
                        .collect()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(plan.files.len());
        for w in workers {
            let part = w.join().map_err(|_| RepoError::Git {
                what: "checkout".into(),
                detail: "a checkout thread panicked".into(),
            })??;
            all.extend(part);
        }
        Ok::<_, RepoError>(all)
    })?;
    let mut idx = git2::Index::open(index)?;
    for (f, m) in plan.files.iter().zip(&stats) {
        idx.add(&entry(f, m))?;
    }
    idx.write()?;
    Ok(())
}

fn write_file(repo: &Repository, path: &Path, f: &File) -> Result<std::fs::Metadata> {
    let blob = repo.find_blob(f.id)?;
    if f.mode == 0o120000 {
        use std::os::unix::ffi::OsStrExt;
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(blob.content()), path)?;
        return Ok(std::fs::symlink_metadata(path)?);
    }
    // As git does: 0666 or 0777, less the umask.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if f.mode == 0o100755 { 0o777 } else { 0o666 })
        .open(path)?;
    file.write_all(blob.content())?;
    Ok(file.metadata()?)
}

/// The index entry git would write for `f` checked out with stat data `m` (git keeps the low
/// 32 bits of each number).
fn entry(f: &File, m: &std::fs::Metadata) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(m.ctime() as i32, m.ctime_nsec() as u32),
        mtime: IndexTime::new(m.mtime() as i32, m.mtime_nsec() as u32),
        dev: m.dev() as u32,
        ino: m.ino() as u32,
        mode: f.mode,
        uid: m.uid(),
        gid: m.gid(),
        file_size: m.size() as u32,
        id: f.id,
        flags: f.path.len().min(0xfff) as u16,
        flags_extended: 0,
        path: f.path.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::git;
    use crate::repo::{add_worktree, worktree_group};

    fn commit_all(repo: &Path) -> String {
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "files"]);
        git(repo, &["rev-parse", "HEAD"])
    }

    fn new_repo(root: &Path) -> PathBuf {
        let repo = root.join("repo");
        std::fs::create_dir(&repo).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        repo
    }

    fn planned(repo: &Path, commit: &str) -> bool {
        let r = Repository::open(repo).expect("open");
        plan(&r, Oid::from_str(commit).expect("oid"))
            .expect("plan")
            .is_some()
    }

    #[test]
    fn a_plain_commit_is_written_here_and_git_sees_it_clean_without_reading_a_file() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = new_repo(tmp.path());
        let w = |p: &str, b: &[u8]| {
            let path = repo.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, b).expect("write");
        };
        w("a.txt", b"a\n");
        w("a-b", b"dash\n");
        w("a/x", b"in a\n");
        w("dir/sub/deep.txt", b"deep\n");
        w("sp ace/\u{fc}.txt", b"unicode\n");
        w("empty", b"");
        w("bin.dat", &(0..=255u8).collect::<Vec<_>>());
        w(".gitignore", b"*.log\n");
        w("run.sh", b"#!/bin/sh\necho hi\n");
        std::fs::set_permissions(repo.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        std::os::unix::fs::symlink("dir/sub/deep.txt", repo.join("link")).expect("symlink");
        let base = commit_all(&repo);
        assert!(planned(&repo, &base), "a plain commit is written here");

        let wt = worktree_group(&tmp.path().join("wts"), &repo).join("brave-otter");
        add_worktree(&repo, &wt, "sidekick/brave-otter", &base, "test").expect("add");
        // What git would have written: the same index entries (ids, modes, paths)...
        let by_git = tmp.path().join("by-git");
        git(
            &repo,
            &[
                "worktree",
                "add",
                "-q",
                "--detach",
                by_git.to_str().expect("utf-8"),
                &base,
            ],
        );
        assert_eq!(
            git(&wt, &["ls-files", "-s"]),
            git(&by_git, &["ls-files", "-s"])
        );
        assert_eq!(git(&wt, &["ls-files", "-s"]).lines().count(), 10);
        // ...the same files, modes and link...
        for f in [
            "a.txt",
            "a-b",
            "a/x",
            "dir/sub/deep.txt",
            "sp ace/\u{fc}.txt",
            "empty",
            "bin.dat",
            ".gitignore",
            "run.sh",
        ] {
            assert_eq!(
                std::fs::read(wt.join(f)).expect("read"),
                std::fs::read(by_git.join(f)).expect("read"),
                "{f}"
            );
            let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode();
            assert_eq!(mode(&wt.join(f)), mode(&by_git.join(f)), "{f}");
        }
        assert_eq!(
            std::fs::read_link(wt.join("link")).expect("link"),
            Path::new("dir/sub/deep.txt")
        );
        // ...on the job's branch, clean.
        assert_eq!(
            git(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]),
            "sidekick/brave-otter"
        );
        assert_eq!(
            git(&wt, &["status", "--porcelain", "--untracked-files=all"]),
            ""
        );
        // Each entry's stat data is the file's: with the index newer than every file (no entry
        // racily clean), git compares stat data only, and finds nothing changed.
        let admin = crate::repo::linked_gitdir(&wt).expect("admin");
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(admin.join("index"))
            .and_then(|f| f.set_modified(later))
            .expect("index mtime");
        assert_eq!(git(&wt, &["diff-files", "--raw"]), "");
        // The check can fail: a file whose stat data differs shows (content unchanged).
        std::fs::File::options()
            .write(true)
            .open(wt.join("a.txt"))
            .and_then(|f| f.set_modified(later))
            .expect("a.txt mtime");
        assert!(git(&wt, &["diff-files", "--raw"]).contains("a.txt"));
    }

    #[test]
    fn git_checks_out_what_needs_more_than_copying() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = new_repo(tmp.path());
        std::fs::write(repo.join("a.txt"), "one\ntwo\n").expect("write");
        let plain = commit_all(&repo);
        assert!(planned(&repo, &plain));
        let mut n = 0;
        let mut add = |commit: &str| {
            n += 1;
            let wt = worktree_group(&tmp.path().join("wts"), &repo).join(format!("job-{n}"));
            add_worktree(&repo, &wt, &format!("sidekick/job-{n}"), commit, "test").expect("add");
            assert_eq!(git(&wt, &["status", "--porcelain"]), "");
            wt
        };

        // Attributes: git converts (here to CRLF).
        std::fs::write(repo.join(".gitattributes"), "*.txt text eol=crlf\n").expect("write");
        let attributed = commit_all(&repo);
        assert!(!planned(&repo, &attributed));
        let wt = add(&attributed);
        assert_eq!(
            std::fs::read(wt.join("a.txt")).expect("read"),
            b"one\r\ntwo\r\n"
        );
        git(&repo, &["rm", "-q", ".gitattributes"]);
        let plain = commit_all(&repo);
        assert!(planned(&repo, &plain));

        // Settings that change what is written.
        for (key, value) in [
            ("core.autocrlf", "true"),
            ("core.eol", "crlf"),
            ("core.symlinks", "false"),
            ("core.sparseCheckout", "true"),
        ] {
            git(&repo, &["config", key, value]);
            assert!(!planned(&repo, &plain), "{key}={value}");
            git(&repo, &["config", "--unset", key]);
        }
        std::fs::create_dir_all(repo.join(".git/info")).expect("mkdir");
        std::fs::write(repo.join(".git/info/attributes"), "* -text\n").expect("write");
        assert!(!planned(&repo, &plain));
        std::fs::remove_file(repo.join(".git/info/attributes")).expect("rm");
        assert!(planned(&repo, &plain));

        // A post-checkout hook runs as it always did.
        let hook = repo.join(".git/hooks/post-checkout");
        std::fs::create_dir_all(hook.parent().expect("hooks")).expect("mkdir");
        let ran = tmp.path().join("hook-ran");
        std::fs::write(
            &hook,
            format!("#!/bin/sh\necho \"$PWD\" > '{}'\n", ran.display()),
        )
        .expect("hook");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(!planned(&repo, &plain));
        let wt = add(&plain);
        assert_eq!(
            std::fs::read_to_string(&ran).expect("the hook ran").trim(),
            wt.to_str().expect("utf-8")
        );
        std::fs::remove_file(&hook).expect("rm");
        assert!(planned(&repo, &plain));
        // A hooks folder named relative to the worktree the hook runs in: git's to find.
        git(&repo, &["config", "core.hooksPath", ".githooks"]);
        assert!(!planned(&repo, &plain));
        git(&repo, &["config", "--unset", "core.hooksPath"]);

        // A submodule (a gitlink entry).
        git(
            &repo,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("160000,{plain},sub"),
            ],
        );
        git(&repo, &["commit", "-q", "-m", "gitlink"]);
        let linked = git(&repo, &["rev-parse", "HEAD"]);
        assert!(!planned(&repo, &linked));
    }

    #[test]
    fn names_git_might_refuse_or_fold_are_left_to_git() {
        for ok in [
            &b"a.txt"[..],
            b".gitignore",
            b".github",
            b"x..y",
            b"git",
            b"\xc3\xbc",
        ] {
            assert!(plain_name(ok), "{}", String::from_utf8_lossy(ok));
        }
        for odd in [
            &b".git"[..],
            b".GIT",
            b".git.",
            b".git ",
            b"git~1",
            b"GIT~2",
            b".gitattributes",
            b".gitmodules",
            b".",
            b"..",
            b"a\\b",
            b"c:d",
            b"",
        ] {
            assert!(!plain_name(odd), "{}", String::from_utf8_lossy(odd));
        }
    }
}
