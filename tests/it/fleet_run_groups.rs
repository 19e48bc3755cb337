//! `fleet run` with run groups against the real terraform: a parallel group's
//! limit, a serial group's order, an exclusive instance (all read from the
//! instances' own start/end markers), failure semantics, the `on_change`
//! hook (once, after its group, with its environment; not for a plan or
//! when nothing changed; a failing one skips the group's dependents; one
//! that failed, or was owed when the runner was killed, runs again on
//! `--resume` and its dependents wait for it), the `groups` report section,
//! and manifests whose groups cannot run.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::runner::*;
use serde_json::{json, Value};

fn read_ns(fleet: &Fleet, name: &str, end: &str) -> f64 {
    let path = fleet.marker(&format!("{name}.{end}"));
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .expect("ns")
}

fn span(fleet: &Fleet, name: &str) -> (f64, f64) {
    (read_ns(fleet, name, "start"), read_ns(fleet, name, "end"))
}

fn overlaps(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Adds the manifest's `groups` and marks `exclusive` instances.
fn with_groups(fleet: &Fleet, groups: Value, exclusive: &[&str]) {
    let mut manifest = read_json(&fleet.manifest);
    manifest["groups"] = groups;
    for inst in manifest["instances"].as_array_mut().expect("instances") {
        if exclusive.contains(&inst["name"].as_str().unwrap_or_default()) {
            inst["exclusive"] = json!(true);
        }
    }
    fs::write(
        &fleet.manifest,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// A hook script in the runfiles that records its environment and report,
/// and exits with the code in `<markers>/hook-exit` if that exists.
fn add_hook(fleet: &Fleet) -> &'static str {
    let m = fleet.markers.display();
    let script = format!(
        "#!/bin/sh\n\
         date +%s%N > {m}/hook.start\n\
         echo \"$FLEET_GROUP $FLEET_ACTION\" >> {m}/hook.runs\n\
         cp \"$FLEET_GROUP_REPORT\" {m}/hook.report.json\n\
         echo flushing the caches\n\
         date +%s%N > {m}/hook.end\n\
         if [ -e {m}/hook-exit ]; then exit $(cat {m}/hook-exit); fi\n"
    );
    let path = fleet.runfiles.join("pkg/flush.sh");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    "pkg/flush.sh"
}

/// Instances that log their start and end; `c*` wait (bounded) until two
/// caches run, so the group's limit is reached; `fail-<name>` makes one fail.
fn add_timed(fleet: &mut Fleet, name: &str, deps: &[&str]) {
    let m = fleet.markers.display().to_string();
    let body = if name.starts_with('c') {
        format!("timeout --foreground 60 sh -c 'until [ $(ls {m} | grep -c \"^c.*\\.start$\") -ge 2 ]; do sleep 0.02; done'; sleep 0.3")
    } else {
        "sleep 0.3".to_string()
    };
    let body = format!("{body}\nif [ -e {m}/fail-{name} ]; then exit 1; fi");
    let script = timed(&fleet.markers, name, &body);
    fleet.add(name, &module(&script), deps);
}

fn groups_fleet(fleet: &mut Fleet) {
    for name in ["c1", "c2", "c3", "c4"] {
        add_timed(fleet, name, &[]);
    }
    for name in ["m1", "m2", "m3", "alone"] {
        add_timed(fleet, name, &[]);
    }
    add_timed(fleet, "dep", &["c1"]);
    fleet.write_manifest();
    let hook = add_hook(fleet);
    with_groups(
        fleet,
        json!([
            {"label": "//pkg:caches", "name": "caches", "mode": "parallel", "concurrency": 2,
             "members": ["//pkg:c1", "//pkg:c2", "//pkg:c3", "//pkg:c4"], "on_change": hook},
            {"label": "//pkg:migrations", "name": "migrations", "mode": "serial", "concurrency": 0,
             "members": ["//pkg:m1", "//pkg:m2", "//pkg:m3"], "on_change": null},
        ]),
        &["alone"],
    );
}

fn apply(fleet: &Fleet) -> std::process::Output {
    let report = fleet.report_path();
    fleet.run(
        "apply",
        &["--parallelism", "4", "--report", report.to_str().unwrap()],
    )
}

fn group<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["groups"]
        .as_array()
        .expect("groups section")
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("group {name} not in {report:#}"))
}

#[test]
fn limits_order_exclusivity_and_the_hook_hold_on_the_instances_own_times() {
    let mut fleet = Fleet::new();
    groups_fleet(&mut fleet);
    let out = apply(&fleet);
    assert!(out.status.success(), "{}", describe(&out));

    let caches: Vec<(f64, f64)> = ["c1", "c2", "c3", "c4"]
        .iter()
        .map(|n| span(&fleet, n))
        .collect();
    assert_eq!(max_overlap(&caches), 2, "caches {caches:?}");
    let migrations: Vec<(f64, f64)> = ["m1", "m2", "m3"].iter().map(|n| span(&fleet, n)).collect();
    assert!(
        migrations.windows(2).all(|w| w[0].1 <= w[1].0),
        "migrations out of order: {migrations:?}"
    );
    let everyone: Vec<(f64, f64)> = ["c1", "c2", "c3", "c4", "m1", "m2", "m3", "dep"]
        .iter()
        .map(|n| span(&fleet, n))
        .collect();
    assert!(max_overlap(&everyone) <= 4);
    let alone = span(&fleet, "alone");
    let hook = span(&fleet, "hook");
    assert!(
        everyone.iter().chain([&hook]).all(|&s| !overlaps(s, alone)),
        "exclusive overlapped: {alone:?} vs {everyone:?}, hook {hook:?}"
    );
    assert!(
        caches
            .iter()
            .any(|&c| migrations.iter().any(|&m| overlaps(c, m))),
        "the two groups never ran at once: {caches:?} {migrations:?}"
    );
    let last_cache = caches.iter().map(|c| c.1).fold(0.0, f64::max);
    assert!(
        hook.0 >= last_cache,
        "hook at {hook:?} before the last cache ended {last_cache}"
    );
    assert!(
        span(&fleet, "dep").0 >= hook.1,
        "dep started before the hook ended"
    );

    let runs = fs::read_to_string(fleet.marker("hook.runs")).unwrap();
    assert_eq!(runs, "//pkg:caches apply\n");
    let members = read_json(&fleet.marker("hook.report.json"));
    assert_eq!(members["group"], "//pkg:caches");
    let labels: Vec<&str> = members["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["//pkg:c1", "//pkg:c2", "//pkg:c3", "//pkg:c4"]);
    assert!(members["instances"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "succeeded"));

    let report = fleet.report();
    let caches = group(&report, "caches");
    assert_eq!(caches["concurrency"], 2);
    assert_eq!(caches["status"], "succeeded");
    assert_eq!(caches["hook"]["status"], "succeeded");
    let log = caches["hook"]["log"].as_str().expect("hook log");
    assert!(fs::read_to_string(log)
        .unwrap()
        .contains("flushing the caches"));
    assert_eq!(group(&report, "migrations")["mode"], "serial");
    assert!(
        stdout(&out)
            .contains("group caches (parallel, parallelism 2): 4 succeeded; on_change succeeded"),
        "{}",
        describe(&out)
    );

    // Nothing changes the second time: no hook.
    fs::remove_file(fleet.marker("hook.runs")).unwrap();
    let again = apply(&fleet);
    assert!(again.status.success(), "{}", describe(&again));
    assert!(
        !fleet.marker("hook.runs").exists(),
        "the hook ran without a change"
    );
    assert!(group(&fleet.report(), "caches")["hook"].is_null());
}

#[test]
fn failures_skip_later_serial_members_and_a_failing_hook_skips_dependents() {
    let mut fleet = Fleet::new();
    groups_fleet(&mut fleet);
    fs::write(fleet.marker("fail-m2"), "").unwrap();
    fs::write(fleet.marker("fail-c3"), "").unwrap();
    fs::write(fleet.marker("hook-exit"), "7").unwrap();
    let out = apply(&fleet);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = fleet.report();
    let status = |n: &str| entry(&report, n)["status"].as_str().unwrap().to_string();
    let reason = |n: &str| {
        entry(&report, n)["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    // Parallel: the other caches ran to completion.
    for n in ["c1", "c2", "c4", "m1", "alone"] {
        assert_eq!(status(n), "succeeded", "{n}: {}", reason(n));
    }
    assert_eq!(status("c3"), "failed");
    assert_eq!(status("m2"), "failed");
    assert_eq!(status("m3"), "skipped");
    assert_eq!(reason("m3"), "earlier member of migrations failed: m2");
    // The hook still ran (c1, c2, c4 changed), failed, and dep was skipped.
    assert_eq!(
        fs::read_to_string(fleet.marker("hook.runs")).unwrap(),
        "//pkg:caches apply\n"
    );
    let caches = group(&report, "caches");
    assert_eq!(caches["hook"]["status"], "failed");
    assert_eq!(caches["hook"]["exit_code"], 7);
    assert_eq!(caches["status"], "failed");
    assert_eq!(status("dep"), "skipped");
    assert!(
        reason("dep").contains("the on_change hook of caches failed"),
        "{}",
        reason("dep")
    );
}

#[test]
fn a_plan_runs_no_hook() {
    let mut fleet = Fleet::new();
    groups_fleet(&mut fleet);
    let report = fleet.report_path();
    let out = fleet.run("plan", &["--report", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!fleet.marker("hook.runs").exists());
    assert!(group(&fleet.report(), "caches")["hook"].is_null());
}

#[test]
fn groups_that_cannot_run_are_refused() {
    let mut fleet = Fleet::new();
    for name in ["a", "b"] {
        fleet.add(name, &module("true"), &[]);
    }
    fleet.instance_mut("a")["deps"] = json!(["//pkg:b"]);
    fleet.write_manifest();
    let serial = |members: Value| json!({"label": "//pkg:s", "name": "s", "mode": "serial", "concurrency": 0, "members": members, "on_change": null});

    with_groups(&fleet, json!([serial(json!(["//pkg:a", "//pkg:b"]))]), &[]);
    let out = fleet.run("plan", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(stderr(&out).contains("order cycle"), "{}", describe(&out));

    let two = json!([
        serial(json!(["//pkg:b"])),
        {"label": "//pkg:p", "name": "p", "mode": "parallel", "concurrency": 0, "members": ["//pkg:b"], "on_change": null},
    ]);
    with_groups(&fleet, two, &[]);
    let out = fleet.run("plan", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        stderr(&out).contains("b is a member of two groups: s and p"),
        "{}",
        describe(&out)
    );

    with_groups(&fleet, json!([serial(json!(["//pkg:nope"]))]), &[]);
    let out = fleet.run("plan", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(stderr(&out).contains("//pkg:nope"), "{}", describe(&out));
}

fn resume_apply(fleet: &Fleet) -> std::process::Output {
    let report = fleet.report_path();
    fleet.run(
        "apply",
        &[
            "--parallelism",
            "4",
            "--resume",
            "--report",
            report.to_str().unwrap(),
        ],
    )
}

fn hook_runs(fleet: &Fleet) -> usize {
    fs::read_to_string(fleet.marker("hook.runs"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_failed_hook_reruns_on_resume_and_its_dependents_wait_until_it_succeeds() {
    let mut fleet = Fleet::new();
    groups_fleet(&mut fleet);
    fs::write(fleet.marker("hook-exit"), "7").unwrap();
    let out = apply(&fleet);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(hook_runs(&fleet), 1);
    let report = fleet.report();
    assert_eq!(entry(&report, "dep")["status"], "skipped");
    assert_eq!(
        report["pending_hooks"],
        json!(["//pkg:caches"]),
        "{report:#}"
    );
    assert_eq!(group(&report, "caches")["hook_pending"], true);

    // Resumed with the hook still failing: the caches are reused, the hook
    // runs again and fails, dep is skipped again.
    let out = resume_apply(&fleet);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(hook_runs(&fleet), 2, "{}", describe(&out));
    let report = fleet.report();
    for name in ["c1", "c2", "c3", "c4"] {
        assert_eq!(entry(&report, name)["reused"], true, "{name}");
    }
    assert_eq!(group(&report, "caches")["hook"]["status"], "failed");
    assert_eq!(entry(&report, "dep")["status"], "skipped");
    assert!(
        stdout(&out).contains("on_change failed"),
        "{}",
        describe(&out)
    );

    // Fixed: the hook runs, then dep.
    fs::remove_file(fleet.marker("hook-exit")).unwrap();
    let out = resume_apply(&fleet);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(hook_runs(&fleet), 3);
    let report = fleet.report();
    assert_eq!(group(&report, "caches")["hook"]["status"], "succeeded");
    assert_eq!(entry(&report, "dep")["status"], "succeeded");
    assert_eq!(entry(&report, "dep")["reused"], false);
    assert!(report.get("pending_hooks").is_none(), "{report:#}");
    assert!(span(&fleet, "dep").0 >= read_ns(&fleet, "hook", "end"));

    // Nothing owed any more: the next resume runs nothing.
    let out = resume_apply(&fleet);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(hook_runs(&fleet), 3);
}

#[test]
fn a_hook_owed_when_the_runner_was_killed_runs_on_resume() {
    let mut fleet = Fleet::new();
    groups_fleet(&mut fleet);
    // The hook holds (bounded) while `hold` exists: the runner is killed then.
    let hook = fleet.runfiles.join("pkg/flush.sh");
    let m = fleet.markers.display().to_string();
    let script = fs::read_to_string(&hook).unwrap().replace(
        "echo flushing the caches\n",
        &format!(
            "echo flushing the caches\ntouch {m}/hook.holding\ntimeout 60 sh -c 'while [ -e {m}/hold ]; do sleep 0.05; done'\n"
        ),
    );
    fs::write(&hook, script).unwrap();
    fs::write(fleet.marker("hold"), "").unwrap();
    let report = fleet.report_path();
    let mut child = fleet
        .fleet("run")
        .args(["--action", "apply", "--parallelism", "4", "--report"])
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Past `hook.runs`: the killed run's hook has counted itself.
    wait_for_file(
        &fleet.marker("hook.holding"),
        std::time::Duration::from_secs(120),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    fs::remove_file(fleet.marker("hold")).unwrap();
    let killed = fleet.report();
    assert_eq!(
        killed["pending_hooks"],
        json!(["//pkg:caches"]),
        "{killed:#}"
    );
    assert_ne!(entry(&killed, "dep")["status"], "succeeded");

    let out = resume_apply(&fleet);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(hook_runs(&fleet), 2, "the owed hook ran again");
    let report = fleet.report();
    assert_eq!(group(&report, "caches")["hook"]["status"], "succeeded");
    assert_eq!(entry(&report, "c1")["reused"], true);
    assert_eq!(entry(&report, "dep")["status"], "succeeded");
    assert!(span(&fleet, "dep").0 >= read_ns(&fleet, "hook", "end"));
}

#[test]
fn a_run_without_resume_runs_a_hook_the_last_report_owes() {
    let mut fleet = Fleet::new();
    groups_fleet(&mut fleet);
    fs::write(fleet.marker("hook-exit"), "7").unwrap();
    let out = apply(&fleet);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    fs::remove_file(fleet.marker("hook-exit")).unwrap();
    // Everything is applied already: nothing changes, the hook is still owed.
    let out = apply(&fleet);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(hook_runs(&fleet), 2, "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(entry(&report, "c1")["reused"], false, "a plain run reruns");
    assert_eq!(group(&report, "caches")["hook"]["status"], "succeeded");
    assert!(report.get("pending_hooks").is_none(), "{report:#}");
    assert!(span(&fleet, "dep").0 >= read_ns(&fleet, "hook", "end"));
    // Paid: the next plain run with nothing changed runs no hook.
    let out = apply(&fleet);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(hook_runs(&fleet), 2);
}
