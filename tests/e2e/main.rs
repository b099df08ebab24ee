//! End to end: the real desktop app under Xvfb, driven through tauri-driver + WebKitWebDriver,
//! with the real host and the `shell` agent on a temporary repository. Screenshots of every
//! step land in `target/e2e-screens/`.
//!
//! `cargo test` runs this binary directly; it then starts itself again inside
//! `xvfb-run … dbus-run-session` (a display and a session bus of its own).

// The recording notification server of the CLI's notification tests.
#[allow(dead_code)]
#[path = "../../crates/cli/tests/notify_server.rs"]
mod notify_server;
mod scenario;
mod support;
#[allow(dead_code)] // shared with the UI benchmark
mod webdriver;

use std::process::ExitCode;

use sidekick_testkit::forge::{ScriptedCheck, ScriptedForge};
use support::{Driver, World};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        println!("e2e: test");
        return ExitCode::SUCCESS;
    }
    if !support::inside() {
        return support::relaunch(&args[0], &[]);
    }
    match run() {
        Ok(()) => {
            println!("e2e: all steps passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("e2e failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let (app, cli) = support::binaries(env!("CARGO_BIN_EXE_sidekick-app"))?;
    let world = World::new()?;
    // The repository's origin says github.com; pushes go to a bare repository here, and the
    // scripted GitHub on loopback answers the API, its checks failing.
    let bare = world.root.join("origin.git");
    world.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        &bare.display().to_string(),
    ])?;
    let forge = ScriptedForge::start(&bare, support::FORGE_TOKEN)?;
    forge.state().check_script = vec![vec![
        ScriptedCheck::passed("lint"),
        ScriptedCheck::failed(
            "test",
            "running 12 tests\ntest sum::adds ... FAILED\nassertion failed: expected 2, got 3",
        ),
    ]];
    let origin = "https://github.com/acme/project.git";
    world.git(&["remote", "add", "origin", origin])?;
    world.git(&[
        "config",
        &format!("url.{}.pushInsteadOf", bare.display()),
        origin,
    ])?;
    world.git(&["push", "-q", "origin", "main"])?;
    // Jobs over a second notify; the test's own server on this run's session bus records them.
    std::fs::write(
        world.home.join("config.toml"),
        format!(
            "[notifications]\nquiet_under = \"1s\"\nburst_window = \"200ms\"\n\
             [agents.claude]\npermission = \"ask\"\nsandbox_write = [\"{}\"]\n\
             [github]\napi_url = \"{}\"\npoll_interval = \"5s\"\n",
            world.root.join("claude-state").display(),
            forge.github_api()
        ),
    )
    .map_err(|e| e.to_string())?;
    let bus = notify_server::Bus::session(&["body", "actions"]);
    let screens = support::screens_dir();
    let _ = std::fs::remove_dir_all(&screens);
    let driver = Driver::start(&world, &cli)?;
    let session = webdriver::Session::start(driver.port, &app, screens.clone())?;
    let result = scenario::run(session, &world, &app, &bus, &forge);
    support::stop_host(&world);
    drop(driver);
    println!("e2e: screenshots in {}", screens.display());
    result
}
