//! `fleettest_record`: a resource that stores its inputs, with a computed
//! id and a computed digest of the inputs.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Block, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueMap, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::digest::{new_record_id, sha256_hex};
use crate::output_file;
use crate::provider::Settings;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RecordState<'a> {
    #[serde(borrow = "'a")]
    pub id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub value: ValueString<'a>,
    pub data: ValueMap<'a, ValueString<'a>>,
    pub output_file: ValueString<'a>,
    pub digest: ValueString<'a>,
}

impl RecordState<'_> {
    fn inputs_known(&self) -> bool {
        !(self.name.is_unknown()
            || self.value.is_unknown()
            || self.data.is_unknown()
            || self.data.iter().flatten().any(|(_, v)| v.is_unknown()))
    }

    /// The inputs as canonical JSON (sorted keys): what the digest covers.
    fn inputs_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name.as_ref_option(),
            "value": self.value.as_ref_option(),
            "data": self.data.as_ref_option().map(|data| data
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::json!(v.as_ref_option())))
                .collect::<serde_json::Map<_, _>>()),
        })
    }

    /// The digest of the inputs, unknown while any input is.
    fn computed_digest<'b>(&self) -> ValueString<'b> {
        if self.inputs_known() {
            Value::Value(sha256_hex(self.inputs_json().to_string().as_bytes()).into())
        } else {
            Value::Unknown
        }
    }

    fn output_path(&self) -> Option<&Path> {
        self.output_file.as_deref_option().map(Path::new)
    }

    /// The record as written to `output_file`.
    fn file_contents(&self) -> Vec<u8> {
        let mut json = self.inputs_json();
        json["id"] = serde_json::json!(self.id.as_ref_option());
        json["digest"] = serde_json::json!(self.digest.as_ref_option());
        let mut bytes = json.to_string().into_bytes();
        bytes.push(b'\n');
        bytes
    }
}

#[derive(Debug, Clone)]
pub struct RecordResource {
    settings: Arc<Settings>,
}

impl RecordResource {
    pub fn new(settings: Arc<Settings>) -> Self {
        Self { settings }
    }

    async fn apply_delay(&self) {
        let delay = self.settings.apply_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

fn attribute(
    attr_type: AttributeType,
    description: &str,
    constraint: AttributeConstraint,
) -> Attribute {
    Attribute {
        attr_type,
        description: description.into(),
        constraint,
        ..Default::default()
    }
}

fn write_output_file(diags: &mut Diagnostics, state: &RecordState<'_>) {
    if let Some(path) = state.output_path() {
        if let Err(err) = output_file::write_atomic(path, &state.file_contents()) {
            diags.error(
                "cannot write output_file",
                format!("{}: {err}", path.display()),
                AttributePath::new("output_file"),
            );
        }
    }
}

fn remove_output_file(diags: &mut Diagnostics, path: &Path) {
    if let Err(err) = output_file::remove(path) {
        diags.error(
            "cannot remove output_file",
            format!("{}: {err}", path.display()),
            AttributePath::new("output_file"),
        );
    }
}

#[async_trait]
impl Resource for RecordResource {
    type State<'a> = RecordState<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::{Computed, Optional, Required};
        use AttributeType::{Map, String};
        Some(Schema {
            version: 1,
            block: Block {
                description: "A record that stores its inputs.".into(),
                attributes: map! {
                    "id" => attribute(String, "Unique id, chosen at create.", Computed),
                    "name" => attribute(String, "Record name; changing it replaces the record.", Required),
                    "value" => attribute(String, "Any string.", Optional),
                    "data" => attribute(Map(String.into()), "Any map of strings.", Optional),
                    "output_file" => attribute(
                        String,
                        "If set, the record is also written there as JSON (atomically); \
                         delete removes it, and a missing file reads as a deleted record.",
                        Optional,
                    ),
                    "digest" => attribute(
                        String,
                        "Hex SHA-256 of the canonical JSON of name, value and data.",
                        Computed,
                    ),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        _diags: &mut Diagnostics,
        state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        match state.output_path() {
            Some(path) if !path.exists() => None,
            _ => Some((state, private_state)),
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut state = proposed_state;
        state.id = Value::Unknown;
        state.digest = state.computed_digest();
        Some((state, Default::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        proposed_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let mut state = proposed_state;
        let mut replace = Vec::new();
        if state.name != prior_state.name {
            replace.push(AttributePath::new("name"));
            state.id = Value::Unknown;
        }
        state.digest = state.computed_digest();
        Some((state, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(prior_private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        self.apply_delay().await;
        let mut state = planned_state;
        state.id = Value::Value(new_record_id(state.name.as_deref_option().unwrap_or("")).into());
        state.digest = state.computed_digest();
        write_output_file(diags, &state);
        Some((state, private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        self.apply_delay().await;
        let mut state = planned_state;
        state.digest = state.computed_digest();
        if let Some(old) = prior_state.output_path() {
            if state.output_path() != Some(old) {
                remove_output_file(diags, old);
            }
        }
        write_output_file(diags, &state);
        Some((state, private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        _private_state: Self::PrivateState<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        self.apply_delay().await;
        if let Some(path) = prior_state.output_path() {
            remove_output_file(diags, path);
        }
        Some(())
    }
}
