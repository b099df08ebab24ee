//! Rebases that stopped at conflicts, watched until they end. The person may resolve them by
//! hand in the worktree (`git add`, `git rebase --continue`), abort them there, or have the agent
//! do it: each is noticed within a second or so and the job's facts follow (its conflicts, its
//! head and base, whether it can merge), with a job event for every client.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::review::on_subject;
use crate::{lock, review, Inner, Result};

/// What a watched rebase looked like when last checked: under way or not, and when its index
/// last changed. Checked again (git run) only when this changes.
type Mark = Option<(bool, Option<SystemTime>)>;

/// Jobs whose rebase stopped at conflicts, with what each looked like last.
#[derive(Default)]
pub(crate) struct Rebasing(Mutex<HashMap<String, Mark>>);

impl Rebasing {
    pub(crate) fn watch(&self, job_id: &str) {
        lock(&self.0).insert(job_id.to_string(), None);
    }

    fn ids(&self) -> Vec<String> {
        lock(&self.0).keys().cloned().collect()
    }

    /// Records `mark` for the job; false when it was already so (nothing to check).
    fn changed(&self, job_id: &str, mark: Mark) -> bool {
        let mut map = lock(&self.0);
        match map.get_mut(job_id) {
            Some(m) if *m == mark => false,
            Some(m) => {
                *m = mark;
                true
            }
            None => false,
        }
    }

    fn forget(&self, job_id: &str) {
        lock(&self.0).remove(job_id);
    }
}

impl Inner {
    /// Watches again the jobs a previous host left with conflicts.
    pub(crate) fn watch_stopped_rebases(&self) -> Result<()> {
        let jobs = lock(&self.reader).jobs(None)?;
        for rec in jobs.iter().filter(|r| !r.job.conflicts.is_empty()) {
            self.rebasing.watch(&rec.job.id);
        }
        Ok(())
    }

    /// One look at every watched rebase; a job whose rebase moved on is settled and saved.
    pub(crate) fn check_rebases(self: &Arc<Self>) {
        for id in self.rebasing.ids() {
            if let Err(e) = self.check_rebase(&id) {
                tracing::warn!(job = %id, error = %e, "checking a stopped rebase failed");
                self.rebasing.forget(&id);
            }
        }
    }

    fn check_rebase(&self, id: &str) -> Result<()> {
        let rec = self.load(id)?;
        if rec.job.conflicts.is_empty() || !rec.has_worktree || rec.job.state.is_active() {
            // Resolved, or gone; a job at work (the agent resolving it) is looked at when its
            // turn has ended.
            if !rec.job.state.is_active() {
                self.rebasing.forget(id);
            }
            return Ok(());
        }
        let wt = Path::new(&rec.job.worktree);
        if !self.rebasing.changed(id, review::ops::rebase_mark(wt)) {
            return Ok(());
        }
        let _guard = lock(&self.review);
        let mut rec = self.load(id)?;
        if rec.job.state.is_active() {
            return Ok(());
        }
        if on_subject(&mut rec, review::ops::settle_rebase)? {
            self.save(&rec, Vec::new())?;
            if rec.job.conflicts.is_empty() {
                let message = format!(
                    "the rebase has ended (finished or aborted in the worktree); the job's branch is at {}",
                    rec.job.head_commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("?")
                );
                self.notice(id, sidekick_protocol::Level::Info, message);
            }
        }
        if rec.job.conflicts.is_empty() {
            self.rebasing.forget(id);
        }
        Ok(())
    }
}
