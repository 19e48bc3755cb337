variable "zones" {
  type = list(string)
}

output "names" {
  value = [for zone in var.zones : "zone-${zone}"]
}
