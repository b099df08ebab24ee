//! A job's pull request on its forge (GitHub, or a GitLab merge request): where it is, its
//! state, its checks and its review, as the host last saw them.

use serde::{Deserialize, Serialize};

/// `pr` on a job: the pull request its branch was pushed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PullRequest {
    /// `github` or `gitlab`.
    pub forge: String,
    /// The number (GitLab: the merge request's iid).
    pub number: u64,
    /// Its page on the forge.
    pub url: String,
    pub state: PrState,
    /// The branch it merges into.
    pub base: String,
    /// The branch it merges from (the job's branch, as pushed).
    pub head: String,
    /// The commit last pushed to it.
    pub head_sha: String,
    #[serde(default)]
    pub checks: Checks,
    /// The reviewers' word, once there is one.
    #[serde(default)]
    pub review: Option<ReviewState>,
    /// When the host last looked at it on the forge.
    #[serde(default)]
    pub polled_at: Option<u64>,
    /// Why the host cannot look at it right now ("rate limited until 14:05", the forge
    /// unreachable), in one sentence; it looks again later.
    #[serde(default)]
    pub problem: Option<String>,
    /// Rounds of failing checks handed back to the agent so far (`[pr] fix_ci`, `pr --fix`).
    #[serde(default)]
    pub fixes: u32,
    /// The agent is fixing the failing checks: the turn's commit is pushed to the pull request
    /// when it ends.
    #[serde(default)]
    pub fixing: bool,
}

impl PullRequest {
    /// Still open on the forge (a draft too): the host keeps looking at it.
    pub fn is_open(&self) -> bool {
        matches!(self.state, PrState::Open | PrState::Draft)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    Open,
    Draft,
    Merged,
    Closed,
}

impl PrState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Draft => "draft",
            PrState::Merged => "merged",
            PrState::Closed => "closed",
        }
    }
}

/// Where a commit's checks are, all taken together or one by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// The commit has no checks (yet).
    #[default]
    None,
    Pending,
    Success,
    Failure,
}

impl CheckState {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::None => "none",
            CheckState::Pending => "pending",
            CheckState::Success => "success",
            CheckState::Failure => "failure",
        }
    }

    /// All of `states` together: any failure fails, else any pending is pending, else success
    /// when there is one.
    pub fn combine(states: impl IntoIterator<Item = CheckState>) -> CheckState {
        states
            .into_iter()
            .fold(CheckState::None, |all, one| match (all, one) {
                (CheckState::Failure, _) | (_, CheckState::Failure) => CheckState::Failure,
                (CheckState::Pending, _) | (_, CheckState::Pending) => CheckState::Pending,
                (CheckState::Success, _) | (_, CheckState::Success) => CheckState::Success,
                _ => CheckState::None,
            })
    }
}

/// A commit's checks: GitHub's check runs and commit statuses, or GitLab's pipeline jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Checks {
    pub state: CheckState,
    #[serde(default)]
    pub runs: Vec<CheckRun>,
}

impl Checks {
    pub fn failing(&self) -> impl Iterator<Item = &CheckRun> {
        self.runs.iter().filter(|r| r.state == CheckState::Failure)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CheckRun {
    pub name: String,
    pub state: CheckState,
    /// Its page on the forge.
    #[serde(default)]
    pub url: Option<String>,
    /// What it said (title, summary and text; a failed job's last lines), trimmed.
    #[serde(default)]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Approved,
    ChangesRequested,
}

/// `POST /v1/jobs/JOB/pr`: push the job's branch and open its pull request, or update the open
/// one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PrRequest {
    /// Open it as a draft.
    #[serde(default)]
    pub draft: bool,
    /// The branch to merge into; the job's base branch when absent.
    #[serde(default)]
    pub base: Option<String>,
    /// The title; the task's first line when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// The description; the agent's summary and the task when absent.
    #[serde(default)]
    pub body: Option<String>,
    /// Hand the failing checks back to the agent once, as a reply (`pr --fix`).
    #[serde(default)]
    pub fix: bool,
    /// The client's own tokens.
    #[serde(default)]
    pub tokens: ForgeTokens,
}

/// A client's own forge tokens (its `GH_TOKEN` or `GITHUB_TOKEN`; `GITLAB_TOKEN`), sent with a
/// request that needs the forge: the one for the repository's forge is used and then kept in the
/// host's memory for that forge host only, never written anywhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ForgeTokens {
    #[serde(default)]
    pub github: Option<Secret>,
    #[serde(default)]
    pub gitlab: Option<Secret>,
}

impl ForgeTokens {
    /// The token for a forge by its name (`github`, `gitlab`).
    pub fn get(&self, forge: &str) -> Option<&Secret> {
        match forge {
            "github" => self.github.as_ref(),
            "gitlab" => self.gitlab.as_ref(),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.github.is_none() && self.gitlab.is_none()
    }
}

/// `--pr`: the pull request a job opens by itself when it completes with changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PrOpenMode {
    Ready,
    Draft,
}

/// The issue a job was made from (`run --issue N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IssueRef {
    pub number: u64,
    pub title: String,
    pub url: String,
}

/// A value the host keeps in memory and never shows: `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_combine_failure_first_then_pending() {
        use CheckState::*;
        assert_eq!(CheckState::combine([]), None);
        assert_eq!(CheckState::combine([Success, None]), Success);
        assert_eq!(CheckState::combine([Success, Pending]), Pending);
        assert_eq!(CheckState::combine([Pending, Failure, Success]), Failure);
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let r = PrRequest {
            tokens: ForgeTokens {
                github: Some(Secret("ghp_abc".into())),
                gitlab: None,
            },
            ..PrRequest::default()
        };
        assert!(!format!("{r:?}").contains("ghp_abc"));
        assert_eq!(
            serde_json::to_value(&r).expect("json")["tokens"]["github"],
            serde_json::json!("ghp_abc")
        );
    }
}
