use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;

use crate::render::{print_json, table};
use crate::{Failure, Outcome};

/// List the repository's task types (`.sidekick/tasks/NAME/task.toml`), with what is wrong with
/// any that cannot be used. Run one with `sidekick run --type NAME --input key=value`.
#[derive(Args)]
pub struct TasksArgs {
    /// The repository (any folder inside it); defaults to the current folder.
    #[arg(short = 'r', long, value_name = "REPO")]
    repo: Option<PathBuf>,
    /// Print JSON (an array of task types).
    #[arg(long)]
    json: bool,
}

pub async fn cmd_tasks(client: &Client, args: TasksArgs) -> Outcome {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::new(format!("cannot read the current folder: {e}")))?;
    let repo = match args.repo {
        Some(p) if p.is_absolute() => p,
        Some(p) => cwd.join(p),
        None => cwd,
    };
    let list = client.tasks(&repo.display().to_string()).await?;
    if args.json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            let inputs = t
                .inputs
                .iter()
                .map(|i| match (&i.default, i.required) {
                    (Some(d), _) => format!("{}={d}", i.name),
                    (None, true) => format!("{}*", i.name),
                    (None, false) => i.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(" ");
            match &t.error {
                Some(e) => vec![
                    t.name.clone(),
                    "-".into(),
                    String::new(),
                    format!("broken: {e}"),
                ],
                None => vec![
                    t.name.clone(),
                    t.agent.clone(),
                    inputs,
                    t.description.clone(),
                ],
            }
        })
        .collect();
    if rows.is_empty() {
        eprintln!(
            "sidekick: no task types in {}/.sidekick/tasks",
            repo.display()
        );
    } else {
        print!(
            "{}",
            table(
                &["NAME", "AGENT", "INPUTS (* required)", "DESCRIPTION"],
                &rows
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}
