# A sensitive variable whose validation quotes it.
variable "admin_pin" {
  type      = string
  sensitive = true

  validation {
    condition     = can(regex("^[0-9]{6}$", var.admin_pin))
    error_message = "admin_pin ${var.admin_pin} must be six digits."
  }
}

resource "terraform_data" "node" {
  input = var.admin_pin
}
