# Deliberately invalid: the output reads a variable that is not declared.
variable "cluster_id" {
  type = string
}

resource "terraform_data" "cluster" {
  input = var.cluster_id
}

output "endpoint" {
  value = var.undeclared_endpoint
}
