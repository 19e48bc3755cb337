variable "cluster_id" {
  type = string
}

output "cluster_id" {
  value = var.cluster_id
}
