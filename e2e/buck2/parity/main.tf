# The component of the parity fleet: one module every instance of BUILD.bazel fits,
# built on terraform_data (no provider).
variable "name" {
  type        = string
  description = "Instance name."
}

variable "settings" {
  type        = any
  description = "Anything JSON: nested maps and lists, numbers, bools, nulls, unicode."
  default     = {}
}

variable "size" {
  type        = string
  description = "Overridden by var_files."
  default     = "small"
}

variable "upstream" {
  type        = string
  description = "Another instance's output (inputs_from)."
  default     = ""
}

variable "secret" {
  type        = string
  description = "From the environment at run time (secret_env)."
  default     = ""
  sensitive   = true
}

resource "terraform_data" "this" {
  input = {
    name     = var.name
    settings = jsonencode(var.settings)
    size     = var.size
    upstream = var.upstream
  }
}

output "id" {
  value = "${var.name}-${var.size}"
}
