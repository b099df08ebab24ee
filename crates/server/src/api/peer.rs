//! Who is on the other end of a connection, and what a peer inside a job's sandbox may call.

use super::*;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    /// A process inside a job's sandbox (another pid namespace than the host's): it sees and
    /// touches only its own job and the sidekicks that job started (reads, sandboxed spawns
    /// that become its children, cancel and replies); what only the user may do (merge, undo,
    /// discard, trust, answer, gc, settings, ...) is refused.
    pub confined: bool,
    /// The job whose sandbox a confined peer runs in; `None` when none could be found (it then
    /// sees no job at all).
    pub job: Option<String>,
    /// Its process, as the host numbers it (when the socket says).
    pub pid: Option<i32>,
}

impl Peer {
    /// Who `pid` (the peer's pid as the host numbers it; `None` off Linux) is.
    pub(crate) fn of(pid: Option<i32>, engine: &Engine) -> Peer {
        let Some(pid) = pid else {
            // No pid (not Linux): nothing to tell.
            return Peer::default();
        };
        let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
        let theirs = ns(&pid.to_string());
        // A peer whose namespace cannot be read is treated as confined.
        let confined = theirs.is_none() || theirs != ns("self");
        Peer {
            confined,
            job: confined.then(|| engine.job_of_process(pid)).flatten(),
            pid: Some(pid),
        }
    }

    /// Whether this peer may see and act on `job_id`.
    pub(super) fn may_touch(&self, engine: &Engine, job_id: &str) -> Result<bool, EngineError> {
        if !self.confined {
            return Ok(true);
        }
        match &self.job {
            Some(own) => engine.descends_from(job_id, own),
            None => Ok(false),
        }
    }

    /// Checks that this peer may see and act on the job `reference` names.
    pub(super) fn check_job(&self, engine: &Engine, reference: &str) -> Result<(), ApiFailure> {
        if !self.confined {
            return Ok(());
        }
        let job = engine.job(reference)?;
        if self.may_touch(engine, &job.id)? {
            Ok(())
        } else {
            Err(not_yours())
        }
    }

    /// Checks that a folder this confined peer named lies in its own job's repository or
    /// worktree, as the host resolves it (a link out of them is followed, then refused).
    pub(super) fn check_folder(&self, engine: &Engine, folder: &str) -> Result<(), ApiFailure> {
        if !self.confined {
            return Ok(());
        }
        let Some(own) = &self.job else {
            return Err(not_yours());
        };
        let job = engine.job(own)?;
        let real = |p: &str| std::fs::canonicalize(p).ok();
        let inside = real(folder).is_some_and(|f| {
            [real(&job.repo), real(&job.worktree)]
                .into_iter()
                .flatten()
                .any(|root| f.starts_with(root))
        });
        if inside {
            Ok(())
        } else {
            Err(ApiFailure(ApiError::new(
                ErrorCode::Confined,
                format!("a job's sandbox may name only folders of its own repository or worktree, not {folder}"),
            )))
        }
    }
}

pub(super) fn not_yours() -> ApiFailure {
    ApiFailure(ApiError::new(
        ErrorCode::Confined,
        "a job's sandbox sees only its own job and the sidekicks it started",
    ))
}

/// What a confined peer may call, and what is checked first.
pub(super) enum Access {
    /// Open to any peer.
    Open,
    /// The handler narrows what a confined peer gets (lists, streams, spawns).
    Narrowed,
    /// Only a job in the peer's own lineage.
    Job(String),
    /// Only a folder of the peer's own repository or worktree, named in this query parameter.
    Folder(&'static str),
    /// Only the user.
    User,
}

pub(super) fn access(method: &axum::http::Method, path: &str) -> Access {
    use axum::http::Method;
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let read = method == Method::GET || method == Method::HEAD;
    match parts.as_slice() {
        ["", "v1", "health" | "agents"] if read => Access::Open,
        ["", "v1", "jobs"] if read || method == Method::POST => Access::Narrowed,
        ["", "v1", "events"] if read => Access::Narrowed,
        ["", "v1", "jobs", job] if read => Access::Job(job.to_string()),
        ["", "v1", "jobs", job, "log" | "diff" | "patch" | "file" | "comments" | "viewed"]
            if read =>
        {
            Access::Job(job.to_string())
        }
        ["", "v1", "jobs", job, "cancel" | "reply"] if method == Method::POST => {
            Access::Job(job.to_string())
        }
        ["", "v1", "tasks"] if read => Access::Folder("repo"),
        ["", "v1", "repo"] if read => Access::Folder("path"),
        _ => Access::User,
    }
}

pub(super) async fn confine(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiFailure> {
    let Some(peer) = req
        .extensions()
        .get::<Peer>()
        .filter(|p| p.confined)
        .cloned()
    else {
        return Ok(next.run(req).await);
    };
    match access(req.method(), req.uri().path()) {
        Access::Open | Access::Narrowed => {}
        Access::Job(job) => {
            let engine = st.engine.clone();
            tokio::task::spawn_blocking(move || peer.check_job(&engine, &job))
                .await
                .map_err(|e| ApiFailure(ApiError::new(ErrorCode::Internal, e.to_string())))??;
        }
        Access::Folder(param) => {
            let query: Query<std::collections::HashMap<String, String>> =
                Query::try_from_uri(req.uri()).map_err(|e| bad_request(e.body_text()))?;
            let folder = query.get(param).cloned().unwrap_or_default();
            let engine = st.engine.clone();
            tokio::task::spawn_blocking(move || peer.check_folder(&engine, &folder))
                .await
                .map_err(|e| ApiFailure(ApiError::new(ErrorCode::Internal, e.to_string())))??;
        }
        Access::User => {
            return Err(ApiFailure(ApiError::new(
                ErrorCode::Confined,
                "a job's sandbox may start, follow, cancel and reply to its own sidekicks; this needs the user",
            )))
        }
    }
    Ok(next.run(req).await)
}
