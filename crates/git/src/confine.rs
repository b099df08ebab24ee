//! The git side of a job's sandbox: where its worktree keeps its git state, a folder that stands
//! in for its branch's ref folder, and putting things right after the agent ran.
//!
//! In the sandbox the repository's git folder is read-only, object store included, except the
//! worktree's own admin folder (index, HEAD, its logs, a private object store) and its branch.
//! New objects go to the private store ([`WorktreeGit::private_objects`], `GIT_OBJECT_DIRECTORY`
//! with the repository's store as a read-only alternate): an agent that could write the shared
//! store could replace an existing loose object by one of the same name and other content, and
//! the user's history would say what the agent wrote. After the run the host brings the private
//! store's objects in through `git index-pack`, which names every object by hashing it
//! ([`import_objects`]). A ref is
//! written by creating `NAME.lock` beside it and renaming, so the folder holding the ref must be
//! writable; the real one (`refs/heads/sidekick/`) also holds every other job's branch. The
//! sandbox gets a folder of its own mounted there instead, holding only its branch's ref
//! ([`stage_ref`]); once the agent is gone the host moves the real ref to what it says, if that is
//! a commit ([`settle_ref`]).
//!
//! Everything about the worktree's git state is found from the repository, never from the
//! worktree's `.git` file, which the agent can rewrite: a `.git` pointing at a git folder of the
//! agent's making would have the host run that folder's config (`core.fsmonitor`, filters) outside
//! the sandbox. [`restore_link`] writes the `.git` file and HEAD back before the host runs git
//! there.

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Repository;

use crate::repo::{branch_tip, git, RepoError};

type Result<T> = std::result::Result<T, RepoError>;

/// The name of the folder in a worktree's admin folder that the sandbox sees as its branch's
/// ref folder.
const STAGE: &str = "sidekick-ref";

/// Where one worktree keeps its git state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeGit {
    /// The repository's git folder (objects, refs, config).
    pub common: PathBuf,
    /// The worktree's own folder in it (`worktrees/NAME`: index, HEAD, logs).
    pub admin: PathBuf,
}

impl WorktreeGit {
    /// The files of the admin folder the agent must not change: they say where the worktree and
    /// the repository are, and (with `extensions.worktreeConfig`) hold config git would run.
    pub fn fixed_files(&self) -> [PathBuf; 3] {
        [
            self.admin.join("gitdir"),
            self.admin.join("commondir"),
            self.admin.join("config.worktree"),
        ]
    }

    /// The repository's object store (read-only in the sandbox).
    pub fn objects(&self) -> PathBuf {
        self.common.join("objects")
    }

    /// Where a sandboxed job's git writes its new objects (writable in the sandbox; emptied
    /// into the repository's store by [`import_objects`] after each run).
    pub fn private_objects(&self) -> PathBuf {
        self.admin.join(PRIVATE_OBJECTS)
    }
}

/// The name of the private object store in a worktree's admin folder.
const PRIVATE_OBJECTS: &str = "sidekick-objects";

/// Makes the private object store (an empty object folder git can write to) and returns it.
pub fn prepare_objects(g: &WorktreeGit) -> Result<PathBuf> {
    let dir = g.private_objects();
    // A link or a file where the store should be was left by an agent: never written through.
    if let Ok(meta) = std::fs::symlink_metadata(&dir) {
        if !meta.is_dir() {
            std::fs::remove_file(&dir)?;
        }
    }
    std::fs::create_dir_all(dir.join("pack"))?;
    std::fs::create_dir_all(dir.join("info"))?;
    Ok(dir)
}

/// What [`import_objects`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Imported {
    /// Objects brought into the repository's store.
    pub objects: usize,
    /// Entries of the private store that were not plain files or folders (links, devices):
    /// removed unread.
    pub refused: Vec<String>,
}

/// Brings every object of the worktree's private store into the repository's store and empties
/// the private one. Git reads each object and `index-pack` names it by hashing its content, so
/// an object stored under another object's name cannot take that name: the repository keeps its
/// own. Links and other non-files in the private store are removed unread (a link could make the
/// host read, as an object, a file the sandbox hid). Does nothing when the store is empty or
/// missing (a job that did not run sandboxed).
pub fn import_objects(repo: &Path, g: &WorktreeGit) -> Result<Imported> {
    let dir = g.private_objects();
    let mut done = Imported::default();
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
        Err(e) => return Err(e.into()),
        Ok(meta) if !meta.is_dir() => {
            std::fs::remove_file(&dir)?;
            done.refused.push(PRIVATE_OBJECTS.to_string());
            return Ok(done);
        }
        Ok(_) => {}
    }
    let mut any = false;
    keep_plain(&dir, Path::new(""), &mut done.refused, &mut any)?;
    if any {
        done.objects = copy_in(repo, &dir)?;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(done)
}

/// Removes everything under `dir` that is not a plain file or folder; `any` is set when a file
/// other than git's own bookkeeping is there (an object, a pack).
fn keep_plain(dir: &Path, rel: &Path, refused: &mut Vec<String>, any: &mut bool) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            keep_plain(&path, &name, refused, any)?;
        } else if kind.is_file() {
            *any = *any || !name.starts_with("info");
        } else {
            std::fs::remove_file(&path)?;
            refused.push(name.display().to_string());
        }
    }
    Ok(())
}

/// Packs every object of the object folder `store` (read there alone) and indexes the pack into
/// `repo`'s store. Returns how many objects went in.
fn copy_in(repo: &Path, store: &Path) -> Result<usize> {
    use std::process::Stdio;
    let alone = |mut cmd: std::process::Command| {
        cmd.env("GIT_OBJECT_DIRECTORY", store)
            .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES");
        cmd
    };
    let mut list = alone(git(repo));
    list.args([
        "cat-file",
        "--batch-all-objects",
        "--batch-check=%(objectname)",
        "--unordered",
    ]);
    let names = crate::repo::run(list, "cat-file of the sandbox's objects")?;
    let count = names.lines().filter(|l| !l.is_empty()).count();
    if count == 0 {
        return Ok(0);
    }
    let mut pack = alone(git(repo));
    pack.args(["pack-objects", "--stdout", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut packer = pack.spawn().map_err(RepoError::Spawn)?;
    let packed = packer.stdout.take().ok_or_else(|| RepoError::Git {
        what: "pack-objects".into(),
        detail: "no output".into(),
    })?;
    let mut index = git(repo);
    index
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .args(["index-pack", "--stdin"])
        .stdin(Stdio::from(packed))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let indexer = index.spawn().map_err(RepoError::Spawn);
    // The list is written while both run (pack-objects reads it all before it writes).
    let wrote = packer
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(names.as_bytes()))
        .transpose();
    let packed = packer.wait_with_output().map_err(RepoError::Spawn)?;
    let indexer = indexer?;
    let indexed = indexer.wait_with_output().map_err(RepoError::Spawn)?;
    wrote?;
    crate::repo::check("pack-objects of the sandbox's objects", packed)?;
    crate::repo::check("index-pack of the sandbox's objects", indexed)?;
    Ok(count)
}

/// Finds the git state of `worktree`, a linked worktree of `repo`, from the repository's list
/// of worktrees.
pub fn worktree_git(repo: &Path, worktree: &Path) -> Result<WorktreeGit> {
    let common = Repository::open(repo)?.commondir().to_path_buf();
    let want = canonical(&worktree.join(".git"));
    let list = common.join("worktrees");
    for entry in std::fs::read_dir(&list)?.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("gitdir")) else {
            continue;
        };
        if canonical(Path::new(text.trim())) == want {
            return Ok(WorktreeGit {
                common: canonical(&common),
                admin: canonical(&entry.path()),
            });
        }
    }
    Err(RepoError::Git {
        what: "worktree list".into(),
        detail: format!(
            "{} is not one of {}'s worktrees",
            worktree.display(),
            repo.display()
        ),
    })
}

fn canonical(p: &Path) -> PathBuf {
    match (p.parent(), p.file_name()) {
        // The last component may not exist (a `.git` file the agent removed).
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|d| d.join(name))
            .unwrap_or_else(|_| p.to_path_buf()),
        _ => p.to_path_buf(),
    }
}

/// The stand-in for a branch's ref folder: mount `stage` over `mount` in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefStage {
    pub stage: PathBuf,
    pub mount: PathBuf,
    /// The branch's reflog (writable in the sandbox; created when missing).
    pub reflog: PathBuf,
}

fn ref_paths(g: &WorktreeGit, branch: &str) -> Result<(PathBuf, String)> {
    let full = format!("refs/heads/{branch}");
    let ok = !branch.is_empty()
        && branch
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.ends_with(".lock"));
    let leaf = branch.rsplit('/').next().unwrap_or_default().to_string();
    if !ok {
        return Err(RepoError::Git {
            what: "branch name".into(),
            detail: format!("'{branch}' cannot be a job's branch"),
        });
    }
    Ok((g.common.join(full), leaf))
}

/// Prepares the folder the sandbox sees as `branch`'s ref folder, holding the branch's current
/// commit, and makes sure the mount point and the reflog exist.
pub fn stage_ref(repo: &Path, g: &WorktreeGit, branch: &str) -> Result<RefStage> {
    let (ref_file, leaf) = ref_paths(g, branch)?;
    let tip = branch_tip(repo, branch)?;
    let mount = ref_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| g.common.join("refs/heads"));
    std::fs::create_dir_all(&mount)?;
    let stage = g.admin.join(STAGE);
    match std::fs::remove_dir_all(&stage) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    std::fs::create_dir(&stage)?;
    std::fs::write(stage.join(&leaf), format!("{tip}\n"))?;
    let reflog = g.common.join("logs/refs/heads").join(branch);
    if let Some(dir) = reflog.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&reflog)?
        .flush()?;
    Ok(RefStage {
        stage,
        mount,
        reflog,
    })
}

/// What [`settle_ref`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Nothing was staged (the job did not run sandboxed), or the ref did not move.
    Unchanged,
    /// The branch now points where the agent moved it.
    Moved { from: String, to: String },
    /// What the sandbox left is not a commit of this repository: the branch stays.
    Ignored(String),
}

/// Moves `branch` to where the agent left its ref in the sandbox, if that is a commit, and
/// removes the stand-in folder. Safe to call when nothing was staged.
pub fn settle_ref(repo: &Path, g: &WorktreeGit, branch: &str) -> Result<Settled> {
    let (_, leaf) = ref_paths(g, branch)?;
    let stage = g.admin.join(STAGE);
    let said = match read_staged(&stage.join(&leaf)) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        // A folder, a link or something unreadable where the ref was: not a commit.
        Err(e) => Some(format!("<{e}>")),
    };
    let remove = || match std::fs::remove_dir_all(&stage) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    let Some(said) = said else {
        remove()?;
        return Ok(Settled::Unchanged);
    };
    let tip = branch_tip(repo, branch)?;
    let is_hex = is_object_id(&said);
    let outcome = if said == tip {
        Settled::Unchanged
    } else if !is_hex || !is_commit(repo, &said)? {
        let shown: String = sidekick_protocol::text::visible_line(&said)
            .chars()
            .take(80)
            .collect();
        Settled::Ignored(format!(
            "the agent left '{shown}' as its branch's ref, which is not a commit; the branch stays at {}",
            &tip[..tip.len().min(12)]
        ))
    } else {
        let out = git(repo)
            .args([
                "update-ref",
                "-m",
                "sidekick: the agent's commits in its sandbox",
            ])
            .arg(format!("refs/heads/{branch}"))
            .args([&said, &tip])
            .output()
            .map_err(RepoError::Spawn)?;
        if !out.status.success() {
            return Err(RepoError::Git {
                what: "update-ref".into(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Settled::Moved {
            from: tip,
            to: said,
        }
    };
    remove()?;
    Ok(outcome)
}

/// What the agent left as its branch's ref: the start of a plain file, never read through a
/// link (a link to a file the sandbox hid would have the host quote it).
fn read_staged(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => std::io::Error::other("a symbolic link"),
            _ => e,
        })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a file"));
    }
    let mut text = String::new();
    // A ref is one line; more than this is not one.
    file.take(256).read_to_string(&mut text)?;
    Ok(text.trim().to_string())
}

/// A full object id (SHA-1 or SHA-256 in hex), as a loose ref or a detached HEAD holds one.
fn is_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_commit(repo: &Path, sha: &str) -> Result<bool> {
    let out = git(repo)
        .args(["cat-file", "-e"])
        .arg(format!("{sha}^{{commit}}"))
        .output()
        .map_err(RepoError::Spawn)?;
    Ok(out.status.success())
}

/// Puts back what ties the worktree to its git state and its branch: the worktree's `.git`
/// file, the admin folder's `gitdir` and `commondir`, and HEAD on `branch`. Returns one phrase
/// per thing that had been changed.
pub fn restore_link(repo: &Path, worktree: &Path, branch: &str) -> Result<Vec<String>> {
    let g = worktree_git(repo, worktree)?;
    let mut fixed = Vec::new();
    let link = worktree.join(".git");
    let want = format!("gitdir: {}\n", g.admin.display());
    let meta = std::fs::symlink_metadata(&link);
    let same = meta.as_ref().is_ok_and(|m| m.file_type().is_file())
        && std::fs::read_to_string(&link).is_ok_and(|t| t.trim() == want.trim());
    if !same {
        match &meta {
            Ok(m) if m.file_type().is_dir() => std::fs::remove_dir_all(&link)?,
            Ok(_) => std::fs::remove_file(&link)?,
            Err(_) => {}
        }
        std::fs::write(&link, &want)?;
        fixed.push("the worktree's .git link".to_string());
    }
    let files = [
        ("gitdir", format!("{}\n", link.display())),
        ("commondir", "../..\n".to_string()),
    ];
    for (name, content) in files {
        let path = g.admin.join(name);
        let now = std::fs::read_to_string(&path).unwrap_or_default();
        // git writes `commondir` relative; either form that names the same folder is fine.
        let fine = match name {
            "commondir" => {
                std::fs::canonicalize(g.admin.join(now.trim()))
                    .ok()
                    .as_ref()
                    == Some(&g.common)
            }
            _ => canonical(Path::new(now.trim())) == canonical(&link),
        };
        if !fine {
            replace(&path, &content)?;
            fixed.push(format!("the worktree's {name}"));
        }
    }
    let head = g.admin.join("HEAD");
    let want_head = format!("ref: refs/heads/{branch}");
    let now = std::fs::read_to_string(&head)
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    // A rebase or merge in progress (`sidekick rebase` stopped at conflicts) has HEAD detached;
    // a commit there moves no branch. HEAD on any other branch is never kept.
    let detached = is_object_id(&now);
    let in_progress = [
        "rebase-merge",
        "rebase-apply",
        "MERGE_HEAD",
        "CHERRY_PICK_HEAD",
        "REVERT_HEAD",
    ]
    .iter()
    .any(|f| g.admin.join(f).exists());
    if now != want_head && !(detached && in_progress) {
        replace(&head, &format!("{want_head}\n"))?;
        fixed.push(format!("HEAD (back on {branch})"));
    }
    Ok(fixed)
}

/// Writes a small file by rename, so a reader sees the old or the new content.
fn replace(path: &Path, content: &str) -> Result<()> {
    let tmp = path.with_extension("sidekick-tmp");
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Makes sure the admin folder's fixed files exist, so the sandbox can hold them read-only (an
/// empty `config.worktree` is what git reads when there is none).
pub fn prepare_fixed_files(g: &WorktreeGit) -> Result<()> {
    let cfg = g.admin.join("config.worktree");
    if !cfg.exists() {
        std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&cfg)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => std::fs::File::open(&cfg),
                _ => Err(e),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::testing::{git as tgit, repo_with_commit};

    /// A repository with a job worktree on `sidekick/fox` and another branch `sidekick/owl`.
    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).expect("mkdir");
        repo_with_commit(&repo);
        tgit(&repo, &["branch", "sidekick/owl"]);
        let wt = tmp.path().join("wt");
        let wt_s = wt.display().to_string();
        tgit(
            &repo,
            &["worktree", "add", "-q", "-b", "sidekick/fox", &wt_s],
        );
        (tmp, repo, wt)
    }

    #[test]
    fn the_worktrees_git_state_is_found_from_the_repository() {
        let (_tmp, repo, wt) = setup();
        let g = worktree_git(&repo, &wt).expect("found");
        assert_eq!(
            g.common,
            std::fs::canonicalize(repo.join(".git")).expect("real")
        );
        assert!(g.admin.starts_with(g.common.join("worktrees")));
        // A `.git` file the agent rewrote does not change the answer.
        std::fs::write(wt.join(".git"), "gitdir: /somewhere/else\n").expect("write");
        assert_eq!(worktree_git(&repo, &wt).expect("found"), g);
        assert!(worktree_git(&repo, &repo.join("not-a-worktree")).is_err());
    }

    #[test]
    fn a_staged_ref_moves_the_branch_only_to_a_commit() {
        let (_tmp, repo, wt) = setup();
        let g = worktree_git(&repo, &wt).expect("found");
        let tip = tgit(&repo, &["rev-parse", "sidekick/fox"]);
        let owl = tgit(&repo, &["rev-parse", "sidekick/owl"]);
        let stage = stage_ref(&repo, &g, "sidekick/fox").expect("staged");
        assert_eq!(stage.mount, g.common.join("refs/heads/sidekick"));
        assert_eq!(
            std::fs::read_to_string(stage.stage.join("fox")).expect("staged ref"),
            format!("{tip}\n")
        );
        assert!(stage.reflog.is_file());
        // Nothing moved: nothing to do, and the stand-in is gone.
        assert_eq!(
            settle_ref(&repo, &g, "sidekick/fox").expect("settled"),
            Settled::Unchanged
        );
        assert!(!stage.stage.exists());

        // The agent committed (an object in the shared store) and wrote its ref in the stand-in.
        let stage = stage_ref(&repo, &g, "sidekick/fox").expect("staged");
        std::fs::write(wt.join("a.txt"), "a\n").expect("write");
        tgit(&wt, &["add", "a.txt"]);
        let tree = tgit(&wt, &["write-tree"]);
        let commit = tgit(&wt, &["commit-tree", &tree, "-p", &tip, "-m", "agent"]);
        std::fs::write(stage.stage.join("fox"), format!("{commit}\n")).expect("write");
        assert_eq!(
            settle_ref(&repo, &g, "sidekick/fox").expect("settled"),
            Settled::Moved {
                from: tip.clone(),
                to: commit.clone()
            }
        );
        assert_eq!(tgit(&repo, &["rev-parse", "sidekick/fox"]), commit);
        assert_eq!(tgit(&repo, &["rev-parse", "sidekick/owl"]), owl);

        // What is not a commit of this repository leaves the branch where it is.
        for junk in [
            "ref: refs/heads/main",
            "0123456789012345678901234567890123456789",
            "x",
        ] {
            let stage = stage_ref(&repo, &g, "sidekick/fox").expect("staged");
            std::fs::write(stage.stage.join("fox"), junk).expect("write");
            assert!(matches!(
                settle_ref(&repo, &g, "sidekick/fox").expect("settled"),
                Settled::Ignored(_)
            ));
            assert_eq!(tgit(&repo, &["rev-parse", "sidekick/fox"]), commit);
        }
        assert!(stage_ref(&repo, &g, "../main").is_err());
    }

    /// git in `dir` as a sandboxed job's git runs: new objects in the private store.
    fn sandboxed_git(dir: &Path, g: &WorktreeGit, args: &[&str], input: Option<&[u8]>) -> String {
        use std::io::Write as _;
        let mut cmd = sidekick_testkit::git_command(dir);
        cmd.args(args)
            .env("GIT_OBJECT_DIRECTORY", g.private_objects())
            .env("GIT_ALTERNATE_OBJECT_DIRECTORIES", g.objects())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("git runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.unwrap_or_default()).expect("input");
        drop(stdin);
        let out = child.wait_with_output().expect("git ends");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn loose(store: &Path, id: &str) -> PathBuf {
        store.join(&id[..2]).join(&id[2..])
    }

    #[test]
    fn objects_written_in_the_sandbox_come_in_hashed_and_cannot_replace_the_repositorys() {
        let (tmp, repo, wt) = setup();
        let g = worktree_git(&repo, &wt).expect("found");
        let readme = tgit(&repo, &["rev-parse", "HEAD:README.md"]);
        let original = tgit(&repo, &["cat-file", "-p", &readme]);
        let before = tgit(&repo, &["rev-parse", "sidekick/fox"]);
        let store = prepare_objects(&g).expect("prepared");
        let stage = stage_ref(&repo, &g, "sidekick/fox").expect("staged");

        // The agent commits (its objects land in the private store, none in the repository's)...
        std::fs::write(wt.join("a.txt"), "a\n").expect("write");
        sandboxed_git(&wt, &g, &["add", "a.txt"], None);
        let tree = sandboxed_git(&wt, &g, &["write-tree"], None);
        let commit = sandboxed_git(
            &wt,
            &g,
            &["commit-tree", &tree, "-p", &before, "-m", "agent"],
            None,
        );
        assert!(!loose(&g.objects(), &commit).exists());
        assert!(loose(&store, &commit).exists());
        // ...stores other content under the name of the user's README blob...
        let evil = sandboxed_git(
            &wt,
            &g,
            &["hash-object", "-w", "--stdin"],
            Some(b"injected\n"),
        );
        std::fs::create_dir_all(loose(&store, &readme).parent().expect("fan-out")).expect("mkdir");
        std::fs::copy(loose(&store, &evil), loose(&store, &readme)).expect("forged");
        // ...and a link to a file the sandbox hid.
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, "SECRET").expect("secret");
        std::os::unix::fs::symlink(&secret, store.join("info/alternates")).expect("link");
        std::fs::write(stage.stage.join("fox"), format!("{commit}\n")).expect("ref");

        let done = import_objects(&repo, &g).expect("imported");
        assert!(done.objects >= 4, "{done:?}");
        assert_eq!(done.refused, vec!["info/alternates".to_string()]);
        assert!(!store.exists());
        assert_eq!(
            settle_ref(&repo, &g, "sidekick/fox").expect("settled"),
            Settled::Moved {
                from: before,
                to: commit.clone()
            }
        );
        // The agent's commit is whole in the repository, the README is the user's.
        assert_eq!(
            tgit(&repo, &["cat-file", "-p", &format!("{commit}:a.txt")]),
            "a"
        );
        assert_eq!(tgit(&repo, &["cat-file", "-p", &readme]), original);
        assert_eq!(
            tgit(&repo, &["cat-file", "-p", "sidekick/fox:README.md"]),
            original
        );
        // What the forged object held came in under its own name.
        assert_eq!(tgit(&repo, &["cat-file", "-p", &evil]), "injected");
        tgit(&repo, &["fsck", "--no-dangling", "--strict"]);
        // Nothing to bring in: nothing happens.
        assert_eq!(
            import_objects(&repo, &g).expect("none"),
            Imported::default()
        );
    }

    #[test]
    fn a_link_left_as_the_ref_is_not_read() {
        let (tmp, repo, wt) = setup();
        let g = worktree_git(&repo, &wt).expect("found");
        let tip = tgit(&repo, &["rev-parse", "sidekick/fox"]);
        let secret = tmp.path().join("config.toml");
        std::fs::write(&secret, "api_key = \"sk-SECRET\"\n").expect("secret");
        let stage = stage_ref(&repo, &g, "sidekick/fox").expect("staged");
        std::fs::remove_file(stage.stage.join("fox")).expect("rm");
        std::os::unix::fs::symlink(&secret, stage.stage.join("fox")).expect("link");
        let Settled::Ignored(why) = settle_ref(&repo, &g, "sidekick/fox").expect("settled") else {
            panic!("a link was taken as a ref");
        };
        assert!(
            !why.contains("SECRET") && why.contains("symbolic link"),
            "{why}"
        );
        assert_eq!(tgit(&repo, &["rev-parse", "sidekick/fox"]), tip);
    }

    #[test]
    fn the_link_and_head_are_put_back() {
        let (_tmp, repo, wt) = setup();
        assert!(restore_link(&repo, &wt, "sidekick/fox")
            .expect("checked")
            .is_empty());
        let g = worktree_git(&repo, &wt).expect("found");
        // The agent made `.git` a folder of its own, pointed commondir elsewhere and moved HEAD.
        std::fs::remove_file(wt.join(".git")).expect("rm");
        std::fs::create_dir(wt.join(".git")).expect("mkdir");
        std::fs::write(wt.join(".git/config"), "[core]\n\tfsmonitor = evil\n").expect("write");
        std::fs::write(g.admin.join("commondir"), "/tmp\n").expect("write");
        std::fs::write(g.admin.join("HEAD"), "ref: refs/heads/main\n").expect("write");
        let fixed = restore_link(&repo, &wt, "sidekick/fox").expect("restored");
        assert_eq!(fixed.len(), 3, "{fixed:?}");
        assert_eq!(
            tgit(&wt, &["symbolic-ref", "HEAD"]),
            "refs/heads/sidekick/fox"
        );
        assert_eq!(
            std::fs::canonicalize(tgit(&wt, &["rev-parse", "--git-common-dir"])).expect("real"),
            g.common
        );
        assert!(restore_link(&repo, &wt, "sidekick/fox")
            .expect("checked")
            .is_empty());

        // A rebase stopped at conflicts keeps HEAD detached; another branch is still put back.
        let tip = tgit(&repo, &["rev-parse", "sidekick/fox"]);
        std::fs::create_dir(g.admin.join("rebase-merge")).expect("mkdir");
        std::fs::write(g.admin.join("HEAD"), format!("{tip}\n")).expect("write");
        assert!(restore_link(&repo, &wt, "sidekick/fox")
            .expect("checked")
            .is_empty());
        std::fs::write(g.admin.join("HEAD"), "ref: refs/heads/main\n").expect("write");
        assert_eq!(
            restore_link(&repo, &wt, "sidekick/fox")
                .expect("restored")
                .len(),
            1
        );
        assert_eq!(
            tgit(&wt, &["symbolic-ref", "HEAD"]),
            "refs/heads/sidekick/fox"
        );
    }
}
