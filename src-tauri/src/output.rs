//! One job's output, streamed to the web view through a `tauri::ipc::Channel` in batches
//! (events are not meant for high throughput; a channel is ordered and cheap per message).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use sidekick_client::{Client, Followed};
use sidekick_protocol::{EventBody, Job, Stream};
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
    let id = followers.next.fetch_add(1, Ordering::Relaxed) + 1;
    let task = tauri::async_runtime::spawn(async move {
        let mut batch = Vec::new();
        let result = client
            .follow_job(&job_id, true, |item| {
                if let Some(line) = output_line(item) {
                    batch.push(line);
                }
                let flush = matches!(item, Followed::CaughtUp) || batch.len() >= BATCH;
                if flush && !batch.is_empty() {
                    let lines = std::mem::take(&mut batch);
                    channel
                        .send(OutputMessage::Lines { lines })
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                }
                Ok(())
            })
            .await;
        if !batch.is_empty() {
            let _ = channel.send(OutputMessage::Lines { lines: batch });
        }
        let _ = channel.send(match result {
            Ok(job) => OutputMessage::Ended { job: Box::new(job) },
            Err(e) => OutputMessage::Failed {
                message: e.to_string(),
            },
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
        EventBody::Job { .. } => None,
    }
}
