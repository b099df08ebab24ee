//! Review: diffs, merge previews and merges of a job's branch back into its target.

pub mod diff;

pub use diff::DiffLimits;
