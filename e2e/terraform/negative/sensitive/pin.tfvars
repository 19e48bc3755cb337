admin_pin = "e2e-sensitive-file-81c2"
