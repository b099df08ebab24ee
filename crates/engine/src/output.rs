//! Turning a child's byte streams into output events without losing or reordering anything.
//!
//! Each stream is read in large chunks and split into lines; lines travel in batches over a
//! bounded channel to one sink per job, which appends them to the job's log file and to the
//! event log in one transaction per batch. When the sink falls behind, the channel fills, the
//! readers stop reading, the pipe fills and the agent blocks on write: back-pressure, not loss.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sidekick_protocol::{EventBody, Stream};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::jobs::handle::JobHandle;
use crate::jobs::messages::{Progress, Said};
use sidekick_agents::parse::{Parsed, Parser};
use sidekick_store::NewEvent;

/// The agent's output parser and where its findings go.
pub(crate) struct Reader {
    pub parser: Box<dyn Parser>,
    pub progress: Arc<Mutex<Progress>>,
    /// What the dialog has to act on, in order (taken after each batch).
    pub said: Vec<Said>,
    /// The stdout line being read continues a partial piece (not a whole line: not parsed).
    continuing: bool,
}

impl Reader {
    pub fn new(parser: Box<dyn Parser>, progress: Arc<Mutex<Progress>>) -> Reader {
        Reader {
            parser,
            progress,
            said: Vec::new(),
            continuing: false,
        }
    }

    /// Parses one whole stdout line into step and summary events (after the line's own).
    fn read(&mut self, job_id: &str, time: u64, line: &str, events: &mut Vec<NewEvent>) {
        let mut found = Vec::new();
        self.parser.line(line, &mut found);
        self.record(job_id, time, found, events);
    }

    fn finish(&mut self, job_id: &str, time: u64, events: &mut Vec<NewEvent>) {
        let mut found = Vec::new();
        self.parser.finish(&mut found);
        self.record(job_id, time, found, events);
    }

    fn record(&mut self, job_id: &str, time: u64, found: Vec<Parsed>, events: &mut Vec<NewEvent>) {
        if found.is_empty() {
            return;
        }
        let mut p = crate::lock(&self.progress);
        for item in found {
            let body = match item {
                Parsed::Step { tool, text } => {
                    p.steps = p.steps.saturating_add(1);
                    EventBody::Step {
                        n: p.steps,
                        tool,
                        text,
                    }
                }
                Parsed::Usage {
                    input,
                    output,
                    cached,
                    cost_usd,
                } => {
                    let earlier = p.earlier_tokens;
                    p.tokens = sidekick_protocol::Tokens {
                        input: earlier.input.saturating_add(input),
                        output: earlier.output.saturating_add(output),
                        cached: earlier.cached.saturating_add(cached),
                    };
                    if let Some(c) = cost_usd {
                        p.cost_usd = Some(p.earlier_cost_usd.unwrap_or(0.0) + c);
                    }
                    continue;
                }
                Parsed::Summary(text) => {
                    p.summary = Some(text.clone());
                    EventBody::Summary { text }
                }
                Parsed::Session(id) => {
                    p.session = Some(id);
                    p.opened = true;
                    continue;
                }
                Parsed::Ask {
                    id,
                    tool,
                    input,
                    suggestions,
                } => {
                    self.said.push(Said::Ask {
                        id,
                        tool,
                        input,
                        suggestions,
                    });
                    continue;
                }
                Parsed::TurnEnded => {
                    self.said.push(Said::TurnEnded);
                    continue;
                }
                Parsed::Heard => {
                    self.said.push(Said::Heard);
                    continue;
                }
                Parsed::SessionReady(id) => {
                    self.said.push(Said::SessionReady(id));
                    continue;
                }
                Parsed::Failed(why) => {
                    p.failure.get_or_insert(why);
                    self.said.push(Said::Failed);
                    continue;
                }
                Parsed::Unanswerable { id, method } => {
                    self.said.push(Said::Unanswerable { id, method });
                    continue;
                }
                Parsed::Loaded => {
                    self.said.push(Said::Loaded);
                    continue;
                }
                Parsed::SessionLost(why) => {
                    self.said.push(Said::SessionLost(why));
                    continue;
                }
                Parsed::Entry(sidekick_protocol::Entry::Turn { .. }) => EventBody::Transcript {
                    entry: sidekick_protocol::Entry::Turn {
                        tokens: p.tokens,
                        cost_usd: p.cost_usd,
                    },
                },
                Parsed::Entry(entry) => EventBody::Transcript { entry },
            };
            events.push(NewEvent {
                job_id: job_id.to_string(),
                time,
                body,
            });
        }
    }
}

/// Lines longer than this are cut into pieces marked `partial` (the log file keeps them whole).
pub const MAX_LINE: usize = 4 * 1024 * 1024;
const READ_CHUNK: usize = 64 * 1024;
/// Upper bound on lines written in one transaction.
const MAX_BATCH: usize = 16_384;

/// Output lines of one job kept in the database (what `logs` and the app show); beyond them the
/// log file alone has the output, and a notice says so.
pub(crate) const MAX_STORED_LINES: u64 = 1_000_000;

/// How often the agent's progress is sent as a job event while output streams in.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether an I/O error means the disk is full (or the user's quota is used up).
fn io_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Whether storing failed because the database's disk is full.
fn store_disk_full(e: &crate::EngineError) -> bool {
    matches!(e, crate::EngineError::Store(s) if s.is_disk_full())
}

/// One line (or piece of an over-long line) as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub bytes: Vec<u8>,
    /// More of the same line follows in the next piece.
    pub partial: bool,
    /// The piece ended with a newline in the stream (false for pieces of long lines and for an
    /// unterminated last line), so the log file can reproduce the bytes exactly.
    pub newline: bool,
}

/// Splits a byte stream into lines. Keeps at most `max` bytes of an unfinished line.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
}

impl LineSplitter {
    pub fn new(max: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Feeds bytes; complete lines (without `\n`) are pushed to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<Piece>) {
        while !chunk.is_empty() {
            match chunk.iter().position(|b| *b == b'\n') {
                Some(nl) => {
                    self.take_bytes(&chunk[..nl], out);
                    out.push(Piece {
                        bytes: std::mem::take(&mut self.buf),
                        partial: false,
                        newline: true,
                    });
                    chunk = &chunk[nl + 1..];
                }
                None => {
                    self.take_bytes(chunk, out);
                    chunk = &[];
                }
            }
        }
    }

    fn take_bytes(&mut self, mut bytes: &[u8], out: &mut Vec<Piece>) {
        while self.buf.len() + bytes.len() > self.max {
            let room = self.max - self.buf.len();
            self.buf.extend_from_slice(&bytes[..room]);
            bytes = &bytes[room..];
            out.push(Piece {
                bytes: std::mem::take(&mut self.buf),
                partial: true,
                newline: false,
            });
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The stream ended: an unfinished last line is still a line.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        if !self.buf.is_empty() {
            out.push(Piece {
                bytes: std::mem::take(&mut self.buf),
                partial: false,
                newline: false,
            });
        }
    }
}

/// A batch of lines from one stream.
pub(crate) struct Batch {
    stream: Stream,
    time: u64,
    pieces: Vec<Piece>,
}

/// Reads `reader` to its end, sending lines to the sink.
pub(crate) async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    stream: Stream,
    tx: mpsc::Sender<Batch>,
    handle: JobHandle,
) {
    let mut splitter = LineSplitter::new(MAX_LINE);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "reading agent output failed");
                break;
            }
        };
        let mut pieces = Vec::new();
        splitter.push(&buf[..n], &mut pieces);
        if !pieces.is_empty() {
            let batch = Batch {
                stream,
                time: handle.now(),
                pieces,
            };
            if tx.send(batch).await.is_err() {
                return;
            }
        }
    }
    let mut pieces = Vec::new();
    splitter.finish(&mut pieces);
    if !pieces.is_empty() {
        let _ = tx
            .send(Batch {
                stream,
                time: handle.now(),
                pieces,
            })
            .await;
    }
}

/// Persists batches until every sender is gone: log file first, then the event log.
pub(crate) async fn sink(
    handle: JobHandle,
    log_path: PathBuf,
    mut rx: mpsc::Receiver<Batch>,
    mut reader: Option<Reader>,
) {
    let job_id = handle.job_id().to_string();
    let mut log = match crate::private::file_options()
        .create(true)
        .append(true)
        .open(&log_path)
    {
        Ok(f) => Some(std::io::BufWriter::with_capacity(256 * 1024, f)),
        Err(e) => {
            tracing::error!(path = %log_path.display(), error = %e, "cannot open the job's log file");
            None
        }
    };
    // Output lines stored so far, and whether a full disk was already reported.
    let mut stored: u64 = 0;
    let mut full_told = false;
    // The agent's progress (steps, tokens) goes out as a job event at most once per
    // PROGRESS_EVERY; the job's row is always current. `untold`: a change not yet sent.
    let mut progress_told: Option<std::time::Instant> = None;
    let mut untold = false;
    loop {
        let next = if untold {
            // A change is waiting to be told: tell it once the output pauses.
            match tokio::time::timeout(PROGRESS_EVERY, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    if let Some(r) = &reader {
                        let now = crate::lock(&r.progress).clone();
                        let handle2 = handle.clone();
                        let _ =
                            tokio::task::spawn_blocking(move || handle2.progress(&now, true)).await;
                    }
                    progress_told = Some(std::time::Instant::now());
                    untold = false;
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = next else { break };
        if full_told {
            // The disk is full: the rest is read and dropped, so the room the reserve gave
            // back is left for the job's end (its state, its commit).
            continue;
        }
        let mut batches = vec![first];
        let mut lines = batches[0].pieces.len();
        while lines < MAX_BATCH {
            match rx.try_recv() {
                Ok(b) => {
                    lines += b.pieces.len();
                    batches.push(b);
                }
                Err(_) => break,
            }
        }
        let handle2 = handle.clone();
        let job = job_id.clone();
        let mut file = log.take();
        let mut rd = reader.take();
        let log_shown = log_path.display().to_string();
        let may_tell = progress_told.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY);
        let joined = tokio::task::spawn_blocking(move || {
            let before = rd.as_ref().map(|r| crate::lock(&r.progress).clone());
            let mut log_error = None;
            let mut events = to_events(&job, batches, file.as_mut(), rd.as_mut(), &mut log_error);
            if let Some(f) = file.as_mut() {
                if let Err(e) = f.flush() {
                    log_error = Some(e);
                }
            }
            if log_error.is_some() {
                file = None; // what was written stays; nothing more is tried
            }
            let stored = keep_stored(&job, &mut events, stored, &log_shown);
            let mut full = None;
            if let Some(e) = &log_error {
                tracing::error!(error = %e, "writing the job's log file failed");
                if io_disk_full(e) {
                    full = Some(format!("no space left for the job's log file {log_shown}"));
                }
            }
            if let Err(e) = handle2.append(events) {
                tracing::error!(job = %job, error = %e, "storing output failed");
                if store_disk_full(&e) && full.is_none() {
                    full = Some("no space left for Sidekick's database".to_string());
                }
            }
            // What the agent asked (the job waits) and whether it finished its answer.
            if let Some(r) = rd.as_mut() {
                for said in std::mem::take(&mut r.said) {
                    handle2.said(said);
                }
            }
            let mut progress = (false, false); // (changed, told)
            if let Some(r) = &rd {
                let now = crate::lock(&r.progress).clone();
                progress.0 = before.as_ref() != Some(&now);
                // The caps are checked on every change; the job event waits its turn.
                let tell = (progress.0 || untold) && may_tell;
                if progress.0 || tell {
                    handle2.progress(&now, tell);
                    progress.1 = tell;
                }
            }
            (file, rd, stored, full, progress)
        })
        .await;
        match joined {
            Ok((f, rd, now_stored, full, (changed, told))) => {
                log = f;
                reader = rd;
                stored = now_stored;
                if told {
                    progress_told = Some(std::time::Instant::now());
                    untold = false;
                } else if changed {
                    untold = true;
                }
                if let Some(what) = full.filter(|_| !full_told) {
                    full_told = true;
                    handle.disk_full(what);
                }
            }
            Err(e) => tracing::error!(error = %e, "output writer task failed"),
        }
    }
    // The output has ended: a parser may still have a summary to give.
    if let Some(mut r) = reader {
        let mut events = Vec::new();
        r.finish(&job_id, handle.now(), &mut events);
        let summary = !events.is_empty();
        if summary {
            if let Err(e) = handle.append(events) {
                tracing::error!(job = %job_id, error = %e, "storing the summary failed");
            }
        }
        if summary || untold {
            let now = crate::lock(&r.progress).clone();
            handle.progress(&now, true);
        }
    }
}

/// Keeps the first [`MAX_STORED_LINES`] output lines of a job (`stored` of them are stored
/// already) and drops the rest from `events`, adding a notice in the batch that crosses the
/// line. Returns the new count.
fn keep_stored(job_id: &str, events: &mut Vec<NewEvent>, stored: u64, log: &str) -> u64 {
    let mut count = stored;
    let mut crossed = None;
    events.retain(|ev| {
        if !matches!(ev.body, EventBody::Output { .. }) {
            return true;
        }
        count += 1;
        if count == MAX_STORED_LINES + 1 {
            crossed = Some(ev.time);
        }
        count <= MAX_STORED_LINES
    });
    if let Some(time) = crossed {
        events.push(NewEvent {
            job_id: job_id.to_string(),
            time,
            body: EventBody::Notice {
                level: sidekick_protocol::Level::Warn,
                message: format!(
                    "the output goes on beyond {MAX_STORED_LINES} lines; the rest is only in the log file {log}"
                ),
            },
        });
    }
    count
}

fn to_events(
    job_id: &str,
    batches: Vec<Batch>,
    mut log: Option<&mut std::io::BufWriter<std::fs::File>>,
    mut reader: Option<&mut Reader>,
    log_error: &mut Option<std::io::Error>,
) -> Vec<NewEvent> {
    let mut events = Vec::with_capacity(batches.iter().map(|b| b.pieces.len()).sum());
    for batch in batches {
        for piece in batch.pieces {
            if let Some(f) = log.as_deref_mut() {
                let written = f.write_all(&piece.bytes).and_then(|_| {
                    if piece.newline {
                        f.write_all(b"\n")
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = written {
                    *log_error = Some(e);
                    log = None;
                }
            }
            let line = match String::from_utf8(piece.bytes) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            let parse_it = batch.stream == Stream::Stdout;
            let whole =
                parse_it && reader.as_ref().is_some_and(|r| !r.continuing) && !piece.partial;
            let parse_line = whole.then(|| line.clone());
            events.push(NewEvent {
                job_id: job_id.to_string(),
                time: batch.time,
                body: EventBody::Output {
                    stream: batch.stream,
                    line,
                    partial: piece.partial,
                },
            });
            if let Some(r) = reader.as_deref_mut() {
                if parse_it {
                    if let Some(l) = parse_line {
                        r.read(job_id, batch.time, &l, &mut events);
                    }
                    // An over-long line (cut into pieces) is raw output only.
                    r.continuing = piece.partial;
                }
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<(String, bool)> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out.into_iter()
            .map(|p| (String::from_utf8_lossy(&p.bytes).into_owned(), p.partial))
            .collect()
    }

    #[test]
    fn splits_across_chunk_boundaries() {
        assert_eq!(
            split(&[b"one\ntw", b"o\n\nthr", b"ee"], 100),
            vec![
                ("one".into(), false),
                ("two".into(), false),
                ("".into(), false),
                ("three".into(), false)
            ]
        );
        assert!(split(&[b""], 100).is_empty());
        assert_eq!(split(&[b"x\n"], 100), vec![("x".into(), false)]);
    }

    #[test]
    fn cuts_over_long_lines_into_marked_pieces() {
        assert_eq!(
            split(&[b"abcdefg", b"hij\nk"], 4),
            vec![
                ("abcd".into(), true),
                ("efgh".into(), true),
                ("ij".into(), false),
                ("k".into(), false)
            ]
        );
        // A line of exactly the maximum stays whole.
        assert_eq!(split(&[b"abcd\n"], 4), vec![("abcd".into(), false)]);
    }

    #[test]
    fn rejoining_pieces_gives_back_the_stream() {
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("line {i} {}\n", "z".repeat((i % 37) as usize)).into_bytes())
            .collect();
        let mut text = text;
        text.extend_from_slice(b"unterminated");
        let mut s = LineSplitter::new(16);
        let mut out = Vec::new();
        for chunk in text.chunks(7) {
            s.push(chunk, &mut out);
        }
        s.finish(&mut out);
        let mut back = Vec::new();
        for p in out {
            back.extend_from_slice(&p.bytes);
            if p.newline {
                back.push(b'\n');
            }
        }
        assert_eq!(back, text);
    }

    #[test]
    fn the_database_keeps_the_first_lines_and_says_where_the_rest_is() {
        let out = |n: u64| NewEvent {
            job_id: "j".into(),
            time: n,
            body: EventBody::Output {
                stream: Stream::Stdout,
                line: n.to_string(),
                partial: false,
            },
        };
        let mut events: Vec<NewEvent> = (0..10).map(out).collect();
        let count = keep_stored("j", &mut events, MAX_STORED_LINES - 4, "/l.log");
        assert_eq!(count, MAX_STORED_LINES + 6);
        assert_eq!(events.len(), 5, "four lines and the notice");
        assert!(matches!(
            &events[4].body,
            EventBody::Notice { message, .. } if message.contains("/l.log")
        ));
        let mut more: Vec<NewEvent> = (0..3).map(out).collect();
        assert_eq!(keep_stored("j", &mut more, count, "/l.log"), count + 3);
        assert!(more.is_empty(), "no second notice, no more lines");
    }
}
