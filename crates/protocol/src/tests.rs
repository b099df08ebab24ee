//! The wire types' own rules: attention, counts, serde shapes.

use super::*;

fn job_in(state: JobState) -> Job {
    serde_json::from_value(serde_json::json!({
        "id": "01a", "codename": "a-b", "state": state, "agent": "shell", "task": "t",
        "repo": "/r", "branch": "sidekick/a-b", "worktree": "/w", "base_rev": "HEAD",
        "base_commit": "c", "base_branch": null, "head_commit": null, "exit_code": null,
        "reason": null, "parent_id": null, "timeout_ms": 1, "created_at": 1,
        "started_at": null, "ended_at": null, "duration_ms": null, "queue_position": null,
        "files_changed": null, "insertions": null, "deletions": null, "log_path": "/l",
    }))
    .expect("a job")
}

#[test]
fn counts_split_running_queued_and_waiting_for_review() {
    use JobState::*;
    let jobs: Vec<Job> = [
        Running,
        Starting,
        Queued,
        Completed,
        Failed,
        Merged,
        Discarded,
        Interrupted,
        Waiting,
    ]
    .into_iter()
    .map(job_in)
    .collect();
    assert_eq!(
        Counts::of(&jobs),
        Counts {
            waiting: 1,
            running: 2,
            queued: 1,
            review: 3
        }
    );
    assert_eq!(Counts::of(&[]), Counts::default());
    // Nothing to review: a job that changed no file, or one the user put away.
    let mut empty = job_in(Completed);
    empty.files_changed = Some(0);
    let mut archived = job_in(Failed);
    archived.archived = true;
    let mut changed = job_in(Failed);
    changed.files_changed = Some(2);
    assert_eq!(empty.attention(), Attention::Closed);
    assert_eq!(archived.attention(), Attention::Closed);
    assert_eq!(changed.attention(), Attention::Review);
    assert_eq!(Counts::of(&[empty, archived, changed]).review, 1);
    assert_eq!(Stopping.attention(), Attention::Running);
    assert_eq!(Timeout.attention(), Attention::Review);
    assert_eq!(Cancelled.attention(), Attention::Review);
}

#[test]
fn states_round_trip_through_their_names() {
    for st in JobState::ALL {
        assert_eq!(JobState::parse(st.as_str()), Some(st));
        let json = serde_json::to_string(&st).unwrap_or_default();
        assert_eq!(json, format!("\"{}\"", st.as_str()));
    }
    assert_eq!(JobState::parse("nope"), None);
}

#[test]
fn active_and_ended_partition_the_states() {
    for st in JobState::ALL {
        assert_ne!(st.is_active(), st.has_ended(), "{st}");
        if st.is_live() {
            assert!(st.is_active());
        }
    }
}

#[test]
fn output_event_json_is_flat_and_tagged() {
    let ev = Event {
        seq: 7,
        time: 1,
        job_id: "j".into(),
        body: EventBody::Output {
            stream: Stream::Stderr,
            line: "hi".into(),
            partial: false,
        },
    };
    let json = serde_json::to_value(&ev).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!({"seq":7,"time":1,"job_id":"j","kind":"output","stream":"stderr","line":"hi"})
    );
    let back: Event = serde_json::from_value(json).expect("event parses back");
    assert_eq!(back, ev);
}

#[test]
fn error_codes_map_to_http_statuses() {
    assert_eq!(ErrorCode::UnknownJob.http_status(), 404);
    assert_eq!(ErrorCode::BareRepo.http_status(), 400);
    assert_eq!(ErrorCode::Internal.http_status(), 500);
    let e = ApiError::new(ErrorCode::AmbiguousJob, "x");
    let json = serde_json::to_string(&e).unwrap_or_default();
    assert_eq!(json, r#"{"code":"ambiguous_job","message":"x"}"#);
}
