//! Text from jobs, agents and repositories made safe to show.

/// Whether `c` changes how the text around it is shown without being seen itself: bidirectional
/// overrides and isolates, zero-width characters, the byte-order mark. A command shown for trust
/// with these could read differently from what runs.
fn hidden_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// `text` with control characters other than line breaks (an escape that clears a terminal's
/// line, a carriage return that writes over it) and invisible formatting characters (bidi
/// overrides, zero-width spaces) shown escaped (`\u{1b}`, `\r`, `\u{202e}`) instead of acted on.
pub fn visible(text: &str) -> String {
    let hides = |c: char| (c.is_control() && c != '\n') || hidden_format(c);
    if !text.chars().any(hides) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if hides(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`visible`] on one line: line breaks are shown escaped too.
pub fn visible_line(text: &str) -> String {
    visible(text).replace('\n', "\\n")
}

/// `text` without terminal escape sequences (colours, cursor moves, titles) and other control
/// characters (a tab becomes a space): what a program printed, as words to show where no
/// terminal draws it (a desktop notification).
pub fn without_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(' '),
            '\n' => out.push('\n'),
            c if c.is_control() || hidden_format(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// One line of an agent's markdown as plain words (a notification shows no markdown): heading
/// marks, list bullets, quote bars, emphasis and code ticks taken off, a link as its text, a
/// table's cells joined with ` · `; a table's rule row gives "". Escapes are dropped too.
pub fn plain_line(line: &str) -> String {
    let line = without_escapes(line);
    let mut t = line.trim();
    if t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '=')) {
        return String::new();
    }
    t = t.trim_start_matches('#').trim_start();
    for bullet in ["- ", "* ", "+ ", "> "] {
        if let Some(rest) = t.strip_prefix(bullet) {
            t = rest.trim_start();
        }
    }
    let mut s = t.to_string();
    if s.starts_with('|') && s.ends_with('|') && s.len() > 1 {
        s = s[1..s.len() - 1]
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
    }
    // [text](target) -> text
    while let Some(open) = s.find('[') {
        let Some(close) = s[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(end) = s[close..].find(')').map(|i| close + i) else {
            break;
        };
        s = format!("{}{}{}", &s[..open], &s[open + 1..close], &s[end + 1..]);
    }
    for mark in ["**", "__", "`"] {
        s = s.replace(mark, "");
    }
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_terminal_would_act_on_is_shown_instead() {
        assert_eq!(visible("echo hi\nls"), "echo hi\nls");
        assert_eq!(
            visible("touch X \r\u{1b}[2Kecho harmless"),
            "touch X \\r\\u{1b}[2Kecho harmless"
        );
        assert_eq!(visible("a\u{202E}cba"), "a\\u{202e}cba");
        assert_eq!(visible("x\u{200B}y\u{FEFF}"), "x\\u{200b}y\\u{feff}");
        assert_eq!(visible_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(visible("café ✓"), "café ✓");
    }

    #[test]
    fn markdown_and_escapes_become_plain_words() {
        assert_eq!(
            plain_line("## Summary of **the fix**"),
            "Summary of the fix"
        );
        assert_eq!(
            plain_line("- Fixed `retry()` in [the loop](src/a.rs)"),
            "Fixed retry() in the loop"
        );
        assert_eq!(plain_line("| file | change |"), "file · change");
        assert_eq!(plain_line("|---|:---:|"), "");
        assert_eq!(plain_line("> quoted"), "quoted");
        assert_eq!(plain_line("\u{1b}[31mred\u{1b}[0m done\u{7}"), "red done");
        assert_eq!(
            without_escapes("\u{1b}]0;title\u{7}ok\tthen\u{1b}[2K"),
            "ok then"
        );
    }
}
