//! The host's API as methods: jobs, review, settings, agents, trust, task types, pools.

use super::*;

impl Client {
    pub async fn health(&self) -> Result<Health> {
        self.call(Method::GET, "/v1/health", None).await
    }

    pub async fn spawn(&self, req: &SpawnRequest) -> Result<Job> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.call(Method::POST, "/v1/jobs", Some(body)).await
    }

    pub async fn jobs(&self, all: bool) -> Result<Vec<Job>> {
        self.call(Method::GET, &format!("/v1/jobs?all={all}"), None)
            .await
    }

    pub async fn job(&self, reference: &str) -> Result<Job> {
        self.call(
            Method::GET,
            &format!("/v1/jobs/{}", encode(reference)),
            None,
        )
        .await
    }

    pub async fn cancel(&self, reference: &str) -> Result<Job> {
        self.call(
            Method::POST,
            &format!("/v1/jobs/{}/cancel", encode(reference)),
            None,
        )
        .await
    }

    pub async fn diff(&self, reference: &str) -> Result<sidekick_protocol::Diff> {
        self.diff_head(reference, None).await
    }

    /// The job's diff with at most `max_lines` diff lines (files past them listed, truncated).
    pub async fn diff_head(
        &self,
        reference: &str,
        max_lines: Option<usize>,
    ) -> Result<sidekick_protocol::Diff> {
        let query = max_lines
            .map(|n| format!("?max_lines={n}"))
            .unwrap_or_default();
        self.call(
            Method::GET,
            &format!("/v1/jobs/{}/diff{query}", encode(reference)),
            None,
        )
        .await
    }

    /// The job's changes as a plain unified patch (what `sidekick diff` prints).
    pub async fn patch(&self, reference: &str) -> Result<Vec<u8>> {
        let path = format!("/v1/jobs/{}/patch", encode(reference));
        let resp = self.send(Method::GET, &path, None).await?;
        let status = resp.status();
        let bytes = collect(resp.into_body()).await?;
        if !status.is_success() {
            return Err(error_from(status, bytes));
        }
        Ok(bytes.to_vec())
    }

    pub async fn merge(
        &self,
        reference: &str,
        req: &sidekick_protocol::MergeRequest,
    ) -> Result<sidekick_protocol::MergeResult> {
        self.post(&format!("/v1/jobs/{}/merge", encode(reference)), req)
            .await
    }

    /// Allows or denies what a waiting job's agent asked.
    pub async fn answer(
        &self,
        reference: &str,
        req: &sidekick_protocol::AnswerRequest,
    ) -> Result<Job> {
        self.post(&format!("/v1/jobs/{}/answer", encode(reference)), req)
            .await
    }

    /// The user's next message to an ended job's agent: the job runs another turn.
    pub async fn reply(&self, reference: &str, text: &str) -> Result<Job> {
        let req = sidekick_protocol::ReplyRequest {
            text: text.into(),
            comments: false,
        };
        self.reply_with(reference, &req).await
    }

    /// A reply, with the job's unsent review comments when `req.comments`.
    pub async fn reply_with(
        &self,
        reference: &str,
        req: &sidekick_protocol::ReplyRequest,
    ) -> Result<Job> {
        self.post(&format!("/v1/jobs/{}/reply", encode(reference)), req)
            .await
    }

    /// Puts an ended job away (or, with `false`, brings it back).
    pub async fn archive(&self, reference: &str, archived: bool) -> Result<Job> {
        let req = sidekick_protocol::ArchiveRequest { archived };
        self.post(&format!("/v1/jobs/{}/archive", encode(reference)), &req)
            .await
    }

    /// A file as one side of the job's diff has it.
    pub async fn file(
        &self,
        reference: &str,
        path: &str,
        side: sidekick_protocol::Side,
    ) -> Result<sidekick_protocol::FileLines> {
        let uri = format!(
            "/v1/jobs/{}/file?path={}&side={}",
            encode(reference),
            encode(path),
            side.as_str()
        );
        self.call(Method::GET, &uri, None).await
    }

    /// The job's review comments, placed in its files as they are now.
    pub async fn comments(&self, reference: &str) -> Result<Vec<sidekick_protocol::Comment>> {
        let uri = format!("/v1/jobs/{}/comments", encode(reference));
        self.call(Method::GET, &uri, None).await
    }

    pub async fn add_comment(
        &self,
        reference: &str,
        req: &sidekick_protocol::NewComment,
    ) -> Result<sidekick_protocol::Comment> {
        self.post(&format!("/v1/jobs/{}/comments", encode(reference)), req)
            .await
    }

    pub async fn delete_comment(&self, reference: &str, id: u64) -> Result<()> {
        let uri = format!("/v1/jobs/{}/comments/{id}", encode(reference));
        self.call(Method::DELETE, &uri, None).await
    }

    /// The files marked viewed in the job's diff.
    pub async fn viewed(&self, reference: &str) -> Result<Vec<sidekick_protocol::Viewed>> {
        let uri = format!("/v1/jobs/{}/viewed", encode(reference));
        self.call(Method::GET, &uri, None).await
    }

    pub async fn set_viewed(
        &self,
        reference: &str,
        mark: &sidekick_protocol::Viewed,
    ) -> Result<()> {
        let body = serde_json::to_vec(mark).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let uri = format!("/v1/jobs/{}/viewed", encode(reference));
        self.call(Method::PUT, &uri, Some(body)).await
    }

    /// The settings the app edits (`GET /v1/settings`).
    pub async fn settings(&self) -> Result<sidekick_protocol::Settings> {
        self.call(Method::GET, "/v1/settings", None).await
    }

    /// Changes keys of the config file (`PUT /v1/settings`).
    pub async fn change_settings(
        &self,
        change: &sidekick_protocol::SettingsChange,
    ) -> Result<sidekick_protocol::Settings> {
        let body = serde_json::to_vec(change).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.call(Method::PUT, "/v1/settings", Some(body)).await
    }

    /// Starts `reference` again as a new job (`sidekick retry`).
    pub async fn retry(
        &self,
        reference: &str,
        req: &sidekick_protocol::RetryRequest,
    ) -> Result<Job> {
        self.post(&format!("/v1/jobs/{}/retry", encode(reference)), req)
            .await
    }

    /// Pushes the job's branch and opens (or updates) its pull request.
    pub async fn pr(&self, reference: &str, req: &sidekick_protocol::PrRequest) -> Result<Job> {
        self.post(&format!("/v1/jobs/{}/pr", encode(reference)), req)
            .await
    }

    pub async fn undo(
        &self,
        reference: &str,
        req: &sidekick_protocol::UndoRequest,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/undo", encode(reference)), req)
            .await
    }

    pub async fn rebase(
        &self,
        reference: &str,
        req: &sidekick_protocol::RebaseRequest,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/rebase", encode(reference)), req)
            .await
    }

    pub async fn discard(
        &self,
        reference: &str,
        req: &sidekick_protocol::DiscardRequest,
    ) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/discard", encode(reference)), req)
            .await
    }

    pub async fn restore(&self, reference: &str) -> Result<sidekick_protocol::ActionResult> {
        self.post(&format!("/v1/jobs/{}/restore", encode(reference)), &())
            .await
    }

    pub async fn gc(
        &self,
        req: &sidekick_protocol::GcRequest,
    ) -> Result<sidekick_protocol::GcReport> {
        self.post("/v1/gc", req).await
    }

    /// The warm worktrees of every repository with jobs, or of `repo` (absolute).
    pub async fn pools(&self, repo: Option<&str>) -> Result<Vec<sidekick_protocol::Pool>> {
        let uri = match repo {
            Some(r) => format!("/v1/pool?repo={}", encode(r)),
            None => "/v1/pool".to_string(),
        };
        self.call(Method::GET, &uri, None).await
    }

    pub async fn agents(&self) -> Result<Vec<AgentInfo>> {
        self.call(Method::GET, "/v1/agents", None).await
    }

    /// Shows a test desktop notification (through the host), or says why it cannot.
    pub async fn test_notification(&self) -> Result<sidekick_protocol::NotificationTest> {
        self.call(Method::POST, "/v1/notifications/test", None)
            .await
    }

    /// The task types of the repository at `repo` (absolute).
    pub async fn tasks(&self, repo: &str) -> Result<Vec<sidekick_protocol::TaskTypeInfo>> {
        let uri = format!("/v1/tasks?repo={}", encode(repo));
        self.call(Method::GET, &uri, None).await
    }

    /// What the repository at `repo` (absolute) runs from its own configuration, and whether
    /// the user trusts it.
    pub async fn trust_info(&self, repo: &str) -> Result<sidekick_protocol::TrustInfo> {
        let uri = format!("/v1/trust?repo={}", encode(repo));
        self.call(Method::GET, &uri, None).await
    }

    /// Trusts the repository's configuration at the content with `hash` (what was shown).
    pub async fn trust(&self, repo: &str, hash: &str) -> Result<sidekick_protocol::TrustInfo> {
        let req = sidekick_protocol::TrustRequest {
            repo: repo.into(),
            hash: hash.into(),
        };
        self.post("/v1/trust", &req).await
    }

    pub async fn untrust(&self, repo: &str) -> Result<sidekick_protocol::TrustInfo> {
        let uri = format!("/v1/trust?repo={}", encode(repo));
        self.call(Method::DELETE, &uri, None).await
    }

    /// Checks `path` (absolute) as a job repository would be and lists its branches.
    pub async fn repo(&self, path: &str) -> Result<sidekick_protocol::RepoInfo> {
        let uri = format!("/v1/repo?path={}", encode(path));
        self.call(Method::GET, &uri, None).await
    }
}
