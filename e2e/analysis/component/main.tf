variable "name" {
  type = string
}

variable "settings" {
  type    = any
  default = {}
}

module "naming" {
  source = "./modules/naming"
  name   = var.name
}

output "id" {
  value = module.naming.id
}
