resource "terraform_data" "node" {
  input = "b"
}
