//! Text forms of a structured diff: a unified patch (what `git apply` reads) and a `--stat`.

use std::fmt::Write;

use sidekick_protocol::{Diff, DiffLine, FileDiff, FileStatus, LineKind};

/// Terminal colours; all empty for plain output.
pub struct Colors {
    meta: &'static str,
    frag: &'static str,
    old: &'static str,
    new: &'static str,
    mark: &'static str,
    unmark: &'static str,
    reset: &'static str,
}

impl Colors {
    pub fn ansi() -> Colors {
        Colors {
            meta: "\x1b[1m",
            frag: "\x1b[36m",
            old: "\x1b[31m",
            new: "\x1b[32m",
            mark: "\x1b[7m",
            unmark: "\x1b[27m",
            reset: "\x1b[0m",
        }
    }

    pub fn none() -> Colors {
        Colors {
            meta: "",
            frag: "",
            old: "",
            new: "",
            mark: "",
            unmark: "",
            reset: "",
        }
    }
}

/// Quotes a path the way git does when it holds characters a patch line cannot carry.
fn quoted(prefix: &str, path: &str) -> String {
    let needs = path
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control());
    if !needs {
        return format!("{prefix}{path}");
    }
    let mut out = String::from("\"");
    out.push_str(prefix);
    for c in path.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn patch(diff: &Diff, c: Colors) -> String {
    let mut out = String::new();
    for f in &diff.files {
        file_patch(&mut out, f, &c);
    }
    out
}

fn file_patch(out: &mut String, f: &FileDiff, c: &Colors) {
    let old = f.old_path.as_deref().unwrap_or(&f.path);
    let (m, r) = (c.meta, c.reset);
    let _ = writeln!(
        out,
        "{m}diff --git {} {}{r}",
        quoted("a/", old),
        quoted("b/", &f.path)
    );
    match f.status {
        FileStatus::Added => {
            let _ = writeln!(
                out,
                "{m}new file mode {}{r}",
                f.new_mode.as_deref().unwrap_or("100644")
            );
        }
        FileStatus::Deleted => {
            let _ = writeln!(
                out,
                "{m}deleted file mode {}{r}",
                f.old_mode.as_deref().unwrap_or("100644")
            );
        }
        _ => {
            if let (Some(a), Some(b)) = (&f.old_mode, &f.new_mode) {
                if a != b {
                    let _ = writeln!(out, "{m}old mode {a}{r}\n{m}new mode {b}{r}");
                }
            }
            if f.status == FileStatus::Renamed || f.status == FileStatus::Copied {
                let verb = if f.status == FileStatus::Renamed {
                    "rename"
                } else {
                    "copy"
                };
                let _ = writeln!(out, "{m}{verb} from {old}{r}\n{m}{verb} to {}{r}", f.path);
            }
        }
    }
    let zero = "0000000";
    let index_mode = match (&f.old_mode, &f.new_mode) {
        (Some(a), Some(b)) if a == b => format!(" {a}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{m}index {}..{}{index_mode}{r}",
        f.old_id.as_deref().unwrap_or(zero),
        f.new_id.as_deref().unwrap_or(zero)
    );
    let a = if f.status == FileStatus::Added {
        "/dev/null".to_string()
    } else {
        quoted("a/", old)
    };
    let b = if f.status == FileStatus::Deleted {
        "/dev/null".to_string()
    } else {
        quoted("b/", &f.path)
    };
    if f.binary {
        let _ = writeln!(out, "Binary files {a} and {b} differ");
        return;
    }
    if f.truncated && f.hunks.is_empty() {
        let _ = writeln!(out, "# sidekick: this file's diff is too large to show");
        return;
    }
    if f.hunks.is_empty() {
        return;
    }
    let _ = writeln!(out, "{m}--- {a}{r}\n{m}+++ {b}{r}");
    for h in &f.hunks {
        let header = if h.header.is_empty() {
            String::new()
        } else {
            format!(" {}", h.header)
        };
        let _ = writeln!(
            out,
            "{}@@ -{},{} +{},{} @@{r}{header}",
            c.frag, h.old_start, h.old_lines, h.new_start, h.new_lines
        );
        for line in &h.lines {
            write_line(out, line, c);
        }
    }
    if f.truncated {
        let _ = writeln!(
            out,
            "# sidekick: the rest of this file's diff is cut (too large)"
        );
    }
}

fn write_line(out: &mut String, line: &DiffLine, c: &Colors) {
    let (sign, color) = match line.kind {
        LineKind::Context => (' ', ""),
        LineKind::Added => ('+', c.new),
        LineKind::Deleted => ('-', c.old),
    };
    out.push_str(color);
    out.push(sign);
    if c.mark.is_empty() || line.spans.is_empty() {
        out.push_str(&line.text);
    } else {
        let mut at = 0usize;
        for span in &line.spans {
            let (s, e) = (span.start as usize, span.end as usize);
            match (line.text.get(at..s), line.text.get(s..e)) {
                (Some(before), Some(changed)) => {
                    out.push_str(before);
                    out.push_str(c.mark);
                    out.push_str(changed);
                    out.push_str(c.unmark);
                    at = e;
                }
                _ => break,
            }
        }
        out.push_str(line.text.get(at..).unwrap_or(""));
    }
    if !color.is_empty() {
        out.push_str(c.reset);
    }
    out.push('\n');
    if line.no_newline {
        out.push_str("\\ No newline at end of file\n");
    }
}

/// Like `git diff --stat`: one line a file, scaled bars, a summary.
pub fn stat(diff: &Diff, width: usize) -> String {
    let names: Vec<String> = diff
        .files
        .iter()
        .map(|f| match &f.old_path {
            Some(old) if old != &f.path => format!("{old} => {}", f.path),
            _ => f.path.clone(),
        })
        .collect();
    let name_w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let max_change = diff
        .files
        .iter()
        .map(|f| f.insertions + f.deletions)
        .max()
        .unwrap_or(0);
    let num_w = max_change.to_string().len();
    let bar_room = width.saturating_sub(name_w + num_w + 6).max(10) as u64;
    let mut out = String::new();
    for (f, name) in diff.files.iter().zip(&names) {
        if f.binary {
            let _ = writeln!(
                out,
                " {name:<name_w$} | Bin {} -> {} bytes",
                f.old_size.unwrap_or(0),
                f.new_size.unwrap_or(0)
            );
            continue;
        }
        let total = f.insertions + f.deletions;
        let (plus, minus) = if max_change > bar_room {
            let scale = |n: u64| {
                if n == 0 {
                    0
                } else {
                    (n * bar_room / max_change).max(1)
                }
            };
            (scale(f.insertions), scale(f.deletions))
        } else {
            (f.insertions, f.deletions)
        };
        let _ = writeln!(
            out,
            " {name:<name_w$} | {total:>num_w$} {}{}",
            "+".repeat(plus as usize),
            "-".repeat(minus as usize)
        );
    }
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    let mut summary = format!(
        " {} {} changed",
        diff.files_changed,
        plural(diff.files_changed, "file", "files")
    );
    if diff.insertions > 0 || diff.deletions == 0 {
        let _ = write!(
            summary,
            ", {} {}(+)",
            diff.insertions,
            plural(diff.insertions, "insertion", "insertions")
        );
    }
    if diff.deletions > 0 {
        let _ = write!(
            summary,
            ", {} {}(-)",
            diff.deletions,
            plural(diff.deletions, "deletion", "deletions")
        );
    }
    if !diff.files.is_empty() {
        out.push_str(&summary);
        out.push('\n');
    }
    out
}
