# Calls its module with an argument the module does not declare.
module "zones" {
  source     = "./modules/zones"
  zones      = ["a"]
  zone_count = 3
}
