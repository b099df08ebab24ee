use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;
use sidekick_protocol::TrustInfo;

use crate::render::{print_json, visible};
use crate::{Failure, Outcome};

/// Show what a repository's own configuration runs (`.sidekick/config.toml`: setup, copied
/// files, a default agent of shell; task types' commands) and trust it to. Nothing of it runs
/// until then, and a changed configuration needs trust again. Trust is kept in your config
/// folder, never in the repository.
#[derive(Args)]
pub struct TrustArgs {
    /// The repository (a folder inside it); the current folder by default.
    repo: Option<String>,
    /// Only show what it runs; record nothing.
    #[arg(long)]
    show: bool,
    /// Trust without asking (what scripts use; a terminal is asked).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Take back the trust in a repository's configuration: its commands stop running.
#[derive(Args)]
pub struct UntrustArgs {
    /// The repository (a folder inside it); the current folder by default.
    repo: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

async fn root(client: &Client, repo: Option<&str>) -> Result<String, Failure> {
    let abs = std::env::current_dir()
        .map_err(|e| Failure::new(format!("cannot read the current folder: {e}")))?
        .join(repo.unwrap_or("."));
    Ok(client.repo(&abs.display().to_string()).await?.root)
}

/// A command or path as `trust` shows it: control and invisible formatting characters escaped,
/// a second line indented under the first (nothing can hide in a line the terminal rewrites).
fn shown(text: &str) -> String {
    visible(text).replace('\n', "\n                  ")
}

fn describe(info: &TrustInfo) {
    if !info.needed {
        println!(
            "{}'s configuration runs nothing of its own; there is nothing to trust",
            shown(&info.repo)
        );
        return;
    }
    println!(
        "{}'s .sidekick configuration runs, for each job:",
        shown(&info.repo)
    );
    if let Some(s) = &info.setup {
        println!("  setup command:  {}", shown(s));
    }
    if !info.copy.is_empty() {
        println!(
            "  copies in:      {} (from your checkout)",
            shown(&info.copy.join(", "))
        );
    }
    if info.shell_by_default {
        println!("  default agent:  shell or your own command (a task's text runs as a command)");
    }
    for t in &info.task_commands {
        println!("  task type {}: {}", shown(&t.name), shown(&t.command));
    }
    for m in &info.submodules {
        println!(
            "  submodule:      {} (fetched in each job's sandbox)",
            shown(m)
        );
    }
    for a in &info.auto_merge {
        println!("  auto-merge:     {}", shown(a));
    }
    let state = if info.trusted {
        "trusted".to_string()
    } else if info.changed {
        "not trusted: it changed since you trusted it".to_string()
    } else {
        "not trusted".to_string()
    };
    println!(
        "{state} (configuration {})",
        &info.hash[..info.hash.len().min(12)]
    );
}

pub async fn cmd_trust(client: &Client, args: TrustArgs) -> Outcome {
    let repo = root(client, args.repo.as_deref()).await?;
    let info = client.trust_info(&repo).await?;
    let done = |info: &TrustInfo| -> Outcome {
        if args.json {
            print_json(info)?;
        } else {
            describe(info);
        }
        Ok(ExitCode::SUCCESS)
    };
    if args.show || !info.needed || info.trusted {
        return done(&info);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() || args.json {
            return Err(Failure::new(format!(
                "{repo}'s configuration is not trusted; `sidekick trust --show` shows what it runs, `sidekick trust --yes` trusts it (nothing was recorded)"
            )));
        }
        describe(&info);
        print!("Trust it to run these commands? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| Failure::new(format!("cannot read the answer: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("not trusted; nothing was recorded");
            return Ok(ExitCode::from(1));
        }
    }
    // Trusted at the content that was shown: a change in between is refused by the host.
    let trusted = client.trust(&repo, &info.hash).await?;
    if args.json {
        print_json(&trusted)?;
    } else {
        if args.yes {
            describe(&trusted);
        }
        println!(
            "trusted: jobs in {} run these commands until the configuration changes",
            shown(&repo)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cmd_untrust(client: &Client, args: UntrustArgs) -> Outcome {
    let repo = root(client, args.repo.as_deref()).await?;
    let info = client.untrust(&repo).await?;
    if args.json {
        print_json(&info)?;
    } else {
        println!(
            "{}'s configuration is no longer trusted; its commands do not run",
            shown(&repo)
        );
    }
    Ok(ExitCode::SUCCESS)
}
