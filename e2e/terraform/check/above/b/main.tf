# The module of //check/above:b, declared in the package above it.
variable "size" {
  type = number
}

module "nodes" {
  source = "./modules/nodes"
  size   = var.size
}

output "names" {
  value = module.nodes.names
}
