//! GitLab's REST API v4: merge requests, their pipelines' jobs as checks, approvals, issues.

use serde::Deserialize;
use serde_json::json;
use sidekick_protocol::{CheckRun, CheckState, Checks, PrState, ReviewState};

use crate::api::{query, Api, ForgeError, Fresh};
use crate::pull::{tail, Forge, Issue, NewPull, Pull, PullChange, OUTPUT_MAX};
use crate::{ForgeKind, Remote};

/// Lines of a failed job's log handed on.
const LOG_LINES: usize = 60;

#[derive(Debug)]
pub struct GitLab {
    api: Api,
    /// `/projects/GROUP%2FNAME`.
    project: String,
}

impl GitLab {
    pub fn new(api: Api, remote: &Remote) -> GitLab {
        GitLab {
            api,
            project: format!(
                "/projects/{}",
                query(&format!("{}/{}", remote.owner, remote.name))
            ),
        }
    }
}

#[derive(Deserialize)]
struct GlMr {
    iid: u64,
    web_url: String,
    state: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    work_in_progress: bool,
    #[serde(default)]
    title: String,
    source_branch: String,
    target_branch: String,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    head_pipeline: Option<GlPipeline>,
    #[serde(default)]
    detailed_merge_status: Option<String>,
}

#[derive(Deserialize)]
struct GlPipeline {
    id: u64,
}

impl From<GlMr> for Pull {
    fn from(m: GlMr) -> Pull {
        let state = match (m.state.as_str(), m.draft || m.work_in_progress) {
            ("merged", _) => PrState::Merged,
            ("closed" | "locked", _) => PrState::Closed,
            (_, true) => PrState::Draft,
            _ => PrState::Open,
        };
        Pull {
            number: m.iid,
            url: m.web_url,
            state,
            base: m.target_branch,
            head: m.source_branch,
            head_sha: m.sha.unwrap_or_default(),
            title: m.title,
            pipeline: m.head_pipeline.map(|p| p.id),
        }
    }
}

#[derive(Deserialize)]
struct GlJob {
    id: u64,
    name: String,
    status: String,
    #[serde(default)]
    web_url: Option<String>,
    #[serde(default)]
    allow_failure: bool,
}

#[derive(Deserialize)]
struct GlApprovals {
    #[serde(default)]
    approved: bool,
    #[serde(default)]
    approved_by: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct GlIssue {
    iid: u64,
    title: String,
    #[serde(default)]
    description: Option<String>,
    web_url: String,
}

fn job_state(status: &str, allow_failure: bool) -> CheckState {
    match status {
        "success" | "skipped" | "manual" => CheckState::Success,
        "failed" | "canceled" if allow_failure => CheckState::Success,
        "failed" | "canceled" => CheckState::Failure,
        _ => CheckState::Pending,
    }
}

impl GitLab {
    fn mr(&self, iid: u64) -> String {
        format!("{}/merge_requests/{iid}", self.project)
    }
}

impl Forge for GitLab {
    fn kind(&self) -> ForgeKind {
        ForgeKind::GitLab
    }

    fn find_open(&self, head: &str) -> Result<Option<Pull>, ForgeError> {
        let path = format!(
            "{}/merge_requests?state=opened&source_branch={}&per_page=10",
            self.project,
            query(head)
        );
        let mrs: Vec<GlMr> = self.api.get(&path, "list of merge requests")?;
        Ok(mrs.into_iter().map(Pull::from).find(|p| p.head == head))
    }

    fn create(&self, new: &NewPull) -> Result<Pull, ForgeError> {
        let title = if new.draft {
            format!("Draft: {}", new.title)
        } else {
            new.title.clone()
        };
        let body = json!({
            "source_branch": new.head,
            "target_branch": new.base,
            "title": title,
            "description": new.body,
        });
        let m: GlMr = self.api.send(
            "POST",
            &format!("{}/merge_requests", self.project),
            &body,
            "new merge request",
        )?;
        Ok(m.into())
    }

    fn update(&self, number: u64, change: &PullChange) -> Result<Pull, ForgeError> {
        let mut body = serde_json::Map::new();
        if let Some(t) = &change.title {
            body.insert("title".into(), json!(t));
        }
        if let Some(b) = &change.body {
            body.insert("description".into(), json!(b));
        }
        if let Some(b) = &change.base {
            body.insert("target_branch".into(), json!(b));
        }
        let what = format!("merge request !{number}");
        let m: GlMr = self
            .api
            .send("PUT", &self.mr(number), &body.into(), &what)?;
        Ok(m.into())
    }

    fn get(&self, number: u64, etag: Option<&str>) -> Result<Fresh<Pull>, ForgeError> {
        let what = format!("merge request !{number}");
        Ok(
            match self.api.get_if::<GlMr>(&self.mr(number), etag, &what)? {
                Fresh::Unchanged => Fresh::Unchanged,
                Fresh::New(m, etag) => Fresh::New(m.into(), etag),
            },
        )
    }

    fn checks(&self, pull: &Pull) -> Result<Checks, ForgeError> {
        let Some(pipeline) = pull.pipeline else {
            return Ok(Checks::default());
        };
        let jobs: Vec<GlJob> = self.api.get(
            &format!("{}/pipelines/{pipeline}/jobs?per_page=100", self.project),
            "pipeline jobs",
        )?;
        let mut runs = Vec::with_capacity(jobs.len());
        for j in jobs {
            let state = job_state(&j.status, j.allow_failure);
            let output = if state == CheckState::Failure {
                // The log's last lines say why; a log that cannot be read leaves the name.
                self.api
                    .get_text(&format!("{}/jobs/{}/trace", self.project, j.id), "job log")
                    .ok()
                    .map(|log| {
                        let lines: Vec<&str> = log.lines().collect();
                        let from = lines.len().saturating_sub(LOG_LINES);
                        tail(&lines[from..].join("\n"), OUTPUT_MAX)
                    })
                    .filter(|s| !s.is_empty())
            } else {
                None
            };
            runs.push(CheckRun {
                name: j.name,
                state,
                url: j.web_url,
                output,
            });
        }
        Ok(Checks {
            state: CheckState::combine(runs.iter().map(|r| r.state)),
            runs,
        })
    }

    fn review(&self, number: u64) -> Result<Option<ReviewState>, ForgeError> {
        let what = format!("merge request !{number}");
        let m: GlMr = self.api.get(&self.mr(number), &what)?;
        if m.detailed_merge_status.as_deref() == Some("requested_changes") {
            return Ok(Some(ReviewState::ChangesRequested));
        }
        let a: GlApprovals = self
            .api
            .get(&format!("{}/approvals", self.mr(number)), "approvals")?;
        Ok((a.approved && !a.approved_by.is_empty()).then_some(ReviewState::Approved))
    }

    fn issue(&self, number: u64) -> Result<Issue, ForgeError> {
        let what = format!("issue #{number}");
        let i: GlIssue = self
            .api
            .get(&format!("{}/issues/{number}", self.project), &what)?;
        Ok(Issue {
            number: i.iid,
            title: i.title,
            body: i.description.unwrap_or_default(),
            url: i.web_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_statuses_read_as_check_states() {
        assert_eq!(job_state("running", false), CheckState::Pending);
        assert_eq!(job_state("failed", false), CheckState::Failure);
        assert_eq!(job_state("failed", true), CheckState::Success);
        assert_eq!(job_state("manual", false), CheckState::Success);
    }
}
