use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{Failure, Outcome};

/// Run the host as a systemd user service: it starts with your session, and jobs go on after
/// the app closes (and, with `--linger`, after you log out).
#[derive(Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    action: ServiceAction,
}

#[derive(Subcommand)]
enum ServiceAction {
    /// Write the unit (`~/.config/systemd/user/sidekick.service`) and enable and start it.
    Install {
        /// Keep your user's services running after you log out (`loginctl enable-linger`).
        #[arg(long)]
        linger: bool,
    },
    /// Stop and disable the service and remove its unit (jobs and data stay).
    Uninstall,
}

const UNIT: &str = "sidekick.service";

fn unit_path() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".config")
        });
    config.join("systemd/user").join(UNIT)
}

/// A value for a unit file's `Environment="K=V"`: quotes, backslashes and `%` escaped.
fn quoted(key: &str, value: &str) -> String {
    let v = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("Environment=\"{key}={v}\"\n")
}

/// The unit: this very binary's `serve`, with the environment that picks the same home and finds
/// the same agents (a user service gets a minimal PATH otherwise).
pub fn unit_text(exe: &Path) -> String {
    let mut env = String::new();
    for key in [
        "PATH",
        "SIDEKICK_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "SIDEKICK_BWRAP",
    ] {
        if let Some(v) = std::env::var_os(key).filter(|v| !v.is_empty()) {
            env.push_str(&quoted(key, &v.to_string_lossy()));
        }
    }
    let exe = exe.display().to_string().replace('%', "%%");
    format!(
        "# Written by `sidekick service install`; `sidekick service uninstall` removes it.\n\
         [Unit]\n\
         Description=Sidekick host: background coding-agent jobs\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart=\"{exe}\" serve\n\
         {env}\
         Restart=on-failure\n\
         RestartSec=2\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    )
}

fn systemctl(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stderr);
        Err(text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("systemctl failed")
            .trim()
            .to_string())
    }
}

pub fn cmd_service(args: ServiceArgs) -> Outcome {
    let path = unit_path();
    match args.action {
        ServiceAction::Install { linger } => {
            let exe = std::env::current_exe()
                .and_then(|p| p.canonicalize())
                .map_err(|e| Failure::new(format!("cannot find the sidekick binary: {e}")))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
            }
            sidekick_protocol::private::write(&path, unit_text(&exe))
                .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
            eprintln!("sidekick: wrote {}", path.display());
            let enabled =
                systemctl(&["daemon-reload"]).and_then(|()| systemctl(&["enable", "--now", UNIT]));
            if let Err(why) = enabled {
                return Err(Failure::new(format!(
                    "the unit is written, but systemd's user manager did not take it ({why}); in your desktop session run `systemctl --user enable --now {UNIT}`"
                )));
            }
            if linger {
                let user = std::env::var("USER").unwrap_or_default();
                let out = std::process::Command::new("loginctl")
                    .args(["enable-linger", &user])
                    .output();
                match out {
                    Ok(o) if o.status.success() => {
                        eprintln!("sidekick: your services keep running after you log out")
                    }
                    _ => {
                        return Err(Failure::new(format!(
                            "the service runs, but `loginctl enable-linger {user}` failed; without it the host stops when you log out"
                        )))
                    }
                }
            }
            eprintln!(
                "sidekick: the host runs as {UNIT} and starts with your session (stop a host started by hand first: `sidekick serve` keeps its own)"
            );
            Ok(ExitCode::SUCCESS)
        }
        ServiceAction::Uninstall => {
            // Stopping may fail (no user manager, never enabled): the unit goes either way.
            let stopped = systemctl(&["disable", "--now", UNIT]);
            match std::fs::remove_file(&path) {
                Ok(()) => eprintln!("sidekick: removed {}", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    eprintln!("sidekick: there was no {}", path.display())
                }
                Err(e) => {
                    return Err(Failure::new(format!(
                        "cannot remove {}: {e}",
                        path.display()
                    )))
                }
            }
            let _ = systemctl(&["daemon-reload"]);
            if let Err(why) = stopped {
                eprintln!("sidekick: systemd's user manager did not answer ({why}); nothing was running under it");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_this_binary_with_escaped_values() {
        let text = unit_text(Path::new("/opt/side kick/sidekick"));
        assert!(
            text.contains("ExecStart=\"/opt/side kick/sidekick\" serve\n"),
            "{text}"
        );
        assert!(text.contains("WantedBy=default.target"), "{text}");
        assert_eq!(
            quoted("K", "a\"b%c\\d"),
            "Environment=\"K=a\\\"b%%c\\\\d\"\n"
        );
    }
}
