//! What `sidekick doctor` and `sidekick mcp` ask of the engine without a host: the config's
//! `[mcp]` settings, each agent and whether it runs here (and answers, `--online`), whether a
//! sandbox can be had, whether the database is sound.

use std::path::Path;

use sidekick_config::McpConfig;
use sidekick_protocol::Home;

/// The `[mcp]` settings of `home`'s config (for `sidekick mcp`, which reads them as the host
/// does); the config's own error sentence when it is invalid.
pub fn mcp_config(home: &Home) -> std::result::Result<McpConfig, String> {
    sidekick_config::Config::load(home.config_file())
        .map(|c| c.mcp)
        .map_err(|e| e.to_string())
}

/// For `sidekick doctor`: each agent profile of `home`'s config with whether it can run here.
pub fn agent_infos(home: &Home) -> std::result::Result<Vec<sidekick_protocol::AgentInfo>, String> {
    let config = sidekick_config::Config::load(home.config_file()).map_err(|e| e.to_string())?;
    Ok(config
        .profiles()
        .iter()
        .map(sidekick_agents::info)
        .collect())
}

/// One agent's answer to `doctor --online`: how long it took, or its own words; `None` where
/// nothing was asked (not installed, or a custom agent).
pub type OnlineOutcome = Option<std::result::Result<String, String>>;

/// For `sidekick doctor --online`: each agent profile's name and the outcome of asking it one
/// short question (see `sidekick_agents::online`).
pub fn agents_online(home: &Home) -> std::result::Result<Vec<(String, OnlineOutcome)>, String> {
    let config = sidekick_config::Config::load(home.config_file()).map_err(|e| e.to_string())?;
    let profiles: Vec<sidekick_agents::Profile> = config
        .profiles()
        .into_iter()
        .filter(|p| p.name != sidekick_agents::SHELL)
        .collect();
    // Each asked at the same time: the slowest answer is the wait.
    Ok(std::thread::scope(|s| {
        let asked: Vec<_> = profiles
            .iter()
            .map(|p| (p.name.clone(), s.spawn(|| sidekick_agents::online(p))))
            .collect();
        asked
            .into_iter()
            .map(|(name, h)| {
                let outcome = h
                    .join()
                    .unwrap_or_else(|_| Some(Err("the probe panicked".to_string())));
                (name, outcome)
            })
            .collect()
    }))
}

/// For `sidekick doctor`: whether bubblewrap can set up a job's sandbox here (the reason when not).
pub fn sandbox_available() -> std::result::Result<(), String> {
    crate::sandbox::available()
}

/// For `sidekick doctor`: SQLite's own check of the database, opened read-only (`ok` when sound).
pub fn check_database(path: &Path) -> std::result::Result<String, String> {
    sidekick_store::database::quick_check(path).map_err(|e| e.to_string())
}
