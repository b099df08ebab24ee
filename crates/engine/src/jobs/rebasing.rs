//! Rebases that stopped at conflicts, watched until they end. The person may resolve them by
//! hand in the worktree (`git add`, `git rebase --continue`), abort them there, or have the agent
//! do it: each is noticed within a second or so and the job's facts follow (its conflicts, its
//! head and base, whether it can merge), with a job event for every client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::lock;

/// What a watched rebase looked like when last checked: under way or not, and when its index
/// last changed. Checked again (git run) only when this changes.
pub(crate) type Mark = Option<(bool, Option<SystemTime>)>;

/// Jobs whose rebase stopped at conflicts, with what each looked like last.
#[derive(Default)]
pub(crate) struct Rebasing(Mutex<HashMap<String, Mark>>);

impl Rebasing {
    pub(crate) fn watch(&self, job_id: &str) {
        lock(&self.0).insert(job_id.to_string(), None);
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        lock(&self.0).keys().cloned().collect()
    }

    /// Records `mark` for the job; false when it was already so (nothing to check).
    pub(crate) fn changed(&self, job_id: &str, mark: Mark) -> bool {
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

    pub(crate) fn forget(&self, job_id: &str) {
        lock(&self.0).remove(job_id);
    }
}
