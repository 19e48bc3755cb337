# A lock file without providers (the module requires one).
