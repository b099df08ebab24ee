//! The live dialogs of jobs whose agents can ask: where each one's answers and replies go,
//! what the agent offered to remember per request, and the time the job spent waiting for the
//! user. A request opens here (the job waits), an answer closes it (the job works again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sidekick_agents::dialect;
use sidekick_protocol::{AnswerRequest, Job, JobState, Level, Request};
use sidekick_store::{ledger, NewEvent};
use tokio::sync::mpsc;

use crate::jobs::messages::Control;
use crate::ledger::Ledger;
use crate::{lock, EngineError, Result};

/// A live dialog: where answers go, what the agent proposed to remember per request, and the
/// time spent waiting for the user.
pub(crate) struct Dialog {
    tx: mpsc::UnboundedSender<Control>,
    /// Replies go to the agent while it works; false once its last turn has ended.
    accepting: bool,
    suggestions: HashMap<String, Value>,
    waiting_since: Option<Instant>,
    waited: Duration,
}

impl Dialog {
    pub(crate) fn new(tx: mpsc::UnboundedSender<Control>) -> Dialog {
        Dialog {
            tx,
            accepting: true,
            suggestions: HashMap::new(),
            waiting_since: None,
            waited: Duration::ZERO,
        }
    }
}

/// The dialogs of live jobs, by job id.
pub(crate) struct Dialogs {
    map: Mutex<HashMap<String, Dialog>>,
    ledger: Arc<Ledger>,
}

impl Dialogs {
    pub(crate) fn new(ledger: Arc<Ledger>) -> Dialogs {
        Dialogs {
            map: Mutex::new(HashMap::new()),
            ledger,
        }
    }

    /// Whether the job is in a dialog now.
    pub(crate) fn has(&self, job_id: &str) -> bool {
        lock(&self.map).contains_key(job_id)
    }

    pub(crate) fn open(&self, job_id: &str, tx: mpsc::UnboundedSender<Control>) {
        lock(&self.map).insert(job_id.to_string(), Dialog::new(tx));
    }

    /// Ends the dialog `tx` belongs to; a newer dialog of the same job (a reply's turn that
    /// started meanwhile) is left alone.
    pub(crate) fn close(&self, job_id: &str, tx: &mpsc::UnboundedSender<Control>) {
        let mut dialogs = lock(&self.map);
        if dialogs.get(job_id).is_some_and(|d| d.tx.same_channel(tx)) {
            dialogs.remove(job_id);
        }
    }

    /// Time the job has spent waiting for the user so far (a wait under way included).
    pub(crate) fn waited(&self, job_id: &str) -> Duration {
        lock(&self.map)
            .get(job_id)
            .map(|d| d.waited + d.waiting_since.map_or(Duration::ZERO, |t| t.elapsed()))
            .unwrap_or_default()
    }

    /// Passes what the agent said (a turn's end, its session, a request it cannot have
    /// answered...) to the job's dialog, if it still has one.
    pub(crate) fn tell(&self, job_id: &str, control: Control) {
        if let Some(d) = lock(&self.map).get(job_id) {
            let _ = d.tx.send(control);
        }
    }

    /// The dialog takes no more replies; returns one that got in before (it starts a turn, and
    /// replies are taken again).
    pub(crate) fn stop_taking_replies(
        &self,
        job_id: &str,
        rx: &mut mpsc::UnboundedReceiver<Control>,
    ) -> Option<String> {
        let mut dialogs = lock(&self.map);
        let d = dialogs.get_mut(job_id)?;
        // Under the lock no reply can be sent: whatever is queued is all there is.
        let mut reply = None;
        let mut rest = Vec::new();
        while let Ok(c) = rx.try_recv() {
            match c {
                Control::Say(text) if reply.is_none() => reply = Some(text),
                other => rest.push(other),
            }
        }
        for c in rest {
            let _ = d.tx.send(c);
        }
        d.accepting = reply.is_some();
        reply
    }

    /// A reply to an agent at work: sent as its next message when its dialog still takes
    /// replies. False when it does not (the agent is finishing its last turn).
    pub(crate) fn say(&self, job_id: &str, text: &str) -> bool {
        let dialogs = lock(&self.map);
        match dialogs.get(job_id) {
            Some(d) if d.accepting => d.tx.send(Control::Say(text.to_string())).is_ok(),
            _ => false,
        }
    }

    /// The agent asks the user: the request goes on the job, which waits.
    pub(crate) fn open_request(
        &self,
        job_id: &str,
        id: String,
        tool: String,
        input: Value,
        suggestions: Value,
    ) -> Result<()> {
        // "Allow for the rest of the job" only where the agent proposes what to remember.
        let can_remember = match &suggestions {
            // ACP's options, each of a kind: "always" only when one is offered.
            Value::Array(a) if a.iter().any(|o| o.get("kind").is_some()) => {
                a.iter().any(|o| o["kind"] == "allow_always")
            }
            Value::Array(a) => !a.is_empty(),
            Value::Null => false,
            _ => true,
        };
        let options = if can_remember {
            vec!["allow".into(), "allow_always".into(), "deny".into()]
        } else {
            vec!["allow".into(), "deny".into()]
        };
        let request = Request {
            detail: dialect::detail(&tool, &input),
            preview: sidekick_agents::preview::of(&tool, &input),
            id: id.clone(),
            tool,
            input,
            options,
            opened_at: self.ledger.now(),
        };
        {
            let mut dialogs = lock(&self.map);
            if let Some(d) = dialogs.get_mut(job_id) {
                d.suggestions.insert(id, suggestions);
                d.waiting_since.get_or_insert_with(Instant::now);
            }
        }
        let now = self.ledger.now();
        self.ledger.modify(job_id, |rec| {
            if rec.job.requests.iter().any(|r| r.id == request.id) {
                return Ok(((), Vec::new()));
            }
            let notice = format!("the agent asks to use {}: {}", request.tool, request.detail);
            rec.job.requests.push(request);
            if matches!(rec.job.state, JobState::Starting | JobState::Running) {
                ledger::move_to(rec, JobState::Waiting)?;
            }
            let event = NewEvent {
                job_id: rec.job.id.clone(),
                time: now,
                body: sidekick_protocol::EventBody::Notice {
                    level: Level::Warn,
                    message: notice,
                },
            };
            Ok(((), vec![event]))
        })?;
        Ok(())
    }

    /// Answers a request of a job that is waiting: the answer goes to the agent, the request
    /// closes, and the job works again once nothing is left open.
    pub(crate) fn answer(&self, reference: &str, req: AnswerRequest) -> Result<Job> {
        let id = self.ledger.resolve(reference)?.job.id;
        let now = self.ledger.now();
        let (_, rec) = self.ledger.modify(&id, |rec| {
            let codename = rec.job.codename.clone();
            let position = match &req.request {
                Some(wanted) => rec.job.requests.iter().position(|r| &r.id == wanted),
                None => (!rec.job.requests.is_empty()).then_some(0),
            };
            let Some(position) = position else {
                return Err(EngineError::InvalidState(match &req.request {
                    Some(wanted) => format!("job {codename} has no open request {wanted}"),
                    None => format!("job {codename} has asked nothing that is still open"),
                }));
            };
            let request = rec.job.requests.remove(position);
            {
                let gone = || {
                    EngineError::InvalidState(format!(
                        "job {codename}'s agent is no longer there to take an answer"
                    ))
                };
                let mut dialogs = lock(&self.map);
                let d = dialogs.get_mut(&rec.job.id).ok_or_else(gone)?;
                let offered = d.suggestions.remove(&request.id).unwrap_or(Value::Null);
                d.tx.send(Control::Answer {
                    id: request.id.clone(),
                    allow: req.allow,
                    always: req.always,
                    input: request.input.clone(),
                    offered,
                    message: req.message.clone(),
                })
                .map_err(|_| gone())?;
                if rec.job.requests.is_empty() {
                    if let Some(since) = d.waiting_since.take() {
                        d.waited += since.elapsed();
                    }
                }
            }
            if rec.job.requests.is_empty() && rec.job.state == JobState::Waiting {
                ledger::move_to(rec, JobState::Running)?;
            }
            let what = match (req.allow, req.always) {
                (true, true) => "allowed for the rest of the job",
                (true, false) => "allowed",
                (false, _) => "denied",
            };
            let mut message = format!("{what}: {} {}", request.tool, request.detail);
            if let Some(m) = req.message.as_deref().filter(|_| !req.allow) {
                message.push_str(&format!(" ({m})"));
            }
            let event = NewEvent {
                job_id: rec.job.id.clone(),
                time: now,
                body: sidekick_protocol::EventBody::Notice {
                    level: Level::Info,
                    message,
                },
            };
            Ok(((), vec![event]))
        })?;
        Ok(self.ledger.decorate(rec.job))
    }
}
