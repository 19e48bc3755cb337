# A component with a few variables: every instance of
# negative/undeclared sets one it does not declare.
variable "size" {
  type    = number
  default = 1
}

variable "password" {
  type      = string
  default   = ""
  sensitive = true
}

variable "upstream_id" {
  type    = string
  default = ""
}

resource "terraform_data" "node" {
  input = { size = var.size, upstream = var.upstream_id }
}

output "id" {
  value = terraform_data.node.id
}
