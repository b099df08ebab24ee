//! Sidekick's other machines (issue 32, first step): a host reached with the system `ssh`, what
//! it has, this Sidekick installed there and its host started.
//!
//! - [`ssh`]: one multiplexed connection per host with the user's own ssh, never a prompt in the
//!   background, ssh's own reason for a failure.
//! - [`host`]: the probe (OS, architecture, git, cores, memory, disk, the Sidekick there), the
//!   install (checksum verified, atomic), the remote host started.

pub mod host;
pub mod ssh;

pub use host::{install, probe, start, Facts, Installed};
pub use ssh::{check_destination, Conn, Ssh, SshError};
