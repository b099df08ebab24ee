//! Task types: named, reusable job recipes kept in a repository at
//! `.sidekick/tasks/<name>/task.toml` (the "action blocks" of side-execution systems).
//!
//! ```toml
//! description = "Fix lint warnings in one crate"
//! agent = "claude"                      # any profile; with "shell", give `command`
//! prompt = "Fix the {inputs.linter} warnings in {inputs.path}."
//! timeout = "20m"                       # and max_steps, token_budget
//! [[inputs]]
//! name = "path"
//! required = true
//! ```
//!
//! A shell `command` never contains an input's value: each `{inputs.NAME}` becomes a reference
//! to the environment variable `SIDEKICK_INPUT_NAME` that holds it, so no quoting context
//! (double quotes, `$(...)`, a heredoc) can turn a value into code. The task text users read
//! shows the values, shell-quoted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sidekick_protocol::{parse_duration, TaskInput, TaskTypeInfo};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TaskError {
    #[error("there is no task type '{name}' in {dir}")]
    Unknown { name: String, dir: PathBuf },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("task type '{name}' ({path}) needs the input '{input}' (--input {input}=VALUE)")]
    Missing {
        name: String,
        path: PathBuf,
        input: String,
    },
    #[error("task type '{name}' ({path}) has no input '{input}'; it takes: {known}")]
    UnknownInput {
        name: String,
        path: PathBuf,
        input: String,
        known: String,
    },
}

/// A loaded, checked task type.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskType {
    pub name: String,
    pub path: PathBuf,
    pub description: String,
    pub agent: String,
    pub prompt: Option<String>,
    pub command: Option<String>,
    pub timeout_ms: Option<u64>,
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
    pub inputs: Vec<TaskInput>,
    /// `auto_merge = true`: its jobs merge by themselves when they complete cleanly.
    pub auto_merge: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    description: String,
    agent: Option<String>,
    prompt: Option<String>,
    command: Option<String>,
    timeout: Option<String>,
    max_steps: Option<u64>,
    token_budget: Option<u64>,
    #[serde(default)]
    inputs: Vec<RawInput>,
    #[serde(default)]
    auto_merge: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    required: bool,
    default: Option<String>,
}

/// `<repo>/.sidekick/tasks`.
pub fn dir(repo: &Path) -> PathBuf {
    repo.join(".sidekick").join("tasks")
}

/// Every task type in the repository, by name; broken ones as their error.
pub fn list(repo: &Path) -> Vec<(String, Result<TaskType, TaskError>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir(repo))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("task.toml").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let t = load(repo, &n);
            (n, t)
        })
        .collect()
}

/// The task type `name`, read and checked.
pub fn load(repo: &Path, name: &str) -> Result<TaskType, TaskError> {
    let folder = dir(repo);
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    let path = folder.join(name).join("task.toml");
    if !valid_name || !path.is_file() {
        return Err(TaskError::Unknown {
            name: name.into(),
            dir: folder,
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| TaskError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    })?;
    parse(name, &path, &text)
}

/// The task type `name` from `text`, the content of its `path`, checked.
pub fn parse(name: &str, path: &Path, text: &str) -> Result<TaskType, TaskError> {
    let path = path.to_path_buf();
    let invalid = |message: String| TaskError::Invalid {
        path: path.clone(),
        message,
    };
    let raw: Raw = toml::from_str(text)
        .map_err(|e| invalid(e.message().lines().next().unwrap_or("").to_string()))?;
    let agent = raw.agent.unwrap_or_else(|| {
        if raw.command.is_some() {
            sidekick_agents::SHELL.into()
        } else {
            String::new()
        }
    });
    match (&raw.prompt, &raw.command) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give either `prompt` or `command`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(invalid(
                "give a `prompt` (for an agent) or a `command` (with agent = \"shell\")".into(),
            ))
        }
        (Some(_), None) if agent == sidekick_agents::SHELL => {
            return Err(invalid(
                "the shell agent runs a `command`, not a `prompt`".into(),
            ))
        }
        (Some(_), None) if agent.is_empty() => {
            return Err(invalid(
                "a `prompt` needs an `agent` (claude, codex, gemini, aider or your own)".into(),
            ))
        }
        (None, Some(_)) if agent != sidekick_agents::SHELL => {
            return Err(invalid(format!(
                "`command` runs with agent = \"shell\", not \"{agent}\"; give the agent a `prompt`"
            )))
        }
        _ => {}
    }
    let mut inputs: Vec<TaskInput> = Vec::new();
    for i in raw.inputs {
        if i.name.is_empty()
            || !i
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(format!(
                "input name '{}' must be letters, digits, - or _",
                i.name
            )));
        }
        if inputs.iter().any(|x| x.name == i.name) {
            return Err(invalid(format!("input '{}' is declared twice", i.name)));
        }
        inputs.push(TaskInput {
            name: i.name,
            description: i.description,
            required: i.required && i.default.is_none(),
            default: i.default,
        });
    }
    let template = raw
        .prompt
        .as_deref()
        .or(raw.command.as_deref())
        .unwrap_or("");
    let mut used = Vec::new();
    substitute(template, |name| {
        used.push(name.to_string());
        String::new()
    });
    for used in used {
        if !inputs.iter().any(|i| i.name == used) {
            return Err(invalid(format!(
                "{{inputs.{used}}} is used but no input '{used}' is declared"
            )));
        }
    }
    let timeout_ms = match &raw.timeout {
        Some(t) => Some(parse_duration(t).map_err(|e| invalid(format!("timeout: {e}")))?),
        None => None,
    };
    Ok(TaskType {
        name: name.into(),
        path,
        description: raw.description,
        agent,
        prompt: raw.prompt,
        command: raw.command,
        timeout_ms,
        max_steps: raw.max_steps,
        token_budget: raw.token_budget,
        inputs,
        auto_merge: raw.auto_merge,
    })
}

/// `template` with each `{inputs.NAME}` replaced by `value(NAME)`, in order; an unclosed
/// `{inputs.` stays as written.
fn substitute(template: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find("{inputs.") {
        let after = &rest[at + "{inputs.".len()..];
        let Some(end) = after.find('}') else { break };
        out.push_str(&rest[..at]);
        out.push_str(&value(&after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// One word for `sh`, whatever it contains.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The environment variable that carries input `name` into a command.
pub fn input_var(name: &str) -> String {
    let tail: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("SIDEKICK_INPUT_{tail}")
}

/// `template` with each `{inputs.NAME}` replaced by a reference to its variable, written for
/// the quoting context it stands in (top-level single or double quotes, or none) so the value
/// stays one word. Whatever the context, only a variable name is ever put in the text.
fn with_variables(template: &str) -> String {
    let mut out = String::new();
    let (mut single, mut double, mut escaped) = (false, false, false);
    // `$(` and a backquote start a new command whose quoting is its own; `)` or the closing
    // backquote return to the outer context.
    let mut outer: Vec<(bool, bool, char)> = Vec::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("{inputs.") {
            if let Some(end) = after.find('}') {
                let var = input_var(&after[..end]);
                out.push_str(&if single {
                    format!("'\"${{{var}}}\"'")
                } else if double {
                    format!("${{{var}}}")
                } else {
                    format!("\"${{{var}}}\"")
                });
                rest = &after[end + 1..];
                escaped = false;
                continue;
            }
        }
        if !single && !escaped && rest.starts_with("$(") {
            outer.push((single, double, ')'));
            double = false;
            out.push_str("$(");
            rest = &rest[2..];
            continue;
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            ')' | '`' if !single && !double && outer.last().is_some_and(|o| o.2 == c) => {
                if let Some((s, d, _)) = outer.pop() {
                    (single, double) = (s, d);
                }
            }
            '`' if !single => {
                outer.push((single, double, '`'));
                double = false;
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A task type turned into a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// What the user reads: a prompt as written, a command with the values shell-quoted.
    pub text: String,
    /// For a command type: the command that runs, inputs as variables (see [`input_var`]).
    pub command: Option<String>,
    /// The variables `command` reads.
    pub env: Vec<(String, String)>,
}

impl TaskType {
    /// The task text for these input values: a prompt as written, a command with every value
    /// shell-quoted.
    pub fn render(&self, given: &BTreeMap<String, String>) -> Result<Rendered, TaskError> {
        for key in given.keys() {
            if !self.inputs.iter().any(|i| &i.name == key) {
                let known: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
                return Err(TaskError::UnknownInput {
                    name: self.name.clone(),
                    path: self.path.clone(),
                    input: key.clone(),
                    known: if known.is_empty() {
                        "no inputs".into()
                    } else {
                        known.join(", ")
                    },
                });
            }
        }
        let mut values = BTreeMap::new();
        for i in &self.inputs {
            match given.get(&i.name).or(i.default.as_ref()) {
                Some(v) => {
                    values.insert(i.name.clone(), v.clone());
                }
                None if i.required => {
                    return Err(TaskError::Missing {
                        name: self.name.clone(),
                        path: self.path.clone(),
                        input: i.name.clone(),
                    })
                }
                None => {
                    values.insert(i.name.clone(), String::new());
                }
            }
        }
        let quote = self.command.is_some();
        let template = self
            .prompt
            .as_deref()
            .or(self.command.as_deref())
            .unwrap_or("");
        let text = substitute(template, |name| {
            let v = values.get(name).cloned().unwrap_or_default();
            if quote {
                shell_quote(&v)
            } else {
                v
            }
        });
        Ok(Rendered {
            text,
            command: self.command.as_deref().map(with_variables),
            env: if quote {
                values
                    .iter()
                    .map(|(k, v)| (input_var(k), v.clone()))
                    .collect()
            } else {
                Vec::new()
            },
        })
    }

    pub fn info(&self) -> TaskTypeInfo {
        TaskTypeInfo {
            name: self.name.clone(),
            path: self.path.display().to_string(),
            description: self.description.clone(),
            agent: self.agent.clone(),
            inputs: self.inputs.clone(),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(repo: &Path, name: &str, text: &str) -> PathBuf {
        let d = dir(repo).join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        let p = d.join("task.toml");
        std::fs::write(&p, text).expect("write");
        p
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn prompts_take_inputs_and_defaults() {
        let tmp = tempfile::tempdir().expect("tempdir");
        write(
            tmp.path(),
            "lint",
            r#"
description = "Fix lint warnings in one crate"
agent = "claude"
prompt = "Fix the {inputs.linter} warnings in {inputs.path}."
timeout = "20m"
max_steps = 30
[[inputs]]
name = "path"
description = "folder to clean up"
required = true
[[inputs]]
name = "linter"
default = "clippy"
"#,
        );
        let t = load(tmp.path(), "lint").expect("loads");
        assert_eq!(
            (t.agent.as_str(), t.timeout_ms, t.max_steps),
            ("claude", Some(1_200_000), Some(30))
        );
        assert_eq!(
            t.render(&values(&[("path", "crates/x")]))
                .expect("renders")
                .text,
            "Fix the clippy warnings in crates/x."
        );
        let missing = t.render(&values(&[])).expect_err("path is required");
        assert!(
            missing.to_string().contains("needs the input 'path'"),
            "{missing}"
        );
        assert!(missing.to_string().contains("lint/task.toml"), "{missing}");
        let unknown = t
            .render(&values(&[("path", "a"), ("colour", "red")]))
            .expect_err("unknown");
        assert!(
            unknown
                .to_string()
                .contains("has no input 'colour'; it takes: path, linter"),
            "{unknown}"
        );
    }

    #[test]
    fn command_values_are_one_shell_word() {
        let tmp = tempfile::tempdir().expect("tempdir");
        write(
            tmp.path(),
            "fix",
            r#"
command = "cargo clippy --fix -p {inputs.crate}"
[[inputs]]
name = "crate"
required = true
"#,
        );
        let t = load(tmp.path(), "fix").expect("loads");
        assert_eq!(t.agent, "shell");
        let evil = "x; rm -rf / $(id) 'q'";
        let r = t.render(&values(&[("crate", evil)])).expect("renders");
        assert_eq!(
            r.text,
            "cargo clippy --fix -p 'x; rm -rf / $(id) '\\''q'\\'''"
        );
        assert_eq!(
            r.command.as_deref(),
            Some("cargo clippy --fix -p \"${SIDEKICK_INPUT_CRATE}\"")
        );
        assert_eq!(
            r.env,
            vec![("SIDEKICK_INPUT_CRATE".to_string(), evil.to_string())]
        );
        // In every quoting context the value comes back as it was, and never runs.
        for template in [
            "printf %s {inputs.crate}",
            "printf %s \"{inputs.crate}\"",
            "printf %s '{inputs.crate}'",
            "printf %s \"$(printf %s {inputs.crate})\"",
            "printf %s \"`printf %s {inputs.crate}`\"",
            "printf %s \"$(printf %s \"{inputs.crate}\")\"",
        ] {
            let command = with_variables(template);
            assert!(!command.contains("rm -rf"), "{command}");
            let out = std::process::Command::new("sh")
                .args(["-c", &command])
                .env("SIDEKICK_INPUT_CRATE", evil)
                .output()
                .expect("sh");
            assert_eq!(String::from_utf8_lossy(&out.stdout), evil, "{template}");
        }
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", shell_quote(evil))])
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            evil,
            "sh reads it back as one word"
        );
    }

    #[test]
    fn broken_task_types_say_which_file_and_why() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cases = [
            (
                "both",
                "agent = \"claude\"\nprompt = \"a\"\ncommand = \"b\"",
                "not both",
            ),
            ("neither", "description = \"x\"", "give a `prompt`"),
            (
                "shellprompt",
                "agent = \"shell\"\nprompt = \"x\"",
                "runs a `command`",
            ),
            (
                "undeclared",
                "agent = \"claude\"\nprompt = \"fix {inputs.what}\"",
                "no input 'what' is declared",
            ),
            ("syntax", "agent = [", "syntax"),
            (
                "badtimeout",
                "command = \"true\"\ntimeout = \"soon\"",
                "timeout",
            ),
            ("extra", "command = \"true\"\ncolour = 1", "colour"),
        ];
        for (name, text, needle) in cases {
            let p = write(tmp.path(), name, text);
            let e = load(tmp.path(), name).expect_err(name);
            let msg = e.to_string();
            assert!(msg.starts_with(&p.display().to_string()), "{name}: {msg}");
            assert!(
                msg.to_lowercase().contains(&needle.to_lowercase()) || name == "syntax",
                "{name}: {msg}"
            );
        }
        assert!(matches!(
            load(tmp.path(), "nope"),
            Err(TaskError::Unknown { .. })
        ));
        assert!(matches!(
            load(tmp.path(), "../escape"),
            Err(TaskError::Unknown { .. })
        ));
        let listed = list(tmp.path());
        assert_eq!(listed.len(), cases.len());
        assert!(listed.iter().all(|(_, r)| r.is_err()));
    }
}
