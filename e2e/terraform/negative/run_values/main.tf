# Values that come from the instance's env and workspace at run time.
variable "nodes" {
  type    = number
  default = 1

  validation {
    condition     = var.nodes <= 6
    error_message = "nodes must be at most 6."
  }
}

locals {
  # Workspaces this component is meant for.
  zones_by_workspace = {
    default = ["a"]
    prod    = ["a", "b", "c"]
  }
}

resource "terraform_data" "node" {
  input = { nodes = var.nodes, workspace = terraform.workspace }

  lifecycle {
    precondition {
      condition     = contains(keys(local.zones_by_workspace), terraform.workspace)
      error_message = "workspace ${terraform.workspace} has no zones."
    }
  }
}
