//! One job's output, streamed to the web view through a `tauri::ipc::Channel` in batches
//! (events are not meant for high throughput; a channel is ordered and cheap per message).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use sidekick_client::{Client, Followed};
use sidekick_protocol::{Event, EventBody, Job, Stream};
use tauri::async_runtime::JoinHandle;
use tauri::ipc::Channel;

/// Lines per message at most: a million-line backlog arrives in a few hundred messages.
const BATCH: usize = 5000;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "event", content = "payload", rename_all = "snake_case")]
pub enum OutputMessage {
    Lines {
        lines: Vec<OutputLine>,
    },
    /// The job has ended; no more lines will come.
    Ended {
        #[cfg_attr(test, ts(type = "Job"))]
        job: Box<Job>,
    },
    /// The stream broke for good; the sentence says why.
    Failed {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct OutputLine {
    pub seq: u64,
    #[cfg_attr(test, ts(type = "Stream"))]
    pub stream: Stream,
    pub text: String,
    /// A piece of an over-long line that continues in the next line of the same stream.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(test, ts(as = "Option<bool>", optional))]
    pub partial: bool,
}

/// The running output streams, so the UI can stop one when it leaves a job.
#[derive(Default)]
pub struct Followers {
    next: AtomicU32,
    tasks: Mutex<HashMap<u32, JoinHandle<()>>>,
}

impl Followers {
    pub fn stop(&self, id: u32) {
        let task = self.lock().remove(&id);
        if let Some(task) = task {
            task.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts streaming `job_id`'s output to `channel`; returns the stream's id.
pub fn follow(
    followers: &Followers,
    client: Client,
    job_id: String,
    channel: Channel<OutputMessage>,
) -> u32 {
    stream(followers, client, job_id, true, output_line, move |m| {
        channel.send(match m {
            Batch::Items(lines) => OutputMessage::Lines { lines },
            Batch::Ended(job) => OutputMessage::Ended { job },
            Batch::Failed(message) => OutputMessage::Failed { message },
        })
    })
}

/// What the transcript shows of a job: the agent's conversation entries and Sidekick's notices
/// (the user's replies, what the agent asked and the answers), in order.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "event", content = "payload", rename_all = "snake_case")]
pub enum TranscriptMessage {
    Events {
        #[cfg_attr(test, ts(type = "Event[]"))]
        events: Vec<Event>,
    },
    /// The job has ended; no more entries will come.
    Ended {
        #[cfg_attr(test, ts(type = "Job"))]
        job: Box<Job>,
    },
    /// The stream broke for good; the sentence says why.
    Failed { message: String },
}

/// Starts streaming `job_id`'s transcript events to `channel`; returns the stream's id.
pub fn follow_transcript(
    followers: &Followers,
    client: Client,
    job_id: String,
    channel: Channel<TranscriptMessage>,
) -> u32 {
    let pick = |item: Followed<'_>| match item {
        Followed::Event(ev)
            if matches!(
                ev.body,
                EventBody::Transcript { .. } | EventBody::Notice { .. }
            ) =>
        {
            Some(ev.clone())
        }
        _ => None,
    };
    stream(followers, client, job_id, false, pick, move |m| {
        channel.send(match m {
            Batch::Items(events) => TranscriptMessage::Events { events },
            Batch::Ended(job) => TranscriptMessage::Ended { job },
            Batch::Failed(message) => TranscriptMessage::Failed { message },
        })
    })
}

/// What a stream hands its channel: a batch of items, then the end or why it broke.
enum Batch<T> {
    Items(Vec<T>),
    Ended(Box<Job>),
    Failed(String),
}

/// Follows `job_id`'s events (output lines too when `output`) from the first until the job has
/// ended, handing what `pick` keeps to `send` in batches (one per catch-up, at most `BATCH`).
fn stream<T: Send + 'static>(
    followers: &Followers,
    client: Client,
    job_id: String,
    output: bool,
    pick: fn(Followed<'_>) -> Option<T>,
    send: impl Fn(Batch<T>) -> tauri::Result<()> + Send + Sync + 'static,
) -> u32 {
    let id = followers.next.fetch_add(1, Ordering::Relaxed) + 1;
    let task = tauri::async_runtime::spawn(async move {
        let mut batch = Vec::new();
        let result = client
            .follow_job(&job_id, output, |item| {
                let flush = matches!(item, Followed::CaughtUp);
                if let Some(it) = pick(item) {
                    batch.push(it);
                }
                if (flush || batch.len() >= BATCH) && !batch.is_empty() {
                    send(Batch::Items(std::mem::take(&mut batch)))
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                }
                Ok(())
            })
            .await;
        if !batch.is_empty() {
            let _ = send(Batch::Items(batch));
        }
        let _ = send(match result {
            Ok(job) => Batch::Ended(Box::new(job)),
            Err(e) => Batch::Failed(e.to_string()),
        });
    });
    let mut tasks = followers.lock();
    // Streams of ended jobs have finished on their own; forget them here.
    tasks.retain(|_, t| !t.inner().is_finished());
    tasks.insert(id, task);
    id
}

fn output_line(item: Followed<'_>) -> Option<OutputLine> {
    let Followed::Event(ev) = item else {
        return None;
    };
    match &ev.body {
        EventBody::Output {
            stream,
            line,
            partial,
        } => Some(OutputLine {
            seq: ev.seq,
            stream: *stream,
            text: line.clone(),
            partial: *partial,
        }),
        EventBody::Notice { message, .. } => Some(OutputLine {
            seq: ev.seq,
            stream: Stream::Stderr,
            text: format!("sidekick: {message}"),
            partial: false,
        }),
        EventBody::Step { n, tool, text } => Some(OutputLine {
            seq: ev.seq,
            stream: Stream::Stdout,
            text: match tool {
                Some(tool) => format!("▸ step {n} · {tool} · {text}"),
                None => format!("▸ step {n} · {text}"),
            },
            partial: false,
        }),
        EventBody::Summary { text } => Some(OutputLine {
            seq: ev.seq,
            stream: Stream::Stdout,
            text: format!("✔ {text}"),
            partial: false,
        }),
        EventBody::Job { .. } | EventBody::Transcript { .. } => None,
    }
}
