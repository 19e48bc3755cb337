"""The toolchain types rules_fleet resolves (declared in //tools)."""

TERRAFORM_TOOLCHAIN_TYPE = Label("//tools:terraform_toolchain_type")
FLEET_TOOLCHAIN_TYPE = Label("//tools:fleet_toolchain_type")
