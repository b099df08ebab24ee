//! UI benchmark: the real app under Xvfb with 1,000 jobs in its history, a 50,000-line diff, a 5,000-row transcript,
//! 20 jobs streaming output at once and a million-line output. Times come from the page itself
//! (`performance.now()`, `requestAnimationFrame` frame intervals), read through WebDriver; the
//! diff is also timed against `git diff` of the same commits, in the same run.
//!
//! `cargo bench -p sidekick-app --bench ui` (or scripts/bench.sh). Writes
//! `<target>/ui-bench.json` and the screenshots of each stage to `<target>/e2e-screens/bench`.

// Shared with the end-to-end test, which uses more of them.
#[allow(dead_code)]
mod support;
#[allow(dead_code)]
mod webdriver;

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sidekick_client::Client;
use sidekick_protocol::{Home, Job, SpawnRequest};
use support::{Driver, World};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    if !support::inside() {
        return support::relaunch(&args[0], &[]);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ui bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits (per frame) until `css` exists; ms since the page started loading.
const SINCE_START: &str = r#"
const done = arguments[arguments.length - 1];
const [css] = arguments;
function poll() {
  if (document.querySelector(css)) done(performance.now());
  else requestAnimationFrame(poll);
}
poll();
"#;

/// Frame intervals in ms while `scroll_css` (if any) scrolls by `step` px per frame.
const FRAMES: &str = r#"
const done = arguments[arguments.length - 1];
const [ms, css, step] = arguments;
const el = css ? document.querySelector(css) : null;
const frames = [];
let last = performance.now();
const end = last + ms;
function tick(t) {
  frames.push(t - last);
  last = t;
  if (el) { el.scrollTop += step; }
  if (t < end) requestAnimationFrame(tick); else done(frames);
}
requestAnimationFrame(tick);
"#;

/// Clicks `click` and waits (per frame) until nothing matches `css`.
const UNTIL_GONE: &str = r#"
const done = arguments[arguments.length - 1];
const [click, css] = arguments;
document.querySelector(click).click();
function poll() {
  if (!document.querySelector(css)) done(true);
  else requestAnimationFrame(poll);
}
poll();
"#;

/// Waits until what is in the page has been painted: the frame after the next one has begun.
const PAINTED: &str = r#"
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"#;

/// How many times the big diff is opened again after its first open.
const DIFF_REOPENS: usize = 7;

/// Clicks `click` and waits (per frame) until `css` exists; the elapsed ms.
const UNTIL: &str = r#"
const done = arguments[arguments.length - 1];
const [click, css] = arguments;
const t0 = performance.now();
window.__clickedAt = t0;
if (click) document.querySelector(click).click();
function poll() {
  if (document.querySelector(css)) done(performance.now() - t0);
  else requestAnimationFrame(poll);
}
poll();
"#;

/// 2,500 turns of words and a command with its result: 5,000 transcript rows, then the end.
const LONG_CONVERSATION: &str = r#"$|=1; for my $n (1..2500) { print qq({"type":"assistant","message":{"content":[{"type":"text","text":"Step $n: checking **src/module_$n.rs** for the `parse` call."},{"type":"tool_use","id":"t$n","name":"Bash","input":{"command":"cargo test -p crate_$n -- parse"}}]}}\n); print qq({"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t$n","content":"test result: ok. $n passed"}]}}\n); } print qq({"type":"result","subtype":"success","result":"All 2500 checked."}\n);"#;

struct Frames {
    p50: f64,
    p95: f64,
    max: f64,
    long: usize,
    count: usize,
}

fn frames(v: &Value) -> Frames {
    let mut f: Vec<f64> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    f.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        f.get(((f.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Frames {
        p50: at(0.5),
        p95: at(0.95),
        max: f.last().copied().unwrap_or(0.0),
        long: f.iter().filter(|x| **x > 50.0).count(),
        count: f.len(),
    }
}

fn frames_json(f: &Frames) -> Value {
    json!({"p50_ms": f.p50, "p95_ms": f.p95, "max_ms": f.max, "frames_over_50ms": f.long, "frames": f.count})
}

fn show(label: &str, f: &Frames) {
    println!(
        "{label:<44} frames p50 {:>5.1} ms  p95 {:>6.1} ms  max {:>6.1} ms  over 50 ms: {}/{}",
        f.p50, f.p95, f.max, f.long, f.count
    );
}

fn rt() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn spawn(rt: &tokio::runtime::Runtime, c: &Client, w: &World, task: &str) -> Result<Job, String> {
    let req = SpawnRequest {
        repo: w.repo.display().to_string(),
        task: task.into(),
        agent: Some("shell".into()),
        ..SpawnRequest::default()
    };
    rt.block_on(c.spawn(&req)).map_err(|e| e.to_string())
}

fn wait_all_ended(rt: &tokio::runtime::Runtime, c: &Client, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let jobs = rt.block_on(c.jobs(true)).map_err(|e| e.to_string())?;
        if jobs.iter().all(|j| j.state.has_ended()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("jobs did not end in time".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn run() -> Result<(), String> {
    let (app, cli) = support::binaries(env!("CARGO_BIN_EXE_sidekick-app"))?;
    let w = World::new()?;
    // `claude` here is a stand-in that prints a 5,000-step conversation in Claude Code's
    // stream-json (the transcript stage).
    std::fs::write(
        w.home.join("config.toml"),
        format!(
            "max_running = 24\n[agents.claude]\ncommand = [\"perl\", \"-e\", {}]\nformat = \"claude-stream-json\"\n",
            serde_json::json!(LONG_CONVERSATION)
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut host = Command::new(&cli)
        .arg("serve")
        .envs(w.env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the host: {e}"))?;
    let rt = rt()?;
    let client = Client::new(&Home::at(&w.home));
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt.block_on(client.health()).is_err() {
        if Instant::now() > deadline {
            return Err("the host did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = measure(&rt, &client, &w, &app, &cli);
    let _ = support::nix_kill(host.id(), "TERM");
    let _ = host.wait();
    result
}

fn measure(
    rt: &tokio::runtime::Runtime,
    c: &Client,
    w: &World,
    app: &std::path::Path,
    cli: &std::path::Path,
) -> Result<(), String> {
    let mut report = serde_json::Map::new();
    // The repository's own task type needs the user's trust before any job runs there.
    let repo = w.repo.display().to_string();
    let info = rt
        .block_on(c.trust_info(&repo))
        .map_err(|e| e.to_string())?;
    rt.block_on(c.trust(&repo, &info.hash))
        .map_err(|e| e.to_string())?;

    // 1,000 jobs of history (SIDEKICK_UI_BENCH_JOBS changes the number for a quick try).
    let history: usize = std::env::var("SIDEKICK_UI_BENCH_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let t = Instant::now();
    for i in 0..history {
        spawn(rt, c, w, &format!("echo history {i} > h.txt"))?;
    }
    wait_all_ended(rt, c, Duration::from_secs(900))?;
    println!(
        "setup: {history} jobs ran in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    report.insert("history_jobs".into(), json!(history));

    // A 50,000-line diff.
    let big = spawn(
        rt,
        c,
        w,
        "seq 1 50000 | sed 's/^/generated line number /' > big.txt",
    )?;
    wait_all_ended(rt, c, Duration::from_secs(120))?;
    let big = rt.block_on(c.job(&big.id)).map_err(|e| e.to_string())?;
    let head = big
        .head_commit
        .clone()
        .ok_or("the big job has no head commit")?;

    let screens = support::screens_dir().join("bench");
    let _ = std::fs::remove_dir_all(&screens);
    let driver = Driver::start(w, cli)?;
    let launched = Instant::now();
    let mut s = webdriver::Session::start(driver.port, app, screens)?;
    let page_ms = s
        .execute_async(SINCE_START, json!(["[data-testid=job-row]"]))?
        .as_f64()
        .unwrap_or(f64::NAN);
    let since_launch = launched.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{:<44} {:>7.0} ms after the page started ({since_launch:.0} ms after the launch request)",
        format!("{history} jobs: first job rows"),
        page_ms,
    );
    report.insert("history_first_rows_page_ms".into(), json!(page_ms));
    report.insert(
        "history_first_rows_since_launch_ms".into(),
        json!(since_launch),
    );
    s.screenshot("history");
    let f = frames(&s.execute_async(FRAMES, json!([2000, "[data-testid=job-list]", 120]))?);
    show(&format!("{history} jobs: scrolling the list"), &f);
    report.insert("history_scroll".into(), frames_json(&f));

    // Open the big job's diff: time to the first rendered diff lines, against git diff. The
    // first open, then the diff opened again (from the output pane) with `git diff` run
    // between, interleaved: first, median and best of both.
    open_job(&mut s, &big.codename)?;
    s.find("[data-testid=pane-diff]")?;
    // A user clicks the Diff tab of a job view on screen: the click waits until the job view
    // has been painted (its next frame after the one it appeared in), not longer.
    s.execute_async(PAINTED, json!([]))?;
    let (mut ui, mut git, mut marks) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=DIFF_REOPENS {
        if round > 0 {
            s.execute_async(
                UNTIL_GONE,
                json!(["[data-testid=pane-output]", "[data-testid=diff-line]"]),
            )?;
        }
        let ms = s
            .execute_async(
                UNTIL,
                json!(["[data-testid=pane-diff]", "[data-testid=diff-line]"]),
            )?
            .as_f64()
            .unwrap_or(f64::NAN);
        // Where the time went: the diff view's own marks, in ms after the click.
        marks.push(s.execute(
            "const t0 = window.__clickedAt; return performance.getEntriesByType('mark').filter((m) => m.name.startsWith('diff:') && m.startTime >= t0).map((m) => [m.name, Math.round(m.startTime - t0)]);",
            json!([]),
        )?);
        ui.push(ms);
        git.push(time_git_diff(w, &big.base_commit, &head)?);
    }
    let first = ui[0];
    let (ui_med, ui_min) = median_min(&ui);
    let (git_med, git_min) = median_min(&git);
    println!(
        "{:<44} {:>7.0} ms   first open (git diff {:.0} ms, ratio {:.2})",
        "50,000-line diff: open to first lines",
        first,
        git[0],
        first / git[0]
    );
    println!(
        "{:<44} {:>7.0} ms   median of {DIFF_REOPENS} reopenings, best {ui_min:.0} ms; git diff median {git_med:.0} ms, best {git_min:.0} ms; ratio {:.2}",
        "",
        ui_med,
        ui_med / git_med
    );
    let steps = |m: &Value| -> String {
        m.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| Some(format!("{} {}", m[0].as_str()?, m[1].as_f64()?)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    println!("{:<44} first: {}", "  ms after the click", steps(&marks[0]));
    println!("{:<44} last:  {}", "", steps(&marks[DIFF_REOPENS]));
    report.insert("diff_marks".into(), json!(marks));
    report.insert("diff_first_open_ms".into(), json!(first));
    report.insert("diff_first_lines_ms".into(), json!(ui_med));
    report.insert("diff_first_lines_best_ms".into(), json!(ui_min));
    report.insert("git_diff_ms".into(), json!(git_med));
    report.insert("diff_ratio".into(), json!(ui_med / git_med));
    s.screenshot("big-diff");
    let f = frames(&s.execute_async(FRAMES, json!([2000, "[data-testid=diff-rows]", 400]))?);
    show("50,000-line diff: scrolling", &f);
    report.insert("diff_scroll".into(), frames_json(&f));

    // 20 jobs streaming at once, one of them open.
    let mut streaming = Vec::new();
    for i in 0..20 {
        // One process per job, about 500 lines a second each (no fork per line, so the load
        // is the UI's, not the shell's).
        let task = format!(
            "perl -e '$|=1; for my $n (1..4000) {{ print \"job {i} line $n\\n\"; select(undef,undef,undef,0.002) }}'"
        );
        streaming.push(spawn(rt, c, w, &task)?);
    }
    s.wait_text("[data-testid=status-summary]", "20 running")?;
    let last = streaming.last().ok_or("no streaming job")?;
    open_job(&mut s, &last.codename)?;
    let f = frames(&s.execute_async(FRAMES, json!([5000, null, 0]))?);
    show("20 jobs streaming, one open", &f);
    report.insert("streaming_20".into(), frames_json(&f));
    s.screenshot("streaming");
    wait_all_ended(rt, c, Duration::from_secs(300))?;

    // A 5,000-row transcript: open to its first rows, then scrolling it.
    let talk = rt
        .block_on(c.spawn(&SpawnRequest {
            repo: w.repo.display().to_string(),
            task: "check every module".into(),
            agent: Some("claude".into()),
            ..SpawnRequest::default()
        }))
        .map_err(|e| e.to_string())?;
    wait_all_ended(rt, c, Duration::from_secs(300))?;
    // Timed from the click to the first tool row (WebDriver's polling included, so this is an
    // upper bound).
    let t = Instant::now();
    open_job(&mut s, &talk.codename)?;
    s.wait("the transcript's first rows", |s| {
        Ok((!s.all("[data-testid=transcript-tool]")?.is_empty()).then_some(()))
    })?;
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{:<44} {:>7.0} ms",
        "5,000-row transcript: open to first rows", first_ms
    );
    report.insert("transcript_first_rows_ms".into(), json!(first_ms));
    let t = Instant::now();
    s.wait_text("[data-testid=transcript]", "Step 2500")?;
    let all_ms = first_ms + t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{:<44} {:>7.0} ms",
        "5,000-row transcript: to its last row", all_ms
    );
    report.insert("transcript_last_row_ms".into(), json!(all_ms));
    s.screenshot("transcript");
    let f = frames(&s.execute_async(
        FRAMES,
        json!([2000, "[data-testid=transcript-scroll]", -600]),
    )?);
    show("5,000-row transcript: scrolling", &f);
    report.insert("transcript_scroll".into(), frames_json(&f));

    // A million lines of output.
    let flood = spawn(rt, c, w, "seq 1 1000000")?;
    wait_all_ended(rt, c, Duration::from_secs(300))?;
    open_job(&mut s, &flood.codename)?;
    let t = Instant::now();
    // The count is shown with the locale's separators (or none).
    s.wait("all 1,000,000 lines", |s| {
        let t = s.text_of("[data-testid=output-count]")?;
        Ok(t.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .eq("1000000")
            .then_some(()))
    })?;
    let load = t.elapsed().as_secs_f64() * 1000.0;
    let f = frames(&s.execute_async(FRAMES, json!([2000, "[data-testid=output-scroll]", -2000]))?);
    println!(
        "{:<44} {:>7.0} ms",
        "1,000,000-line output: all lines loaded", load
    );
    show("1,000,000-line output: scrolling", &f);
    report.insert("million_lines_load_ms".into(), json!(load));
    report.insert("million_lines_scroll".into(), frames_json(&f));
    s.screenshot("million-lines");
    s.close();
    drop(driver);

    let out = support::screens_dir().with_file_name("ui-bench.json");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&Value::Object(report)).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    println!("ui bench: figures in {}", out.display());
    Ok(())
}

/// Clicks a job's row in the list (the newest are at the top).
fn open_job(s: &mut webdriver::Session, codename: &str) -> Result<(), String> {
    s.execute(
        "document.querySelector('[data-testid=job-list]').scrollTop = 0",
        json!([]),
    )?;
    s.press(&format!(
        "[data-testid=job-row][data-codename='{codename}']"
    ))
}

/// One run of `git diff base head` in ms (the peer: the same commits as text).
fn time_git_diff(w: &World, base: &str, head: &str) -> Result<f64, String> {
    let t = Instant::now();
    w.git(&["diff", base, head])?;
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

/// The median and the smallest of `v`.
fn median_min(v: &[f64]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v.first().copied().unwrap_or(f64::NAN))
}
