//! libgit2 tuned for Sidekick's reads and writes, once per process.

/// libgit2's process-wide settings, set once: like git, objects are not hashed again on every
/// read (libgit2 does by default: a tenth of a large diff's time; `git fsck` is where
/// corruption is looked for), and a tree entry is not looked up in the object store when it is
/// added to a tree (every id Sidekick puts in a tree comes from a tree or was just written: a
/// fifth of a merge preview's time went into reading each object's header again).
pub fn tune_libgit2() {
    static TUNED: std::sync::Once = std::sync::Once::new();
    TUNED.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::strict_object_creation(false);
    });
}
