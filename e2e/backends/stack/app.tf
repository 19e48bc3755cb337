# An app reading its cache's endpoint from cluster-01's outputs (inputs_from),
# both on the pg backend: the output is read with `terraform output -json`.

variable "name" {
  type        = string
  description = "The app's name."
}

variable "cache_endpoint" {
  type        = string
  description = "cluster-01's endpoint (inputs_from)."
}

resource "terraform_data" "app" {
  input = {
    name           = var.name
    cache_endpoint = var.cache_endpoint
  }
}

output "url" {
  value = "https://${var.name}.internal/?cache=${terraform_data.app.output.cache_endpoint}"
}
