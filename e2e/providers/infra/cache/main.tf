# One cache cluster, recorded by the fleettest provider (a real provider process).
terraform {
  required_providers {
    fleettest = {
      source  = "fleet.test/rules-fleet/fleettest"
      version = "0.1.0"
    }
  }
}

variable "cluster_id" {
  type = string
}

variable "node_type" {
  type = string
}

variable "apply_delay_ms" {
  type    = number
  default = 0
}

# cache-secret reads it from the environment (secret_env).
variable "token" {
  type      = string
  sensitive = true
  default   = "e2e-not-a-secret"
}

provider "fleettest" {
  token          = var.token
  apply_delay_ms = var.apply_delay_ms
}

resource "fleettest_record" "cluster" {
  name  = var.cluster_id
  value = var.node_type
  data = {
    instance = var.cluster_id
  }
  # In the run directory: proof the provider ran for this instance.
  output_file = "${path.root}/record.json"
}

output "digest" {
  value = fleettest_record.cluster.digest
}
