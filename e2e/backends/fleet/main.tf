# One cluster of the seed's fleet, on built-in resources only: its values
# (terraform_data.cluster), and an "apply window": a resource re-created on
# every apply of a new round whose provisioner records when it started and
# ended (window.sh), so the e2e driver can check that no two applies of one
# instance ever overlapped, whichever runner made them.
#
# The driver steers runs through the environment (TF_VAR_*): see window.sh.

variable "cluster_id" {
  type        = string
  description = "The cluster's name."
}

variable "node_type" {
  type        = string
  description = "Instance type of the cluster's nodes."
}

variable "num_shards" {
  type        = number
  description = "Number of shards."
}

variable "e2e_dir" {
  type        = string
  description = "Directory of the e2e driver's markers and window log (TF_VAR_e2e_dir); empty outside tests."
  default     = ""
}

variable "runner" {
  type        = string
  description = "Which runner applies (TF_VAR_runner), recorded in the window log."
  default     = ""
}

variable "round" {
  type        = string
  description = "Changing it re-creates the apply window (TF_VAR_round)."
  default     = ""
}

resource "terraform_data" "cluster" {
  input = {
    cluster_id = var.cluster_id
    node_type  = var.node_type
    num_shards = var.num_shards
  }
}

resource "terraform_data" "apply_window" {
  triggers_replace = [var.runner, var.round]

  provisioner "local-exec" {
    interpreter = ["/bin/sh"]
    command     = "${path.module}/window.sh"
    environment = {
      NAME    = var.cluster_id
      E2E_DIR = var.e2e_dir
      RUNNER  = var.runner
    }
  }
}

output "cluster_id" {
  value = terraform_data.cluster.output.cluster_id
}

output "endpoint" {
  value = "${terraform_data.cluster.output.cluster_id}.cache.internal:6379"
}
