//! Tauri's build step: reads tauri.conf.json, checks the capabilities and generates one
//! `allow-<command>` permission per app command, so the capability can name exactly ours.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&[
        "host_info",
        "jobs_snapshot",
        "get_job",
        "spawn_job",
        "cancel_job",
        "job_diff",
        "merge_job",
        "undo_job",
        "retry_job",
        "pr_job",
        "open_pr_page",
        "get_settings",
        "change_settings",
        "rebase_job",
        "answer_job",
        "reply_job",
        "discard_job",
        "list_agents",
        "test_notification",
        "cli_path",
        "repo_info",
        "list_tasks",
        "trust_info",
        "trust_repo",
        "untrust_repo",
        "follow_output",
        "follow_transcript",
        "stop_output",
        "take_opened_job",
        "pick_folder",
        "open_worktree",
        "archive_job",
        "restore_job",
        "job_file",
        "job_comments",
        "add_comment",
        "delete_comment",
        "send_comments",
        "job_viewed",
        "set_viewed",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .unwrap_or_else(|e| panic!("tauri build step failed: {e:#}"));
}
