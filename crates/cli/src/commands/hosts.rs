//! `sidekick hosts`: the other machines jobs will run on, reached with your own ssh.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use sidekick_config::Config;
use sidekick_protocol::Home;
use sidekick_remote::{Conn, Facts, Installed, Ssh};

use crate::render::print_json;
use crate::{Failure, Outcome};

/// Other machines for jobs: added with your own ssh (your ~/.ssh/config, keys and agent), given
/// this Sidekick and its host started there.
#[derive(Args)]
pub struct HostsArgs {
    #[command(subcommand)]
    command: Option<HostsCommand>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum HostsCommand {
    /// List the hosts, each looked at now: reachable or why not, and its Sidekick.
    Ls,
    /// Add a host: connect, check it, install this Sidekick there (checksum verified) and start
    /// its host; then keep it in the config. Nothing is kept when any step fails. At a
    /// terminal, ssh may ask once what it asks there (a new host's key, a passphrase).
    Add {
        /// The name to know it by.
        name: String,
        /// Its ssh destination: an ~/.ssh/config alias, user@host or ssh://user@host:port
        /// (default: NAME).
        destination: Option<String>,
    },
    /// Connect to a host again: what it has, its Sidekick brought up to this one, its agents.
    Check { name: String },
    /// Forget a host (its shared connection closes; what is installed there stays).
    Rm { name: String },
}

fn config(home: &Home) -> Result<Config, Failure> {
    Config::load(home.config_file()).map_err(|e| Failure::new(e.to_string()))
}

/// The ssh Sidekick uses, with its control sockets in the home's private run folder.
fn ssh(home: &Home, config: &Config) -> Result<Ssh, Failure> {
    let dir = home.run_dir().join("ssh");
    sidekick_protocol::private::dir(&dir)
        .map_err(|e| Failure::new(format!("cannot make {}: {e}", dir.display())))?;
    Ok(Ssh::new(config.hosts.ssh.clone(), &dir))
}

fn conn(ssh: &Ssh, name: &str, destination: &str) -> Result<Conn, Failure> {
    ssh.to(name, destination)
        .map_err(|e| Failure::new(e.to_string()))
}

pub fn cmd_hosts(args: HostsArgs) -> Outcome {
    let home = Home::from_env();
    let config = config(&home)?;
    match args.command.unwrap_or(HostsCommand::Ls) {
        HostsCommand::Ls => list(&home, &config, args.json),
        HostsCommand::Add { name, destination } => {
            sidekick_config::hosts::check_name(&name).map_err(Failure::new)?;
            if config.hosts.hosts.contains_key(&name) {
                return Err(Failure::new(format!(
                    "there is a host named {name} already; `sidekick hosts check {name}` looks at it again"
                )));
            }
            let destination = destination.unwrap_or_else(|| name.clone());
            let c = conn(&ssh(&home, &config)?, &name, &destination)?;
            // At a terminal ssh may ask what it asks there (a new host's key, a passphrase)
            // once; everything after shares that connection.
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                c.open_interactive()
                    .map_err(|e| Failure::new(e.to_string()))?;
            }
            let report = bring_up(&c)?;
            sidekick_config::settings::add_host(home.config_file(), &name, &destination)
                .map_err(|e| Failure::new(e.to_string()))?;
            say(&report, args.json)
        }
        HostsCommand::Check { name } => {
            let destination = known(&config, &name)?;
            let c = conn(&ssh(&home, &config)?, &name, &destination)?;
            say(&bring_up(&c)?, args.json)
        }
        HostsCommand::Rm { name } => {
            let destination = known(&config, &name)?;
            if let Ok(c) = conn(&ssh(&home, &config)?, &name, &destination) {
                c.close();
            }
            sidekick_config::settings::remove_host(home.config_file(), &name)
                .map_err(|e| Failure::new(e.to_string()))?;
            if args.json {
                print_json(&serde_json::json!({ "removed": name }))?;
            } else {
                println!("forgot host {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn known(config: &Config, name: &str) -> Result<String, Failure> {
    config.hosts.hosts.get(name).cloned().ok_or_else(|| {
        let names: Vec<&str> = config.hosts.hosts.keys().map(String::as_str).collect();
        Failure::new(if names.is_empty() {
            format!(
                "there is no host named {name}; `sidekick hosts add {name} DESTINATION` adds one"
            )
        } else {
            format!(
                "there is no host named {name}; the hosts are {}",
                names.join(", ")
            )
        })
    })
}

/// What `add` and `check` found and did.
#[derive(serde::Serialize)]
struct Report {
    name: String,
    destination: String,
    facts: Facts,
    /// `copied` or `already` (this very build was there).
    installed: &'static str,
    agents: serde_json::Value,
}

/// Probe, install, start, agents: each step's failure is one sentence.
fn bring_up(c: &Conn) -> Result<Report, Failure> {
    let fail = |e: sidekick_remote::SshError| Failure::new(e.to_string());
    let facts = sidekick_remote::probe(c).map_err(fail)?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find this sidekick binary: {e}")))?;
    let installed = sidekick_remote::install(c, &facts, &exe).map_err(fail)?;
    let agents = sidekick_remote::start(c).map_err(fail)?;
    // What is there now.
    let facts = sidekick_remote::probe(c).map_err(fail)?;
    Ok(Report {
        name: c.name.clone(),
        destination: c.destination.clone(),
        facts,
        installed: match installed {
            Installed::Copied => "copied",
            Installed::Already => "already",
        },
        agents,
    })
}

fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

fn say(r: &Report, json: bool) -> Outcome {
    if json {
        print_json(r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let f = &r.facts;
    println!(
        "{}: {} {}, {}, {} cores, {} memory free, {} disk free",
        r.name,
        f.os,
        f.arch,
        f.git.as_deref().unwrap_or("no git"),
        f.cores,
        gb(f.memory_available),
        gb(f.disk_free)
    );
    println!(
        "  {} ({})",
        f.sidekick.as_deref().unwrap_or("no sidekick"),
        match r.installed {
            "copied" => "installed now",
            _ => "already installed",
        }
    );
    let agents: Vec<String> = r
        .agents
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["installed"] == true)
                .filter_map(|x| {
                    let name = x["name"].as_str()?;
                    Some(match x["version"].as_str() {
                        Some(v) => format!("{name} {v}"),
                        None => name.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    println!("  agents: {}", agents.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// Each host looked at now, in parallel.
fn list(home: &Home, config: &Config, json: bool) -> Outcome {
    let ssh = ssh(home, config)?;
    let looks: Vec<(String, String, Result<Facts, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = config
            .hosts
            .hosts
            .iter()
            .map(|(name, dest)| {
                let ssh = &ssh;
                scope.spawn(move || {
                    let facts = ssh
                        .to(name, dest)
                        .and_then(|c| sidekick_remote::probe(&c))
                        .map_err(|e| e.to_string());
                    (name.clone(), dest.clone(), facts)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    if json {
        let rows: Vec<serde_json::Value> = looks
            .iter()
            .map(|(name, dest, facts)| match facts {
                Ok(f) => serde_json::json!({
                    "name": name, "destination": dest, "state": "reachable",
                    "default": config.hosts.default.as_deref() == Some(name.as_str()),
                    "version": f.sidekick, "facts": f,
                }),
                Err(e) => serde_json::json!({
                    "name": name, "destination": dest, "state": "unreachable",
                    "default": config.hosts.default.as_deref() == Some(name.as_str()),
                    "reason": e,
                }),
            })
            .collect();
        print_json(&rows)?;
    } else if looks.is_empty() {
        eprintln!("sidekick: no hosts yet; `sidekick hosts add NAME DESTINATION` adds one");
    } else {
        for (name, dest, facts) in &looks {
            match facts {
                Ok(f) => println!(
                    "{name}  {dest}  reachable  {}  {} cores  {} free",
                    f.sidekick.as_deref().unwrap_or("no sidekick"),
                    f.cores,
                    gb(f.disk_free)
                ),
                Err(e) => println!("{name}  {dest}  unreachable: {e}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
