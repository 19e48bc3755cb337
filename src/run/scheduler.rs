//! The scheduler: starts an instance when every instance before it in the
//! graph succeeded, keeps at most `limit` running, skips dependents of
//! failures, and stops cleanly on `--fail-fast` or a signal (SIGINT to every
//! running terraform, then wait for them).

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::manifest::Group;
use crate::report::groups;
use crate::report::groups::HookResult;
use crate::report::{InstanceReport, Status};
use crate::run::graph::Graph;
use crate::run::job::{run_job, JobEnv, JobResult};
pub(super) use crate::run::nodes::{Node, Nodes};
use crate::run::outcome::Outcome;
use crate::run::progress::Progress;
use crate::run::signals::Received;
use crate::schedule::Schedule;

/// What job threads and the signal thread tell the scheduler.
#[derive(Debug)]
pub enum Event {
    /// The instance holds its lock and is running terraform.
    Running(usize),
    Done(usize, Box<JobResult>),
    /// Group `g`'s on_change hook ended.
    HookDone(usize, Box<HookResult>),
    Signal(Received),
}

pub struct Scheduler {
    pub graph: Graph,
    pub fail_fast: bool,
    /// The manifest's run groups, and the selected instances inside each.
    pub groups: Vec<Group>,
    pub group_instances: Vec<Vec<usize>>,
    /// Display name per manifest index.
    pub names: Vec<String>,
    pub env: Arc<JobEnv>,
}

/// The end of a run.
pub struct Finish {
    pub outcomes: BTreeMap<usize, Outcome>,
    /// The hooks that ran, by group index.
    pub hooks: BTreeMap<usize, HookResult>,
    pub schedule: Schedule,
    pub interrupted_by: Option<Received>,
}

/// Where a run stands between two events.
pub(super) struct RunState {
    pub nodes: Nodes,
    pub schedule: Schedule,
    /// The hooks that ran, by group index.
    pub hooks: BTreeMap<usize, HookResult>,
    /// How many instances the run has, reused ones included.
    pub total: usize,
    /// Why nothing new starts, once the run is stopping.
    pub stopping: Option<String>,
    pub interrupted_by: Option<Received>,
}

const TICK: Duration = Duration::from_millis(200);

impl Scheduler {
    pub fn run(
        self,
        schedule: Schedule,
        reused: BTreeMap<usize, InstanceReport>,
        events: Receiver<Event>,
        sender: Sender<Event>,
        progress: &mut Progress,
    ) -> Finish {
        let t0 = Instant::now();
        let mut run = self.begin(schedule, reused);
        loop {
            if run.stopping.is_none() {
                let steps = run.schedule.decide();
                self.apply_steps(steps, &mut run.nodes, &sender, progress);
            }
            if self.ended(&mut run) {
                break;
            }
            // A timeout only refreshes the status line.
            match events.recv_timeout(TICK) {
                Ok(event) => self.on_event(event, &mut run, progress),
                Err(_) => progress.idle(),
            }
            self.status_line(&run.nodes, &run.schedule, t0, run.stopping.is_some());
        }
        self.env.console.clear_status();
        finish(run)
    }

    /// Every selected instance pending, except the reused ones: finished.
    fn begin(&self, mut schedule: Schedule, reused: BTreeMap<usize, InstanceReport>) -> RunState {
        let mut nodes = Nodes::default();
        for &i in &self.graph.nodes {
            nodes.set(i, Node::Pending);
        }
        for (i, report) in reused {
            schedule.reuse(i);
            nodes.set(i, Node::Finished(Outcome::Reused(Box::new(report))));
        }
        RunState {
            total: nodes.len(),
            nodes,
            schedule,
            hooks: BTreeMap::new(),
            stopping: None,
            interrupted_by: None,
        }
    }

    /// True when everything finished, or when a stopping run has nothing
    /// left running (then the rest is cancelled).
    fn ended(&self, run: &mut RunState) -> bool {
        if run.nodes.tally().finished() == run.total && run.schedule.all_done() {
            return true;
        }
        let Some(why) = &run.stopping else {
            return false;
        };
        let working = run.nodes.running().next().is_some();
        if working || self.env.children.running() > 0 {
            return false;
        }
        self.cancel_rest(&mut run.nodes, why);
        true
    }

    pub(super) fn spawn(&self, i: usize, sender: &Sender<Event>) {
        let env = Arc::clone(&self.env);
        let to_scheduler = sender.clone();
        let name = self.names[i].clone();
        let spawned = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let running = || {
                    let _ = to_scheduler.send(Event::Running(i));
                };
                let result = run_job(&env, i, &name, &running);
                let _ = to_scheduler.send(Event::Done(i, Box::new(result)));
            });
        if let Err(e) = spawned {
            let mut result = JobResult::failed_to_start(format!("starting a thread: {e}"));
            result.ended = SystemTime::now();
            let _ = sender.send(Event::Done(i, Box::new(result)));
        }
    }

    pub(super) fn stop(&self, why: &str) {
        let n = self.env.children.interrupt_all();
        self.env.console.block(&format!(
            "fleet: {why}: starting nothing new; sent SIGINT to {n} running terraform process group(s) and waiting for them to exit"
        ));
    }

    fn cancel_rest(&self, nodes: &mut Nodes, why: &str) {
        for i in nodes.unfinished() {
            let reason = match nodes.get(i) {
                Some(Node::Active { .. }) => {
                    format!("not started (was waiting for its lock): {why}")
                }
                _ => format!("not started: {why}"),
            };
            nodes.set(
                i,
                Node::Finished(Outcome::NotRun {
                    status: Status::Cancelled,
                    reason,
                }),
            );
        }
    }

    pub(super) fn announce_done(
        &self,
        i: usize,
        r: &JobResult,
        started: SystemTime,
        nodes: &Nodes,
        total: usize,
    ) {
        let done = 1 + nodes.tally().finished();
        let secs = r
            .ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        let mut line = format!(
            "[{done}/{total}] {}: {} in {secs:.1}s",
            self.names[i],
            r.status.as_str()
        );
        if let Some(x) = r.resources {
            line.push_str(&format!(" (+{} ~{} -{})", x.added, x.changed, x.destroyed));
        }
        let failed_log = r.log.as_deref().filter(|_| r.status != Status::Succeeded);
        self.env
            .console
            .ended(line, r.reason.as_deref(), failed_log, &r.shown);
    }

    fn status_line(&self, nodes: &Nodes, schedule: &Schedule, t0: Instant, stopping: bool) {
        if !self.env.console.live {
            return;
        }
        let tally = nodes.tally();
        let (waiting, pending, ok, failed, skipped) = (
            tally.waiting,
            tally.pending,
            tally.succeeded,
            tally.failed,
            tally.skipped,
        );
        let running: Vec<&str> = nodes.running().map(|i| self.names[i].as_str()).collect();
        let mut text = format!(
            "fleet {}{}: {} running, {ok} done, {failed} failed, {skipped} skipped, {pending} pending",
            self.env.action.as_str(),
            if stopping { " (stopping)" } else { "" },
            running.len()
        );
        if waiting > 0 {
            text.push_str(&format!(", {waiting} waiting for locks"));
        }
        text.push_str(&format!("  [{:.0}s]", t0.elapsed().as_secs_f64()));
        let groups = groups::status_text(&self.groups, schedule);
        if !groups.is_empty() {
            text.push_str(&format!("  [{groups}]"));
        }
        if !running.is_empty() {
            text.push_str(&format!("  {}", running.join(" ")));
        }
        self.env.console.status(&text);
    }
}

/// The outcomes, with every instance that never finished cancelled.
fn finish(run: RunState) -> Finish {
    let outcomes = run
        .nodes
        .into_map()
        .into_iter()
        .map(|(i, n)| match n {
            Node::Finished(o) => (i, o),
            _ => (
                i,
                Outcome::NotRun {
                    status: Status::Cancelled,
                    reason: "not started".into(),
                },
            ),
        })
        .collect();
    Finish {
        outcomes,
        hooks: run.hooks,
        schedule: run.schedule,
        interrupted_by: run.interrupted_by,
    }
}
