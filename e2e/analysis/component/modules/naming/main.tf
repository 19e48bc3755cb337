variable "name" {
  type = string
}

output "id" {
  value = "fleet-${var.name}"
}
