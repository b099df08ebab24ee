//! A repository's own configuration: `.sidekick/config.toml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{one_line, read_optional, ConfigError};

/// A repository's `.sidekick/config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Files (relative to the repo's top level) copied into each job's worktree.
    #[serde(default)]
    pub copy: Vec<String>,
    /// A shell command run in the worktree before the agent starts.
    pub setup: Option<String>,
    /// Lockfiles (paths inside the repository): warm worktrees run `setup` ahead of time and a
    /// job that takes one skips its own setup while these files are as they were then.
    #[serde(default)]
    pub setup_cache: Vec<String>,
    /// The agent a job in this repository uses when none is asked for.
    pub agent: Option<String>,
    /// Warm worktrees for this repository, instead of the host's `warm_worktrees`.
    pub warm_worktrees: Option<u32>,
    /// `[auto_merge] paths`: a job whose changes all match these merges by itself when it
    /// completes cleanly (and jobs asked to auto-merge must stay within them).
    pub auto_merge: Option<AutoMergeConfig>,
}

/// `[auto_merge]` in a repository's `.sidekick/config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoMergeConfig {
    /// Patterns as in `.gitignore`: `docs/**`, `*.md` (any folder), `/CHANGELOG.md` (the top).
    #[serde(default)]
    pub paths: Vec<String>,
}

impl RepoConfig {
    pub fn path_in(repo: &Path) -> PathBuf {
        repo.join(".sidekick").join("config.toml")
    }

    pub fn load(repo: &Path) -> Result<RepoConfig, ConfigError> {
        let path = RepoConfig::path_in(repo);
        let Some(text) = read_optional(&path)? else {
            return Ok(RepoConfig::default());
        };
        RepoConfig::parse(&text, path)
    }

    /// The configuration in `text`, the content of `path`, checked.
    pub fn parse(text: &str, path: PathBuf) -> Result<RepoConfig, ConfigError> {
        let cfg: RepoConfig = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: one_line(&e),
        })?;
        for (key, entry) in cfg
            .copy
            .iter()
            .map(|e| ("copy", e))
            .chain(cfg.setup_cache.iter().map(|e| ("setup_cache", e)))
        {
            let p = Path::new(entry);
            let escapes = p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
            if escapes || entry.is_empty() {
                return Err(ConfigError::Invalid {
                    path,
                    message: format!("{key} entry '{entry}' must be a path inside the repository"),
                });
            }
        }
        if !cfg.setup_cache.is_empty() && cfg.setup.is_none() {
            return Err(ConfigError::Invalid {
                path,
                message:
                    "setup_cache names the lockfiles of the setup command, and there is no setup"
                        .into(),
            });
        }
        if let Some(am) = &cfg.auto_merge {
            if let Some(bad) = am
                .paths
                .iter()
                .find(|p| crate::paths::check_pattern(p).is_err())
            {
                return Err(ConfigError::Invalid {
                    path,
                    message: format!(
                        "[auto_merge] paths: {}",
                        crate::paths::check_pattern(bad).err().unwrap_or_default()
                    ),
                });
            }
        }
        Ok(cfg)
    }
}
