//! Jobs: who owns their state.

pub(crate) mod ledger;

pub use ledger::IllegalTransition;
