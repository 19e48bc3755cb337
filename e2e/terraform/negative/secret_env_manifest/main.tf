# A database whose password comes from the environment at run time (secret_env),
# never from Bazel.
variable "name" {
  type = string
}

variable "token_ttl" {
  type    = number
  default = 3600
}

variable "db_password" {
  type      = string
  sensitive = true
  # Terraform shows the value when this fails (`var.db_password is "..."`):
  # fleet hides it.
  validation {
    condition     = length(var.db_password) >= 16
    error_message = "The password must have at least 16 characters."
  }
}

resource "terraform_data" "database" {
  input = {
    name          = var.name
    password_hash = sha256(var.db_password)
    token_ttl     = var.token_ttl
  }
}

output "password_hash" {
  value = terraform_data.database.output.password_hash
}
