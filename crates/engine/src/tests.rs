//! Engine tests on real repositories with real child processes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sidekick_protocol::{ErrorCode, EventBody, Job, JobState, SandboxMode, SpawnRequest};

use crate::repo::testing::{git, repo_with_commit};
use crate::{Engine, EngineOptions, Home};
use sidekick_store::ProcessIdentity;

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    engine: Engine,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_config("")
    }

    fn with_config(config: &str) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_path_buf();
        let repo = root.join("repo");
        std::fs::create_dir(&repo).expect("mkdir");
        repo_with_commit(&repo);
        let home = Home::at(root.join("home"));
        std::fs::create_dir_all(home.root()).expect("mkdir");
        // A job that names no agent runs its task as a shell command here (the user's
        // `agent`); these tests have no coding agent installed to default to.
        std::fs::write(home.config_file(), format!("agent = \"shell\"\n{config}")).expect("config");
        let engine = open(&home);
        Fixture {
            _tmp: tmp,
            root,
            repo,
            engine,
        }
    }

    fn req(&self, task: &str) -> SpawnRequest {
        SpawnRequest {
            repo: self.repo.display().to_string(),
            task: task.into(),
            ..Default::default()
        }
    }

    /// Trusts the repository's configuration as it is now (what `sidekick trust --yes` does).
    async fn trust(&self) {
        let info = self
            .engine
            .trust_info(self.repo.clone())
            .await
            .expect("trust info");
        self.engine
            .trust(self.repo.clone(), info.hash)
            .await
            .expect("trust");
    }

    async fn run(&self, task: &str) -> Job {
        let job = self.engine.spawn(self.req(task)).await.expect("spawn");
        wait_end(&self.engine, &job.id).await
    }
}

fn open(home: &Home) -> Engine {
    Engine::open(
        home.clone(),
        EngineOptions {
            grace: Duration::from_millis(1500),
            ..Default::default()
        },
    )
    .expect("engine opens")
}

async fn wait_for(engine: &Engine, id: &str, what: impl Fn(&Job) -> bool) -> Job {
    for _ in 0..1500 {
        let job = engine.job(id).expect("job");
        if what(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} never got there: {:?}", engine.job(id));
}

async fn wait_end(engine: &Engine, id: &str) -> Job {
    wait_for(engine, id, |j| j.state.has_ended()).await
}

fn output_lines(engine: &Engine, id: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut since = 0;
    loop {
        let evs = engine
            .events_after(since, Some(id), true, 10_000)
            .expect("events");
        let Some(last) = evs.last() else { break };
        since = last.seq;
        for e in evs {
            if let EventBody::Output { line, .. } = e.body {
                lines.push(line);
            }
        }
    }
    lines
}

fn notices(engine: &Engine, id: &str) -> Vec<String> {
    engine
        .events_after(0, Some(id), false, 10_000)
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Notice { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

fn pid_alive(pid: i32) -> bool {
    // Zombies of our own children do not count.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn a_job_edits_files_in_its_own_worktree_and_commits_them() {
    let f = Fixture::new();
    let job = f
        .run("echo added > new.txt && echo more >> README.md && echo done")
        .await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(job.base_branch.as_deref(), Some("main"));
    assert!(job.branch.starts_with("sidekick/") && job.branch.ends_with(&job.codename));
    let wt = Path::new(&job.worktree);
    assert!(!wt.starts_with(&f.repo), "worktree lives outside the repo");
    assert!(wt.starts_with(f.root.join("home/worktrees")));
    let head = job.head_commit.clone().expect("head");
    assert_ne!(head, job.base_commit);
    assert_eq!(git(&f.repo, &["rev-parse", &job.branch]), head);
    assert_eq!(
        git(&f.repo, &["log", "-1", "--format=%B", &job.branch]),
        format!(
            "echo added > new.txt && echo more >> README.md && echo done\n\nSidekick-Job: {}",
            job.id
        )
    );
    assert_eq!(
        (job.files_changed, job.insertions, job.deletions),
        (Some(2), Some(2), Some(0))
    );
    // The user's checkout is untouched.
    assert!(!f.repo.join("new.txt").exists());
    assert_eq!(git(&f.repo, &["status", "--porcelain"]), "");
    assert_eq!(output_lines(&f.engine, &job.id), vec!["done"]);
    let log = std::fs::read_to_string(&job.log_path).expect("log file");
    assert_eq!(log, "done\n");
    assert!(
        !locked(&f.repo, &job.worktree),
        "unlocked once the job ended"
    );
}

/// Whether `git worktree list` says the worktree at `path` is locked (a warm worktree of the
/// pool beside it is, by design).
fn locked(repo: &std::path::Path, path: &str) -> bool {
    let list = git(repo, &["worktree", "list", "--porcelain"]);
    list.split("\n\n")
        .find(|b| b.starts_with(&format!("worktree {path}\n")))
        .unwrap_or_else(|| panic!("{path} is not listed: {list}"))
        .contains("\nlocked")
}

#[tokio::test]
async fn the_worktree_is_locked_while_the_agent_runs() {
    let f = Fixture::new();
    let job = f.engine.spawn(f.req("sleep 30")).await.expect("spawn");
    wait_for(&f.engine, &job.id, |j| j.state == JobState::Running).await;
    let list = git(&f.repo, &["worktree", "list", "--porcelain"]);
    assert!(
        list.contains(&format!("locked sidekick job {}", job.codename)),
        "{list}"
    );
    f.engine.cancel(&job.id).expect("cancel");
    let end = wait_end(&f.engine, &job.id).await;
    assert_eq!(end.state, JobState::Cancelled);
    assert_eq!(end.reason.as_deref(), Some("cancelled by the user"));
    assert!(!locked(&f.repo, &end.worktree));
}

#[tokio::test]
async fn a_failing_agent_still_leaves_a_reviewable_commit() {
    let f = Fixture::new();
    let job = f
        .run("echo partial > half.txt; echo oops >&2; exit 3")
        .await;
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.exit_code, Some(3));
    assert_eq!(job.reason.as_deref(), Some("the agent exited with code 3"));
    assert_eq!(job.files_changed, Some(1));
    assert_eq!(
        git(&f.repo, &["show", &format!("{}:half.txt", job.branch)]),
        "partial"
    );
    assert_eq!(output_lines(&f.engine, &job.id), vec!["oops"]);
}

#[tokio::test]
async fn a_timeout_stops_the_agent_and_keeps_its_work() {
    let f = Fixture::new();
    let mut req = f.req("echo started > a.txt; sleep 30");
    req.timeout_ms = Some(400);
    let job = f.engine.spawn(req).await.expect("spawn");
    let job = wait_end(&f.engine, &job.id).await;
    assert_eq!(job.state, JobState::Timeout);
    assert_eq!(
        job.reason.as_deref(),
        Some("ran longer than its 400ms timeout")
    );
    assert_eq!(job.exit_code, None);
    assert_eq!(
        git(&f.repo, &["show", &format!("{}:a.txt", job.branch)]),
        "started"
    );
}

#[tokio::test]
async fn stopping_kills_grandchildren_and_agents_that_ignore_sigterm() {
    let f = Fixture::new();
    let job = f
        .engine
        .spawn(f.req("trap '' TERM; sleep 1000 & echo $! > child.pid; wait"))
        .await
        .expect("spawn");
    let wt = PathBuf::from(&job.worktree);
    wait_for(&f.engine, &job.id, |_| wt.join("child.pid").exists()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pid: i32 = std::fs::read_to_string(wt.join("child.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    // (Written from inside the job's sandbox: its own pid namespace.)
    let pid = sidekick_testkit::outer_pid(&job.id, pid);
    assert!(pid_alive(pid));
    f.engine.cancel(&job.codename).expect("cancel by codename");
    let end = wait_end(&f.engine, &job.id).await;
    assert_eq!(end.state, JobState::Cancelled);
    assert!(!pid_alive(pid), "the grandchild died with the group");
    assert!(
        notices(&f.engine, &job.id)
            .iter()
            .any(|n| n.contains("sent SIGKILL")),
        "the SIGTERM-ignoring agent needed SIGKILL"
    );
}

#[tokio::test]
async fn background_children_left_by_a_finished_agent_are_stopped() {
    // Sandboxed (the default here) and unconfined.
    for sandbox in [None, Some(SandboxMode::Off)] {
        let f = Fixture::new();
        let mut req = f.req("sleep 1000 & echo $! > child.pid; echo bye");
        req.sandbox = sandbox;
        let job = f.engine.spawn(req).await.expect("spawn");
        let job = wait_end(&f.engine, &job.id).await;
        assert_eq!(job.state, JobState::Completed);
        assert_eq!(job.sandbox.as_ref().map(|s| s.on), Some(sandbox.is_none()));
        assert_eq!(sidekick_testkit::job_pids(&job.id), Vec::<i32>::new());
        if sandbox.is_some() {
            let pid: i32 = git(&f.repo, &["show", &format!("{}:child.pid", job.branch)])
                .parse()
                .expect("pid");
            assert!(!pid_alive(pid));
        }
    }
}

#[tokio::test]
async fn jobs_queue_beyond_max_running_in_fifo_order() {
    let f = Fixture::with_config("max_running = 1\n");
    let a = f.engine.spawn(f.req("sleep 30")).await.expect("a");
    let b = f.engine.spawn(f.req("echo b")).await.expect("b");
    let c = f.engine.spawn(f.req("echo c")).await.expect("c");
    wait_for(&f.engine, &a.id, |j| j.state == JobState::Running).await;
    let b_now = f.engine.job(&b.id).expect("b");
    let c_now = f.engine.job(&c.id).expect("c");
    assert_eq!(
        (b_now.state, b_now.queue_position),
        (JobState::Queued, Some(1))
    );
    assert_eq!(
        (c_now.state, c_now.queue_position),
        (JobState::Queued, Some(2))
    );
    let listed: Vec<Option<u32>> = f
        .engine
        .jobs(false)
        .expect("list")
        .iter()
        .map(|j| j.queue_position)
        .collect();
    assert_eq!(listed, vec![Some(2), Some(1), None], "newest first");

    // Cancelling a queued job ends it at once, without a worktree.
    let b_end = f.engine.cancel(&b.id).expect("cancel queued");
    assert_eq!(b_end.state, JobState::Cancelled);
    assert!(!Path::new(&b_end.worktree).exists());
    assert_eq!(f.engine.job(&c.id).expect("c").queue_position, Some(1));

    f.engine.cancel(&a.id).expect("cancel a");
    let c_end = wait_end(&f.engine, &c.id).await;
    assert_eq!(c_end.state, JobState::Completed);
    let err = f.engine.cancel(&c.id).expect_err("already ended");
    assert_eq!(err.to_api().code, ErrorCode::InvalidState);
}

#[tokio::test]
async fn ending_a_parent_cancels_its_children() {
    let f = Fixture::with_config("max_running = 2\n");
    let parent = f.engine.spawn(f.req("sleep 30")).await.expect("parent");
    let mut child_req = f.req("sleep 30");
    child_req.parent = Some(parent.codename.clone());
    let running_child = f.engine.spawn(child_req.clone()).await.expect("child");
    let queued_child = f.engine.spawn(child_req).await.expect("child 2");
    assert_eq!(running_child.parent_id.as_deref(), Some(parent.id.as_str()));
    wait_for(&f.engine, &running_child.id, |j| {
        j.state == JobState::Running
    })
    .await;
    f.engine.cancel(&parent.id).expect("cancel parent");
    for child in [&running_child, &queued_child] {
        let end = wait_end(&f.engine, &child.id).await;
        assert_eq!(end.state, JobState::Cancelled, "{end:?}");
        let reason = end.reason.expect("reason");
        assert!(reason.contains(&parent.codename), "{reason}");
    }
    // A parent that has ended takes no new children.
    let mut late = f.req("true");
    late.parent = Some(parent.id.clone());
    let err = f.engine.spawn(late).await.expect_err("parent ended");
    assert_eq!(err.to_api().code, ErrorCode::InvalidState);
}

#[tokio::test]
async fn sidekicks_nest_only_as_deep_as_max_depth_and_keep_who_spawned_them() {
    let f = Fixture::with_config("max_running = 4\nmax_depth = 2\n");
    let mut top = f.req("sleep 30");
    top.spawned_by = Some("Claude Code 2.1.330".into());
    top.context_text = Some("Look at the parser first.".into());
    let top = f.engine.spawn(top).await.expect("top");
    assert_eq!(top.spawned_by.as_deref(), Some("Claude Code 2.1.330"));
    let stored = f.engine.job(&top.id).expect("job");
    assert_eq!(stored.spawned_by.as_deref(), Some("Claude Code 2.1.330"));
    // The context text reaches the agent like a context file's.
    let rec = f.engine.ledger.load(&top.id).expect("record");
    let context = rec
        .env
        .iter()
        .find(|(k, _)| k == "SIDEKICK_CONTEXT_FILE")
        .map(|(_, v)| std::fs::read_to_string(v).expect("context file"))
        .expect("a context file");
    assert!(context.contains("Look at the parser first."), "{context}");

    let mut child = f.req("sleep 30");
    child.parent = Some(top.id.clone());
    let child = f.engine.spawn(child).await.expect("depth 2");
    let mut grandchild = f.req("true");
    grandchild.parent = Some(child.codename.clone());
    let err = f.engine.spawn(grandchild).await.expect_err("depth 3");
    assert_eq!(err.to_api().code, ErrorCode::BadRequest);
    assert!(
        err.to_string().contains(&format!(
            "job {} is already 2 levels deep; sidekicks nest at most 2 levels",
            child.codename
        )),
        "{err}"
    );
    f.engine.cancel(&top.id).expect("cancel");
    wait_end(&f.engine, &child.id).await;
}

#[tokio::test]
async fn repo_info_names_the_repositorys_own_agent() {
    let f = Fixture::new();
    // The user's own default (the fixture's) until the repository names one.
    let info = f.engine.repo_info(f.repo.clone()).await.expect("info");
    assert_eq!(info.agent.as_deref(), Some("shell"));
    std::fs::create_dir_all(f.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(f.repo.join(".sidekick/config.toml"), "agent = \"codex\"\n").expect("write");
    let info = f.engine.repo_info(f.repo.clone()).await.expect("info");
    assert_eq!(info.agent.as_deref(), Some("codex"));
    // A broken config leaves it unset (a job there reports the config's error).
    std::fs::write(f.repo.join(".sidekick/config.toml"), "agent = [").expect("write");
    let info = f.engine.repo_info(f.repo.clone()).await.expect("info");
    assert_eq!(info.agent, None);
}

#[tokio::test]
async fn repo_config_copies_files_and_runs_setup() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(
        f.repo.join(".sidekick/config.toml"),
        "copy = [\".env\", \"conf/local.toml\", \"absent.txt\"]\nsetup = \"echo setting up; echo ready > setup.txt\"\n",
    )
    .expect("write");
    std::fs::write(f.repo.join(".env"), "SECRET=1\n").expect("write");
    std::fs::create_dir_all(f.repo.join("conf")).expect("mkdir");
    std::fs::write(f.repo.join("conf/local.toml"), "x = 1\n").expect("write");
    f.trust().await;
    let job = f
        .run(
            "cat .env conf/local.toml setup.txt > seen.txt; env | grep ^SIDEKICK_ | sort > env.txt",
        )
        .await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    let show = |p: &str| git(&f.repo, &["show", &format!("{}:{p}", job.branch)]);
    assert_eq!(show("seen.txt"), "SECRET=1\nx = 1\nready");
    let env = show("env.txt");
    assert!(
        env.contains(&format!("SIDEKICK_JOB_ID={}", job.id)),
        "{env}"
    );
    assert!(env.contains("SIDEKICK_PARENT_JOB_ID=\n") || env.contains("SIDEKICK_PARENT_JOB_ID="));
    assert!(env.contains(&format!("SIDEKICK_WORKTREE={}", job.worktree)));
    assert!(env.contains(&format!(
        "SIDEKICK_REPO={}",
        f.repo.canonicalize().expect("c").display()
    )));
    assert_eq!(output_lines(&f.engine, &job.id), vec!["setting up"]);
    let n = notices(&f.engine, &job.id);
    assert!(
        n.iter().any(|m| m.contains("absent.txt was not copied")),
        "{n:?}"
    );
    assert!(n.iter().any(|m| m.contains("running setup")), "{n:?}");
}

#[tokio::test]
async fn a_failing_setup_fails_the_job_and_keeps_its_output() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.repo.join(".sidekick")).expect("mkdir");
    std::fs::write(
        f.repo.join(".sidekick/config.toml"),
        "setup = \"echo installing; echo broken >&2; exit 4\"\n",
    )
    .expect("write");
    f.trust().await;
    let job = f.run("echo should-not-run > ran.txt").await;
    assert_eq!(job.state, JobState::Failed);
    let reason = job.reason.expect("reason");
    assert!(
        reason.contains("setup command") && reason.contains("code 4"),
        "{reason}"
    );
    assert_eq!(
        output_lines(&f.engine, &job.id),
        vec!["installing", "broken"]
    );
    assert_eq!(
        git(&f.repo, &["rev-parse", &job.branch]),
        job.base_commit,
        "agent never ran"
    );
}

#[tokio::test]
async fn command_profiles_pass_the_task_as_one_argument() {
    let f = Fixture::with_config(
        "[agents.recorder]\ncommand = [\"sh\", \"-c\", \"printf '%s' \\\"$1\\\" > task.txt\", \"recorder\", \"{task}\"]\nenv = { RECORDER = \"yes\" }\n",
    );
    let task = "x; touch pwned; $(touch pwned2) `touch pwned3` && echo \"quoted\" 'single'";
    let mut req = f.req(task);
    req.agent = Some("recorder".into());
    let job = f.engine.spawn(req).await.expect("spawn");
    let job = wait_end(&f.engine, &job.id).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    assert_eq!(
        git(&f.repo, &["show", &format!("{}:task.txt", job.branch)]),
        task
    );
    let files = git(&f.repo, &["ls-tree", "--name-only", &job.branch]);
    assert!(!files.contains("pwned"), "{files}");
}

#[tokio::test]
async fn bad_requests_get_their_own_codes_and_create_nothing() {
    let f = Fixture::new();
    let tmp = &f.root;
    let plain = tmp.join("plain");
    std::fs::create_dir(&plain).expect("mkdir");
    let bare = tmp.join("bare.git");
    std::fs::create_dir(&bare).expect("mkdir");
    git(&bare, &["init", "-q", "--bare"]);
    let empty = tmp.join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    git(&empty, &["init", "-q"]);
    let cases: Vec<(SpawnRequest, ErrorCode)> = vec![
        (
            SpawnRequest {
                repo: tmp.join("missing").display().to_string(),
                ..f.req("true")
            },
            ErrorCode::PathNotFound,
        ),
        (
            SpawnRequest {
                repo: plain.display().to_string(),
                ..f.req("true")
            },
            ErrorCode::NotARepo,
        ),
        (
            SpawnRequest {
                repo: bare.display().to_string(),
                ..f.req("true")
            },
            ErrorCode::BareRepo,
        ),
        (
            SpawnRequest {
                repo: empty.display().to_string(),
                ..f.req("true")
            },
            ErrorCode::EmptyRepo,
        ),
        (
            SpawnRequest {
                base: Some("nope".into()),
                ..f.req("true")
            },
            ErrorCode::BadBase,
        ),
        (
            SpawnRequest {
                agent: Some("nobody".into()),
                ..f.req("true")
            },
            ErrorCode::UnknownAgent,
        ),
        (
            SpawnRequest {
                parent: Some("zzzz".into()),
                ..f.req("true")
            },
            ErrorCode::UnknownJob,
        ),
        (f.req("   "), ErrorCode::BadRequest),
        (
            SpawnRequest {
                repo: "relative/path".into(),
                ..f.req("true")
            },
            ErrorCode::BadRequest,
        ),
    ];
    for (req, code) in cases {
        let err = f.engine.spawn(req.clone()).await.expect_err("refused");
        let api = err.to_api();
        assert_eq!(api.code, code, "{req:?}: {}", api.message);
        assert!(!api.message.is_empty() && !api.message.contains('\n'));
    }
    assert!(f.engine.jobs(true).expect("list").is_empty());
    assert_eq!(f.engine.last_seq().expect("seq"), 0);
}

#[tokio::test]
async fn jobs_are_found_by_id_prefix_and_codename() {
    let f = Fixture::new();
    let a = f.run("true").await;
    let b = f.run("true").await;
    assert_eq!(f.engine.job(&a.id).expect("id").id, a.id);
    assert_eq!(f.engine.job(&a.codename).expect("codename").id, a.id);
    assert_eq!(f.engine.job(&b.id[..20]).expect("prefix").id, b.id);
    assert_eq!(
        f.engine.job(&b.id.to_uppercase()).expect("any case").id,
        b.id
    );
    let common: String =
        a.id.chars()
            .zip(b.id.chars())
            .take_while(|(x, y)| x == y)
            .map(|(x, _)| x)
            .collect();
    let err = f.engine.job(&common).expect_err("ambiguous");
    assert_eq!(err.to_api().code, ErrorCode::AmbiguousJob);
    assert_eq!(
        f.engine
            .job("no-such-job")
            .expect_err("unknown")
            .to_api()
            .code,
        ErrorCode::UnknownJob
    );
    assert_ne!(a.codename, b.codename);
}

#[tokio::test]
async fn a_hundred_thousand_lines_arrive_whole_and_in_order() {
    let f = Fixture::new();
    let job = f.run("seq 1 100000; printf 'no newline at end'").await;
    assert_eq!(job.state, JobState::Completed);
    let lines = output_lines(&f.engine, &job.id);
    assert_eq!(lines.len(), 100_001);
    for (i, line) in lines.iter().take(100_000).enumerate() {
        assert_eq!(line, &(i + 1).to_string());
    }
    assert_eq!(lines[100_000], "no newline at end");
    let log = std::fs::read(&job.log_path).expect("log");
    assert_eq!(log.iter().filter(|b| **b == b'\n').count(), 100_000);
}

#[tokio::test]
async fn a_host_restart_interrupts_orphaned_jobs_and_keeps_their_work() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    repo_with_commit(&repo);
    let home = Home::at(tmp.path().join("home"));
    let engine = open(&home);
    // A job as a crashed host left it: running, worktree locked with uncommitted work, its
    // agent (which ignores SIGTERM) still alive in its own group.
    let job = engine
        .spawn(SpawnRequest {
            repo: repo.display().to_string(),
            task: "pretend".into(),
            agent: Some("shell".into()),
            ..Default::default()
        })
        .await
        .expect("spawn");
    let job = wait_end(&engine, &job.id).await;
    let mut rec = engine.ledger.load(&job.id).expect("record");
    let wt = PathBuf::from(&job.worktree);
    crate::repo::add_worktree(
        &repo,
        &wt.with_extension("x"),
        "sidekick/other",
        &job.base_commit,
        "crash",
    )
    .expect("second worktree");
    std::fs::write(wt.join("unsaved.txt"), "agent work\n").expect("write");
    let mut orphan = std::process::Command::new("sh")
        .args(["-c", "trap '' TERM; sleep 1000"])
        .env("SIDEKICK_JOB_ID", &job.id)
        .process_group(0)
        .spawn()
        .expect("spawn orphan");
    let pid = orphan.id() as i32;
    rec.job.state = JobState::Running;
    rec.job.ended_at = None;
    rec.process = Some(crate::process::identity(pid).expect("identity"));
    rec.has_worktree = true;
    engine
        .scheduler
        .ledger
        .db
        .lock()
        .expect("db")
        .update_job(&rec)
        .expect("update");
    drop(engine);

    let engine = open(&home);
    let ids = engine.recover().await.expect("recover");
    assert_eq!(ids, vec![job.id.clone()]);
    let _ = orphan.wait();
    assert!(!pid_alive(pid), "the orphaned agent was stopped");
    let after = engine.job(&job.id).expect("job");
    assert_eq!(after.state, JobState::Interrupted);
    assert!(after
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("while the job was running")));
    assert_eq!(
        git(&repo, &["show", &format!("{}:unsaved.txt", job.branch)]),
        "agent work"
    );
    assert!(wt.exists(), "the worktree is kept");
    // A stranger with a recycled pid would not have matched: identity is checked.
    let stranger = ProcessIdentity {
        pid: std::process::id() as i32,
        start_ticks: 1,
        boot_id: "x".into(),
    };
    assert!(crate::process::job_processes(&job.id, &stranger).is_empty());
}

#[tokio::test]
async fn shutdown_interrupts_live_jobs_and_keeps_queued_ones() {
    let f = Fixture::with_config("max_running = 1\n");
    let live = f
        .engine
        .spawn(f.req("echo wip > wip.txt; sleep 30"))
        .await
        .expect("spawn");
    let queued = f.engine.spawn(f.req("true")).await.expect("spawn");
    wait_for(&f.engine, &live.id, |j| j.state == JobState::Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.engine.shutdown().await;
    let live = f.engine.job(&live.id).expect("job");
    assert_eq!(live.state, JobState::Interrupted);
    assert_eq!(
        git(&f.repo, &["show", &format!("{}:wip.txt", live.branch)]),
        "wip"
    );
    assert_eq!(
        f.engine.job(&queued.id).expect("job").state,
        JobState::Queued
    );
    let err = f.engine.spawn(f.req("true")).await.expect_err("closed");
    assert_eq!(err.to_api().code, ErrorCode::ShuttingDown);
}

#[tokio::test]
async fn the_plain_patch_holds_every_line_of_the_structured_diff() {
    let f = Fixture::new();
    let job = f.run("seq 1 300 > a.txt && seq 1 300 > b.txt").await;
    let whole = f.engine.diff(&job.id).await.expect("whole");
    assert_eq!(whole.insertions, 600);
    let patch = String::from_utf8(f.engine.patch(&job.id).await.expect("patch")).expect("utf8");
    assert_eq!(
        patch
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count(),
        600
    );
    assert!(
        patch.contains("diff --git a/a.txt b/a.txt\nnew file mode 100644\n"),
        "{patch}"
    );
}

#[tokio::test]
async fn viewing_a_diff_writes_nothing_unless_the_branch_moved() {
    let f = Fixture::new();
    let job = f.run("echo one > one.txt").await;
    let seq = f.engine.last_seq().expect("seq");
    for _ in 0..3 {
        let d = f.engine.diff(&job.id).await.expect("diff");
        assert_eq!(d.head.as_deref(), job.head_commit.as_deref());
    }
    assert_eq!(
        f.engine.last_seq().expect("seq"),
        seq,
        "no events from reading"
    );

    // A commit made in the worktree after the job ended is followed, and recorded once.
    let wt = PathBuf::from(&job.worktree);
    std::fs::write(wt.join("two.txt"), "two\n").expect("write");
    git(&wt, &["add", "two.txt"]);
    git(&wt, &["commit", "-q", "-m", "by hand"]);
    let tip = git(&wt, &["rev-parse", "HEAD"]);
    let d = f.engine.diff(&job.id).await.expect("diff");
    assert_eq!(d.head.as_deref(), Some(tip.as_str()));
    assert_eq!(d.files_changed, 2);
    assert_eq!(
        f.engine.job(&job.id).expect("job").head_commit.as_deref(),
        Some(tip.as_str())
    );
    let after = f.engine.last_seq().expect("seq");
    assert!(after > seq);
    f.engine.diff(&job.id).await.expect("diff");
    assert_eq!(f.engine.last_seq().expect("seq"), after);
}

#[tokio::test]
async fn a_jobs_handle_reaches_only_its_own_job() {
    let f = Fixture::new();
    let a = f.run("true").await;
    let b = f.run("true").await;
    let handle = f.engine.scheduler.handle(&a.id);
    let mut other = f.engine.ledger.load(&b.id).expect("load");
    other.job.reason = Some("written through another job's handle".into());
    let err = handle.save(&other).expect_err("refused");
    assert!(err.to_string().contains("tried to save job"), "{err}");
    let stray = sidekick_store::NewEvent {
        job_id: b.id.clone(),
        time: 1,
        body: EventBody::Notice {
            level: sidekick_protocol::Level::Info,
            message: "stray".into(),
        },
    };
    assert!(handle.append(vec![stray]).is_err());
    // Nothing of job b changed.
    let after = f.engine.job(&b.id).expect("job");
    assert_eq!(after.reason, b.reason);
    let events = f
        .engine
        .events_after(0, Some(&b.id), true, 1000)
        .expect("events");
    assert!(!events
        .iter()
        .any(|e| matches!(&e.body, EventBody::Notice { message, .. } if message == "stray")));
}

#[tokio::test]
async fn the_ledger_refuses_a_save_that_skips_a_state_without_writing() {
    let f = Fixture::new();
    let job = f.run("true").await;
    assert_eq!(job.state, JobState::Completed);
    // A stale copy read while the job was queued and moved to `starting` passes the record's
    // own check (queued -> starting) but not the stored one (completed -> starting).
    let mut stale = f.engine.ledger.load(&job.id).expect("load");
    stale.job.state = JobState::Starting;
    let err = f
        .engine
        .scheduler
        .ledger
        .save(&stale, Vec::new())
        .expect_err("refused");
    assert_eq!(err.to_api().code, ErrorCode::InvalidState);
    assert_eq!(
        f.engine.job(&job.id).expect("job").state,
        JobState::Completed
    );
}

#[tokio::test]
async fn a_diffs_head_has_its_first_lines_and_lists_every_file() {
    let f = Fixture::new();
    let job = f
        .run("seq 1 40 > a.txt && seq 1 40 > b.txt && seq 1 40 > c.txt")
        .await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    let whole = f.engine.diff(&job.id).await.expect("diff");
    assert!(!whole.truncated);
    let head = f.engine.diff_head(&job.id, Some(50)).await.expect("head");
    assert!(head.truncated);
    let paths =
        |d: &sidekick_protocol::Diff| d.files.iter().map(|x| x.path.clone()).collect::<Vec<_>>();
    assert_eq!(paths(&head), paths(&whole), "every file is listed");
    let lines: usize = head
        .files
        .iter()
        .flat_map(|x| &x.hunks)
        .map(|h| h.lines.len())
        .sum();
    assert!((40..=50).contains(&lines), "{lines} lines");
    assert_eq!(
        head.files[0].hunks, whole.files[0].hunks,
        "the first file whole"
    );
    assert!(head.files[2].truncated && head.files[2].hunks.is_empty());
    // A file listed without its hunks is not counted (that would mean reading it all).
    assert_eq!(head.insertions, 80);
    assert_eq!(whole.insertions, 120);
}
