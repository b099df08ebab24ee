use std::process::ExitCode;

use clap::Args;
use sidekick_client::Client;

use crate::render::{self, print_json};
use crate::Outcome;

/// List agent profiles and whether each can run here.
#[derive(Args)]
pub struct AgentsArgs {
    /// Print JSON (an array of agents).
    #[arg(long)]
    json: bool,
}

pub async fn cmd_agents(client: &Client, args: AgentsArgs) -> Outcome {
    let agents = client.agents().await?;
    if args.json {
        print_json(&agents)?;
    } else {
        print!("{}", render::agent_table(&agents));
    }
    Ok(ExitCode::SUCCESS)
}
