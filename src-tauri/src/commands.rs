//! The commands the web view may call. Each one parses its arguments, calls the host through
//! `sidekick-client` and passes the host's `{code, message}` error through unchanged.

use std::sync::Mutex;

use sidekick_protocol::{
    ActionResult, AgentInfo, ApiError, Diff, ErrorCode, Health, Job, MergeRequest, MergeResult,
    RepoInfo, SpawnRequest, TaskTypeInfo, TrustInfo,
};
use tauri::ipc::Channel;
use tauri::State;

use crate::bridge::{Bridge, Snapshot};
use crate::output::{self, Followers, OutputMessage, TranscriptMessage};

type Answer<T> = Result<T, ApiError>;

fn api(e: sidekick_client::ClientError) -> ApiError {
    e.to_api()
}

/// A job reference from the UI: ids, prefixes and codenames are never empty or padded.
fn reference(job: &str) -> Answer<&str> {
    let job = job.trim();
    if job.is_empty() {
        return Err(ApiError::new(ErrorCode::BadRequest, "No job was given."));
    }
    Ok(job)
}

#[tauri::command]
pub async fn host_info(bridge: State<'_, Bridge>) -> Answer<Health> {
    bridge.client().await?.health().await.map_err(api)
}

/// Every job the app knows, at one event number (see the bridge).
#[tauri::command]
pub fn jobs_snapshot(bridge: State<'_, Bridge>) -> Snapshot {
    bridge.snapshot()
}

#[tauri::command]
pub async fn get_job(bridge: State<'_, Bridge>, job: String) -> Answer<Job> {
    let job = reference(&job)?;
    bridge.client().await?.job(job).await.map_err(api)
}

#[tauri::command]
pub async fn spawn_job(bridge: State<'_, Bridge>, mut request: SpawnRequest) -> Answer<Job> {
    if request.task.trim().is_empty() && request.task_type.is_none() && request.issue.is_none() {
        return Err(ApiError::new(ErrorCode::BadRequest, "The task is empty."));
    }
    // The app's own forge tokens read the issue; the page never holds one.
    request.tokens = match request.issue {
        Some(_) => sidekick_client::forge_tokens_from_env(),
        None => Default::default(),
    };
    bridge.client().await?.spawn(&request).await.map_err(api)
}

/// Pushes the job's branch and opens (or updates) its pull request; `fix`: hands its failing
/// checks to the agent.
#[tauri::command]
pub async fn pr_job(bridge: State<'_, Bridge>, job: String, draft: bool, fix: bool) -> Answer<Job> {
    let job = reference(&job)?;
    let request = sidekick_protocol::PrRequest {
        draft,
        fix,
        tokens: sidekick_client::forge_tokens_from_env(),
        ..Default::default()
    };
    bridge.client().await?.pr(job, &request).await.map_err(api)
}

/// The job `job` names, as the host has it now.
async fn job_of(bridge: &State<'_, Bridge>, job: &str) -> Answer<Job> {
    bridge
        .client()
        .await?
        .job(reference(job)?)
        .await
        .map_err(api)
}

/// Opens the job's pull request in the default browser: the address the host recorded, never
/// one the page names.
#[tauri::command]
pub async fn open_pr_page(bridge: State<'_, Bridge>, job: String) -> Answer<()> {
    let job = job_of(&bridge, &job).await?;
    let url = job
        .pr
        .map(|p| p.url)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidState,
                format!("Job {} has no pull request to open.", job.codename),
            )
        })?;
    let home = std::env::temp_dir();
    crate::open::spawn_detached(&["xdg-open".to_string(), url], &home)
        .map_err(|m| ApiError::new(ErrorCode::Internal, m))
}

#[tauri::command]
pub async fn cancel_job(bridge: State<'_, Bridge>, job: String) -> Answer<Job> {
    let job = reference(&job)?;
    bridge.client().await?.cancel(job).await.map_err(api)
}

#[tauri::command]
pub async fn job_diff(
    bridge: State<'_, Bridge>,
    job: String,
    max_lines: Option<usize>,
) -> Answer<Diff> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .diff_head(job, max_lines)
        .await
        .map_err(api)
}

/// A merge, or with `dry_run` its preview.
#[tauri::command]
pub async fn merge_job(
    bridge: State<'_, Bridge>,
    job: String,
    request: MergeRequest,
) -> Answer<MergeResult> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .merge(job, &request)
        .await
        .map_err(api)
}

#[tauri::command]
pub async fn undo_job(bridge: State<'_, Bridge>, job: String) -> Answer<ActionResult> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .undo(job, &sidekick_protocol::UndoRequest::default())
        .await
        .map_err(api)
}

/// The host-wide settings the app edits.
#[tauri::command]
pub async fn get_settings(bridge: State<'_, Bridge>) -> Answer<sidekick_protocol::Settings> {
    bridge.client().await?.settings().await.map_err(api)
}

/// Changes keys of the config file through the host (checked as the host reads it).
#[tauri::command]
pub async fn change_settings(
    bridge: State<'_, Bridge>,
    change: sidekick_protocol::SettingsChange,
) -> Answer<sidekick_protocol::Settings> {
    bridge
        .client()
        .await?
        .change_settings(&change)
        .await
        .map_err(api)
}

/// Starts an ended job again as a new job (`sidekick retry`).
#[tauri::command]
pub async fn retry_job(bridge: State<'_, Bridge>, job: String, same_base: bool) -> Answer<Job> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .retry(job, &sidekick_protocol::RetryRequest { same_base })
        .await
        .map_err(api)
}

/// Allows or denies what a waiting job's agent asked.
#[tauri::command]
pub async fn answer_job(
    bridge: State<'_, Bridge>,
    job: String,
    request: sidekick_protocol::AnswerRequest,
) -> Answer<Job> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .answer(job, &request)
        .await
        .map_err(api)
}

/// The user's next message to an ended job's agent: the job takes another turn.
#[tauri::command]
pub async fn reply_job(bridge: State<'_, Bridge>, job: String, text: String) -> Answer<Job> {
    let job = reference(&job)?;
    if text.trim().is_empty() {
        return Err(ApiError::new(ErrorCode::BadRequest, "The reply is empty."));
    }
    bridge.client().await?.reply(job, &text).await.map_err(api)
}

/// The native folder picker: the repository to open, or `None` when the user cancelled.
#[tauri::command]
pub async fn pick_folder(app: tauri::AppHandle, start: Option<String>) -> Answer<Option<String>> {
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    let mut dialog = app.dialog().file().set_title("Open a repository");
    // Start beside the repository open now (or at home), not in "Recent".
    let from = start
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_dir())
        .or_else(|| std::env::var_os("HOME").map(std::path::PathBuf::from));
    if let Some(dir) = from {
        dialog = dialog.set_directory(dir);
    }
    if let Some(window) = app.get_webview_window(crate::MAIN) {
        dialog = dialog.set_parent(&window);
    }
    // The dialog blocks until the user answers: off the async workers.
    let picked = tokio::task::spawn_blocking(move || dialog.blocking_pick_folder())
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("the folder picker failed: {e}"),
            )
        })?;
    match picked {
        None => Ok(None),
        Some(p) => p
            .into_path()
            .map(|p| Some(p.display().to_string()))
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("not a folder on this machine: {e}"),
                )
            }),
    }
}

/// Opens the job's worktree in the user's editor, a terminal there, or the file manager.
#[tauri::command]
pub async fn open_worktree(
    bridge: State<'_, Bridge>,
    job: String,
    with: crate::open::With,
) -> Answer<()> {
    let job = job_of(&bridge, &job).await?;
    let dir = std::path::PathBuf::from(&job.worktree);
    if !dir.join(".git").exists() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!(
                "Job {}'s worktree is gone ({}); restore the job first.",
                job.codename, job.state
            ),
        ));
    }
    let cfg = crate::open::OpenConfig::load(bridge.home().config_file());
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    let argv = crate::open::command_for(with, &dir, &cfg, |k| std::env::var(k).ok(), on_path)
        .map_err(|m| ApiError::new(ErrorCode::BadRequest, m))?;
    crate::open::spawn_detached(&argv, &dir).map_err(|m| ApiError::new(ErrorCode::Internal, m))
}

/// Puts an ended job away, or brings it back.
#[tauri::command]
pub async fn archive_job(bridge: State<'_, Bridge>, job: String, archived: bool) -> Answer<Job> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .archive(job, archived)
        .await
        .map_err(api)
}

/// Brings back a discarded job (or the worktree gc removed).
#[tauri::command]
pub async fn restore_job(bridge: State<'_, Bridge>, job: String) -> Answer<ActionResult> {
    let job = reference(&job)?;
    bridge.client().await?.restore(job).await.map_err(api)
}

/// A file as one side of the job's diff has it (the diff view expands context with it).
#[tauri::command]
pub async fn job_file(
    bridge: State<'_, Bridge>,
    job: String,
    path: String,
    side: sidekick_protocol::Side,
) -> Answer<sidekick_protocol::FileLines> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .file(job, &path, side)
        .await
        .map_err(api)
}

/// The job's review comments, placed where their lines are now.
#[tauri::command]
pub async fn job_comments(
    bridge: State<'_, Bridge>,
    job: String,
) -> Answer<Vec<sidekick_protocol::Comment>> {
    let job = reference(&job)?;
    bridge.client().await?.comments(job).await.map_err(api)
}

#[tauri::command]
pub async fn add_comment(
    bridge: State<'_, Bridge>,
    job: String,
    comment: sidekick_protocol::NewComment,
) -> Answer<sidekick_protocol::Comment> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .add_comment(job, &comment)
        .await
        .map_err(api)
}

#[tauri::command]
pub async fn delete_comment(bridge: State<'_, Bridge>, job: String, id: u64) -> Answer<()> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .delete_comment(job, id)
        .await
        .map_err(api)
}

/// "Send to agent": the unsent comments (and `text`) as one reply; the host marks them sent.
#[tauri::command]
pub async fn send_comments(bridge: State<'_, Bridge>, job: String, text: String) -> Answer<Job> {
    let job = reference(&job)?;
    let req = sidekick_protocol::ReplyRequest {
        text,
        comments: true,
    };
    bridge
        .client()
        .await?
        .reply_with(job, &req)
        .await
        .map_err(api)
}

#[tauri::command]
pub async fn job_viewed(
    bridge: State<'_, Bridge>,
    job: String,
) -> Answer<Vec<sidekick_protocol::Viewed>> {
    let job = reference(&job)?;
    bridge.client().await?.viewed(job).await.map_err(api)
}

#[tauri::command]
pub async fn set_viewed(
    bridge: State<'_, Bridge>,
    job: String,
    mark: sidekick_protocol::Viewed,
) -> Answer<()> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .set_viewed(job, &mark)
        .await
        .map_err(api)
}

/// Replays the job onto its target (or `into`) in its worktree: what the merge dialog offers
/// when the job conflicts with the target. `abort`: the rebase that stopped at conflicts is
/// undone instead.
#[tauri::command]
pub async fn rebase_job(
    bridge: State<'_, Bridge>,
    job: String,
    into: Option<String>,
    abort: Option<bool>,
) -> Answer<ActionResult> {
    let job = reference(&job)?;
    let req = sidekick_protocol::RebaseRequest {
        into,
        abort: abort.unwrap_or(false),
    };
    bridge.client().await?.rebase(job, &req).await.map_err(api)
}

#[tauri::command]
pub async fn discard_job(bridge: State<'_, Bridge>, job: String) -> Answer<ActionResult> {
    let job = reference(&job)?;
    bridge
        .client()
        .await?
        .discard(job, &Default::default())
        .await
        .map_err(api)
}

#[tauri::command]
pub async fn list_agents(bridge: State<'_, Bridge>) -> Answer<Vec<AgentInfo>> {
    bridge.client().await?.agents().await.map_err(api)
}

/// Shows a test desktop notification through the host (the first-run screen).
#[tauri::command]
pub async fn test_notification(
    bridge: State<'_, Bridge>,
) -> Answer<sidekick_protocol::NotificationTest> {
    bridge
        .client()
        .await?
        .test_notification()
        .await
        .map_err(api)
}

/// Where the `sidekick` command line is (installed beside the app), for the first-run screen.
#[tauri::command]
pub fn cli_path() -> String {
    sidekick_protocol::sibling_program("SIDEKICK_BIN", "sidekick")
        .display()
        .to_string()
}

/// Checks a folder as the host would for a job, and lists its branches.
#[tauri::command]
pub async fn repo_info(bridge: State<'_, Bridge>, path: String) -> Answer<RepoInfo> {
    let path = path.trim();
    if path.is_empty() {
        return Err(ApiError::new(ErrorCode::BadRequest, "No folder was given."));
    }
    let expanded = expand_home(path, &std::env::var("HOME").unwrap_or_default());
    bridge.client().await?.repo(&expanded).await.map_err(api)
}

/// What a repository's own configuration runs and whether the user trusts it (its top level,
/// as `repo_info` gave it).
#[tauri::command]
pub async fn trust_info(bridge: State<'_, Bridge>, repo: String) -> Answer<TrustInfo> {
    let repo = given_repo(&repo)?;
    bridge.client().await?.trust_info(repo).await.map_err(api)
}

/// Trusts the repository's configuration at the content the user was shown (`hash`).
#[tauri::command]
pub async fn trust_repo(
    bridge: State<'_, Bridge>,
    repo: String,
    hash: String,
) -> Answer<TrustInfo> {
    let repo = given_repo(&repo)?;
    bridge.client().await?.trust(repo, &hash).await.map_err(api)
}

#[tauri::command]
pub async fn untrust_repo(bridge: State<'_, Bridge>, repo: String) -> Answer<TrustInfo> {
    let repo = given_repo(&repo)?;
    bridge.client().await?.untrust(repo).await.map_err(api)
}

fn given_repo(repo: &str) -> Result<&str, ApiError> {
    let repo = repo.trim();
    if repo.is_empty() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "No repository was given.",
        ));
    }
    Ok(repo)
}

/// The task types of a repository (its top level, as `repo_info` gave it).
#[tauri::command]
pub async fn list_tasks(bridge: State<'_, Bridge>, repo: String) -> Answer<Vec<TaskTypeInfo>> {
    if repo.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "No repository was given.",
        ));
    }
    bridge.client().await?.tasks(repo.trim()).await.map_err(api)
}

/// Streams a job's output to `channel` from its first line until the job ends. Returns the
/// stream's id for `stop_output`.
#[tauri::command]
pub async fn follow_output(
    bridge: State<'_, Bridge>,
    followers: State<'_, Followers>,
    job: String,
    channel: Channel<OutputMessage>,
) -> Answer<u32> {
    let job = reference(&job)?.to_string();
    let client = bridge.client().await?;
    let job = client.job(&job).await.map_err(api)?;
    Ok(output::follow(&followers, client, job.id, channel))
}

/// Streams a job's transcript (the agent's conversation and Sidekick's notices) to `channel`
/// from the start until the job ends. Returns the stream's id for `stop_output`.
#[tauri::command]
pub async fn follow_transcript(
    bridge: State<'_, Bridge>,
    followers: State<'_, Followers>,
    job: String,
    channel: Channel<TranscriptMessage>,
) -> Answer<u32> {
    let job = reference(&job)?.to_string();
    let client = bridge.client().await?;
    let job = client.job(&job).await.map_err(api)?;
    Ok(output::follow_transcript(
        &followers, client, job.id, channel,
    ))
}

#[tauri::command]
pub fn stop_output(followers: State<'_, Followers>, id: u32) {
    followers.stop(id);
}

/// The job named by `--job` at launch, handed out once.
pub struct Opened(Mutex<Option<String>>);

impl Opened {
    pub fn new(job: Option<String>) -> Opened {
        Opened(Mutex::new(job))
    }
}

#[tauri::command]
pub fn take_opened_job(opened: State<'_, Opened>) -> Option<String> {
    opened.0.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// `~` and `~/x` as the user's home, as a shell would (the picker is a text field).
fn expand_home(path: &str, home: &str) -> String {
    if home.is_empty() {
        return path.to_string();
    }
    if path == "~" {
        return home.to_string();
    }
    match path.strip_prefix("~/") {
        Some(rest) => format!("{}/{rest}", home.trim_end_matches('/')),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_references_are_refused_with_a_sentence() {
        let err = reference("  ").expect_err("refused");
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert_eq!(err.message, "No job was given.");
        assert_eq!(reference(" brave-otter ").ok(), Some("brave-otter"));
    }

    #[test]
    fn tilde_means_home() {
        assert_eq!(expand_home("~", "/home/u"), "/home/u");
        assert_eq!(expand_home("~/src/x", "/home/u/"), "/home/u/src/x");
        assert_eq!(expand_home("/abs/~/x", "/home/u"), "/abs/~/x");
        assert_eq!(expand_home("~/x", ""), "~/x");
    }
}
