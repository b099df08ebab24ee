//! Which job a process belongs to, and which jobs descend from which: what a process inside a
//! job's sandbox may see and touch through the host (its own job and the sidekicks it started,
//! never another job).

use sidekick_protocol::JobState;

use crate::{lock, Engine, Result};

/// How far up the process tree a peer is followed (a sandbox nests a few levels: bwrap, its
/// init, a shell, the agent, its tools).
const MAX_ANCESTORS: usize = 64;

/// How many parents are followed from a job towards another (deeper than any `max_depth`).
const MAX_GENERATIONS: usize = 64;

impl Engine {
    /// The live job whose processes include `pid` (as the host's pid namespace numbers it): the
    /// job whose recorded leader is `pid` or one of its ancestors. A process inside a sandbox
    /// cannot leave its leader's tree: an orphan there is adopted by the sandbox's own init.
    pub fn job_of_process(&self, pid: i32) -> Option<String> {
        let live = {
            let db = lock(&self.ledger.reader);
            db.jobs(Some(&JobState::LIVE)).ok()?
        };
        let leaders: Vec<(i32, u64, String)> = live
            .into_iter()
            .filter_map(|r| r.process.map(|p| (p.pid, p.start_ticks, r.job.id)))
            .collect();
        if leaders.is_empty() {
            return None;
        }
        let mut at = pid;
        for _ in 0..MAX_ANCESTORS {
            let (parent, started) = crate::process::parent_of(at)?;
            if let Some((_, _, id)) = leaders
                .iter()
                .find(|(leader, ticks, _)| *leader == at && *ticks == started)
            {
                return Some(id.clone());
            }
            if parent <= 1 {
                return None;
            }
            at = parent;
        }
        None
    }

    /// Whether `job_id` is `root_id` or one of the jobs it started (at any depth).
    pub fn descends_from(&self, job_id: &str, root_id: &str) -> Result<bool> {
        let mut at = job_id.to_string();
        for _ in 0..MAX_GENERATIONS {
            if at == root_id {
                return Ok(true);
            }
            let parent = {
                let db = lock(&self.ledger.reader);
                db.job(&at)?.and_then(|r| r.job.parent_id)
            };
            match parent {
                Some(p) => at = p,
                None => return Ok(false),
            }
        }
        Ok(false)
    }
}
