variable "size" {
  type = number
}

resource "terraform_data" "node" {
  count = var.size
  input = "node-${count.index}"
}

output "names" {
  value = terraform_data.node[*].input
}
