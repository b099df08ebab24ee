//! The user's and a repository's configuration read from real TOML.

use std::path::Path;

use sidekick_protocol::DiffLimits;

use crate::*;

#[test]
fn ask_is_refused_for_agents_whose_approvals_are_not_carried() {
    for agent in ["claude", "codex", "gemini"] {
        let ok = Config::parse(
            &format!("[agents.{agent}]\npermission = \"ask\"\n"),
            Path::new("c.toml"),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }
    let err = Config::parse(
        "[agents.aider]\npermission = \"ask\"\n",
        Path::new("c.toml"),
    )
    .expect_err("refused");
    assert!(
        err.to_string()
            .contains("agents.aider.permission: aider takes no permission setting"),
        "{err}"
    );
    // A user's own profile may ask only when its agent is one whose approvals are carried.
    let err = Config::parse(
        "[agents.mine]\ncommand = [\"mine\"]\npermission = \"ask\"\n",
        Path::new("c.toml"),
    )
    .expect_err("refused");
    assert!(
        err.to_string()
            .contains("agents.mine.permission: `ask` works for claude, codex, gemini"),
        "{err}"
    );
}

#[test]
fn a_built_in_agents_permission_is_one_of_its_own_modes() {
    for (agent, mode) in [
        ("claude", "acceptEdits"),
        ("claude", "bypassPermissions"),
        ("codex", "workspace-write"),
        ("gemini", "yolo"),
    ] {
        let ok = Config::parse(
            &format!("[agents.{agent}]\npermission = \"{mode}\"\n"),
            Path::new("c.toml"),
        );
        assert!(ok.is_ok(), "{agent} {mode}: {ok:?}");
    }
    let err = Config::parse(
        "[agents.claude]\npermission = \"yolo\"\n",
        Path::new("c.toml"),
    )
    .expect_err("yolo is gemini's, not claude's");
    assert!(
        err.to_string().contains(
            "agents.claude.permission: 'yolo' is not one of claude's modes (ask, default, manual, acceptEdits, plan, auto, dontAsk, bypassPermissions)"
        ),
        "{err}"
    );
}

#[test]
fn the_apps_open_commands_are_checked_here() {
    Config::parse(
        "[open]\neditor = [\"code\", \"--wait\"]\nterminal = [\"kitty\"]\n",
        Path::new("c.toml"),
    )
    .expect("accepted");
    let err = Config::parse("[open]\neditor = []\n", Path::new("c.toml")).expect_err("empty");
    assert!(
        err.to_string().contains("open.editor must name a program"),
        "{err}"
    );
    let err =
        Config::parse("[open]\nbrowser = [\"x\"]\n", Path::new("c.toml")).expect_err("unknown");
    assert!(err.to_string().contains("browser"), "{err}");
}

#[test]
fn nesting_depth_and_the_mcp_settings() {
    let c = Config::parse("", Path::new("c.toml")).expect("empty");
    assert_eq!(c.max_depth, 3);
    assert_eq!(c.max_children, 10);
    assert_eq!(c.mcp, McpConfig::default());
    assert!(c.mcp.expose_to_jobs && !c.mcp.allow_merge && !c.mcp.any_job && !c.mcp.allow_pr);
    let c = Config::parse(
        "max_children = 2
[mcp]
any_job = true
",
        Path::new("c.toml"),
    )
    .expect("parsed");
    assert!(c.max_children == 2 && c.mcp.any_job);
    let err = Config::parse(
        "max_children = 0
",
        Path::new("c.toml"),
    )
    .expect_err("zero");
    assert!(
        err.to_string().contains("max_children must be at least 1"),
        "{err}"
    );
    let c = Config::parse(
        "max_depth = 1\n[mcp]\nallow_merge = true\nallow_pr = true\nexpose_to_jobs = false\n",
        Path::new("c.toml"),
    )
    .expect("parsed");
    assert_eq!(c.max_depth, 1);
    assert!(c.mcp.allow_merge && c.mcp.allow_pr && !c.mcp.expose_to_jobs);
    let err = Config::parse("max_depth = 0\n", Path::new("c.toml")).expect_err("zero");
    assert!(
        err.to_string().contains("max_depth must be at least 1"),
        "{err}"
    );
    let err = Config::parse("[mcp]\nallow_merges = true\n", Path::new("c.toml"))
        .expect_err("unknown key");
    assert!(err.to_string().contains("allow_merges"), "{err}");
}

#[test]
fn defaults_when_empty() {
    let c = Config::parse("", Path::new("c.toml")).expect("empty config is fine");
    assert_eq!(c, Config::default());
    assert_eq!(c.max_running, 3);
    assert_eq!(c.default_timeout_ms, 30 * 60 * 1000);
}

#[test]
fn reads_agents_and_limits() {
    let c = Config::parse(
        r#"
        max_running = 5
        timeout = "10m"
        [agents.echo]
        command = ["echo", "--", "{task}"]
        env = { FOO = "bar" }
        timeout = "90s"
        [diff]
        max_file_lines = 10
        "#,
        Path::new("c.toml"),
    )
    .expect("valid config");
    assert_eq!(c.max_running, 5);
    assert_eq!(c.default_timeout_ms, 600_000);
    let a = &c.agents["echo"];
    assert_eq!(a.command, vec!["echo", "--", "{task}"]);
    assert_eq!(a.env.get("FOO").map(String::as_str), Some("bar"));
    assert_eq!(a.timeout_ms, Some(90_000));
    assert_eq!(c.diff.max_file_lines, 10);
    assert_eq!(
        c.diff.max_total_lines,
        DiffLimits::default().max_total_lines
    );
}

#[test]
fn names_the_file_and_the_problem() {
    for (text, needle) in [
        ("max_running = 0", "max_running"),
        ("timeout = \"soon\"", "timeout"),
        ("[agents.x]\ncommand = []", "agents.x.command"),
        ("bogus = 1", "bogus"),
        ("max_running = [", "c.toml"),
    ] {
        let err = Config::parse(text, Path::new("c.toml")).expect_err(text);
        let msg = err.to_string();
        assert!(msg.contains("c.toml") && msg.contains(needle), "{msg}");
    }
}

#[test]
fn repo_config_refuses_paths_outside_the_repo() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".sidekick")).expect("mkdir");
    let cfg_path = RepoConfig::path_in(dir.path());
    std::fs::write(&cfg_path, "copy = [\"../secret\"]").expect("write");
    assert!(RepoConfig::load(dir.path()).is_err());
    std::fs::write(&cfg_path, "copy = [\".env\"]\nsetup = \"make deps\"").expect("write");
    let cfg = RepoConfig::load(dir.path()).expect("valid");
    assert_eq!(cfg.copy, vec![".env"]);
    assert_eq!(cfg.setup.as_deref(), Some("make deps"));
    let err = |text: &str| {
        std::fs::write(&cfg_path, text).expect("write");
        RepoConfig::load(dir.path())
            .expect_err("refused")
            .to_string()
    };
    assert!(err("setup = \"make\"\nsetup_cache = [\"/etc/passwd\"]")
        .contains("setup_cache entry '/etc/passwd' must be a path inside the repository"));
    assert!(err("setup_cache = [\"package-lock.json\"]").contains("there is no setup"));
    std::fs::write(
        &cfg_path,
        "setup = \"npm ci\"\nsetup_cache = [\"package-lock.json\", \"web/yarn.lock\"]",
    )
    .expect("write");
    let cfg = RepoConfig::load(dir.path()).expect("valid");
    assert_eq!(cfg.setup_cache, vec!["package-lock.json", "web/yarn.lock"]);
}

#[test]
fn the_forges_and_pull_requests_are_read_with_their_defaults() {
    let c = Config::parse("", Path::new("c.toml")).expect("empty");
    assert_eq!(c.forges.github.api_url, "https://api.github.com");
    assert_eq!(c.forges.gitlab.api_url, "https://gitlab.com/api/v4");
    assert_eq!(c.forges.poll_interval_ms, 30_000);
    assert_eq!(c.pr, PrConfig::default());
    let c = Config::parse(
        "[github]\napi_url = \"https://ghe.corp.example/api/v3/\"\nhosts = [\"GHE.corp.example\"]\npoll_interval = \"1m\"\n\
         [gitlab]\napi_url = \"http://127.0.0.1:8123/api/v4\"\nhosts = [\"gitlab.corp.example\"]\n\
         [pr]\nopen = \"draft\"\nfix_ci = 2\n",
        Path::new("c.toml"),
    )
    .expect("forges");
    assert_eq!(c.forges.github.api_url, "https://ghe.corp.example/api/v3");
    assert_eq!(c.forges.github.hosts, ["ghe.corp.example"]);
    assert_eq!(c.forges.poll_interval_ms, 60_000);
    assert_eq!(c.forges.gitlab.api_url, "http://127.0.0.1:8123/api/v4");
    assert_eq!(
        c.pr,
        PrConfig {
            open: PrOpen::Draft,
            fix_ci: 2
        }
    );
}

#[test]
fn a_forge_setting_that_would_leak_a_token_or_spend_the_rate_limit_is_refused() {
    for (toml, says) in [
        (
            "[github]\napi_url = \"http://api.github.com\"\n",
            "github.api_url: 'http://api.github.com' must be an https:// URL",
        ),
        (
            "[gitlab]\napi_url = \"http://127.0.0.1.evil.example/api\"\n",
            "gitlab.api_url",
        ),
        (
            "[github]\napi_url = \"https://x.example/api?token=1\"\n",
            "with no query",
        ),
        (
            "[github]\nhosts = [\"https://ghe.example\"]\n",
            "must be a host name",
        ),
        ("[github]\npoll_interval = \"1s\"\n", "too often"),
        ("[gitlab]\npoll_interval = \"1m\"\n", "gitlab.poll_interval"),
        (
            "[github]\nhosts = [\"x.example\"]\n[gitlab]\nhosts = [\"x.example\"]\n",
            "both github.hosts and gitlab.hosts",
        ),
        (
            "[pr]\nopen = \"yes\"\n",
            "pr.open: 'yes' is not one of off, draft, ready",
        ),
        ("[pr]\nfix_ci = 50\n", "pr.fix_ci"),
        ("[github]\ntoken = \"ghp_x\"\n", "unknown field `token`"),
    ] {
        let e = Config::parse(toml, Path::new("c.toml")).expect_err(toml);
        assert!(e.to_string().contains(says), "{toml}: {e}");
    }
}
