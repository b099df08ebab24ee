//! Benchmarks Sidekick against its peer (the git CLI) in the same run and reports ratios.
//!
//! 1. Job start: spawn request until the agent process runs in a ready worktree, against
//!    `git worktree add` of the same commit, on generated repos (5,000 and 30,000 files).
//! 2. Output ingest: an agent printing 1,000,000 lines, until every line is persisted and
//!    readable back in order.
//! 3. Host memory: resident set of an idle host, fresh and after the work above.
//!
//! Usage: `sidekick-bench [--sidekick PATH] [--files 5000,30000] [--runs 7] [--lines 1000000]`

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sidekick_client::{Client, EventQuery};
use sidekick_protocol::{EventBody, Home, JobState, SandboxMode, SpawnRequest};

mod review;

use review::bench_review;

struct Options {
    sidekick: PathBuf,
    files: Vec<usize>,
    runs: usize,
    lines: u64,
    /// Keep the scratch folder (repositories, host.log) for a look afterwards.
    keep: bool,
    /// Only the job-start table (cold and warm), not ingest and review.
    start_only: bool,
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("sidekick-bench: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let opts = parse_args()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run(opts))
}

fn parse_args() -> Result<Options, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut opts = Options {
        sidekick: exe.with_file_name("sidekick"),
        files: vec![5_000, 30_000],
        runs: 7,
        lines: 1_000_000,
        keep: false,
        start_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--sidekick" => opts.sidekick = PathBuf::from(value()?),
            "--files" => {
                opts.files = value()?
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse()
                            .map_err(|_| format!("bad file count '{n}'"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--runs" => opts.runs = value()?.parse().map_err(|_| "bad --runs".to_string())?,
            "--lines" => opts.lines = value()?.parse().map_err(|_| "bad --lines".to_string())?,
            "--keep" => opts.keep = true,
            "--start-only" => opts.start_only = true,
            "-h" | "--help" => {
                println!("usage: sidekick-bench [--sidekick PATH] [--files 5000,30000] [--runs 7] [--lines 1000000] [--start-only]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if !opts.sidekick.exists() {
        return Err(format!(
            "{} not found; build it first (cargo build --release -p sidekick-cli)",
            opts.sidekick.display()
        ));
    }
    Ok(opts)
}

/// Hermetic git and a private home for the host.
fn envs(root: &Path) -> Vec<(&'static str, String)> {
    let mut envs = vec![
        ("SIDEKICK_HOME", root.join("home").display().to_string()),
        ("HOME", root.display().to_string()),
    ];
    envs.extend(
        sidekick_testkit::HERMETIC_GIT
            .iter()
            .map(|(k, v)| (*k, v.to_string())),
    );
    envs
}

fn git(root: &Path, dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(envs(root))
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Files the diff benchmark edits (40 lines each), and the lines of the file it rewrites.
const REVIEW_FILES: usize = 500;
const BIG_LINES: usize = 50_000;

/// A repository with `n` files of 200 B to 4 KiB in folders of 100 (the first 500 of 100 lines),
/// plus `big.txt` of 50,000 lines, in one commit.
fn generate_repo(root: &Path, n: usize) -> Result<PathBuf, String> {
    let repo = root.join(format!("repo-{n}"));
    std::fs::create_dir_all(&repo).map_err(|e| e.to_string())?;
    git(root, &repo, &["init", "-q", "-b", "main"])?;
    // No automatic gc in the background while timing; the one explicit gc below packs it.
    git(root, &repo, &["config", "gc.auto", "0"])?;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        let dir = repo.join(format!("src/m{:03}/d{:03}", i / 10_000, (i / 100) % 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let body = if i < REVIEW_FILES {
            // 100 numbered lines: the review benchmark changes 40 of them.
            (1..=100)
                .map(|j| format!("line {j} of file {i}\n"))
                .collect::<String>()
        } else {
            let size = 200 + (seed % 3_900) as usize;
            let line = format!("// file {i} of the benchmark repository, seed {seed:x}\n");
            line.repeat(size / line.len() + 1)[..size].to_string()
        };
        std::fs::write(dir.join(format!("f{i:05}.rs")), body).map_err(|e| e.to_string())?;
    }
    let big: String = (1..=BIG_LINES).map(|j| format!("big line {j}\n")).collect();
    std::fs::write(repo.join("big.txt"), big).map_err(|e| e.to_string())?;
    git(root, &repo, &["add", "-A"])?;
    git(root, &repo, &["commit", "-q", "-m", "generated"])?;
    // Real repositories keep their objects packed.
    git(root, &repo, &["gc", "--quiet"])?;
    Ok(repo)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The fastest run: noise on a shared machine only ever adds time.
fn best(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

async fn run(opts: Options) -> Result<(), String> {
    let tmp = tempfile::Builder::new()
        .prefix("sidekick-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let root = tmp.path().to_path_buf();
    let _tmp = if opts.keep {
        println!("scratch folder kept: {}", tmp.keep().display());
        None
    } else {
        Some(tmp)
    };
    let home = Home::at(root.join("home"));
    std::fs::create_dir_all(home.root()).map_err(|e| e.to_string())?;
    // No job should time out or queue behind another during the benchmark.
    std::fs::write(home.config_file(), "max_running = 8\ntimeout = \"2h\"\n")
        .map_err(|e| e.to_string())?;
    let mut host = Command::new(&opts.sidekick)
        .arg("serve")
        .envs(envs(&root))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the host: {e}"))?;
    let client = Client::new(&home);
    let started = Instant::now();
    while client.health().await.is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the host did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_fresh = rss_kib(host.id());

    println!(
        "sidekick-bench: {} runs per size, medians (machine: {} cores)",
        opts.runs,
        cores()
    );
    println!();
    println!(
        "{:>8}  {:>16}  {:>19}  {:>14}  {:>9}  {:>12}  {:>12}  {:>8}",
        "files",
        "git worktree add",
        "git, parallel chk.",
        "sidekick start",
        "ratio",
        "vs parallel",
        "warm start",
        "warm/git"
    );
    let mut result = Ok(());
    let mut repos = Vec::new();
    for &n in &opts.files {
        match generate_repo(&root, n) {
            Ok(r) => repos.push((n, r)),
            Err(e) => return Err(e),
        }
    }
    for (n, repo) in &repos {
        let n = *n;
        let started = match bench_start(&root, &client, repo, opts.runs).await {
            Ok(cold) => bench_warm_start(&root, &client, repo, opts.runs)
                .await
                .map(|w| (cold, w)),
            Err(e) => Err(e),
        };
        match started {
            Ok(((g, gp, s), w)) => println!(
                "{:>8}  {:>13.1} ms  {:>16.1} ms  {:>11.1} ms  {:>9.2}  {:>12.2}  {:>9.1} ms  {:>8.3}",
                n,
                ms(g),
                ms(gp),
                ms(s),
                s.as_secs_f64() / g.as_secs_f64(),
                s.as_secs_f64() / gp.as_secs_f64(),
                ms(w),
                w.as_secs_f64() / g.as_secs_f64()
            ),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() && !opts.start_only {
        println!();
        result = bench_ingest(&root, &client, opts.lines).await;
    }
    if result.is_ok() && !opts.start_only {
        println!();
        println!(
            "{:>8}  {:<46}  {:>10}  {:>10}  {:>6}",
            "files", "review (median)", "git", "sidekick", "ratio"
        );
        for (n, repo) in &repos {
            if let Err(e) = bench_review(&root, &client, *n, repo, opts.runs).await {
                result = Err(e);
                break;
            }
        }
    }
    // Idle: after the host has closed the repositories it kept open (10 s unused).
    tokio::time::sleep(Duration::from_secs(12)).await;
    let idle_after = rss_kib(host.id());
    println!();
    let show = |v: Option<u64>| {
        v.map(|k| format!("{:.1} MB", k as f64 / 1024.0))
            .unwrap_or("?".into())
    };
    println!(
        "host RSS idle: {} fresh, {} after the runs above",
        show(idle_fresh),
        show(idle_after)
    );
    let _ = nix_term(host.id());
    let _ = host.wait();
    result
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn nix_term(pid: u32) -> std::io::Result<()> {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .map(|_| ())
}

/// Flushes dirty pages so the write-back of earlier runs does not land inside a timing.
fn settle() {
    let _ = Command::new("sync").status();
}

/// Sets the repository's own `warm_worktrees` (its `.sidekick/config.toml`, not committed).
fn set_warm(repo: &Path, n: u32) -> Result<(), String> {
    let dir = repo.join(".sidekick");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("config.toml"), format!("warm_worktrees = {n}\n"))
        .map_err(|e| e.to_string())
}

/// Waits until `repo`'s pool holds a warm worktree that is checked and watched (as it is
/// between a user's jobs once the background refill is done).
async fn pool_ready(client: &Client, repo: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let repo = repo.display().to_string();
    loop {
        let pools = client.pools(Some(&repo)).await.map_err(|e| e.to_string())?;
        if pools.iter().any(|p| p.worktrees.iter().any(|w| w.watched)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("no warm worktree became ready for {repo}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Median job start from a warm worktree: before each run the pool is refilled (outside the
/// timing, as it is between a user's jobs); the first run is a warm-up.
async fn bench_warm_start(
    root: &Path,
    client: &Client,
    repo: &Path,
    runs: usize,
) -> Result<Duration, String> {
    set_warm(repo, 1)?;
    // A first job fills the pool.
    let (_, wt, branch) = time_job_start(client, repo, None).await?;
    git(root, repo, &["worktree", "remove", "--force", &wt])?;
    git(root, repo, &["branch", "-q", "-D", &branch])?;
    // The default (sandboxed where bubblewrap works) and, interleaved, with the sandbox off:
    // what setting up the sandbox costs.
    let mut times = Vec::new();
    let mut unconfined = Vec::new();
    for r in 0..=runs * 2 + 1 {
        pool_ready(client, repo).await?;
        settle();
        let off = r % 2 == 1;
        let sandbox = off.then_some(SandboxMode::Off);
        let (t, wt, branch) = time_job_start(client, repo, sandbox).await?;
        match (r > 1, off) {
            (true, false) => times.push(t),
            (true, true) => unconfined.push(t),
            _ => {}
        }
        git(root, repo, &["worktree", "remove", "--force", &wt])?;
        git(root, repo, &["branch", "-q", "-D", &branch])?;
    }
    pool_ready(client, repo).await?;
    // Back to cold for what follows; the pool is emptied at the next start.
    set_warm(repo, 0)?;
    println!(
        "          warm start best of {runs}: {:.1} ms; with the sandbox off: median {:.1} ms, best {:.1} ms",
        ms(best(&times)),
        ms(median(unconfined.clone())),
        ms(best(&unconfined))
    );
    Ok(median(times))
}

/// Median of `git worktree add` and of Sidekick's job start, interleaved (alternating which
/// goes first) so both see the same cache state. The first round is a warm-up, not counted.
/// The repository's pool is off (`warm_worktrees = 0`): this is the cold start.
async fn bench_start(
    root: &Path,
    client: &Client,
    repo: &Path,
    runs: usize,
) -> Result<(Duration, Duration, Duration), String> {
    let n = repo
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let commit = git(root, repo, &["rev-parse", "HEAD"])?;
    set_warm(repo, 0)?;
    let mut git_times = Vec::new();
    let mut git_par_times = Vec::new();
    let mut sk_times = Vec::new();
    // Sidekick's start with the sandbox off too: what setting up bubblewrap adds to it.
    let mut bare_times = Vec::new();
    for r in 0..=runs {
        let dest = root.join(format!("git-wt-{n}-{r}")).display().to_string();
        let dest_par = format!("{dest}-parallel");
        let mut g = Duration::ZERO;
        let mut gp = Duration::ZERO;
        let mut s = (Duration::ZERO, String::new(), String::new());
        let mut b = (Duration::ZERO, String::new(), String::new());
        for turn in 0..4 {
            settle();
            match (turn + r) % 4 {
                0 => {
                    let t = Instant::now();
                    git(
                        root,
                        repo,
                        &["worktree", "add", "--quiet", "--detach", &dest, &commit],
                    )?;
                    g = t.elapsed();
                }
                1 => {
                    let t = Instant::now();
                    git(
                        root,
                        repo,
                        &[
                            "-c",
                            "checkout.workers=0",
                            "-c",
                            "checkout.thresholdForParallelism=1",
                            "worktree",
                            "add",
                            "--quiet",
                            "--detach",
                            &dest_par,
                            &commit,
                        ],
                    )?;
                    gp = t.elapsed();
                }
                2 => s = time_job_start(client, repo, None).await?,
                _ => b = time_job_start(client, repo, Some(SandboxMode::Off)).await?,
            }
        }
        if r > 0 {
            git_times.push(g);
            git_par_times.push(gp);
            sk_times.push(s.0);
            bare_times.push(b.0);
        }
        // Clean up outside the timing so every run starts from the same repository state.
        git(root, repo, &["worktree", "remove", "--force", &dest])?;
        git(root, repo, &["worktree", "remove", "--force", &dest_par])?;
        for (wt, branch) in [(&s.1, &s.2), (&b.1, &b.2)] {
            git(root, repo, &["worktree", "remove", "--force", wt])?;
            git(root, repo, &["branch", "-q", "-D", branch])?;
        }
    }
    println!(
        "          best of {runs}: git {:.1} ms, git parallel {:.1} ms, sidekick {:.1} ms, ratio {:.2}, vs parallel {:.2}",
        ms(best(&git_times)),
        ms(best(&git_par_times)),
        ms(best(&sk_times)),
        best(&sk_times).as_secs_f64() / best(&git_times).as_secs_f64(),
        best(&sk_times).as_secs_f64() / best(&git_par_times).as_secs_f64()
    );
    let bare = median(bare_times.clone());
    println!(
        "          with the sandbox off: median {:.1} ms ({:.2}x git parallel), best {:.1} ms",
        ms(bare),
        bare.as_secs_f64() / median(git_par_times.clone()).as_secs_f64(),
        ms(best(&bare_times)),
    );
    Ok((median(git_times), median(git_par_times), median(sk_times)))
}

/// Spawn to `running`: returns the time, the worktree and the branch.
async fn time_job_start(
    client: &Client,
    repo: &Path,
    sandbox: Option<SandboxMode>,
) -> Result<(Duration, String, String), String> {
    let since = last_seq(client).await?;
    let mut events = client
        .events(&EventQuery {
            since,
            output: false,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let job = client
        .spawn(&SpawnRequest {
            repo: repo.display().to_string(),
            task: "true".into(),
            agent: Some("shell".into()),
            sandbox,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let elapsed = loop {
        let ev = events
            .next()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("event stream ended")?;
        if let EventBody::Job { job: j } = ev.body {
            if j.id == job.id && j.state == JobState::Running {
                break t.elapsed();
            }
            if j.id == job.id && j.state.has_ended() {
                return Err(format!("job ended before running: {:?}", j.reason));
            }
        }
    };
    let end = client
        .wait(&job.id, None)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("wait ended")?;
    Ok((elapsed, end.worktree, end.branch))
}

async fn last_seq(client: &Client) -> Result<u64, String> {
    // The newest stored event: read the backlog without output lines and keep the last seq.
    let mut stream = client
        .events(&EventQuery {
            since: 0,
            output: false,
            follow: false,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut last = 0;
    while let Some(ev) = stream.next().await.map_err(|e| e.to_string())? {
        last = ev.seq;
    }
    Ok(last)
}

async fn bench_ingest(root: &Path, client: &Client, lines: u64) -> Result<(), String> {
    let repo = generate_repo(root, 10)?;
    let t = Instant::now();
    let job = run_job(client, &repo, &format!("seq 1 {lines}")).await?;
    let ingest = t.elapsed();
    // Read everything back and check nothing was lost or reordered.
    let t = Instant::now();
    let mut stream = client
        .events(&EventQuery {
            job: Some(job.id.clone()),
            follow: false,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut expected = 1u64;
    while let Some(ev) = stream.next().await.map_err(|e| e.to_string())? {
        if let EventBody::Output { line, .. } = ev.body {
            if line != expected.to_string() {
                return Err(format!(
                    "line {expected} lost or out of order (got '{line}')"
                ));
            }
            expected += 1;
        }
    }
    let read = t.elapsed();
    if expected - 1 != lines {
        return Err(format!("{} of {lines} lines stored", expected - 1));
    }
    println!(
        "ingest: {lines} lines persisted in {:.0} ms = {:.0} lines/s (spawn to job end, all stored); read back in order in {:.0} ms",
        ms(ingest),
        lines as f64 / ingest.as_secs_f64(),
        ms(read)
    );
    Ok(())
}

/// Runs a job to its end and returns it.
async fn run_job(
    client: &Client,
    repo: &Path,
    task: &str,
) -> Result<sidekick_protocol::Job, String> {
    let job = client
        .spawn(&SpawnRequest {
            repo: repo.display().to_string(),
            task: task.into(),
            agent: Some("shell".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let end = client
        .wait(&job.id, None)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("wait ended")?;
    if end.state != JobState::Completed {
        return Err(format!(
            "benchmark job '{task}' ended {}: {:?}",
            end.state, end.reason
        ));
    }
    Ok(end)
}

/// Times a git command (output discarded).
fn time_git(root: &Path, repo: &Path, args: &[&str]) -> Result<Duration, String> {
    let t = Instant::now();
    let st = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .envs(envs(root))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let d = t.elapsed();
    // merge-tree exits 1 for conflicts; anything else is a failure.
    if !st.success() && st.code() != Some(1) {
        return Err(format!("git {args:?} failed"));
    }
    Ok(d)
}

fn report(n: usize, what: &str, git: Vec<Duration>, ours: Vec<Duration>) {
    let (bg, bs) = (best(&git), best(&ours));
    let (g, s) = (median(git), median(ours));
    println!(
        "{:>8}  {:<46}  {:>7.1} ms  {:>7.1} ms  {:>6.2}   (best: {:.1} / {:.1} ms, {:.2})",
        n,
        what,
        ms(g),
        ms(s),
        s.as_secs_f64() / g.as_secs_f64(),
        ms(bg),
        ms(bs),
        bs.as_secs_f64() / bg.as_secs_f64()
    );
}
