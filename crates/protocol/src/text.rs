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
}
