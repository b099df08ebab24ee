// Generated from crates/protocol by its `typescript` test. Do not edit by hand:
// run `SIDEKICK_WRITE_TYPES=1 cargo test -p sidekick-protocol typescript`.

export type JobState = "queued" | "starting" | "running" | "waiting" | "stopping" | "completed" | "failed" | "timeout" | "cancelled" | "interrupted" | "merged" | "discarded";

export type Attention = "queued" | "running" | "waiting" | "review" | "closed";

export type Counts = { 
/**
 * Blocked on the user ("needs you").
 */
waiting: number, running: number, queued: number, 
/**
 * Ended and neither merged nor discarded: waiting for the user.
 */
review: number, };

export type Job = { 
/**
 * Time-sortable unique id (ULID, lowercase).
 */
id: string, 
/**
 * `adjective-animal`, unique among jobs that still have a worktree.
 */
codename: string, state: JobState, agent: string, task: string, 
/**
 * Top level of the user's repository.
 */
repo: string, 
/**
 * The job's branch, `sidekick/<codename>`.
 */
branch: string, 
/**
 * The job's shadow worktree (exists once the job has started).
 */
worktree: string, 
/**
 * The revision the user asked for (`HEAD` by default).
 */
base_rev: string, 
/**
 * The commit the job started from.
 */
base_commit: string, 
/**
 * The branch the job will merge back into, when the base was a branch.
 */
base_branch: string | null, 
/**
 * The job branch's tip after the agent's leftovers were committed.
 */
head_commit: string | null, exit_code: number | null, 
/**
 * Why the job ended the way it did, in one sentence (failures, timeouts, interruptions).
 */
reason: string | null, parent_id: string | null, timeout_ms: number, created_at: number, started_at: number | null, ended_at: number | null, 
/**
 * Run time of the whole job so far (live jobs) or in total (ended jobs): every turn's,
 * the one under way included. `started_at`/`ended_at` are the last turn's.
 */
duration_ms: number | null, 
/**
 * Run time of the turns before the last one (replies start new turns).
 */
earlier_ms: number, 
/**
 * 1-based position in the FIFO queue while queued.
 */
queue_position: number | null, files_changed: number | null, insertions: number | null, deletions: number | null, 
/**
 * The raw output of the job (both streams, as written).
 */
log_path: string, 
/**
 * Set once merged: the branch it went into and the commit that did it.
 */
merged_into: string | null, merge_commit: string | null, 
/**
 * The commit kept at `refs/sidekick/snapshots/<id>` when the job's worktree or branch was
 * removed (merge, discard, gc); `sidekick restore` brings it back.
 */
snapshot: string | null, 
/**
 * Files left with conflict markers by `sidekick rebase`; the job cannot be merged until
 * they are resolved and committed in its worktree.
 */
conflicts: Array<string>, 
/**
 * The job's own notification choice: `Some(false)` never (`--quiet`), `Some(true)` always
 * (`--notify`, except when cancelled), `None` the configured policy.
 */
notify: boolean | null, 
/**
 * Steps the agent reported so far: assistant turns and tool calls.
 */
steps: number, 
/**
 * Tokens the agent reported so far.
 */
tokens: Tokens, 
/**
 * What the agent says the run cost, where it says.
 */
cost_usd: number | null, 
/**
 * The agent's final answer, once it gave one.
 */
summary: string | null, 
/**
 * The job was stopped at its step cap (`--max-steps`): it ends `completed` with the work
 * done so far.
 */
capped: boolean, max_steps: number | null, 
/**
 * Input + output tokens the job may use; a warning at 80 %, stopped (`failed`) at 100 %.
 */
token_budget: number | null, 
/**
 * What the agent asked and nobody answered yet, oldest first (the job is `waiting`).
 */
requests: Array<Request>, 
/**
 * The user's messages so far: the task, then each reply (`sidekick reply`).
 */
turns: number, 
/**
 * Who started the job when it was not a person at the CLI or the app: the MCP client's
 * name and version (`Claude Code 2.1.330`).
 */
spawned_by: string | null, 
/**
 * Put away by the user (`sidekick archive`): kept, but out of the lists and counts.
 */
archived: boolean, 
/**
 * How the job's processes were confined, once they ran.
 */
sandbox: Sandbox | null, 
/**
 * The job may merge by itself when it completes cleanly (`--auto-merge`, a task type's or
 * the repository's `auto_merge`), and how that went.
 */
auto_merge: AutoMerge | null, 
/**
 * The job this one retries (`sidekick retry`): same task, agent, inputs and limits.
 */
retry_of: string | null, 
/**
 * The pull request the job's branch was pushed to (`sidekick pr`), as last seen.
 */
pr: PullRequest | null, 
/**
 * The job opens a pull request by itself when it completes with changes (`--pr`,
 * `[pr] open`); it is then never merged locally by itself.
 */
open_pr: PrOpenMode | null, 
/**
 * The issue the job was made from (`--issue N`).
 */
issue: IssueRef | null, };

export type ArchiveRequest = { 
/**
 * `false` brings an archived job back.
 */
archived: boolean, };

export type Request = { 
/**
 * Unique within the job (the agent's own id for it).
 */
id: string, 
/**
 * The tool it wants to use (`Bash`, `Write`, ...).
 */
tool: string, 
/**
 * The tool's input shown usefully: the command line, the path, the pattern.
 */
detail: string, 
/**
 * The tool's whole input, as the agent sent it.
 */
input: unknown, 
/**
 * What the user can answer: `allow`, `allow_always` (for the rest of this job, as the agent
 * defines it), `deny`.
 */
options: Array<string>, opened_at: number, 
/**
 * What allowing it would do, to judge it by: the command in full, or the change to files.
 */
preview: Preview, };

export type Preview = { "kind": "none" } | { "kind": "command", command: string, description?: string | null, cwd?: string | null, } | { "kind": "change", files: Array<PreviewFile>, };

export type PreviewFile = { path: string, 
/**
 * `added` (a new file's content), `deleted`, or `modified`.
 */
kind: string, 
/**
 * Unified-diff lines: `@@ -a,b +c,d @@` heads, then lines led by ` `, `-` or `+`.
 */
lines: Array<string>, 
/**
 * Lines left out past the preview's cap.
 */
more: number, };

export type FieldProblem = { key: string, message: string, };

export type AnswerRequest = { 
/**
 * The request to answer; the oldest open one when absent.
 */
request: string | null, allow: boolean, 
/**
 * Allow this kind of use for the rest of the job, as the agent defines it.
 */
always: boolean, 
/**
 * Why, for the agent (with a deny).
 */
message: string | null, };

export type ReplyRequest = { 
/**
 * The message; may be empty when `comments` is set.
 */
text: string, 
/**
 * Send the job's unsent review comments with the message (file, line, the quoted lines,
 * the comment), and mark them sent.
 */
comments: boolean, };

export type Tokens = { input: number, output: number, 
/**
 * Input tokens served from the provider's cache (counted apart from `input`).
 */
cached: number, };

export type Stream = "stdout" | "stderr";

export type Level = "info" | "warn" | "error";

export type Event = { seq: number, time: number, job_id: string, } & ({ "kind": "job", job: Job, } | { "kind": "output", stream: Stream, line: string, partial?: boolean, } | { "kind": "notice", level: Level, message: string, } | { "kind": "step", 
/**
 * 1-based.
 */
n: number, tool: string | null, text: string, } | { "kind": "summary", text: string, } | { "kind": "transcript", entry: Entry, });

export type EventBody = { "kind": "job", job: Job, } | { "kind": "output", stream: Stream, line: string, partial?: boolean, } | { "kind": "notice", level: Level, message: string, } | { "kind": "step", 
/**
 * 1-based.
 */
n: number, tool: string | null, text: string, } | { "kind": "summary", text: string, } | { "kind": "transcript", entry: Entry, };

export type Entry = { "type": "text", text: string, } | { "type": "tool", id: string, name: string, brief: string, input: unknown, } | { "type": "result", id: string, output: string, error: boolean, } | { "type": "plan", items: Array<PlanItem>, } | { "type": "turn", tokens: Tokens, cost_usd: number | null, };

export type PlanItem = { text: string, 
/**
 * `pending`, `in_progress` or `completed`.
 */
status: string, };

export type SpawnRequest = { 
/**
 * A folder inside the repository (absolute).
 */
repo: string, task: string, agent: string | null, 
/**
 * Any revision; `HEAD` when absent.
 */
base: string | null, timeout_ms: number | null, 
/**
 * Id, id prefix or codename of the parent job.
 */
parent: string | null, 
/**
 * Overrides the notification policy for this job (see [`Job::notify`]).
 */
notify: boolean | null, 
/**
 * Stop the agent gracefully after this many steps (the job still completes).
 */
max_steps: number | null, 
/**
 * Stop the agent when input + output tokens reach this (the job fails: `budget`).
 */
token_budget: number | null, 
/**
 * Run the repository's task type of this name (`.sidekick/tasks/NAME/task.toml`); `task`
 * may then be empty, and the type's agent, timeout and budgets apply unless given here.
 */
task_type: string | null, 
/**
 * The task type's input values.
 */
inputs: { [key in string]: string }, 
/**
 * `task_only` (the default) or `full`: the context below reaches the agent as a file named
 * in `SIDEKICK_CONTEXT_FILE`, and agents that take a prompt get it first, in a delimited
 * block.
 */
context: ContextMode | null, 
/**
 * A file (absolute path) whose text goes into the context.
 */
context_file: string | null, 
/**
 * A job (id, prefix or codename) whose task, summary and diff stat go into the context.
 */
context_from: string | null, 
/**
 * Continue this ended job: start from its branch (its changes included), merge back where
 * it would have, with its task, summary and diff stat as context.
 */
continue_from: string | null, 
/**
 * Text that goes into the context, like a context file's.
 */
context_text: string | null, 
/**
 * Who asks for the job, when it is not a person (an MCP client's name and version).
 */
spawned_by: string | null, 
/**
 * Overrides the agent's and the host's `sandbox` setting for this job.
 */
sandbox: SandboxMode | null, 
/**
 * `true`: merge by itself when it completes and the merge is clean; `false`: never, even
 * where the task type or the repository says so.
 */
auto_merge: boolean | null, 
/**
 * Open a pull request when the job completes with changes (`--pr`); the `[pr] open`
 * setting when absent.
 */
open_pr: PrOpenMode | null, 
/**
 * Make the job from this issue of the repository's origin (`--issue N`): its title and
 * body become the task (or its context, when a task is given too), and the job's pull
 * request closes it.
 */
issue: number | null, 
/**
 * The client's forge tokens, for `issue`; never kept with the job.
 */
tokens?: ForgeTokens, };

export type ContextMode = "task_only" | "full";

export type Sandbox = { 
/**
 * What was asked for (the job's, its agent's, the host's setting, else `auto`).
 */
mode: SandboxMode, 
/**
 * Its processes ran in the sandbox.
 */
on: boolean, 
/**
 * They could reach the network (`sandbox_network`).
 */
network: boolean, 
/**
 * Why they ran unconfined (`auto` where the sandbox could not be set up).
 */
reason: string | null, };

export type SandboxMode = "worktree" | "auto" | "off";

export type AutoMerge = { 
/**
 * Who asked: `the job` (`--auto-merge`, the app, an MCP client), `task type NAME`, or
 * `the repository's [auto_merge] paths`.
 */
by: string, 
/**
 * Every path the job changes must match one of these (the repository's
 * `[auto_merge] paths`); empty: any path.
 */
paths: Array<string>, outcome: AutoMergeOutcome, 
/**
 * Why it stays for review (`held`), in one sentence.
 */
reason: string | null, };

export type AutoMergeOutcome = "pending" | "merged" | "held";

export type RetryRequest = { 
/**
 * Start from the commit the job started from, not from its base branch's tip now.
 */
same_base: boolean, };

export type Settings = { 
/**
 * The config file they live in.
 */
file: string, max_running: number, 
/**
 * The default timeout of a job (`timeout`), as a duration (`30m00s`).
 */
timeout: string, max_steps: number | null, token_budget: number | null, warm_worktrees: number, sandbox: SandboxMode, sandbox_network: boolean, notifications: NotificationSettings, 
/**
 * Every agent profile, with what the file sets for it.
 */
agents: Array<AgentSettings>, };

export type NotificationSettings = { enabled: boolean, quiet_under: string, prominent_over: string, burst_window: string, };

export type AgentSettings = { name: string, builtin: boolean, 
/**
 * A built-in agent's own permission modes (`ask` first where Sidekick carries its
 * approvals); empty where any value goes (a user's own command) or none does.
 */
modes: Array<string>, 
/**
 * `[agents.NAME] permission`; `None`: the agent's default.
 */
permission: string | null, timeout: string | null, max_steps: number | null, token_budget: number | null, };

export type SettingsChange = { changes: Array<SettingValue>, };

export type SettingValue = { key: string, value: string | null, };

export type NotificationTest = { 
/**
 * A notification was shown.
 */
sent: boolean, 
/**
 * The server (name, version, whether it shows buttons), or why there is none.
 */
detail: string, };

export type AgentInfo = { name: string, builtin: boolean, 
/**
 * The command template (`{task}` is replaced by the task, as one argument).
 */
command: Array<string>, installed: boolean, 
/**
 * Where the program was found.
 */
path: string | null, 
/**
 * Why the agent cannot be used, when it cannot.
 */
problem: string | null, timeout_ms: number | null, 
/**
 * What `PROGRAM --version` printed (first line), when it is installed.
 */
version: string | null, 
/**
 * The output format Sidekick reads steps, tokens and the summary from (`plain`: none).
 */
format: string, 
/**
 * How to install it (built-in agents).
 */
install: string | null, };

export type RepoInfo = { 
/**
 * Top level of the working tree.
 */
root: string, 
/**
 * The folder's name, for display.
 */
name: string, 
/**
 * The branch checked out there; `None` on a detached HEAD.
 */
head_branch: string | null, head_commit: string, 
/**
 * Local branches, sorted by name.
 */
branches: Array<string>, 
/**
 * The agent the repository's `.sidekick/config.toml` names for its jobs, if any.
 */
agent: string | null, };

export type Health = { version: string, pid: number, home: string, 
/**
 * The newest event's `seq`: a client that loads the job list and then follows events
 * `since` this number sees every later change.
 */
last_seq: number, 
/**
 * How many jobs may be live at once (`max_running`): a queued job waits for a place.
 */
max_running: number, };

export type TaskInput = { name: string, description: string, required: boolean, default: string | null, };

export type TaskTypeInfo = { name: string, 
/**
 * Its task.toml.
 */
path: string, description: string, agent: string, inputs: Array<TaskInput>, 
/**
 * The file is broken: this sentence says where and why.
 */
error: string | null, };

export type ApiError = { code: ErrorCode, message: string, 
/**
 * For a change of several settings: each field's own problem, to show beside it.
 */
fields?: Array<FieldProblem>, };

export type ErrorCode = "bad_request" | "path_not_found" | "not_a_repo" | "bare_repo" | "empty_repo" | "bad_base" | "unknown_agent" | "unknown_task_type" | "unknown_job" | "ambiguous_job" | "invalid_state" | "job_active" | "already_merged" | "job_discarded" | "branch_gone" | "unresolved_conflicts" | "no_worktree" | "no_rebase" | "nothing_to_restore" | "repo_still_there" | "merge_commits" | "journal_unwritable" | "rollback_incomplete" | "conflict" | "dirty_overlap" | "target_moved" | "lock_held" | "operation_in_progress" | "nothing_to_undo" | "repo_gone" | "untrusted" | "confined" | "hook_failed" | "no_room" | "busy" | "no_forge" | "forge_auth" | "forge_refused" | "forge_unreachable" | "rate_limited" | "push_rejected" | "config" | "git" | "io" | "shutting_down" | "internal";

export type Diff = { base: string, 
/**
 * The commit compared, or `None` when the worktree's current state was diffed.
 */
head: string | null, files: Array<FileDiff>, files_changed: number, insertions: number, deletions: number, 
/**
 * Some file was cut short by the per-file or per-diff cap.
 */
truncated: boolean, };

export type FileStatus = "added" | "modified" | "deleted" | "renamed" | "copied" | "type_change";

export type FileDiff = { path: string, 
/**
 * The path before a rename or copy.
 */
old_path: string | null, status: FileStatus, binary: boolean, 
/**
 * Octal git modes (`100644`, `100755`, `120000` for symlinks); absent on the missing side.
 */
old_mode: string | null, new_mode: string | null, old_size: number | null, new_size: number | null, 
/**
 * Blob ids (full hex); absent on the missing side, and for worktree files not yet hashed.
 */
old_id: string | null, new_id: string | null, insertions: number, deletions: number, 
/**
 * The hunks stop early (cap reached) or were not computed (file too large).
 */
truncated: boolean, hunks: Array<Hunk>, };

export type Hunk = { old_start: number, old_lines: number, new_start: number, new_lines: number, 
/**
 * The text after `@@ ... @@` (usually the enclosing function).
 */
header: string, lines: Array<DiffLine>, };

export type LineKind = "context" | "added" | "deleted";

export type DiffLine = { kind: LineKind, 
/**
 * Absent on added lines.
 */
old_line?: number | null, 
/**
 * Absent on deleted lines.
 */
new_line?: number | null, 
/**
 * The line without its newline.
 */
text: string, 
/**
 * The file's last line has no newline.
 */
no_newline?: boolean, 
/**
 * Byte ranges of `text` that changed against the paired line (word level).
 */
spans?: Array<Span>, };

export type Span = { start: number, end: number, };

export type MergeStrategy = "squash" | "merge" | "rebase";

export type MergeRequest = { strategy: MergeStrategy, 
/**
 * The branch to merge into; the job's base branch when absent.
 */
into: string | null, 
/**
 * Merge only these files (squash only); the rest stays on the job's branch.
 */
paths: Array<string>, 
/**
 * Merge only these hunks of these files (squash only; with `paths`, as well as those
 * files); the rest stays on the job's branch.
 */
hunks: Array<HunkPick>, 
/**
 * The commit message for a squash (or a merge commit's subject); the task's first line
 * when absent. A `Sidekick-Job:` trailer is added.
 */
message: string | null, 
/**
 * Stash the user's changes on paths the merge touches, merge, and re-apply them.
 */
autostash: boolean, 
/**
 * Only preview: nothing on disk changes.
 */
dry_run: boolean, 
/**
 * Also merge the files Sidekick copied into the job's worktree (local secrets such as
 * `.env`) when the job's branch changes them; by default they are left out.
 */
include_copied: boolean, };

export type Conflict = { path: string, 
/**
 * `content`, `modify/delete`, `add/add`, `rename/delete`, `file/directory`, `mode`...
 */
kind: string, };

export type CheckedOut = { worktree: string, 
/**
 * Paths with uncommitted changes there (staged, unstaged or untracked) that the merge
 * would touch. Non-empty means the merge is refused unless autostash is asked for.
 */
dirty_overlap: Array<string>, };

export type MergePreview = { target: string, target_tip: string, 
/**
 * The job branch's tip that would be merged.
 */
job_head: string, merge_base: string, clean: boolean, conflicts: Array<Conflict>, 
/**
 * The target has new commits since the job started.
 */
target_moved: boolean, 
/**
 * Paths the merge would change on the target.
 */
changed_paths: Array<string>, checked_out: Array<CheckedOut>, 
/**
 * The job's branch is already contained in the target: nothing to merge.
 */
up_to_date: boolean, 
/**
 * A git operation in progress that the merge would break (a rebase of the target, a merge
 * in its checkout...): the merge is refused until it is finished or aborted.
 */
blocked_by: string | null, 
/**
 * Files Sidekick copied into the job's worktree that the job's branch changes (an agent
 * committed them itself): the merge leaves them out unless `include_copied` is set.
 */
left_out: Array<string>, };

export type MergeResult = { preview: MergePreview, 
/**
 * The merge happened (false for a dry run).
 */
merged: boolean, 
/**
 * The target's new tip.
 */
commit: string | null, 
/**
 * Where the user's stashed changes are when re-applying them after an autostash conflicted.
 */
stash_kept: string | null, 
/**
 * One or two sentences for the user.
 */
message: string, job: Job, };

export type GcReport = { dry_run: boolean, removed: Array<GcItem>, freed_bytes: number, 
/**
 * Jobs left alone because their repository is gone (moved or deleted): without it no
 * snapshot can be kept. `sidekick discard --orphaned JOB` forgets one and deletes its folder.
 */
orphaned: Array<GcItem>, 
/**
 * Warm worktrees removed (or that would be): of repositories without a job for a week, or
 * gone. Their bytes are in `freed_bytes`.
 */
warm_removed: Array<string>, };

export type GcItem = { job_id: string, codename: string, worktree: string, bytes: number, 
/**
 * Where the job's work is kept: `refs/sidekick/snapshots/<id>`.
 */
snapshot: string | null, };

export type ActionResult = { job: Job, message: string, };

export type RebaseRequest = { into: string | null, 
/**
 * Abort the rebase under way (stopped at conflicts): the branch goes back to where it was.
 */
abort: boolean, };

export type GcRequest = { dry_run: boolean, };

export type Side = "old" | "new";

export type FileLines = { path: string, side: Side, 
/**
 * The commit read; `None` for a live job's worktree.
 */
commit: string | null, 
/**
 * There is no such file on that side.
 */
missing: boolean, 
/**
 * The content is not text (a NUL byte in its first 8,000 bytes): no lines.
 */
binary: boolean, 
/**
 * The lines without their newlines (invalid UTF-8 replaced).
 */
lines: Array<string>, };

export type Comment = { id: number, path: string, side: Side, 
/**
 * The first and last line commented (1-based, inclusive) when the comment was made.
 */
line: number, end_line: number, 
/**
 * Those lines as they read then.
 */
quote: Array<string>, body: string, created_at: number, 
/**
 * When it went to the agent (`sidekick reply --comments`, the app's "Send to agent").
 */
sent_at: number | null, 
/**
 * Where the quoted lines are in the file now (the nearest place they still read the same);
 * `None` when they no longer exist: the comment is outdated.
 */
now_line: number | null, };

export type NewComment = { path: string, side: Side, line: number, 
/**
 * The last line of a range; `line` alone when absent.
 */
end_line: number | null, body: string, };

export type HunkPick = { path: string, hunks: Array<HunkRange>, };

export type HunkRange = { old_start: number, old_lines: number, new_start: number, new_lines: number, };

export type Viewed = { path: string, key: string | null, };

export type Pool = { repo: string, 
/**
 * How many it keeps (`warm_worktrees`, the repository's own or the host's).
 */
wanted: number, worktrees: Array<WarmWorktree>, };

export type WarmWorktree = { path: string, 
/**
 * The commit it holds; `None` while it is being made.
 */
commit: string | null, bytes: number, 
/**
 * Checked and watched since: a job claims it without checking its files again.
 */
watched: boolean, 
/**
 * The repository's setup ran in it ahead of time (`setup_cache`).
 */
set_up: boolean, };

export type TrustInfo = { 
/**
 * Top level of the repository.
 */
repo: string, 
/**
 * The setup command run in each job's worktree before the agent.
 */
setup: string | null, 
/**
 * Files copied from the user's checkout into each job's worktree.
 */
copy: Array<string>, 
/**
 * The configuration's default agent is `shell` or another agent that may run a task's text
 * as a command (the user's own command profile), not a coding agent.
 */
shell_by_default: boolean, 
/**
 * Task types that run a shell command, or whose prompt goes to an agent that may run it as
 * one.
 */
task_commands: Array<TaskCommand>, 
/**
 * What may merge into the user's branches without a review: the repository's
 * `[auto_merge] paths` and task types with `auto_merge = true`, one sentence each.
 */
auto_merge: Array<string>, 
/**
 * The submodules `.gitmodules` names (`PATH from URL`), which a job's worktree fetches and
 * checks out (in its sandbox) only once trusted; untrusted, jobs run without them.
 */
submodules: Array<string>, 
/**
 * A hash of every configuration file involved, as read now.
 */
hash: string, 
/**
 * The configuration runs something (else there is nothing to trust).
 */
needed: boolean, 
/**
 * The user trusts it at exactly this content.
 */
trusted: boolean, 
/**
 * The user trusted an earlier content of it, which has changed since.
 */
changed: boolean, };

export type TaskCommand = { name: string, command: string, };

export type TrustRequest = { repo: string, hash: string, };

export type PullRequest = { 
/**
 * `github` or `gitlab`.
 */
forge: string, 
/**
 * The number (GitLab: the merge request's iid).
 */
number: number, 
/**
 * Its page on the forge.
 */
url: string, state: PrState, 
/**
 * The branch it merges into.
 */
base: string, 
/**
 * The branch it merges from (the job's branch, as pushed).
 */
head: string, 
/**
 * The commit last pushed to it.
 */
head_sha: string, checks: Checks, 
/**
 * The reviewers' word, once there is one.
 */
review: ReviewState | null, 
/**
 * When the host last looked at it on the forge.
 */
polled_at: number | null, 
/**
 * Why the host cannot look at it right now ("rate limited until 14:05", the forge
 * unreachable), in one sentence; it looks again later.
 */
problem: string | null, 
/**
 * Rounds of failing checks handed back to the agent so far (`[pr] fix_ci`, `pr --fix`).
 */
fixes: number, 
/**
 * The agent is fixing the failing checks: the turn's commit is pushed to the pull request
 * when it ends.
 */
fixing: boolean, };

export type PrState = "open" | "draft" | "merged" | "closed";

export type CheckState = "none" | "pending" | "success" | "failure";

export type Checks = { state: CheckState, runs: Array<CheckRun>, };

export type CheckRun = { name: string, state: CheckState, 
/**
 * Its page on the forge.
 */
url: string | null, 
/**
 * What it said (title, summary and text; a failed job's last lines), trimmed.
 */
output: string | null, };

export type ReviewState = "approved" | "changes_requested";

export type PrRequest = { 
/**
 * Open it as a draft.
 */
draft: boolean, 
/**
 * The branch to merge into; the job's base branch when absent.
 */
base: string | null, 
/**
 * The title; the task's first line when absent.
 */
title: string | null, 
/**
 * The description; the agent's summary and the task when absent.
 */
body: string | null, 
/**
 * Hand the failing checks back to the agent once, as a reply (`pr --fix`).
 */
fix: boolean, 
/**
 * The client's own tokens.
 */
tokens: ForgeTokens, };

export type Secret = string;

export type ForgeTokens = { github: Secret | null, gitlab: Secret | null, };

export type PrOpenMode = "ready" | "draft";

export type IssueRef = { number: number, title: string, url: string, };

/** Where a job in each state sits in the status bar (`JobState::attention`). */
export const ATTENTION: Record<JobState, Attention> = {
  queued: "queued",
  starting: "running",
  running: "running",
  waiting: "waiting",
  stopping: "running",
  completed: "review",
  failed: "review",
  timeout: "review",
  cancelled: "review",
  interrupted: "review",
  merged: "closed",
  discarded: "closed",
};
