//! Sidekick's own files are private to the user whatever the umask (safety rule 7): folders
//! 0700, files 0600. They hold task texts, agent output and copies of the user's secrets.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `path` (and missing parents) as 0700, and makes it 0700 if it already existed.
pub fn dir(path: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)?;
    std::fs::set_permissions(path, Permissions::from_mode(0o700))
}

/// Options that create a file as 0600 (an existing file keeps its mode; see [`restrict`]).
pub fn file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

/// Writes `contents` to a new or existing file that is 0600 afterwards.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    restrict(path)?;
    f.write_all(contents.as_ref())
}

/// Makes an existing file 0600 (files an earlier version created under the user's umask).
/// A missing file is fine.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    match std::fs::set_permissions(path, Permissions::from_mode(0o600)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_files_are_private_under_a_loose_umask() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        let nested = tmp.path().join("a/b");
        std::fs::create_dir(tmp.path().join("loose")).expect("mkdir");
        let made = dir(&nested).and_then(|()| dir(&tmp.path().join("loose")));
        let file = tmp.path().join("f");
        let wrote = write(&file, "x");
        nix::sys::stat::umask(old);
        made.expect("dir");
        wrote.expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&tmp.path().join("loose")), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
}
