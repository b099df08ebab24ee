//! Agent profiles: how to start each agent.
//!
//! The built-in `shell` profile runs the task with `sh -c` (the task *is* a shell command).
//! Every other profile is a command template run without a shell: `{task}` inside an argument
//! is replaced by the task text, so the task always stays inside its one argument and can never
//! inject a command.
//!
//! Built-in agent profiles start each tool in its documented non-interactive mode with a
//! machine-readable output, and with its permission setting explicit (`{permission}` in the
//! command). Claude Code, Codex CLI and Gemini CLI ask by default (`ask`: each speaks its own
//! protocol on stdin and stdout, and what needs approval becomes a request the user answers, see
//! `jobs/dialog.rs`); their other modes run headless, where what would prompt is refused.
//!
//! | agent | command | `permission` default |
//! |---|---|---|
//! | `claude` | `ask` (default): `claude -p --input-format stream-json --output-format stream-json --verbose --permission-prompt-tool stdio --permission-mode default`, the task on stdin and every approval a request to the user; any other `P`: `claude -p TASK --output-format stream-json --verbose --permission-mode P` (print mode refuses what needs approval) | `ask` |
//! | `codex` | `ask` (default): `codex app-server`, a thread with the `untrusted` approval policy in the `workspace-write` sandbox, every approval a request; any other `P`: `codex exec --json --skip-git-repo-check --sandbox P TASK` (`exec` never asks) | `ask` |
//! | `gemini` | `ask` (default): `gemini --acp` (the Agent Client Protocol), every permission request a request; any other `P`: `gemini --prompt TASK --output-format stream-json --approval-mode P` (tools needing approval are refused headless) | `ask` |
//! | `aider` | `aider --message TASK --yes-always --no-auto-commits … --no-suggest-shell-commands` | none: edits are confirmed, shell commands are never suggested |

use sidekick_protocol::SandboxMode;
use std::collections::BTreeMap;

use crate::locate::locate;
use crate::parse::Format;

pub const SHELL: &str = "shell";
pub const TASK_PLACEHOLDER: &str = "{task}";
pub const PERMISSION_PLACEHOLDER: &str = "{permission}";
pub const SESSION_PLACEHOLDER: &str = "{session}";
/// The `permission` that routes what the agent asks to the user (agents that can: claude).
pub const ASK: &str = "ask";

/// The agents Sidekick knows without a `command` (their profiles are in `agents.rs`; a test
/// there keeps the two lists the same). A `[agents.NAME]` table for one of them may hold
/// settings only.
pub const BUILTIN_AGENTS: &[&str] = &["claude", "codex", "gemini", "aider", "shell"];

/// The agents whose approvals Sidekick carries to the user (built-ins with an `ask` command).
pub const ASKING_AGENTS: &[&str] = &["claude", "codex", "gemini"];

/// A built-in agent's own permission modes (`ask` first where Sidekick carries its approvals):
/// what `[agents.NAME] permission` may say. Empty: the agent takes no permission setting.
pub fn permission_modes(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        // `claude --permission-mode`; `manual` is its alias of `default`.
        "claude" => &[
            "ask",
            "default",
            "manual",
            "acceptEdits",
            "plan",
            "auto",
            "dontAsk",
            "bypassPermissions",
        ],
        // `codex exec --sandbox`.
        "codex" => &["ask", "read-only", "workspace-write", "danger-full-access"],
        // `gemini --approval-mode`.
        "gemini" => &["ask", "default", "auto_edit", "yolo"],
        "aider" | "shell" => &[],
        _ => return None,
    })
}

/// `[agents.NAME]`: a command profile. `{task}` in any argument is replaced by the task text;
/// the command runs without a shell.
/// The `[agents.NAME]` tables of the user's config, by name.
pub type Agents = BTreeMap<String, AgentConfig>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentConfig {
    /// Empty for a built-in agent whose settings are changed without replacing its command.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout_ms: Option<u64>,
    /// A built-in agent's permission setting (see `agents.rs`).
    pub permission: Option<String>,
    /// How to read a user profile's output (`claude-stream-json`, `codex-json`, ...).
    pub format: Option<Format>,
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
    /// The agent's own `sandbox` setting (over the host's).
    pub sandbox: Option<SandboxMode>,
    /// More folders or files the agent may write in the sandbox (its state and caches).
    pub sandbox_write: Vec<String>,
}

/// A built-in agent: its command template, output format and default permission.
struct Builtin {
    name: &'static str,
    command: &'static [&'static str],
    format: Format,
    permission: Option<&'static str>,
    /// The command that resumes a session (`{session}`), for agents whose sessions can be
    /// resumed from another working folder.
    resume: Option<&'static [&'static str]>,
    /// The command for `permission = "ask"`: the agent's own protocol on stdin and stdout, so
    /// what it asks reaches the user and the answer goes back (the task goes in on stdin), and
    /// the format it speaks there.
    ask: Option<&'static [&'static str]>,
    ask_format: Format,
    /// Where the agent keeps its state (sessions, settings, logins): writable in the sandbox.
    /// `~/` is the user's home, `$VAR` a variable of the job's environment when it is set.
    state: &'static [&'static str],
}

/// Whether `name` is one of the built-in coding agents (claude, codex, gemini, aider), which
/// read a task as words to work on. Any other agent (`shell`, a user's own command profile) may
/// run a task's text as a command: text the repository writes for it needs trust.
pub fn reads_words(name: &str) -> bool {
    BUILTINS.iter().any(|b| b.name == name)
}

/// The agent a job runs when it names none: `named` (the repository's `agent`, else the user's
/// `agent` in config.toml), else the first built-in coding agent installed (claude, codex,
/// gemini, aider, in that order). Never `shell` by itself: a task run as a command must be asked
/// for (`-a shell`). The app's composer starts at the same agent.
pub fn default_for(agents: &Agents, named: Option<&str>) -> Result<String, String> {
    if let Some(a) = named {
        return Ok(a.to_string());
    }
    profiles(agents)
        .into_iter()
        .filter(|p| reads_words(&p.name))
        .find(|p| p.command.first().is_some_and(|c| locate(c).is_some()))
        .map(|p| p.name)
        .ok_or_else(|| {
            "no agent was named and none is installed to default to (claude, codex, gemini, aider); name one with -a, set `agent` in config.toml, or run the task as a shell command with -a shell".to_string()
        })
}

/// What every sandboxed job may write besides its worktree, where these exist: package and
/// build caches.
pub const SANDBOX_CACHES: &[&str] = &["~/.cache", "~/.npm", "~/.cargo/registry", "~/.cargo/git"];

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "claude",
        command: &[
            "claude",
            "-p",
            TASK_PLACEHOLDER,
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            PERMISSION_PLACEHOLDER,
        ],
        format: Format::ClaudeStream,
        // What needs approval is asked of the user (`ask`); `acceptEdits` and the other
        // modes of `--permission-mode` keep print mode, where such tools are refused.
        permission: Some(ASK),
        // Claude Code keeps sessions per working folder; a follow-up runs in a new worktree.
        resume: None,
        // Every tool that needs approval becomes a `can_use_tool` control request on stdout;
        // the answer is a `control_response` on stdin.
        ask: Some(&[
            "claude",
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-prompt-tool",
            "stdio",
            "--permission-mode",
            "default",
            // Each message it takes from stdin comes back on stdout: a reply sent while it
            // works is known to be heard before stdin is closed.
            "--replay-user-messages",
        ]),
        ask_format: Format::ClaudeStream,
        state: &["~/.claude", "~/.claude.json", "$CLAUDE_CONFIG_DIR"],
    },
    Builtin {
        name: "codex",
        command: &[
            "codex",
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--sandbox",
            PERMISSION_PLACEHOLDER,
            TASK_PLACEHOLDER,
        ],
        format: Format::CodexJson,
        // Approvals are asked of the user through the app-server (`ask`); a sandbox mode
        // (`workspace-write`, ...) runs `exec`, which never asks.
        permission: Some(ASK),
        // Codex keeps sessions in CODEX_HOME, whatever the folder.
        resume: Some(&[
            "codex",
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--sandbox",
            PERMISSION_PLACEHOLDER,
            "resume",
            SESSION_PLACEHOLDER,
            TASK_PLACEHOLDER,
        ]),
        // Every command or file change that needs approval is a request from the app-server.
        ask: Some(&["codex", "app-server"]),
        ask_format: Format::CodexApp,
        state: &["~/.codex", "$CODEX_HOME"],
    },
    Builtin {
        name: "gemini",
        command: &[
            "gemini",
            "--prompt",
            TASK_PLACEHOLDER,
            "--output-format",
            "stream-json",
            "--approval-mode",
            PERMISSION_PLACEHOLDER,
        ],
        format: Format::GeminiStream,
        // `ask` speaks ACP; an approval mode (`auto_edit`, ...) runs headless.
        permission: Some(ASK),
        resume: None,
        // The Agent Client Protocol: every tool call that needs approval is a
        // `session/request_permission` to the user.
        ask: Some(&["gemini", "--acp"]),
        ask_format: Format::Acp,
        state: &["~/.gemini"],
    },
    Builtin {
        name: "aider",
        command: &[
            "aider",
            "--message",
            TASK_PLACEHOLDER,
            "--yes-always",
            "--no-auto-commits",
            "--no-dirty-commits",
            "--no-pretty",
            "--no-stream",
            "--no-check-update",
            "--no-show-model-warnings",
            "--no-suggest-shell-commands",
            "--no-gitignore",
            // Aider's chat logs would otherwise land in the worktree and on the job's branch.
            "--chat-history-file",
            "/dev/null",
            "--input-history-file",
            "/dev/null",
        ],
        format: Format::AiderText,
        permission: None,
        resume: None,
        ask: None,
        ask_format: Format::AiderText,
        state: &["~/.aider"],
    },
];

/// A profile ready to turn a task into a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub builtin: bool,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout_ms: Option<u64>,
    pub format: Format,
    /// How to resume one of the agent's sessions, when it can (`{session}`, `{task}`).
    pub resume: Option<Vec<String>>,
    pub max_steps: Option<u64>,
    pub token_budget: Option<u64>,
    /// `permission = "ask"`: the agent speaks its own protocol on stdin and stdout; the task is
    /// its first message and what it asks is answered there.
    pub dialog: bool,
    /// The `sidekick` program the agent gets as its MCP server `sidekick` (`[mcp]
    /// expose_to_jobs`), so a sidekick can start sidekicks of its own.
    pub sidekick_mcp: Option<String>,
    /// The agent's own `sandbox` setting.
    pub sandbox: Option<sidekick_protocol::SandboxMode>,
    /// What it may write in the sandbox besides its worktree (its state, the user's additions).
    pub sandbox_write: Vec<String>,
}

impl Profile {
    /// The argv for a task.
    pub fn argv(&self, task: &str) -> Vec<String> {
        self.command
            .iter()
            .map(|arg| arg.replace(TASK_PLACEHOLDER, task))
            .collect()
    }

    /// The argv that continues `session` with `task`, for agents that can resume one.
    pub fn resume_argv(&self, task: &str, session: &str) -> Option<Vec<String>> {
        let template = self.resume.as_ref()?;
        Some(
            template
                .iter()
                .map(|arg| {
                    if arg == SESSION_PLACEHOLDER {
                        session.to_string()
                    } else {
                        arg.replace(TASK_PLACEHOLDER, task)
                    }
                })
                .collect(),
        )
    }
}

/// `shell` with the user's `[agents.shell]` settings applied (env, timeout, sandbox; a
/// `command` there replaces it entirely).
fn shell_profile(settings: Option<&AgentConfig>) -> Profile {
    Profile {
        name: SHELL.into(),
        builtin: true,
        command: vec!["sh".into(), "-c".into(), TASK_PLACEHOLDER.into()],
        env: settings.map(|s| s.env.clone()).unwrap_or_default(),
        timeout_ms: settings.and_then(|s| s.timeout_ms),
        format: Format::Plain,
        resume: None,
        max_steps: None,
        token_budget: None,
        dialog: false,
        sidekick_mcp: None,
        sandbox: settings.and_then(|s| s.sandbox),
        sandbox_write: settings
            .map(|s| s.sandbox_write.clone())
            .unwrap_or_default(),
    }
}

/// A built-in agent with the user's settings from `[agents.NAME]` applied (permission, env,
/// timeout; a `command` there replaces the built-in entirely).
fn builtin_profile(b: &Builtin, settings: Option<&AgentConfig>) -> Profile {
    let permission = settings
        .and_then(|s| s.permission.clone())
        .or(b.permission.map(str::to_string))
        .unwrap_or_default();
    let ask = b.ask.filter(|_| permission == ASK);
    Profile {
        name: b.name.into(),
        builtin: true,
        command: ask
            .unwrap_or(b.command)
            .iter()
            .map(|a| a.replace(PERMISSION_PLACEHOLDER, &permission))
            .collect(),
        env: settings.map(|s| s.env.clone()).unwrap_or_default(),
        timeout_ms: settings.and_then(|s| s.timeout_ms),
        format: if ask.is_some() {
            b.ask_format
        } else {
            b.format
        },
        // An agent in a dialog resumes its session inside the dialog (see `jobs/dialog.rs`).
        resume: b.resume.filter(|_| ask.is_none()).map(|r| {
            r.iter()
                .map(|a| a.replace(PERMISSION_PLACEHOLDER, &permission))
                .collect()
        }),
        max_steps: settings.and_then(|s| s.max_steps),
        token_budget: settings.and_then(|s| s.token_budget),
        dialog: ask.is_some(),
        sidekick_mcp: None,
        sandbox: settings
            .and_then(|s| s.sandbox)
            .or_else(|| own_sandbox(b.name, &permission, ask.is_some())),
        sandbox_write: b
            .state
            .iter()
            .map(|s| s.to_string())
            .chain(settings.into_iter().flat_map(|s| s.sandbox_write.clone()))
            .collect(),
    }
}

/// Codex CLI run headless in one of its own sandbox modes (`read-only`, `workspace-write`)
/// confines its commands itself, with bubblewrap, which cannot set up a sandbox inside Sidekick's
/// (no user namespace to map there): Sidekick's sandbox is off for it unless `[agents.codex]
/// sandbox` says otherwise. Asking (its app-server) or `danger-full-access`, it is Sidekick's
/// sandbox that confines it.
fn own_sandbox(name: &str, permission: &str, asks: bool) -> Option<sidekick_protocol::SandboxMode> {
    (name == "codex" && !asks && permission != "danger-full-access")
        .then_some(sidekick_protocol::SandboxMode::Off)
}

/// All profiles: built-ins first (a user profile with its own `command` replaces the built-in
/// of that name), then the user's in name order.
pub fn profiles(agents: &Agents) -> Vec<Profile> {
    let replaced = |name: &str| agents.get(name).is_some_and(|a| !a.command.is_empty());
    let mut out = Vec::new();
    if !replaced(SHELL) {
        out.push(shell_profile(agents.get(SHELL)));
    }
    for b in BUILTINS {
        if !replaced(b.name) {
            out.push(builtin_profile(b, agents.get(b.name)));
        }
    }
    for (name, a) in agents {
        if !a.command.is_empty() {
            out.push(user_profile(name, a));
        }
    }
    out
}

fn user_profile(name: &str, a: &AgentConfig) -> Profile {
    Profile {
        name: name.into(),
        builtin: false,
        command: a.command.clone(),
        env: a.env.clone(),
        timeout_ms: a.timeout_ms,
        format: a.format.unwrap_or(Format::Plain),
        resume: None,
        max_steps: a.max_steps,
        token_budget: a.token_budget,
        dialog: false,
        sidekick_mcp: None,
        sandbox: a.sandbox,
        sandbox_write: a.sandbox_write.clone(),
    }
}

/// The profile a job of agent `name` runs with: with `expose` (`[mcp] expose_to_jobs`), the
/// built-in claude, codex and gemini get Sidekick's own MCP server (see [`expose_sidekick`]).
pub fn find(agents: &Agents, name: &str, expose: bool) -> Option<Profile> {
    let mut profile = profiles(agents).into_iter().find(|p| p.name == name)?;
    if expose {
        let exe = sidekick_protocol::sibling_program("SIDEKICK_BIN", "sidekick");
        expose_sidekick(&mut profile, &exe.display().to_string());
    }
    Some(profile)
}

/// Gives a built-in agent the MCP server `sidekick` (`EXE mcp`): Claude Code through
/// `--mcp-config`, its tools allowed without asking (what they start is a job of its own,
/// nested under this one and bounded by `max_depth` and `max_running`); `codex exec` through
/// `-c mcp_servers.sidekick...`; Codex's app-server and Gemini's ACP session through their
/// protocols (the dialog reads `sidekick_mcp`). Headless Gemini and other agents get nothing.
pub fn expose_sidekick(profile: &mut Profile, exe: &str) {
    if !profile.builtin {
        return;
    }
    match profile.name.as_str() {
        "claude" => {
            let config = serde_json::json!({
                "mcpServers": {"sidekick": {"type": "stdio", "command": exe, "args": ["mcp"]}}
            });
            profile.command.extend([
                "--mcp-config".to_string(),
                config.to_string(),
                "--allowedTools".to_string(),
                "mcp__sidekick".to_string(),
            ]);
        }
        "codex" => {
            // A TOML string: JSON's quoting of a string is TOML's too.
            let flags = [
                "-c".to_string(),
                format!("mcp_servers.sidekick.command={}", serde_json::json!(exe)),
                "-c".to_string(),
                "mcp_servers.sidekick.args=[\"mcp\"]".to_string(),
            ];
            for argv in std::iter::once(&mut profile.command).chain(profile.resume.as_mut()) {
                if argv.get(1).map(String::as_str) == Some("exec") {
                    argv.splice(2..2, flags.iter().cloned());
                }
            }
        }
        "gemini" if !profile.dialog => return,
        "gemini" => {}
        _ => return,
    }
    profile.sidekick_mcp = Some(exe.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configs_list_of_builtins_is_this_files() {
        let mut here: Vec<&str> = BUILTINS.iter().map(|b| b.name).chain([SHELL]).collect();
        let mut listed = BUILTIN_AGENTS.to_vec();
        here.sort_unstable();
        listed.sort_unstable();
        assert_eq!(here, listed);
    }

    fn config_with(name: &str, command: &[&str]) -> Agents {
        let command = command.iter().map(|s| s.to_string()).collect();
        let timeout_ms = Some(5_000);
        Agents::from([(
            name.into(),
            AgentConfig {
                command,
                timeout_ms,
                ..AgentConfig::default()
            },
        )])
    }

    /// `[agents.NAME] permission = "P"` and nothing else.
    fn permission(name: &str, p: &str) -> Agents {
        let permission = Some(p.to_string());
        Agents::from([(
            name.into(),
            AgentConfig {
                permission,
                ..AgentConfig::default()
            },
        )])
    }

    #[test]
    fn jobs_of_claude_codex_and_gemini_get_sidekicks_mcp_server_unless_the_config_says_no() {
        let exposed = |c: Agents, name: &str| {
            let mut p = profiles(&c)
                .into_iter()
                .find(|p| p.name == name)
                .expect(name);
            expose_sidekick(&mut p, "/opt/sk/sidekick");
            p
        };
        let claude = exposed(Agents::new(), "claude");
        let n = claude.command.len();
        assert_eq!(claude.command[n - 4], "--mcp-config");
        let cfg: serde_json::Value = serde_json::from_str(&claude.command[n - 3]).expect("json");
        assert_eq!(
            cfg["mcpServers"]["sidekick"],
            serde_json::json!({"type": "stdio", "command": "/opt/sk/sidekick", "args": ["mcp"]})
        );
        assert_eq!(claude.command[n - 2..], ["--allowedTools", "mcp__sidekick"]);
        // Headless codex: config flags right after `exec`, in the resume command too.
        let codex = exposed(permission("codex", "workspace-write"), "codex");
        let flags = [
            "-c",
            "mcp_servers.sidekick.command=\"/opt/sk/sidekick\"",
            "-c",
            "mcp_servers.sidekick.args=[\"mcp\"]",
        ];
        assert_eq!(codex.command[2..6], flags);
        assert_eq!(codex.resume.as_ref().expect("resume")[2..6], flags);
        // The dialogs (Codex's app-server, Gemini's ACP) carry it in their protocol.
        for name in ["codex", "gemini"] {
            let p = exposed(Agents::new(), name);
            assert_eq!(
                p.sidekick_mcp.as_deref(),
                Some("/opt/sk/sidekick"),
                "{name}"
            );
            assert!(!p.command.iter().any(|a| a.contains("sidekick")), "{name}");
        }
        // Agents without a way to take it, and user profiles, are left alone.
        let headless_gemini = exposed(permission("gemini", "auto_edit"), "gemini");
        assert_eq!(headless_gemini.sidekick_mcp, None);
        let aider = exposed(Agents::new(), "aider");
        assert_eq!(aider.sidekick_mcp, None);
        assert!(!aider.command.iter().any(|a| a.contains("sidekick")));
        // `find` applies it only with `[mcp] expose_to_jobs` (on by default).
        let none = Agents::new();
        assert_eq!(
            find(&none, "claude", false).expect("claude").sidekick_mcp,
            None
        );
        assert!(find(&none, "claude", true)
            .expect("claude")
            .sidekick_mcp
            .is_some());
    }

    #[test]
    fn only_codex_resumes_a_session_and_keeps_its_flags() {
        // Asking (the default), Codex resumes its thread inside the dialog, not by argv.
        let c = Agents::new();
        let asking = find(&c, "codex", true).expect("codex");
        assert_eq!(asking.command, ["codex", "app-server"]);
        assert!(asking.dialog);
        assert_eq!(asking.format, Format::CodexApp);
        assert!(asking.resume_argv("go on", "s-1").is_none());
        let c = permission("codex", "workspace-write");
        let codex = profiles(&c)
            .into_iter()
            .find(|p| p.name == "codex")
            .expect("codex");
        assert_eq!(
            codex.resume_argv("go on", "s-1").expect("codex resumes"),
            [
                "codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "--sandbox",
                "workspace-write",
                "resume",
                "s-1",
                "go on"
            ]
        );
        for name in ["claude", "gemini", "aider", SHELL] {
            assert!(
                find(&c, name, true)
                    .expect(name)
                    .resume_argv("x", "s")
                    .is_none(),
                "{name}"
            );
        }
    }

    #[test]
    fn shell_runs_the_task_as_a_script() {
        let p = find(&Agents::new(), SHELL, true).expect("shell is built in");
        assert_eq!(p.argv("echo $HOME; ls"), vec!["sh", "-c", "echo $HOME; ls"]);
    }

    #[test]
    fn user_profiles_keep_the_task_in_one_argument() {
        let c = config_with("echoer", &["printf", "%s", "--prompt={task}", "{task}"]);
        let p = find(&c, "echoer", true).expect("profile");
        let task = "a; rm -rf / $(id) `x` \"q\" 'y'";
        assert_eq!(
            p.argv(task),
            vec![
                "printf".to_string(),
                "%s".into(),
                format!("--prompt={task}"),
                task.into()
            ]
        );
        assert_eq!(p.timeout_ms, Some(5_000));
        assert!(find(&c, "nope", true).is_none());
        let names: Vec<String> = profiles(&c).into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            vec!["shell", "claude", "codex", "gemini", "aider", "echoer"]
        );
    }

    #[test]
    fn reports_whether_the_program_is_installed() {
        let c = config_with("missing", &["surely-not-a-program-xyz", "{task}"]);
        let missing = crate::probe::info(&find(&c, "missing", true).expect("profile"));
        assert!(!missing.installed);
        assert!(missing
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("not found on PATH")));
        let sh = crate::probe::info(&find(&c, SHELL, true).expect("shell"));
        assert!(sh.installed && sh.problem.is_none() && sh.path.is_some());
        let dir = tempfile::tempdir().expect("tempdir");
        let plain_file = dir.path().join("not-a-program");
        std::fs::write(&plain_file, "data").expect("write");
        let abs = config_with("abs", &[plain_file.to_str().expect("utf-8 path")]);
        let not_exec = crate::probe::info(&find(&abs, "abs", true).expect("profile"));
        assert!(!not_exec.installed);
        assert!(not_exec
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("not an executable")));
    }
}
