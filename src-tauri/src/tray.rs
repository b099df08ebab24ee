//! The tray icon: the running/queued/review counts, Show and Quit. With a tray, closing the
//! window hides it and jobs go on (they run in the host anyway).

use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

use sidekick_protocol::Counts;

const TRAY: &str = "sidekick";

/// Holds the summary item so it can be relabelled.
struct Summary(MenuItem<Wry>);

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let summary = MenuItem::with_id(
        app,
        "summary",
        label(Counts::default()),
        false,
        None::<&str>,
    )?;
    let show = MenuItem::with_id(app, "show", "Show Sidekick", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&summary, &show, &quit])?;
    let icon = tauri::image::Image::from_bytes(include_bytes!("../../icons/tray.png"))?;
    TrayIconBuilder::with_id(TRAY)
        .icon(icon)
        .tooltip("Sidekick")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "show" => crate::show_main(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::show_main(tray.app_handle());
            }
        })
        .build(app)?;
    app.manage(Summary(summary));
    Ok(())
}

/// There is a tray to go back to.
pub fn present(app: &AppHandle) -> bool {
    tray(app).is_some()
}

fn tray(app: &AppHandle) -> Option<TrayIcon> {
    app.tray_by_id(TRAY)
}

pub fn update(app: &AppHandle, counts: Counts) {
    let text = label(counts);
    if let Some(summary) = app.try_state::<Summary>() {
        let _ = summary.0.set_text(&text);
    }
    if let Some(tray) = tray(app) {
        let _ = tray.set_tooltip(Some(format!("Sidekick: {text}")));
        // Shown beside the icon where the desktop supports it (appindicator labels): what
        // needs the user first.
        let title = if counts.waiting > 0 {
            Some(format!("{}!", counts.waiting))
        } else {
            (counts.running > 0).then(|| counts.running.to_string())
        };
        let _ = tray.set_title(title);
    }
}

/// "2 running · 1 queued · 3 to review", the status bar's words, with "1 needs you" first
/// while an agent waits for the user.
pub fn label(c: Counts) -> String {
    let rest = format!(
        "{} running · {} queued · {} to review",
        c.running, c.queued, c.review
    );
    if c.waiting > 0 {
        format!("{} needs you · {rest}", c.waiting)
    } else {
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_reads_like_the_status_bar() {
        let c = Counts {
            waiting: 0,
            running: 2,
            queued: 1,
            review: 3,
        };
        assert_eq!(label(c), "2 running · 1 queued · 3 to review");
        let c = Counts { waiting: 1, ..c };
        assert_eq!(label(c), "1 needs you · 2 running · 1 queued · 3 to review");
    }
}
