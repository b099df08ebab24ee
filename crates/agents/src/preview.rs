//! What an agent's request would do, shown to the person who answers it: a command in full, an
//! edit as a diff, a new file's content. Read only from the request's own input (the agent's
//! words), never from the files it names: a path in a request is the agent's, and the host does
//! not read it on the agent's behalf.
//!
//! The shapes are the agents' own: Claude Code's `Bash`, `Edit`, `MultiEdit`, `Write` and
//! `NotebookEdit`; Codex's `shell` and `edit` (its file changes); ACP's `execute` and its
//! `diff` content (Gemini CLI's `replace` and `write_file` give the same keys as Claude Code).

use std::time::Duration;

use serde_json::Value;
use sidekick_protocol::text::visible;
use sidekick_protocol::{Preview, PreviewFile};
use similar::{ChangeTag, TextDiff};

/// Lines a preview shows at most, over all its files; the rest are counted.
const MAX_LINES: usize = 400;
/// Characters of one line shown at most.
const MAX_LINE: usize = 400;
/// Text past this is not diffed line by line (its first lines are shown as they are).
const MAX_DIFFED: usize = 512 * 1024;

/// The preview of a request to use `tool` with `input`.
pub fn of(tool: &str, input: &Value) -> Preview {
    if let Some(p) = command(tool, input) {
        return p;
    }
    let mut files = Files::default();
    change(input, &mut files);
    if files.files.is_empty() {
        Preview::None
    } else {
        Preview::Change { files: files.files }
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn path_of(input: &Value) -> Option<&str> {
    text(input, "file_path")
        .or_else(|| text(input, "path"))
        .or_else(|| text(input, "notebook_path"))
        .or_else(|| text(input, "absolute_path"))
}

/// A command tool: its command line in full (an argument list joined as a shell would read it).
fn command(tool: &str, input: &Value) -> Option<Preview> {
    let commandish = matches!(
        tool,
        "Bash" | "shell" | "execute" | "run_shell_command" | "exec"
    );
    let line = match input.get("command") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(words)) => words
            .iter()
            .map(|w| match w.as_str() {
                Some(s) if !s.is_empty() && s.chars().all(plain_word) => s.to_string(),
                Some(s) => format!("'{}'", s.replace('\'', r"'\''")),
                None => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => return None,
    };
    // A `command` key on a tool that changes files is not a command to run.
    if !commandish && path_of(input).is_some() {
        return None;
    }
    let description = text(input, "description")
        .or_else(|| text(input, "reason"))
        .filter(|d| !d.trim().is_empty())
        .map(visible);
    let cwd = text(input, "cwd")
        .or_else(|| text(input, "directory"))
        .map(visible);
    Some(Preview::Command {
        command: visible(&line),
        description,
        cwd,
    })
}

fn plain_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)
}

/// Files with lines, under one cap for all of them.
#[derive(Default)]
struct Files {
    files: Vec<PreviewFile>,
    /// Lines kept so far, over all files.
    shown: usize,
}

impl Files {
    /// The place of the file `path` (one entry per path: a second edit of it adds its hunks).
    fn file(&mut self, path: &str, kind: &str) -> usize {
        let path = visible(path);
        match self.files.iter().position(|f| f.path == path) {
            Some(i) => i,
            None => {
                self.files.push(PreviewFile {
                    path,
                    kind: kind.to_string(),
                    lines: Vec::new(),
                    more: 0,
                });
                self.files.len() - 1
            }
        }
    }

    /// A line of the file at `at`, or one more left out past the cap.
    fn push(&mut self, at: usize, line: String) {
        let f = &mut self.files[at];
        if self.shown >= MAX_LINES {
            f.more = f.more.saturating_add(1);
        } else {
            f.lines.push(cut(&line));
            self.shown += 1;
        }
    }

    /// Every line of `body`, each led by `mark`.
    fn lines(&mut self, path: &str, kind: &str, mark: char, body: &str) {
        let at = self.file(path, kind);
        for line in body.lines() {
            self.push(at, format!("{mark}{line}"));
        }
    }

    /// The change from `old` to `new` as unified-diff hunks.
    fn diff(&mut self, path: &str, old: &str, new: &str) {
        const KIND: &str = "modified";
        let at = self.file(path, KIND);
        if old.len() > MAX_DIFFED || new.len() > MAX_DIFFED {
            self.lines(path, KIND, '-', old);
            self.lines(path, KIND, '+', new);
            return;
        }
        let diff = TextDiff::configure()
            .timeout(Duration::from_millis(200))
            .diff_lines(old, new);
        for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
            self.push(at, hunk.header().to_string());
            for change in hunk.iter_changes() {
                let mark = match change.tag() {
                    ChangeTag::Equal => ' ',
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                };
                let value = change.to_string_lossy();
                let line = value.strip_suffix('\n').unwrap_or(&value);
                let line = line.strip_suffix('\r').unwrap_or(line);
                self.push(at, format!("{mark}{line}"));
            }
        }
    }
}

/// One line, control characters shown, cut at [`MAX_LINE`] characters.
fn cut(line: &str) -> String {
    let line = visible(line);
    match line.char_indices().nth(MAX_LINE) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// The change an edit or write would make, added to `files`.
fn change(input: &Value, files: &mut Files) {
    // Codex: its file changes, each with its own diff.
    if let Some(changes) = input.get("changes").and_then(Value::as_array) {
        for c in changes {
            codex_change(c, files);
        }
        return;
    }
    // ACP: a tool call whose content carries diffs.
    if let Some(content) = input.get("content").and_then(Value::as_array) {
        for c in content.iter().filter(|c| text(c, "type") == Some("diff")) {
            let Some(path) = text(c, "path") else {
                continue;
            };
            match text(c, "oldText") {
                Some(old) => files.diff(path, old, text(c, "newText").unwrap_or("")),
                None => files.lines(path, "added", '+', text(c, "newText").unwrap_or("")),
            }
        }
        return;
    }
    let Some(path) = path_of(input) else { return };
    if let Some(edits) = input.get("edits").and_then(Value::as_array) {
        for e in edits {
            let old = text(e, "old_string").unwrap_or("");
            let new = text(e, "new_string").unwrap_or("");
            files.diff(path, old, new);
        }
    } else if let (Some(old), Some(new)) = (text(input, "old_string"), text(input, "new_string")) {
        files.diff(path, old, new);
    } else if let Some(content) = text(input, "content") {
        // The whole new content: a file made, or one replaced.
        files.lines(path, "written", '+', content);
    } else if let Some(source) = text(input, "new_source") {
        let kind = if text(input, "edit_mode") == Some("delete") {
            "deleted"
        } else {
            "modified"
        };
        files.lines(path, kind, '+', source);
    }
}

/// One of Codex's file changes: `{path, kind: {type, move_path}, diff}`. An added or deleted
/// file's `diff` is its content; an updated file's is a unified diff.
fn codex_change(c: &Value, files: &mut Files) {
    let Some(path) = text(c, "path") else { return };
    let body = text(c, "diff").unwrap_or("");
    let path = match c["kind"]["move_path"].as_str() {
        Some(to) => format!("{path} → {to}"),
        None => path.to_string(),
    };
    match c["kind"]["type"].as_str() {
        Some("add") => files.lines(&path, "added", '+', body),
        Some("delete") => files.lines(&path, "deleted", '-', body),
        _ => {
            let at = files.file(&path, "modified");
            for line in body.lines() {
                if line.starts_with("--- ") || line.starts_with("+++ ") {
                    continue;
                }
                files.push(at, line.to_string());
            }
        }
    }
}

/// The first lines of a preview as plain text, for a notification's body.
pub fn first_lines(preview: &Preview, max: usize) -> Vec<String> {
    match preview {
        Preview::None => Vec::new(),
        Preview::Command {
            command,
            description,
            ..
        } => {
            let mut out: Vec<String> = command.lines().take(max).map(str::to_string).collect();
            if let Some(d) = description {
                out.push(format!("({d})"));
            }
            out
        }
        Preview::Change { files } => files
            .iter()
            .flat_map(|f| {
                std::iter::once(format!("{} ({})", f.path, f.kind)).chain(
                    f.lines
                        .iter()
                        .filter(|l| !l.starts_with("@@") && !l.starts_with(' '))
                        .cloned(),
                )
            })
            .take(max)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(p: &Preview) -> Vec<(String, String, Vec<String>, u32)> {
        match p {
            Preview::Change { files } => files
                .iter()
                .map(|f| (f.path.clone(), f.kind.clone(), f.lines.clone(), f.more))
                .collect(),
            other => panic!("not a change: {other:?}"),
        }
    }

    #[test]
    fn an_edit_is_a_diff_with_its_context() {
        let p = of(
            "Edit",
            &json!({"file_path": "/w/src/lib.rs", "old_string": "a\nb\nc\nd\n", "new_string": "a\nb\nC\nd\n"}),
        );
        let got = lines(&p);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "/w/src/lib.rs");
        assert_eq!(got[0].1, "modified");
        assert_eq!(
            got[0].2,
            vec!["@@ -1,4 +1,4 @@", " a", " b", "-c", "+C", " d"]
        );
    }

    #[test]
    fn a_multi_edit_gives_one_file_with_a_hunk_per_edit() {
        let p = of(
            "MultiEdit",
            &json!({"file_path": "f", "edits": [
                {"old_string": "x", "new_string": "y"},
                {"old_string": "p", "new_string": "q"},
            ]}),
        );
        let got = lines(&p);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2.iter().filter(|l| l.starts_with("@@")).count(), 2);
        assert!(got[0].2.contains(&"-p".to_string()) && got[0].2.contains(&"+q".to_string()));
    }

    #[test]
    fn a_write_shows_the_content_and_a_command_is_whole() {
        let p = of(
            "Write",
            &json!({"file_path": "n.txt", "content": "one\ntwo\n"}),
        );
        assert_eq!(
            lines(&p),
            vec![(
                "n.txt".into(),
                "written".into(),
                vec!["+one".into(), "+two".into()],
                0
            )]
        );
        let long = format!("cargo test {}", "x".repeat(500));
        let p = of(
            "Bash",
            &json!({"command": long, "description": "Run the tests"}),
        );
        assert_eq!(
            p,
            Preview::Command {
                command: long.clone(),
                description: Some("Run the tests".into()),
                cwd: None,
            }
        );
        // Codex's argument list reads as a shell line.
        let p = of(
            "shell",
            &json!({"command": ["bash", "-lc", "rm -rf 'x'"], "cwd": "/w"}),
        );
        assert_eq!(
            p,
            Preview::Command {
                command: r#"bash -lc 'rm -rf '\''x'\'''"#.into(),
                description: None,
                cwd: Some("/w".into()),
            }
        );
    }

    #[test]
    fn codex_and_acp_changes() {
        let p = of(
            "edit",
            &json!({"path": "a, b", "changes": [
                {"path": "/w/a", "kind": {"type": "add"}, "diff": "new\n"},
                {"path": "/w/b", "kind": {"type": "update", "move_path": "/w/c"}, "diff": "--- a/b\n+++ b/c\n@@ -1 +1 @@\n-x\n+y\n"},
            ]}),
        );
        let got = lines(&p);
        assert_eq!(
            got[0],
            ("/w/a".into(), "added".into(), vec!["+new".into()], 0)
        );
        assert_eq!(got[1].0, "/w/b → /w/c");
        assert_eq!(got[1].2, vec!["@@ -1 +1 @@", "-x", "+y"]);
        let p = of(
            "edit",
            &json!({"path": "/w/h", "content": [
                {"type": "diff", "path": "/w/h", "oldText": "hi\n", "newText": "hello\n"},
                {"type": "diff", "path": "/w/n", "oldText": null, "newText": "fresh\n"},
            ]}),
        );
        let got = lines(&p);
        assert_eq!(got[0].2, vec!["@@ -1 +1 @@", "-hi", "+hello"]);
        assert_eq!(
            got[1],
            ("/w/n".into(), "added".into(), vec!["+fresh".into()], 0)
        );
    }

    #[test]
    fn a_huge_change_is_capped_and_escapes_are_shown() {
        let content = "line\n".repeat(MAX_LINES + 50);
        let p = of("Write", &json!({"file_path": "big", "content": content}));
        let got = lines(&p);
        assert_eq!(got[0].2.len(), MAX_LINES);
        assert_eq!(got[0].3, 50);
        let p = of(
            "Write",
            &json!({"file_path": "e", "content": format!("\u{1b}[2Jgone{}", "y".repeat(900))}),
        );
        let line = &lines(&p)[0].2[0];
        assert!(line.starts_with("+\\u{1b}[2Jgone"), "{line}");
        assert!(line.ends_with('…') && line.chars().count() == MAX_LINE + 1);
        // Nothing to show for a tool with no change or command.
        assert_eq!(of("Read", &json!({"file_path": "x"})), Preview::None);
    }

    #[test]
    fn first_lines_for_a_notification() {
        let p = of(
            "Edit",
            &json!({"file_path": "f.rs", "old_string": "a\nb\n", "new_string": "a\nc\n"}),
        );
        assert_eq!(first_lines(&p, 6), vec!["f.rs (modified)", "-b", "+c"]);
        let p = of(
            "Bash",
            &json!({"command": "make\nmake install", "description": "Build"}),
        );
        assert_eq!(first_lines(&p, 6), vec!["make", "make install", "(Build)"]);
    }
}
