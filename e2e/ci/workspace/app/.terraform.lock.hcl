# A lock file without providers (the module uses only terraform_data).
