//! The forge clients against the scripted GitHub and GitLab on loopback, with a real bare
//! repository holding the branch the pull request is from.

use sidekick_forge::{
    connect, Forge, ForgeError, ForgeKind, Fresh, Hosts, NewPull, PullChange, Remote, Token,
};
use sidekick_protocol::{CheckState, PrState, ReviewState};
use sidekick_testkit::forge::{ScriptedCheck, ScriptedForge};
use sidekick_testkit::git;

struct World {
    _dir: tempfile::TempDir,
    forge: ScriptedForge,
    sha: String,
}

/// A bare repository with `main` and `sidekick/brave-otter`, and the forge reading it.
fn world() -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    sidekick_testkit::repo_with_commit(&work).expect("repo");
    git(&work, &["checkout", "-q", "-b", "sidekick/brave-otter"]).expect("branch");
    std::fs::write(work.join("a.txt"), "a\n").expect("write");
    git(&work, &["add", "a.txt"]).expect("add");
    git(&work, &["commit", "-q", "-m", "a"]).expect("commit");
    let sha = git(&work, &["rev-parse", "HEAD"])
        .expect("sha")
        .trim()
        .to_string();
    let bare = dir.path().join("origin.git");
    git(dir.path(), &["clone", "-q", "--bare", "work", "origin.git"]).expect("bare");
    let forge = ScriptedForge::start(&bare, "good-token").expect("forge");
    World {
        _dir: dir,
        forge,
        sha,
    }
}

fn client(w: &World, kind: ForgeKind, token: &str) -> Box<dyn Forge> {
    let (url, api) = match kind {
        ForgeKind::GitHub => ("https://github.com/acme/widgets.git", w.forge.github_api()),
        ForgeKind::GitLab => (
            "git@gitlab.com:acme/tools/widgets.git",
            w.forge.gitlab_api(),
        ),
    };
    let remote = Remote::parse(url, &Hosts::default()).expect("remote");
    connect(&remote, &api, Token::from_client(token).expect("token"))
}

fn new_pull(draft: bool) -> NewPull {
    NewPull {
        head: "sidekick/brave-otter".into(),
        base: "main".into(),
        title: "Add a".into(),
        body: "The agent added a.".into(),
        draft,
    }
}

/// Open, find again, update, look at it conditionally, read its failing checks and review.
fn the_pull_request_round_trip(kind: ForgeKind) {
    let w = world();
    w.forge.state().check_script = vec![vec![
        ScriptedCheck::passed("lint"),
        ScriptedCheck::failed("test", "assertion failed: left == right\nat src/a.rs:3"),
    ]];
    let f = client(&w, kind, "good-token");
    assert_eq!(f.find_open("sidekick/brave-otter").expect("list"), None);
    let made = f.create(&new_pull(true)).expect("create");
    assert_eq!(made.number, 1);
    assert_eq!(made.state, PrState::Draft);
    assert_eq!(made.head_sha, w.sha);
    assert_eq!(
        (made.head.as_str(), made.base.as_str()),
        ("sidekick/brave-otter", "main")
    );
    let found = f.find_open("sidekick/brave-otter").expect("list");
    assert_eq!(found.as_ref().map(|p| p.number), Some(1), "{found:?}");

    let changed = f
        .update(
            1,
            &PullChange {
                body: Some("New words.".into()),
                ..PullChange::default()
            },
        )
        .expect("update");
    assert_eq!(changed.number, 1);
    assert_eq!(w.forge.state().pulls[0].body, "New words.");

    let Fresh::New(pull, Some(etag)) = f.get(1, None).expect("get") else {
        panic!("no ETag on a pull request");
    };
    assert_eq!(f.get(1, Some(&etag)).expect("get again"), Fresh::Unchanged);
    let seen = w.forge.seen();
    let last = seen.last().expect("a request");
    assert!(last.conditional && last.status == 304, "{last:?}");

    let checks = f.checks(&pull).expect("checks");
    assert_eq!(checks.state, CheckState::Failure, "{checks:?}");
    let failing: Vec<_> = checks.failing().collect();
    assert_eq!(failing.len(), 1, "{checks:?}");
    assert_eq!(failing[0].name, "test");
    let said = failing[0].output.clone().unwrap_or_default();
    assert!(said.contains("assertion failed"), "{said}");

    assert_eq!(f.review(1).expect("review"), None);
    w.forge.state().pulls[0]
        .reviews
        .push(("ana".into(), "APPROVED".into()));
    assert_eq!(f.review(1).expect("review"), Some(ReviewState::Approved));
    w.forge.state().pulls[0]
        .reviews
        .push(("bo".into(), "CHANGES_REQUESTED".into()));
    assert_eq!(
        f.review(1).expect("review"),
        Some(ReviewState::ChangesRequested)
    );

    w.forge.state().pulls[0].state = "merged".into();
    let Fresh::New(merged, _) = f.get(1, Some(&etag)).expect("get merged") else {
        panic!("a merge on the forge must change the ETag");
    };
    assert_eq!(merged.state, PrState::Merged);

    w.forge
        .state()
        .issues
        .insert(7, ("Crash on empty input".into(), "Steps: run it.".into()));
    let issue = f.issue(7).expect("issue");
    assert_eq!(
        (issue.number, issue.title.as_str()),
        (7, "Crash on empty input")
    );
    assert_eq!(issue.body, "Steps: run it.");
    let missing = f.issue(8).expect_err("no such issue");
    assert!(matches!(missing, ForgeError::NotFound { .. }), "{missing}");
}

#[test]
fn github_pull_requests_round_trip() {
    the_pull_request_round_trip(ForgeKind::GitHub);
}

#[test]
fn gitlab_merge_requests_round_trip() {
    the_pull_request_round_trip(ForgeKind::GitLab);
}

#[test]
fn a_refused_token_says_how_to_log_in() {
    let w = world();
    for (kind, hint) in [
        (
            ForgeKind::GitHub,
            "GitHub refused the token (401): set GH_TOKEN or run `gh auth login`",
        ),
        (
            ForgeKind::GitLab,
            "GitLab refused the token (401): set GITLAB_TOKEN or run `glab auth login`",
        ),
    ] {
        let e = client(&w, kind, "stale")
            .find_open("sidekick/brave-otter")
            .expect_err("a wrong token");
        assert_eq!(e.to_string(), hint);
        assert!(!e.is_passing());
    }
}

#[test]
fn a_spent_rate_limit_says_until_when_and_passes() {
    let w = world();
    w.forge.state().rate_limited = (2, 1_765_000_000);
    for kind in [ForgeKind::GitHub, ForgeKind::GitLab] {
        let e = client(&w, kind, "good-token")
            .find_open("sidekick/brave-otter")
            .expect_err("rate limited");
        assert_eq!(
            e,
            ForgeError::RateLimited {
                forge: kind,
                until: 1_765_000_000
            }
        );
        assert!(
            e.to_string().ends_with("rate limited until 05:46 UTC"),
            "{e}"
        );
        assert!(e.is_passing());
    }
    // Then it answers again.
    assert!(client(&w, ForgeKind::GitHub, "good-token")
        .find_open("sidekick/brave-otter")
        .is_ok());
}

#[test]
fn an_unreachable_forge_is_one_sentence_naming_it() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let remote =
        Remote::parse("https://github.com/acme/widgets", &Hosts::default()).expect("remote");
    let api = format!("http://127.0.0.1:{port}/gh");
    let f = connect(&remote, &api, Token::from_client("t").expect("token"));
    let e = f.find_open("x").expect_err("unreachable");
    assert!(e.is_passing(), "{e:?}");
    let said = e.to_string();
    assert!(
        said.starts_with(&format!("GitHub at {api} cannot be reached: ")),
        "{said}"
    );
    assert!(!said.contains('\n'), "{said}");
}

#[test]
fn a_second_pull_request_for_one_branch_is_refused_in_the_forges_words() {
    let w = world();
    let f = client(&w, ForgeKind::GitHub, "good-token");
    f.create(&new_pull(false)).expect("first");
    let e = f.create(&new_pull(false)).expect_err("second");
    assert_eq!(
        e.to_string(),
        "GitHub refused the request (422): Validation Failed; A pull request already exists for acme:sidekick/brave-otter."
    );
}
