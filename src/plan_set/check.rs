//! Why a plan of a set may no longer be applied. Each reason names what
//! moved with a stable code (`identity`, `rendered`, `lock_file`,
//! `terraform_version`, `inputs`, `plan_file`, `age`, `state_lineage`,
//! `state_serial`) so a report reader can tell them apart.

use std::time::Duration;

use super::{Entry, MadeFrom, StateRef};

/// The reasons `entry`'s plan was made from something else than `now`.
pub fn made_from(entry: &Entry, now: &MadeFrom) -> Vec<String> {
    let was = &entry.made_from;
    let mut reasons = Vec::new();
    if was.identity != now.identity {
        reasons.push(format!(
            "identity: the build's identity is {}, the plan was made at {}",
            short(now.identity.as_deref()),
            short(was.identity.as_deref())
        ));
    }
    if was.rendered != now.rendered {
        reasons.push(format!(
            "rendered: the rendered tree (module, values, backend) is {}, the plan's was {}",
            short(Some(&now.rendered)),
            short(Some(&was.rendered))
        ));
    }
    if was.lock_file != now.lock_file {
        reasons.push(format!(
            "lock_file: .terraform.lock.hcl is {}, the plan's was {}",
            short(now.lock_file.as_deref()),
            short(was.lock_file.as_deref())
        ));
    }
    if was.terraform_version != now.terraform_version {
        reasons.push(format!(
            "terraform_version: terraform is {}, the plan was made by {}",
            now.terraform_version, was.terraform_version
        ));
    }
    let vars = was.inputs.keys().chain(now.inputs.keys());
    let mut moved: Vec<&str> = vars
        .filter(|v| was.inputs.get(*v) != now.inputs.get(*v))
        .map(String::as_str)
        .collect();
    moved.dedup();
    if !moved.is_empty() {
        reasons.push(format!(
            "inputs: the upstream output behind {} changed since the plan",
            moved.join(", ")
        ));
    }
    reasons
}

/// The reason the set's plan file is not the one sealed, if it is not.
pub fn plan_file(entry: &Entry, sha256: Option<&str>) -> Option<String> {
    match sha256 {
        Some(found) if found == entry.plan_sha256 => None,
        Some(found) => Some(format!(
            "plan_file: {} has sha256 {}, the sealed index says {}",
            entry.plan_file,
            short(Some(found)),
            short(Some(&entry.plan_sha256))
        )),
        None => Some(format!(
            "plan_file: {} is missing or unreadable",
            entry.plan_file
        )),
    }
}

/// The reason a set of this age is too old, if it is.
pub fn age(age: Duration, max: Option<Duration>) -> Option<String> {
    let max = max?;
    (age > max).then(|| {
        format!(
            "age: the set is {}s old, more than --max-plan-age {}s",
            age.as_secs(),
            max.as_secs()
        )
    })
}

/// The reason the state moved since the plan, if it did.
pub fn state(planned: &StateRef, now: &StateRef) -> Option<String> {
    if planned.lineage != now.lineage {
        return Some(format!(
            "state_lineage: the state's lineage is {:?}, the plan was made against {:?} \
             (another state replaced it)",
            now.lineage, planned.lineage
        ));
    }
    (planned.serial != now.serial).then(|| {
        format!(
            "state_serial: the state's serial is {}, the plan was made at serial {} \
             (another apply changed it since)",
            now.serial, planned.serial
        )
    })
}

fn short(digest: Option<&str>) -> String {
    match digest {
        Some(d) => d.chars().take(12).collect(),
        None => "(none)".into(),
    }
}
