//! The tools `sidekick mcp` offers: their arguments (checked by serde, described by a JSON
//! schema) and their descriptions, written for the model that reads them.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct SpawnArgs {
    /// What the sidekick should do, written as you would brief a colleague: the goal, where to
    /// look, what done means. For the `shell` agent, a shell command. May be left out when
    /// `type` names a task type.
    #[serde(default)]
    pub task: Option<String>,
    /// A folder inside the git repository to work in (absolute, or relative to where this
    /// server runs). Default: the folder this server runs in.
    #[serde(default)]
    pub repo: Option<String>,
    /// The agent: claude, codex, gemini, aider, shell, or a configured one (see `agents`).
    /// Default: the repository's or Sidekick's default agent.
    #[serde(default)]
    pub agent: Option<String>,
    /// The revision to start from (a branch, tag or commit). Default: HEAD.
    #[serde(default)]
    pub base: Option<String>,
    /// A task type of the repository (see `tasks`); `inputs` fill its inputs.
    #[serde(default, rename = "type")]
    pub task_type: Option<String>,
    /// The task type's input values, by name.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// `task_only` (only the task) or `full` (the task plus `context_text` and the
    /// `context_from` job's task, summary and diff stat). Default: full when either is given.
    #[serde(default)]
    pub context: Option<String>,
    /// Background the sidekick should have: what you learned, constraints, file names.
    #[serde(default)]
    pub context_text: Option<String>,
    /// A job (id or codename) whose task, summary and changes the sidekick should know.
    #[serde(default)]
    pub context_from: Option<String>,
    /// Wall-clock limit, like `90s`, `30m` or `2h`. Default: the configured timeout.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Stop the agent after this many steps (its work so far is kept).
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Stop the agent when it has used this many tokens.
    #[serde(default)]
    pub token_budget: Option<u64>,
    /// Merge it into the branch it started from by itself when it completes and the merge is
    /// clean (no conflict, nothing of the user's in the way); otherwise it waits for review.
    /// For changes that need no review (docs, a changelog, formatting). Only offered when the
    /// user's config allows it ([mcp] allow_merge).
    #[serde(default)]
    pub auto_merge: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct JobArg {
    /// The job's id, a unique id prefix, or its codename (as `spawn` returned it).
    pub job: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct WaitArgs {
    /// The job's id or codename.
    pub job: String,
    /// How long to wait, in seconds (default 120, at most 3600). When it passes first, you get
    /// the job's state so far and can call `wait` again.
    #[serde(default)]
    pub timeout_s: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListArgs {
    /// Every job Sidekick knows (all repositories, ended ones too) instead of the jobs this
    /// conversation started.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct LogsArgs {
    /// The job's id or codename.
    pub job: String,
    /// The `cursor` a previous `logs` call returned: only what came after it. Default: from
    /// the start.
    #[serde(default)]
    pub since: Option<u64>,
    /// At most this many lines (default 200, at most 2000).
    #[serde(default)]
    pub max_lines: Option<usize>,
    /// The agent's raw output lines instead of its parsed steps.
    #[serde(default)]
    pub raw: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct DiffArgs {
    /// The job's id or codename.
    pub job: String,
    /// The whole unified diff instead of the changed files with their line counts.
    #[serde(default)]
    pub patch: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct TasksArgs {
    /// A folder inside the repository. Default: the folder this server runs in.
    #[serde(default)]
    pub repo: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ReplyArgs {
    /// The job's id or codename.
    pub job: String,
    /// Your message to the job's agent: a follow-up, a correction, the next step. While the
    /// agent works it gets it as its next message; an ended job runs another turn in the same
    /// worktree and branch.
    pub text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct MergeArgs {
    /// The job's id or codename.
    pub job: String,
    /// `squash` (default: one commit), `merge` (a merge commit) or `rebase`.
    #[serde(default)]
    pub strategy: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct PrArgs {
    /// The job's id or codename.
    pub job: String,
    /// Open it as a draft.
    #[serde(default)]
    pub draft: Option<bool>,
    /// The branch to merge into. Default: the branch the job started from.
    #[serde(default)]
    pub base: Option<String>,
    /// The title. Default: the task's first line.
    #[serde(default)]
    pub title: Option<String>,
    /// The description. Default: the agent's summary and the task.
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct NoArgs {}

/// The tools the user's config lets `sidekick mcp` offer beyond the everyday ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offer {
    /// `[mcp] allow_merge`: `merge`, and `spawn`'s `auto_merge`.
    pub merge: bool,
    /// `[mcp] allow_pr`: `pr`.
    pub pr: bool,
}

fn schema<T: JsonSchema>() -> Arc<JsonObject> {
    let value = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    match value {
        serde_json::Value::Object(mut o) => {
            // Only what the protocol needs: the object's shape.
            o.remove("$schema");
            o.remove("title");
            Arc::new(o)
        }
        _ => Arc::new(JsonObject::new()),
    }
}

fn tool<T: JsonSchema>(name: &'static str, description: &'static str, read_only: bool) -> Tool {
    let mut t = Tool::new(name, description, schema::<T>());
    t.annotations = Some(ToolAnnotations::default().read_only(read_only));
    t
}

/// Every tool, in the order a model would reach for them; `merge` and `pr` only when allowed.
pub fn all(offer: Offer) -> Vec<Tool> {
    let allow_merge = offer.merge;
    let mut tools = vec![
        tool::<SpawnArgs>(
            "spawn",
            "Start a sidekick: a coding agent that works on `task` in the background, in its own \
             git worktree on its own branch, so nothing in the user's checkout changes. Returns at \
             once with the job's id and codename. Use it for work that can run beside you \
             (investigate X, fix Y, write tests for Z); start several for independent tasks. Then \
             use `wait` to join one (or `logs` to follow it) and `diff` to see what it changed. \
             Its changes reach the user's branch only when merged.",
            false,
        ),
        tool::<WaitArgs>(
            "wait",
            "Wait for a job to end, up to `timeout_s` seconds (progress is reported while you \
             wait). Returns its final state, summary, exit code and changed files when it ended; \
             otherwise its state so far, and you may call `wait` again. A job in state `waiting` \
             needs the user's answer (the user answers in Sidekick); it does not end on its own.",
            true,
        ),
        tool::<JobArg>(
            "status",
            "One job's details now: state, agent, task, branch, worktree, steps, tokens, summary, \
             open requests, who spawned it. Does not wait.",
            true,
        ),
        tool::<ListArgs>(
            "list",
            "The jobs this conversation started (with `all`: every job Sidekick knows), newest \
             first, each with its id, codename, state and task.",
            true,
        ),
        tool::<LogsArgs>(
            "logs",
            "What a job's agent did: its parsed steps (tool calls, messages, its summary) and \
             Sidekick's notices, or with `raw` its output lines. Returns a `cursor`; call again \
             with `since` set to it to get only what came after, which is how to stream a \
             running job.",
            true,
        ),
        tool::<JobArg>(
            "cancel",
            "Stop a job (queued, running or waiting) and wait until it has ended. Its work so far \
             stays committed on its branch.",
            false,
        ),
        tool::<DiffArgs>(
            "diff",
            "A job's changes against where it started: by default the changed files with their \
             added and removed line counts; with `patch` the whole unified diff. Works while the \
             job runs (its worktree as it is) and after it ended.",
            true,
        ),
        tool::<NoArgs>(
            "agents",
            "The agents Sidekick can run here: name, whether installed, version, command.",
            true,
        ),
        tool::<TasksArgs>(
            "tasks",
            "The repository's task types (recipes in .sidekick/tasks) with their inputs, for \
             `spawn` with `type`.",
            true,
        ),
        tool::<ReplyArgs>(
            "reply",
            "Send a message to a job's agent: while it works it gets it as its next message; an \
             ended job (not merged or discarded) runs another turn in the same worktree and \
             branch, and agents that can resume their session remember the conversation.",
            false,
        ),
    ];
    if !allow_merge {
        // `spawn`'s auto_merge goes with `merge`.
        if let Some(spawn) = tools.first_mut() {
            let mut schema = (*spawn.input_schema).clone();
            if let Some(serde_json::Value::Object(props)) = schema.get_mut("properties") {
                props.remove("auto_merge");
            }
            spawn.input_schema = Arc::new(schema);
        }
    }
    if allow_merge {
        tools.push(tool::<MergeArgs>(
            "merge",
            "Merge an ended job's branch into the branch it started from, in the user's \
             checkout. Refused, with the reason, when it would conflict or touch files the user \
             has changed. Only offered because the user's config allows it ([mcp] allow_merge).",
            false,
        ));
    }
    if offer.pr {
        tools.push(tool::<PrArgs>(
            "pr",
            "Push an ended job's branch to the repository's origin and open a pull request (a \
             merge request on GitLab) into the branch it started from, or update the one already \
             open for that branch. Returns its number and URL; the job's `status` then shows its \
             checks and review. Only offered because the user's config allows it ([mcp] \
             allow_pr).",
            false,
        ));
    }
    tools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tool_has_an_object_schema_and_merge_only_when_allowed() {
        let names = |tools: &[Tool]| tools.iter().map(|t| t.name.to_string()).collect::<Vec<_>>();
        let tools = all(Offer::default());
        assert_eq!(
            names(&tools),
            [
                "spawn", "wait", "status", "list", "logs", "cancel", "diff", "agents", "tasks",
                "reply"
            ]
        );
        let merge = Offer {
            merge: true,
            pr: false,
        };
        assert!(names(&all(merge)).contains(&"merge".to_string()));
        assert!(!names(&all(merge)).contains(&"pr".to_string()));
        let pr = Offer {
            merge: false,
            pr: true,
        };
        assert_eq!(names(&all(pr)).last().map(String::as_str), Some("pr"));
        for t in &tools {
            assert_eq!(
                t.input_schema.get("type"),
                Some(&serde_json::json!("object")),
                "{}",
                t.name
            );
            assert!(
                t.description.as_ref().is_some_and(|d| d.len() > 40),
                "{}",
                t.name
            );
        }
        let spawn = &tools[0].input_schema;
        let props = spawn["properties"].as_object().expect("properties");
        for key in [
            "task",
            "repo",
            "agent",
            "base",
            "type",
            "inputs",
            "context",
            "context_text",
            "timeout",
            "max_steps",
            "token_budget",
        ] {
            assert!(props.contains_key(key), "spawn lacks {key}");
        }
        let wait = &tools[1].input_schema;
        assert_eq!(wait["required"], serde_json::json!(["job"]));
    }
}
