size = 2
sise = 3
