//! The integration tests of `fleet`: one binary (fast to link, one build),
//! one module per concern, sharing the harness in [`common`].

mod common;

mod check_instance;
mod extract_crash;
mod extract_digest;
mod extract_hostile;
mod extract_index;
mod extract_limits;
mod extract_link;
mod extract_race;
mod extract_verify;
mod fleet_run;
mod fleet_run_affected;
mod fleet_run_crash;
mod fleet_run_groups;
mod fleet_run_journal;
mod fleet_run_lockfile;
mod fleet_run_locks;
mod fleet_run_privacy;
mod fleet_run_report_paths;
mod fleet_run_resume_digest;
mod fleet_run_secrets;
mod fleet_run_signals;
mod gc;
mod go_runtime_env;
mod hash;
mod helper_sources;
mod identity;
mod layers;
mod lock;
mod lock_file;
mod lock_in_process;
mod lock_timeout_flag;
mod manifest_checks;
mod manifest_includes;
mod planted_links;
mod run_locked;
mod schedule_props;
mod shared_store;
mod tag;
mod tag_verify;
mod tf_env_run;
mod tf_run;
mod undeclared_variables;
mod warm_init;
