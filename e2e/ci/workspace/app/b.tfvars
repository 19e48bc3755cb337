value = "b1"
