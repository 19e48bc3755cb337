variable "name" {
  type = string
}

output "full_name" {
  value = "fleet-${var.name}"
}
