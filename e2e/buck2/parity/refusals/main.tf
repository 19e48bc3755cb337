# The component of the parity refusals: `name` is not sensitive, `token` is.
variable "name" {
  type        = string
  description = "Instance name."
  default     = ""
}

variable "token" {
  type        = string
  description = "From the environment at run time (secret_env)."
  default     = ""
  sensitive   = true
}

resource "terraform_data" "this" {
  input = var.name
}
