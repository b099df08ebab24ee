//! End-to-end tests: the real `sidekick` binary, real hosts, real git repositories and real
//! agent processes. One test binary (faster to link; a test file cannot be forgotten).

mod common;

mod agents;
mod automerge;

mod cli_contract;
mod doctor;
mod host;
mod hosts;
mod jobs;
mod mcp;
mod merge;
mod notify;
mod notify_server;
mod pulls;
mod real_agents;
mod review;
mod safety;
mod sandbox;
