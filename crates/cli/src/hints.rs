//! The way out the CLI offers after a host refusal, in its own commands: the host and git say
//! what is wrong (one sentence, a code); only the CLI knows what to type next.

use sidekick_client::ClientError;
use sidekick_protocol::ErrorCode;

use crate::Failure;

/// The hint for `command` (the CLI's word for it) refused with `code` for the job `job` (as
/// the user named it), if there is one.
pub(crate) fn hint(command: &str, code: ErrorCode, job: &str) -> Option<String> {
    Some(match (command, code) {
        ("discard", ErrorCode::JobDiscarded) => return None,
        (_, ErrorCode::JobDiscarded) => format!("`sidekick restore {job}` brings it back"),
        (_, ErrorCode::NoWorktree) => format!("`sidekick restore {job}` brings it back first"),
        (_, ErrorCode::AlreadyMerged) => format!("`sidekick undo {job}` reverts the merge"),
        ("discard", ErrorCode::RepoStillThere) => {
            format!("`sidekick discard {job}` discards it and keeps a snapshot")
        }
        ("discard", ErrorCode::RepoGone) => {
            format!("`sidekick discard --orphaned {job}` does that")
        }
        ("merge", ErrorCode::Conflict) => {
            format!("`sidekick rebase {job}` brings the job up to date so you can resolve them")
        }
        (_, ErrorCode::UnresolvedConflicts) => {
            format!("or `sidekick rebase {job} --abort` puts the branch back as it was")
        }
        (_, ErrorCode::JobActive) => {
            format!("`sidekick wait {job}` waits for it, `sidekick cancel {job}` stops it")
        }
        _ => return None,
    })
}

/// A client error as the failure `command` on `job` ends with, its hint added to the sentence.
pub(crate) fn hinted(command: &'static str, job: &str) -> impl FnOnce(ClientError) -> Failure {
    let job = job.to_string();
    move |e| {
        let mut f = Failure::from(e);
        if let Some(h) = f.api.as_ref().and_then(|a| hint(command, a.code, &job)) {
            f.message = format!("{}; {h}", f.message);
            // `--json` prints the same sentence as stderr.
            if let Some(api) = f.api.as_mut() {
                api.message = f.message.clone();
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_gets_the_command_that_gets_out_of_it() {
        assert_eq!(
            hint("merge", ErrorCode::JobDiscarded, "fox").as_deref(),
            Some("`sidekick restore fox` brings it back")
        );
        assert_eq!(hint("discard", ErrorCode::JobDiscarded, "fox"), None);
        assert!(hint("merge", ErrorCode::Conflict, "fox")
            .is_some_and(|h| h.contains("sidekick rebase fox")));
        // A conflict while rebasing is not answered with another rebase.
        assert_eq!(hint("rebase", ErrorCode::Conflict, "fox"), None);
        assert!(hint("discard", ErrorCode::RepoGone, "fox")
            .is_some_and(|h| h.contains("--orphaned fox")));
        assert_eq!(hint("merge", ErrorCode::RepoGone, "fox"), None);
        assert_eq!(hint("merge", ErrorCode::LockHeld, "fox"), None);
    }
}
