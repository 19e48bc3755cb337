//! What a saved plan would change, read from `terraform show -json PLAN`:
//! each resource's address and action, and the names of changed outputs.
//! Only addresses, actions and output names are read — never a value, so a
//! sensitive value cannot reach the report or the summary from here.

use serde::{Deserialize, Serialize};

use crate::tf::resources::Resources;

/// What terraform would do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeAction {
    Create,
    Update,
    /// Destroy and create again (either order).
    Replace,
    Delete,
    /// A data source read at apply time: not a change of infrastructure.
    Read,
    /// Removed from state without destroying it (`removed { destroy = false }`).
    Forget,
}

impl ChangeAction {
    /// Terraform's `actions` list as one action; `None` for `no-op`.
    pub fn from_actions(actions: &[String]) -> Option<ChangeAction> {
        let words: Vec<&str> = actions.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["create"] => Some(ChangeAction::Create),
            ["update"] => Some(ChangeAction::Update),
            ["delete"] => Some(ChangeAction::Delete),
            ["read"] => Some(ChangeAction::Read),
            ["forget"] => Some(ChangeAction::Forget),
            ["delete", "create"] | ["create", "delete"] => Some(ChangeAction::Replace),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Create => "create",
            ChangeAction::Update => "update",
            ChangeAction::Replace => "replace",
            ChangeAction::Delete => "delete",
            ChangeAction::Read => "read",
            ChangeAction::Forget => "forget",
        }
    }

    /// Whether this changes infrastructure or state (a read does not).
    pub fn is_change(self) -> bool {
        self != ChangeAction::Read
    }
}

/// One resource change of a plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    pub action: ChangeAction,
}

/// The changes of one saved plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlanChanges {
    /// Resources the plan touches (no-ops left out), in terraform's order.
    pub resources: Vec<ResourceChange>,
    /// Names of root-module outputs whose value would change.
    #[serde(default)]
    pub outputs: Vec<String>,
}

impl PlanChanges {
    /// Reads `terraform show -json` output. Values are skipped unread.
    pub fn from_show_json(json: &[u8]) -> serde_json::Result<PlanChanges> {
        let plan: ShowJson = serde_json::from_slice(json)?;
        let resources = plan
            .resource_changes
            .into_iter()
            .filter_map(|r| {
                ChangeAction::from_actions(&r.change.actions).map(|action| ResourceChange {
                    address: r.address,
                    action,
                })
            })
            .collect();
        let outputs = plan
            .output_changes
            .into_iter()
            .filter(|(_, c)| ChangeAction::from_actions(&c.actions).is_some())
            .map(|(name, _)| name)
            .collect();
        Ok(PlanChanges { resources, outputs })
    }

    /// Whether applying the plan would change anything (what `terraform plan
    /// -detailed-exitcode` reports as 2): a resource or an output.
    pub fn has_changes(&self) -> bool {
        !self.outputs.is_empty() || self.resources.iter().any(|r| r.action.is_change())
    }

    /// To add / change / destroy, counted as terraform's `Plan:` line does.
    pub fn counts(&self) -> Resources {
        let mut counts = Resources::default();
        for r in &self.resources {
            match r.action {
                ChangeAction::Create => counts.added += 1,
                ChangeAction::Update => counts.changed += 1,
                ChangeAction::Delete => counts.destroyed += 1,
                ChangeAction::Replace => {
                    counts.added += 1;
                    counts.destroyed += 1;
                }
                ChangeAction::Read | ChangeAction::Forget => {}
            }
        }
        counts
    }
}

/// Whether a run that reported these counts changed (or would change) any
/// resource. Shared by plan drift detection and "did this apply change
/// anything".
pub fn resources_changed(resources: &Resources) -> bool {
    resources.added + resources.changed + resources.destroyed > 0
}

#[derive(Deserialize)]
struct ShowJson {
    #[serde(default)]
    resource_changes: Vec<ShowResource>,
    #[serde(default)]
    output_changes: std::collections::BTreeMap<String, ShowChange>,
}

#[derive(Deserialize)]
struct ShowResource {
    address: String,
    change: ShowChange,
}

#[derive(Deserialize)]
struct ShowChange {
    actions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = r#"{
      "format_version": "1.2",
      "resource_changes": [
        {"address": "terraform_data.new", "change": {"actions": ["create"], "after": {"input": "hunter2"}, "after_sensitive": {"input": true}}},
        {"address": "terraform_data.same", "change": {"actions": ["no-op"], "before": {}, "after": {}}},
        {"address": "terraform_data.edit", "change": {"actions": ["update"]}},
        {"address": "terraform_data.swap[\"a\"]", "change": {"actions": ["create", "delete"]}},
        {"address": "terraform_data.swap[\"b\"]", "change": {"actions": ["delete", "create"]}},
        {"address": "terraform_data.gone", "change": {"actions": ["delete"]}},
        {"address": "data.external.x", "change": {"actions": ["read"]}}
      ],
      "output_changes": {
        "id": {"actions": ["update"], "after": "hunter2", "after_sensitive": true},
        "kept": {"actions": ["no-op"]}
      }
    }"#;

    #[test]
    fn reads_addresses_actions_and_counts() {
        let changes = PlanChanges::from_show_json(SHOW.as_bytes()).unwrap();
        let listed: Vec<(&str, &str)> = changes
            .resources
            .iter()
            .map(|r| (r.address.as_str(), r.action.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("terraform_data.new", "create"),
                ("terraform_data.edit", "update"),
                ("terraform_data.swap[\"a\"]", "replace"),
                ("terraform_data.swap[\"b\"]", "replace"),
                ("terraform_data.gone", "delete"),
                ("data.external.x", "read"),
            ]
        );
        assert_eq!(changes.outputs, ["id"]);
        assert_eq!(
            changes.counts(),
            Resources {
                added: 3,
                changed: 1,
                destroyed: 3
            }
        );
        assert!(changes.has_changes());
        let text = serde_json::to_string(&changes).unwrap();
        assert!(!text.contains("hunter2"), "a value leaked: {text}");
    }

    #[test]
    fn no_op_and_reads_are_no_changes() {
        let json = r#"{"resource_changes": [
            {"address": "a.b", "change": {"actions": ["no-op"]}},
            {"address": "data.c.d", "change": {"actions": ["read"]}}
        ], "output_changes": {"o": {"actions": ["no-op"]}}}"#;
        let changes = PlanChanges::from_show_json(json.as_bytes()).unwrap();
        assert!(!changes.has_changes());
        assert_eq!(changes.counts(), Resources::default());
        let empty = PlanChanges::from_show_json(br#"{"format_version": "1.2"}"#).unwrap();
        assert!(!empty.has_changes());
        assert!(!resources_changed(&Resources::default()));
        assert!(resources_changed(&Resources {
            added: 0,
            changed: 0,
            destroyed: 1
        }));
    }

    #[test]
    fn output_only_change_is_a_change() {
        let json = r#"{"output_changes": {"o": {"actions": ["create"]}}}"#;
        assert!(PlanChanges::from_show_json(json.as_bytes())
            .unwrap()
            .has_changes());
    }
}
