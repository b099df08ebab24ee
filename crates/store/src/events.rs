//! The event log: appends (output runs stored as chunks), reads after a cursor (chunks expanded
//! back into one event per line), and the last seq handed out.

use rusqlite::{params, OptionalExtension, Row};
use sidekick_protocol::{Event, EventBody, Level, Stream};

use super::*;

/// At most this many lines, and about this many bytes, go into one stored output chunk.
const CHUNK_LINES: usize = 1024;
const CHUNK_BYTES: usize = 256 * 1024;

impl Store {
    /// Appends events in one transaction and returns them with their `seq`. Runs of output
    /// lines (one job, one stream, one instant) are stored as chunks, each line keeping its own
    /// seq.
    pub fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.conn.transaction()?;
        // The last seq ever handed out (AUTOINCREMENT's record; chunks move it by hand).
        let last: Option<i64> = tx
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let mut next = last.unwrap_or(0) + 1;
        let mut out = Vec::with_capacity(events.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (seq, job_id, time, kind, stream, line, partial, data, count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut events = events.into_iter().peekable();
            while let Some(ev) = events.next() {
                let seq = next;
                let (kind, stream, line, partial, data, count): (
                    &str,
                    Option<&str>,
                    Option<String>,
                    bool,
                    Option<String>,
                    usize,
                ) = match &ev.body {
                    EventBody::Output {
                        stream,
                        line,
                        partial,
                    } => {
                        let mut text = line.clone();
                        let mut partials = Vec::new();
                        if *partial {
                            partials.push(0);
                        }
                        let mut rest = Vec::new();
                        while let Some(more) = events.peek() {
                            let same = more.job_id == ev.job_id
                                && more.time == ev.time
                                && rest.len() + 1 < CHUNK_LINES
                                && text.len() < CHUNK_BYTES
                                && matches!(&more.body, EventBody::Output { stream: s, .. } if s == stream);
                            if !same {
                                break;
                            }
                            let Some(more) = events.next() else { break };
                            if let EventBody::Output { line, partial, .. } = &more.body {
                                text.push('\n');
                                text.push_str(line);
                                if *partial {
                                    partials.push(rest.len() + 1);
                                }
                            }
                            rest.push(more);
                        }
                        let count = rest.len() + 1;
                        let data = (!partials.is_empty()).then(|| to_json(&partials));
                        let seq0 = seq;
                        out.push(Event {
                            seq: seq0 as u64,
                            time: ev.time,
                            job_id: ev.job_id.clone(),
                            body: ev.body.clone(),
                        });
                        for (i, e) in rest.into_iter().enumerate() {
                            out.push(Event {
                                seq: (seq0 + 1 + i as i64) as u64,
                                time: e.time,
                                job_id: e.job_id,
                                body: e.body,
                            });
                        }
                        stmt.execute(params![
                            seq,
                            ev.job_id,
                            ev.time as i64,
                            "output",
                            stream.as_str(),
                            text,
                            *partial && count == 1,
                            data,
                            count as i64
                        ])?;
                        next += count as i64;
                        continue;
                    }
                    EventBody::Job { job } => ("job", None, None, false, Some(to_json(job)), 1),
                    EventBody::Step { .. } => {
                        ("step", None, None, false, Some(to_json(&ev.body)), 1)
                    }
                    EventBody::Summary { .. } => {
                        ("summary", None, None, false, Some(to_json(&ev.body)), 1)
                    }
                    EventBody::Transcript { .. } => {
                        ("transcript", None, None, false, Some(to_json(&ev.body)), 1)
                    }
                    EventBody::Notice { level, message } => (
                        "notice",
                        Some(level_str(*level)),
                        Some(message.clone()),
                        false,
                        None,
                        1,
                    ),
                };
                stmt.execute(params![
                    seq,
                    ev.job_id,
                    ev.time as i64,
                    kind,
                    stream,
                    line,
                    partial,
                    data,
                    count as i64
                ])?;
                next += 1;
                out.push(Event {
                    seq: seq as u64,
                    time: ev.time,
                    job_id: ev.job_id,
                    body: ev.body,
                });
            }
        }
        // Seqs inside the last chunk are handed out too: never again.
        tx.execute(
            "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'events'",
            [next - 1],
        )?;
        tx.commit()?;
        Ok(out)
    }

    /// Events with `seq > since`, oldest first, at most `limit`.
    pub fn events_after(
        &self,
        since: u64,
        job_id: Option<&str>,
        include_output: bool,
        limit: usize,
    ) -> Result<Vec<Event>> {
        // A chunk that starts at or before `since` may still hold later lines; it starts at
        // most CHUNK_LINES before them, which keeps the lookup on the index.
        let mut sql = String::from(
            "SELECT seq, job_id, time, kind, stream, line, partial, data, count FROM events
             WHERE seq > ?4 AND seq + count - 1 > ?1",
        );
        if job_id.is_some() {
            sql.push_str(" AND job_id = ?3");
        }
        if !include_output {
            sql.push_str(" AND kind != 'output'");
        }
        sql.push_str(" ORDER BY seq LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        // Beyond i64 there are no events (a cast would wrap around to "everything").
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let lower = since.saturating_sub(CHUNK_LINES as i64);
        let rows_wanted = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = match job_id {
            Some(j) => stmt.query(params![since, rows_wanted, j, lower])?,
            None => stmt.query(params![since, rows_wanted, Option::<String>::None, lower])?,
        };
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            read_events(row, since as u64, &mut out)?;
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }

    /// The last seq handed out (0 when there was never an event).
    pub fn last_seq(&self) -> Result<u64> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(seq.unwrap_or(0).max(0) as u64)
    }
}

/// Adds the events of one stored row with a seq after `since` to `out` (a chunk of output
/// lines gives one event per line).
fn read_events(r: &Row<'_>, since: u64, out: &mut Vec<Event>) -> Result<()> {
    let seq = r.get::<_, i64>(0)?.max(0) as u64;
    let kind: String = r.get(3)?;
    if kind != "output" {
        if seq > since {
            out.push(read_event(r)?);
        }
        return Ok(());
    }
    let job_id: String = r.get(1)?;
    let time = r.get::<_, i64>(2)?.max(0) as u64;
    let stream = match r.get::<_, Option<String>>(4)?.as_deref() {
        Some("stderr") => Stream::Stderr,
        _ => Stream::Stdout,
    };
    let text = r.get::<_, Option<String>>(5)?.unwrap_or_default();
    let count = r.get::<_, i64>(8)?.max(1) as u64;
    let partials: Vec<u64> = match r.get::<_, Option<String>>(7)? {
        Some(d) => from_json(&d)?,
        // Rows written before chunks: one line, its own flag.
        None if r.get::<_, bool>(6)? => vec![0],
        None => Vec::new(),
    };
    let mut lines = 0;
    for (i, line) in text.split('\n').enumerate() {
        lines += 1;
        let at = seq + i as u64;
        if at <= since {
            continue;
        }
        out.push(Event {
            seq: at,
            time,
            job_id: job_id.clone(),
            body: EventBody::Output {
                stream,
                line: line.to_string(),
                partial: partials.contains(&(i as u64)),
            },
        });
    }
    if lines != count {
        return Err(StoreError::Corrupt(format!(
            "output chunk at seq {seq} holds {lines} lines, not {count}"
        )));
    }
    Ok(())
}

fn read_event(r: &Row<'_>) -> Result<Event> {
    let seq: i64 = r.get(0)?;
    let job_id: String = r.get(1)?;
    let time: i64 = r.get(2)?;
    let kind: String = r.get(3)?;
    let body = match kind.as_str() {
        "job" => {
            let data: Option<String> = r.get(7)?;
            EventBody::Job {
                job: from_json(data.as_deref().unwrap_or("null"))?,
            }
        }
        "notice" => {
            let level: Option<String> = r.get(4)?;
            EventBody::Notice {
                level: match level.as_deref() {
                    Some("error") => Level::Error,
                    Some("warn") => Level::Warn,
                    _ => Level::Info,
                },
                message: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
            }
        }
        "step" | "summary" | "transcript" => {
            let data: Option<String> = r.get(7)?;
            from_json(data.as_deref().unwrap_or("null"))?
        }
        other => return Err(StoreError::Corrupt(format!("event kind '{other}'"))),
    };
    Ok(Event {
        seq: seq.max(0) as u64,
        time: time.max(0) as u64,
        job_id,
        body,
    })
}
