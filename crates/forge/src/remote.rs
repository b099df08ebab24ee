//! A repository's remote read as a forge: `https://github.com/owner/repo(.git)`,
//! `ssh://git@host:22/owner/repo.git`, `git@host:owner/repo.git`. GitLab's nested groups
//! (`group/sub/repo`) keep the whole path as the owner.

/// The forges Sidekick speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeKind {
    GitHub,
    GitLab,
}

impl ForgeKind {
    /// The forge as the wire names it (`PullRequest.forge`, `ForgeTokens`): `github`, `gitlab`.
    pub fn id(self) -> &'static str {
        match self {
            ForgeKind::GitHub => "github",
            ForgeKind::GitLab => "gitlab",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ForgeKind::GitHub => "GitHub",
            ForgeKind::GitLab => "GitLab",
        }
    }
}

/// The git hosts that are a forge besides the public ones (`[github] hosts`, `[gitlab] hosts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts {
    pub github: Vec<String>,
    pub gitlab: Vec<String>,
}

impl Hosts {
    /// The forge a host is: github.com and gitlab.com, else the configured ones.
    pub fn kind_of(&self, host: &str) -> Option<ForgeKind> {
        let host = host.to_ascii_lowercase();
        let listed = |list: &[String]| list.iter().any(|h| h.eq_ignore_ascii_case(&host));
        if host == "github.com" || listed(&self.github) {
            Some(ForgeKind::GitHub)
        } else if host == "gitlab.com" || listed(&self.gitlab) {
            Some(ForgeKind::GitLab)
        } else {
            None
        }
    }
}

/// A remote on a forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub kind: ForgeKind,
    pub host: String,
    /// The owner (a user, an organisation, or GitLab's group path).
    pub owner: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error("the remote '{0}' is not a URL Sidekick can read as OWNER/REPOSITORY on a host")]
    Unreadable(String),
    #[error("the remote '{url}' is on {host}, which is not a forge Sidekick knows (github.com, gitlab.com, or one listed in [github] hosts or [gitlab] hosts)")]
    UnknownHost { url: String, host: String },
}

impl Remote {
    /// Reads `url` (as `git remote get-url` prints it) with `hosts` naming the forges.
    pub fn parse(url: &str, hosts: &Hosts) -> Result<Remote, RemoteError> {
        let unreadable = || RemoteError::Unreadable(shown(url));
        let (host, path) = split(url.trim()).ok_or_else(unreadable)?;
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let (owner, name) = path.rsplit_once('/').ok_or_else(unreadable)?;
        let well_formed = |s: &str| {
            !s.is_empty()
                && s.split('/').all(|part| {
                    !part.is_empty()
                        && part != "."
                        && part != ".."
                        && part
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                })
        };
        if !well_formed(owner) || !well_formed(name) || host.is_empty() {
            return Err(unreadable());
        }
        let kind = hosts
            .kind_of(&host)
            .ok_or_else(|| RemoteError::UnknownHost {
                url: shown(url),
                host: host.clone(),
            })?;
        Ok(Remote {
            kind,
            host,
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

/// `url` as a sentence may show it: a password in it (`https://user:TOKEN@host/...`) is left out.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}/{path}")
        }
        _ => url.to_string(),
    }
}

/// The host and the path of a URL or an scp-like `user@host:path`.
fn split(url: &str) -> Option<(String, &str)> {
    if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "https" | "http" | "ssh" | "git"
        ) {
            return None;
        }
        let (authority, path) = rest.split_once('/')?;
        // user@host:port: the user and the port are not the host.
        let host = authority.rsplit('@').next()?;
        let host = host.split(':').next()?;
        return Some((host.to_ascii_lowercase(), path));
    }
    // scp-like: [user@]host:path, with no slash before the colon (else it is a local path).
    let (authority, path) = url.split_once(':')?;
    if authority.contains('/') || path.starts_with("//") {
        return None;
    }
    let host = authority.rsplit('@').next()?;
    Some((host.to_ascii_lowercase(), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Hosts {
        Hosts {
            github: vec!["git.corp.example".into()],
            gitlab: vec!["gitlab.corp.example".into()],
        }
    }

    #[test]
    fn every_way_a_remote_is_written_reads_the_same() {
        for url in [
            "https://github.com/acme/widget.git",
            "https://github.com/acme/widget",
            "https://user:secret@github.com/acme/widget.git/",
            "ssh://git@github.com/acme/widget.git",
            "ssh://git@github.com:22/acme/widget",
            "git@github.com:acme/widget.git",
            "github.com:acme/widget",
            "HTTPS://GitHub.com/acme/widget",
        ] {
            let r = Remote::parse(url, &hosts()).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(
                (r.kind, r.host.as_str(), r.owner.as_str(), r.name.as_str()),
                (ForgeKind::GitHub, "github.com", "acme", "widget"),
                "{url}"
            );
        }
    }

    #[test]
    fn the_forge_is_told_by_its_host_and_gitlab_groups_nest() {
        let r = Remote::parse("git@gitlab.com:group/sub/project.git", &hosts()).expect("gitlab");
        assert_eq!((r.kind, r.owner.as_str()), (ForgeKind::GitLab, "group/sub"));
        let r = Remote::parse("https://git.corp.example/team/app", &hosts()).expect("ghe");
        assert_eq!(r.kind, ForgeKind::GitHub);
        let r = Remote::parse("https://gitlab.corp.example/team/app", &hosts()).expect("gle");
        assert_eq!(r.kind, ForgeKind::GitLab);
    }

    #[test]
    fn remotes_that_are_no_forge_get_one_sentence_naming_them() {
        // A token written into the remote's URL never reaches the sentence.
        let e = Remote::parse("https://me:ghp_SECRET@bitbucket.org/a/b.git", &hosts())
            .expect_err("unknown");
        assert!(!e.to_string().contains("ghp_SECRET"), "{e}");
        assert!(
            e.to_string()
                .contains("https://me:***@bitbucket.org/a/b.git"),
            "{e}"
        );
        let e =
            Remote::parse("https://x:ghp_SECRET@github.com/onlyowner", &hosts()).expect_err("bad");
        assert!(!e.to_string().contains("ghp_SECRET"), "{e}");
        let e = Remote::parse("https://bitbucket.org/a/b.git", &hosts()).expect_err("unknown");
        assert!(
            e.to_string().contains("bitbucket.org") && e.to_string().contains("[github] hosts"),
            "{e}"
        );
        for url in [
            "/srv/git/repo.git",
            "../repo",
            "file:///srv/git/repo.git",
            "https://github.com/onlyowner",
            "https://github.com/a/../b",
            "git@github.com:a/b c",
            "",
        ] {
            let e = Remote::parse(url, &hosts()).expect_err(url);
            assert!(matches!(e, RemoteError::Unreadable(_)), "{url}: {e}");
        }
    }
}
