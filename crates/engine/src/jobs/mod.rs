//! Jobs: how one is born (`spawn`), the context it starts with, when it runs and stops
//! (`schedule`), what its runner may touch (`handle`), and how
//! its review maps onto the review operations (`review`).

mod comments;
mod context;
pub(crate) mod dialog;
pub(crate) mod dialogs;
pub(crate) mod handle;
mod lineage;
pub(crate) mod messages;
pub(crate) mod rebasing;
mod recover;
pub(crate) mod reply;
pub(crate) mod retry;
mod review;
pub(crate) mod reviews;
pub(crate) mod schedule;
pub(crate) mod spawn;
pub(crate) mod subject;

pub use sidekick_store::IllegalTransition;
