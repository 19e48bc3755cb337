# A component whose values come partly from the run's env and workspace.
variable "nodes" {
  type    = number
  default = 1

  validation {
    condition     = var.nodes >= 2 && var.nodes <= 6
    error_message = "nodes must be between 2 and 6."
  }
}

resource "terraform_data" "node" {
  input = { nodes = var.nodes }

  lifecycle {
    precondition {
      condition     = terraform.workspace != "default"
      error_message = "every instance has its own workspace."
    }
  }
}
