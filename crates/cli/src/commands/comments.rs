use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::{Comment, NewComment, Side};

use crate::render::print_json;
use crate::{Failure, Outcome};

/// Comment on lines of a job's diff, for the agent: `sidekick reply JOB --comments` sends the
/// comments not sent yet as one message (file, lines, the lines quoted, your comment).
#[derive(Args)]
pub struct CommentArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// The file and line (or range) as the job's change has them: `src/a.rs:12` or
    /// `src/a.rs:12-15`.
    at: String,
    /// The line numbers are the file's before the change (a comment on removed lines).
    #[arg(long)]
    old: bool,
    /// The comment.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true)]
    text: Vec<String>,
    /// Print the comment as JSON.
    #[arg(long)]
    json: bool,
}

/// List a job's review comments: where each stands in the file now (or that its lines changed
/// since: outdated), whether it was sent to the agent.
#[derive(Args)]
pub struct CommentsArgs {
    /// Job id, unique id prefix or codename.
    job: String,
    /// Delete this comment (its number in the list).
    #[arg(long, value_name = "ID")]
    delete: Option<u64>,
    /// Print the comments as JSON.
    #[arg(long)]
    json: bool,
}

/// `src/a.rs:12` or `src/a.rs:12-15` (the last colon splits, so a path may hold one).
fn parse_at(at: &str) -> Result<(String, u32, Option<u32>), Failure> {
    let bad = || {
        Failure::new(format!(
            "'{at}' is not FILE:LINE or FILE:FIRST-LAST (lines numbered from 1)"
        ))
    };
    let (path, lines) = at.rsplit_once(':').ok_or_else(bad)?;
    if path.is_empty() {
        return Err(bad());
    }
    let number = |s: &str| s.trim().parse::<u32>().ok().filter(|n| *n > 0);
    let (first, last) = match lines.split_once('-') {
        Some((a, b)) => (number(a).ok_or_else(bad)?, Some(number(b).ok_or_else(bad)?)),
        None => (number(lines).ok_or_else(bad)?, None),
    };
    Ok((path.to_string(), first, last))
}

pub async fn cmd_comment(client: &Client, args: CommentArgs) -> Outcome {
    let (path, line, end_line) = parse_at(&args.at)?;
    let req = NewComment {
        path,
        side: if args.old { Side::Old } else { Side::New },
        line,
        end_line,
        body: args.text.join(" "),
    };
    let c = client.add_comment(&args.job, &req).await?;
    if args.json {
        print_json(&c)?;
    } else {
        print!("{}", render(&c));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cmd_comments(client: &Client, args: CommentsArgs) -> Outcome {
    if let Some(id) = args.delete {
        client.delete_comment(&args.job, id).await?;
        if !args.json {
            println!("deleted comment {id}");
        } else {
            print_json(&serde_json::json!({ "deleted": id }))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let comments = client.comments(&args.job).await?;
    if args.json {
        print_json(&comments)?;
    } else if comments.is_empty() {
        println!("no comments (`sidekick comment JOB FILE:LINE TEXT` adds one)");
    } else {
        for c in &comments {
            print!("{}", render(c));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(c: &Comment) -> String {
    let range = |from: u32| {
        let to = from + (c.end_line - c.line);
        if to == from {
            format!("{from}")
        } else {
            format!("{from}-{to}")
        }
    };
    let at = match c.now_line {
        Some(n) => format!("{}:{}", c.path, range(n)),
        None => format!("{}:{} (outdated)", c.path, range(c.line)),
    };
    let side = if c.side == Side::Old { " (before)" } else { "" };
    let sent = if c.sent_at.is_some() {
        "sent"
    } else {
        "not sent"
    };
    let mut out = format!("#{} {at}{side}, {sent}\n", c.id);
    for q in &c.quote {
        out.push_str(&format!("  > {q}\n"));
    }
    for l in c.body.lines() {
        out.push_str(&format!("  {l}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_lines_parse_or_are_refused_with_the_form() {
        assert_eq!(parse_at("a.rs:3").ok(), Some(("a.rs".into(), 3, None)));
        assert_eq!(
            parse_at("dir/a:b.rs:3-5").ok(),
            Some(("dir/a:b.rs".into(), 3, Some(5)))
        );
        for bad in ["a.rs", "a.rs:0", ":3", "a.rs:x", "a.rs:3-", "a.rs:-2"] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
    }
}
