//! `sidekick mcp`: an MCP server over stdio (the official Rust SDK, `rmcp`), so another agent
//! (Claude Code, Codex, Gemini CLI) can spawn, join, stream and cancel sidekicks. It is a client
//! of the host like the CLI: every call connects (starting a host when none runs), so it keeps
//! answering across a host restart.
//!
//! Provenance and nesting: jobs it spawns record the MCP client's name and version
//! (`spawned_by`); inside a Sidekick job (`SIDEKICK_JOB_ID`), they are that job's children.
//! Passive mode: when a job it spawned ends, the client gets a log notification, and
//! `sidekick://jobs/{id}` resources it subscribed to get `resources/updated`.

mod frame;
mod server;
pub mod tools;

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::{Failure, Outcome};

/// Serve the MCP tools over stdio (for an agent to start sidekicks), or print how to register
/// them.
#[derive(Args)]
pub struct McpArgs {
    /// Print the snippet that registers this server with an agent, and exit.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "all")]
    print_config: Option<Registrar>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Registrar {
    All,
    Claude,
    Codex,
    Gemini,
}

pub fn cmd_mcp(args: McpArgs) -> Outcome {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find the sidekick binary: {e}")))?;
    if let Some(which) = args.print_config {
        print!("{}", registration(which, &exe.display().to_string()));
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(server::serve(exe))
}

/// How to register `sidekick mcp` with each agent (`exe`: this binary's absolute path).
fn registration(which: Registrar, exe: &str) -> String {
    let claude = format!(
        "# Claude Code (this user, every project):\nclaude mcp add --scope user sidekick -- {exe} mcp\n"
    );
    let codex = format!(
        "# Codex CLI: add to ~/.codex/config.toml\n[mcp_servers.sidekick]\ncommand = \"{exe}\"\nargs = [\"mcp\"]\n"
    );
    let gemini = format!(
        "# Gemini CLI: add to ~/.gemini/settings.json\n{}\n",
        serde_json::to_string_pretty(&serde_json::json!({
            "mcpServers": {"sidekick": {"command": exe, "args": ["mcp"]}}
        }))
        .unwrap_or_default()
    );
    match which {
        Registrar::Claude => claude,
        Registrar::Codex => codex,
        Registrar::Gemini => gemini,
        Registrar::All => format!("{claude}\n{codex}\n{gemini}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_registration_names_this_binary_and_the_mcp_command() {
        let exe = "/opt/sk/sidekick";
        assert_eq!(
            registration(Registrar::Claude, exe),
            "# Claude Code (this user, every project):\nclaude mcp add --scope user sidekick -- /opt/sk/sidekick mcp\n"
        );
        let codex = registration(Registrar::Codex, exe);
        let table: toml::Table = toml::from_str(&codex).expect("valid TOML");
        assert_eq!(
            table["mcp_servers"]["sidekick"]["command"].as_str(),
            Some(exe)
        );
        assert!(codex.contains("command = \"/opt/sk/sidekick\"\nargs = [\"mcp\"]"));
        let gemini = registration(Registrar::Gemini, exe);
        let json_part = &gemini[gemini.find('{').expect("json")..];
        let v: serde_json::Value = serde_json::from_str(json_part).expect("valid JSON");
        assert_eq!(
            v["mcpServers"]["sidekick"]["args"],
            serde_json::json!(["mcp"])
        );
        let all = registration(Registrar::All, exe);
        assert!(
            all.contains("claude mcp add")
                && all.contains("[mcp_servers.sidekick]")
                && all.contains("mcpServers")
        );
    }
}
