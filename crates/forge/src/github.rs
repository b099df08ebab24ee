//! GitHub's REST API v3 (GitHub Enterprise Server serves the same under `/api/v3`): pulls,
//! check runs and the combined status of a commit, reviews, issues.

use serde::Deserialize;
use serde_json::json;
use sidekick_protocol::{CheckRun, CheckState, Checks, PrState, ReviewState};

use crate::api::{query, Api, ForgeError, Fresh};
use crate::pull::{tail, Forge, Issue, NewPull, Pull, PullChange, OUTPUT_MAX};
use crate::{ForgeKind, Remote};

#[derive(Debug)]
pub struct GitHub {
    api: Api,
    owner: String,
    /// `/repos/OWNER/NAME`.
    repo: String,
}

impl GitHub {
    pub fn new(api: Api, remote: &Remote) -> GitHub {
        GitHub {
            api,
            owner: remote.owner.clone(),
            repo: format!("/repos/{}/{}", remote.owner, remote.name),
        }
    }
}

#[derive(Deserialize)]
struct GhPull {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    merged: Option<bool>,
    #[serde(default)]
    title: String,
    head: GhRef,
    base: GhRef,
}

#[derive(Deserialize)]
struct GhRef {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
}

impl From<GhPull> for Pull {
    fn from(p: GhPull) -> Pull {
        let merged = p.merged.unwrap_or(false) || p.merged_at.is_some();
        let state = match (p.state.as_str(), merged, p.draft) {
            (_, true, _) => PrState::Merged,
            ("closed", _, _) => PrState::Closed,
            (_, _, true) => PrState::Draft,
            _ => PrState::Open,
        };
        Pull {
            number: p.number,
            url: p.html_url,
            state,
            base: p.base.name,
            head: p.head.name,
            head_sha: p.head.sha,
            title: p.title,
            pipeline: None,
        }
    }
}

#[derive(Deserialize)]
struct CheckRuns {
    #[serde(default)]
    check_runs: Vec<GhCheckRun>,
}

#[derive(Deserialize)]
struct GhCheckRun {
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    output: Option<GhOutput>,
}

#[derive(Deserialize, Default)]
struct GhOutput {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct CombinedStatus {
    #[serde(default)]
    statuses: Vec<GhStatus>,
}

#[derive(Deserialize)]
struct GhStatus {
    context: String,
    state: String,
    #[serde(default)]
    target_url: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct GhReview {
    #[serde(default)]
    user: Option<GhUser>,
    state: String,
}

#[derive(Deserialize)]
struct GhUser {
    login: String,
}

#[derive(Deserialize)]
struct GhIssue {
    number: u64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    html_url: String,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

fn run_state(status: &str, conclusion: Option<&str>) -> CheckState {
    if status != "completed" {
        return CheckState::Pending;
    }
    match conclusion {
        Some("success" | "neutral" | "skipped") => CheckState::Success,
        Some("failure" | "timed_out" | "cancelled" | "action_required" | "startup_failure") => {
            CheckState::Failure
        }
        // "stale" and unknown conclusions wait for the forge to decide.
        _ => CheckState::Pending,
    }
}

fn status_state(state: &str) -> CheckState {
    match state {
        "success" => CheckState::Success,
        "failure" | "error" => CheckState::Failure,
        _ => CheckState::Pending,
    }
}

impl Forge for GitHub {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitHub
    }

    fn find_open(&self, head: &str) -> Result<Option<Pull>, ForgeError> {
        let path = format!(
            "{}/pulls?state=open&head={}:{}&per_page=10",
            self.repo,
            query(&self.owner),
            query(head)
        );
        let pulls: Vec<GhPull> = self.api.get(&path, "list of pull requests")?;
        Ok(pulls.into_iter().map(Pull::from).find(|p| p.head == head))
    }

    fn create(&self, new: &NewPull) -> Result<Pull, ForgeError> {
        let body = json!({
            "title": new.title,
            "head": new.head,
            "base": new.base,
            "body": new.body,
            "draft": new.draft,
        });
        let p: GhPull = self.api.send(
            "POST",
            &format!("{}/pulls", self.repo),
            &body,
            "new pull request",
        )?;
        Ok(p.into())
    }

    fn update(&self, number: u64, change: &PullChange) -> Result<Pull, ForgeError> {
        let mut body = serde_json::Map::new();
        if let Some(t) = &change.title {
            body.insert("title".into(), json!(t));
        }
        if let Some(b) = &change.body {
            body.insert("body".into(), json!(b));
        }
        if let Some(b) = &change.base {
            body.insert("base".into(), json!(b));
        }
        let what = format!("pull request #{number}");
        let p: GhPull = self.api.send(
            "PATCH",
            &format!("{}/pulls/{number}", self.repo),
            &body.into(),
            &what,
        )?;
        Ok(p.into())
    }

    fn get(&self, number: u64, etag: Option<&str>) -> Result<Fresh<Pull>, ForgeError> {
        let what = format!("pull request #{number}");
        Ok(
            match self.api.get_if::<GhPull>(
                &format!("{}/pulls/{number}", self.repo),
                etag,
                &what,
            )? {
                Fresh::Unchanged => Fresh::Unchanged,
                Fresh::New(p, etag) => Fresh::New(p.into(), etag),
            },
        )
    }

    fn checks(&self, pull: &Pull) -> Result<Checks, ForgeError> {
        let sha = &pull.head_sha;
        let runs: CheckRuns = self.api.get(
            &format!("{}/commits/{sha}/check-runs?per_page=100", self.repo),
            "check runs",
        )?;
        let status: CombinedStatus = self.api.get(
            &format!("{}/commits/{sha}/status?per_page=100", self.repo),
            "commit status",
        )?;
        let mut all: Vec<CheckRun> = runs
            .check_runs
            .into_iter()
            .map(|r| {
                let state = run_state(&r.status, r.conclusion.as_deref());
                let output = r.output.unwrap_or_default();
                let said = [output.title, output.summary, output.text]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                CheckRun {
                    name: r.name,
                    state,
                    url: r.html_url,
                    output: (!said.is_empty()).then(|| tail(&said, OUTPUT_MAX)),
                }
            })
            .collect();
        all.extend(status.statuses.into_iter().map(|s| CheckRun {
            name: s.context,
            state: status_state(&s.state),
            url: s.target_url,
            output: s.description.filter(|d| !d.is_empty()),
        }));
        Ok(Checks {
            state: CheckState::combine(all.iter().map(|r| r.state)),
            runs: all,
        })
    }

    fn review(&self, number: u64) -> Result<Option<ReviewState>, ForgeError> {
        let reviews: Vec<GhReview> = self.api.get(
            &format!("{}/pulls/{number}/reviews?per_page=100", self.repo),
            "reviews",
        )?;
        // Each reviewer's last word that counts (a comment neither approves nor asks).
        let mut last: Vec<(String, String)> = Vec::new();
        for r in reviews {
            let who = r.user.map(|u| u.login).unwrap_or_default();
            if !matches!(
                r.state.as_str(),
                "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
            ) {
                continue;
            }
            last.retain(|(w, _)| *w != who);
            last.push((who, r.state));
        }
        Ok(if last.iter().any(|(_, s)| s == "CHANGES_REQUESTED") {
            Some(ReviewState::ChangesRequested)
        } else if last.iter().any(|(_, s)| s == "APPROVED") {
            Some(ReviewState::Approved)
        } else {
            None
        })
    }

    fn issue(&self, number: u64) -> Result<Issue, ForgeError> {
        let what = format!("issue #{number}");
        let i: GhIssue = self
            .api
            .get(&format!("{}/issues/{number}", self.repo), &what)?;
        if i.pull_request.is_some() {
            return Err(ForgeError::NotFound {
                forge: ForgeKind::GitHub,
                what: format!("{what} (#{number} is a pull request)"),
            });
        }
        Ok(Issue {
            number: i.number,
            title: i.title,
            body: i.body.unwrap_or_default(),
            url: i.html_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_conclusions_read_as_states() {
        assert_eq!(run_state("in_progress", None), CheckState::Pending);
        assert_eq!(run_state("completed", Some("success")), CheckState::Success);
        assert_eq!(run_state("completed", Some("skipped")), CheckState::Success);
        assert_eq!(
            run_state("completed", Some("timed_out")),
            CheckState::Failure
        );
        assert_eq!(status_state("error"), CheckState::Failure);
        assert_eq!(status_state("pending"), CheckState::Pending);
    }

    #[test]
    fn a_branch_name_is_encoded_for_a_query() {
        assert_eq!(query("sidekick/brave-otter"), "sidekick%2Fbrave-otter");
        assert_eq!(query("a b&c"), "a%20b%26c");
    }
}
