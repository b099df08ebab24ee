//! The git side of a job's sandbox: where its worktree keeps its git state, a folder that stands
//! in for its branch's ref folder, and putting things right after the agent ran.
//!
//! In the sandbox the repository's git folder is read-only except the object store (new
//! objects), the worktree's own admin folder (index, HEAD, its logs) and its branch. A ref is
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

use crate::repo::{git, RepoError};

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

    /// The object store and, inside it, the packs (read-only in the sandbox: new objects go
    /// loose, existing history cannot be deleted wholesale).
    pub fn objects(&self) -> PathBuf {
        self.common.join("objects")
    }
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

fn branch_tip(repo: &Path, branch: &str) -> Result<String> {
    let r = Repository::open(repo)?;
    let tip = r
        .find_reference(&format!("refs/heads/{branch}"))
        .and_then(|reference| reference.peel_to_commit())
        .map_err(|_| RepoError::Git {
            what: "rev-parse".into(),
            detail: format!("the branch {branch} does not exist"),
        })?;
    Ok(tip.id().to_string())
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
    let said = match std::fs::read_to_string(stage.join(&leaf)) {
        Ok(text) => Some(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        // A folder or something unreadable where the ref was: not a commit.
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
        let shown: String = said.chars().take(80).collect();
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
