//! Review: a file as one side of a job's diff has it, the user's comments on lines of the diff
//! (kept per job, placed again in the file as it is now, sent to the agent as one reply), and
//! the files the user marked viewed.

use std::collections::HashMap;
use std::path::Path;

use sidekick_git::files::{self, FileError};
use sidekick_protocol::{Comment, FileLines, NewComment, Side, Viewed};

use crate::{lock, Engine, EngineError, Result};
use sidekick_config::Config;
use sidekick_store::JobRecord;

/// The most lines one comment quotes.
const MAX_COMMENT_LINES: u32 = 200;
/// The longest comment.
const MAX_COMMENT_CHARS: usize = 20_000;

impl From<FileError> for EngineError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Repo(r) => EngineError::Repo(r),
            other => EngineError::BadRequest(other.to_string()),
        }
    }
}

/// Reads `path` as `side` of the job's diff shows it: the base commit, or the job's changes
/// (a live job's worktree as it is now, else its head commit).
fn read_side(
    engine: &Engine,
    rec: &JobRecord,
    path: &str,
    side: Side,
    max: u64,
) -> Result<FileLines> {
    let job = &rec.job;
    let live = super::subject::live_worktree(rec).filter(|_| side == Side::New);
    let (bytes, commit) = if let Some(worktree) = &live {
        (files::in_worktree(worktree, path, max)?, None)
    } else {
        let commit = match side {
            Side::Old => job.base_commit.clone(),
            Side::New => job
                .head_commit
                .clone()
                .unwrap_or_else(|| job.base_commit.clone()),
        };
        let bytes = engine
            .scheduler
            .reviews
            .repos
            .with(Path::new(&job.repo), true, |r| {
                Ok(files::at_commit(r, &commit, path, max))
            })??;
        (bytes, Some(commit))
    };
    let binary = bytes.as_deref().is_some_and(files::is_binary);
    Ok(FileLines {
        path: path.to_string(),
        side,
        commit,
        missing: bytes.is_none(),
        binary,
        lines: match (&bytes, binary) {
            (Some(b), false) => files::lines(b),
            _ => Vec::new(),
        },
    })
}

/// Where `quote` reads the same in `lines` now: at `at` if it still does there, else the
/// nearest place it does; `None` when it is nowhere.
pub(crate) fn place(quote: &[String], lines: &[String], at: u32) -> Option<u32> {
    let n = quote.len();
    if n == 0 || n > lines.len() {
        return None;
    }
    let same = |i: usize| lines.get(i..i + n).is_some_and(|l| l == quote);
    let start = (at as usize).saturating_sub(1);
    if same(start) {
        return Some(at);
    }
    (0..=lines.len() - n)
        .filter(|i| same(*i))
        .min_by_key(|i| i.abs_diff(start))
        .map(|i| i as u32 + 1)
}

/// The comments as one message for the agent: each with its file, lines, the lines quoted and
/// what the user said, then the user's own text.
pub(crate) fn message(comments: &[Comment], text: &str) -> String {
    let mut out = String::from("Review comments on your changes:\n");
    for c in comments {
        let lines = |from: u32| {
            let to = from + (c.end_line - c.line);
            if to == from {
                format!("line {from}")
            } else {
                format!("lines {from}-{to}")
            }
        };
        let place = match (c.now_line, c.side) {
            (Some(at), Side::New) => lines(at),
            (Some(at), Side::Old) => format!("{} before your change (removed by it)", lines(at)),
            (None, _) => format!(
                "what was {} (changed since the comment was written)",
                lines(c.line)
            ),
        };
        out.push_str(&format!("\n{}, {place}:\n", c.path));
        for q in &c.quote {
            out.push_str(&format!("> {q}\n"));
        }
        out.push_str(c.body.trim_end());
        out.push('\n');
    }
    let text = text.trim();
    if !text.is_empty() {
        out.push('\n');
        out.push_str(text);
    }
    out.trim_end().to_string()
}

impl Engine {
    fn diff_file_limit(&self) -> Result<u64> {
        Ok(Config::load(self.home.config_file())?.diff.max_file_bytes)
    }

    /// A file as `side` of the job's diff has it (for expanding the context around hunks).
    pub async fn file(&self, reference: &str, path: &str, side: Side) -> Result<FileLines> {
        let rec = self.ledger.resolve(reference)?;
        let max = self.diff_file_limit()?;
        let engine = self.clone();
        let path = path.to_string();
        crate::blocking(move || read_side(&engine, &rec, &path, side, max)).await?
    }

    /// The job's comments, oldest first, each placed in the file as it is now.
    pub async fn comments(&self, reference: &str) -> Result<Vec<Comment>> {
        let rec = self.ledger.resolve(reference)?;
        let max = self.diff_file_limit()?;
        let engine = self.clone();
        crate::blocking(move || {
            let mut comments = lock(&engine.ledger.reader).comments(&rec.job.id)?;
            let mut read: HashMap<(String, Side), Vec<String>> = HashMap::new();
            for c in &mut comments {
                let key = (c.path.clone(), c.side);
                if !read.contains_key(&key) {
                    // A file that cannot be read now (gone, grown past the cap, the repository
                    // moved) leaves its comments outdated rather than failing the list.
                    let lines = read_side(&engine, &rec, &c.path, c.side, max)
                        .map(|f| f.lines)
                        .unwrap_or_default();
                    read.insert(key.clone(), lines);
                }
                let lines = read.get(&key).map(Vec::as_slice).unwrap_or_default();
                c.now_line = place(&c.quote, lines, c.line);
            }
            Ok(comments)
        })
        .await?
    }

    /// Adds a comment on lines of the job's diff; the lines are quoted as they read now.
    pub async fn add_comment(&self, reference: &str, new: NewComment) -> Result<Comment> {
        let rec = self.ledger.resolve(reference)?;
        let body = new.body.trim().to_string();
        if body.is_empty() {
            return Err(EngineError::BadRequest("the comment is empty".into()));
        }
        if body.chars().count() > MAX_COMMENT_CHARS {
            return Err(EngineError::BadRequest(format!(
                "the comment is longer than {MAX_COMMENT_CHARS} characters"
            )));
        }
        let end = new.end_line.unwrap_or(new.line);
        if new.line == 0 || end < new.line {
            return Err(EngineError::BadRequest(format!(
                "lines {}-{end} are not a range of lines (numbered from 1)",
                new.line
            )));
        }
        if end - new.line >= MAX_COMMENT_LINES {
            return Err(EngineError::BadRequest(format!(
                "a comment covers at most {MAX_COMMENT_LINES} lines"
            )));
        }
        let max = self.diff_file_limit()?;
        let engine = self.clone();
        let now = self.ledger.now();
        crate::blocking(move || {
            let file = read_side(&engine, &rec, &new.path, new.side, max)?;
            let which = match new.side {
                Side::Old => "before the job's change",
                Side::New => "in the job's change",
            };
            if file.missing || file.binary {
                return Err(EngineError::BadRequest(format!(
                    "{} {} {which}",
                    new.path,
                    if file.missing {
                        "does not exist"
                    } else {
                        "is not text"
                    }
                )));
            }
            let quote = file
                .lines
                .get(new.line as usize - 1..end as usize)
                .ok_or_else(|| {
                    EngineError::BadRequest(format!(
                        "{} has {} lines {which}; line {end} is not one of them",
                        new.path,
                        file.lines.len()
                    ))
                })?
                .to_vec();
            let mut comment = Comment {
                id: 0,
                path: new.path,
                side: new.side,
                line: new.line,
                end_line: end,
                quote,
                body,
                created_at: now,
                sent_at: None,
                now_line: Some(new.line),
            };
            comment.id = lock(&engine.ledger.db).add_comment(&rec.job.id, &comment)?;
            Ok(comment)
        })
        .await?
    }

    /// Deletes one of the job's comments.
    pub async fn delete_comment(&self, reference: &str, id: u64) -> Result<()> {
        let rec = self.ledger.resolve(reference)?;
        if lock(&self.ledger.db).delete_comment(&rec.job.id, id)? {
            Ok(())
        } else {
            Err(EngineError::BadRequest(format!(
                "job {} has no comment {id}",
                rec.job.codename
            )))
        }
    }

    /// The job's unsent comments as one message with `text`, and their ids.
    pub(crate) async fn comments_reply(
        &self,
        reference: &str,
        text: &str,
    ) -> Result<(String, Vec<u64>)> {
        let rec = self.ledger.resolve(reference)?;
        if rec.job.agent == sidekick_agents::SHELL {
            return Err(EngineError::BadRequest(format!(
                "job {} runs shell commands, and a reply is its next command; review comments go to coding agents",
                rec.job.codename
            )));
        }
        let unsent: Vec<Comment> = self
            .comments(reference)
            .await?
            .into_iter()
            .filter(|c| c.sent_at.is_none())
            .collect();
        if unsent.is_empty() {
            return Err(EngineError::BadRequest(format!(
                "job {} has no review comments that were not sent yet",
                rec.job.codename
            )));
        }
        let ids = unsent.iter().map(|c| c.id).collect();
        Ok((message(&unsent, text), ids))
    }

    pub(crate) fn mark_comments_sent(&self, job_id: &str, ids: &[u64]) -> Result<()> {
        let now = self.ledger.now();
        Ok(lock(&self.ledger.db).mark_comments_sent(job_id, ids, now)?)
    }

    /// The files the user marked viewed in the job's diff.
    pub fn viewed(&self, reference: &str) -> Result<Vec<Viewed>> {
        let rec = self.ledger.resolve(reference)?;
        Ok(lock(&self.ledger.reader)
            .viewed(&rec.job.id)?
            .into_iter()
            .map(|(path, key)| Viewed {
                path,
                key: Some(key),
            })
            .collect())
    }

    /// Marks a file viewed at its diff's key, or unmarks it.
    pub fn set_viewed(&self, reference: &str, mark: Viewed) -> Result<()> {
        let rec = self.ledger.resolve(reference)?;
        if mark.path.is_empty() || mark.path.len() > 4096 {
            return Err(EngineError::BadRequest(
                "a viewed mark needs the file's path".into(),
            ));
        }
        Ok(lock(&self.ledger.db).set_viewed(&rec.job.id, &mark.path, mark.key.as_deref())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_comment_stays_where_its_lines_are_or_goes_outdated() {
        let lines = v(&["a", "b", "c", "b", "c", "d"]);
        assert_eq!(place(&v(&["b", "c"]), &lines, 2), Some(2), "still there");
        assert_eq!(
            place(&v(&["b", "c"]), &lines, 5),
            Some(4),
            "moved: the nearest"
        );
        assert_eq!(place(&v(&["d"]), &lines, 1), Some(6));
        assert_eq!(place(&v(&["x"]), &lines, 1), None, "gone");
        assert_eq!(place(&v(&["c", "d", "e"]), &lines, 5), None);
        assert_eq!(place(&[], &lines, 1), None);
        assert_eq!(place(&v(&["a"]), &[], 1), None);
    }

    #[test]
    fn the_message_names_file_lines_quote_and_comment() {
        let c = |id, side, line, end_line, now_line, quote: &[&str], body: &str| Comment {
            id,
            path: "src/a.rs".into(),
            side,
            line,
            end_line,
            quote: v(quote),
            body: body.into(),
            created_at: 0,
            sent_at: None,
            now_line,
        };
        let m = message(
            &[
                c(
                    1,
                    Side::New,
                    3,
                    3,
                    Some(5),
                    &["let x = 1;"],
                    "Use a constant.",
                ),
                c(
                    2,
                    Side::Old,
                    7,
                    8,
                    Some(7),
                    &["a", "b"],
                    "Why remove these?",
                ),
                c(3, Side::New, 9, 9, None, &["gone"], "Rename this."),
            ],
            " Thanks! ",
        );
        assert_eq!(
            m,
            "Review comments on your changes:\n\
             \nsrc/a.rs, line 5:\n> let x = 1;\nUse a constant.\n\
             \nsrc/a.rs, lines 7-8 before your change (removed by it):\n> a\n> b\nWhy remove these?\n\
             \nsrc/a.rs, what was line 9 (changed since the comment was written):\n> gone\nRename this.\n\
             \nThanks!"
        );
    }
}
