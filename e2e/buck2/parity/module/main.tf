# The parity fleet's component declared above its module (tf_component root = "module"),
# one pg workspace per instance: its build check must plan in the instance's workspace
# with the TF_VAR_* of its env, or it fails (the precondition) or plans other addresses.
variable "name" {
  type        = string
  description = "Instance name."
}

variable "nodes" {
  type        = number
  description = "Set by env's TF_VAR_nodes for cluster-01."
  default     = 1
}

variable "password" {
  type        = string
  description = "From the environment at run time (secret_env)."
  default     = ""
  sensitive   = true
}

module "label" {
  source = "./modules/label"
  name   = var.name
}

resource "terraform_data" "node" {
  count = var.nodes
  input = "${module.label.text}-${count.index}"

  lifecycle {
    precondition {
      condition     = terraform.workspace != "default"
      error_message = "Each cluster has its own workspace."
    }
  }
}

output "id" {
  value = module.label.text
}
