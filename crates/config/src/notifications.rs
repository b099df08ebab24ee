//! `[notifications]`: when a finished job taps the user on the shoulder (the engine's `notify`
//! decides with it and the host delivers).

/// `[notifications]` in config.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `enabled = false` turns notifications off (a job's `--notify` still asks for one).
    pub enabled: bool,
    /// Completed jobs that ran less than this raise nothing.
    pub quiet_under_ms: u64,
    /// Jobs that ran longer than this raise a prominent notification.
    pub prominent_over_ms: u64,
    /// Jobs ending within this window of the first are told together, in one summary.
    pub burst_window_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enabled: true,
            quiet_under_ms: 10_000,
            prominent_over_ms: 60_000,
            burst_window_ms: 2_000,
        }
    }
}
