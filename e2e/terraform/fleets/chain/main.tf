# A stand-in for networked infrastructure, built on the built-in terraform_data
# resource: a network, subnets that read its vpc_id and apps that read their
# subnet's id, all wired with inputs_from.
#
# The e2e driver steers runs through the environment (TF_VAR_e2e_dir,
# TF_VAR_e2e_round): see hook.sh. Without them every instance applies at once,
# except those with fail_unless_fixed, which fail on purpose.

variable "name" {
  type        = string
  description = "Instance name."
}

variable "kind" {
  type        = string
  description = "network, subnet or app."
}

variable "vpc_id" {
  type        = string
  description = "A subnet's network (inputs_from the network's vpc_id)."
  default     = ""
}

variable "subnet_id" {
  type        = string
  description = "An app's subnet (inputs_from a subnet's subnet_id)."
  default     = ""
}

variable "peer_subnet_id" {
  type        = string
  description = "An app's second subnet, if any."
  default     = ""
}

variable "fail_unless_fixed" {
  type        = bool
  description = "Fail at apply unless <e2e_dir>/fixed exists."
  default     = false
}

variable "e2e_dir" {
  type        = string
  description = "Directory of the e2e driver's markers (TF_VAR_e2e_dir); empty outside tests."
  default     = ""
}

variable "e2e_round" {
  type        = string
  description = "Changing it re-creates the hook, so hook.sh runs again (TF_VAR_e2e_round)."
  default     = ""
}

locals {
  id = {
    network = "vpc-${var.name}"
    subnet  = "${var.vpc_id}/${var.name}"
    app     = "${var.subnet_id}/${var.name}"
  }[var.kind]
}

resource "terraform_data" "this" {
  input = {
    id             = local.id
    kind           = var.kind
    vpc_id         = var.vpc_id
    subnet_id      = var.subnet_id
    peer_subnet_id = var.peer_subnet_id
  }

  lifecycle {
    precondition {
      condition     = (var.kind != "subnet" || var.vpc_id != "") && (var.kind != "app" || var.subnet_id != "")
      error_message = "A subnet needs vpc_id and an app needs subnet_id (inputs_from)."
    }
  }
}

resource "terraform_data" "hook" {
  triggers_replace = [var.e2e_round]

  provisioner "local-exec" {
    interpreter = ["/bin/sh"]
    command     = "${path.module}/hook.sh"
    environment = {
      NAME              = var.name
      E2E_DIR           = var.e2e_dir
      ROUND             = var.e2e_round
      FAIL_UNLESS_FIXED = tostring(var.fail_unless_fixed)
    }
  }
}

output "id" {
  value = terraform_data.this.output.id
}

output "vpc_id" {
  value = var.kind == "network" ? terraform_data.this.output.id : var.vpc_id
}

output "subnet_id" {
  value = terraform_data.this.output.id
}
