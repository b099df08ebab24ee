use std::process::ExitCode;

use clap::Args;
use sidekick_protocol::Home;

use crate::{Failure, Outcome};

/// Run the host in the foreground (clients start one in the background when none runs).
///
/// Listens on `$SIDEKICK_HOME/run/sidekick.sock`; logs to `$SIDEKICK_HOME/host.log`.
/// SIGTERM or Ctrl-C stops it cleanly: running jobs end `interrupted` with their work committed.
#[derive(Args)]
pub struct ServeArgs {}

pub fn cmd_serve(_args: ServeArgs) -> Outcome {
    sidekick_server::limit_malloc_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))?;
    let home = Home::from_env();
    runtime
        .block_on(sidekick_server::serve(home, |home| {
            eprintln!(
                "sidekick: host {} listening on {}",
                std::process::id(),
                home.socket().display()
            );
        }))
        .map_err(|e| Failure::new(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
