# A component exercising nested local modules, var_files and outputs read by a
# downstream instance (inputs_from).
variable "name" {
  type = string
}

variable "size" {
  type    = string
  default = "small"
}

variable "upstream_endpoint" {
  type    = string
  default = ""
}

module "naming" {
  source = "./modules/naming"
  name   = var.name
}

resource "terraform_data" "this" {
  input = {
    name     = module.naming.full_name
    size     = var.size
    upstream = var.upstream_endpoint
  }
}

output "endpoint" {
  value = "${module.naming.full_name}.internal"
}

output "upstream" {
  value = terraform_data.this.output.upstream
}
