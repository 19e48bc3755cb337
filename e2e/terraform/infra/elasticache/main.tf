# A stand-in for an ElastiCache cluster built on Terraform's built-in
# terraform_data resource: no provider, no network, real state.
variable "cluster_id" {
  type        = string
  description = "Cluster identifier."
}

variable "node_type" {
  type        = string
  description = "Node instance type."
}

variable "num_shards" {
  type        = number
  description = "Number of shards."
  default     = 1
}

variable "tags" {
  type        = map(string)
  description = "Tags."
  default     = {}
}

resource "terraform_data" "cluster" {
  input = {
    cluster_id = var.cluster_id
    node_type  = var.node_type
    num_shards = var.num_shards
    tags       = var.tags
  }
}

output "cluster_id" {
  value = terraform_data.cluster.output.cluster_id
}

output "endpoint" {
  value = "${var.cluster_id}.cache.internal:6379"
}

output "num_shards" {
  value = terraform_data.cluster.output.num_shards
}
