"""Names of an instance's var files in its rendered tree.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

def var_file_name(index, file):
    """The name a var file gets in the rendered tree: `fleet-NNN-<base>.auto.tfvars[.json]`.

    Terraform loads *.auto.tfvars[.json] after terraform.tfvars.json, in name order,
    so the files apply in list order after `vars`.

    Args:
      index: the file's position in `var_files`, from 1.
      file: the File (Bazel) or Artifact (Buck2); its basename is read.

    Returns:
      The file name inside the rendered tree.
    """
    base = file.basename
    suffix = ".auto.tfvars"
    for ending in [".auto.tfvars.json", ".tfvars.json", ".auto.tfvars", ".tfvars"]:
        if base.endswith(ending):
            base = base[:-len(ending)]
            if ending.endswith(".json"):
                suffix = ".auto.tfvars.json"
            break

    # Starlark has no %03d: pad by hand so names sort in list order.
    number = str(index)
    number = "0" * (3 - len(number)) + number
    return "fleet-%s-%s%s" % (number, base, suffix)
