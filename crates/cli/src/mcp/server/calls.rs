//! Each MCP tool's call: the arguments read, the host asked, the answer in words and JSON.

use super::*;

/// A tool's arguments, or a sentence saying what is wrong with them.
pub(super) fn parse<T: DeserializeOwned>(tool: &str, args: &JsonObject) -> Result<T, String> {
    serde_json::from_value(Value::Object(args.clone()))
        .map_err(|e| format!("bad arguments for {tool}: {e}"))
}

/// A tool's answer: text for the model, and the same as JSON for programs. Some clients (Claude
/// Code) give their model only the JSON when there is JSON, so it carries the text too, as
/// `message`.
pub(super) fn answer(text: impl Into<String>, mut value: Value) -> CallToolResult {
    let text = text.into();
    if let Value::Object(o) = &mut value {
        o.insert("message".into(), Value::String(text.clone()));
    }
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = Some(value);
    r
}

/// The fields of a job a caller needs to decide what to do next.
pub(super) fn brief(job: &Job) -> Value {
    json!({
        "id": job.id,
        "codename": job.codename,
        "state": job.state,
        "agent": job.agent,
        "task": job.task,
        "repo": job.repo,
        "branch": job.branch,
        "worktree": job.worktree,
        "parent_id": job.parent_id,
        "spawned_by": job.spawned_by,
        "steps": job.steps,
        "tokens": job.tokens,
        "summary": job.summary,
        "reason": job.reason,
        "exit_code": job.exit_code,
        "files_changed": job.files_changed,
        "insertions": job.insertions,
        "deletions": job.deletions,
        "requests": job.requests.iter().map(|r| json!({"id": r.id, "tool": r.tool, "detail": r.detail})).collect::<Vec<_>>(),
        "turns": job.turns,
    })
}

pub(super) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

pub(super) fn seconds(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => sidekick_protocol::format_duration(ms),
        None => "-".into(),
    }
}

impl Sidekick {
    pub(super) async fn spawn(&self, a: SpawnArgs) -> Result<CallToolResult, String> {
        let s = &self.shared;
        let timeout_ms =
            match &a.timeout {
                Some(t) => Some(sidekick_protocol::parse_duration(t).map_err(|e| {
                    format!("timeout '{t}': {e} (use a duration like 90s, 30m, 2h)")
                })?),
                None => None,
            };
        let context = match a.context.as_deref() {
            None => None,
            Some("full") => Some(ContextMode::Full),
            Some("task_only") => Some(ContextMode::TaskOnly),
            Some(other) => return Err(format!("context must be task_only or full, not '{other}'")),
        };
        if a.auto_merge == Some(true) && !s.allow_merge {
            return Err("auto_merge is not offered: the user's config does not allow it ([mcp] allow_merge = true)".into());
        }
        let req = SpawnRequest {
            auto_merge: a.auto_merge,
            repo: s.folder(a.repo.as_deref()).display().to_string(),
            task: a.task.unwrap_or_default(),
            agent: a.agent,
            base: a.base,
            timeout_ms,
            parent: s.parent.clone(),
            max_steps: a.max_steps,
            token_budget: a.token_budget,
            task_type: a.task_type,
            inputs: a.inputs,
            context,
            context_text: a.context_text,
            context_from: a.context_from,
            spawned_by: lock(&s.client_name).clone(),
            ..SpawnRequest::default()
        };
        let client = s.client().await?;
        let job = client.spawn(&req).await.map_err(|e| e.to_string())?;
        lock(&s.spawned).push(job.id.clone());
        let text = format!(
            "Started sidekick {codename} (id {id}): {agent} works on it in the background on branch {branch}, in its own worktree. \
             Call `wait` with job \"{codename}\" to join it, `logs` to follow it, `diff` to see its changes.",
            codename = job.codename,
            id = job.id,
            agent = job.agent,
            branch = job.branch,
        );
        Ok(answer(text, brief(&job)))
    }

    pub(super) async fn wait(
        &self,
        a: WaitArgs,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let timeout_s = a.timeout_s.unwrap_or(WAIT_DEFAULT_S);
        if !timeout_s.is_finite() || !(0.0..=WAIT_MAX_S).contains(&timeout_s) {
            return Err(format!(
                "timeout_s must be a number of seconds from 0 to {WAIT_MAX_S}, not {timeout_s}"
            ));
        }
        let client = self.shared.client().await?;
        let job = client.job(&a.job).await.map_err(|e| e.to_string())?;
        let token = context.meta.get_progress_token();
        let waiting = client.wait(&job.id, Some(Duration::from_secs_f64(timeout_s)));
        tokio::pin!(waiting);
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        tick.tick().await;
        let ended = loop {
            tokio::select! {
                r = &mut waiting => break r.map_err(|e| e.to_string())?,
                _ = tick.tick() => {
                    let Some(token) = &token else { continue };
                    let Ok(now) = client.job(&job.id).await else { continue };
                    let mut p = ProgressNotificationParam::new(token.clone(), started.elapsed().as_secs_f64());
                    p.total = Some(timeout_s);
                    p.message = Some(format!("{} is {} · {} steps", now.codename, now.state, now.steps));
                    let _ = context.peer.notify_progress(p).await;
                }
                _ = context.ct.cancelled() => return Err("the wait was cancelled".into()),
            }
        };
        match ended {
            Some(job) => Ok(self.ended(&client, job).await),
            None => {
                let now = client.job(&job.id).await.map_err(|e| e.to_string())?;
                let mut text = format!(
                    "{} is still {} after {timeout_s}s ({} steps so far). Call `wait` again to keep waiting, or `logs` to see what it does.",
                    now.codename, now.state, now.steps
                );
                if !now.requests.is_empty() {
                    text.push_str("\nIt waits for the user's answer to:");
                    for r in &now.requests {
                        text.push_str(&format!("\n- {}: {}", r.tool, r.detail));
                    }
                    text.push_str("\nThe user answers in Sidekick (the app, a notification or `sidekick allow`).");
                }
                let mut v = brief(&now);
                v["ended"] = json!(false);
                Ok(answer(text, v))
            }
        }
    }

    /// What an ended job left: its state, summary or reason, exit code and changed files.
    pub(super) async fn ended(&self, client: &Client, job: Job) -> CallToolResult {
        let mut text = format!(
            "{} {} after {}.",
            job.codename,
            job.state,
            seconds(job.duration_ms)
        );
        if let Some(s) = &job.summary {
            text.push_str(&format!("\nSummary: {s}"));
        }
        if let Some(r) = &job.reason {
            text.push_str(&format!("\nReason: {r}"));
        }
        if let Some(code) = job.exit_code {
            text.push_str(&format!("\nExit code: {code}"));
        }
        let mut stat = None;
        if job.files_changed.unwrap_or(0) > 0 {
            if let Ok(diff) = client.diff(&job.id).await {
                let s = unified::stat(&diff, 80);
                text.push_str(&format!(
                    "\nChanges on branch {} (not merged):\n{s}",
                    job.branch
                ));
                stat = Some(s);
            }
        } else {
            text.push_str("\nNo changes.");
        }
        let mut v = brief(&job);
        v["ended"] = json!(true);
        v["diff_stat"] = json!(stat);
        answer(text, v)
    }

    pub(super) async fn status(&self, a: JobArg) -> Result<CallToolResult, String> {
        let client = self.shared.client().await?;
        let job = client.job(&a.job).await.map_err(|e| e.to_string())?;
        let text = render::job_details(&job, render::now_ms());
        Ok(answer(text, serde_json::to_value(&job).unwrap_or_default()))
    }

    pub(super) async fn list(&self, a: ListArgs) -> Result<CallToolResult, String> {
        let client = self.shared.client().await?;
        let jobs: Vec<Job> = client
            .jobs(true)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|j| a.all || self.shared.is_mine(&j.id))
            .collect();
        let text = if jobs.is_empty() && !a.all {
            "No jobs started in this conversation yet; `spawn` starts one (`list` with all: true shows every job).".to_string()
        } else if jobs.is_empty() {
            "Sidekick has no jobs.".to_string()
        } else {
            render::job_table(&jobs, render::now_ms())
        };
        Ok(answer(
            text,
            json!({"jobs": jobs.iter().map(brief).collect::<Vec<_>>()}),
        ))
    }

    pub(super) async fn logs(&self, a: LogsArgs) -> Result<CallToolResult, String> {
        let max = a.max_lines.unwrap_or(LOGS_DEFAULT_LINES);
        if max == 0 || max > LOGS_MAX_LINES {
            return Err(format!(
                "max_lines must be from 1 to {LOGS_MAX_LINES}, not {max}"
            ));
        }
        let client = self.shared.client().await?;
        let job = client.job(&a.job).await.map_err(|e| e.to_string())?;
        let since = a.since.unwrap_or(0);
        let mut stream = client
            .events(&EventQuery {
                since,
                job: Some(job.id.clone()),
                output: a.raw,
                follow: false,
            })
            .await
            .map_err(|e| e.to_string())?;
        let mut lines = Vec::new();
        let mut cursor = since;
        let mut state = None;
        let mut more = false;
        while let Some(ev) = stream.next().await.map_err(|e| e.to_string())? {
            if lines.len() >= max {
                more = true;
                break;
            }
            cursor = ev.seq;
            if let Some(line) = log_line(&ev.body, a.raw, &mut state) {
                lines.push(line);
            }
        }
        let now = client.job(&job.id).await.map_err(|e| e.to_string())?;
        let mut text = lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "[cursor {cursor}; {} is {}{}]",
            now.codename,
            now.state,
            if more {
                "; more lines: call logs again with since set to the cursor"
            } else if now.settled() {
                ""
            } else {
                "; call logs again with since set to the cursor for what comes next"
            }
        ));
        Ok(answer(
            text,
            json!({"cursor": cursor, "state": now.state, "ended": now.settled(), "more": more, "lines": lines}),
        ))
    }

    pub(super) async fn cancel(&self, a: JobArg) -> Result<CallToolResult, String> {
        let client = self.shared.client().await?;
        let job = self.shared.own_job(&client, &a.job).await?;
        let asked = client.cancel(&job.id).await.map_err(|e| e.to_string())?;
        let job = match client
            .wait(&asked.id, Some(Duration::from_secs(60)))
            .await
            .map_err(|e| e.to_string())?
        {
            Some(job) => job,
            None => {
                return Err(format!(
                    "{} was asked to stop but has not ended within a minute",
                    asked.codename
                ))
            }
        };
        let text = format!(
            "{} is {}{}; its work so far is on branch {}.",
            job.codename,
            job.state,
            job.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            job.branch
        );
        Ok(answer(text, brief(&job)))
    }

    pub(super) async fn diff(&self, a: DiffArgs) -> Result<CallToolResult, String> {
        let client = self.shared.client().await?;
        let diff = client.diff(&a.job).await.map_err(|e| e.to_string())?;
        let files: Vec<Value> = diff
            .files
            .iter()
            .map(|f| json!({"path": f.path, "status": f.status, "insertions": f.insertions, "deletions": f.deletions, "binary": f.binary}))
            .collect();
        let mut text = if diff.files.is_empty() {
            "No changes.".to_string()
        } else if a.patch {
            unified::patch(&diff, Colors::none())
        } else {
            unified::stat(&diff, 80)
        };
        if text.len() > PATCH_MAX_CHARS {
            let mut cut = PATCH_MAX_CHARS;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(&format!(
                "\n[cut at {PATCH_MAX_CHARS} characters; `sidekick diff {}` shows it all]",
                a.job
            ));
        }
        Ok(answer(
            text,
            json!({"files_changed": diff.files_changed, "insertions": diff.insertions, "deletions": diff.deletions, "truncated": diff.truncated, "files": files}),
        ))
    }

    pub(super) async fn agents(&self) -> Result<CallToolResult, String> {
        let client = self.shared.client().await?;
        let agents = client.agents().await.map_err(|e| e.to_string())?;
        Ok(answer(
            render::agent_table(&agents),
            json!({"agents": agents}),
        ))
    }

    pub(super) async fn tasks(&self, a: TasksArgs) -> Result<CallToolResult, String> {
        let repo = self.shared.folder(a.repo.as_deref());
        let client = self.shared.client().await?;
        let tasks = client
            .tasks(&repo.display().to_string())
            .await
            .map_err(|e| e.to_string())?;
        let text = if tasks.is_empty() {
            format!(
                "{} has no task types (.sidekick/tasks/NAME/task.toml).",
                repo.display()
            )
        } else {
            tasks
                .iter()
                .map(|t| {
                    let inputs: Vec<String> = t
                        .inputs
                        .iter()
                        .map(|i| {
                            format!("{}{}", i.name, if i.required { " (required)" } else { "" })
                        })
                        .collect();
                    match &t.error {
                        Some(e) => format!("{}: broken: {e}", t.name),
                        None => format!(
                            "{}: {} [agent {}; inputs: {}]",
                            t.name,
                            t.description,
                            t.agent,
                            if inputs.is_empty() {
                                "none".into()
                            } else {
                                inputs.join(", ")
                            }
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(answer(text, json!({"tasks": tasks})))
    }

    pub(super) async fn reply(&self, a: ReplyArgs) -> Result<CallToolResult, String> {
        let client = self.shared.client().await?;
        let job = self.shared.own_job(&client, &a.job).await?;
        let job = client
            .reply(&job.id, &a.text)
            .await
            .map_err(|e| e.to_string())?;
        let text = format!(
            "Sent to {} (turn {}); it is {}. `wait` joins it again.",
            job.codename, job.turns, job.state
        );
        Ok(answer(text, brief(&job)))
    }

    pub(super) async fn merge(&self, a: MergeArgs) -> Result<CallToolResult, String> {
        if !self.shared.allow_merge {
            return Err("merge is not offered: the user's config does not allow it ([mcp] allow_merge = true)".into());
        }
        let strategy = match &a.strategy {
            Some(s) => serde_json::from_value(json!(s))
                .map_err(|_| format!("strategy must be squash, merge or rebase, not '{s}'"))?,
            None => Default::default(),
        };
        let req = sidekick_protocol::MergeRequest {
            strategy,
            ..Default::default()
        };
        let client = self.shared.client().await?;
        let job = self.shared.own_job(&client, &a.job).await?;
        let result = client
            .merge(&job.id, &req)
            .await
            .map_err(|e| e.to_string())?;
        Ok(answer(
            result.message.clone(),
            json!({"merged": result.merged, "commit": result.commit, "job": brief(&result.job)}),
        ))
    }

    pub(super) async fn pr(&self, a: PrArgs) -> Result<CallToolResult, String> {
        if !self.shared.offer.pr {
            return Err(
                "pr is not offered: the user's config does not allow it ([mcp] allow_pr = true)"
                    .into(),
            );
        }
        let req = sidekick_protocol::PrRequest {
            draft: a.draft.unwrap_or(false),
            base: a.base,
            title: a.title,
            body: a.body,
            fix: false,
            tokens: sidekick_client::forge_tokens_from_env(),
        };
        let client = self.shared.client().await?;
        let job = self.shared.own_job(&client, &a.job).await?;
        let job = client.pr(&job.id, &req).await.map_err(|e| e.to_string())?;
        let pr = job
            .pr
            .clone()
            .ok_or_else(|| format!("job {} has no pull request", job.codename))?;
        Ok(answer(
            format!(
                "Pull request #{} of {}: {}",
                pr.number, job.codename, pr.url
            ),
            json!({"number": pr.number, "url": pr.url, "state": pr.state, "job": brief(&job)}),
        ))
    }

    /// The job a `sidekick://jobs/ID` URI names (an id, id prefix or codename).
    pub(super) async fn job_at(&self, uri: &str) -> Result<Job, McpError> {
        let Some(reference) = uri.strip_prefix(URI_PREFIX).filter(|r| !r.is_empty()) else {
            return Err(McpError::resource_not_found(
                format!("{uri} is not a Sidekick job (sidekick://jobs/ID)"),
                None,
            ));
        };
        let client = self
            .shared
            .client()
            .await
            .map_err(|e| McpError::internal_error(e, None))?;
        client
            .job(reference)
            .await
            .map_err(|e| McpError::resource_not_found(e.to_string(), None))
    }

    pub(super) async fn call(
        &self,
        name: &str,
        args: &JsonObject,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        match name {
            "spawn" => self.spawn(parse(name, args)?).await,
            "wait" => self.wait(parse(name, args)?, context).await,
            "status" => self.status(parse(name, args)?).await,
            "list" => self.list(parse(name, args)?).await,
            "logs" => self.logs(parse(name, args)?).await,
            "cancel" => self.cancel(parse(name, args)?).await,
            "diff" => self.diff(parse(name, args)?).await,
            "agents" => {
                parse::<NoArgs>(name, args)?;
                self.agents().await
            }
            "tasks" => self.tasks(parse(name, args)?).await,
            "reply" => self.reply(parse(name, args)?).await,
            "merge" => self.merge(parse(name, args)?).await,
            "pr" => self.pr(parse(name, args)?).await,
            other => Err(format!(
                "there is no tool '{other}'; the tools are {}",
                tools::all(self.shared.offer)
                    .iter()
                    .map(|t| t.name.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// One event as a line of `logs`: the parsed view shows steps and the summary, the raw view
/// output lines; both show notices and state changes (`-- running`).
pub(super) fn log_line(body: &EventBody, raw: bool, state: &mut Option<String>) -> Option<String> {
    match body {
        EventBody::Output { stream, line, .. } if raw => Some(match stream {
            Stream::Stdout => line.clone(),
            Stream::Stderr => format!("stderr: {line}"),
        }),
        EventBody::Output { .. } => None,
        EventBody::Step { n, tool, text } if !raw => Some(match tool {
            Some(t) => format!("step {n} · {t} · {text}"),
            None => format!("step {n} · {text}"),
        }),
        EventBody::Summary { text } if !raw => Some(format!("summary: {text}")),
        EventBody::Step { .. } | EventBody::Summary { .. } | EventBody::Transcript { .. } => None,
        EventBody::Notice { level, message } => Some(format!(
            "sidekick: {}{message}",
            match level {
                Level::Info => "",
                Level::Warn => "warning: ",
                Level::Error => "error: ",
            }
        )),
        EventBody::Job { job } => {
            let now = job.state.to_string();
            if state.as_deref() == Some(now.as_str()) {
                return None;
            }
            *state = Some(now.clone());
            Some(format!("-- {now}"))
        }
    }
}
