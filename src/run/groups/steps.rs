//! The scheduler's side of run groups: performing the model's steps (start,
//! skip, run a hook) and announcing hooks as they end.

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::SystemTime;

use crate::report::groups::HookResult;
use crate::report::Status;
use crate::run::groups::hook::{run_hook, HookCall};
use crate::run::outcome::Outcome;
use crate::run::progress::{self, Progress};
use crate::run::scheduler::{Event, Node, Nodes, Scheduler};
use crate::schedule::Step;

impl Scheduler {
    /// Performs what the model decided.
    pub(in crate::run) fn apply_steps(
        &self,
        steps: Vec<Step>,
        nodes: &mut Nodes,
        sender: &Sender<Event>,
        progress: &mut Progress,
    ) {
        let total = nodes.len();
        for step in steps {
            match step {
                Step::Skip(i, reason) => {
                    let done = 1 + nodes.tally().finished();
                    self.env.console.block(&format!(
                        "fleet: [{done}/{total}] {}: skipped: {reason}",
                        self.names[i]
                    ));
                    let outcome = Outcome::NotRun {
                        status: Status::Skipped,
                        reason,
                    };
                    progress.finished(i, &outcome);
                    nodes.set(i, Node::Finished(outcome));
                }
                Step::Start(i) => {
                    nodes.set(
                        i,
                        Node::Active {
                            started: SystemTime::now(),
                            running: false,
                        },
                    );
                    self.spawn(i, sender);
                    self.env
                        .console
                        .progress(&format!("fleet: started {}", self.names[i]));
                }
                Step::RunHook(g) => self.spawn_hook(g, nodes, sender),
            }
        }
    }

    /// Runs group `g`'s hook on its own thread, with its members' report entries.
    fn spawn_hook(&self, g: usize, nodes: &Nodes, sender: &Sender<Event>) {
        let group = &self.groups[g];
        let members = self.group_instances[g]
            .iter()
            .filter_map(|&i| match nodes.get(i) {
                Some(Node::Finished(o)) => Some(progress::instance_report(
                    &self.env.located,
                    i,
                    &self.names[i],
                    o,
                )),
                _ => None,
            })
            .collect();
        let call = HookCall {
            label: group.label.clone(),
            name: group.name.clone(),
            executable: group.on_change.clone().unwrap_or_default(),
            members,
        };
        let env = Arc::clone(&self.env);
        let to_scheduler = sender.clone();
        self.env.console.progress(&format!(
            "fleet: started the on_change hook of {}",
            group.name
        ));
        let spawned = std::thread::Builder::new()
            .name(format!("hook {}", group.name))
            .spawn(move || {
                let result = run_hook(&env, &call);
                let _ = to_scheduler.send(Event::HookDone(g, Box::new(result)));
            });
        if let Err(e) = spawned {
            let now = SystemTime::now();
            let result = HookResult {
                status: Status::Failed,
                reason: Some(format!("starting a thread: {e}")),
                exit_code: None,
                log: None,
                started: now,
                ended: now,
                shown: Vec::new(),
            };
            let _ = sender.send(Event::HookDone(g, Box::new(result)));
        }
    }

    /// Prints a hook's end like an instance's.
    pub(in crate::run) fn announce_hook(&self, g: usize, r: &HookResult) {
        let secs = r
            .ended
            .duration_since(r.started)
            .unwrap_or_default()
            .as_secs_f64();
        let line = format!(
            "group {}: on_change {} in {secs:.1}s",
            self.groups[g].name,
            r.status.as_str()
        );
        let failed_log = r.log.as_deref().filter(|_| r.status != Status::Succeeded);
        self.env
            .console
            .ended(line, r.reason.as_deref(), failed_log, &r.shown);
    }
}
