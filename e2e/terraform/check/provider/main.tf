# Uses the fleettest provider, which refuses to configure without a token (as
# a cloud provider does without credentials): no provider block here has one.
terraform {
  required_providers {
    fleettest = {
      source  = "fleet.test/rules-fleet/fleettest"
      version = "0.1.0"
    }
  }
}

variable "name" {
  type = string
}

provider "fleettest" {}

provider "fleettest" {
  alias = "second"
}

resource "fleettest_record" "main" {
  name  = var.name
  value = "primary"
}

resource "fleettest_record" "copy" {
  provider = fleettest.second
  name     = "${var.name}-copy"
  value    = "secondary"
}

# A data source whose result feeds a condition: generated mock values do not
# fit it, the component's mock file (fleettest.tfmock.hcl) does.
data "fleettest_echo" "name" {
  input = var.name
}

resource "terraform_data" "digest" {
  input = data.fleettest_echo.name.digest

  lifecycle {
    precondition {
      condition     = length(data.fleettest_echo.name.digest) == 64
      error_message = "the echo digest must be 64 hex characters."
    }
  }
}
