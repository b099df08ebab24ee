//! The Sidekick desktop shell.
//!
//! The window is a client of the host like the CLI: every command goes through
//! `sidekick-client`, which starts a host when none runs. The shell never touches git, the
//! database or agent processes. It keeps one event stream open ([`bridge`]) to mirror the job
//! list for the UI and the tray, streams one job's output on request ([`output`]), and keeps
//! running in the tray when the window is closed.

mod bridge;
mod commands;
mod open;
mod output;
mod tray;
#[cfg(test)]
mod typescript;

use tauri::{Emitter, Manager};

/// The window's label in tauri.conf.json and the capability.
const MAIN: &str = "main";

/// Starts the app. A second launch hands its `--job ID` to the running instance and exits.
pub fn run() {
    let opened = job_argument(std::env::args());
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            show_main(app);
            if let Some(job) = job_argument(argv.into_iter()) {
                if let Err(e) = app.emit_to(MAIN, "open-job", job) {
                    tracing::warn!("cannot tell the window to open a job: {e}");
                }
            }
        }))
        .plugin(tauri_plugin_dialog::init())
        .manage(commands::Opened::new(opened))
        .manage(output::Followers::default())
        .invoke_handler(tauri::generate_handler![
            commands::host_info,
            commands::jobs_snapshot,
            commands::get_job,
            commands::spawn_job,
            commands::cancel_job,
            commands::job_diff,
            commands::merge_job,
            commands::undo_job,
            commands::retry_job,
            commands::pr_job,
            commands::open_pr_page,
            commands::get_settings,
            commands::change_settings,
            commands::rebase_job,
            commands::answer_job,
            commands::reply_job,
            commands::discard_job,
            commands::list_agents,
            commands::test_notification,
            commands::cli_path,
            commands::repo_info,
            commands::list_tasks,
            commands::trust_info,
            commands::trust_repo,
            commands::untrust_repo,
            commands::follow_output,
            commands::follow_transcript,
            commands::stop_output,
            commands::take_opened_job,
            commands::pick_folder,
            commands::open_worktree,
            commands::archive_job,
            commands::restore_job,
            commands::job_file,
            commands::job_comments,
            commands::add_comment,
            commands::delete_comment,
            commands::send_comments,
            commands::job_viewed,
            commands::set_viewed,
        ])
        .setup(|app| {
            let bridge = bridge::Bridge::new(bridge::host_exe());
            app.manage(bridge.clone());
            if let Err(e) = tray::build(app.handle()) {
                // No tray on this desktop: closing the window then quits instead of hiding.
                tracing::warn!("no tray icon: {e}");
            }
            bridge::start(app.handle().clone(), bridge);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if tray::present(window.app_handle()) {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("sidekick-app: {e}");
        std::process::exit(1);
    }
}

/// Shows, unminimizes and focuses the main window.
fn show_main(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// `--job ID` or `--job=ID` among the arguments.
fn job_argument(args: impl Iterator<Item = String>) -> Option<String> {
    let mut args = args.skip(1);
    while let Some(arg) = args.next() {
        if arg == "--job" {
            return args.next().filter(|j| !j.is_empty());
        }
        if let Some(job) = arg.strip_prefix("--job=") {
            return (!job.is_empty()).then(|| job.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::job_argument;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn finds_the_job_argument_in_either_form() {
        assert_eq!(
            job_argument(args(&["app", "--job", "brave-otter"])).as_deref(),
            Some("brave-otter")
        );
        assert_eq!(
            job_argument(args(&["app", "--job=01j"])).as_deref(),
            Some("01j")
        );
        assert_eq!(job_argument(args(&["app"])), None);
        assert_eq!(job_argument(args(&["app", "--job"])), None);
        assert_eq!(
            job_argument(args(&["--job", "x"])),
            None,
            "argv[0] is skipped"
        );
    }
}
