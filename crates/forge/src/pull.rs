//! What Sidekick asks of a forge about pull requests, checks and issues ([`Forge`]), and the
//! answers in its own terms, the same for GitHub and GitLab.

use sidekick_protocol::{Checks, PrState, ReviewState};

use crate::api::{ForgeError, Fresh};
use crate::ForgeKind;

/// A pull request (a merge request on GitLab) as the forge says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub url: String,
    pub state: PrState,
    pub base: String,
    pub head: String,
    pub head_sha: String,
    pub title: String,
    /// GitLab: the merge request's latest pipeline, whose jobs are its checks.
    pub pipeline: Option<u64>,
}

/// A pull request to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPull {
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
}

/// What to change on an open pull request; `None` leaves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullChange {
    pub title: Option<String>,
    pub body: Option<String>,
    pub base: Option<String>,
}

impl PullChange {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.body.is_none() && self.base.is_none()
    }
}

/// An issue of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub url: String,
}

/// What Sidekick asks of one repository on its forge. Every call blocks (at most 30 s).
pub trait Forge: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> ForgeKind;
    /// The open pull request from `head` (a branch of this repository), if there is one.
    fn find_open(&self, head: &str) -> Result<Option<Pull>, ForgeError>;
    fn create(&self, new: &NewPull) -> Result<Pull, ForgeError>;
    fn update(&self, number: u64, change: &PullChange) -> Result<Pull, ForgeError>;
    /// The pull request, or `Unchanged` when it still has `etag`.
    fn get(&self, number: u64, etag: Option<&str>) -> Result<Fresh<Pull>, ForgeError>;
    /// The checks of the pull request's head commit, failing ones with what they said.
    fn checks(&self, pull: &Pull) -> Result<Checks, ForgeError>;
    /// The reviewers' word: changes requested wins over an approval.
    fn review(&self, number: u64) -> Result<Option<ReviewState>, ForgeError>;
    fn issue(&self, number: u64) -> Result<Issue, ForgeError>;
}

/// At most `max` characters of `text`'s end, whole lines, for a check's output.
pub fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    let cut = cut.split_once('\n').map_or(cut, |(_, rest)| rest);
    format!("…\n{cut}")
}

/// What a check said, trimmed for a reply to the agent and the app's panel.
pub(crate) const OUTPUT_MAX: usize = 4000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_whole_last_lines() {
        assert_eq!(tail("  short  ", 100), "short");
        let long = (0..100)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let t = tail(&long, 30);
        assert!(t.starts_with("…\n"), "{t}");
        assert!(t.ends_with("line 99"), "{t}");
        assert!(t.len() <= 30 + 4, "{t}");
        assert_eq!(tail("ééééé", 3), "…\né");
    }
}
