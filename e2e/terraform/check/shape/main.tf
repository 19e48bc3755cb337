# A cluster shape: each instance's values are checked at build time against
# types, required variables, validation rules, preconditions and for_each.
variable "shape" {
  type = object({
    nodes = number
    zones = list(string)
  })

  validation {
    condition     = var.shape.nodes <= 6
    error_message = "shape.nodes must be at most 6."
  }
}

variable "replica_names" {
  type    = list(string)
  default = []
}

variable "admin_pin" {
  type      = string
  default   = ""
  sensitive = true
}

module "zones" {
  source = "./modules/zones"
  zones  = var.shape.zones
}

resource "terraform_data" "cluster" {
  input = {
    nodes = var.shape.nodes
    zones = module.zones.names
    pin   = var.admin_pin
  }

  lifecycle {
    precondition {
      condition     = length(var.shape.zones) > 0
      error_message = "shape.zones must name at least one zone."
    }
  }
}

resource "terraform_data" "replica" {
  for_each = toset(var.replica_names)
  input    = each.key
}

output "admin_pin" {
  value     = var.admin_pin
  sensitive = true
}
