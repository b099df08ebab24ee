use std::process::ExitCode;

use clap::{Args, ValueEnum};
use sidekick_client::Client;
use sidekick_protocol::{Diff, HunkPick, HunkRange, MergePreview, MergeRequest, MergeStrategy};

use crate::hints::hinted;
use crate::render::print_json;
use crate::Outcome;

/// Merge a job's changes into its target branch (by default the branch it started from).
///
/// Where the target is checked out, that working tree and index are updated too; your
/// uncommitted changes there are never overwritten: a merge that would touch them is refused
/// (or, with --autostash, they are stashed and re-applied). `--dry-run` previews the merge in
/// memory and exits 0 only if it would go through. After a full merge the job's worktree and
/// branch are removed (a snapshot is kept) and `sidekick undo JOB` reverts it.
#[derive(Args)]
pub struct MergeArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// squash: one commit with the task as message; merge: a merge commit; rebase: replay the
    /// job's commits and fast-forward.
    #[arg(long, value_enum, default_value_t = Strategy::Squash)]
    strategy: Strategy,
    /// The branch to merge into.
    #[arg(long, value_name = "BRANCH")]
    into: Option<String>,
    /// Merge only these files (squash only); the rest stays on the job's branch for later.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    paths: Vec<String>,
    /// Merge only these hunks of a file (squash only), numbered from 1 in the order
    /// `sidekick diff` shows them: `--hunks src/a.rs:1,3`. Repeat for more files.
    #[arg(long, value_name = "PATH:N,...")]
    hunks: Vec<String>,
    /// The commit message (squash, or the merge commit); the task's first line by default.
    #[arg(short, long, value_name = "TEXT")]
    message: Option<String>,
    /// Stash your uncommitted changes on the paths the merge touches, merge, re-apply them.
    #[arg(long)]
    autostash: bool,
    /// Also merge the files Sidekick copied into the job's worktree (local secrets such as
    /// .env) when the job's branch changes them; by default they are left out.
    #[arg(long)]
    include_copied: bool,
    /// Only preview: conflicts, whether the target moved, overlapping uncommitted changes.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Strategy {
    Squash,
    Merge,
    Rebase,
}

pub async fn cmd_merge(client: &Client, args: MergeArgs) -> Outcome {
    let req = MergeRequest {
        strategy: match args.strategy {
            Strategy::Squash => MergeStrategy::Squash,
            Strategy::Merge => MergeStrategy::Merge,
            Strategy::Rebase => MergeStrategy::Rebase,
        },
        into: args.into,
        paths: args.paths,
        hunks: if args.hunks.is_empty() {
            Vec::new()
        } else {
            pick_hunks(&client.diff(&args.job).await?, &args.hunks)?
        },
        message: args.message,
        autostash: args.autostash,
        dry_run: args.dry_run,
        include_copied: args.include_copied,
    };
    let result = client
        .merge(&args.job, &req)
        .await
        .map_err(hinted("merge", &args.job))?;
    let would_merge = result.preview.clean
        && result.preview.blocked_by.is_none()
        && (args.autostash
            || result
                .preview
                .checked_out
                .iter()
                .all(|c| c.dirty_overlap.is_empty()));
    if args.json {
        print_json(&result)?;
    } else if args.dry_run {
        print!("{}", preview_text(&result.preview));
        println!("{}", result.message);
    } else {
        println!("{}", result.message);
        if let Some(kept) = &result.stash_kept {
            eprintln!("sidekick: your stashed changes are kept in {kept}");
        }
    }
    Ok(if args.dry_run && !would_merge {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn preview_text(p: &MergePreview) -> String {
    let mut out = format!(
        "target:   {} at {}{}\n",
        p.target,
        p.target_tip.get(..10).unwrap_or(&p.target_tip),
        if p.target_moved {
            " (moved since the job started)"
        } else {
            ""
        }
    );
    if p.clean {
        out.push_str(&format!(
            "result:   clean, {} files change\n",
            p.changed_paths.len()
        ));
    } else {
        out.push_str("result:   conflicts\n");
        for c in &p.conflicts {
            out.push_str(&format!("  {} ({})\n", c.path, c.kind));
        }
    }
    if !p.left_out.is_empty() {
        out.push_str(&format!(
            "left out: {} (copied in from your checkout; --include-copied merges them)\n",
            p.left_out.join(", ")
        ));
    }
    for c in &p.checked_out {
        let state = if c.dirty_overlap.is_empty() {
            "no uncommitted changes on the paths it touches (others stay as they are)".to_string()
        } else {
            format!(
                "your uncommitted changes overlap: {}",
                c.dirty_overlap.join(", ")
            )
        };
        out.push_str(&format!("checkout: {}: {state}\n", c.worktree));
    }
    out
}

/// `PATH:1,3` against the job's diff: the hunks' ranges, so the host can tell a stale choice.
fn pick_hunks(diff: &Diff, args: &[String]) -> Result<Vec<HunkPick>, crate::Failure> {
    let mut picks: Vec<HunkPick> = Vec::new();
    for arg in args {
        let (path, numbers) = arg.rsplit_once(':').ok_or_else(|| {
            crate::Failure::new(format!(
                "--hunks takes PATH:N[,N...] (hunks numbered from 1), not '{arg}'"
            ))
        })?;
        let file = diff.files.iter().find(|f| f.path == path).ok_or_else(|| {
            crate::Failure::new(format!("'{path}' is not among the files the job changed"))
        })?;
        let mut hunks = Vec::new();
        for n in numbers.split(',') {
            let hunk = n
                .trim()
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| file.hunks.get(i))
                .ok_or_else(|| {
                    crate::Failure::new(format!(
                        "'{n}' is not a hunk of {path}, which has {} (numbered from 1)",
                        file.hunks.len()
                    ))
                })?;
            hunks.push(HunkRange::of(hunk));
        }
        match picks.iter_mut().find(|p| p.path == path) {
            Some(p) => p.hunks.extend(hunks),
            None => picks.push(HunkPick {
                path: path.to_string(),
                hunks,
            }),
        }
    }
    Ok(picks)
}
