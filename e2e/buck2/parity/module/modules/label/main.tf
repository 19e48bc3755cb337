# A local module below the root: its path in the tree is relative to root.
variable "name" {
  type = string
}

output "text" {
  value = "${var.name}@${terraform.workspace}"
}
