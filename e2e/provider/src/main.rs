//! `terraform-provider-fleettest`: a small but real Terraform provider that
//! rules_fleet's end-to-end tests install, initialise and apply.

mod digest;
mod echo;
mod output_file;
mod provider;
mod record;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tf_provider::serve("fleettest", provider::FleetTestProvider::default()).await
}
