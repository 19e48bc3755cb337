//! `fleettest_echo`: a data source returning its input and the input's digest.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Block, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueString};
use tf_provider::{map, DataSource, Diagnostics};

use crate::digest::sha256_hex;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct EchoState<'a> {
    #[serde(borrow = "'a")]
    pub input: ValueString<'a>,
    pub output: ValueString<'a>,
    pub digest: ValueString<'a>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct EchoDataSource;

fn string_attribute(description: &str, constraint: AttributeConstraint) -> Attribute {
    Attribute {
        attr_type: AttributeType::String,
        description: description.into(),
        constraint,
        ..Default::default()
    }
}

#[async_trait]
impl DataSource for EchoDataSource {
    type State<'a> = EchoState<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                description: "Returns its input unchanged, with its SHA-256.".into(),
                attributes: map! {
                    "input" => string_attribute("Any string.", AttributeConstraint::Required),
                    "output" => string_attribute("The input, unchanged.", AttributeConstraint::Computed),
                    "digest" => string_attribute("Hex SHA-256 of the input.", AttributeConstraint::Computed),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        _diags: &mut Diagnostics,
        config: Self::State<'a>,
        _provider_meta_state: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let digest = config
            .input
            .as_ref()
            .map(|input| sha256_hex(input.as_bytes()).into());
        Some(EchoState {
            output: config.input.clone(),
            input: config.input,
            digest: match digest {
                Value::Value(hex) => Value::Value(hex),
                _ => Value::Null,
            },
        })
    }
}
