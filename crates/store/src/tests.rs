//! The store on a real SQLite database: round trips, output chunks, migrations.

use rusqlite::Connection;
use sidekick_protocol::{EventBody, Job, JobState, Level, Stream};

use crate::database::MIGRATIONS;
use crate::*;

pub(crate) fn sample(id: &str, state: JobState) -> JobRecord {
    JobRecord {
        job: Job {
            id: id.into(),
            codename: format!("c-{id}"),
            state,
            agent: "shell".into(),
            task: "echo hi".into(),
            repo: "/r".into(),
            branch: format!("sidekick/c-{id}"),
            worktree: "/w".into(),
            base_rev: "HEAD".into(),
            base_commit: "abc".into(),
            base_branch: Some("main".into()),
            head_commit: None,
            exit_code: None,
            reason: None,
            parent_id: None,
            timeout_ms: 1000,
            created_at: 5,
            started_at: None,
            ended_at: None,
            duration_ms: None,
            earlier_ms: 0,
            queue_position: None,
            files_changed: None,
            insertions: None,
            deletions: None,
            log_path: "/l".into(),
            merged_into: None,
            merge_commit: None,
            snapshot: None,
            conflicts: vec![],
            notify: None,
            steps: 0,
            tokens: Default::default(),
            cost_usd: None,
            summary: None,
            capped: false,
            max_steps: None,
            token_budget: None,
            requests: vec![],
            turns: 1,
            spawned_by: None,
            archived: false,
            sandbox: None,
            auto_merge: None,
            retry_of: None,
            pr: None,
            open_pr: None,
            issue: None,
        },
        argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
        env: vec![("A".into(), "b".into())],
        setup: None,
        setup_cache: vec![],
        copy_files: vec![],
        process: None,
        has_worktree: false,
        merge: None,
        prev_state: None,
        format: sidekick_agents::parse::Format::Plain,
        session: None,
        dialog: None,
        last_reply: None,
        sandbox: None,
        request: None,
    }
}

#[test]
fn jobs_round_trip_and_update() {
    let mut s = Store::open_in_memory().expect("store");
    assert_eq!(s.schema_version().expect("v"), MIGRATIONS.len() as i64);
    let mut rec = sample("01a", JobState::Queued);
    s.insert_job(&rec).expect("insert");
    assert_eq!(s.job("01a").expect("get"), Some(rec.clone()));
    rec.job.state = JobState::Completed;
    rec.job.exit_code = Some(0);
    rec.job.head_commit = Some("def".into());
    rec.process = Some(ProcessIdentity {
        pid: 42,
        start_ticks: 99,
        boot_id: "b".into(),
    });
    rec.has_worktree = true;
    rec.job.merged_into = Some("main".into());
    rec.job.merge_commit = Some("m".into());
    rec.job.snapshot = Some("snap".into());
    rec.job.conflicts = vec!["a.txt".into()];
    rec.merge = Some(MergeRecord {
        target: "main".into(),
        previous_tip: "p".into(),
        commit: "m".into(),
        strategy: "squash".into(),
        paths: vec![],
        autostash: false,
    });
    rec.prev_state = Some(JobState::Completed);
    s.update_job(&rec).expect("update");
    assert_eq!(s.job("01a").expect("get"), Some(rec));
    assert_eq!(s.job("nope").expect("get"), None);
}

#[test]
fn prefixes_codenames_and_children() {
    let mut s = Store::open_in_memory().expect("store");
    for id in ["01aa", "01ab", "02cc"] {
        s.insert_job(&sample(id, JobState::Queued)).expect("insert");
    }
    let mut child = sample("03dd", JobState::Queued);
    child.job.parent_id = Some("01aa".into());
    s.insert_job(&child).expect("insert");
    assert_eq!(
        s.ids_with_prefix("01a", 10).expect("q"),
        vec!["01aa", "01ab"]
    );
    assert_eq!(s.ids_with_prefix("02", 10).expect("q"), vec!["02cc"]);
    assert!(s.ids_with_prefix("9", 10).expect("q").is_empty());
    assert_eq!(s.ids_with_codename("c-02cc").expect("q"), vec!["02cc"]);
    assert!(s.codename_taken("c-02cc").expect("q"));
    assert!(!s.codename_taken("c-zz").expect("q"));
    assert_eq!(s.children("01aa").expect("q"), vec!["03dd"]);
    let active = s.jobs(Some(&[JobState::Queued])).expect("q");
    assert_eq!(active.len(), 4);
    assert_eq!(active[0].job.id, "03dd", "newest first");
}

fn out(job: &str, time: u64, stream: Stream, line: &str, partial: bool) -> NewEvent {
    NewEvent {
        job_id: job.into(),
        time,
        body: EventBody::Output {
            stream,
            line: line.into(),
            partial,
        },
    }
}

#[test]
fn output_is_stored_in_chunks_and_read_back_line_by_line() {
    let mut s = Store::open_in_memory().expect("open");
    let mut batch = Vec::new();
    for i in 0..3000 {
        batch.push(out("01a", 7, Stream::Stdout, &format!("line {i}"), false));
    }
    // Empty lines, a cut line, the other stream, another job, a notice: all in between.
    batch.push(out("01a", 7, Stream::Stdout, "", false));
    batch.push(out("01a", 7, Stream::Stdout, "cut", true));
    batch.push(out("01a", 7, Stream::Stdout, "", false));
    batch.push(out("01a", 7, Stream::Stderr, "warning", false));
    batch.push(out("01b", 7, Stream::Stdout, "other job", false));
    batch.push(NewEvent {
        job_id: "01a".into(),
        time: 7,
        body: EventBody::Notice {
            level: Level::Info,
            message: "n".into(),
        },
    });
    batch.push(out("01a", 8, Stream::Stdout, "later", true));
    let written = s.append(batch.clone()).expect("append");
    let seqs: Vec<u64> = written.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=batch.len() as u64).collect::<Vec<_>>());
    let rows: i64 = s
        .conn
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .expect("count");
    // 3003 stdout lines in 3 chunks (1024 lines each at most), then one row each.
    assert_eq!(rows, 3 + 4, "rows");
    assert_eq!(s.events_after(0, None, true, 100_000).expect("q"), written);
    assert_eq!(s.last_seq().expect("seq"), batch.len() as u64);
    // From the middle of a chunk, with a limit that ends inside another.
    let page = s.events_after(1500, None, true, 1000).expect("q");
    assert_eq!(page, written[1500..2500].to_vec());
    let page = s.events_after(3001, Some("01a"), true, 10).expect("q");
    assert_eq!(page.len(), 5);
    assert!(page.iter().all(|e| e.job_id == "01a"));
    assert_eq!(
        page[0].body,
        EventBody::Output {
            stream: Stream::Stdout,
            line: "cut".into(),
            partial: true
        }
    );
    let no_output = s.events_after(0, None, false, 100).expect("q");
    assert_eq!(no_output.len(), 1);
    // The next append goes on after the whole chunk's seqs.
    let more = s
        .append(vec![out("01a", 9, Stream::Stdout, "next", false)])
        .expect("append");
    assert_eq!(more[0].seq, batch.len() as u64 + 1);
    assert_eq!(s.last_seq().expect("seq"), batch.len() as u64 + 1);
}

#[test]
fn rows_of_one_line_from_before_chunks_read_as_they_were() {
    let mut s = Store::open_in_memory().expect("open");
    s.conn
        .execute_batch(
            "INSERT INTO events (job_id, time, kind, stream, line, partial, data)
             VALUES ('01a', 1, 'output', 'stderr', 'old cut', 1, NULL),
                    ('01a', 1, 'output', 'stdout', 'old whole', 0, NULL);",
        )
        .expect("insert old rows");
    let written = s
        .append(vec![out("01a", 2, Stream::Stdout, "new", false)])
        .expect("append");
    assert_eq!(written[0].seq, 3);
    let all = s.events_after(0, None, true, 10).expect("q");
    let lines: Vec<(u64, String, bool)> = all
        .iter()
        .map(|e| match &e.body {
            EventBody::Output { line, partial, .. } => (e.seq, line.clone(), *partial),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [
            (1, "old cut".to_string(), true),
            (2, "old whole".to_string(), false),
            (3, "new".to_string(), false)
        ]
    );
}

#[test]
fn stored_output_costs_little_more_than_the_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let mut s = Store::open(&path).expect("open");
    let mut text = 0;
    // `seq 1 200000`, as a job prints it: batches of a few thousand lines.
    for chunk in (1..=200_000u64).collect::<Vec<_>>().chunks(4096) {
        let batch: Vec<NewEvent> = chunk
            .iter()
            .map(|i| {
                text += i.to_string().len() + 1;
                out(
                    "01m8gpyq8xsrbypt4eewqxvgy0",
                    *i / 4096,
                    Stream::Stdout,
                    &i.to_string(),
                    false,
                )
            })
            .collect();
        s.append(batch).expect("append");
    }
    s.conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    let size = std::fs::metadata(&path).expect("stat").len() as usize;
    // A row per line took ~14x; chunks stay under 2x.
    assert!(
        size < 2 * text,
        "{size} bytes of database for {text} bytes of output"
    );
}

#[test]
fn events_get_increasing_seqs_and_filter() {
    let mut s = Store::open_in_memory().expect("store");
    let rec = sample("01a", JobState::Queued);
    let mk = |job: &str, body: EventBody| NewEvent {
        job_id: job.into(),
        time: 1,
        body,
    };
    let out = s
        .append(vec![
            mk(
                "01a",
                EventBody::Job {
                    job: Box::new(rec.job.clone()),
                },
            ),
            mk(
                "01a",
                EventBody::Output {
                    stream: Stream::Stdout,
                    line: "one".into(),
                    partial: false,
                },
            ),
            mk(
                "02b",
                EventBody::Notice {
                    level: Level::Warn,
                    message: "careful".into(),
                },
            ),
            mk(
                "01a",
                EventBody::Output {
                    stream: Stream::Stderr,
                    line: "two".into(),
                    partial: true,
                },
            ),
        ])
        .expect("append");
    let seqs: Vec<u64> = out.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(s.last_seq().expect("q"), 4);
    assert_eq!(s.events_after(0, None, true, 100).expect("q"), out);
    let job_only = s.events_after(0, Some("01a"), true, 100).expect("q");
    assert_eq!(job_only.len(), 3);
    let no_output = s.events_after(0, None, false, 100).expect("q");
    assert_eq!(no_output.len(), 2);
    assert_eq!(
        s.events_after(2, None, true, 1).expect("q"),
        vec![out[2].clone()]
    );
}

#[test]
fn state_survives_reopening_and_refuses_newer_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    {
        let mut s = Store::open(&path).expect("open");
        s.insert_job(&sample("01a", JobState::Running))
            .expect("insert");
    }
    let s = Store::open(&path).expect("reopen");
    assert_eq!(
        s.job("01a").expect("q").map(|r| r.job.state),
        Some(JobState::Running)
    );
    drop(s);
    let conn = Connection::open(&path).expect("raw");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[test]
fn a_since_beyond_every_event_returns_none_not_all() {
    let mut s = Store::open_in_memory().expect("store");
    let rec = sample("01a", JobState::Queued);
    s.insert_job(&rec).expect("insert");
    s.append(vec![NewEvent {
        job_id: "01a".into(),
        time: 1,
        body: EventBody::Notice {
            level: Level::Info,
            message: "x".into(),
        },
    }])
    .expect("append");
    assert_eq!(s.events_after(0, None, true, 10).expect("q").len(), 1);
    for since in [u64::MAX, i64::MAX as u64 + 1, i64::MAX as u64] {
        assert!(s.events_after(since, None, true, 10).expect("q").is_empty());
    }
}

#[test]
fn rows_from_before_version_5_lose_their_profile_env_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    {
        let mut s = Store::open(&path).expect("open");
        let mut rec = sample("01a", JobState::Completed);
        rec.env = vec![
            ("API_KEY".into(), "sk-secret".into()),
            ("SIDEKICK_JOB_ID".into(), "01a".into()),
        ];
        s.insert_job(&rec).expect("insert");
        s.conn
            .execute_batch(
                "ALTER TABLE events DROP COLUMN count; ALTER TABLE jobs DROP COLUMN requests;
                 ALTER TABLE jobs DROP COLUMN spawned_by;
                 DROP TABLE comments; DROP TABLE viewed; ALTER TABLE jobs DROP COLUMN archived;
                 PRAGMA user_version = 4;",
            )
            .expect("pretend an older schema");
    }
    let s = Store::open(&path).expect("migrate");
    let rec = s.job("01a").expect("q").expect("row");
    assert_eq!(
        rec.env,
        vec![("SIDEKICK_JOB_ID".to_string(), "01a".to_string())]
    );
    drop(s);
    let bytes = std::fs::read(&path).expect("read");
    let wal = std::fs::read(dir.path().join("db.sqlite-wal")).unwrap_or_default();
    for b in [bytes, wal] {
        assert!(!String::from_utf8_lossy(&b).contains("sk-secret"));
    }
}
