//! Process groups and process identity (Linux `/proc`).
//!
//! Every agent runs as the leader of its own process group, so one signal reaches it and all the
//! children it forked. After a host restart a stored pid may belong to somebody else by now; a
//! process is only signalled when its start time and boot id match what was recorded, or when it
//! is in the job's group and carries the job's `SIDEKICK_JOB_ID` in its environment.

use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use sidekick_store::ProcessIdentity;

/// The identity of a live process, if it exists.
pub fn identity(pid: i32) -> Option<ProcessIdentity> {
    let stat = read_stat(pid)?;
    Some(ProcessIdentity {
        pid,
        start_ticks: stat.start_ticks,
        boot_id: boot_id()?,
    })
}

/// The current boot's id; a pid recorded in another boot never means the same process.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

struct Stat {
    ppid: i32,
    pgrp: i32,
    start_ticks: u64,
    zombie: bool,
}

fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces or parentheses.
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is field 3 (state); ppid is field 4, pgrp field 5; starttime is field 22.
    Some(Stat {
        zombie: fields.first().is_some_and(|s| *s == "Z" || *s == "X"),
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// A live process's parent and start time (clock ticks after boot).
pub fn parent_of(pid: i32) -> Option<(i32, u64)> {
    read_stat(pid).map(|s| (s.ppid, s.start_ticks))
}

fn environ_has(pid: i32, needle: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle))
        .unwrap_or(false)
}

/// The live processes that belong to a job from an earlier host: in the recorded process group
/// and either the recorded leader itself (same start time, same boot) or carrying the job id.
pub fn job_processes(job_id: &str, leader: &ProcessIdentity) -> Vec<i32> {
    let same_boot = boot_id().as_deref() == Some(leader.boot_id.as_str());
    if !same_boot {
        return Vec::new();
    }
    let marker = format!("SIDEKICK_JOB_ID={job_id}");
    let Some(members) = running_in_group(leader.pid) else {
        return Vec::new();
    };
    members
        .filter(|(pid, stat)| {
            let is_leader = *pid == leader.pid && stat.start_ticks == leader.start_ticks;
            is_leader || environ_has(*pid, marker.as_bytes())
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// The processes of group `pgid` that have not exited (zombies left out), from `/proc`; `None`
/// when `/proc` cannot be read.
fn running_in_group(pgid: i32) -> Option<impl Iterator<Item = (i32, Stat)>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    Some(
        dir.flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
            .filter_map(|pid| read_stat(pid).map(|stat| (pid, stat)))
            .filter(move |(_, stat)| stat.pgrp == pgid && !stat.zombie),
    )
}

/// Sends a signal to a whole process group. A group that is already gone is fine.
pub fn signal_group(pgid: i32, sig: Signal) {
    if let Err(e) = killpg(Pid::from_raw(pgid), sig) {
        if e != nix::errno::Errno::ESRCH {
            tracing::warn!(pgid, ?sig, error = %e, "cannot signal process group");
        }
    }
}

/// Whether any process is left in the group.
pub fn group_alive(pgid: i32) -> bool {
    killpg(Pid::from_raw(pgid), None).is_ok()
}

/// Whether a process of the group is still running (zombies do not count: a sandbox's inner
/// process orphaned when bubblewrap's outer one exits waits for init to reap it, and an init
/// that never reaps, as in some containers, would keep the group "alive" for ever).
pub fn group_running(pgid: i32) -> bool {
    if !group_alive(pgid) {
        return false;
    }
    running_in_group(pgid).is_none_or(|mut members| members.next().is_some())
}

/// Stops processes that are not our children: SIGTERM, up to `grace` to exit, then SIGKILL.
pub async fn stop_pids(pids: &[i32], grace: Duration) {
    let alive = |pid: i32| read_stat(pid).is_some_and(|s| !s.zombie);
    for pid in pids {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + grace;
    while pids.iter().any(|p| alive(*p)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for pid in pids {
        if alive(*pid) {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
}

pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "ended".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn identity_matches_only_the_same_process() {
        let me = identity(std::process::id() as i32).expect("own identity");
        assert_eq!(me.pid, std::process::id() as i32);
        assert!(me.start_ticks > 0);
        assert_eq!(identity(std::process::id() as i32), Some(me));
        assert_eq!(identity(i32::MAX), None);
    }

    #[tokio::test]
    async fn finds_and_stops_a_recorded_group_but_not_strangers() {
        use std::os::unix::process::CommandExt;
        // A leader that ignores SIGTERM, with a child that carries the marker.
        let mut leader = Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 60 & wait"])
            .env("SIDEKICK_JOB_ID", "job-x")
            .process_group(0)
            .spawn()
            .expect("spawn");
        let pid = leader.id() as i32;
        let mut stranger = Command::new("sleep").arg("60").spawn().expect("spawn");
        let mut id = identity(pid).expect("identity");
        // Wait until the sleep child exists.
        for _ in 0..100 {
            if job_processes("job-x", &id).len() >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let found = job_processes("job-x", &id);
        assert!(found.contains(&pid) && found.len() == 2, "{found:?}");
        assert!(!found.contains(&(stranger.id() as i32)));

        // A wrong start time or another boot means the leader is not ours; the env marker still
        // identifies its processes, another job's marker does not.
        id.start_ticks += 1;
        assert_eq!(job_processes("other-job", &id), Vec::<i32>::new());
        let mut other_boot = id.clone();
        other_boot.boot_id = "another-boot".into();
        assert!(job_processes("job-x", &other_boot).is_empty());

        stop_pids(&found, Duration::from_millis(300)).await;
        let status = leader.wait().expect("wait");
        assert!(
            !status.success(),
            "SIGKILL ended the SIGTERM-ignoring leader"
        );
        // The SIGKILLed child is reaped by whoever inherits it, a moment later under load.
        let gone = || !group_alive(pid) || job_processes("job-x", &id).is_empty();
        for _ in 0..250 {
            if gone() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(), "the job's processes outlived stop_pids");
        assert!(
            stranger.try_wait().expect("try_wait").is_none(),
            "stranger untouched"
        );
        let _ = stranger.kill();
        let _ = stranger.wait();
    }
}
