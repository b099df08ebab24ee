//! Review: diffs, merge previews and merges of a job's branch back into its target.

pub mod checkout;
pub mod diff;
pub(crate) mod ops;
pub mod treemerge;

pub use diff::DiffLimits;
