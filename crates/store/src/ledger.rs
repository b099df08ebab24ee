//! The one owner of job state.
//!
//! A job's `state` changes only here: [`move_to`] checks the change against [`ALLOWED`] and
//! refuses an illegal one without touching the record, and the engine's only write of a job
//! ([`crate::Inner::save`]) checks the stored state against the new one again, so a stale or
//! mistaken record can never write an illegal change to the database. (A test in this module
//! reads the engine's sources and fails on any other assignment of `.state`.)

use sidekick_protocol::JobState;

use crate::JobRecord;

use JobState::*;

/// Every legal change of state, `from -> to`. A save that keeps the state is not a change.
pub const ALLOWED: &[(JobState, &[JobState])] = &[
    // The scheduler starts it, or it is cancelled (or its parent ended) while it waits.
    (Queued, &[Starting, Cancelled]),
    // Worktree, copies, setup: any of these can fail, time out, be cancelled, or outlive a host.
    (
        Starting,
        &[
            Running,
            // The agent asked before its start was recorded.
            Waiting,
            Stopping,
            Completed,
            Failed,
            Timeout,
            Cancelled,
            Interrupted,
        ],
    ),
    (
        Running,
        &[
            Waiting,
            Stopping,
            Completed,
            Failed,
            Timeout,
            Cancelled,
            Interrupted,
        ],
    ),
    // The agent asked the user something: an answer sends it back to work; it can also be
    // stopped, end on its own, or outlive the host while it waits.
    (
        Waiting,
        &[
            Running,
            Stopping,
            Completed,
            Failed,
            Timeout,
            Cancelled,
            Interrupted,
        ],
    ),
    // Stopping is asked-for: it ends as what was asked (or the agent's own exit), or the host
    // dies under it.
    (
        Stopping,
        &[Completed, Failed, Timeout, Cancelled, Interrupted],
    ),
    // Ended jobs are reviewed (merged or discarded), or the user replies and the agent takes
    // another turn in the same worktree.
    (Completed, &[Merged, Discarded, Queued]),
    (Failed, &[Merged, Discarded, Queued]),
    (Timeout, &[Merged, Discarded, Queued]),
    (Cancelled, &[Merged, Discarded, Queued]),
    (Interrupted, &[Merged, Discarded, Queued]),
    // Undo and restore bring a job back to the ended state it had.
    (
        Merged,
        &[Completed, Failed, Timeout, Cancelled, Interrupted],
    ),
    (
        Discarded,
        &[Completed, Failed, Timeout, Cancelled, Interrupted],
    ),
];

/// Whether `from -> to` is a legal change (keeping the state always is).
pub fn allowed(from: JobState, to: JobState) -> bool {
    from == to
        || ALLOWED
            .iter()
            .any(|(f, tos)| *f == from && tos.contains(&to))
}

/// A change of state the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {codename} cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub codename: String,
    pub from: JobState,
    pub to: JobState,
}

/// Moves `rec` to `to` when the table allows it; otherwise leaves it as it was.
pub fn move_to(rec: &mut JobRecord, to: JobState) -> Result<(), IllegalTransition> {
    check(&rec.job.codename, rec.job.state, to)?;
    rec.job.state = to;
    Ok(())
}

/// Checks `from -> to` for the job named `codename`.
pub fn check(codename: &str, from: JobState, to: JobState) -> Result<(), IllegalTransition> {
    if allowed(from, to) {
        Ok(())
    } else {
        Err(IllegalTransition {
            codename: codename.to_string(),
            from,
            to,
        })
    }
}

/// Merge and discard: moves `rec` to `to`, remembering the ended state it had for undo and
/// restore.
pub fn retire_to(rec: &mut JobRecord, to: JobState) -> Result<(), IllegalTransition> {
    let from = rec.job.state;
    move_to(rec, to)?;
    rec.prev_state = Some(from);
    Ok(())
}

/// Undo and restore: back to the ended state the job had before it was merged or discarded.
pub fn move_back(rec: &mut JobRecord) -> Result<(), IllegalTransition> {
    move_to(rec, rec.prev_state.unwrap_or(Completed))?;
    rec.prev_state = None;
    Ok(())
}

/// The state every job is born in.
pub const BORN: JobState = Queued;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample;

    #[test]
    fn every_legal_transition_moves_the_record() {
        let mut count = 0;
        for (from, tos) in ALLOWED {
            for to in *tos {
                let mut rec = sample("01a", *from);
                move_to(&mut rec, *to).expect("legal");
                assert_eq!(rec.job.state, *to);
                count += 1;
            }
        }
        assert_eq!(count, 2 + 8 + 7 + 7 + 5 + 5 * 3 + 5 * 2);
    }

    #[test]
    fn an_illegal_transition_leaves_the_record_as_it_was() {
        let illegal = [
            (Queued, Running),
            (Queued, Merged),
            (Queued, Completed),
            (Running, Queued),
            (Running, Merged),
            (Stopping, Running),
            (Completed, Running),
            (Failed, Starting),
            (Merged, Discarded),
            (Discarded, Merged),
            (Merged, Running),
            (Interrupted, Running),
            (Queued, Waiting),
            (Stopping, Waiting),
            (Completed, Waiting),
            (Waiting, Queued),
            (Waiting, Merged),
        ];
        for (from, to) in illegal {
            let mut rec = sample("01a", from);
            let before = rec.clone();
            let err = move_to(&mut rec, to).expect_err("illegal");
            assert_eq!(err.from, from);
            assert_eq!(rec, before, "{from} -> {to} changed the record");
        }
    }

    #[test]
    fn every_state_can_be_reached_and_every_unended_one_left() {
        for state in JobState::ALL {
            let reachable = state == BORN || ALLOWED.iter().any(|(_, tos)| tos.contains(&state));
            assert!(reachable, "{state} cannot be reached");
            let leaves = ALLOWED
                .iter()
                .any(|(f, tos)| *f == state && !tos.is_empty());
            assert!(leaves, "{state} is a dead end");
        }
        // Keeping a state is never refused.
        for state in JobState::ALL {
            assert!(allowed(state, state));
        }
    }

    /// The ledger is the only place that assigns a job's state: any other `.state = ` in the
    /// store's or the engine's sources (tests aside) fails this test.
    #[test]
    fn no_other_file_assigns_a_jobs_state() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut offenders = Vec::new();
        let mut stack = vec![crates.join("store/src"), crates.join("engine/src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name == "ledger.rs" || name == "tests.rs" || !name.ends_with(".rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read");
                // Production code only: stop at the file's test module.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for (i, line) in code.lines().enumerate() {
                    if line.contains(".state = ") && !line.trim_start().starts_with("//") {
                        offenders.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }
}
