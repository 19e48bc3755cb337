//! Retries of terraform steps that failed transiently (`retry` of
//! `tf_component` / `tf_instance`, `fleet run --max-attempts`): which
//! failures are retried ([`policy`], with the built-in [`defaults`]), how
//! long to wait in between ([`backoff`]) and what a run records of each
//! attempt ([`record`]).

pub mod backoff;
pub mod defaults;
pub mod policy;
pub mod record;

pub use backoff::Backoff;
pub use policy::{Decision, Policy, StepKind};
pub use record::Attempt;
