//! Where Sidekick keeps its things. `SIDEKICK_HOME` moves all of them to one folder.

use std::path::{Path, PathBuf};

/// The data directory layout of one host.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    config_file: PathBuf,
}

/// One of Sidekick's programs: the path in `env` when set, else `name` in the folder of the
/// running executable (the programs are installed side by side), else `name` on PATH.
pub fn sibling_program(env: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            let beside = dir.join(name);
            if beside.is_file() {
                return beside;
            }
        }
    }
    PathBuf::from(name)
}

impl Home {
    /// A home rooted at `root`, with the config file inside it (what `SIDEKICK_HOME` means).
    pub fn at(root: impl Into<PathBuf>) -> Home {
        let root = root.into();
        let config_file = root.join("config.toml");
        Home { root, config_file }
    }

    /// The home the environment selects: `$SIDEKICK_HOME`, else `$XDG_DATA_HOME/sidekick` with the
    /// config in `$XDG_CONFIG_HOME/sidekick/config.toml` (XDG defaults under `$HOME`).
    pub fn from_env() -> Home {
        if let Some(root) = non_empty_var("SIDEKICK_HOME") {
            return Home::at(root);
        }
        let home = non_empty_var("HOME").unwrap_or_else(|| PathBuf::from("/tmp"));
        let data = non_empty_var("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share"));
        let config = non_empty_var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        Home {
            root: data.join("sidekick"),
            config_file: config.join("sidekick").join("config.toml"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }
    pub fn database(&self) -> PathBuf {
        self.root.join("sidekick.db")
    }
    pub fn worktrees(&self) -> PathBuf {
        self.root.join("worktrees")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// Holds the socket and the single-instance lock; mode 0700.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn socket(&self) -> PathBuf {
        self.run_dir().join("sidekick.sock")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.run_dir().join("host.lock")
    }
    pub fn host_log(&self) -> PathBuf {
        self.root.join("host.log")
    }
}

fn non_empty_var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
