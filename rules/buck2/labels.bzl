"""Label strings in the Bazel rules' form, computed while a BUCK file loads.

Manifests, messages and identities name instances by label. Both rule sets write
`//pkg:name` for the main repository (Buck2: the project's root cell, the one
whose `[cells]` path is `.`) and `@cell//pkg:name` for any other, so a fleet
built by either gets the same manifest.
"""

def _is_root_cell(cell):
    """Whether `cell` is the project's root cell (`[cells] <cell> = .`)."""
    path = read_root_config("cells", cell)
    if path == None:
        return cell == "root"
    return path.strip().rstrip("/") in ("", ".")

def label_string_of(cell, package, name):
    """`//package:name` in the root cell, `@cell//package:name` in another.

    Args:
      cell: the cell name.
      package: the package path inside the cell.
      name: the target name.

    Returns:
      The canonical label string.
    """
    if _is_root_cell(cell):
        return "//%s:%s" % (package, name)
    return "@%s//%s:%s" % (cell, package, name)

def loading_label_string(name):
    """The canonical label string of target `name` in the package being loaded.

    Args:
      name: the target name.

    Returns:
      The canonical label string.
    """
    return label_string_of(get_cell_name(), package_name(), name)

def runfiles_prefix():
    """The prefix of runfiles paths of the package being loaded: "" in the root cell, `../<cell>/` elsewhere.

    Returns:
      The prefix Bazel's `short_path` gives files of the same repository.
    """
    cell = get_cell_name()
    return "" if _is_root_cell(cell) else "../%s/" % cell

def resolve_label_string(text):
    """A label as written in a BUCK file of the package being loaded, in canonical form.

    Accepts `:x`, `x`, `//p:x`, `//p` (target `p`'s last component), `cell//p:x` and
    `@cell//p:x`.

    Args:
      text: the label as written.

    Returns:
      The canonical label string.
    """
    cell = get_cell_name()
    package = package_name()
    if text.startswith(":"):
        return label_string_of(cell, package, text[1:])
    if "//" not in text:
        return label_string_of(cell, package, text)
    prefix, rest = text.split("//", 1)
    if prefix:
        cell = prefix.lstrip("@")
    if ":" in rest:
        path, name = rest.split(":", 1)
    else:
        path, name = rest, rest.rsplit("/", 1)[-1]
    return label_string_of(cell, path, name)

def target_label(text):
    """A label as Buck2 accepts it: Bazel's `//pkg` shorthand becomes `//pkg:pkg`.

    Args:
      text: a label as written (`:x`, `//p:x`, `//p`, `cell//p`).

    Returns:
      The label with an explicit target name.
    """
    if "//" not in text:
        return text
    prefix, rest = text.split("//", 1)
    if ":" in rest or not rest:
        return text
    return "%s//%s:%s" % (prefix, rest, rest.rsplit("/", 1)[-1])
