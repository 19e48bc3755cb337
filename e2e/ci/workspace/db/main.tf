variable "name" {
  type = string
}

variable "value" {
  type    = string
  default = "v1"
}

variable "upstream" {
  type    = string
  default = ""
}

variable "fail_plan" {
  type    = bool
  default = false
}

variable "token" {
  type      = string
  default   = "none"
  sensitive = true
}

resource "terraform_data" "this" {
  input = "${var.name}:${var.value}:${var.upstream}"

  lifecycle {
    precondition {
      condition     = !var.fail_plan
      error_message = "fail_plan is set for ${var.name}."
    }
  }
}

resource "terraform_data" "secret" {
  input = var.token
}

output "id" {
  value = terraform_data.this.output
}
