use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use sidekick_client::Client;
use sidekick_protocol::Home;

use crate::render::print_json;
use crate::{Failure, Outcome};

/// Check that Sidekick can work here: git, its folder and socket, the database, the host, desktop
/// notifications, the sandbox, and each agent. One line per check with what to do; exits 0 only
/// when every check passes (an agent that is not installed is listed, not a failure).
#[derive(Args)]
pub struct DoctorArgs {
    /// Print JSON (an array of checks).
    #[arg(long)]
    json: bool,
    /// Also ask each installed built-in agent one short question (a tiny call with its API
    /// key or login; it may cost a fraction of a cent), to see that it is logged in and its
    /// service answers.
    #[arg(long)]
    online: bool,
}

/// The oldest git Sidekick works with: `git worktree add --reason` (2.36) and `git add --sparse`.
const MIN_GIT: (u32, u32) = (2, 36);

#[derive(Serialize)]
struct Check {
    name: String,
    /// `ok`, `fail`, or `info` (listed, not a failure: an agent that is not installed).
    status: &'static str,
    detail: String,
    /// What to do, when it is not `ok`.
    fix: Option<String>,
}

fn ok(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status: "ok",
        detail: detail.into(),
        fix: None,
    }
}

fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status: "fail",
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

pub fn cmd_doctor(args: DoctorArgs) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))?;
    let home = Home::from_env();
    let mut checks = vec![git_check()];
    checks.extend(folder_checks(&home));
    checks.push(database_check(&home));
    checks.push(runtime.block_on(host_check(&home)));
    checks.push(match runtime.block_on(sidekick_server::notifications_probe()) {
        Ok(server) => ok("notifications", server),
        Err(why) => fail(
            "notifications",
            format!("no desktop notification server: {why}"),
            "run a notification daemon (your desktop's, or dunst/mako); jobs still run, and the app and `sidekick ls` show what needs you",
        ),
    });
    checks.push(match sidekick_engine::sandbox_available() {
        Ok(()) => ok("sandbox", "bubblewrap works: jobs write only their worktree (sandbox = \"auto\")"),
        Err(why) => fail(
            "sandbox",
            why,
            "install bubblewrap (apt install bubblewrap) and allow unprivileged user namespaces; until then jobs run unconfined with sandbox = \"auto\"",
        ),
    });
    checks.extend(agent_checks(&home));
    if args.online {
        checks.extend(online_checks(&home));
    }

    let failed = checks.iter().filter(|c| c.status == "fail").count();
    if args.json {
        print_json(&checks)?;
    } else {
        let w = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &checks {
            let mark = match c.status {
                "ok" => "ok  ",
                "fail" => "FAIL",
                _ => "-   ",
            };
            let fix = c
                .fix
                .as_ref()
                .map(|f| format!(" — {f}"))
                .unwrap_or_default();
            println!("{mark}  {:<w$}  {}{fix}", c.name, c.detail);
        }
        if failed > 0 {
            println!(
                "\n{failed} check{} failed",
                if failed == 1 { "" } else { "s" }
            );
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn git_check() -> Check {
    let out = std::process::Command::new("git")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output();
    let text = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => {
            return fail(
                "git",
                format!(
                    "git --version failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                "reinstall git (apt install git)",
            )
        }
        Err(e) => {
            return fail(
                "git",
                format!("git is not on PATH ({e})"),
                "install git (apt install git) or put it on PATH",
            )
        }
    };
    let version = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if found < MIN_GIT {
        return fail(
            "git",
            format!("{text}: older than {}.{}", MIN_GIT.0, MIN_GIT.1),
            format!("install git {}.{} or newer", MIN_GIT.0, MIN_GIT.1),
        );
    }
    ok("git", text)
}

/// Sidekick's folder and the socket's folder: yours alone (0700), or nobody else can be kept
/// from the socket, the database and the worktrees.
fn folder_checks(home: &Home) -> Vec<Check> {
    let me = nix::unistd::getuid().as_raw();
    let mut checks = Vec::new();
    for (name, dir) in [
        ("folder", home.root().to_path_buf()),
        ("socket", home.run_dir()),
    ] {
        let check = match std::fs::metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ok(
                name,
                format!(
                    "{} does not exist yet (made at the first job)",
                    dir.display()
                ),
            ),
            Err(e) => fail(
                name,
                format!("cannot read {}: {e}", dir.display()),
                format!("check the permissions of {}", dir.display()),
            ),
            Ok(m) if m.uid() != me => fail(
                name,
                format!(
                    "{} belongs to user {}, not you ({me})",
                    dir.display(),
                    m.uid()
                ),
                format!("chown -R {me} {}", dir.display()),
            ),
            Ok(m) if m.mode() & 0o077 != 0 => fail(
                name,
                format!(
                    "{} is mode {:o}: others can reach {}",
                    dir.display(),
                    m.mode() & 0o777,
                    if name == "socket" {
                        "the host's socket"
                    } else {
                        "the database and the worktrees"
                    }
                ),
                format!("chmod 700 {}", dir.display()),
            ),
            Ok(_) => ok(name, format!("{} (yours, 0700)", dir.display())),
        };
        checks.push(check);
    }
    checks
}

fn database_check(home: &Home) -> Check {
    let db = home.database();
    if !db.exists() {
        return ok(
            "database",
            format!(
                "{} does not exist yet (made at the first job)",
                db.display()
            ),
        );
    }
    match sidekick_engine::check_database(&db) {
        Ok(s) if s == "ok" => ok("database", format!("{} (sound)", db.display())),
        Ok(s) => fail(
            "database",
            format!("{}: {s}", db.display()),
            "stop the host, move the file aside and start again (jobs' branches and worktrees stay in git)",
        ),
        Err(e) => fail(
            "database",
            format!("cannot open {}: {e}", db.display()),
            format!("check the permissions of {}", db.display()),
        ),
    }
}

async fn host_check(home: &Home) -> Check {
    match Client::new(home).health().await {
        Ok(h) => ok("host", format!("pid {}, version {}, answering", h.pid, h.version)),
        Err(sidekick_client::ClientError::NoHost(_)) => {
            ok("host", "not running (the next command starts it)")
        }
        Err(e) => fail(
            "host",
            format!("{} does not answer: {e}", home.socket().display()),
            "stop the process that holds it (`sidekick serve` logs to host.log in Sidekick's folder) and run any command",
        ),
    }
}

/// One check per installed built-in agent, each asked one short question at the same time.
fn online_checks(home: &Home) -> Vec<Check> {
    let outcomes = match sidekick_engine::agents_online(home) {
        Ok(o) => o,
        // The config check above already says what is wrong with the file.
        Err(_) => return Vec::new(),
    };
    outcomes
        .into_iter()
        .filter_map(|(agent, outcome)| {
            let name = format!("agent {agent} online");
            Some(match outcome? {
                Ok(detail) => ok(&name, detail),
                Err(why) => fail(
                    &name,
                    why,
                    format!("log in to {agent} (run it once by hand) or set its API key in [agents.{agent}.env] in Sidekick's config"),
                ),
            })
        })
        .collect()
}

fn agent_checks(home: &Home) -> Vec<Check> {
    let infos = match sidekick_engine::agent_infos(home) {
        Ok(i) => i,
        Err(e) => {
            return vec![fail(
                "config",
                e,
                "fix the file the sentence names (sidekick agents shows the profiles)",
            )]
        }
    };
    let mut checks = vec![ok("config", home.config_file().display().to_string())];
    for a in infos.iter().filter(|a| a.name != "shell") {
        let name = format!("agent {}", a.name);
        let check = match (&a.problem, a.installed) {
            (None, true) => ok(
                &name,
                format!(
                    "{} ({})",
                    a.version.as_deref().unwrap_or("version unknown"),
                    a.path.as_deref().unwrap_or("")
                ),
            ),
            (problem, _) => Check {
                name,
                status: if a.builtin { "info" } else { "fail" },
                detail: problem
                    .clone()
                    .unwrap_or_else(|| "not installed".to_string()),
                fix: Some(a.install.clone().unwrap_or_else(|| {
                    format!(
                        "install the program [agents.{}] command names, or fix its command",
                        a.name
                    )
                })),
            },
        };
        checks.push(check);
    }
    checks
}
