//! A scripted forge on loopback for the pull-request tests: GitHub's REST v3 under `/gh` and
//! GitLab's REST v4 under `/gl/api/v4`, sharing one set of pull requests. A pull request's head
//! commit is read from a real bare repository (the push target), so what the tests push is what
//! the forge reports. The test scripts the rest: the token it accepts, each new head commit's
//! checks, reviews, issues, a rate limit, a merge or close done on the forge. Every request is
//! recorded with the status it got.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};

/// One check of a commit as the test scripts it.
#[derive(Debug, Clone)]
pub struct ScriptedCheck {
    pub name: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// `success`, `failure`, …, once completed.
    pub conclusion: Option<String>,
    pub output: String,
}

impl ScriptedCheck {
    pub fn passed(name: &str) -> ScriptedCheck {
        ScriptedCheck::done(name, "success", "")
    }

    pub fn failed(name: &str, output: &str) -> ScriptedCheck {
        ScriptedCheck::done(name, "failure", output)
    }

    pub fn running(name: &str) -> ScriptedCheck {
        ScriptedCheck {
            name: name.into(),
            status: "in_progress".into(),
            conclusion: None,
            output: String::new(),
        }
    }

    fn done(name: &str, conclusion: &str, output: &str) -> ScriptedCheck {
        ScriptedCheck {
            name: name.into(),
            status: "completed".into(),
            conclusion: Some(conclusion.into()),
            output: output.into(),
        }
    }
}

/// A pull request the forge holds.
#[derive(Debug, Clone)]
pub struct ScriptedPull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
    /// `open`, `closed` or `merged`.
    pub state: String,
    /// Reviews as (user, `APPROVED` | `CHANGES_REQUESTED` | `COMMENTED`).
    pub reviews: Vec<(String, String)>,
}

/// One request as the forge saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The request carried `If-None-Match`.
    pub conditional: bool,
}

#[derive(Default)]
pub struct ForgeState {
    pub token: String,
    pub pulls: Vec<ScriptedPull>,
    /// Checks handed to each new head commit in turn; the last one repeats.
    pub check_script: Vec<Vec<ScriptedCheck>>,
    /// Each head commit's checks, given when first asked for.
    pub checks: HashMap<String, Vec<ScriptedCheck>>,
    /// Head commits in the order their checks were first given (GitLab's pipeline ids).
    order: Vec<String>,
    pub issues: HashMap<u64, (String, String)>,
    /// The next this many requests are refused for the rate limit, which resets at `.1`.
    pub rate_limited: (u32, u64),
    pub seen: Vec<Seen>,
    bare: PathBuf,
}

/// The scripted forge; it stops when dropped.
pub struct ScriptedForge {
    pub addr: std::net::SocketAddr,
    state: Arc<Mutex<ForgeState>>,
    _rt: tokio::runtime::Runtime,
}

impl ScriptedForge {
    /// A forge accepting `token`, reading head commits from the bare repository `bare`.
    pub fn start(bare: &std::path::Path, token: &str) -> Result<ScriptedForge, String> {
        let state = Arc::new(Mutex::new(ForgeState {
            token: token.into(),
            bare: bare.to_path_buf(),
            ..ForgeState::default()
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let app = Router::new()
            .route("/{*rest}", any(api))
            .with_state(state.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("addr: {e}"))?;
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ScriptedForge {
            addr,
            state,
            _rt: rt,
        })
    }

    /// `[github] api_url` for this forge.
    pub fn github_api(&self) -> String {
        format!("http://{}/gh", self.addr)
    }

    /// `[gitlab] api_url` for this forge.
    pub fn gitlab_api(&self) -> String {
        format!("http://{}/gl/api/v4", self.addr)
    }

    /// The forge's state, to script or to look at.
    pub fn state(&self) -> MutexGuard<'_, ForgeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The commit `branch` points at in the bare repository, if it is there.
fn head_sha(bare: &std::path::Path, branch: &str) -> Option<String> {
    let out = crate::git_command(bare)
        .args(["rev-parse", "--verify", "-q"])
        .arg(format!("refs/heads/{branch}^{{commit}}"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn query_map(q: Option<String>) -> HashMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What both forges check first: the rate limit, then the token.
fn gate(st: &mut ForgeState, headers: &HeaderMap, gitlab: bool) -> Option<Response> {
    if st.rate_limited.0 > 0 {
        st.rate_limited.0 -= 1;
        let reset = st.rate_limited.1.to_string();
        let mut r = reply(
            if gitlab {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::FORBIDDEN
            },
            json!({"message": "API rate limit exceeded"}),
        );
        let h = r.headers_mut();
        h.insert("x-ratelimit-remaining", "0".parse().ok()?);
        h.insert("x-ratelimit-reset", reset.parse().ok()?);
        h.insert("ratelimit-reset", reset.parse().ok()?);
        return Some(r);
    }
    let given = if gitlab {
        headers
            .get("private-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    } else {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string)
    };
    (given.as_deref() != Some(st.token.as_str())).then(|| {
        reply(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Bad credentials"}),
        )
    })
}

/// The checks of `sha`: scripted when first asked for.
fn checks_of(st: &mut ForgeState, sha: &str) -> Vec<ScriptedCheck> {
    if let Some(c) = st.checks.get(sha) {
        return c.clone();
    }
    let next = if st.check_script.len() > 1 {
        st.check_script.remove(0)
    } else {
        st.check_script.first().cloned().unwrap_or_default()
    };
    st.checks.insert(sha.to_string(), next.clone());
    st.order.push(sha.to_string());
    next
}

fn etagged(headers: &HeaderMap, body: Value) -> Response {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.to_string().hash(&mut h);
    let etag = format!("\"{:x}\"", h.finish());
    if headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut r = reply(StatusCode::OK, body);
    if let Ok(v) = etag.parse() {
        r.headers_mut().insert("etag", v);
    }
    r
}

fn record(st: &mut ForgeState, method: &Method, uri: &Uri, headers: &HeaderMap, r: &Response) {
    st.seen.push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        status: r.status().as_u16(),
        conditional: headers.contains_key("if-none-match"),
    });
}

/// The place of pull request `n` (as its URL writes it) among the forge's.
fn pull_at(st: &ForgeState, n: &str) -> Option<usize> {
    let n = n.parse::<u64>().ok()?;
    st.pulls.iter().position(|p| p.number == n)
}

/// A new open pull request, numbered next.
fn new_pull(
    st: &ForgeState,
    head: String,
    base: String,
    title: String,
    body: String,
    draft: bool,
) -> ScriptedPull {
    ScriptedPull {
        number: st.pulls.len() as u64 + 1,
        head,
        base,
        title,
        body,
        draft,
        state: "open".into(),
        reviews: Vec::new(),
    }
}

/// Sets what `input` gives under `keys` (title, body, base as each forge names them).
fn edit_pull(p: &mut ScriptedPull, input: &Value, keys: [&str; 3]) {
    for (k, field) in keys
        .into_iter()
        .zip([&mut p.title, &mut p.body, &mut p.base])
    {
        if let Some(v) = input[k].as_str() {
            *field = v.to_string();
        }
    }
}

fn gh_pull(st: &ForgeState, base_url: &str, p: &ScriptedPull) -> Value {
    let sha = head_sha(&st.bare, &p.head).unwrap_or_default();
    json!({
        "number": p.number,
        "html_url": format!("{base_url}/pull/{}", p.number),
        "state": if p.state == "open" { "open" } else { "closed" },
        "draft": p.draft,
        "merged": p.state == "merged",
        "merged_at": (p.state == "merged").then_some("2026-12-08T00:00:00Z"),
        "title": p.title,
        "body": p.body,
        "head": {"ref": p.head, "sha": sha},
        "base": {"ref": p.base, "sha": ""},
    })
}

/// Every request: GitHub's under `/gh/`, GitLab's under `/gl/api/v4/`, each past the rate
/// limit and the token first, and recorded.
async fn api(
    State(state): State<Arc<Mutex<ForgeState>>>,
    method: Method,
    uri: Uri,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let path = uri.path().to_string();
    let r = if let Some(rest) = path.strip_prefix("/gh/") {
        gate(&mut st, &headers, false)
            .unwrap_or_else(|| github_route(&mut st, &method, rest, q, &headers, &body))
    } else if path.starts_with("/gl/api/v4/") {
        gate(&mut st, &headers, true)
            .unwrap_or_else(|| gitlab_route(&mut st, &method, &uri, q, &headers, &body))
    } else {
        reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"}))
    };
    record(&mut st, &method, &uri, &headers, &r);
    r
}

fn github_route(
    st: &mut ForgeState,
    method: &Method,
    rest: &str,
    q: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let parts: Vec<&str> = rest.split('/').collect();
    let not_found = || reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    let ["repos", owner, name, tail @ ..] = parts.as_slice() else {
        return not_found();
    };
    let site = format!("https://github.com/{owner}/{name}");
    let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (method.as_str(), tail) {
        ("GET", ["pulls"]) => {
            let q = query_map(q);
            let head = q.get("head").cloned().unwrap_or_default();
            let list: Vec<Value> = st
                .pulls
                .iter()
                .filter(|p| p.state == "open" && format!("{owner}:{}", p.head) == head)
                .map(|p| gh_pull(st, &site, p))
                .collect();
            reply(StatusCode::OK, Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            let text = |k: &str| input[k].as_str().unwrap_or_default().to_string();
            let head = text("head");
            if head_sha(&st.bare, &head).is_none() {
                return reply(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"message": "Validation Failed", "errors": [{"message": format!("head {head} does not exist")}]}),
                );
            }
            if st.pulls.iter().any(|p| p.head == head && p.state == "open") {
                return reply(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"message": "Validation Failed", "errors": [{"message": format!("A pull request already exists for {owner}:{head}.")}]}),
                );
            }
            let draft = input["draft"].as_bool().unwrap_or(false);
            let p = new_pull(st, head, text("base"), text("title"), text("body"), draft);
            let v = gh_pull(st, &site, &p);
            st.pulls.push(p);
            reply(StatusCode::CREATED, v)
        }
        (m, ["pulls", n, more @ ..]) => {
            let Some(i) = pull_at(st, n) else {
                return not_found();
            };
            match (m, more) {
                ("GET", []) => etagged(headers, gh_pull(st, &site, &st.pulls[i])),
                ("PATCH", []) => {
                    edit_pull(&mut st.pulls[i], &input, ["title", "body", "base"]);
                    let p = st.pulls[i].clone();
                    reply(StatusCode::OK, gh_pull(st, &site, &p))
                }
                ("GET", ["reviews"]) => reply(
                    StatusCode::OK,
                    st.pulls[i]
                        .reviews
                        .iter()
                        .map(|(u, s)| json!({"user": {"login": u}, "state": s}))
                        .collect(),
                ),
                _ => not_found(),
            }
        }
        ("GET", ["commits", sha, "check-runs"]) => {
            let runs: Vec<Value> = checks_of(st, sha)
                .into_iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "status": c.status,
                        "conclusion": c.conclusion,
                        "html_url": format!("{site}/runs/{}", c.name),
                        "output": {"title": c.conclusion, "summary": c.output, "text": null},
                    })
                })
                .collect();
            reply(
                StatusCode::OK,
                json!({"total_count": runs.len(), "check_runs": runs}),
            )
        }
        ("GET", ["commits", _, "status"]) => reply(
            StatusCode::OK,
            json!({"state": "pending", "statuses": []}),
        ),
        ("GET", ["issues", n]) => match n.parse::<u64>().ok().and_then(|n| {
            st.issues.get(&n).map(|(t, b)| {
                json!({"number": n, "title": t, "body": b, "html_url": format!("{site}/issues/{n}")})
            })
        }) {
            Some(v) => reply(StatusCode::OK, v),
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// The head commit of pipeline `id` (pipelines are numbered by the commits in order seen).
fn pipeline_sha(st: &ForgeState, id: usize) -> Option<String> {
    st.order.get(id.checked_sub(1)?).cloned()
}

fn gl_mr(st: &mut ForgeState, site: &str, p: &ScriptedPull) -> Value {
    let sha = head_sha(&st.bare, &p.head).unwrap_or_default();
    // A pipeline per head commit: its number is the commit's place among those seen.
    let pipeline = if sha.is_empty() {
        Value::Null
    } else {
        checks_of(st, &sha);
        let id = st.order.iter().position(|k| *k == sha).unwrap_or(0) + 1;
        json!({"id": id, "sha": sha})
    };
    let changes = p.reviews.iter().any(|(_, s)| s == "CHANGES_REQUESTED");
    json!({
        "iid": p.number,
        "web_url": format!("{site}/-/merge_requests/{}", p.number),
        "state": match p.state.as_str() { "open" => "opened", s => s },
        "draft": p.title.starts_with("Draft:"),
        "title": p.title,
        "description": p.body,
        "source_branch": p.head,
        "target_branch": p.base,
        "sha": sha,
        "head_pipeline": pipeline,
        "detailed_merge_status": if changes { "requested_changes" } else { "mergeable" },
    })
}

fn gitlab_route(
    st: &mut ForgeState,
    method: &Method,
    uri: &Uri,
    q: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let not_found = || reply(StatusCode::NOT_FOUND, json!({"message": "404 Not Found"}));
    // The project is one encoded path segment (`group%2Fname`): read it from the raw URI.
    let raw = uri.path();
    let Some(after) = raw.split("/projects/").nth(1) else {
        return not_found();
    };
    let (project, remainder) = after.split_once('/').unwrap_or((after, ""));
    let site = format!("https://gitlab.com/{}", decode(project));
    let tail: Vec<&str> = remainder.split('/').collect();
    let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (method.as_str(), tail.as_slice()) {
        ("GET", ["merge_requests"]) => {
            let q = query_map(q);
            let head = q.get("source_branch").cloned().unwrap_or_default();
            let open: Vec<ScriptedPull> = st
                .pulls
                .iter()
                .filter(|p| p.state == "open" && p.head == head)
                .cloned()
                .collect();
            let list: Vec<Value> = open.iter().map(|p| gl_mr(st, &site, p)).collect();
            reply(StatusCode::OK, Value::Array(list))
        }
        ("POST", ["merge_requests"]) => {
            let text = |k: &str| input[k].as_str().unwrap_or_default().to_string();
            let draft = text("title").starts_with("Draft:");
            let p = new_pull(
                st,
                text("source_branch"),
                text("target_branch"),
                text("title"),
                text("description"),
                draft,
            );
            let v = gl_mr(st, &site, &p);
            st.pulls.push(p);
            reply(StatusCode::CREATED, v)
        }
        (m, ["merge_requests", n, more @ ..]) => {
            let Some(i) = pull_at(st, n) else {
                return not_found();
            };
            match (m, more) {
                ("GET", []) => {
                    let p = st.pulls[i].clone();
                    let v = gl_mr(st, &site, &p);
                    etagged(headers, v)
                }
                ("PUT", []) => {
                    edit_pull(&mut st.pulls[i], &input, ["title", "description", "target_branch"]);
                    let p = st.pulls[i].clone();
                    let v = gl_mr(st, &site, &p);
                    reply(StatusCode::OK, v)
                }
                ("GET", ["approvals"]) => {
                    let by: Vec<Value> = st.pulls[i]
                        .reviews
                        .iter()
                        .filter(|(_, s)| s == "APPROVED")
                        .map(|(u, _)| json!({"user": {"username": u}}))
                        .collect();
                    reply(
                        StatusCode::OK,
                        json!({"approved": !by.is_empty(), "approved_by": by}),
                    )
                }
                _ => not_found(),
            }
        }
        ("GET", ["pipelines", id, "jobs"]) => {
            let Some((pipeline, sha)) = id
                .parse::<usize>()
                .ok()
                .and_then(|id| Some((id, pipeline_sha(st, id)?)))
            else {
                return not_found();
            };
            let jobs: Vec<Value> = checks_of(st, &sha)
                .into_iter()
                .enumerate()
                .map(|(j, c)| {
                    let status = match (c.status.as_str(), c.conclusion.as_deref()) {
                        ("completed", Some("success")) => "success",
                        ("completed", _) => "failed",
                        _ => "running",
                    };
                    let id = pipeline * 100 + j + 1;
                    json!({"id": id, "name": c.name, "status": status,
                           "web_url": format!("{site}/-/jobs/{id}"), "allow_failure": false})
                })
                .collect();
            reply(StatusCode::OK, Value::Array(jobs))
        }
        ("GET", ["jobs", id, "trace"]) => {
            let Some(check) = id.parse::<usize>().ok().and_then(|id| {
                let sha = pipeline_sha(st, id / 100)?;
                st.checks.get(&sha)?.get((id % 100).checked_sub(1)?).cloned()
            }) else {
                return not_found();
            };
            (StatusCode::OK, check.output).into_response()
        }
        ("GET", ["issues", n]) => match n.parse::<u64>().ok().and_then(|n| {
            st.issues.get(&n).map(|(t, b)| {
                json!({"iid": n, "title": t, "description": b, "web_url": format!("{site}/-/issues/{n}")})
            })
        }) {
            Some(v) => reply(StatusCode::OK, v),
            None => not_found(),
        },
        _ => not_found(),
    }
}
