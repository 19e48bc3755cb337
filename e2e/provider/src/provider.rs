//! The `fleettest` provider: its configuration and the resources it serves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Block, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueNumber};
use tf_provider::{map, AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::echo::EchoDataSource;
use crate::record::RecordResource;

/// Environment variable giving the apply delay when the provider block does not.
pub const APPLY_DELAY_ENV: &str = "FLEETTEST_APPLY_DELAY_MS";

/// Settings shared by the provider and its resources (resources are built
/// before terraform configures the provider).
#[derive(Debug, Default)]
pub struct Settings {
    apply_delay_ms: AtomicU64,
}

impl Settings {
    /// How long every create, update and delete sleeps before acting.
    pub fn apply_delay(&self) -> Duration {
        Duration::from_millis(self.apply_delay_ms.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Default)]
pub struct FleetTestProvider {
    settings: Arc<Settings>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ProviderConfig {
    pub apply_delay_ms: ValueNumber,
    pub token: Value<String>,
}

/// Environment variable giving the token when the provider block does not.
pub const TOKEN_ENV: &str = "FLEETTEST_TOKEN";

/// Prefix of a token the provider refuses, echoing it in its error.
pub const REVOKED_PREFIX: &str = "revoked-";

/// Like a cloud provider without credentials, refuses to configure without a
/// token: proof, in the build check's tests, that a mock plan configures nothing.
/// A token starting with [`REVOKED_PREFIX`] is refused with the token in the
/// message, as some providers do: terraform prints it in clear (fleet must not).
fn check_token(diags: &mut Diagnostics, token: &Value<String>) -> Option<()> {
    if let Value::Value(t) = token {
        if t.starts_with(REVOKED_PREFIX) {
            diags.error(
                "fleettest: the token was refused",
                format!("token {t:?} is revoked"),
                AttributePath::new("token"),
            );
            return None;
        }
    }
    let configured = matches!(token, Value::Value(t) if !t.is_empty());
    let from_env = std::env::var(TOKEN_ENV).is_ok_and(|t| !t.is_empty());
    if configured || from_env {
        return Some(());
    }
    diags.error(
        "fleettest: no token",
        format!("set `token` in the provider block or {TOKEN_ENV}; the provider refuses to configure without one"),
        AttributePath::new("token"),
    );
    None
}

fn check_delay(diags: &mut Diagnostics, delay_ms: &ValueNumber) {
    if let Value::Value(ms) = delay_ms {
        if *ms < 0 {
            diags.error(
                "apply_delay_ms must not be negative",
                format!("got {ms}"),
                AttributePath::new("apply_delay_ms"),
            );
        }
    }
}

/// The delay from the environment: unset or empty means none.
fn delay_from_env(diags: &mut Diagnostics) -> Option<u64> {
    let raw = std::env::var(APPLY_DELAY_ENV).unwrap_or_default();
    if raw.trim().is_empty() {
        return Some(0);
    }
    match raw.trim().parse::<u64>() {
        Ok(ms) => Some(ms),
        Err(err) => {
            diags.root_error(
                format!("{APPLY_DELAY_ENV} is not a number of milliseconds"),
                format!("{APPLY_DELAY_ENV}={raw:?}: {err}"),
            );
            None
        }
    }
}

#[async_trait]
impl Provider for FleetTestProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                description: "Test provider of rules_fleet: records that store their inputs."
                    .into(),
                attributes: map! {
                    "apply_delay_ms" => Attribute {
                        attr_type: AttributeType::Number,
                        description: format!(
                            "Milliseconds every create, update and delete sleeps first \
                             (widens race windows, simulates latency). Defaults to \
                             ${APPLY_DELAY_ENV}, else 0."
                        ).into(),
                        constraint: AttributeConstraint::Optional,
                        ..Default::default()
                    },
                    "token" => Attribute {
                        attr_type: AttributeType::String,
                        description: format!(
                            "Credential stand-in: configuring fails without it (or ${TOKEN_ENV})."
                        ).into(),
                        constraint: AttributeConstraint::Optional,
                        sensitive: true,
                        ..Default::default()
                    },
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::Config<'a>) -> Option<()> {
        check_delay(diags, &config.apply_delay_ms);
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        check_delay(diags, &config.apply_delay_ms);
        check_token(diags, &config.token)?;
        let delay_ms = match config.apply_delay_ms {
            Value::Value(ms) => u64::try_from(ms).ok()?,
            Value::Null | Value::Unknown => delay_from_env(diags)?,
        };
        self.settings
            .apply_delay_ms
            .store(delay_ms, Ordering::Relaxed);
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! {
            "record" => RecordResource::new(self.settings.clone()),
        })
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(map! {
            "echo" => EchoDataSource,
        })
    }
}
