//! Where a program would be found, the way the host's `Command` looks it up.

use std::path::{Path, PathBuf};

/// Where `program` would be found, the way the host's `Command` looks it up.
pub fn locate(program: &str) -> Option<PathBuf> {
    locate_in(program, std::env::var_os("PATH").as_deref())
}

/// `program` as it would run with `path` as PATH: itself when it names a folder, else the first
/// executable of that name on `path`.
pub fn locate_in(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return is_executable(p).then(|| p.to_path_buf());
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
