# A record kept by the test provider (e2e/provider) in a file: edit the file and
# the record has drifted outside terraform (the next plan reads it back).
terraform {
  required_providers {
    fleettest = {
      source  = "fleet.test/rules-fleet/fleettest"
      version = "0.1.0"
    }
  }
}

variable "e2e_dir" {
  type        = string
  description = "Directory of the e2e driver's markers (TF_VAR_e2e_dir); the record's file lives there."
  default     = ""
}

resource "fleettest_record" "this" {
  name        = "record-1"
  value       = "v1"
  output_file = var.e2e_dir == "" ? null : "${var.e2e_dir}/record-1.json"
}
