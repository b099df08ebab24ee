//! A job is born: the request checked, the repository and base resolved, configs and task type
//! applied, the agent's argv resolved, and the job stored `queued`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use sidekick_protocol::{AutoMerge, AutoMergeOutcome, Job, SpawnRequest};

use crate::{ids, lock, path_string, private, repo, EngineError, Result, Scheduler};
use sidekick_config::tasks;
use sidekick_config::Config;
use sidekick_store::JobRecord;

/// What a retry brings that a request cannot say (`Engine::retry`).
pub(crate) struct Retry {
    /// The job retried.
    pub of: String,
    /// The context its agent was given, given again as it was.
    pub context: Option<String>,
    /// The branch it merges into, when it starts from a commit (`--same-base`).
    pub merge_into: Option<String>,
}

impl Scheduler {
    pub(crate) fn create_job(&self, req: SpawnRequest) -> Result<JobRecord> {
        self.create_job_as(req, None)
    }

    pub(crate) fn create_job_as(
        &self,
        req: SpawnRequest,
        retry: Option<Retry>,
    ) -> Result<JobRecord> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let repo_path = PathBuf::from(&req.repo);
        if !repo_path.is_absolute() {
            return Err(EngineError::BadRequest(format!(
                "the repository path '{}' must be absolute",
                req.repo
            )));
        }
        let config = Config::load(self.home.config_file())?;
        let continued = self.continued(&req)?;
        let base_rev = match &continued {
            Some(prev) => prev
                .job
                .head_commit
                .clone()
                .unwrap_or_else(|| prev.job.base_commit.clone()),
            None => req.base.clone().unwrap_or_else(|| "HEAD".into()),
        };
        let mut base = repo::resolve(&repo_path, &base_rev)?;
        if let Some(prev) = &continued {
            if base.workdir.display().to_string() != prev.job.repo {
                return Err(EngineError::BadRequest(format!(
                    "job {} belongs to {}, not {}",
                    prev.job.codename,
                    prev.job.repo,
                    base.workdir.display()
                )));
            }
            base.branch = prev.job.base_branch.clone();
        }
        if let Some(into) = retry.as_ref().and_then(|r| r.merge_into.clone()) {
            base.branch = Some(into);
        }
        let context = match &retry {
            Some(r) => r.context.clone(),
            None => self.context_text(&req, continued.as_ref())?,
        };
        // The repository's own configuration, read once: trusted at exactly this content, or
        // nothing of it runs (safety rule 8).
        let seen = sidekick_config::trust::Seen::read(&base.workdir)?;
        seen.check(&sidekick_config::trust::Store::load(&self.home)?)?;
        let repo_config = seen.config.clone();
        // A task type supplies the task text and its defaults.
        let task_type = match &req.task_type {
            Some(name) => Some(seen.task(name)?),
            None => None,
        };
        let rendered = match &task_type {
            Some(t) => t.render(&req.inputs)?,
            None if !req.inputs.is_empty() => {
                return Err(EngineError::BadRequest(
                    "inputs are given but no task type".into(),
                ))
            }
            None => tasks::Rendered {
                text: req.task.clone(),
                command: None,
                env: Vec::new(),
            },
        };
        let task = rendered.text.clone();
        if task.trim().is_empty() {
            return Err(EngineError::BadRequest("the task is empty".into()));
        }
        let (agent, profile) = agent_of(&config, &req, task_type.as_ref(), &repo_config)?;
        let parent_id = self.parent_of(&req, &config)?;
        let (timeout_ms, max_steps, token_budget) =
            limits(&req, task_type.as_ref(), &profile, &config)?;
        let auto_merge = auto_merge_of(&req, task_type.as_ref(), &repo_config);
        // Kept so `sidekick retry` can ask again; the context is kept in its file, not here.
        let request = SpawnRequest {
            context_file: None,
            context_from: None,
            context_text: None,
            // By id: a codename is reused once its job's worktree is gone.
            continue_from: continued.as_ref().map(|p| p.job.id.clone()),
            ..req.clone()
        };

        let _guard = lock(&self.sched);
        // Counted under the lock every spawn takes, so parallel spawns cannot all slip in.
        if let Some(parent) = &parent_id {
            let started = lock(&self.ledger.reader).children(&parent.id)?.len();
            if started >= config.max_children as usize {
                return Err(EngineError::BadRequest(format!(
                    "job {} has started {started} sidekicks already, as many as one job may (max_children in the config)",
                    parent.codename
                )));
            }
        }
        let parent_id = parent_id.map(|p| p.id);
        let id = self.ledger.ids.next();
        let group = repo::worktree_group(&self.home.worktrees(), &base.workdir);
        let codename = self.free_codename(&group, &base.workdir);
        let worktree = group.join(&codename);
        let log_path = self.home.logs().join(format!("{id}.log"));
        let (prompt, env) = self.prompt_and_env(
            &id,
            rendered,
            &profile,
            &task,
            context.as_deref(),
            (parent_id.as_deref(), &worktree, &base.workdir),
        )?;
        let rec = JobRecord {
            job: Job {
                id: id.clone(),
                codename: codename.clone(),
                state: sidekick_store::ledger::BORN,
                agent: profile.name.clone(),
                task: task.clone(),
                repo: path_string(&base.workdir),
                branch: format!("sidekick/{codename}"),
                worktree: path_string(&worktree),
                base_rev,
                base_commit: base.commit,
                base_branch: base.branch,
                head_commit: None,
                exit_code: None,
                reason: None,
                parent_id,
                timeout_ms,
                created_at: self.ledger.now(),
                started_at: None,
                ended_at: None,
                duration_ms: None,
                earlier_ms: 0,
                queue_position: None,
                files_changed: None,
                insertions: None,
                deletions: None,
                log_path: path_string(&log_path),
                merged_into: None,
                merge_commit: None,
                snapshot: None,
                conflicts: Vec::new(),
                notify: req.notify,
                steps: 0,
                tokens: Default::default(),
                cost_usd: None,
                summary: None,
                capped: false,
                max_steps,
                token_budget,
                requests: Vec::new(),
                turns: 1,
                spawned_by: req.spawned_by.clone(),
                archived: false,
                sandbox: None,
                auto_merge,
                retry_of: retry.map(|r| r.of),
                pr: None,
                open_pr: req.open_pr.or(match config.pr.open {
                    sidekick_config::PrOpen::Off => None,
                    sidekick_config::PrOpen::Draft => Some(sidekick_protocol::PrOpenMode::Draft),
                    sidekick_config::PrOpen::Ready => Some(sidekick_protocol::PrOpenMode::Ready),
                }),
                issue: None,
            },
            argv: argv_of(&profile, continued.as_ref(), &prompt),
            env,
            setup: repo_config.setup,
            setup_cache: repo_config.setup_cache,
            copy_files: repo_config.copy,
            process: None,
            has_worktree: false,
            merge: None,
            prev_state: None,
            format: profile.format,
            session: None,
            dialog: profile.dialog.then(|| prompt.clone()),
            last_reply: None,
            sandbox: req.sandbox,
            request: Some(request),
        };
        lock(&self.ledger.db).insert_job(&rec)?;
        self.ledger.save(&rec, Vec::new())?;
        tracing::info!(job = %id, codename = %codename, agent = %agent, "job queued");
        Ok(rec)
    }

    /// The job a follow-up continues: it starts where that one ended, and merges back where
    /// it would.
    fn continued(&self, req: &SpawnRequest) -> Result<Option<JobRecord>> {
        let Some(r) = &req.continue_from else {
            return Ok(None);
        };
        let prev = self.ledger.resolve(r)?;
        if !prev.job.state.has_ended() {
            return Err(EngineError::InvalidState(format!(
                "job {} is still {}; continue it once it has ended",
                prev.job.codename, prev.job.state
            )));
        }
        if req.base.is_some() {
            return Err(EngineError::BadRequest(
                "a follow-up starts from the job it continues; leave out the base".into(),
            ));
        }
        Ok(Some(prev))
    }

    /// A codename no job, worktree folder or branch of the repository has.
    fn free_codename(&self, group: &std::path::Path, repo_dir: &std::path::Path) -> String {
        let db = lock(&self.ledger.reader);
        let taken = |name: &str| {
            db.codename_taken(name).unwrap_or(true)
                || group.join(name).exists()
                || repo::branch_exists(repo_dir, &format!("sidekick/{name}")).unwrap_or(true)
        };
        ids::pick_codename(ids::random_bits(), &taken)
    }

    /// The parent a sidekick is started under: live, and not nested deeper than `max_depth`.
    fn parent_of(&self, req: &SpawnRequest, config: &Config) -> Result<Option<Job>> {
        Ok(match &req.parent {
            Some(p) => {
                let parent = self.ledger.resolve(p)?;
                if parent.job.state.has_ended() {
                    return Err(EngineError::InvalidState(format!(
                        "parent job {} has already ended ({})",
                        parent.job.codename, parent.job.state
                    )));
                }
                // How deep the new job would be: its parent's ancestors, plus the parent, plus itself.
                let mut depth = 2;
                let mut above = parent.job.parent_id.clone();
                while let Some(id) = above {
                    depth += 1;
                    above = self.ledger.load(&id).ok().and_then(|r| r.job.parent_id);
                    if depth > config.max_depth + 1 {
                        break;
                    }
                }
                if depth > config.max_depth {
                    return Err(EngineError::BadRequest(format!(
                        "job {} is already {} levels deep; sidekicks nest at most {} levels (max_depth in the config)",
                        parent.job.codename,
                        depth - 1,
                        config.max_depth
                    )));
                }
                Some(parent.job)
            }
            None => None,
        })
    }

    /// The agent's prompt (a task type's command for the shell; the context first for the
    /// others) and the job's variables; the context is written to its file for every agent.
    fn prompt_and_env(
        &self,
        id: &str,
        rendered: tasks::Rendered,
        profile: &sidekick_agents::Profile,
        task: &str,
        context: Option<&str>,
        (parent_id, worktree, repo): (Option<&str>, &std::path::Path, &std::path::Path),
    ) -> Result<(String, Vec<(String, String)>)> {
        let mut env: Vec<(String, String)> = Vec::new();
        // A task type's command runs with its inputs in variables, never in its text.
        let mut prompt = match rendered
            .command
            .filter(|_| profile.name == sidekick_agents::SHELL)
        {
            Some(command) => {
                env.extend(rendered.env);
                command
            }
            None => task.to_string(),
        };
        // The context as a file for every agent, and first in the prompt of those that take one.
        if let Some(text) = context {
            let dir = self.home.root().join("contexts");
            private::dir(&dir)?;
            let file = dir.join(format!("{id}.md"));
            private::write(&file, text)?;
            env.push(("SIDEKICK_CONTEXT_FILE".into(), path_string(&file)));
            if profile.name != sidekick_agents::SHELL {
                prompt = format!("<sidekick-context>\n{text}\n</sidekick-context>\n\n{task}");
            }
        }
        env.extend([
            ("SIDEKICK_JOB_ID".to_string(), id.to_string()),
            (
                "SIDEKICK_PARENT_JOB_ID".to_string(),
                parent_id.unwrap_or_default().to_string(),
            ),
            ("SIDEKICK_WORKTREE".to_string(), path_string(worktree)),
            ("SIDEKICK_REPO".to_string(), path_string(repo)),
        ]);
        Ok((prompt, env))
    }
}

/// The agent a job runs (its own, its task type's, else the default) and that agent's profile;
/// an agent that cannot start is refused here, before a job (and a worktree) is made.
fn agent_of(
    config: &Config,
    req: &SpawnRequest,
    task_type: Option<&tasks::TaskType>,
    repo_config: &sidekick_config::RepoConfig,
) -> Result<(String, sidekick_agents::Profile)> {
    let agent = match req
        .agent
        .clone()
        .or_else(|| task_type.map(|t| t.agent.clone()))
    {
        Some(a) => a,
        None => config
            .default_agent(repo_config.agent.as_deref())
            .map_err(EngineError::BadRequest)?,
    };
    let profile = config
        .profile(&agent)
        .ok_or_else(|| EngineError::UnknownAgent {
            name: agent.clone(),
            known: config
                .profiles()
                .into_iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    // A relative path is resolved in the worktree, and a profile may bring its own PATH:
    // those are found out when the job starts.
    let program = profile.command.first().cloned().unwrap_or_default();
    let own_path = profile.env.iter().any(|(k, _)| k == "PATH");
    let checkable = !own_path && (!program.contains('/') || program.starts_with('/'));
    if checkable && sidekick_agents::locate(&program).is_none() {
        let why = sidekick_agents::info(&profile)
            .problem
            .unwrap_or_else(|| format!("{program} cannot be run"));
        return Err(EngineError::InvalidState(format!(
            "agent '{agent}' cannot start: {why}; `sidekick agents` shows what is installed"
        )));
    }
    Ok((agent, profile))
}

/// The job's timeout and budgets: its own, else its task type's, its profile's, the config's.
fn limits(
    req: &SpawnRequest,
    task_type: Option<&tasks::TaskType>,
    profile: &sidekick_agents::Profile,
    config: &Config,
) -> Result<(u64, Option<u64>, Option<u64>)> {
    if req.timeout_ms == Some(0) {
        return Err(EngineError::BadRequest(
            "a timeout of zero is not allowed".into(),
        ));
    }
    let timeout_ms = req
        .timeout_ms
        .or(task_type.and_then(|t| t.timeout_ms))
        .or(profile.timeout_ms)
        .unwrap_or(config.default_timeout_ms);
    let max_steps = req
        .max_steps
        .or(task_type.and_then(|t| t.max_steps))
        .or(profile.max_steps)
        .or(config.max_steps);
    let token_budget = req
        .token_budget
        .or(task_type.and_then(|t| t.token_budget))
        .or(profile.token_budget)
        .or(config.token_budget);
    Ok((timeout_ms, max_steps, token_budget))
}

/// May it merge by itself: the job's own word, else its task type's, else the repository's
/// paths; the repository's paths bound it either way.
fn auto_merge_of(
    req: &SpawnRequest,
    task_type: Option<&tasks::TaskType>,
    repo_config: &sidekick_config::RepoConfig,
) -> Option<AutoMerge> {
    let auto_merge_paths = repo_config
        .auto_merge
        .as_ref()
        .map(|a| a.paths.clone())
        .unwrap_or_default();
    let auto_merge_by = match (req.auto_merge, task_type) {
        (Some(false), _) => None,
        (Some(true), _) => Some("the job".to_string()),
        (None, Some(t)) if t.auto_merge => Some(format!("task type {}", t.name)),
        (None, _) if !auto_merge_paths.is_empty() => {
            Some("the repository's [auto_merge] paths".to_string())
        }
        (None, _) => None,
    };
    auto_merge_by.map(|by| AutoMerge {
        by,
        paths: auto_merge_paths,
        outcome: AutoMergeOutcome::Pending,
        reason: None,
    })
}

/// The agent's argv: a follow-up of the same agent resumes its session where the agent can; an
/// agent in a dialog gets the task on stdin instead.
fn argv_of(
    profile: &sidekick_agents::Profile,
    continued: Option<&JobRecord>,
    prompt: &str,
) -> Vec<String> {
    if profile.dialog {
        return profile.command.clone();
    }
    continued
        .filter(|prev| prev.job.agent == profile.name)
        .and_then(|prev| prev.session.as_deref())
        .and_then(|session| profile.resume_argv(prompt, session))
        .unwrap_or_else(|| profile.argv(prompt))
}
