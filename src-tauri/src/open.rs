//! "Open in editor", "Open terminal here" and "Open folder" for a job's worktree: the user's
//! own tools, started detached from the app. The commands come from `[open]` in the config
//! (`editor = ["code", "--new-window"]`, `terminal = ["kitty"]`), else `$VISUAL`/`$EDITOR` and
//! `$TERMINAL` or the first terminal found; `xdg-open` shows the folder. A terminal editor
//! (vim, nano, ...) runs inside a terminal.

use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum With {
    Editor,
    Terminal,
    Folder,
}

/// `[open]` as the config file has it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OpenConfig {
    pub editor: Option<Vec<String>>,
    pub terminal: Option<Vec<String>>,
}

impl OpenConfig {
    /// Reads `[open]` from the config file; a missing file or table is the default. The host
    /// checks the file's values (an empty command is its error), so this only reads.
    pub fn load(path: &Path) -> OpenConfig {
        let Ok(text) = std::fs::read_to_string(path) else {
            return OpenConfig::default();
        };
        let Ok(value) = text.parse::<toml::Table>() else {
            return OpenConfig::default();
        };
        let argv = |key: &str| -> Option<Vec<String>> {
            let list = value.get("open")?.get(key)?.as_array()?;
            let argv: Vec<String> = list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            (!argv.is_empty() && !argv[0].trim().is_empty()).then_some(argv)
        };
        OpenConfig {
            editor: argv("editor"),
            terminal: argv("terminal"),
        }
    }
}

/// Editors that draw in a terminal and so need one to run in.
const TERMINAL_EDITORS: &[&str] = &[
    "vi",
    "vim",
    "nvim",
    "nano",
    "micro",
    "hx",
    "helix",
    "kak",
    "joe",
    "ne",
    "mg",
    "ed",
    "emacs-nox",
];

/// Terminals tried in order when `$TERMINAL` is not set.
const TERMINALS: &[&str] = &[
    "x-terminal-emulator",
    "gnome-terminal",
    "konsole",
    "xfce4-terminal",
    "kitty",
    "alacritty",
    "foot",
    "wezterm",
    "xterm",
];

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn program_name(argv: &[String]) -> &str {
    argv.first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("")
}

/// `argv` with `{path}` replaced, or the path added at the end when it names none.
fn with_path(argv: &[String], path: &str) -> Vec<String> {
    if argv.iter().any(|a| a.contains("{path}")) {
        argv.iter().map(|a| a.replace("{path}", path)).collect()
    } else {
        let mut out = argv.to_vec();
        out.push(path.to_string());
        out
    }
}

/// The command that opens `dir` the way `with` asks: what to run, in `dir`.
pub fn command_for(
    with: With,
    dir: &Path,
    cfg: &OpenConfig,
    env: impl Fn(&str) -> Option<String>,
    on_path: impl Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    let path = dir.display().to_string();
    let set = |k: &str| env(k).map(|v| words(&v)).filter(|w| !w.is_empty());
    let terminal = || -> Result<Vec<String>, String> {
        cfg.terminal
            .clone()
            .or_else(|| set("TERMINAL"))
            .or_else(|| {
                TERMINALS
                    .iter()
                    .find(|t| on_path(t))
                    .map(|t| vec![t.to_string()])
            })
            .ok_or_else(|| {
                "no terminal found: set $TERMINAL, or `terminal = [...]` under [open] in Sidekick's config.toml".to_string()
            })
    };
    match with {
        With::Folder => Ok(vec!["xdg-open".into(), path]),
        With::Terminal => terminal(),
        With::Editor => {
            if let Some(argv) = &cfg.editor {
                return Ok(with_path(argv, &path));
            }
            let editor = set("VISUAL").or_else(|| set("EDITOR")).ok_or_else(|| {
                "no editor set: set $VISUAL or $EDITOR, or `editor = [...]` under [open] in Sidekick's config.toml".to_string()
            })?;
            let argv = with_path(&editor, &path);
            let in_terminal = TERMINAL_EDITORS.contains(&program_name(&editor))
                || editor.iter().any(|a| a == "-nw");
            if !in_terminal {
                return Ok(argv);
            }
            let mut term = terminal()?;
            term.push(if program_name(&term) == "gnome-terminal" {
                "--".into()
            } else {
                "-e".into()
            });
            term.extend(argv);
            Ok(term)
        }
    }
}

/// Starts `argv` in `dir`, detached from the app (its own process group, no stdio); a thread
/// reaps it so it never lingers as a zombie.
pub fn spawn_detached(argv: &[String], dir: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let (program, args) = argv.split_first().ok_or("nothing to run")?;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_configured_command_comes_first_then_the_environment() {
        let dir = Path::new("/w/job");
        let cfg = OpenConfig {
            editor: Some(vec![
                "code".into(),
                "--goto".into(),
                "{path}/README.md".into(),
            ]),
            terminal: None,
        };
        let got = command_for(With::Editor, dir, &cfg, env(&[("VISUAL", "vim")]), |_| true);
        assert_eq!(
            got,
            Ok(vec![
                "code".into(),
                "--goto".into(),
                "/w/job/README.md".into()
            ])
        );
        let none = OpenConfig::default();
        let got = command_for(
            With::Editor,
            dir,
            &none,
            env(&[("VISUAL", "subl -n")]),
            |_| false,
        );
        assert_eq!(got, Ok(vec!["subl".into(), "-n".into(), "/w/job".into()]));
        let got = command_for(With::Folder, dir, &none, env(&[]), |_| false);
        assert_eq!(got, Ok(vec!["xdg-open".into(), "/w/job".into()]));
    }

    #[test]
    fn a_terminal_editor_runs_in_a_terminal() {
        let dir = Path::new("/w");
        let none = OpenConfig::default();
        let got = command_for(
            With::Editor,
            dir,
            &none,
            env(&[("EDITOR", "/usr/bin/nvim")]),
            |t| t == "gnome-terminal",
        );
        assert_eq!(
            got,
            Ok(vec![
                "gnome-terminal".into(),
                "--".into(),
                "/usr/bin/nvim".into(),
                "/w".into()
            ])
        );
        let got = command_for(
            With::Editor,
            dir,
            &none,
            env(&[("EDITOR", "nano"), ("TERMINAL", "kitty")]),
            |_| false,
        );
        assert_eq!(
            got,
            Ok(vec![
                "kitty".into(),
                "-e".into(),
                "nano".into(),
                "/w".into()
            ])
        );
        let got = command_for(With::Terminal, dir, &none, env(&[]), |t| t == "xterm");
        assert_eq!(got, Ok(vec!["xterm".into()]));
    }

    #[test]
    fn nothing_to_run_is_a_sentence() {
        let dir = Path::new("/w");
        let none = OpenConfig::default();
        let err =
            command_for(With::Editor, dir, &none, env(&[]), |_| false).expect_err("no editor");
        assert!(err.contains("set $VISUAL or $EDITOR"), "{err}");
        let err =
            command_for(With::Terminal, dir, &none, env(&[]), |_| false).expect_err("no terminal");
        assert!(err.contains("no terminal found"), "{err}");
    }

    #[test]
    fn the_config_files_open_table_is_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "max_running = 2\n[open]\neditor = [\"code\"]\n").expect("write");
        let cfg = OpenConfig::load(&file);
        assert_eq!(cfg.editor, Some(vec!["code".to_string()]));
        assert_eq!(cfg.terminal, None);
        assert_eq!(
            OpenConfig::load(&dir.path().join("none.toml")),
            OpenConfig::default()
        );
    }
}
