# One resource whose creation fails its first `fails` runs with a throttling
# error (fails.sh); without TF_VAR_e2e_dir it never fails.

variable "name" {
  type        = string
  description = "Instance name (names its count file)."
}

variable "fails" {
  type        = number
  description = "How many runs of the provisioner fail."
}

variable "e2e_dir" {
  type        = string
  description = "Directory of the e2e driver's count files (TF_VAR_e2e_dir)."
  default     = ""
}

resource "terraform_data" "throttled" {
  input = var.name

  provisioner "local-exec" {
    command = "sh ${path.module}/fails.sh"
    environment = {
      NAME    = var.name
      FAILS   = tostring(var.fails)
      E2E_DIR = var.e2e_dir
    }
  }
}
