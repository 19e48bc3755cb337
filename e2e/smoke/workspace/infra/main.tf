# Built-in terraform_data: no provider download, real state.
variable "name" {
  type        = string
  description = "Instance name, recorded in its state."
}

resource "terraform_data" "instance" {
  input = var.name
}

output "name" {
  value = terraform_data.instance.output
}
