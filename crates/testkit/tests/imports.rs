//! No import circles anywhere in the workspace: within each crate, the files that name one
//! another through `crate::`, `super::` or `self::` paths (tests aside) form no loop. A crate's
//! root and a folder's `mod.rs` are indexes: a name they re-export counts as the file that
//! defines it, so an index never closes a loop by itself. (Between crates, cargo already
//! refuses a loop.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path inside its crate (`[]` is the crate root).
type ModPath = Vec<String>;

struct Crate {
    /// Each module file's path inside the crate, with its production source.
    files: BTreeMap<ModPath, (PathBuf, String)>,
    /// Module paths whose file is an index (the root, `mod.rs`).
    indexes: BTreeSet<ModPath>,
}

/// The source before the file's test module (a `tests.rs` file is all test).
fn production(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t == "#[cfg(test)]" {
            let next = lines.peek().map(|l| l.trim()).unwrap_or("");
            if next.starts_with("mod ") || next.starts_with("pub(crate) mod ") {
                break;
            }
        }
        let code = match t.find("//") {
            Some(0) => "",
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn read_crate(src: &Path) -> Crate {
    let mut files = BTreeMap::new();
    let mut indexes = BTreeSet::new();
    let mut stack = vec![(src.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut p = prefix.clone();
                p.push(name);
                stack.push((path, p));
                continue;
            }
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            if stem == "tests" {
                continue;
            }
            let module: ModPath = match stem {
                "lib" | "main" if prefix.is_empty() => Vec::new(),
                "mod" => prefix.clone(),
                _ => {
                    let mut p = prefix.clone();
                    p.push(stem.to_string());
                    p
                }
            };
            if matches!(stem, "lib" | "main" | "mod") {
                indexes.insert(module.clone());
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // lib.rs and main.rs are two roots of one folder: both are indexes at [].
            let entry = files
                .entry(module)
                .or_insert_with(|| (path.clone(), String::new()));
            entry.1.push_str(&production(&text));
        }
    }
    Crate { files, indexes }
}

/// The path that starts `s` (after `crate::`): segments and `{...}` groups.
fn take_path(s: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return &s[..i],
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ if depth > 0 => {}
            c if c.is_alphanumeric() || c == '_' || c == ':' => {}
            _ => return &s[..i],
        }
    }
    s
}

/// Splits `s` at top-level occurrences of `sep`.
fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
    let bytes = s.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            _ if depth == 0 && s[i..].starts_with(sep) => {
                out.push(&s[start..i]);
                i += sep.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// Every path a (possibly grouped) path names: `a::{b, c::D}` is `a::b` and `a::c::D`.
fn expand(path: &str) -> Vec<Vec<String>> {
    let segs = split_top(path.trim(), "::");
    let mut out = vec![Vec::new()];
    for seg in segs {
        let seg = seg.trim();
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let mut grown = Vec::new();
            for base in &out {
                for part in split_top(inner, ",") {
                    for tail in expand(part) {
                        let mut p: Vec<String> = base.clone();
                        p.extend(tail);
                        grown.push(p);
                    }
                }
            }
            out = grown;
        } else {
            let word = seg.split_whitespace().next().unwrap_or("");
            if word.is_empty() || word == "self" || word == "*" {
                continue;
            }
            for p in &mut out {
                p.push(word.to_string());
            }
        }
    }
    out
}

/// The paths a file names, each made absolute inside the crate.
fn references(module: &ModPath, text: &str) -> Vec<ModPath> {
    let parent = module[..module.len().saturating_sub(1)].to_vec();
    let mut out = named_through("crate", &Vec::new(), text);
    // `super` of a module file is its parent; of an index (`mod.rs`), its parent too.
    out.extend(named_through("super", &parent, text));
    // `self` is the module itself, a file's or an index's.
    out.extend(named_through("self", module, text));
    out
}

/// The paths `text` names through `alias::` (a module it brought in), made absolute with `base`.
fn named_through(alias: &str, base: &ModPath, text: &str) -> Vec<ModPath> {
    let anchor = format!("{alias}::");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&anchor) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + anchor.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        for tail in expand(take_path(rest)) {
            let mut p = base.clone();
            p.extend(tail);
            out.push(p);
        }
    }
    out
}

/// The names an index re-exports from modules of its own crate, and where each is defined.
fn reexports(c: &Crate, index: &ModPath, text: &str) -> BTreeMap<String, ModPath> {
    let mut out = BTreeMap::new();
    for stmt in text.split(';') {
        let t = stmt.trim();
        let Some(path) = t
            .strip_prefix("pub use ")
            .or_else(|| t.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        for p in expand(path) {
            let mut abs = index.clone();
            let p = match p.first().map(String::as_str) {
                Some("crate") => {
                    abs.clear();
                    p[1..].to_vec()
                }
                _ => p,
            };
            abs.extend(p);
            let Some(name) = abs.last().cloned() else {
                continue;
            };
            let (module, _) = resolve_prefix(c, &abs);
            if module.len() > index.len() {
                out.insert(name, module);
            }
        }
    }
    out
}

/// The longest prefix of `path` that is a module file, and how many segments it took.
fn resolve_prefix(c: &Crate, path: &[String]) -> (ModPath, usize) {
    (0..=path.len())
        .rev()
        .find(|&n| c.files.contains_key(&path[..n]))
        .map(|n| (path[..n].to_vec(), n))
        .unwrap_or_default()
}

/// Each file's imports of other files of its crate.
fn graph(c: &Crate) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let index_names: BTreeMap<ModPath, BTreeMap<String, ModPath>> = c
        .indexes
        .iter()
        .map(|i| (i.clone(), reexports(c, i, &c.files[i].1)))
        .collect();
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (module, (_, text)) in &c.files {
        let out = edges.entry(module.clone()).or_default();
        if c.indexes.contains(module) {
            // An index only names; what it re-exports counts where it is used.
            continue;
        }
        let mut paths = references(module, text);
        // A module brought in by name (`use crate::{jobs, output}`) is then named through it
        // (`jobs::dialog::Control`, `output::pump`): those paths count too.
        let aliases: BTreeMap<String, ModPath> = paths
            .iter()
            .filter(|p| !p.is_empty() && resolve_prefix(c, p).1 == p.len())
            .filter_map(|p| Some((p.last()?.clone(), p.clone())))
            .collect();
        for (alias, base) in &aliases {
            paths.extend(named_through(alias, base, text));
        }
        for path in paths {
            let (mut target, used) = resolve_prefix(c, &path);
            if let Some(names) = index_names.get(&target) {
                match path.get(used).and_then(|n| names.get(n)) {
                    Some(defined) => target = defined.clone(),
                    None => continue,
                }
            }
            if &target != module && !c.indexes.contains(&target) {
                out.insert(target);
            }
        }
    }
    edges
}

/// The loops of `edges`: each strongly connected set of more than one file.
fn loops(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    // Two nodes are in one loop when each reaches the other.
    let reach = |from: &ModPath| -> BTreeSet<ModPath> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<ModPath, BTreeSet<ModPath>> =
        edges.keys().map(|k| (k.clone(), reach(k))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for a in edges.keys() {
        if done.contains(a) || !reached[a].contains(a) {
            continue;
        }
        let set: Vec<ModPath> = reached[a]
            .iter()
            .filter(|b| reached.get(*b).is_some_and(|r| r.contains(a)))
            .cloned()
            .collect();
        done.extend(set.iter().cloned());
        if set.len() > 1 {
            out.push(set);
        }
    }
    out
}

fn crate_sources(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("src-tauri/src")];
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("src"))
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "(root)".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_file_of_any_crate_imports_itself_through_others() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sources = crate_sources(&root);
    assert!(sources.len() >= 10, "the workspace's crates: {sources:?}");
    let mut found = Vec::new();
    for src in sources {
        let c = read_crate(&src);
        let edges = graph(&c);
        for l in loops(&edges) {
            // Each arrow inside the loop, so the one to cut can be seen.
            let arrows: Vec<String> = l
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| l.contains(b))
                        .map(move |b| format!("{} -> {}", show(a), show(b)))
                })
                .collect();
            found.push(format!("{}:\n  {}", src.display(), arrows.join("\n  ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_check_finds_a_circle_through_a_path_a_group_and_an_index() {
    let tmp = std::env::temp_dir().join(format!("sidekick-imports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let write = |rel: &str, text: &str| {
        let p = tmp.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("lib.rs", "mod a;\nmod jobs;\npub(crate) use a::Thing;\n");
    write(
        "a.rs",
        "use crate::jobs::{b::Other, self};\npub struct Thing;\n",
    );
    write("jobs/mod.rs", "pub(crate) mod b;\npub(crate) mod c;\n");
    write(
        "jobs/b.rs",
        "use crate::jobs;\npub struct Other(jobs::c::Third);\n",
    );
    // Through the root's re-export: c uses a's Thing.
    write(
        "jobs/c.rs",
        "pub struct Third(crate::Thing);\n#[cfg(test)]\nmod tests {\n    use crate::x::Y;\n}\n",
    );
    let c = read_crate(&tmp);
    let found = loops(&graph(&c));
    let _ = std::fs::remove_dir_all(&tmp);
    let want: Vec<ModPath> = vec![
        vec!["a".into()],
        vec!["jobs".into(), "b".into()],
        vec!["jobs".into(), "c".into()],
    ];
    assert_eq!(found, vec![want]);
}
