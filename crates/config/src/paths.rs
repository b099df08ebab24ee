//! The path patterns of `[auto_merge] paths`, read as in `.gitignore` (`*`, `**`, `?`): which
//! a job's changed paths must all match for it to merge by itself.

/// Why a pattern of `[auto_merge] paths` cannot be used, in words.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let p = pattern.trim();
    if p.is_empty() || p == "/" {
        return Err("an empty pattern matches nothing; give a path such as docs/** or *.md".into());
    }
    if p.starts_with('!') || p.contains('[') || p.contains('\\') {
        return Err(format!(
            "'{pattern}': only *, ** and ? are understood (no !, [ ] or \\)"
        ));
    }
    if p.split('/').any(|seg| seg == "..") {
        return Err(format!("'{pattern}' must stay inside the repository"));
    }
    Ok(())
}

/// Whether `path` (relative to the repository's top, with `/`) matches `pattern`, read as in
/// `.gitignore`: a pattern without a `/` (other than a trailing one) matches a file's name in
/// any folder (`*.md`); one with a `/` is relative to the top (`docs/**`, `/CHANGELOG.md`); a
/// trailing `/` means everything under that folder; `*` and `?` stay within a folder, `**`
/// spans folders.
pub fn matches(pattern: &str, path: &str) -> bool {
    let given = pattern.trim();
    let anchored = given.trim_end_matches('/').contains('/');
    let mut p = given.trim_start_matches('/').to_string();
    if p.ends_with('/') {
        p.push_str("**");
    }
    let pat: Vec<&str> = p.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    if anchored {
        match_segments(&pat, &segs)
    } else {
        // Unanchored: the pattern may start at any folder.
        (0..segs.len()).any(|i| match_segments(&pat, &segs[i..]))
    }
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| match_segments(rest, &segs[i..])),
        Some((first, rest)) => match segs.split_first() {
            Some((seg, more)) => {
                match_one(first.as_bytes(), seg.as_bytes()) && match_segments(rest, more)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one folder name.
fn match_one(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| match_one(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && match_one(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && match_one(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_read_as_in_gitignore() {
        let yes = [
            ("docs/**", "docs/a.md"),
            ("docs/**", "docs/deep/er/b.txt"),
            ("docs/", "docs/x/y"),
            ("*.md", "README.md"),
            ("*.md", "src/deep/NOTES.md"),
            ("/CHANGELOG.md", "CHANGELOG.md"),
            ("docs/*.md", "docs/a.md"),
            ("**/fixtures/**", "a/b/fixtures/c.json"),
            ("fixtures/", "a/fixtures/c.json"),
            ("v?.txt", "v1.txt"),
        ];
        for (p, path) in yes {
            assert!(matches(p, path), "{p} should match {path}");
        }
        let no = [
            ("docs/**", "src/docs.rs"),
            ("docs/**", "mydocs/a.md"),
            ("*.md", "README.mdx"),
            ("/CHANGELOG.md", "sub/CHANGELOG.md"),
            ("docs/*.md", "docs/deep/a.md"),
            ("docs/*.md", "other/docs/a.md"),
            ("v?.txt", "v10.txt"),
        ];
        for (p, path) in no {
            assert!(!matches(p, path), "{p} should not match {path}");
        }
    }

    #[test]
    fn patterns_that_cannot_mean_what_they_say_are_refused() {
        assert!(check_pattern("docs/**").is_ok());
        for bad in ["", "  ", "!docs/**", "[ab].md", "../x", "a/../../b", "/"] {
            let e = check_pattern(bad).expect_err(bad);
            assert!(!e.is_empty());
        }
    }
}
