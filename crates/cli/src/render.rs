//! Text and JSON output shared by the commands.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use sidekick_client::{Client, Followed};
use sidekick_protocol::{format_duration, AgentInfo, EventBody, Job, JobState, Level, Stream};

use crate::Failure;

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(format!("cannot encode JSON: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(write_failed)
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::new(format!("cannot write the output: {e}"))
}

/// `wait` semantics: 0 only for `completed`.
pub fn exit_for(job: &Job) -> ExitCode {
    let merged_itself = job.state == JobState::Merged
        && job
            .auto_merge
            .as_ref()
            .is_some_and(|a| a.outcome == sidekick_protocol::AutoMergeOutcome::Merged);
    if job.state == JobState::Completed || merged_itself {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn changes(job: &Job) -> String {
    match (job.insertions, job.deletions) {
        (Some(i), Some(d)) => format!("+{i} -{d}"),
        _ => "-".into(),
    }
}

/// Text from a job (its task, a reason quoting git, a path) made safe for a terminal.
pub use sidekick_protocol::text::visible;

/// "brave-otter completed in 3s (+10 -2)" and the reason where there is one.
pub fn ending(job: &Job) -> String {
    visible(&ending_raw(job))
}

fn ending_raw(job: &Job) -> String {
    let mut s = format!("{} {}", job.codename, job.state);
    if let Some(d) = job.duration_ms {
        s.push_str(&format!(" after {}", format_duration(d)));
    }
    if job.insertions.is_some() {
        s.push_str(&format!(" ({}, branch {})", changes(job), job.branch));
    }
    if let Some(r) = &job.reason {
        s.push_str(&format!(": {r}"));
    }
    if let Some(line) = auto_merge_line(job) {
        s.push_str(&format!("; {line}"));
    }
    s
}

/// How a job that may merge by itself fared, in words; `None` for other jobs.
pub fn auto_merge_line(job: &Job) -> Option<String> {
    use sidekick_protocol::AutoMergeOutcome;
    let a = job.auto_merge.as_ref()?;
    Some(match a.outcome {
        AutoMergeOutcome::Pending => format!("merges by itself if clean (asked by {})", a.by),
        AutoMergeOutcome::Merged if job.state != sidekick_protocol::JobState::Merged => {
            "merged by itself, then undone".to_string()
        }
        AutoMergeOutcome::Merged => format!(
            "merged by itself into {} (asked by {}; `sidekick undo {}` takes it back)",
            job.merged_into.as_deref().unwrap_or("its branch"),
            a.by,
            job.codename
        ),
        AutoMergeOutcome::Held => format!(
            "not merged by itself: {}",
            a.reason.as_deref().unwrap_or("a condition failed")
        ),
    })
}

fn state_label(job: &Job) -> String {
    match job.queue_position {
        Some(p) => format!("queued #{p}"),
        None if job.state == sidekick_protocol::JobState::Waiting => "waiting: needs you".into(),
        None => job.state.to_string(),
    }
}

fn first_line(task: &str, max: usize) -> String {
    let line = task
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// Left-aligned columns separated by two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| visible(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let all = std::iter::once(header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(rows.iter().cloned());
    for row in all {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn job_table(jobs: &[Job], now: u64) -> String {
    let flat: Vec<(String, &Job)> = jobs.iter().map(|j| (String::new(), j)).collect();
    job_rows(&flat, now)
}

/// The jobs as a tree: each job's sidekicks right under it (oldest first), drawn with
/// `├─`/`└─` before their codenames; jobs whose parent is not listed are roots.
pub fn job_tree(jobs: &[Job], now: u64) -> String {
    let listed: std::collections::HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let is_root = |j: &Job| j.parent_id.as_deref().is_none_or(|p| !listed.contains(p));
    let mut out: Vec<(String, &Job)> = Vec::new();
    fn children<'a>(jobs: &'a [Job], parent: &Job, indent: &str, out: &mut Vec<(String, &'a Job)>) {
        // Ids sort by creation time: oldest first under a parent.
        let mut kids: Vec<&Job> = jobs
            .iter()
            .filter(|j| j.parent_id.as_deref() == Some(parent.id.as_str()))
            .collect();
        kids.sort_by(|a, b| a.id.cmp(&b.id));
        for (i, kid) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            out.push((format!("{indent}{}", if last { "└─ " } else { "├─ " }), kid));
            let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
            children(jobs, kid, &deeper, out);
        }
    }
    for root in jobs.iter().filter(|j| is_root(j)) {
        out.push((String::new(), root));
        children(jobs, root, "", &mut out);
    }
    job_rows(&out, now)
}

fn job_rows(jobs: &[(String, &Job)], now: u64) -> String {
    // The PR column is there when a listed job has a pull request.
    let with_pr = jobs.iter().any(|(_, j)| j.pr.is_some());
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|(branch, j)| {
            let mut row = vec![
                j.id.clone(),
                format!("{branch}{}", j.codename),
                state_label(j),
                j.agent.clone(),
                format_duration(now.saturating_sub(j.created_at)),
                j.duration_ms
                    .map(format_duration)
                    .unwrap_or_else(|| "-".into()),
                changes(j),
            ];
            if with_pr {
                row.push(j.pr.as_ref().map(pr_cell).unwrap_or_else(|| "-".into()));
            }
            row.push(first_line(&j.task, 48));
            row
        })
        .collect();
    let mut header = vec![
        "ID", "CODENAME", "STATE", "AGENT", "AGE", "DURATION", "CHANGES",
    ];
    if with_pr {
        header.push("PR");
    }
    header.push("TASK");
    table(&header, &rows)
}

/// A pull request in a list: its number, state and checks (`#3 open ✗`).
fn pr_cell(pr: &sidekick_protocol::PullRequest) -> String {
    use sidekick_protocol::CheckState;
    let checks = match pr.checks.state {
        CheckState::Success => " ✓",
        CheckState::Failure => " ✗",
        CheckState::Pending => " …",
        CheckState::None => "",
    };
    format!("#{} {}{checks}", pr.number, pr.state.as_str())
}

/// A pull request's rows in `status`: where it is, its checks, its review, what stops the
/// host from looking.
fn pr_rows(pr: &sidekick_protocol::PullRequest) -> Vec<(&'static str, String)> {
    use sidekick_protocol::{CheckState, ReviewState};
    let mut rows = vec![(
        "pull request",
        format!(
            "#{} {} into {}: {}",
            pr.number,
            pr.state.as_str(),
            pr.base,
            pr.url
        ),
    )];
    let failing: Vec<&str> = pr.checks.failing().map(|r| r.name.as_str()).collect();
    let checks = match pr.checks.state {
        CheckState::None => "none yet".to_string(),
        CheckState::Pending => format!("pending ({} so far)", pr.checks.runs.len()),
        CheckState::Success => format!("passed ({})", pr.checks.runs.len()),
        CheckState::Failure => format!(
            "failed: {} ({} of {})",
            failing.join(", "),
            failing.len(),
            pr.checks.runs.len()
        ),
    };
    rows.push(("checks", checks));
    if let Some(review) = pr.review {
        rows.push((
            "review",
            match review {
                ReviewState::Approved => "approved".into(),
                ReviewState::ChangesRequested => "changes requested".into(),
            },
        ));
    }
    if pr.fixes > 0 || pr.fixing {
        let now = if pr.fixing { ", one under way" } else { "" };
        rows.push(("ci fixes", format!("{}{now}", pr.fixes)));
    }
    if let Some(problem) = &pr.problem {
        rows.push(("forge", problem.clone()));
    }
    rows
}

pub fn job_details(job: &Job, now: u64) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut rows: Vec<(&str, String)> = vec![
        ("id", job.id.clone()),
        ("codename", job.codename.clone()),
        ("state", state_label(job)),
        ("agent", job.agent.clone()),
        ("task", first_line(&job.task, 100)),
        ("repo", job.repo.clone()),
        ("branch", job.branch.clone()),
        ("worktree", job.worktree.clone()),
        (
            "base",
            format!("{} ({})", job.base_rev, short(&job.base_commit)),
        ),
        ("merges into", opt(&job.base_branch)),
        (
            "head",
            job.head_commit
                .as_deref()
                .map(short)
                .unwrap_or("-")
                .to_string(),
        ),
        (
            "exit code",
            job.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "changes",
            match job.files_changed {
                Some(f) => format!("{f} files, {}", changes(job)),
                None => "-".into(),
            },
        ),
        (
            "created",
            format!(
                "{} ago",
                format_duration(now.saturating_sub(job.created_at))
            ),
        ),
        (
            "duration",
            job.duration_ms
                .map(format_duration)
                .unwrap_or_else(|| "-".into()),
        ),
        ("timeout", format_duration(job.timeout_ms)),
        ("log", job.log_path.clone()),
    ];
    if let Some(p) = &job.parent_id {
        rows.push(("parent", p.clone()));
    }
    if let Some(who) = &job.spawned_by {
        rows.push(("spawned by", who.clone()));
    }
    if let Some(sb) = &job.sandbox {
        rows.push(("sandbox", sandbox_line(sb)));
    }
    if let Some(of) = &job.retry_of {
        rows.push(("retry of", of.clone()));
    }
    if let Some(line) = auto_merge_line(job) {
        rows.push(("auto-merge", line));
    }
    if let Some(issue) = &job.issue {
        rows.push((
            "issue",
            format!(
                "#{} {}: {}",
                issue.number,
                first_line(&issue.title, 80),
                issue.url
            ),
        ));
    }
    match (&job.pr, job.open_pr) {
        (Some(pr), _) => rows.extend(pr_rows(pr)),
        (None, Some(mode)) => rows.push((
            "pull request",
            format!(
                "opens by itself{} when the job completes with changes",
                if mode == sidekick_protocol::PrOpenMode::Draft {
                    " as a draft"
                } else {
                    ""
                }
            ),
        )),
        (None, None) => {}
    }
    if let Some(into) = &job.merged_into {
        let commit = job.merge_commit.as_deref().map(short).unwrap_or("-");
        rows.push(("merged into", format!("{into} ({commit})")));
    }
    if let Some(snap) = &job.snapshot {
        rows.push((
            "snapshot",
            format!("refs/sidekick/snapshots/{} ({})", job.id, short(snap)),
        ));
    }
    if !job.conflicts.is_empty() {
        rows.push(("conflicts", job.conflicts.join(", ")));
    }
    for r in &job.requests {
        rows.push((
            "asks",
            format!(
                "{} {} (request {}; `sidekick allow {}` or `sidekick deny {}`)",
                r.tool,
                visible(&r.detail),
                r.id,
                job.codename,
                job.codename
            ),
        ));
    }
    if job.steps > 0 || job.max_steps.is_some() {
        let cap = job
            .max_steps
            .map(|m| format!(" of {m}"))
            .unwrap_or_default();
        let capped = if job.capped {
            " (stopped at the cap)"
        } else {
            ""
        };
        rows.push(("steps", format!("{}{cap}{capped}", job.steps)));
    }
    if job.tokens.total() > 0 || job.token_budget.is_some() {
        let budget = job
            .token_budget
            .map(|b| format!(" of a {b} budget"))
            .unwrap_or_default();
        rows.push((
            "tokens",
            format!(
                "{} in, {} out, {} cached{budget}",
                job.tokens.input, job.tokens.output, job.tokens.cached
            ),
        ));
    }
    if let Some(c) = job.cost_usd {
        rows.push(("cost", format!("${c:.4}")));
    }
    if let Some(s) = &job.summary {
        rows.push(("summary", first_line(s, 200)));
    }
    if let Some(r) = &job.reason {
        rows.push(("reason", r.clone()));
    }
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out: String = rows
        .iter()
        .map(|(k, v)| format!("{k:<w$}  {}\n", visible(v)))
        .collect();
    for r in &job.requests {
        out.push_str(&preview_block(&r.preview, 40));
    }
    out
}

/// What a request would do, indented under the job's facts: the command in full, or each
/// file's diff lines (at most `max` lines in all).
pub fn preview_block(preview: &sidekick_protocol::Preview, max: usize) -> String {
    use sidekick_protocol::Preview;
    let mut lines: Vec<String> = Vec::new();
    let mut more: usize = 0;
    match preview {
        Preview::None => return String::new(),
        Preview::Command {
            command,
            description,
            cwd,
        } => {
            if let Some(d) = description {
                lines.push(format!("# {d}"));
            }
            if let Some(c) = cwd {
                lines.push(format!("# in {c}"));
            }
            lines.extend(command.lines().map(|l| format!("$ {l}")));
        }
        Preview::Change { files } => {
            for f in files {
                lines.push(format!("{} ({})", f.path, f.kind));
                lines.extend(f.lines.iter().cloned());
                more += f.more as usize;
            }
        }
    }
    if lines.len() > max {
        more += lines.len() - max;
        lines.truncate(max);
    }
    let mut out: String = lines
        .iter()
        .map(|l| format!("    {}\n", visible(l)))
        .collect();
    if more > 0 {
        out.push_str(&format!("    … {more} more lines\n"));
    }
    out
}

/// How a job's processes ran, in a few words.
pub fn sandbox_line(sb: &sidekick_protocol::Sandbox) -> String {
    match (&sb.reason, sb.on) {
        (_, true) => format!(
            "worktree (writes only its worktree and branch; network {})",
            if sb.network { "on" } else { "off" }
        ),
        (Some(why), false) => format!("not sandboxed: {why}"),
        (None, false) => "off".into(),
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

pub fn agent_table(agents: &[AgentInfo]) -> String {
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                if a.installed {
                    "yes".into()
                } else {
                    "no".into()
                },
                a.version.clone().unwrap_or_default(),
                a.path
                    .clone()
                    .or_else(|| a.problem.clone())
                    .unwrap_or_default(),
                a.command.join(" "),
            ]
        })
        .collect();
    table(&["NAME", "INSTALLED", "VERSION", "WHERE", "COMMAND"], &rows)
}

/// Writes output lines to the matching stream, buffered.
pub struct OutputPrinter {
    out: std::io::BufWriter<std::io::Stdout>,
    /// The parsed view: the agent's steps and summary instead of its machine-readable lines.
    parsed: bool,
}

impl OutputPrinter {
    pub fn new() -> Self {
        OutputPrinter {
            out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            parsed: false,
        }
    }

    /// Steps and the summary, with the agent's JSON event lines left out (other lines stay).
    pub fn parsed() -> Self {
        OutputPrinter {
            parsed: true,
            ..OutputPrinter::new()
        }
    }

    pub fn line(&mut self, stream: Stream, line: &str, partial: bool) -> std::io::Result<()> {
        let end = if partial { "" } else { "\n" };
        match stream {
            Stream::Stdout => write!(self.out, "{line}{end}"),
            Stream::Stderr => {
                self.out.flush()?;
                write!(std::io::stderr().lock(), "{line}{end}")
            }
        }
    }

    /// Output lines to their stream, notices to stderr; job changes flush what is buffered.
    pub fn event(&mut self, body: &EventBody) -> std::io::Result<()> {
        match body {
            EventBody::Output {
                stream: Stream::Stdout,
                line,
                ..
            } if self.parsed && line.trim_start().starts_with('{') => Ok(()),
            EventBody::Output {
                stream,
                line,
                partial,
            } => self.line(*stream, line, *partial),
            EventBody::Step { n, tool, text } if self.parsed => match tool {
                Some(tool) => writeln!(self.out, "step {n} · {tool} · {text}"),
                None => writeln!(self.out, "step {n} · {text}"),
            },
            EventBody::Summary { text } if self.parsed => writeln!(self.out, "summary: {text}"),
            // The transcript's entries are the app's; `--parsed` shows the steps.
            EventBody::Step { .. } | EventBody::Summary { .. } | EventBody::Transcript { .. } => {
                Ok(())
            }
            EventBody::Notice { level, message } => {
                self.out.flush()?;
                let tag = match level {
                    Level::Info => "",
                    Level::Warn => "warning: ",
                    Level::Error => "error: ",
                };
                writeln!(std::io::stderr().lock(), "sidekick: {tag}{message}")
            }
            EventBody::Job { .. } => self.out.flush(),
        }
    }

    pub fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(write_failed)
    }
}

/// Streams a job's output (and notices, on stderr) until it ends; returns the ended job.
pub async fn follow_output(client: &Client, job_id: &str, parsed: bool) -> Result<Job, Failure> {
    let mut out = if parsed {
        OutputPrinter::parsed()
    } else {
        OutputPrinter::new()
    };
    let job = client
        .follow_job(job_id, true, |item| match item {
            Followed::Event(ev) => out.event(&ev.body),
            Followed::CaughtUp => out.out.flush(),
        })
        .await;
    out.flush()?;
    Ok(job?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_trim() {
        let t = table(
            &["A", "BB"],
            &[vec!["xxx".into(), "y".into()], vec!["z".into(), "".into()]],
        );
        assert_eq!(t, "A    BB\nxxx  y\nz\n");
    }

    #[test]
    fn terminal_escapes_in_job_text_are_shown_not_acted_on() {
        assert_eq!(
            visible("fix \u{1b}[2J it\r\tnow"),
            "fix \\u{1b}[2J it\\r\\tnow"
        );
        assert_eq!(visible("plain\ntwo"), "plain\ntwo");
        let t = table(&["TASK"], &[vec!["a\u{1b}[2Jb".into()]]);
        assert_eq!(t, "TASK\na\\u{1b}[2Jb\n");
    }

    #[test]
    fn task_lines_are_shortened() {
        assert_eq!(first_line("\n  fix it \nmore", 10), "fix it");
        assert_eq!(first_line("abcdefghijkl", 5), "abcd…");
    }
}
